"""The policy's own YAML cases, one pytest test each; and a check that they cover every computable clause."""
import pytest

from conftest import POLICY, ROOT
from engine.cases import load_cases, run_case

CASES_FILE = str(ROOT / "policies" / "shanxi_2022.tests.yaml")
CASES = load_cases(CASES_FILE)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(policy, case):
    result = run_case(policy, case)
    assert result.passed, "\n".join(result.failures)


def test_every_computable_clause_has_a_case(policy):
    computable = {c.id for c in policy.clauses.values() if c.kind == "rules"}
    exercised = {c.clause for c in CASES}
    assert computable - exercised == set()


def test_a_case_fails_when_the_policy_disagrees(policy, write, tmp_path):
    """The cases can fail: raise 1500 to 1800 and the hire-date case must report it."""
    import engine
    text = open(POLICY, encoding="utf-8").read().replace("value: 1500", "value: 1800")
    changed = engine.load_policy(write("changed.yaml", text))
    case = next(c for c in CASES if c.name.startswith("3.2 the hire date"))
    result = run_case(changed, case)
    assert not result.passed
    assert any('amount: 1500.00' in f and "1800.00" in f for f in result.failures), result.failures
