"""The engine against an independent reading of the spec, on random workshops built around every threshold."""
from collections import Counter

import pytest

import subsidy_rules
from random_facts import random_facts, to_json_text
from reference import decide

SEEDS = range(30)


def _engine_decisions(policy, facts, write, seed):
    loaded = subsidy_rules.load_facts(write(f"facts-{seed}.json", to_json_text(facts)), policy)
    run = subsidy_rules.evaluate(policy, loaded, trace=False)
    return Counter((d.workshop, d.worker, d.loan, d.clause, d.outcome, d.amount) for d in run.decisions)


@pytest.mark.parametrize("seed", SEEDS)
def test_engine_agrees_with_the_spec(policy, write, seed):
    facts = random_facts(seed, 6)
    got = _engine_decisions(policy, facts, write, seed)
    want = Counter(decide(facts))
    assert got - want == Counter() and want - got == Counter(), (
        f"engine only: {sorted(got - want, key=str)[:6]}\nspec only: {sorted(want - got, key=str)[:6]}")


def test_the_random_workshops_reach_every_outcome():
    """Guard against a vacuous comparison: the generated data must exercise every clause and both sides of 3.5."""
    seen = Counter()
    for seed in SEEDS:
        for d in decide(random_facts(seed, 6)):
            seen[(d[3], d[4])] += 1
    for key in [("3.1", "certified"), ("3.5", "certified"), ("4.4", "revoked"), ("3.2", "granted"),
                ("3.2", "suppressed"), ("3.5", "granted"), ("3.5", "suppressed"), ("3.3", "granted"),
                ("3.4", "granted"), ("3.6", "granted"), ("3.6", "discretionary"), ("3.7", "granted"),
                ("3.8", "granted"), ("3.8", "pending"), ("3.9", "discretionary"), ("4.3", "alert")]:
        assert seen[key] > 0, key
