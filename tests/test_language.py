"""The policy language: located syntax errors, unknown names with suggestions, types, cycles, the firing limit."""
import pytest
from click.testing import CliRunner

import subsidy_rules
from subsidy_rules.cli import main
from conftest import POLICY
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_rules.lang.expr import ExpressionSyntaxError, parse, walk
from subsidy_rules.lang.printing import substitute, unparse


def _policy(write, old, new):
    text = open(POLICY, encoding="utf-8").read()
    assert old in text, old
    return write("policy.yaml", text.replace(old, new, 1))


def _problems(path):
    with pytest.raises(subsidy_rules.InvalidInput) as info:
        subsidy_rules.load_policy(path)
    return info.value.problems


def _line_col(path, needle):
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if needle in line:
            return n, line.index(needle) + 1
    raise AssertionError(needle)


@pytest.mark.parametrize("text,offset", [("a >= ", 5), ("a ! b", 2), ("count(w in xs where)", 19), ("a + (b", 6)])
def test_syntax_errors_say_where(text, offset):
    with pytest.raises(ExpressionSyntaxError) as info:
        parse(text)
    assert info.value.pos == offset


def test_unparse_keeps_meaning():
    for text in ["not a or b and c", "(a + b) * c", "a - (b - c)", "x not in [1, 2]", "min(a, 3) * r / 12",
                 "count(w in s.workers where w.t and w.role == \"p\")"]:
        assert unparse(parse(unparse(parse(text)))) == unparse(parse(text))


def _policy_formulas():
    policy = subsidy_rules.load_policy(POLICY)
    texts = [c.text for r in policy.rules for c in r.when]
    texts += [r.amount.text for r in policy.rules if r.amount is not None]
    texts += [let.text for r in policy.rules for _n, let in r.lets]
    assert len(texts) > 30, "the province's policy has its conditions and formulas"
    return sorted(set(texts)) + ["-(a - b) * -c", "a - (b - c) / (d * e)", "not (a and b) or not c", "f([1, x], count(w in s where w.t))"]


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=4),
                    st.decimals(allow_nan=False, allow_infinity=False, places=3))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_formula_printed_from_its_template_reads_as_printed_directly(data):
    """The trace prints a formula with the values it saw from a template made once per formula and set of nodes
    seen; what it prints is what printing the tree directly gives, for any nodes seen with any values, twice."""
    text = data.draw(st.sampled_from(_FORMULAS))
    tree = parse(text)
    nodes = list(walk(tree))
    seen = data.draw(st.lists(st.sampled_from(nodes), unique_by=id, max_size=len(nodes)))
    values = {id(node): data.draw(_VALUES) for node in seen}
    assert substitute(tree, values) == unparse(tree, values)
    assert substitute(tree, values) == unparse(tree, values)  # the second time from the template it kept


_FORMULAS = _policy_formulas()


def test_a_syntax_error_in_the_policy_points_at_the_spot(write):
    path = _policy(write, "worker.contract_months >= param(\"stabilisation_min_contract_months\"",
                   "worker.contract_months >== param(\"stabilisation_min_contract_months\"")
    [p] = _problems(path)
    line, col = _line_col(path, ">==")
    assert p.code == "expr.syntax"
    assert (p.location.line, p.location.col) == (line, col + 2)


def test_an_unknown_name_is_located_and_gets_a_suggestion(write):
    path = _policy(write, "test: worker.contract_months >= param(\"si_min_contract_months\"",
                   "test: worker.contract_month >= param(\"si_min_contract_months\"")
    [p] = _problems(path)
    line, col = _line_col(path, "worker.contract_month >=")
    assert p.code == "expr.unknown_name"
    assert (p.location.line, p.location.col) == (line, col)
    assert "contract_months" in p.hint


def test_an_unknown_parameter_gets_a_suggestion(write):
    [p] = _problems(_policy(write, 'param("training_subsidy_per_person"', 'param("training_subsidy_per_persons"'))
    assert p.code == "expr.unknown_parameter" and "training_subsidy_per_person" in p.hint


def test_a_type_mismatch_is_an_error(write):
    [p] = _problems(_policy(write, "test: worker.training.pre_job,", "test: worker.training.pre_job + 1,"))
    assert p.code == "expr.type"


def test_a_cycle_among_computed_values_is_an_error(write):
    path = _policy(write, "expr: has_any(worker.categories, sets.target_categories)",
                   "expr: worker.subsidised and has_any(worker.categories, sets.target_categories)")
    path = open(path, encoding="utf-8").read().replace(
        "expr: has_any(worker.categories, sets.subsidised_categories)",
        "expr: worker.target and has_any(worker.categories, sets.subsidised_categories)")
    [p] = [q for q in _problems(write("cyc.yaml", path)) if q.code == "policy.cycle"][:1]
    assert "worker.target" in p.message and "worker.subsidised" in p.message


def test_a_cycle_among_rules_is_an_error(write):
    path = _policy(write, "      - test: not (workshop.entity_type", "      - test: not workshop.revoked\n      - test: not (workshop.entity_type")
    text = open(path, encoding="utf-8").read().replace(
        "    decides: revoked\n", "    decides: revoked\n    asserts: revoked\n    requires: [workshop.certified]\n", 1)
    problems = _problems(write("cyc.yaml", text))
    assert [p.code for p in problems] == ["policy.cycle"]
    assert "revocation" in problems[0].message and "certification" in problems[0].message


def test_the_firing_limit_stops_a_runaway_policy(write):
    from conftest import EXAMPLE
    path = _policy(write, "firing_limit: 100000", "firing_limit: 3")
    result = CliRunner().invoke(main, ["evaluate", path, EXAMPLE])
    assert result.exit_code == 1
    assert "engine.firing_limit" in result.output and "more than 3 rule firings" in result.output


def test_a_rule_citing_a_missing_clause_or_fund(write):
    path = _policy(write, "    fund: skills_training_account", "    fund: skills_training_acount")
    [p] = _problems(path)
    assert p.code == "policy.unknown_fund" and "skills_training_account" in p.hint


def test_parameter_values_out_of_order(write):
    path = _policy(write, "      - from: 2023-01-01\n        value: {\"1\": 1980", "      - from: 2021-01-01\n        value: {\"1\": 1980")
    [p] = _problems(path)
    assert p.code == "policy.parameter_dates"


def test_a_comma_in_a_flow_mapping_gets_a_hint(write):
    path = _policy(write, "      - test: workshop.headcount >= param(\"labour_intensive_min_headcount\", period.end)\n"
                          "        label: 用工在{labour_intensive_min_headcount}人以上",
                   "      - {test: workshop.headcount >= param(\"labour_intensive_min_headcount\", period.end), label: 用工在1000人以上}")
    [p] = _problems(path)
    assert "flow mapping" in p.hint


def test_every_exception_the_library_raises_says_whose_fault_it_is():
    """One base, SubsidyError, with a fault: input (a file a person can correct), ledger or engine."""
    import importlib
    import inspect
    import pkgutil

    import subsidy_rules as package
    from subsidy_rules.problems import SubsidyError
    found = {}
    for info in pkgutil.walk_packages(package.__path__, "subsidy_rules."):
        if info.name.endswith("migrations") or ".migrations." in info.name or info.name.endswith(".durable"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name:
                found[f"{info.name}.{name}"] = obj
    assert len(found) >= 12, sorted(found)
    strays = [name for name, cls in found.items() if not issubclass(cls, SubsidyError)]
    assert strays == [], strays
    assert {cls.fault for cls in found.values()} >= {"input", "ledger"}
