"""The payout ledger: memory across periods, so nothing is paid twice and every cap holds.

::

    ledger, created = init_ledger("sqlite:///ledger.db")  # once: a ledger is created on purpose
    ledger = open_ledger("sqlite:///ledger.db")          # or postgresql://…; ledger.missing if there is none
    run, held = evaluate_with_ledger(ledger, policy, facts)   # history filled from the ledger
    outcome = record_run(ledger, run, held)               # one transaction; the same run twice changes nothing
    carry_in(ledger, policy, facts_with_history)          # history paid before the ledger was kept, once
    found = ledger.verify()                               # found.breaks == [] when nothing was altered or removed

What the ledger remembers (which history field sums up which rule, which
payments are once per person, the targets) is the policy's ``ledger:`` section.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Dict, List, Tuple, Union

from ..runtime import trace as T
from ..runtime.decisions import Decision, Totals
from ..runtime.evaluate import Evaluation, evaluate
from ..policy.history import LedgerHistory, LedgerSettings, fill, fill_statuses
from ..problems import InvalidInput, Location, Problem
from .chain import Break
from .report import LedgerReport, build as build_report
from .database import normalise_url
from .held import flag_rules
from .model import PAID_BY, Head, Held, LedgerUnavailable, Payer, PreparedRun, RecordOutcome, Verification
from .store import Ledger

if TYPE_CHECKING:
    from ..facts.reading import Facts
    from ..policy.model import Policy

__all__ = ["Break", "Head", "Ledger", "LedgerReport", "LedgerUnavailable", "PreparedRun", "RecordOutcome",
           "Verification", "build_report", "carry_in", "evaluate_with_ledger", "init_ledger", "normalise_url",
           "open_ledger", "record_run", "settings_of"]


def open_ledger(url: str, create: bool = False) -> Ledger:
    """The ledger at ``url`` (a SQLAlchemy URL, or a plain path for a SQLite file), its schema brought up to date.
    InvalidInput (``ledger.missing``) if no ledger is there, unless ``create``: a mistyped URL must not start an
    empty ledger that would pay everything again."""
    ledger = Ledger(url)
    try:
        if create:
            ledger.init()
        else:
            ledger.require()
        return ledger.migrate()
    except BaseException:
        ledger.close()
        raise


def init_ledger(url: str) -> Tuple[Ledger, bool]:
    """Create the ledger at ``url`` (``subsidy ledger init``): the ledger, and False if one was there already (it is
    then only brought up to date)."""
    ledger = Ledger(url)
    try:
        return ledger, ledger.init()
    except BaseException:
        ledger.close()
        raise


def settings_of(policy: Policy) -> LedgerSettings:
    """The policy's ``ledger:`` section; InvalidInput if it has none."""
    if policy.ledger is None:
        raise InvalidInput([Problem("ledger.not_configured", f"policy {policy.id} has no `ledger:` section, so the "
                                    "ledger does not know which history to keep", "", _policy_location(policy),
                                    hint="add a `ledger:` section naming the history fields it fills (README: the payout ledger)")])
    return policy.ledger


def evaluate_with_ledger(ledger: Ledger, policy: Policy, facts: Facts, **options: Any) -> Tuple[Evaluation, Held]:
    """Evaluate with every history field the policy names filled from the ledger; InvalidInput if the facts state
    a history the ledger does not hold. Returns the evaluation and the history it was decided on.

    Once per person across workshops: a once-per-person subsidy that a workshop would be granted for a person
    already paid it — by another workshop's recorded run for this period (or any run for a later one), or by a
    workshop listed earlier in the same facts file — is not granted; its decision (outcome ``denied``, shown with or
    without ``--why-not``) says so and names the run and workshop that paid it."""
    settings = settings_of(policy)
    held = ledger.history(settings, facts)
    payers = ledger.paid_elsewhere(settings, facts)
    fields = _flag_fields(settings)
    elsewhere = {(ws["id"], w["id"]): {f: True for rule in fields for f in fields[rule]
                                       if (settings.person_key(ws["id"], w["id"]), rule) in payers}
                 for ws in facts.workshops for w in ws.get("workers") or ()}
    also = {k: v for k, v in elsewhere.items() if v}
    filled, problems = fill(facts, settings, held, also=also)  # a history stated as paid elsewhere agrees
    if problems:
        raise InvalidInput(problems)
    if also:  # decided first as if not paid elsewhere: which grants that changes is seen below
        filled, _ = fill(facts, settings, held)
    statuses = ledger.statuses(policy, facts)
    filled = fill_statuses(filled, policy, statuses)
    progress = options.pop("progress", None)  # the first pass moves the bar; a workshop decided again does not
    run = evaluate(policy, filled, tally=True, progress=progress, **options)
    if not fields:
        return run, held
    return _once_across_workshops(run, policy, facts, settings, held, statuses, payers, fields, options)


def record_run(ledger: Ledger, run: Evaluation, held: LedgerHistory, *, supersede: bool = False, reason: str = "",
               tool_version: str = "") -> RecordOutcome:
    """Record ``run`` (made by :func:`evaluate_with_ledger`) in one transaction."""
    settings = settings_of(run.policy)
    prepared = ledger.prepare(run, settings, held)
    return ledger.record(prepared, settings, supersede=supersede, reason=reason, tool_version=tool_version)


def carry_in(ledger: Ledger, policy: Policy, facts: Facts, *, reason: str = "", tool_version: str = ""
             ) -> RecordOutcome:
    """Record the history ``facts`` states (paid before the ledger was kept) as opening entries, once; refused for
    any person or workshop the ledger already holds history for."""
    settings = settings_of(policy)
    return ledger.record(ledger.prepare_carry_in(policy, settings, facts), settings, reason=reason,
                         tool_version=tool_version)


def _policy_location(policy: Policy) -> Location:
    return Location(policy.path)


# --- once per person, across workshops -----------------------------------------------------------------------------

def _flag_fields(settings: LedgerSettings) -> Dict[str, List[str]]:
    """Once-per-person rule -> the worker history fields that say whether it was paid."""
    rules = set(flag_rules(settings))
    out: Dict[str, List[str]] = {}
    for f in settings.fields_of("worker"):
        if f.measure == "paid" and f.rule in rules:
            out.setdefault(f.rule, []).append(f.field)
    return out


def _once_across_workshops(run: Evaluation, policy: Policy, facts: Facts, settings: LedgerSettings, held: Held,
                           statuses: Dict[Tuple[str, str], Dict[str, dict]], payers: Dict[Tuple[str, str], Payer],
                           fields: Dict[str, List[str]], options: Dict[str, Any]) -> Tuple[Evaluation, Held]:
    """Workshop by workshop in the order of the facts file: a once-per-person grant to a person the ledger holds as
    paid elsewhere (``payers``), or whom a workshop listed earlier was granted it in this run, is decided again with
    the history saying it was paid; the decision then says who paid it."""
    by_shop: Dict[str, List[Decision]] = {}
    for d in run.decisions:
        by_shop.setdefault(d.workshop, []).append(d)
    tallied: Dict[str, List[Tuple[str, str, str]]] = {}
    for t in run.tallies:
        tallied.setdefault(t[1], []).append(t)
    shops = list(run.facts.workshops)
    paid_in_run: Dict[Tuple[str, str], str] = {}
    marks: Dict[Tuple[str, str, str], Tuple[Union[Payer, str], Decision]] = {}  # the payer: an entry, or a workshop
    for i, ws in enumerate(facts.workshops):
        shop = ws["id"]
        mine: Dict[Tuple[str, str], Tuple[Union[Payer, str], Decision]] = {}
        while True:
            new: Dict[Tuple[str, str], Tuple[Union[Payer, str], Decision]] = {}
            for d in by_shop.get(shop, ()):
                if d.outcome != "granted" or not d.worker or d.rule not in fields or (d.worker, d.rule) in mine:
                    continue
                person = settings.person_key(shop, d.worker)
                payer: Union[Payer, str, None] = payers.get((person, d.rule)) or paid_in_run.get((person, d.rule))
                if payer is not None:
                    new[(d.worker, d.rule)] = (payer, d)
            if not new:
                break
            mine.update(new)
            one = dataclasses.replace(facts, workshops=(ws,), pointers=(facts.pointers[i],))
            also: Dict[Tuple[str, str], dict] = {}
            for worker, rule in mine:
                also.setdefault((shop, worker), {}).update({f: True for f in fields[rule]})
            again, _ = fill(one, settings, held, also=also)
            again = fill_statuses(again, policy, statuses)
            decided = evaluate(policy, again, tally=True, **options)
            by_shop[shop], tallied[shop], shops[i] = list(decided.decisions), list(decided.tallies), again.workshops[0]
        for d in by_shop.get(shop, ()):
            if d.outcome == "granted" and d.worker and d.rule in fields:
                paid_in_run.setdefault((settings.person_key(shop, d.worker), d.rule), shop)
        for (worker, rule), mark in mine.items():
            marks[(shop, worker, rule)] = mark
    if not marks:
        return run, held
    for (shop, worker, rule), (payer, first) in marks.items():
        reason, paid_by = _already_paid(policy, settings, facts, shop, worker, rule, payer)
        decisions = by_shop[shop]
        now = next((n for n, d in enumerate(decisions) if d.worker == worker and d.rule == rule and d.loan is None), None)
        if now is not None and decisions[now].outcome != "denied":
            continue  # the rule does not read the history: the recording refuses the second payment
        events = (tuple(decisions[now].events) if now is not None else
                  tuple(e for e in first.events if isinstance(e, T.RuleApplied)))
        denied = Decision(shop, worker, None, rule, first.clause, "denied", None, None,
                          events + (T.NotReached(reason, "paid_elsewhere"),),
                          reason=reason, order=first.order, details=(("paid_by", paid_by),))
        if now is None:
            decisions.append(denied)
        else:
            decisions[now] = denied
        decisions.sort(key=lambda d: d.order)
    ordered = tuple(d for ws in facts.workshops for d in by_shop.get(ws["id"], ()))
    tallies = tuple(t for ws in facts.workshops for t in tallied.get(ws["id"], ()))
    used = {key: dict(values) for key, values in held.items()}
    for (shop, worker, rule), (payer, _) in marks.items():
        if isinstance(payer, Payer):
            used.setdefault(("worker", settings.person_key(shop, worker)), {})[PAID_BY + rule] = payer.seq
    final = dataclasses.replace(run, facts=dataclasses.replace(run.facts, workshops=tuple(shops)), decisions=ordered,
                                totals=Totals.of(ordered), tallies=tallies)
    return final, used


def _already_paid(policy: Policy, settings: LedgerSettings, facts: Facts, shop: str, worker: str, rule_id: str,
                  payer: Union[Payer, str]) -> Tuple[str, Dict[str, Any]]:
    """The one-line reason, and the ``paid_by`` detail, of a once-per-person subsidy not granted because it was
    paid already."""
    rule = policy.rule(rule_id)
    person = ("the person is the worker's id, across workshops" if settings.person == "worker" else
              "the person is the worker in its workshop")
    if isinstance(payer, Payer):
        where = (f"already paid to worker {worker} by run {payer.run_seq} ({payer.run_id[:12]}…) of the ledger, for "
                 f"workshop {payer.workshop}, period {payer.period_start}..{payer.period_end} (entry {payer.seq})")
        detail: Dict[str, Any] = {"run": payer.run_seq, "run_id": payer.run_id, "workshop": payer.workshop,
                                  "entry": payer.seq, "period": {"start": payer.period_start, "end": payer.period_end}}
    else:
        where = (f"already granted to worker {worker} in this run, by workshop {payer} (listed before {shop} in "
                 f"{facts.path})")
        detail = {"run": None, "workshop": payer, "this_run": True}
    return (f"{rule.clause} {rule.label} not granted: {where}; it is paid once per person ({person})", detail)
