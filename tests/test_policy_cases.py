"""The policies' own YAML cases (Shanxi's and the worked fork's), one pytest test each."""
import pytest

import subsidy_rules
from conftest import POLICY, ROOT
from subsidy_rules.tools.cases import load_cases, run_case

#: every policy that has a cases file beside it: X.yaml and X.tests.yaml
PAIRS = sorted((str(p.with_name(p.name.replace(".tests.yaml", ".yaml"))), str(p))
               for p in (ROOT / "policies").rglob("*.tests.yaml"))
POLICIES = {path: subsidy_rules.load_policy(path) for path, _ in PAIRS}
ALL_CASES = [(path, case) for path, cases_file in PAIRS for case in load_cases(cases_file)]
CASES = [case for path, case in ALL_CASES if path == POLICY]


def _id(item):
    path, case = item
    return f"{path.rsplit('/', 1)[-1]}::{case.name}"


@pytest.mark.parametrize("item", ALL_CASES, ids=[_id(i) for i in ALL_CASES])
def test_case(item):
    path, case = item
    result = run_case(POLICIES[path], case)
    assert result.passed, "\n".join(result.failures)


def test_the_fork_and_shanxi_both_have_cases():
    assert {p.rsplit("/", 1)[-1] for p, _ in PAIRS} == {"shanxi_2022.yaml", "neighbour_province.yaml"}


def test_every_computable_clause_has_a_case(policy):
    computable = {c.id for c in policy.clauses.values() if c.kind == "rules"}
    exercised = {c.clause for c in CASES}
    assert computable - exercised == set()
def test_a_case_fails_when_the_policy_disagrees(policy, write, tmp_path):
    """The cases can fail: raise 1500 to 1800 and the hire-date case must report it."""
    import subsidy_rules
    text = open(POLICY, encoding="utf-8").read().replace("value: 1500", "value: 1800")
    changed = subsidy_rules.load_policy(write("changed.yaml", text))
    case = next(c for c in CASES if c.name.startswith("3.2 the hire date"))
    result = run_case(changed, case)
    assert not result.passed
    assert any('amount: 1500.00' in f and "1800.00" in f for f in result.failures), result.failures
