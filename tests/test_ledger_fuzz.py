"""The ledger as a state machine (Hypothesis): any sequence of recordings, corrections by supersession and
recordings killed half-way never pays a once-per-person subsidy twice, never leaves a broken chain, and
never loses a recorded run.

One worker, P-1, is hired and trained in July in two workshops (A and B), so every month each workshop's
recording competes for P-1's one-time hiring and training subsidies. Runs go through the library, on
SQLite, as the CLI records them.
"""
import datetime as dt
import os
import tempfile

import pytest
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import create_engine, func, select

import subsidy_rules
from conftest import POLICY
from subsidy_rules.ledger import evaluate_with_ledger, init_ledger, record_run, recording
from subsidy_rules.ledger.tables import entries, runs
from subsidy_rules.problems import InvalidInput

pytestmark = pytest.mark.fuzz

SCALE = float(os.environ.get("SUBSIDY_FUZZ_SCALE", "1"))
MONTHS = ["2022-07", "2022-08", "2022-09"]
ONCE = ("one_time_hiring_subsidy", "pre_job_training_subsidy")
_POLICY = []


def _policy():
    if not _POLICY:
        _POLICY.append(subsidy_rules.load_policy(POLICY))
    return _POLICY[0]


def _facts(folder, shop, month, variant):
    y, m = map(int, month.split("-"))
    last = dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)
    staff = [{"id": f"{shop}-{n}", "categories": ["poverty_alleviated"], "sex": "male", "birth_date": "1990-01-01",
              "hired_on": "2022-01-10", "contract_months": 12 if variant else 3} for n in range(4)]
    person = {"id": "P-1", "categories": ["monitored"], "sex": "female", "birth_date": "1988-05-05",
              "hired_on": "2022-07-04", "contract_months": 12,
              "training": {"pre_job": True, "real_name_registered": True, "completed_on": "2022-07-02"}}
    data = {"period": {"start": f"{month}-01", "end": last.isoformat()},
            "workshops": [{"id": shop, "wage_area": 3, "entity_type": "cooperative", "workers": staff + [person]}]}
    path = os.path.join(folder, f"{shop}-{month}-{variant}.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(data, fh, allow_unicode=True, sort_keys=False)
    return path


class _Killed(Exception):
    pass


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="ledger-fuzz-")
        self.url = f"sqlite:///{self.folder}/ledger.db"
        self.ledger, _ = init_ledger(self.url)
        self.recorded_runs = 0

    def teardown(self):
        self.ledger.close()

    def _record(self, shop, month, variant, supersede, kill=False):
        policy = _policy()
        facts = subsidy_rules.load_facts(_facts(self.folder, shop, month, variant), policy)
        try:
            run, held = evaluate_with_ledger(self.ledger, policy, facts, trace=False)
        except InvalidInput:
            return
        if kill:  # the process dies inside the write transaction, after the entries went in
            original = recording._append

            def dying(*args, **kwargs):
                original(*args, **kwargs)
                raise _Killed()

            recording._append = dying
        try:
            done = record_run(self.ledger, run, held, supersede=supersede, reason="correction" if supersede else "")
            if not done.already:
                self.recorded_runs += 1
        except InvalidInput:
            pass  # refused (overlap, out of order, already paid…): a refusal writes nothing
        except _Killed:
            pass
        finally:
            if kill:
                recording._append = original

    @rule(shop=st.sampled_from(["A", "B"]), month=st.sampled_from(MONTHS), variant=st.booleans())
    def record(self, shop, month, variant):
        self._record(shop, month, variant, supersede=False)

    @rule(shop=st.sampled_from(["A", "B"]), month=st.sampled_from(MONTHS), variant=st.booleans())
    def supersede(self, shop, month, variant):
        self._record(shop, month, variant, supersede=True)

    @rule(shop=st.sampled_from(["A", "B"]), month=st.sampled_from(MONTHS), variant=st.booleans())
    def killed_while_recording(self, shop, month, variant):
        self._record(shop, month, variant, supersede=False, kill=True)

    @invariant()
    def nothing_is_paid_twice_and_the_chain_holds(self):
        db = create_engine(self.url)
        try:
            with db.connect() as conn:
                rev = entries.alias("rev")
                active = (select(entries.c.rule, func.count()).select_from(
                    entries.outerjoin(rev, rev.c.reverses == entries.c.seq))
                    .where(entries.c.person == "P-1", entries.c.outcome == "granted", entries.c.kind == "decision",
                           entries.c.rule.in_(ONCE), rev.c.seq.is_(None)).group_by(entries.c.rule))
                for rule_id, count in conn.execute(active):
                    assert count <= 1, f"{rule_id} paid {count} times to P-1"
                assert conn.execute(select(func.count()).select_from(runs)).scalar() == self.recorded_runs
        finally:
            db.dispose()
        found = self.ledger.verify()
        assert found.breaks == [], [b.message for b in found.breaks]


LedgerMachine.TestCase.settings = settings(max_examples=max(1, int(12 * SCALE)), stateful_step_count=8,
                                           deadline=None, suppress_health_check=list(HealthCheck))
test_the_ledger_never_pays_once_per_person_twice = LedgerMachine.TestCase


def test_the_machine_s_months_do_pay_the_person_so_the_property_is_not_vacuous():
    machine = LedgerMachine()
    try:
        machine.record("A", "2022-07", True)
        machine.record("B", "2022-07", True)  # the same person in another workshop: paid by A, denied here
        machine.killed_while_recording("A", "2022-08", True)
        machine.nothing_is_paid_twice_and_the_chain_holds()
        db = create_engine(machine.url)
        with db.connect() as conn:
            paid = conn.execute(select(entries.c.workshop, entries.c.rule).where(
                entries.c.person == "P-1", entries.c.outcome == "granted")).all()
        db.dispose()
        assert sorted(paid) == [("A", "one_time_hiring_subsidy"), ("A", "pre_job_training_subsidy")]
        assert machine.recorded_runs == 2  # the killed recording left nothing
    finally:
        machine.teardown()
