"""Property tests (Hypothesis): whatever a facts file, a policy or an expression holds, the tool answers with a
result or with coded, located problems, never with anything else.

CI runs a bounded number of examples (the `ci` profile, registered in conftest.py); `bench/fuzz.py` runs the
same properties for longer.
"""
import copy
import datetime as dt
import json
import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import subsidy_rules
from conftest import POLICY
from subsidy_rules.lang.compiler import EvalError
from subsidy_rules.facts.reading import records_for
from subsidy_rules.problems import InvalidInput

pytestmark = pytest.mark.fuzz

#: CI runs each property on a bounded number of examples; bench/fuzz.py sets a larger scale for a long run.
SCALE = float(os.environ.get("SUBSIDY_FUZZ_SCALE", "1"))


def _n(examples: int) -> int:
    return max(1, int(examples * SCALE))

BASE = {"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [
    {"id": "WS-1", "name": "n", "wage_area": 3, "entity_type": "cooperative", "base_recognized": True,
     "certification": {"on": "2022-03-01", "route": "general"},
     "workers": [{"id": f"W{i}", "categories": ["poverty_alleviated"], "sex": "female", "birth_date": "1975-04-02",
                  "hired_on": "2022-07-05", "contract_months": 12,
                  "training": {"pre_job": True, "real_name_registered": True, "completed_on": "2022-07-03"},
                  "months": [{"month": "2022-07", "income": 700, "shortfall_reason": "training",
                              "social_insurance": {"base": 6808, "employer_paid": "1021.20", "fully_paid": True}}]}
                 for i in range(5)],
     "loans": [{"id": "L1", "type": "startup_guarantee", "principal": 1000, "annual_rate": "0.04",
                "start": "2022-07-01"}]}]}

_POLICY = None


def _policy():
    global _POLICY
    if _POLICY is None:
        _POLICY = subsidy_rules.load_policy(POLICY)
    return _POLICY


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10 ** 40, max_value=10 ** 40)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10 ** 20, max_value=10 ** 20)
    | st.text(max_size=30) | st.sampled_from(["2022-07-01", "2022-13-01", "9999-01-01", "2022-07", "", "-1", "=1+1"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12)


def _paths(value, path=()):
    """Every place in a document: its path."""
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, path + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, path + (i,))


PATHS = [p for p in _paths(BASE) if p]


def _set(doc, path, value):
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _text(value) -> str:
    def default(v):
        if isinstance(v, Decimal):
            return float(v) if v == v.to_integral_value() else str(v)  # a JSON number or a decimal string
        raise TypeError(v)
    return json.dumps(value, ensure_ascii=False, default=default)


def _assert_answered(run):
    """``run()`` succeeds, or raises InvalidInput whose problems each have a code, a message and a location."""
    try:
        return run()
    except InvalidInput as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.code and "." in p.code and p.message, p
            assert p.location.file, p
        return None


@settings(max_examples=_n(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=3))
def test_any_facts_document_is_decided_or_refused_with_located_problems(changes, tmp_path):
    doc = copy.deepcopy(BASE)
    for path, value in changes:
        try:
            _set(doc, path, value)
        except (KeyError, IndexError, TypeError):  # an earlier change removed the place
            continue
    path = tmp_path / "facts.json"
    path.write_text(_text(doc), encoding="utf-8")
    policy = _policy()
    facts = _assert_answered(lambda: subsidy_rules.load_facts(str(path), policy))
    if facts is not None:
        run = _assert_answered(lambda: subsidy_rules.evaluate(policy, facts))
        if run is not None:
            subsidy_rules.to_json(run)  # every view of a run can be made
            subsidy_rules.to_text(run)


@settings(max_examples=_n(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz_.()[], +-*/<>=!\"'0123456789"))
                    | st.characters(), max_size=120))
def test_any_expression_compiles_or_gets_a_coded_problem_and_never_raises_more_than_an_eval_error(text):
    from subsidy_rules.lang.compiler import Compiler
    from subsidy_rules.source import read_file
    policy = _policy()
    doc = read_file(POLICY)
    from subsidy_rules import schemas
    from subsidy_rules.facts.model import record_kinds
    compiler = Compiler(doc, record_kinds(schemas.load("facts")), dict(policy.parameters), dict(policy.sets), {}, {})
    compiled = compiler.compile(text, "/rules/0/when/0/test", compiler.scope_for("worker"))
    if compiled is None:
        assert compiler.problems and all(p.code.startswith(("expr.", "input.")) for p in compiler.problems)
        return
    facts = subsidy_rules.load_facts(str(_facts_file()), policy)
    shop = records_for(facts.period_start, facts.period_end, facts.workshops[0], "/workshops/0", tracing=True)
    worker = shop.children["workers"][0]
    env = dict(worker.env)
    try:
        compiled.fn(env)
    except EvalError:
        pass


_FACTS = []


def _facts_file():
    if not _FACTS:
        import tempfile
        handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8")
        handle.write(json.dumps(BASE))
        handle.close()
        _FACTS.append(handle.name)
    return _FACTS[0]


_LINES = open(POLICY, encoding="utf-8").read().splitlines()
_EDITABLE = [i for i, line in enumerate(_LINES) if ("test:" in line or "value:" in line or "amount:" in line
                                                     or "label:" in line) and not line.strip().startswith("#")]


@settings(max_examples=_n(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(_EDITABLE), st.text(max_size=40)), min_size=1, max_size=3))
def test_any_edit_of_a_policy_line_validates_or_gets_located_problems(edits, tmp_path):
    lines = list(_LINES)
    for index, text in edits:
        head = lines[index].split(":", 1)[0]
        lines[index] = f"{head}: {text}"
    path = tmp_path / "policy.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    policy = _assert_answered(lambda: subsidy_rules.load_policy(str(path)))
    if policy is not None:
        facts = _assert_answered(lambda: subsidy_rules.load_facts(_facts_file(), policy))
        if facts is not None:
            _assert_answered(lambda: subsidy_rules.evaluate(policy, facts))


def test_the_fuzzed_base_document_is_itself_valid_and_decided():
    """Guard: the document the properties mutate is decided, so a mutation that changes nothing is a real run."""
    policy = _policy()
    run = subsidy_rules.evaluate(policy, subsidy_rules.load_facts(_facts_file(), policy))
    assert {(d.clause, d.outcome) for d in run.decisions} >= {
        ("3.1", "certified"), ("3.2", "granted"), ("3.3", "granted"), ("3.4", "granted"), ("3.6", "granted"),
        ("3.7", "granted"), ("3.8", "granted"), ("3.9", "discretionary")}
    assert dt.date.fromisoformat(BASE["period"]["start"]) >= policy.in_force
