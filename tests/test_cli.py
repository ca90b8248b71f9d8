"""The CLI end to end on the bundled example, as a user runs it."""
import json
import re
from decimal import Decimal

import jsonschema
from click.testing import CliRunner

from subsidy_rules import schemas
from subsidy_rules.cli import main
from conftest import EXAMPLE, POLICY, ROOT


def run(*args):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def evaluate_json(policy=POLICY, facts=EXAMPLE, *extra):
    result = run("evaluate", policy, facts, *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_validate_accepts_the_shanxi_policy(en_policy):
    result = run("validate", POLICY)
    assert result.exit_code == 0, result.output
    assert "政策 shanxi_2022 有效：20 个条款，13 条规则" in result.output  # in the policy's language (report.lang zh-CN)
    english = run("validate", en_policy)  # the same policy asking for English
    assert english.exit_code == 0 and "policy shanxi_2022 is valid: 20 clauses, 13 rules" in english.output
    quiet = run("validate", "-q", POLICY)
    assert quiet.exit_code == 0 and quiet.output == ""  # -q: nothing but problems, and there are none


def test_the_example_output_matches_the_decisions_schema_and_its_totals_add_up():
    doc = evaluate_json()
    jsonschema.validate(doc, schemas.load("decisions"))
    granted = [d for d in doc["decisions"] if d["outcome"] == "granted"]
    total = sum(Decimal(d["amount"]) for d in granted)
    assert Decimal(doc["totals"]["granted"]) == total
    assert sum(Decimal(v) for v in doc["totals"]["by_funding_source"].values()) == total
    assert sum(Decimal(v) for v in doc["totals"]["by_clause"].values()) == total
    # 147211.61 since the facts contract of 2026-11-28: WS-004 states its 2021 certification, so 4.4 revokes it
    # only from 2023-01-01 and the period pays D-0001 (3.2 1,500 + 3.3 200); before: 145511.61
    assert doc["totals"]["granted"] == "147211.61"


def test_every_rule_fires_on_the_example_with_a_suppression_and_a_revocation():
    doc = evaluate_json()
    fired = {(d["rule"], d["outcome"]) for d in doc["decisions"]}
    from subsidy_rules import load_policy
    for rule in load_policy(POLICY).rules:
        assert any(r == rule.id for r, _ in fired), rule.id
    assert ("base_award", "suppressed") in fired and ("one_time_hiring_subsidy", "suppressed") in fired
    assert ("revocation", "revoked") in fired


def test_every_decision_cites_its_clause_parameters_and_arithmetic():
    doc = evaluate_json(POLICY, EXAMPLE, "--trace", "lines")
    w1 = [d for d in doc["decisions"] if d["worker"] == "W-0001" and d["clause"] == "3.2"][0]
    trace = "\n".join(w1["trace"])
    assert "clause 3.2 提高一次性吸纳就业补助标准" in trace
    assert "一次性吸纳就业补助标准从每人1200元提高到1500元" in trace
    assert "requires ✓ workshop.certified of WS-001: holds, asserted by certification (clause 3.1)" in trace
    assert "parameter one_time_hiring_subsidy (一次性吸纳就业补助标准) on 2022-07-10 = 1500, in force from 2022-06-27" in trace
    assert "amount = param(\"one_time_hiring_subsidy\", worker.hired_on) = 1500 → 1500.00" in trace
    si = [d for d in doc["decisions"] if d["worker"] == "W-0001" and d["clause"] == "3.8"][0]
    assert "item 2022-08: counted" in si["trace"]
    assert any("if(5000 <= 4246.9, month.social_insurance.employer_paid, 1400 * 4246.9 / 5000) = 1189.132 → 1189.13"
               in line for line in si["trace"])
    suppressed = [d for d in doc["decisions"] if d["outcome"] == "suppressed" and d["rule"] == "base_award"][0]
    assert any("T = 50000.00 < H + N = 0.00 + 51000.00 = 51000.00, so one_time_hiring_subsidy wins" in line
               for line in suppressed["trace"])


def test_the_minimum_wage_trace_marks_the_unconfirmed_value():
    doc = evaluate_json(POLICY, EXAMPLE, "--trace", "lines")
    top_up = [d for d in doc["decisions"] if d["worker"] == "W-0001" and d["clause"] == "3.4"][0]
    assert any("UNCONFIRMED" in line and "minimum_monthly_wage[3]" in line for line in top_up["trace"])


def test_the_text_view_is_a_table_per_workshop_with_totals_by_fund():
    result = run("evaluate", POLICY, EXAMPLE, "--format", "text")
    assert result.exit_code == 0
    out = result.output
    for ws in ("WS-001", "WS-002", "WS-003", "WS-004", "WS-005", "WS-006"):
        assert f"帮扶车间 {ws} " in out
    assert re.search(r"就业补助资金\s+employment_subsidy_fund\s+112,598\.26", out), out
    assert "按资金来源合计" in out and "147,211.61" in out
    # in the policy's language: rule labels, never ids; a workshop not certified says which condition failed
    assert "一次性吸纳就业补助" in out and "one_time_hiring_subsidy" not in out and "granted" not in out
    assert "帮扶车间 WS-005 移民新村扶贫车间（忻州市 静乐县）：未认定：3.1 认定为就业帮扶车间：✗ 公共投入场地" in out
    assert not re.search(r"\s未享受\s", out)  # the rules that did not fire are listed with --why-not only
    # a subsidy that lost to its exclusive partner (3.2 against WS-002's 3.5 award) pays nothing: no amount, no fund,
    # and a line saying why, with the amounts compared
    lost = re.search(r"劳动力 B-0001\s+3\.2\s+一次性吸纳就业补助\s+不重复享受\s+(\S+)\s+(\S+)\n", out)
    assert lost and lost.groups() == ("-", "-"), out
    assert ("劳动力 B-0001 3.2 一次性吸纳就业补助：阶梯性奖励与一次性吸纳就业补助不重复享受（3.5）：本期达到的奖补 T = 50,000.00，"
            "此前已发奖补 A = 0.00；3.2 一次性吸纳就业补助此前已发 H = 0.00，本期 N = 4,500.00；"
            "T = 50,000.00 > H + N = 0.00 + 4,500.00 = 4,500.00：发放 3.5 就业帮扶基地阶梯式奖补") in out  # T, A, H, N said
    assert "相等时" not in out  # said only on a tie


def test_why_not_gives_one_line_per_rule_that_did_not_fire():
    doc = evaluate_json(POLICY, EXAMPLE, "--why-not")
    denied = [d for d in doc["decisions"] if d["outcome"] == "denied" and d["workshop"] == "WS-005"]
    cert = [d for d in denied if d["rule"] == "certification"][0]
    assert "公共投入场地的车间吸纳比例不低于60%" in cert["reason"]
    assert "5 / 10 >= 0.6" in cert["reason"]
    money_rules = [d for d in denied if d["rule"] == "one_time_hiring_subsidy"]
    assert money_rules and all("requires workshop.certified" in d["reason"] for d in money_rules)


def test_explain_prints_the_auditor_view_in_the_policys_language():
    result = CliRunner().invoke(main, ["explain", POLICY, EXAMPLE, "--workshop", "WS-001", "--worker", "W-0001"],
                                env={"COLUMNS": "2000"})  # not wrapped
    assert result.exit_code == 0, result.output
    out = result.output
    assert "== WS-001 劳动力 W-0001 · 3.8 社会保险补贴：发放 3,358.26 元（就业补助资金）" in out
    assert "✓ 签订12个月以上劳动合同：劳动合同期限 12 个月 不少于 社会保险补贴劳动合同期限下限（1年以上，含1年） 12 个月" in out
    assert "全省在岗职工年平均工资（按统计年度）：84,938 元/年，2021-01-01 起施行，至 2021-12-31；来源：" in out
    assert "金额 = 1,400 × 4,246.9 ÷ 5,000 = 1,189.132 → 1,189.13" in out  # the branch not taken left out
    assert "social_insurance_subsidy" not in out and "param(" not in out and "worker." not in out
    assert "WS-001 劳动力 W-0002" not in out


def test_explain_raw_prints_the_engine_syntax():
    result = run("explain", POLICY, EXAMPLE, "--workshop", "WS-001", "--worker", "W-0001", "--raw")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "clause 3.8 social_insurance_subsidy: granted" in out
    assert "condition ✓ worker.contract_months >= param(\"si_min_contract_months\", period.end)" in out
    assert "parameter provincial_average_annual_wage (全省在岗职工年平均工资（按统计年度）) on 2021-07-01 = 84938, in force from 2021-01-01 until 2021-12-31" in out
    assert "WS-001 worker W-0002" not in out


def test_output_file(tmp_path):
    out = tmp_path / "decisions.json"
    result = run("evaluate", POLICY, EXAMPLE, "-o", str(out))
    assert result.exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["totals"]["granted"] == "147211.61"


def test_decision_ids_are_stable_and_follow_the_policy(write):
    first = [d["id"] for d in evaluate_json()["decisions"]]
    second = [d["id"] for d in evaluate_json()["decisions"]]
    assert first == second and len(set(first)) == len(first)
    changed = write("policy.yaml", open(POLICY, encoding="utf-8").read().replace("firing_limit: 100000", "firing_limit: 99999"))
    assert set(d["id"] for d in evaluate_json(changed)["decisions"]).isdisjoint(first)


def test_raising_1500_to_1800_changes_payouts_with_no_code_touched(write):
    text = open(POLICY, encoding="utf-8").read()
    assert text.count("value: 1500") == 1
    changed = write("policy.yaml", text.replace("value: 1500", "value: 1800"))
    before, after = evaluate_json(), evaluate_json(changed)
    def hire(doc, worker):
        return [d for d in doc["decisions"] if d["worker"] == worker and d["clause"] == "3.2"][0]
    assert hire(before, "W-0001")["amount"] == "1500.00" and hire(after, "W-0001")["amount"] == "1800.00"
    # WS-003's 34 hires now total 61,200, still above the 50,000 award; WS-006 pays 2 hires; WS-004, revoked
    # only from the day after the period, pays D-0001's hire
    assert Decimal(after["totals"]["by_clause"]["3.2"]) - Decimal(before["totals"]["by_clause"]["3.2"]) == 300 * (1 + 34 + 2 + 1)


def test_the_policy_test_command_runs_the_yaml_cases(en_policy):
    result = run("test", POLICY)
    assert result.exit_code == 0, result.output
    assert re.search(r"^\d+ 个通过，0 个未通过$", result.output, re.M) and " 通过\n" in result.output
    english = run("test", en_policy, POLICY[:-5] + ".tests.yaml")
    assert english.exit_code == 0, english.output
    assert re.search(r"^\d+ passed, 0 failed$", english.output, re.M) and " PASSED\n" in english.output
    quiet = run("test", "-q", POLICY)
    assert quiet.exit_code == 0 and quiet.output == ""


def test_help_teaches(monkeypatch, tmp_path):
    """From the clone's folder the examples name the bundled policy, so they can be copied and run; elsewhere they
    say policy.yaml."""
    monkeypatch.chdir(ROOT)
    out = run("--help").output
    assert "subsidy evaluate policies/shanxi_2022.yaml examples/facts_2022.yaml" in out and "policies/" in out
    assert "Exit codes" in out and " policy.yaml" not in out
    assert "subsidy evaluate policies/shanxi_2022.yaml examples/facts_2022.yaml" in run("evaluate", "--help").output
    assert "subsidy ledger report ledger.db policies/shanxi_2022.yaml" in run("ledger", "report", "--help").output
    monkeypatch.chdir(tmp_path)
    assert "subsidy evaluate policy.yaml examples/facts_2022.yaml" in run("--help").output


def test_the_help_examples_run_as_they_are(monkeypatch):
    """Each example `subsidy --help` gives that needs nothing made first runs from the clone's folder."""
    import shlex
    monkeypatch.chdir(ROOT)
    examples = [line.strip() for line in run("--help").output.splitlines()
                if line.strip().startswith("subsidy ") and ("validate" in line or "examples/facts_2022" in line)]
    assert len(examples) == 3
    for line in examples:
        result = run(*shlex.split(line)[1:])
        assert result.exit_code == 0, (line, result.output)


def test_the_engine_knows_no_particular_policy():
    """Policy is data: no Shanxi amount, threshold, date, label or fund name in engine/."""
    forbidden = re.compile(r"1500|1200|250000|3000000|84938|77364|2022-06-27|[\u4e00-\u9fff]|shanxi|"
                           r"employment_subsidy_fund|county_finance|skills_training_account|poverty_alleviated|monitored|"
                           r"relocated|labor_intensive|startup_guarantee|one_time|award_paid|si_subsidy|training_subsidy|"
                           r"certified_workshops|target_workers", re.I)
    offenders = []
    for path in (ROOT / "engine").rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if forbidden.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_no_eval_exec_or_unsafe_yaml_in_the_code():
    pattern = re.compile(r"\beval\(|\bexec\(|yaml\.load\(|unsafe_load|FullLoader|UnsafeLoader")
    for path in list((ROOT / "engine").rglob("*.py")) + [ROOT / "cli.py"]:
        assert not pattern.search(path.read_text(encoding="utf-8")), path


COUNTY = ROOT / "examples" / "county"


def _ids_and_outcomes(text):
    """(decision id, the outcome line's text) for each decision explain prints."""
    import re as _re
    heads = _re.findall(r"^== .*$", text, _re.M)
    ids = _re.findall(r"^   \S+ ([0-9a-f]{20})$", text, _re.M)
    return list(zip(ids, heads))


def test_explain_with_the_ledger_explains_the_recorded_decisions(tmp_path):
    """explain --ledger decides on the ledger's history, as the recorded run did: the same ids and outcomes."""
    url = str(tmp_path / "ledger.db")
    assert run("ledger", "init", url).exit_code == 0
    assert run("ledger", "carry-in", url, POLICY, str(COUNTY / "2022-07.yaml"), "--reason", "paper records").exit_code == 0
    for month in ("2022-07", "2022-08"):
        done = run("evaluate", POLICY, str(COUNTY / f"{month}.yaml"), "--ledger", url, "--record",
                   "-o", str(tmp_path / f"{month}.json"))
        assert done.exit_code == 0, done.output
    recorded = {d["id"]: d for d in json.loads((tmp_path / "2022-08.json").read_text(encoding="utf-8"))["decisions"]}
    shop = next(iter(recorded.values()))["workshop"]
    with_ledger = run("explain", POLICY, str(COUNTY / "2022-08.yaml"), "--workshop", shop, "--ledger", url, "--width", "0")
    without = run("explain", POLICY, str(COUNTY / "2022-08.yaml"), "--workshop", shop, "--width", "0")
    assert with_ledger.exit_code == 0 and without.exit_code == 0, with_ledger.output + without.output
    explained = _ids_and_outcomes(with_ledger.stdout)
    granted = {i for i, d in recorded.items() if d["outcome"] == "granted" and d["workshop"] == shop}
    assert granted and granted <= {i for i, _ in explained}
    # without the ledger, July's one-time payments look unpaid: August is explained differently
    assert _ids_and_outcomes(without.stdout) != explained


def test_dash_o_writes_to_standard_output_and_quiet_says_nothing_else():
    to_file = run("evaluate", POLICY, str(COUNTY / "2026-11.yaml"), "--format", "text", "-o", "-", "-q")
    assert to_file.exit_code == 0
    assert to_file.stderr == ""  # no 'wrote', no summary of the pending decisions
    assert to_file.stdout == run("evaluate", POLICY, str(COUNTY / "2026-11.yaml"), "--format", "text").stdout
    loud = run("evaluate", POLICY, str(COUNTY / "2026-11.yaml"), "--format", "text")
    assert "5 项决定待定" in loud.stderr  # the pending summary, in the policy's words


def test_a_workbook_can_go_down_a_pipe_with_dash_o(tmp_path):
    import io

    import openpyxl
    piped = CliRunner().invoke(main, ["evaluate", POLICY, EXAMPLE, "--format", "xlsx", "-o", "-", "-q"])
    assert piped.exit_code == 0, piped.output
    book = openpyxl.load_workbook(io.BytesIO(piped.stdout_bytes), read_only=True)
    assert len(book.sheetnames) > 1
