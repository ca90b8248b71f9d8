"""The payout ledger: memory across periods, so nothing is paid twice and every cap holds.

::

    ledger = open_ledger("sqlite:///ledger.db")          # or postgresql://…; created or migrated
    run, held = evaluate_with_ledger(ledger, policy, facts)   # history filled from the ledger
    outcome = record_run(ledger, run, held)               # one transaction; the same run twice changes nothing
    carry_in(ledger, policy, facts_with_history)          # history paid before the ledger was kept, once
    breaks = ledger.verify()                              # [] when no entry was altered or removed

What the ledger remembers (which history field sums up which rule, which
payments are once per person, the targets) is the policy's ``ledger:`` section.
"""
from __future__ import annotations

from typing import Tuple

from ..evaluate import Evaluation, evaluate
from ..history import fill, fill_statuses
from ..problems import InvalidInput, Location, Problem
from .chain import Break
from .report import LedgerReport, build as build_report
from .store import Ledger, LedgerUnavailable, PreparedRun, RecordOutcome, normalise_url

__all__ = ["Break", "Ledger", "LedgerReport", "LedgerUnavailable", "PreparedRun", "RecordOutcome", "build_report",
           "carry_in", "evaluate_with_ledger", "normalise_url", "open_ledger", "record_run", "settings_of"]


def open_ledger(url: str, create: bool = True) -> Ledger:
    """The ledger at ``url`` (a SQLAlchemy URL, or a plain path for a SQLite file), its schema brought up to date;
    with ``create`` false, LedgerUnavailable if a SQLite ledger's file is not there."""
    ledger = Ledger(url)
    if not create and not ledger.exists():
        raise LedgerUnavailable(f"no ledger at {ledger.display} (it is created by the first "
                                "`subsidy evaluate … --ledger URL --record` or `subsidy ledger carry-in`)")
    return ledger.migrate()


def settings_of(policy):
    """The policy's ``ledger:`` section; InvalidInput if it has none."""
    if policy.ledger is None:
        raise InvalidInput([Problem("ledger.not_configured", f"policy {policy.id} has no `ledger:` section, so the "
                                    "ledger does not know which history to keep", "", _policy_location(policy),
                                    hint="add a `ledger:` section naming the history fields it fills (README: the payout ledger)")])
    return policy.ledger


def evaluate_with_ledger(ledger: Ledger, policy, facts, **options) -> Tuple[Evaluation, dict]:
    """Evaluate with every history field the policy names filled from the ledger; InvalidInput if the facts state
    a history the ledger does not hold. Returns the evaluation and the history it was decided on."""
    settings = settings_of(policy)
    held = ledger.history(settings, facts)
    filled, problems = fill(facts, settings, held)
    if problems:
        raise InvalidInput(problems)
    filled = fill_statuses(filled, policy, ledger.statuses(policy, facts))
    return evaluate(policy, filled, tally=True, **options), held


def record_run(ledger: Ledger, run: Evaluation, held: dict, *, supersede: bool = False, reason: str = "",
               tool_version: str = "") -> RecordOutcome:
    """Record ``run`` (made by :func:`evaluate_with_ledger`) in one transaction."""
    settings = settings_of(run.policy)
    prepared = ledger.prepare(run, settings, held)
    return ledger.record(prepared, settings, supersede=supersede, reason=reason, tool_version=tool_version)


def carry_in(ledger: Ledger, policy, facts, *, reason: str = "", tool_version: str = "") -> RecordOutcome:
    """Record the history ``facts`` states (paid before the ledger was kept) as opening entries, once; refused for
    any person or workshop the ledger already holds history for."""
    settings = settings_of(policy)
    return ledger.record(ledger.prepare_carry_in(policy, settings, facts), settings, reason=reason,
                         tool_version=tool_version)


def _policy_location(policy):
    return Location(policy.path)
