"""The ledger's integrity (issue 12, items 4-6): a ledger is created on purpose; every guarantee is chained, checked
before each recording and anchored outside the database by signed checkpoints; a damaged ledger is reported, never a
traceback; a worker in two workshops in one period is paid once and the second recording goes through; values a
column cannot hold are refused at their place in the facts file.

Every test runs the CLI on SQLite and, when SUBSIDY_TEST_POSTGRES is set, on PostgreSQL.
"""
import datetime as dt
import json
from pathlib import Path
import os
import shutil
import subprocess

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine, delete, func, inspect, select, update

from subsidy_rules.cli import main
from conftest import POLICY, POSTGRES
from subsidy_rules.ledger import chain, evaluate_with_ledger, normalise_url, open_ledger, record_run
from subsidy_rules.ledger.tables import coverage, entries, head, once_paid, runs, supersessions, tallies
from subsidy_rules.problems import InvalidInput

TRAINING = {"pre_job": True, "real_name_registered": True, "completed_on": "2022-08-02"}


def subsidy(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def _worker(wid, hired="2022-01-10", **extra):
    out = {"id": wid, "categories": ["poverty_alleviated"], "sex": "male", "birth_date": "1990-01-01",
           "hired_on": hired, "contract_months": 12}
    out.update(extra)
    return out


def _shop(shop_id, workers, county="临县", **extra):
    """A cooperative of four staff hired before the period and ``workers``: certified by 3.1 (five target workers)."""
    out = {"id": shop_id, "name": f"车间{shop_id}", "city": "吕梁市", "county": county, "wage_area": 3,
           "entity_type": "cooperative", "workers": [_worker(f"{shop_id}-{n}") for n in range(4)] + list(workers)}
    out.update(extra)
    return out


def _facts(tmp_path, name, shops, month="2022-08"):
    y, m = map(int, month.split("-"))
    last = dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)
    data = {"period": {"start": f"{month}-01", "end": last.isoformat()}, "workshops": shops}
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


def _record(facts, url, *extra, policy=POLICY):
    out = facts + ".json"
    result = subsidy("evaluate", policy, facts, "--ledger", url, "--record", "-o", out, *extra)
    assert result.exit_code == 0, result.output
    with open(out, encoding="utf-8") as fh:
        return json.load(fh), result


def _one(doc, **want):
    hits = [d for d in doc["decisions"] if all(d.get(k) == v for k, v in want.items())]
    assert len(hits) == 1, (want, [(d["workshop"], d["worker"], d["rule"], d["outcome"]) for d in doc["decisions"]])
    return hits[0]


class Db:
    """Direct access to a ledger's tables, as someone with the database's password would have."""

    def __init__(self, url):
        self.engine = create_engine(normalise_url(url))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.engine.dispose()

    def scalar(self, query):
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def rows(self, query):
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def run(self, *statements):
        with self.engine.begin() as conn:
            for s in statements:
                conn.execute(s)

    def rechain(self):
        """Recompute every hash, as someone who read this tool's code would after editing rows: each entry's hash
        and link, each run's hash and chain hash, the head."""
        with self.engine.begin() as conn:
            prev, hashes = chain.GENESIS, {}
            for row in conn.execute(select(entries).order_by(entries.c.seq)).mappings().all():
                row = dict(row, prev_hash=prev)
                row["hash"] = prev = hashes[row["seq"]] = chain.entry_hash(row)
                conn.execute(update(entries).where(entries.c.seq == row["seq"])
                             .values(prev_hash=row["prev_hash"], hash=row["hash"]))
            link, end, count, last = chain.GENESIS, chain.GENESIS, 0, 0
            for run in conn.execute(select(runs).order_by(runs.c.seq)).mappings().all():
                run = dict(run)
                run["hash"] = chain.run_hash(run)
                if run["entry_count"]:
                    end = hashes[run["first_entry"] + run["entry_count"] - 1]
                link = chain.run_link(link, run, run["claims"], end)
                conn.execute(update(runs).where(runs.c.id == run["id"]).values(hash=run["hash"], chain=link))
                last = run["seq"]
            count = max(hashes) if hashes else 0
            conn.execute(update(head).values(entries=count, hash=prev, runs=last, chain=link))


def _errors(result):
    return [line for line in result.output.splitlines() if "error[" in line]


# --- 4. a ledger is created on purpose ----------------------------------------------------------------------------

def _display(url):
    from sqlalchemy.engine import make_url
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def _has_tables(url):
    if url.startswith("sqlite"):
        return os.path.exists(url.split("///", 1)[1])
    engine_ = create_engine(normalise_url(url))
    try:
        return bool(inspect(engine_).get_table_names())
    finally:
        engine_.dispose()


def test_every_command_refuses_a_url_with_no_ledger_and_init_creates_one(tmp_path, database_url):
    facts = _facts(tmp_path, "a.yaml", [_shop("WS-A", [_worker("P-1", "2022-08-03")])])
    decisions = str(tmp_path / "d.json")
    assert subsidy("evaluate", POLICY, facts, "-o", decisions).exit_code == 0
    key = tmp_path / "office.key"
    assert subsidy("ledger", "keygen", "--key", key).exit_code == 0
    for args in (("evaluate", POLICY, facts, "--ledger", database_url),
                 ("evaluate", POLICY, facts, "--ledger", database_url, "--record"),
                 ("ledger", "carry-in", database_url, POLICY, facts, "--reason", "records"),
                 ("ledger", "verify", database_url), ("ledger", "runs", database_url),
                 ("ledger", "report", database_url, "--policy", POLICY),
                 ("ledger", "checkpoint", database_url, "--key", key, "-o", tmp_path / "c.json"),
                 ("verify", decisions, facts, "--ledger", database_url)):
        result = subsidy(*args)
        assert result.exit_code == 1, (args, result.output)
        if args[0] in ("evaluate", "verify") or args[1] in ("carry-in", "report"):  # a policy: its language
            assert f"error[ledger.missing] {_display(database_url)} 处没有台账" in result.output, (args, result.output)
            assert "台账须专门建立" in result.output and "subsidy ledger init " in result.output
        else:  # the ledger's own commands: --lang or $SUBSIDY_LANG, else English
            assert f"error[ledger.missing] no ledger at {_display(database_url)}" in result.output, (args, result.output)
            assert "a ledger is created on purpose" in result.output and "subsidy ledger init " in result.output
        assert not _has_tables(database_url), args  # nothing was created
    created = subsidy("ledger", "init", database_url)
    assert created.exit_code == 0 and f"created an empty ledger at {_display(database_url)}" in created.output
    assert "ledger head of" in created.output and "run 0, entry 0" in created.output
    again = subsidy("ledger", "init", database_url)
    assert again.exit_code == 0 and "holds a ledger already (0 runs): nothing was created" in again.output
    doc, done = _record(facts, database_url)
    assert "已记账，批次 1（" in done.output  # the policy's language
    assert subsidy("ledger", "verify", database_url).exit_code == 0


def test_a_mistyped_ledger_path_pays_nothing_again(tmp_path, ledger_url):
    july = _facts(tmp_path, "jul.yaml", [_shop("WS-A", [_worker("P-1", "2022-07-04")])], "2022-07")
    august = _facts(tmp_path, "aug.yaml", [_shop("WS-A", [_worker("P-1", "2022-07-04")])], "2022-08")
    first, _ = _record(july, ledger_url)
    assert _one(first, worker="P-1", rule="one_time_hiring_subsidy")["outcome"] == "granted"
    typo = tmp_path / "ledgr.db"
    result = subsidy("evaluate", POLICY, august, "--ledger", typo, "--record", "-o", tmp_path / "x.json")
    assert result.exit_code == 1 and "error[ledger.missing]" in result.output and f"ledger init {typo}" in result.output
    assert not typo.exists() and not (tmp_path / "x.json").exists()


@pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL (SUBSIDY_TEST_POSTGRES)")
def test_a_postgresql_database_that_does_not_exist_is_a_missing_ledger():
    from sqlalchemy.engine import make_url
    url = make_url(POSTGRES).set(database="no_such_ledger_database").render_as_string(hide_password=False)
    for args in (("ledger", "verify", url), ("ledger", "init", url)):
        result = subsidy(*args)
        assert result.exit_code == 1
        assert "error[ledger.missing]" in result.output and "does not exist" in result.output
        assert "create the database (no_such_ledger_database)" in result.output


# --- 5. every guarantee chained --------------------------------------------------------------------------------------

def _two_months(tmp_path, url):
    """July and August of workshop WS-A (P-1 hired in July: its 3.2 paid in July) and August of WS-B."""
    july = _facts(tmp_path, "jul.yaml", [_shop("WS-A", [_worker("P-1", "2022-07-04", training=dict(
        TRAINING, completed_on="2022-07-02"))])], "2022-07")
    _record(july, url)
    august = _facts(tmp_path, "aug-a.yaml", [_shop("WS-A", [_worker("P-1", "2022-07-04")])])
    _record(august, url)
    b = _facts(tmp_path, "aug-b.yaml", [_shop("WS-B", [_worker("Q-1", "2022-08-08")], county="兴县")])
    _record(b, url)
    return july, august, b


def test_verify_recomputes_once_paid_coverage_and_supersessions_and_names_each_difference(tmp_path, ledger_url):
    _two_months(tmp_path, ledger_url)
    corrected = _facts(tmp_path, "aug-b2.yaml", [_shop("WS-B", [_worker("Q-1", "2022-08-09")], county="兴县")])
    _record(corrected, ledger_url, "--supersede", "--reason", "Q-1 hired on the 9th")
    assert subsidy("ledger", "verify", ledger_url).exit_code == 0
    with Db(ledger_url) as db:
        paid = db.rows(select(once_paid).where(once_paid.c.person == "P-1", once_paid.c.rule == "one_time_hiring_subsidy"))
        assert len(paid) == 1
        seq = paid[0]["entry_seq"]
        q1 = db.rows(select(once_paid).where(once_paid.c.person == "Q-1"))[0]
        claim = db.rows(select(coverage).where(coverage.c.workshop == "WS-A", coverage.c.month == "2022-07"))[0]
        swap = db.rows(select(supersessions))[0]
        db.run(delete(once_paid).where(once_paid.c.person == "P-1", once_paid.c.rule == "one_time_hiring_subsidy"),
               once_paid.insert().values(person="Z-9", rule="one_time_hiring_subsidy", entry_seq=q1["entry_seq"]),
               update(coverage).where(coverage.c.workshop == "WS-A", coverage.c.month == "2022-08")
               .values(month="2022-09"),
               delete(coverage).where(coverage.c.workshop == "WS-A", coverage.c.month == "2022-07"),
               update(supersessions).values(workshop="WS-X"))
    result = subsidy("ledger", "verify", ledger_url)
    assert result.exit_code == 1
    errors = _errors(result)
    assert any(f"once_paid has no row for person P-1, rule one_time_hiring_subsidy: entry {seq} pays it" in e
               for e in errors), errors
    assert any("once_paid holds person Z-9, rule one_time_hiring_subsidy" in e for e in errors), errors
    assert any("coverage has no row for workshop WS-A, month 2022-07: run 1 (" in e for e in errors), errors
    assert any("coverage has no row for workshop WS-A, month 2022-08: run 2 (" in e for e in errors), errors
    assert any("coverage gives workshop WS-A, month 2022-09 to run 2" in e and "no chained claim holds" in e
               for e in errors), errors
    assert any("supersessions has no row for run 4 (" in e and "for workshop WS-B: the row was deleted" in e
               for e in errors), errors
    assert any("supersessions says run 4 (" in e and "for workshop WS-X" in e for e in errors), errors
    assert all("error[ledger.tampered]" in e for e in errors)
    assert claim["run_id"] and swap["old_run"]


def test_a_deleted_once_paid_row_cannot_let_a_second_payment_through(tmp_path, ledger_url):
    a = _facts(tmp_path, "a.yaml", [_shop("WS-A", [_worker("P-1", "2022-08-03")])])
    b = _facts(tmp_path, "b.yaml", [_shop("WS-B", [_worker("P-1", "2022-08-20")], county="兴县")])
    from subsidy_rules import load_facts, load_policy
    policy = load_policy(POLICY)
    ledger = open_ledger(ledger_url)
    try:
        run_b, held_b = evaluate_with_ledger(ledger, policy, load_facts(b, policy), trace=False)  # decided first
        _record(a, ledger_url)  # meanwhile the other office records P-1's 3.2 for WS-A
        with Db(ledger_url) as db:  # and someone deletes the row the database's constraint stands on
            db.run(delete(once_paid))
        with pytest.raises(InvalidInput) as caught:
            record_run(ledger, run_b, held_b)
    finally:
        ledger.close()
    codes = {p.code for p in caught.value.problems}
    assert "ledger.tampered" in codes, caught.value.problems
    assert any("once_paid has no row for person P-1" in p.message for p in caught.value.problems)
    with Db(ledger_url) as db:
        assert db.scalar(select(func.count()).select_from(entries).where(
            entries.c.person == "P-1", entries.c.rule == "one_time_hiring_subsidy", entries.c.outcome == "granted")) == 1
        assert db.scalar(select(head.c.runs)) == 1
    # through the CLI too: the recording is refused and says why
    refused = subsidy("evaluate", POLICY, b, "--ledger", ledger_url, "--record", "-o", tmp_path / "x.json")
    assert refused.exit_code == 1 and "error[ledger.tampered] once_paid has no row for person P-1" in refused.output
    assert "nothing was recorded" in refused.output and "subsidy ledger verify" in refused.output


def test_a_deleted_coverage_row_cannot_let_a_second_run_for_the_month_through(tmp_path, ledger_url):
    a = _facts(tmp_path, "a.yaml", [_shop("WS-A", [_worker("P-1", "2022-08-03")])])
    _record(a, ledger_url)
    with Db(ledger_url) as db:
        db.run(delete(coverage))
    again = _facts(tmp_path, "a2.yaml", [_shop("WS-A", [_worker("P-1", "2022-08-03"), _worker("P-2", "2022-08-05")])])
    result = subsidy("evaluate", POLICY, again, "--ledger", ledger_url, "--record", "-o", tmp_path / "x.json")
    assert result.exit_code == 1
    assert "error[ledger.tampered] coverage has no row for workshop WS-A, month 2022-08: run 1" in result.output
    with Db(ledger_url) as db:
        assert db.scalar(select(head.c.runs)) == 1


def _checkpointed(tmp_path, url):
    key = tmp_path / "office.key"
    made = subsidy("ledger", "keygen", "--key", key)
    assert made.exit_code == 0 and (tmp_path / "office.pub").exists(), made.output
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    _two_months(tmp_path, url)
    cp = tmp_path / "2022-08.checkpoint"
    signed = subsidy("ledger", "checkpoint", url, "--key", key, "-o", cp)
    assert signed.exit_code == 0, signed.output
    assert "run 3, entry" in signed.output and "signed by key ed25519:" in signed.output
    return cp, tmp_path / "office.pub", key


def test_a_signed_checkpoint_verifies_and_names_the_key(tmp_path, ledger_url):
    cp, pub, key = _checkpointed(tmp_path, ledger_url)
    body = json.loads(cp.read_text(encoding="utf-8"))
    assert (body["runs"], body["format"]) == (3, "subsidy-ledger-checkpoint/1")
    head_now = subsidy("ledger", "verify", ledger_url)
    assert body["head"] in head_now.output  # the head printed is the one signed
    ok = subsidy("ledger", "verify", ledger_url, "--checkpoint", cp, "--public-key", pub)
    assert ok.exit_code == 0, ok.output
    assert f"matches the checkpoint {cp} of" in ok.output and "0 runs recorded since" in ok.output
    # more runs since the checkpoint: still matches, and says how many
    later = _facts(tmp_path, "sep.yaml", [_shop("WS-A", [_worker("P-1", "2022-07-04")])], "2022-09")
    _record(later, ledger_url)
    ok = subsidy("ledger", "verify", ledger_url, "--checkpoint", cp, "--public-key", pub)
    assert ok.exit_code == 0 and "1 run recorded since" in ok.output
    # without the office's public key the checkpoint's own key is used, and the output says so
    unpinned = subsidy("ledger", "verify", ledger_url, "--checkpoint", cp)
    assert unpinned.exit_code == 0 and "give --public-key" in unpinned.output
    # a checkpoint signed by another key, or altered after it was signed, is refused
    other = tmp_path / "other.key"
    assert subsidy("ledger", "keygen", "--key", other).exit_code == 0
    forged = tmp_path / "forged.checkpoint"
    assert subsidy("ledger", "checkpoint", ledger_url, "--key", other, "-o", forged).exit_code == 0
    wrong = subsidy("ledger", "verify", ledger_url, "--checkpoint", forged, "--public-key", pub)
    assert wrong.exit_code == 1 and "error[ledger.bad_signature]" in wrong.output and "not signed by the office" in wrong.output
    body["runs"] = 2
    cp.write_text(json.dumps(body), encoding="utf-8")
    altered = subsidy("ledger", "verify", ledger_url, "--checkpoint", cp, "--public-key", pub)
    assert altered.exit_code == 1 and "error[ledger.bad_signature]" in altered.output
    assert "altered after it was signed" in altered.output
    # a key is never overwritten
    assert subsidy("ledger", "keygen", "--key", key).exit_code == 1


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl")
def test_a_key_made_by_openssl_signs_checkpoints(tmp_path, ledger_url):
    key, pub = tmp_path / "office.key", tmp_path / "office.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
    _record(_facts(tmp_path, "a.yaml", [_shop("WS-A", [_worker("P-1", "2022-08-03")])]), ledger_url)
    assert subsidy("ledger", "checkpoint", ledger_url, "--key", key, "-o", tmp_path / "c").exit_code == 0
    assert subsidy("ledger", "verify", ledger_url, "--checkpoint", tmp_path / "c", "--public-key", pub).exit_code == 0


def test_a_chain_rewritten_with_recomputed_hashes_fails_the_checkpoint(tmp_path, ledger_url):
    cp, pub, _ = _checkpointed(tmp_path, ledger_url)
    with Db(ledger_url) as db:  # raise P-1's July hiring subsidy, then recompute every hash
        db.run(update(entries).where(entries.c.worker == "P-1", entries.c.clause == "3.2").values(amount="15000.00"))
        db.rechain()
    assert subsidy("ledger", "verify", ledger_url).exit_code == 0  # a rewritten chain holds together by itself...
    result = subsidy("ledger", "verify", ledger_url, "--checkpoint", cp, "--public-key", pub)
    assert result.exit_code == 1  # ...but not against what the office signed
    assert "error[ledger.tampered]" in result.output and "run 3's chain hash is now" in result.output
    assert "the ledger was rewritten (its hashes recomputed) at or before run 3" in result.output


def test_a_dropped_last_run_with_the_head_rewound_fails_the_checkpoint(tmp_path, ledger_url):
    cp, pub, _ = _checkpointed(tmp_path, ledger_url)
    with Db(ledger_url) as db:  # remove WS-B's August (run 3) entirely and rewind the head to run 2
        last = db.rows(select(runs).where(runs.c.seq == 3))[0]
        before = db.rows(select(runs).where(runs.c.seq == 2))[0]
        end = db.scalar(select(entries.c.hash).where(entries.c.seq == before["first_entry"] + before["entry_count"] - 1))
        seqs = [r["seq"] for r in db.rows(select(entries.c.seq).where(entries.c.run_id == last["id"]))]
        db.run(delete(once_paid).where(once_paid.c.entry_seq.in_(seqs)), delete(coverage).where(coverage.c.run_id == last["id"]),
               delete(tallies).where(tallies.c.run_id == last["id"]), delete(entries).where(entries.c.run_id == last["id"]),
               delete(runs).where(runs.c.id == last["id"]),
               update(head).values(runs=2, entries=before["first_entry"] + before["entry_count"] - 1, hash=end,
                                   chain=before["chain"]))
    assert subsidy("ledger", "verify", ledger_url).exit_code == 0  # the ledger alone cannot know it had a run 3
    result = subsidy("ledger", "verify", ledger_url, "--checkpoint", cp, "--public-key", pub)
    assert result.exit_code == 1
    assert "the ledger now holds 2 runs" in result.output and "removed and the head rewound" in result.output


def test_edited_runs_and_supersessions_are_named_and_fail_the_checkpoint(tmp_path, ledger_url):
    cp, pub, _ = _checkpointed(tmp_path, ledger_url)
    with Db(ledger_url) as db:
        db.run(update(runs).where(runs.c.seq == 2).values(reason="approved by the director"))
    edited = subsidy("ledger", "verify", ledger_url)
    assert edited.exit_code == 1 and "run 2 (" in edited.output and "its fields no longer give its hash" in edited.output
    with Db(ledger_url) as db:  # the run's own hash recomputed: its chain hash no longer follows
        row = db.rows(select(runs).where(runs.c.seq == 2))[0]
        db.run(update(runs).where(runs.c.seq == 2).values(hash=chain.run_hash(row)))
    again = subsidy("ledger", "verify", ledger_url)
    assert again.exit_code == 1 and "its chain hash does not follow from its fields" in again.output
    with Db(ledger_url) as db:  # every hash recomputed: only the checkpoint shows it
        db.rechain()
    assert subsidy("ledger", "verify", ledger_url).exit_code == 0
    assert subsidy("ledger", "verify", ledger_url, "--checkpoint", cp, "--public-key", pub).exit_code == 1
    # a supersession invented in the claims (what coverage and supersessions are recomputed from), rechained
    with Db(ledger_url) as db:
        db.rechain()
        row = db.rows(select(runs).where(runs.c.seq == 3))[0]
        claims = json.loads(row["claims"])
        claims["supersedes"] = {"WS-A": [db.rows(select(runs.c.id).where(runs.c.seq == 2))[0]["id"]]}
        db.run(update(runs).where(runs.c.seq == 3).values(claims=chain.claims_text(claims)))
    named = subsidy("ledger", "verify", ledger_url)
    assert named.exit_code == 1 and "its chain hash does not follow from its fields, its claims" in named.output
    assert "supersessions has no row for run 3 (" in named.output
    assert "checkpoint" not in named.output


def test_recording_and_report_print_the_head(tmp_path, ledger_url):
    a = _facts(tmp_path, "a.yaml", [_shop("WS-A", [_worker("P-1", "2022-08-03")])])
    _, done = _record(a, ledger_url)
    heads = [line for line in done.output.splitlines() if line.startswith("台账 ") and " 的链头：" in line]
    assert len(heads) == 1 and "：批次 1，条目 " in heads[0]
    digest = heads[0].rsplit("哈希 ", 1)[1]
    assert len(digest) == 64
    report = subsidy("ledger", "report", ledger_url, "--policy", POLICY)
    assert report.exit_code == 0 and "链头：批次 1，条目" in report.output and digest in report.output
    doc = json.loads(subsidy("ledger", "report", ledger_url, "--policy", POLICY, "--format", "json").stdout)
    assert doc["head"]["hash"] == digest and doc["head"]["run"] == 1
    assert digest in subsidy("ledger", "report", ledger_url, "--policy", POLICY, "--format", "csv").stdout
    with open(a + ".json", encoding="utf-8") as fh:
        assert json.load(fh)["ledger"]["head"]["hash"] == digest
    carried = subsidy("ledger", "carry-in", ledger_url, POLICY, _facts(tmp_path, "c.yaml", [_shop("WS-C", [_worker(
        "C-1", history={"si_subsidy_months": 3})])]), "--reason", "records")
    assert carried.exit_code == 0 and " 的链头：批次 2，条目 " in carried.output
    assert subsidy("ledger", "verify", ledger_url).output.splitlines()[1].startswith(f"ledger head of {_display(ledger_url)}: run 2, entry ")


# --- a damaged ledger is reported, never a traceback ----------------------------------------------------------------

def _damage_cases():
    return {
        "edited amount": lambda db: db.run(update(entries).where(entries.c.clause == "3.2").values(amount="99999.00")),
        "amount not a number, hashes recomputed": lambda db: (
            db.run(update(entries).where(entries.c.clause == "3.2").values(amount="lots")), db.rechain()),
        "details not JSON, hashes recomputed": lambda db: (
            db.run(update(entries).where(entries.c.rule == "certification").values(details="{oops")), db.rechain()),
        "deleted entry": lambda db: db.run(delete(entries).where(entries.c.clause == "3.9")),
        "deleted head": lambda db: db.run(delete(head)),
        "claims not JSON": lambda db: db.run(update(runs).values(claims="nonsense")),
        "deleted tallies": lambda db: db.run(delete(tallies)),
    }


def _sqlite_damage_cases():
    """SQLite keeps whatever type it is given: values no database of another kind would hold."""
    return {
        "run number not a number": lambda db: db.run(update(runs).where(runs.c.seq == 2).values(seq="two")),
        "quantity not a number, hashes recomputed": lambda db: (
            db.run(update(entries).where(entries.c.clause == "3.2").values(quantity="many")), db.rechain()),
    }


def _assert_damage_reported(tmp_path, url, damage, name):
    _two_months(tmp_path, url)
    with Db(url) as db:
        damage(db)
    sep = _facts(tmp_path, "sep.yaml", [_shop("WS-A", [_worker("P-1", "2022-07-04")])], "2022-09")
    commands = [("ledger", "verify", url), ("ledger", "report", url, "--policy", POLICY),
                ("ledger", "report", url, "--policy", POLICY, "--format", "json"),
                ("ledger", "checkpoint", url, "--key", tmp_path / "none.key", "-o", tmp_path / "c")]
    if name != "deleted tallies":  # what decides a payment: a recording checks it before it writes
        commands.append(("evaluate", POLICY, sep, "--ledger", url, "--record", "-o", tmp_path / "x.json"))
    for args in commands:
        result = subsidy(*args)
        assert result.exit_code == 1, (name, args, result.output)
        assert any(code in result.output for code in ("error[ledger.tampered]", "error[ledger.damaged]")), \
            (name, args, result.output)
    runs_listing = subsidy("ledger", "runs", url)
    assert runs_listing.exit_code in (0, 1)


@pytest.mark.parametrize("damage", list(_damage_cases()))
def test_a_damaged_ledger_is_reported_with_codes_never_a_traceback(tmp_path, ledger_url, damage):
    _assert_damage_reported(tmp_path, ledger_url, _damage_cases()[damage], damage)


@pytest.mark.parametrize("damage", list(_sqlite_damage_cases()))
def test_a_sqlite_ledger_holding_values_of_the_wrong_type_is_reported_never_a_traceback(tmp_path, damage):
    url = f"sqlite:///{tmp_path / 'typed.db'}"
    assert subsidy("ledger", "init", url).exit_code == 0
    _assert_damage_reported(tmp_path, url, _sqlite_damage_cases()[damage], damage)


# --- 6. two workshops, one worker, one period ------------------------------------------------------------------------

def _p1(hired):
    return _worker("P-1", hired, training=TRAINING)


def test_both_workshops_in_one_facts_file_pay_the_worker_once_and_record(tmp_path, ledger_url):
    both = _facts(tmp_path, "both.yaml", [_shop("WS-A", [_p1("2022-08-03")]),
                                          _shop("WS-B", [_p1("2022-08-20")], county="兴县")])
    doc, _ = _record(both, ledger_url)
    for rule in ("one_time_hiring_subsidy", "pre_job_training_subsidy"):
        assert _one(doc, workshop="WS-A", worker="P-1", rule=rule)["outcome"] == "granted"
        second = _one(doc, workshop="WS-B", worker="P-1", rule=rule)
        assert second["outcome"] == "denied" and second["amount"] is None
        assert "already granted to worker P-1 in this run, by workshop WS-A (listed before WS-B in" in second["reason"]
        assert "it is paid once per person (the person is the worker's id, across workshops)" in second["reason"]
        assert second["paid_by"] == {"run": None, "workshop": "WS-A", "this_run": True}
    assert doc["totals"]["by_clause"] == {"3.2": "1500.00", "3.7": "1000.00"}
    with Db(ledger_url) as db:
        assert db.scalar(select(func.count()).select_from(entries).where(entries.c.person == "P-1")) == 2
    assert subsidy("ledger", "verify", ledger_url).exit_code == 0
    text = subsidy("evaluate", POLICY, both, "--ledger", ledger_url, "--format", "text")
    assert "劳动力 P-1 3.2 一次性吸纳就业补助：本次运行中已由车间 WS-A 发放；每人限享受一次" in text.output, text.output
    again = subsidy("evaluate", POLICY, both, "--ledger", ledger_url, "--record", "-o", tmp_path / "again.json")
    assert again.exit_code == 0 and "本次测算已记账，批次 1（" in again.output


def test_the_second_workshops_file_recorded_after_the_first_names_the_run_that_paid(tmp_path, ledger_url):
    a = _facts(tmp_path, "a.yaml", [_shop("WS-A", [_p1("2022-08-03")])])
    b = _facts(tmp_path, "b.yaml", [_shop("WS-B", [_p1("2022-08-20")], county="兴县")])
    first, _ = _record(a, ledger_url)
    assert _one(first, worker="P-1", rule="one_time_hiring_subsidy")["outcome"] == "granted"
    second, done = _record(b, ledger_url)  # refused forever before: ledger.already_paid
    assert "已记账，批次 2（" in done.output
    for rule, clause in (("one_time_hiring_subsidy", "3.2"), ("pre_job_training_subsidy", "3.7")):
        d = _one(second, worker="P-1", rule=rule)
        assert d["outcome"] == "denied"
        assert d["reason"].startswith(f"{clause} ") and "already paid to worker P-1 by run 1 (" in d["reason"]
        assert "of the ledger, for workshop WS-A, period 2022-08-01..2022-08-31" in d["reason"]
        assert d["paid_by"]["run"] == 1 and d["paid_by"]["workshop"] == "WS-A"
    assert second["totals"]["granted"] == "0.00"
    with Db(ledger_url) as db:
        assert db.scalar(select(func.count()).select_from(entries).where(entries.c.person == "P-1")) == 2
        assert {r["workshop"] for r in db.rows(select(entries.c.workshop).where(entries.c.person == "P-1"))} == {"WS-A"}
    assert subsidy("ledger", "verify", ledger_url).exit_code == 0
    # the decisions re-run identically with the same ledger
    verified = subsidy("verify", b + ".json", b, "--ledger", ledger_url)
    assert verified.exit_code == 0, verified.output
    # a history the office states as paid agrees with the ledger's payment this month
    stated = _facts(tmp_path, "b-stated.yaml", [_shop("WS-B", [dict(_p1("2022-08-20"), history={
        "one_time_subsidy_paid": True})], county="兴县")])
    assert subsidy("evaluate", POLICY, stated, "--ledger", ledger_url, "--format", "csv").exit_code == 0


def test_a_second_workshop_decided_before_the_first_recorded_is_refused_then_goes_through(tmp_path, ledger_url):
    from subsidy_rules import load_facts, load_policy
    a = _facts(tmp_path, "a.yaml", [_shop("WS-A", [_p1("2022-08-03")])])
    b = _facts(tmp_path, "b.yaml", [_shop("WS-B", [_p1("2022-08-20")], county="兴县")])
    policy = load_policy(POLICY)
    ledger = open_ledger(ledger_url)
    try:
        run_b, held_b = evaluate_with_ledger(ledger, policy, load_facts(b, policy), trace=False)
        _record(a, ledger_url)
        with pytest.raises(InvalidInput) as caught:
            record_run(ledger, run_b, held_b)
        problem = next(p for p in caught.value.problems if p.code == "ledger.already_paid")
        assert "already paid to this person by run 1 (" in problem.message and "workshop WS-A" in problem.message
        assert "evaluate again with --ledger" in problem.hint
    finally:
        ledger.close()
    doc, done = _record(b, ledger_url)
    assert "已记账，批次 2（" in done.output
    assert _one(doc, worker="P-1", rule="one_time_hiring_subsidy")["outcome"] == "denied"


def test_a_payer_reversed_after_the_second_workshop_was_decided_makes_its_run_stale(tmp_path, ledger_url):
    from subsidy_rules import load_facts, load_policy
    a = _facts(tmp_path, "a.yaml", [_shop("WS-A", [_p1("2022-08-03")])])
    b = _facts(tmp_path, "b.yaml", [_shop("WS-B", [_p1("2022-08-20")], county="兴县")])
    _record(a, ledger_url)
    policy = load_policy(POLICY)
    ledger = open_ledger(ledger_url)
    try:
        run_b, held_b = evaluate_with_ledger(ledger, policy, load_facts(b, policy), trace=False)  # P-1 paid by WS-A
        without = _facts(tmp_path, "a2.yaml", [_shop("WS-A", [])])  # WS-A's August corrected: P-1 never worked there
        _record(without, ledger_url, "--supersede", "--reason", "P-1 was not hired by WS-A")
        with pytest.raises(InvalidInput) as caught:
            record_run(ledger, run_b, held_b)
    finally:
        ledger.close()
    assert any(p.code == "ledger.stale_history" and "that payment has since been reversed" in p.message
               for p in caught.value.problems), caught.value.problems
    doc, _ = _record(b, ledger_url)  # evaluated again: now WS-B pays it
    assert _one(doc, worker="P-1", rule="one_time_hiring_subsidy")["outcome"] == "granted"


# --- values a column cannot hold are refused at their place ---------------------------------------------------------

def test_a_city_too_long_or_a_nul_in_an_id_is_refused_at_its_line_before_writing(tmp_path, ledger_url):
    long_city = _facts(tmp_path, "long.json", [_shop("WS-A", [_worker("P-1", "2022-08-03")], city="吕" * 201)])
    result = subsidy("evaluate", POLICY, long_city, "--ledger", ledger_url, "--record", "-o", tmp_path / "x.json")
    assert result.exit_code == 1
    assert "long.json:" in result.output and "error[ledger.too_long] city '吕吕" in result.output
    assert "is 201 characters long; the ledger's column entries.city holds at most 200" in result.output
    assert "(at /workshops/0/city)" in result.output
    nul = _facts(tmp_path, "nul.json", [_shop("WS-A", [_worker("P\x001", "2022-08-03")])])
    read = subsidy("evaluate", POLICY, nul, "--ledger", ledger_url, "--format", "csv")
    assert read.exit_code == 0, read.output  # reading the history of an id no ledger can hold is no error
    result = subsidy("evaluate", POLICY, nul, "--ledger", ledger_url, "--record", "-o", tmp_path / "y.json")
    assert result.exit_code == 1
    assert "error[ledger.bad_character] id 'P\\x001' contains a NUL character (U+0000)" in result.output
    assert "(at /workshops/0/workers/4/id)" in result.output
    located = [line for line in _errors(result)]
    assert located and all(line.startswith(f"{nul}:") for line in located), located
    for raw in ("0x00", "DataError", "psycopg", "value too long", "StringDataRightTruncation", "ledger.unavailable"):
        assert raw not in result.output, raw
    with Db(ledger_url) as db:
        assert db.scalar(select(head.c.runs)) == 0
    exactly = _facts(tmp_path, "ok.yaml", [_shop("WS-A", [_worker("P-1", "2022-08-03")], city="吕" * 200)])
    _record(exactly, ledger_url)


# --- a ledger kept by an earlier version -----------------------------------------------------------------------------

def test_a_ledger_made_before_runs_were_chained_is_migrated_keeping_its_hashes(tmp_path, ledger_url):
    from alembic import command
    from alembic.config import Config

    import subsidy_rules.ledger.store as store
    _two_months(tmp_path, ledger_url)
    corrected = _facts(tmp_path, "aug-b2.yaml", [_shop("WS-B", [_worker("Q-1", "2022-08-09")], county="兴县")])
    _record(corrected, ledger_url, "--supersede", "--reason", "Q-1 hired on the 9th")
    with Db(ledger_url) as db:
        before = db.rows(select(runs.c.seq, runs.c.hash, runs.c.claims).order_by(runs.c.seq))
        entry_hashes = db.rows(select(entries.c.seq, entries.c.hash).order_by(entries.c.seq))
        cfg = Config()
        cfg.set_main_option("script_location", os.path.join(os.path.dirname(store.__file__), "migrations"))
        with db.engine.begin() as conn:  # back to revision 0002: runs without claims or chain hashes
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0002")
        assert "claims" not in {c["name"] for c in inspect(db.engine).get_columns("runs")}
    verified = subsidy("ledger", "verify", ledger_url)  # opening it migrates it: claims adopted, runs chained
    assert verified.exit_code == 0, verified.output
    assert "intact: 4 runs" in verified.output
    with Db(ledger_url) as db:
        after = db.rows(select(runs.c.seq, runs.c.hash, runs.c.claims).order_by(runs.c.seq))
        assert [(r["seq"], r["hash"]) for r in after] == [(r["seq"], r["hash"]) for r in before]  # hashes kept
        assert [json.loads(r["claims"]) for r in after] == [json.loads(r["claims"]) for r in before]
        assert db.rows(select(entries.c.seq, entries.c.hash).order_by(entries.c.seq)) == entry_hashes
    sep = _facts(tmp_path, "sep.yaml", [_shop("WS-A", [_worker("P-1", "2022-07-04")])], "2022-09")
    _record(sep, ledger_url)
    assert subsidy("ledger", "verify", ledger_url).exit_code == 0


def test_a_month_recorded_after_a_later_one_is_refused_so_the_award_is_not_paid_twice(tmp_path, ledger_url):
    """August recorded first, then July: July's award would not be in August's history, and August's not in
    July's. The county records the two months as one period instead."""
    root = Path(POLICY).parent.parent
    carried = subsidy("ledger", "carry-in", ledger_url, POLICY, root / "examples" / "county" / "2022-07.yaml",
                      "--reason", "county records")
    assert carried.exit_code == 0, carried.output
    august = subsidy("evaluate", POLICY, root / "examples" / "county" / "2022-08.yaml", "--ledger", ledger_url,
                     "--record", "-o", tmp_path / "aug.json")
    assert august.exit_code == 0, august.output
    july = subsidy("evaluate", POLICY, root / "examples" / "county" / "2022-07.yaml", "--ledger", ledger_url,
                   "--record", "-o", tmp_path / "jul.json")
    assert july.exit_code == 1
    assert "error[ledger.out_of_order] workshop WS-L01: months from 2022-08 on are already recorded" in july.output
    assert "2022-07.yaml:" in july.output  # located at the workshop in the facts file
    report = json.loads(subsidy("ledger", "report", ledger_url, "--policy", POLICY, "--format", "json").stdout)
    assert report["by_clause"].get("3.5") == "50000.00"  # paid once


def test_history_is_carried_in_before_the_months_it_precedes_are_recorded(tmp_path, ledger_url):
    """August recorded, then July's history carried in: August was decided without it (a 36-month limit would
    be passed), so the carry-in is refused; correcting July while August stands is an overlap, not an order."""
    root = Path(POLICY).parent.parent
    august = subsidy("evaluate", POLICY, root / "examples" / "county" / "2022-08.yaml", "--ledger", ledger_url,
                     "--record", "-o", tmp_path / "aug.json")
    assert august.exit_code == 0, august.output
    carried = subsidy("ledger", "carry-in", ledger_url, POLICY, root / "examples" / "county" / "2022-07.yaml",
                      "--reason", "late records")
    assert carried.exit_code == 1
    assert "error[ledger.out_of_order] workshop WS-L01: months from 2022-08 on are already recorded" in carried.output
    again = subsidy("evaluate", POLICY, root / "examples" / "county" / "2022-08.yaml", "--ledger", ledger_url,
                    "--record", "-o", tmp_path / "aug2.json")
    assert again.exit_code == 0 and "本次测算已记账" in again.output
