"""The payout ledger, end to end through the CLI, on SQLite and (in CI) PostgreSQL.

The twelve-month scenario (tests/ledger_scenario.py) is paid month by month with the history taken
from the ledger, and compared with the independent reference reading fed a history kept by hand.
"""
import datetime as dt
import json
import re
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, delete, func, select, update

import ledger_scenario as S
import reference
from subsidy_rules.cli import main
from conftest import POLICY
from subsidy_rules.ledger import evaluate_with_ledger, normalise_url, open_ledger, record_run
from subsidy_rules.ledger.tables import entries, head, once_paid


def subsidy(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def fork(tmp_path, monkeypatch):
    """The Shanxi policy with an illustrative 2022 average wage (so 3.8 decides 2023 months), and the
    reference reading given the same figure."""
    path = tmp_path / "policy.yaml"
    path.write_text(S.FORK.format(parent=POLICY, wage=S.AVERAGE_WAGE_2022), encoding="utf-8")
    monkeypatch.setitem(reference.AVERAGE_WAGE, 2022, S.AVERAGE_WAGE_2022)
    return str(path)


def _write(tmp_path, name, data) -> str:
    path = tmp_path / name
    path.write_text(S.to_yaml(data), encoding="utf-8")
    return str(path)


def _decisions(path) -> list:
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    return sorted(((d["workshop"], d["worker"], d["loan"], d["clause"], d["outcome"],
                    None if d["amount"] is None else Decimal(d["amount"]))
                   for d in doc["decisions"] if d["outcome"] != "denied"), key=_key)


def _key(t):
    return tuple("" if v is None else str(v) for v in t)


def _record(policy, facts, url, out, *extra):
    result = subsidy("evaluate", policy, facts, "--ledger", url, "--record", "--no-trace", "-o", out, *extra)
    assert result.exit_code == 0, result.output
    return result


def _carry_in(tmp_path, policy, url):
    july = S.MONTHS[0]
    path = _write(tmp_path, "carry_in.yaml", S.facts(july, S.roster()[july], S.CARRIED))
    result = subsidy("ledger", "carry-in", url, policy, path, "--reason", "county records to 2022-06")
    assert result.exit_code == 0, result.output
    return path


def _run_year(tmp_path, fork, url):
    """Carry in the earlier history, then record the twelve months; returns (engine, reference) decisions by month."""
    roster = S.roster()
    july_with_history = _carry_in(tmp_path, fork, url)
    reading = S.Reading()
    months = {}
    for n, ym in enumerate(S.MONTHS):
        # July is evaluated on the very file that was carried in: its stated history agrees with the ledger's
        path = july_with_history if n == 0 else _write(tmp_path, f"{S.month_text(ym)}.yaml", S.facts(ym, roster[ym]))
        out = str(tmp_path / f"decisions-{S.month_text(ym)}.json")
        _record(fork, path, url, out)
        expected = sorted(reference.decide(reading.facts(ym, roster[ym])), key=_key)
        reading.paid(ym, roster[ym], expected)
        months[S.month_text(ym)] = (_decisions(out), expected)
    return months, reading


def test_twelve_months_pay_exactly_what_one_reading_of_the_measures_allows(tmp_path, fork, ledger_url):
    months, reading = _run_year(tmp_path, fork, ledger_url)
    for month, (got, expected) in months.items():
        assert got == expected, month

    def granted(clause, worker=None):
        return {m: [d for d in got if d[3] == clause and d[4] == "granted" and (worker is None or d[1] == worker)]
                for m, (got, _) in months.items()}

    # the award: 50,000 in July 2022, topped up by 50,000 when the 51st worker arrives in January 2023, never more
    award = {m: sum(d[5] for d in ds) for m, ds in granted("3.5").items() if ds}
    assert award == {"2022-07": Decimal(50000), "2023-01": Decimal(50000)}
    # once the award is paid, the workshop stays on the award side of 3.5: every later hire's 3.2 is suppressed
    assert not any(granted("3.2").values())
    hired = Counter(d[1] for m, (got, _) in months.items() for d in got if d[3] == "3.2" and d[4] == "suppressed")
    assert sum(hired.values()) == sum(S.HIRES.values()) + 1  # H-02's second hiring (March 2023) is suppressed too
    assert hired["H-02"] == 2 and set(hired.values()) == {1, 2}
    # once per person: H-02 is hired again in March 2023 and trained again, and its training is not paid again
    assert [m for m, ds in granted("3.7", "H-02").items() if ds] == ["2022-08"]
    # E-01 had 28 months carried in: months 29..36 are July 2022 .. February 2023, then the limit holds
    assert [m for m, ds in granted("3.8", "E-01").items() if ds] == [S.month_text(ym) for ym in S.MONTHS[:8]]
    assert reading.si_months["E-01"] == 36

    report = subsidy("ledger", "report", ledger_url, "--policy", fork, "--format", "json")
    assert report.exit_code == 0, report.output
    doc = json.loads(report.stdout)
    paid = sum(d[5] for _, expected in months.values() for d in expected if d[4] == "granted")
    assert Decimal(doc["granted"]) == paid
    assert Decimal(doc["by_clause"]["3.5"]) == Decimal(100000)
    assert doc["reversals"] == 0
    progress = {t["id"]: (t["counted"], t["target"]) for t in doc["targets"]}
    assert progress == {"certified_workshops": (1, 2000), "target_workers_employed": (len(S.roster()[S.MONTHS[-1]]), 30000)}
    verify = subsidy("ledger", "verify", ledger_url)
    assert verify.exit_code == 0 and "intact: 13 runs" in verify.output


def test_the_same_run_recorded_again_changes_nothing(tmp_path, fork, ledger_url):
    ym = S.MONTHS[1]
    path = _write(tmp_path, "aug.yaml", S.facts(ym, S.roster()[ym]))
    first = _record(fork, path, ledger_url, str(tmp_path / "a.json"))
    assert "已记账，批次 1（" in first.output  # in the policy's language (report.lang zh-CN)
    again = _record(fork, path, ledger_url, str(tmp_path / "b.json"))
    assert "本次测算已记账，批次 1（" in again.output and "：未作任何改动" in again.output
    assert _decisions(tmp_path / "a.json") == _decisions(tmp_path / "b.json")  # the history excludes the run's own month
    engine_ = create_engine(normalise_url(ledger_url))
    with engine_.connect() as conn:
        assert conn.execute(select(head.c.runs, head.c.entries)).one() == (1, len(_decisions(tmp_path / "a.json")))
    engine_.dispose()


def _month(tmp_path, fork, url, ym, workers=None, name=None, *extra):
    """Record one month of the scenario (or of ``workers``); its decisions."""
    name = name or S.month_text(ym)
    path = _write(tmp_path, f"{name}.yaml", S.facts(ym, S.roster()[ym] if workers is None else workers))
    out = str(tmp_path / f"{name}.json")
    _record(fork, path, url, out, *extra)
    return _decisions(out)


def test_a_different_run_for_a_recorded_month_is_refused_then_superseded_by_reversal(tmp_path, fork, ledger_url):
    july, aug, sep = S.MONTHS[:3]
    _month(tmp_path, fork, ledger_url, july)
    before = _month(tmp_path, fork, ledger_url, aug)
    assert ("WS-L01", "H-03", None, "3.7", "granted", Decimal("1000.00")) in before
    # a correction: H-03 was hired in September, not August
    without = [w for w in S.roster()[aug] if w["id"] != "H-03"]
    second = _write(tmp_path, "aug-corrected.yaml", S.facts(aug, without))
    refused = subsidy("evaluate", fork, second, "--ledger", ledger_url, "--record", "-o", tmp_path / "x.json")
    assert refused.exit_code == 1
    assert "error[ledger.overlap] 车间 WS-L01：2022-08 已由批次" in refused.output  # in the policy's language
    assert "同一月份的另一批次不予记账" in refused.output and "--supersede" in refused.output
    assert re.search(r"原批次依据的事实文件 \S*2022-08\S* 的 sha256 为 [0-9a-f]{12}…，本次事实文件为 [0-9a-f]{12}…",
                     refused.output), refused.output  # what differs: the facts
    assert "aug-corrected.yaml:" in refused.output  # located in the facts file
    assert "ledger.already_paid" not in refused.output  # the overlap is the problem, said once; not each payment of it
    usage = subsidy("evaluate", fork, second, "--ledger", ledger_url, "--record", "--supersede")
    assert usage.exit_code == 2 and "--reason" in usage.output
    done = _record(fork, second, ledger_url, str(tmp_path / "b.json"), "--supersede", "--reason", "H-03 hired in September")
    assert f"冲销此前 {len(before)} 个条目" in done.output
    assert "注意：" not in done.output  # nothing recorded after August yet
    after = _decisions(tmp_path / "b.json")
    report = json.loads(subsidy("ledger", "report", ledger_url, "--policy", fork, "--format", "json").stdout)
    july_paid = json.loads(subsidy("ledger", "report", ledger_url, "--policy", fork, "--format", "json",
                                   "--to", "2022-07-31").stdout)["granted"]
    assert Decimal(report["granted"]) == Decimal(july_paid) + sum(d[5] for d in after if d[4] == "granted")
    assert report["reversals"] == len(before)
    # H-03's once-per-person training subsidy was reversed, so hired and trained in September it is paid then, once
    moved = [dict(w, hired_on=w["hired_on"].replace(month=9),
                  training=dict(w["training"], completed_on=w["training"]["completed_on"].replace(month=9)))
             if w["id"] == "H-03" else w for w in S.roster()[sep]]
    september = _month(tmp_path, fork, ledger_url, sep, moved)
    assert ("WS-L01", "H-03", None, "3.7", "granted", Decimal("1000.00")) in september
    runs = subsidy("ledger", "runs", ledger_url)
    assert "H-03 hired in September" in runs.output
    # correcting July now, with September recorded, says which later months were decided on the old history
    fixed_july = _write(tmp_path, "jul-corrected.yaml", S.facts(july, S.roster()[july][1:]))
    late = _record(fork, fixed_july, ledger_url, str(tmp_path / "j.json"), "--supersede", "--reason", "B-01 left in June")
    assert "注意：车间 WS-L01 自 2022-08 起已有记账批次" in late.output
    assert subsidy("ledger", "verify", ledger_url).exit_code == 0


def test_a_history_stated_in_the_facts_that_the_ledger_does_not_hold_is_reported(tmp_path, fork, ledger_url):
    ym = S.MONTHS[1]
    path = _write(tmp_path, "aug.yaml", S.facts(ym, S.roster()[ym], {"B-01": {"si_subsidy_months": 12}}))
    result = subsidy("evaluate", fork, path, "--ledger", ledger_url)
    assert result.exit_code == 1
    assert ("error[ledger.history_disagrees] workshop WS-L01, worker B-01: the facts say history.si_subsidy_months is 12, "
            "the ledger holds 0") in result.output
    assert "aug.yaml:" in result.output
    # the same history carried in first is then the ledger's own: no disagreement
    assert subsidy("ledger", "carry-in", ledger_url, fork, path, "--reason", "records").exit_code == 0
    assert subsidy("evaluate", fork, path, "--ledger", ledger_url, "-o", tmp_path / "d.json").exit_code == 0
    again = subsidy("ledger", "carry-in", ledger_url, fork, _write(tmp_path, "other.yaml", S.facts(
        ym, S.roster()[ym], {"B-01": {"si_subsidy_months": 13}})), "--reason", "again")
    assert again.exit_code == 1 and "ledger.carry_in_conflict" in again.output


def test_the_database_refuses_a_second_one_time_payment_itself(tmp_path, fork, ledger_url):
    for ym in S.MONTHS[:2]:
        _month(tmp_path, fork, ledger_url, ym)
    engine_ = create_engine(normalise_url(ledger_url))
    with engine_.connect() as conn:
        rows = conn.execute(select(once_paid).where(once_paid.c.person == "H-01").order_by(once_paid.c.rule)).all()
        assert [r.rule for r in rows] == ["pre_job_training_subsidy"]  # its 3.2 lost to the award: not paid
        row = rows[0]
    from sqlalchemy.exc import IntegrityError
    with pytest.raises(IntegrityError):
        with engine_.begin() as conn:
            conn.execute(once_paid.insert(), [{"person": "H-01", "rule": "pre_job_training_subsidy",
                                               "entry_seq": row.entry_seq}])
    engine_.dispose()


def test_verify_names_the_first_altered_or_removed_entry(tmp_path, fork, ledger_url):
    for ym in S.MONTHS[:3]:
        _month(tmp_path, fork, ledger_url, ym)
    assert subsidy("ledger", "verify", ledger_url).exit_code == 0
    engine_ = create_engine(normalise_url(ledger_url))
    with engine_.begin() as conn:  # someone raises a payment by hand
        seq = conn.execute(select(entries.c.seq).where(entries.c.worker == "H-02", entries.c.clause == "3.2")).scalar_one()
        conn.execute(update(entries).where(entries.c.seq == seq).values(amount="15000.00"))
    result = subsidy("ledger", "verify", ledger_url)
    assert result.exit_code == 1
    assert f"entry {seq} was altered: its fields no longer give its hash" in result.output
    assert f"the first break is at entry {seq}" in result.output
    with engine_.begin() as conn:  # put it back, then remove a later entry (one no other row refers to)
        conn.execute(update(entries).where(entries.c.seq == seq).values(amount="1500.00"))
        gone = conn.execute(select(entries.c.seq).where(entries.c.seq > seq, entries.c.clause == "3.3")
                            .order_by(entries.c.seq).limit(1)).scalar_one()
        conn.execute(delete(entries).where(entries.c.seq == gone))
    result = subsidy("ledger", "verify", ledger_url)
    assert result.exit_code == 1
    assert f"entry {gone} is missing" in result.output and f"the first break is at entry {gone}" in result.output
    engine_.dispose()


def test_the_migrated_schema_is_the_one_the_code_reads(ledger_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from subsidy_rules.ledger import open_ledger
    from subsidy_rules.ledger.schema import VERSION_TABLE
    from subsidy_rules.ledger.tables import metadata
    open_ledger(ledger_url).close()
    open_ledger(ledger_url).close()  # opening again migrates nothing
    engine_ = create_engine(normalise_url(ledger_url))
    with engine_.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        assert context.get_current_revision() == "0003"
        assert compare_metadata(context, metadata) == []
    engine_.dispose()


def test_a_run_decided_on_a_history_that_changed_before_it_was_recorded_is_refused(tmp_path, fork, ledger_url):
    from subsidy_rules import load_facts, load_policy
    from subsidy_rules.problems import InvalidInput
    policy = load_policy(fork)
    july, aug = S.MONTHS[:2]
    facts_aug = load_facts(_write(tmp_path, "aug.yaml", S.facts(aug, S.roster()[aug])), policy)
    ledger = open_ledger(ledger_url)
    try:
        run, held = evaluate_with_ledger(ledger, policy, facts_aug, trace=False)  # decided with no award paid yet
        _month(tmp_path, fork, ledger_url, july)  # meanwhile another office records July's 50,000 award
        with pytest.raises(InvalidInput) as caught:
            record_run(ledger, run, held)
        problems = caught.value.problems
        assert {p.code for p in problems} == {"ledger.stale_history"}
        assert ("workshop WS-L01: history.award_paid was 0 when this run was decided and is now 50000.00 "
                "(another run was recorded meanwhile)") in [p.message for p in problems]
        assert "worker E-01: history.si_subsidy_months was 0 when this run was decided and is now 1 " \
               "(another run was recorded meanwhile)" in [p.message for p in problems]
        again, held = evaluate_with_ledger(ledger, policy, facts_aug, trace=False)
        assert record_run(ledger, again, held).seq == 2
    finally:
        ledger.close()


def test_reading_commands_do_not_create_a_ledger(tmp_path):
    missing = tmp_path / "typo.db"
    for args in (("ledger", "verify", missing), ("ledger", "runs", missing)):
        result = subsidy(*args)
        assert result.exit_code == 1 and "error[ledger.missing] no ledger at" in result.output
        assert f"subsidy ledger init {missing}" in result.output
    assert not missing.exists()


def test_a_policy_without_a_ledger_section_says_so(tmp_path, ledger_url):
    text = open(POLICY, encoding="utf-8").read()
    start = text.index("\nledger:\n")
    end = text.index("\nclauses:\n")
    path = tmp_path / "no_ledger.yaml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    facts = _write(tmp_path, "aug.yaml", S.facts(S.MONTHS[1], S.roster()[S.MONTHS[1]]))
    result = subsidy("evaluate", path, facts, "--ledger", ledger_url)
    assert result.exit_code == 1
    assert "error[ledger.not_configured] policy shanxi_2022 has no `ledger:` section" in result.output


# --- real processes: killed mid-recording, and two recording at once --------------------------------------------------

HELPER = str(Path(__file__).resolve().parent / "ledger_process.py")


def _start(*args, pause=None, seconds=60, no_check=False, until=None, arrived=None):
    options = ((["--pause", str(pause), str(seconds)] if pause else []) + (["--until", str(until)] if until else [])
               + (["--arrived", str(arrived)] if arrived else []) + (["--no-python-check"] if no_check else []))
    return subprocess.Popen([sys.executable, HELPER, *options, "--", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path, proc, limit=60.0):
    deadline = time.monotonic() + limit
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the recording never reached its transaction"
        time.sleep(0.05)


def _count(url, query):
    engine_ = create_engine(normalise_url(url))
    try:
        with engine_.connect() as conn:
            return conn.execute(query).scalar_one()
    finally:
        engine_.dispose()


def test_a_recording_killed_midway_leaves_nothing(tmp_path, fork, ledger_url):
    july, aug = S.MONTHS[:2]
    _month(tmp_path, fork, ledger_url, july)
    before = _count(ledger_url, select(head.c.entries))
    path = _write(tmp_path, "aug.yaml", S.facts(aug, S.roster()[aug]))
    marker = tmp_path / "inside"
    proc = _start("evaluate", fork, path, "--ledger", ledger_url, "--record", "-o", tmp_path / "k.json", pause=marker)
    try:
        _wait_for(marker, proc)  # every row of the run is written, not committed
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert _count(ledger_url, select(head.c.entries)) == before
    assert _count(ledger_url, select(func.count()).select_from(entries)) == before
    verify = subsidy("ledger", "verify", ledger_url)
    assert verify.exit_code == 0 and "intact: 1 run," in verify.output
    done = _record(fork, path, ledger_url, str(tmp_path / "a.json"))
    assert "已记账，批次 2（" in done.output


def _rival(shop_id, county, hired):
    """A workshop of 5 target workers, one of them P-1, hired in August 2022."""
    workers = [S._worker(f"{shop_id}-{n}", dt.date(2022, 1, 10), 6, False) for n in range(4)]
    workers.append(S._worker("P-1", hired, 12, False))
    data = S.facts(S.MONTHS[1], workers)
    data["workshops"][0].update(id=shop_id, county=county, base_recognized=False)
    return data


@pytest.mark.parametrize("python_check", [True, False], ids=["checked", "constraint-only"])
def test_two_offices_recording_the_same_one_time_payment_at_once_pay_it_once(tmp_path, fork, ledger_url, python_check):
    a = _write(tmp_path, "county-a.yaml", _rival("WS-A", "临县", dt.date(2022, 8, 3)))
    b = _write(tmp_path, "county-b.yaml", _rival("WS-B", "兴县", dt.date(2022, 8, 20)))
    open_ledger(ledger_url).close()  # the schema exists, as after a county's first run
    marker, arrived = tmp_path / "inside", tmp_path / "arrived"
    # A writes its rows and holds the ledger's lock until B has reached the ledger (and 2 s more): a race however
    # slowly either process starts on a loaded machine
    first = _start("evaluate", fork, a, "--ledger", ledger_url, "--record", "-o", tmp_path / "a.json", pause=marker,
                   seconds=120, until=arrived)
    _wait_for(marker, first)  # A has written its rows and holds the ledger's lock
    second = _start("evaluate", fork, b, "--ledger", ledger_url, "--record", "-o", tmp_path / "b.json",
                    no_check=not python_check, arrived=arrived)
    out_a, err_a = first.communicate(timeout=120)
    out_b, err_b = second.communicate(timeout=120)
    assert first.returncode == 0, err_a
    assert second.returncode == 1, err_b
    if python_check:
        assert "error[ledger.already_paid] 劳动力 P-1：3.2 one_time_hiring_subsidy 已由批次 " in err_b  # the policy's language
        assert "发放给此人；每人只发放一次" in err_b
        assert "county-b.yaml:" in err_b
    else:  # the database's unique constraint refused it: the whole run is rolled back
        assert "error[ledger.conflict] the database refused the run" in err_b
    paid = select(func.count()).select_from(entries).where(entries.c.person == "P-1", entries.c.clause == "3.2",
                                                           entries.c.outcome == "granted")
    assert _count(ledger_url, paid) == 1
    assert _count(ledger_url, select(func.count()).select_from(entries).where(entries.c.workshop == "WS-B")) == 0
    assert subsidy("ledger", "verify", ledger_url).exit_code == 0


def test_the_readme_county_month_runs_as_written(tmp_path, monkeypatch):
    """The README's walk-through of a county office's month, command by command, in a fresh folder."""
    import shlex
    text = (Path(POLICY).parent.parent / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- ledger: county month -->", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 6
    root = Path(POLICY).parent.parent
    for name in ("policies", "examples"):
        (tmp_path / name).symlink_to(root / name)
    monkeypatch.chdir(tmp_path)
    outputs = []
    for line in commands:
        words = shlex.split(line)
        assert words[0] == ".venv/bin/subsidy"
        result = subsidy(*words[1:])
        assert result.exit_code == 0, (line, result.output)
        outputs.append(result.output)
    # every line in the policy's language: the ledger's own commands (no policy) are told it with --lang zh-CN
    assert "已在 sqlite:///ledger.db 新建空台账" in outputs[0] and (tmp_path / "ledger.db").exists()
    outputs = outputs[1:]
    assert "已将 2 个历史条目作为批次 1（" in outputs[0]
    assert "已记账，批次 2（" in outputs[1] and (tmp_path / "payouts-2022-07.xlsx").exists()
    assert "已记账，批次 3（" in outputs[2]
    assert "sqlite:///ledger.db：完整：3 个批次" in outputs[3]
    # every recording and the report print the ledger's head: the same one, as nothing was recorded in between
    head = [line for line in outputs[2].splitlines() if line.startswith("台账 sqlite:///ledger.db 的链头：批次 3，")]
    assert len(head) == 1 and head[0] in outputs[3]
    runs, entries, digest = re.fullmatch(r".*批次 (\d+)，条目 (\d+)，哈希 (\w+)", head[0]).groups()
    assert f"批次 {runs}，条目 {entries}，哈希 {digest}" in outputs[4]  # the report says it in the policy's words
    # July: 30 x 200 + the 50,000 award + E-01's 640 = 56,640; August: 33 x 200, 3 trainings x 1,000, E-01 and
    # two hires x 640 (E-01's months 29 and 30 of 36) = 11,520. August's 3 hires (3 x 1,500) are suppressed:
    # the award paid in July keeps the workshop on the award side of 3.5 (A = 50,000 > 0), and T - A - H =
    # 50,000 - 50,000 - 0 = 0 leaves no award to top up (semantics note 5.2, revised 2026-11-28; before:
    # the hires were paid and the total was 72,660.00)
    assert "已发放 68,160.00 元" in outputs[4] and re.search(r"^  3\.5 \S.*  50,000\.00$", outputs[4], re.M)


def test_one_workshop_of_a_facts_file_reads_its_own_stated_history(ledger_url):
    from conftest import EXAMPLE
    # WS-002 states no history: the ledger's (empty) is taken, whatever WS-001 states
    alone = subsidy("evaluate", POLICY, EXAMPLE, "--ledger", ledger_url, "--workshop", "WS-002", "--format", "csv")
    assert alone.exit_code == 0, alone.output
    # WS-001's worker W-0002 states a history the ledger does not hold, found at its own line
    first = subsidy("evaluate", POLICY, EXAMPLE, "--ledger", ledger_url, "--workshop", "WS-001", "--format", "csv")
    assert first.exit_code == 1
    assert "facts_2022.yaml:49:" in first.output
    assert "(at /workshops/0/workers/1/history/one_time_subsidy_paid)" in first.output
