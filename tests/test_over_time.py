"""The measures over time (semantics §5.1, §5.2, §8): certification as a status kept through the ledger, 4.4 as its
only exit, 3.5's exclusivity judged on what earlier periods paid, pending decisions recorded and decided later,
labels that quote parameters, and amounts exact until rounded.

Each ledger test runs the CLI month by month on SQLite and (in CI) PostgreSQL, as a county office would.
"""
import datetime as dt
import json
from decimal import Decimal
from fractions import Fraction

import pytest
import yaml
from click.testing import CliRunner

import subsidy_rules
from subsidy_rules.cli import main
from conftest import POLICY, ROOT
from subsidy_rules.lang.exact import div, mul, round_to

FORK = str(ROOT / "policies" / "examples" / "neighbour_province.yaml")


def subsidy(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def _month(ym: str):
    y, m = map(int, ym.split("-"))
    first = dt.date(y, m, 1)
    last = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1))
    return first, last


def _worker(wid, hired="2022-01-05", cats=("poverty_alleviated",), months=(), **extra):
    out = {"id": wid, "categories": list(cats), "sex": "male", "birth_date": "1990-01-01", "hired_on": hired}
    out.update(extra)
    if months:
        out["months"] = [{"month": m} for m in months]
    return out


def _facts(tmp_path, ym, workers, **workshop):
    first, last = _month(ym)
    shop = {"id": "WS-1", "name": "测试车间", "city": "吕梁市", "county": "临县", "wage_area": 3,
            "entity_type": "cooperative", "workers": workers}
    shop.update(workshop)
    path = tmp_path / f"{ym}-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump({"period": {"start": first.isoformat(), "end": last.isoformat()},
                                    "workshops": [shop]}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


def _record(policy, facts, url, *extra):
    result = subsidy("evaluate", policy, facts, "--ledger", url, "--record", "-o", facts + ".json", *extra)
    assert result.exit_code == 0, result.output
    with open(facts + ".json", encoding="utf-8") as fh:
        return json.load(fh)


def _granted(doc, clause):
    return sum((Decimal(d["amount"]) for d in doc["decisions"] if d["clause"] == clause and d["outcome"] == "granted"),
               Decimal("0.00"))


def _one(doc, **want):
    hits = [d for d in doc["decisions"] if all(d.get(k) == v for k, v in want.items())]
    assert len(hits) == 1, (want, [(d["rule"], d["outcome"], d.get("worker")) for d in doc["decisions"]])
    return hits[0]


# --- certification is a status ---------------------------------------------------------------------------------

def test_a_workshop_certified_in_july_keeps_its_title_from_the_ledger_until_4_4_takes_it_away(tmp_path, ledger_url):
    five = [_worker(f"T{i}") for i in range(5)]
    july = _record(POLICY, _facts(tmp_path, "2022-07", five), ledger_url)
    decided = _one(july, rule="certification", outcome="certified")
    assert (decided["basis"], decided["route"], decided["since"]) == ("decided", "general", "2022-07-01")

    # August: two workers left the list, so 3.1 would fail; the title is a status, read from the ledger
    august = _record(POLICY, _facts(tmp_path, "2022-08", five[:3], months_below_standard=1), ledger_url, "--trace", "lines")
    held = _one(august, rule="certification", outcome="certified")
    assert (held["basis"], held["route"], held["since"]) == ("held", "general", "2022-07-01")
    assert "run 1" in held["source"] and "ledger" in held["source"]
    assert any("not tested again" in line for line in held["trace"])
    assert _one(august, clause="3.9", outcome="discretionary")

    # December: six months below the standard; revoked from 2023-01-01, December's payouts stand
    december = _record(POLICY, _facts(tmp_path, "2022-12", five[:3], months_below_standard=6), ledger_url)
    assert _one(december, rule="revocation", outcome="revoked")["effective"] == "2023-01-01"
    assert _one(december, rule="certification", outcome="certified")["basis"] == "held"
    assert _one(december, clause="3.9", outcome="discretionary")

    # January: revoked: nothing is paid, alerts still go out, and 3.1 does not certify it again
    workers = [_worker(f"T{i}", months=["2023-01"]) for i in range(6)]
    workers[0]["months"][0]["wage_arrears"] = True
    january = _record(POLICY, _facts(tmp_path, "2023-01", workers), ledger_url)
    assert [(d["clause"], d["outcome"]) for d in january["decisions"]] == [("4.3", "alert")]
    why = subsidy("evaluate", POLICY, _facts(tmp_path, "2023-01", workers), "--ledger", ledger_url, "--why-not")
    denied = [d for d in json.loads(why.stdout)["decisions"] if d["rule"] == "certification"]
    assert "ended on 2023-01-01" in denied[0]["reason"], denied

    # February: a new certification is stated, dated after the revocation: certified again (held)
    february = _record(POLICY, _facts(tmp_path, "2023-02", workers[1:4],
                                      certification={"on": "2023-01-20", "route": "general"}), ledger_url)
    again = _one(february, rule="certification", outcome="certified")
    assert (again["basis"], again["since"]) == ("held", "2023-01-20")
    assert subsidy("ledger", "verify", ledger_url).exit_code == 0


def test_the_labour_intensive_route_opens_only_the_one_time_hiring_subsidy(tmp_path):
    workers = [_worker(f"L{i}", hired="2022-07-04", months=["2022-07"], contract_months=24,
                       training={"pre_job": True, "real_name_registered": True, "completed_on": "2022-07-02"})
               for i in range(300)]
    path = _facts(tmp_path, "2022-07", workers, entity_type="enterprise", enterprise_size="large",
                  labour_intensive=True, headcount=1000, base_recognized=True)
    result = subsidy("evaluate", POLICY, path, "--no-trace")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    outcomes = {(d["clause"], d["outcome"]) for d in doc["decisions"]}
    assert outcomes == {("3.5", "certified"), ("3.2", "granted")}, outcomes
    assert _granted(doc, "3.2") == Decimal("450000.00")  # 300 × 1,500; no award, no 3.3, 3.7, 3.9
    why = json.loads(subsidy("evaluate", POLICY, path, "--no-trace", "--why-not").stdout)
    reason = next(d["reason"] for d in why["decisions"] if d["rule"] == "stabilisation_subsidy")
    assert "by route general" in reason and "labour_intensive" in reason, reason


# --- 3.5's exclusivity over time ---------------------------------------------------------------------------------

def test_july_hiring_subsidies_then_august_pay_51000_not_101000(tmp_path, ledger_url):
    hires = [_worker(f"H{i:02d}", hired="2022-07-11") for i in range(34)]
    july = _record(POLICY, _facts(tmp_path, "2022-07", hires, base_recognized=True), ledger_url)
    assert _granted(july, "3.2") == Decimal("51000.00")
    assert _one(july, clause="3.5", outcome="suppressed")["amount"] == "50000.00"
    august = _record(POLICY, _facts(tmp_path, "2022-08", hires, base_recognized=True), ledger_url)
    assert not [d for d in august["decisions"] if d["clause"] in ("3.2", "3.5") and d["outcome"] == "granted"]
    report = json.loads(subsidy("ledger", "report", ledger_url, "--policy", POLICY, "--format", "json").stdout)
    assert report["by_clause"] == {"3.2": "51000.00"}


def test_an_award_once_paid_suppresses_later_hires_and_the_next_tier_is_topped_up(tmp_path, ledger_url):
    staff = [_worker(f"S{i:02d}") for i in range(30)]  # hired before the ledger: no one-time subsidy now
    july = _record(POLICY, _facts(tmp_path, "2022-07", staff, base_recognized=True), ledger_url)
    assert _one(july, clause="3.5", outcome="granted")["amount"] == "50000.00"
    new = [_worker(f"N{i:02d}", hired="2022-08-08") for i in range(3)]
    august = _record(POLICY, _facts(tmp_path, "2022-08", staff + new, base_recognized=True), ledger_url)
    assert [d["outcome"] for d in august["decisions"] if d["clause"] == "3.2"] == ["suppressed"] * 3
    assert not [d for d in august["decisions"] if d["clause"] == "3.5"]  # T − A − H = 0: nothing to pay
    more = [_worker(f"M{i:02d}", hired="2022-09-05") for i in range(17)]  # the 50th subsidised worker
    september = _record(POLICY, _facts(tmp_path, "2022-09", staff + new + more, base_recognized=True), ledger_url,
                        "--trace", "lines")
    top_up = _one(september, clause="3.5", outcome="granted")
    assert top_up["amount"] == "50000.00"  # 100,000 reached − 50,000 paid
    assert any("A = 50000.00 > 0" in line for line in top_up["trace"])
    assert {d["outcome"] for d in september["decisions"] if d["clause"] == "3.2"} == {"suppressed"}


# --- pending, not fatal ------------------------------------------------------------------------------------------

def _si_worker(wid, month):
    return {"id": wid, "categories": ["monitored"], "sex": "female", "birth_date": "1985-03-03",
            "hired_on": "2022-06-28", "contract_months": 24,
            "months": [{"month": month, "income": 3000,
                        "social_insurance": {"base": 4000, "employer_paid": "1120.00", "fully_paid": True}}]}


def test_a_2023_month_is_pending_recorded_as_pending_and_decided_once_the_value_is_added(tmp_path, ledger_url):
    facts = _facts(tmp_path, "2023-03", [_si_worker(f"P{i}", "2023-03") for i in range(5)],
                   certification={"on": "2022-07-01", "route": "general"})
    result = subsidy("evaluate", POLICY, facts, "--ledger", ledger_url, "--record", "-o", facts + ".json")
    assert result.exit_code == 0, result.output
    assert "5 项决定待定" in result.output  # on standard error, in the policy's words: the parameter by its label
    assert "全省在岗职工年平均工资（按统计年度）（2022-03-01，5 项决定需要）" in result.output
    doc = json.load(open(facts + ".json", encoding="utf-8"))
    pending = [d for d in doc["decisions"] if d["outcome"] == "pending"]
    assert len(pending) == 5 and all(d["amount"] is None for d in pending)
    assert pending[0]["waits_for"] == [{"parameter": "provincial_average_annual_wage", "date": "2022-03-01", "key": None}]
    assert doc["totals"]["by_clause"] == {"3.3": "1000.00"}  # pending counts in no total
    assert subsidy("evaluate", POLICY, facts, "--strict", "--no-trace").exit_code == 1
    report = subsidy("ledger", "report", ledger_url, "--policy", POLICY)
    assert "待定（缺参数值）" in report.output and "待补充 全省在岗职工年平均工资（按统计年度）（2022-03-01）" in report.output

    # the office adds the 2022 figure (here an illustrative one) and supersedes the month: now it is decided
    fork = tmp_path / "with_2022.yaml"
    fork.write_text(f"""format: 1
extends: {POLICY}
policy: {{id: with_2022, title: test}}
override:
  parameters:
    provincial_average_annual_wage:
      label: 全省在岗职工年平均工资（按统计年度）
      unit: 元/年
      clause: "3.8"
      values:
        - {{from: 2021-01-01, until: 2021-12-31, value: 84938, source: 山西省统计局}}
        - {{from: 2022-01-01, until: 2022-12-31, value: 90000, source: illustrative test value}}
""", encoding="utf-8")
    decided = _record(str(fork), facts, ledger_url, "--supersede", "--reason", "2022年平均工资已公布")
    assert _granted(decided, "3.8") == Decimal("5600.00")  # base 4,000 under the cap 4,500: 1,120.00 each
    report = json.loads(subsidy("ledger", "report", ledger_url, "--policy", POLICY, "--format", "json").stdout)
    assert report["pending"] == [] and report["by_clause"]["3.8"] == "5600.00"
    assert subsidy("ledger", "verify", ledger_url).exit_code == 0


# --- labels that state numbers -----------------------------------------------------------------------------------

def test_the_forks_trace_quotes_its_own_threshold(tmp_path):
    workers = [_worker(f"T{i}", cats=("relocated",)) for i in range(9)]
    path = _facts(tmp_path, "2022-07", workers)
    result = subsidy("evaluate", FORK, path, "--why-not", "--no-trace")
    reason = next(d["reason"] for d in json.loads(result.stdout)["decisions"] if d["rule"] == "certification")
    assert "吸纳目标劳动力10人（含）以上" in reason and "5人" not in reason, reason
    shanxi = subsidy("evaluate", POLICY, path, "--no-trace")
    assert _one(json.loads(shanxi.stdout), rule="certification")["outcome"] == "certified"


def test_validate_warns_when_a_label_states_a_number_no_parameter_supplies(write):
    text = open(POLICY, encoding="utf-8").read()
    placeholder = "吸纳目标劳动力{certification_min_target_workers}人"
    assert placeholder in text
    path = write("stale_label.yaml", text.replace(placeholder, "吸纳目标劳动力7人"))
    result = subsidy("validate", path)
    # the linter's warning, in the policy's language: code and place as they are
    assert result.exit_code == 0 and "warning[policy.label_number] 名称写明了 7，但此处读取的参数都不是这个值" in result.output
    assert "请改为引用参数，例如 {" in result.output and "1 个警告" in result.output
    strict = subsidy("validate", path, "--strict")
    assert strict.exit_code == 1 and strict.output.splitlines()[-1] == "1 个警告（--strict）"
    english = write("stale_label_en.yaml", open(path, encoding="utf-8").read().replace("report.lang: zh-CN", "report.lang: en"))
    said = subsidy("validate", english)
    assert said.exit_code == 0 and "warning[policy.label_number] the label states 7" in said.output
    assert "quote the parameter instead" in said.output and "1 warning" in said.output
    assert "policy.label_number" not in subsidy("validate", POLICY).output


# --- exact until rounded -----------------------------------------------------------------------------------------

def test_a_division_that_does_not_terminate_is_carried_exactly():
    cap = Decimal("0.6") * 84938 / 12
    share = div(cap, Decimal(6808))
    assert isinstance(share, Fraction)
    paid = mul(Decimal("1021.20"), share)
    assert paid == Decimal("637.035")  # exactly: the product terminates, so it is a decimal again
    assert round_to(paid, Decimal("0.01"), "ROUND_HALF_UP") == Decimal("637.04")
    finite = Decimal("1021.20") * (cap / Decimal(6808))  # dividing first at 28 digits: 637.0349999…
    assert finite.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP") == Decimal("637.03")
    third = div(Decimal(1), Decimal(3))
    for mode, want in (("ROUND_HALF_UP", "0.33"), ("ROUND_UP", "0.34"), ("ROUND_DOWN", "0.33"),
                       ("ROUND_CEILING", "0.34"), ("ROUND_FLOOR", "0.33")):
        assert round_to(third, Decimal("0.01"), mode) == Decimal(want), mode
    assert round_to(-third, Decimal("0.01"), "ROUND_UP") == Decimal("-0.34")
    assert div(Decimal(1), Decimal(8)) == Decimal("0.125")  # terminating: stays a decimal


def test_a_date_parameter_with_a_value_that_is_not_a_date_is_refused_at_its_place(write):
    text = open(POLICY, encoding="utf-8").read()
    path = write("bad_date.yaml", text.replace('"55": 1970-01-01', '"55": 1970-13-01'))
    result = subsidy("validate", path)
    assert result.exit_code == 1
    assert "retirement_delay_born_from" in result.output and "error[policy." in result.output


def test_the_policy_api_loads_the_status_and_its_routes():
    policy = subsidy_rules.load_policy(POLICY)
    (status,) = policy.statuses
    assert [(r.route, r.rule, r.opens) for r in status.routes] == [
        ("general", "certification", None),
        ("labour_intensive", "certification_labour_intensive", ("one_time_hiring_subsidy",))]
    assert status.ended_by == ("revocation",) and status.after_end == "stated"


def test_a_label_quoting_an_unknown_or_keyed_parameter_is_an_error_at_the_label(write):
    text = open(POLICY, encoding="utf-8").read()
    text = text.replace("用工在{labour_intensive_min_headcount}人以上", "用工在{labour_intensive_min_headcountt}人以上")
    text = text.replace("最低工资标准{minimum_wage_floor_ratio:%}", "最低工资标准{minimum_monthly_wage}")
    result = subsidy("validate", write("placeholders.yaml", text))
    assert result.exit_code == 1
    assert "error[policy.label_placeholder] the label quotes {labour_intensive_min_headcountt}: no such parameter" \
        in result.output
    assert "the label quotes {minimum_monthly_wage}: it is not one number" in result.output
    assert "(at /rules/2/when/1/label)" in result.output


# --- found by review: each was wrong money, a traceback or a false alarm -------------------------------------------

def _edited(write, *edits):
    text = open(POLICY, encoding="utf-8").read()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return write("edited.yaml", text)


@pytest.mark.parametrize("edits, message", [
    ([("      - route: labour_intensive\n", "      - route: general\n")], "route 'general' is listed twice"),
    ([("        rule: certification_labour_intensive\n", "        rule: certification\n")],
     "rule 'certification' already grants another route"),
    ([("      - route: labour_intensive\n        rule: certification_labour_intensive\n", "      - route: x_route\n"
       "        rule: certification_labour_intensive\n")], "x_route"),
])
def test_status_routes_are_checked_against_each_other_and_the_route_vocabulary(edits, message, write):
    result = subsidy("validate", _edited(write, *edits))
    assert result.exit_code == 1 and "error[policy." in result.output and message in result.output, result.output


def test_a_rule_asserting_the_status_flag_must_be_one_of_its_routes(write):
    path = _edited(write, ("""      - route: labour_intensive
        rule: certification_labour_intensive
        opens: [one_time_hiring_subsidy]
""", ""))
    result = subsidy("validate", path)
    assert result.exit_code == 1
    assert "rule 'certification_labour_intensive' asserts workshop.certified" in result.output
    assert "policy.status_route" in result.output


def test_a_revocation_recorded_for_a_later_period_end_is_not_in_force_yet(tmp_path, ledger_url):
    held = {"certification": {"on": "2022-03-01", "route": "general"}}
    workers = [_worker(f"T{i}", months=["2022-07", "2022-08", "2022-09"], contract_months=6) for i in range(5)]
    quarter = tmp_path / "q3.yaml"
    quarter.write_text(yaml.safe_dump({"period": {"start": "2022-07-01", "end": "2022-09-30"}, "workshops": [dict(
        {"id": "WS-1", "wage_area": 3, "entity_type": "cooperative", "months_below_standard": 6, "workers": workers},
        **held)]}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    recorded = _record(POLICY, str(quarter), ledger_url)
    assert _one(recorded, rule="revocation")["effective"] == "2022-10-01"
    august = _facts(tmp_path, "2022-08", workers, **held)
    doc = json.loads(subsidy("evaluate", POLICY, august, "--ledger", ledger_url, "--no-trace").stdout)
    assert _one(doc, rule="certification")["basis"] == "held"  # revoked only from October
    assert _granted(doc, "3.3") == Decimal("1000.00")


@pytest.mark.parametrize("edit, code", [
    (("- {from: 2022-06-27, value: 200, source:", "- {from: 2022-06-27, value: 2022-01-01, source:"),
     "policy.parameter_value"),
    (("      base_award: workshop.history.award_paid\n", "      base_award: workshop.history.award_paid / 3\n"), None),
])
def test_a_parameter_or_paid_before_that_is_not_an_amount_is_an_error_not_a_traceback(edit, code, write):
    path = _edited(write, edit)
    if code:
        result = subsidy("validate", path)
        assert result.exit_code == 1 and f"error[{code}]" in result.output, result.output
        return
    facts = str(ROOT / "examples" / "county" / "2026-11.yaml")
    result = subsidy("evaluate", path, facts, "--format", "text")
    assert result.exit_code == 1 and "error[eval.type]" in result.output
    assert "exclusivity group base_award_or_hiring_subsidy" in result.output


def test_a_date_moved_out_of_the_calendar_is_an_evaluation_error(write):
    path = _edited(write, ("expr: add_months(add_years(worker.birth_date, worker.retirement_base_age), "
                           "worker.retirement_delay_months)",
                           "expr: add_days(worker.birth_date, 100000000)"))
    result = subsidy("evaluate", path, str(ROOT / "examples" / "facts_2022.yaml"), "--format", "text")
    assert result.exit_code == 1 and "error[eval.date_range]" in result.output, result.output[-800:]


@pytest.mark.parametrize("label", ["吸纳目标劳动力{Certification_min_target_workers}人", "吸纳{x:.2f}人"])
def test_a_brace_that_is_not_a_placeholder_is_an_error(label, write):
    path = _edited(write, ("吸纳目标劳动力{certification_min_target_workers}人", label))
    result = subsidy("validate", path)
    assert result.exit_code == 1 and "is not a placeholder" in result.output, result.output


def test_the_same_facts_verify_whatever_path_they_are_given_by(tmp_path):
    example = ROOT / "examples" / "facts_2022.yaml"
    out = tmp_path / "d.json"
    assert subsidy("evaluate", POLICY, example, "-o", out).exit_code == 0
    copy = tmp_path / "copy.yaml"
    copy.write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    result = subsidy("verify", out, copy)
    assert result.exit_code == 0, result.output


def test_strict_records_nothing_while_a_decision_is_pending(tmp_path, ledger_url):
    facts = _facts(tmp_path, "2023-03", [_si_worker("P0", "2023-03")],
                   certification={"on": "2022-07-01", "route": "general"})
    result = subsidy("evaluate", POLICY, facts, "--ledger", ledger_url, "--record", "--strict", "-o", facts + ".json")
    assert result.exit_code == 1 and "未记账：有待定决定，本次运行按 --strict 判为失败" in result.output
    assert len(subsidy("ledger", "runs", ledger_url).stdout.strip().splitlines()) == 1  # the header: no run
    assert subsidy("evaluate", POLICY, facts, "--ledger", ledger_url, "--record", "-o", facts + ".json").exit_code == 0
    assert len(subsidy("ledger", "runs", ledger_url).stdout.strip().splitlines()) == 2  # without --strict it records


def test_a_status_held_by_a_route_the_policy_no_longer_has_is_a_located_error(tmp_path, ledger_url):
    five = [_worker(f"T{i}") for i in range(5)]
    _record(POLICY, _facts(tmp_path, "2022-07", five), ledger_url)  # certified by route general
    fork = tmp_path / "renamed.yaml"
    fork.write_text(f"""format: 1
extends: {POLICY}
policy: {{id: renamed_routes, title: test}}
override:
  vocabularies:
    routes:
      label: 认定途径
      fields: [workshop.certification.route]
      codes: {{standard: 认定, labour_intensive: 劳动密集型企业申请认定}}
  statuses:
    - id: workshop_title
      flag: certified
      subject: workshop
      label: 就业帮扶车间称号
      stated: {{granted: certification, ended: revocation}}
      routes:
        - {{route: standard, rule: certification}}
        - {{route: labour_intensive, rule: certification_labour_intensive, opens: [one_time_hiring_subsidy]}}
      ended_by: [revocation]
      after_end: stated
""", encoding="utf-8")
    result = subsidy("evaluate", str(fork), _facts(tmp_path, "2022-08", five), "--ledger", ledger_url)
    assert result.exit_code == 1
    assert "error[eval.status_route] workshop WS-1 holds 就业帮扶车间称号 by route 'general'" in result.output
