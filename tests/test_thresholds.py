"""Boundaries that need many workers, built in code: 59% and 60% on a public site; 999/1000 staff and 29.9%/30% for 3.5."""
import json

import pytest

import subsidy_rules
def _facts(write, workshop):
    doc = {"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [workshop]}
    return write("facts.json", json.dumps(doc))


def _workers(n, categories, prefix="W"):
    return [{"id": f"{prefix}{i}", "categories": categories, "sex": "male", "birth_date": "1980-01-01",
             "hired_on": "2021-01-01"} for i in range(n)]


def _outcomes(policy, path):
    run = subsidy_rules.evaluate(policy, subsidy_rules.load_facts(path, policy), trace=False)
    return {(d.clause, d.outcome) for d in run.decisions if d.worker is None and d.loan is None}


@pytest.mark.parametrize("target,certified", [(59, False), (60, True)])
def test_public_site_share_59_and_60_percent(policy, write, target, certified):
    ws = {"id": "WS-1", "wage_area": 3, "entity_type": "cooperative", "headcount": 100,
          "site": {"integrated_agri_funds": True}, "workers": _workers(target, ["relocated"])}
    assert (("3.1", "certified") in _outcomes(policy, _facts(write, ws))) is certified


@pytest.mark.parametrize("headcount,subsidised,certified", [
    (999, 300, False), (1000, 300, True), (1000, 299, False), (1001, 300, False), (1001, 301, True)])
def test_labour_intensive_route(policy, write, headcount, subsidised, certified):
    ws = {"id": "WS-1", "wage_area": 1, "entity_type": "enterprise", "enterprise_size": "large",
          "labour_intensive": True, "headcount": headcount,
          "workers": _workers(subsidised, ["monitored"]) + _workers(5, [], prefix="X")}
    assert (("3.5", "certified") in _outcomes(policy, _facts(write, ws))) is certified
