"""Policy authoring: forks by overlay, the linter's checks, and diff with payout impact."""
import json
import os

import pytest
from click.testing import CliRunner

import subsidy_rules
from subsidy_rules.cli import main
from conftest import EXAMPLE, POLICY, ROOT

FORK = str(ROOT / "policies" / "examples" / "neighbour_province.yaml")


def run(*args):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def _fork(tmp_path, body: str) -> str:
    path = tmp_path / "fork.yaml"
    parent = os.path.relpath(POLICY, tmp_path)
    path.write_text(f"format: 1\nextends: {parent}\npolicy: {{id: fork_test, title: Fork}}\n{body}", encoding="utf-8")
    return str(path)


def _problems(path):
    with pytest.raises(subsidy_rules.InvalidInput) as info:
        subsidy_rules.load_policy(path)
    return info.value.problems


def test_the_fork_knows_where_each_rule_and_parameter_came_from():
    result = run("explain", FORK, EXAMPLE, "--workshop", "WS-006", "--worker", "F-0001", "--raw")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"rule one_time_hiring_subsidy (一次性吸纳就业补助（就业满6个月后发放）) from {FORK}" in out
    doc = json.loads(run("evaluate", FORK, EXAMPLE, "--trace", "lines").stdout)
    ws6 = [d for d in doc["decisions"] if d["workshop"] == "WS-006" and d["clause"] == "3.5"][0]
    assert any(f"from {POLICY}" in line for line in ws6["trace"])  # the parent's certification rule
    assert any(f"[from {POLICY}]" in line for line in ws6["trace"])  # and the parent's parameters
    assert [f["path"] for f in doc["policy"]["files"]] == [os.path.normpath(POLICY), FORK]


def test_the_fork_changes_payouts_and_shanxi_is_unchanged():
    fork = json.loads(run("evaluate", FORK, EXAMPLE).stdout)
    shanxi = json.loads(run("evaluate", POLICY, EXAMPLE).stdout)
    assert not any(d["rule"] == "base_award" for d in fork["decisions"])
    assert shanxi["totals"]["granted"] == "147211.61"
    certified = {d["workshop"] for d in fork["decisions"] if d["outcome"] == "certified"}
    # WS-001 has 5 target workers, below the fork's 10; WS-004 states a certification of 2021, held whatever
    # its staff list shows now
    assert certified == {"WS-002", "WS-003", "WS-004", "WS-006"}


def test_override_of_a_missing_id_is_one_located_error(tmp_path):
    path = _fork(tmp_path, "override:\n  rules:\n    - id: no_such_rule\n      clause: \"3.2\"\n      subject: worker\n      decides: alert\n")
    [p] = _problems(path)
    assert p.code == "policy.override_unknown" and "no_such_rule" in p.message
    assert (p.location.file, p.location.line) == (path, 6) and "add:" in p.hint


def test_add_of_an_existing_id_and_retire_of_a_missing_one(tmp_path):
    path = _fork(tmp_path, "add:\n  parameters:\n    retirement_base_age: {label: x, values: [{value: 1, source: s}]}\nretire:\n  rules: [nope]\n")
    codes = sorted(p.code for p in _problems(path))
    assert codes == ["policy.add_exists", "policy.retire_unknown"]


def test_an_error_in_a_fork_expression_points_into_the_fork(tmp_path):
    path = _fork(tmp_path, "override:\n  computed:\n    worker:\n      subsidised:\n        expr: has_any(worker.categorys, sets.subsidised_categories)\n")
    [p] = _problems(path)
    assert p.code == "expr.unknown_name" and p.location.file == path and (p.location.line, p.location.col) == (8, 23)
    assert "categories" in p.hint


def test_retiring_a_rule_still_named_by_a_group_or_the_ledger_says_so(tmp_path):
    path = _fork(tmp_path, "retire:\n  rules: [base_award]\n  parameters: [base_award_tiers]\n")
    problems = _problems(path)
    assert {(p.code, p.pointer) for p in problems} == {
        ("policy.unknown_rule", "/exclusivity/0/members/0"), ("policy.unknown_rule", "/ledger/history/workshop/award_paid/rule")}
    assert all("base_award" in p.message for p in problems)


def test_an_extends_cycle_is_an_error(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("format: 1\nextends: b.yaml\npolicy: {id: a, title: A}\n", encoding="utf-8")
    b.write_text("format: 1\nextends: a.yaml\npolicy: {id: b, title: B}\n", encoding="utf-8")
    [p] = _problems(str(a))
    assert p.code == "policy.extends" and "cycle" in p.message


def _edited(write, old, new):
    text = open(POLICY, encoding="utf-8").read()
    assert old in text
    return write("policy.yaml", text.replace(old, new, 1))


def test_a_misspelt_code_in_an_expression_is_an_error(write):
    path = _edited(write, 'workshop.entity_type == "enterprise"', 'workshop.entity_type == "enterprize"')
    [p] = _problems(path)
    assert p.code == "expr.unknown_code" and "enterprise" in p.hint


def test_a_rule_that_can_never_fire_and_an_unused_parameter_are_warnings(write):
    path = _edited(write, "      - {test: workshop.base_recognized, label: 已认定为就业帮扶基地}",
                   "      - {test: workshop.base_recognized, label: 已认定为就业帮扶基地}\n      - not workshop.base_recognized")
    policy, warnings = subsidy_rules.check_policy(path)
    assert [w.code for w in warnings] == ["policy.never_fires"]
    assert "workshop.base_recognized must be both true and false" in warnings[0].message
    assert run("validate", path).exit_code == 0
    strict = run("validate", path, "--strict")
    assert strict.exit_code == 1 and "policy.never_fires" in strict.output


def test_an_unused_parameter_is_a_warning(write):
    path = _edited(write, "  revocation_halt_months:", "  spare_amount:\n    label: unused\n    values: [{value: 1, source: s}]\n  revocation_halt_months:")
    _, warnings = subsidy_rules.check_policy(path)
    assert [(w.code, w.pointer) for w in warnings] == [("policy.unused_parameter", "/parameters/spare_amount")]


def test_numeric_contradictions_are_found():
    from subsidy_rules.lang.expr import parse
    from subsidy_rules.policy.loader import never_fires
    assert never_fires([parse("worker.contract_months >= 12"), parse("worker.contract_months < 6")])
    assert never_fires([parse("a > 5 and a <= 5")])
    assert never_fires([parse('x == "a"'), parse('x == "b"')])
    assert not never_fires([parse("a >= 5"), parse("a <= 5")])
    assert not never_fires([parse("a > 5 or a < 3")])


def test_validate_json_lists_problems_as_data(write):
    path = _edited(write, 'param("training_subsidy_per_person"', 'param("training_subsidy_per_persn"')
    result = run("validate", path, "--format", "json")
    assert result.exit_code == 1
    [p] = json.loads(result.stdout)["problems"]
    assert p["code"] == "expr.unknown_parameter" and p["line"] > 0 and p["col"] > 0 and p["pointer"].startswith("/rules/")


def test_validate_shows_the_line_and_a_caret(write):
    path = _edited(write, "worker.contract_months >= param(\"si_min_contract_months\"", "worker.contract_month >= param(\"si_min_contract_months\"")
    out = run("validate", path).output
    lines = out.splitlines()
    i = next(n for n, line in enumerate(lines) if "expr.unknown_name" in line)
    source, caret = lines[i + 1], lines[i + 2]
    assert "worker.contract_month >=" in source
    assert source.index("worker.contract_month") == caret.index("^")


def test_diff_reports_the_change_and_its_budget_impact(write):
    changed = write("policy.yaml", open(POLICY, encoding="utf-8").read().replace("value: 1500", "value: 1800"))
    result = run("diff", POLICY, changed, "--facts", EXAMPLE)
    assert result.exit_code == 0, result.output
    assert "参数 one_time_hiring_subsidy 修改" in result.output  # in the new policy's language (report.lang zh-CN)
    assert "from 2022-06-27: 1500 → 1800" in result.output
    assert "  发放金额有变化的车间、劳动力和贷款：38\n" in result.output
    english = write("policy_en.yaml", open(changed, encoding="utf-8").read().replace("report.lang: zh-CN", "report.lang: en"))
    said = run("diff", POLICY, english, "--facts", EXAMPLE).output
    assert "parameter one_time_hiring_subsidy changed" in said and "from 2022-06-27: 1500 → 1800" in said
    assert "  workshops, workers and loans whose payout changes: 38\n" in said
    assert "    WS-001 worker W-0001: 6,573.26 → 6,873.26 (+300.00)\n" in said
    doc = json.loads(run("diff", POLICY, changed, "--facts", EXAMPLE, "--format", "json").stdout)
    assert doc["changes"] == [{"kind": "parameter", "id": "one_time_hiring_subsidy", "change": "changed",
                               "details": ["from 2022-06-27: 1500 → 1800"]}]
    impact = doc["impact"]
    assert impact["before"]["by_funding_source"]["employment_subsidy_fund"] == "112598.26"
    assert impact["after"]["by_funding_source"]["employment_subsidy_fund"] == "123998.26"  # 38 hires x 300 more
    assert impact["after"]["by_funding_source"]["county_finance"] == impact["before"]["by_funding_source"]["county_finance"]
    w1 = next(s for s in impact["subjects"] if s["worker"] == "W-0001")
    assert (w1["before"], w1["after"], w1["change"]) == ("6573.26", "6873.26", "300.00")
    assert len(impact["subjects"]) == 38  # W-0001, WS-003's 34 hires, WS-006's 2, WS-004's D-0001


def test_diff_of_the_fork_lists_its_changes():
    doc = json.loads(run("diff", POLICY, FORK, "--format", "json").stdout)
    seen = {(c["kind"], c["id"], c["change"]) for c in doc["changes"]}
    assert {("rule", "base_award", "removed"), ("parameter", "hiring_subsidy_after_months", "added"),
            ("parameter", "certification_min_target_workers", "changed"), ("rule", "one_time_hiring_subsidy", "changed"),
            ("exclusivity", "base_award_or_hiring_subsidy", "removed"), ("clause", "3.2", "changed")} <= seen
