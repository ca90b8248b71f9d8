"""Evaluate a policy on facts: workshop by workshop, through a backend, into decisions."""
from __future__ import annotations

import datetime as _dt
import decimal
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Tuple

from . import trace as T
from .backends import Backend, get as get_backend
from .backends.core import FiringLimitExceeded
from .decisions import Decision, GroupError, Totals, resolve_exclusivity
from ..facts.model import Record
from ..facts.reading import Facts, build_records
from ..lang.compiled import CompiledRule
from ..lang.exact import PRECISION  # the working precision (runtime.stream imports it from here)
from .firing import Result, RuleError, opening_events
from .recording import record
from ..policy.model import Policy
from .status import StatusError, decided_details
from ..problems import InvalidInput, Problem
from .targets import TargetError, count as count_targets



@dataclass(frozen=True)
class Evaluation:
    """The decisions of one run, in output order, and their totals."""

    policy: Policy
    facts: Facts
    decisions: Tuple[Decision, ...]
    totals: Totals
    backend: str
    why_not: bool = False
    trace: bool = True
    ran_at: str = ""  # when the run was made (UTC, ISO 8601)
    tallies: Tuple[Tuple[str, str, str], ...] = ()  # with tally=True: (target, workshop, subject) the targets count


def evaluate(policy: Policy, facts: Facts, *, backend: str = "core", why_not: bool = False,
             trace: bool = True, tally: bool = False, progress: Optional[Callable[[int], None]] = None) -> Evaluation:
    """Decide every workshop of ``facts``; raise InvalidInput listing every evaluation problem. With ``tally``,
    also count what the policy's targets count, as each workshop is decided; ``progress`` is called with 1 as each
    workshop is done (a progress bar's ``update``)."""
    decisions: List[Decision] = []
    problems: List[Problem] = []
    tallies: Optional[list] = [] if tally else None
    for outcome in iter_workshops(policy, facts, backend=backend, why_not=why_not, trace=trace, tallies=tallies):
        if isinstance(outcome, Problem):
            problems.append(outcome)
        else:
            decisions.extend(outcome)
        if progress is not None:  # each workshop yields one outcome: its decisions, or its problem
            progress(1)
    if problems:
        raise InvalidInput(problems)
    ran_at = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    return Evaluation(policy, facts, tuple(decisions), Totals.of(decisions), backend, why_not, trace, ran_at,
                      tuple(tallies or ()))


def iter_workshops(policy: Policy, facts: Facts, *, backend: str = "core", why_not: bool = False,
                   trace: bool = True, tallies: Optional[list] = None) -> Iterator:
    """For each workshop, its list of decisions, or a Problem for each thing that went wrong; given a list as
    ``tallies``, what the policy's targets count is appended to it."""
    runner = get_backend(backend)
    with decimal.localcontext() as ctx:
        ctx.prec = PRECISION
        ctx.traps[decimal.InvalidOperation] = True
        for index in range(len(facts.workshops)):
            try:
                yield decide_workshop(policy, facts, index, runner, why_not, trace or why_not, tallies)
            except RuleError as exc:
                yield _rule_problem(facts, exc)
            except TargetError as exc:
                yield _target_problem(facts, exc)
            except StatusError as exc:
                pointer = exc.subject.pointer
                yield Problem("eval.status_route", str(exc), pointer, facts.doc.locate(pointer),
                              hint="record the status again under this policy, or give the policy that route")
            except GroupError as exc:
                pointer = exc.shop.pointer
                yield Problem(exc.error.code, f"workshop {exc.shop.id}: exclusivity group {exc.group.id} cannot read "
                              f"what {exc.member} was paid before: {exc.error.message}", pointer,
                              facts.doc.locate(pointer), hint=f"in `{exc.expr.text}` at {exc.expr.location}")
            except FiringLimitExceeded as exc:
                pointer = facts.pointers[index]
                yield Problem("engine.firing_limit", str(exc), pointer, facts.doc.locate(pointer),
                              hint="raise settings.firing_limit in the policy only if the rules really need it")


def decide_workshop(policy: Policy, facts: Facts, index: int, runner: Backend, why_not: bool, trace: bool,
                    tallies: Optional[list] = None) -> List[Decision]:
    shop = build_records(facts, index, trace)
    decisions = decide_records(policy, shop, runner, why_not)
    if tallies is not None:
        tallies.extend(count_targets(policy, shop))
    return decisions


def decide_records(policy: Policy, shop: Record, runner: Backend, why_not: bool) -> List[Decision]:
    """The decisions about one workshop's record tree, exclusivity resolved, in output order."""
    shop.ctx.parameters = policy.parameters
    shop.ctx.every_trace = why_not
    run = runner.run(policy, shop)
    tracing = shop.ctx.tracing
    if tracing and shop.ctx.data_only and not why_not:
        decisions = [_recorded(policy, r) for r in run.results if r.fired or r.pending]
    else:
        decisions = [_decision(policy, r.traced() if tracing else r) for r in run.results if r.fired or r.pending]
    decisions = resolve_exclusivity(decisions, policy.exclusivity, shop, why_not)
    if why_not:
        decisions += [_denied(policy, r.traced()) for r in run.results if not r.fired and not r.pending]
        decisions += [_not_activated(policy, rule, subject) for rule, subject in run.not_activated]
    decisions.sort(key=lambda d: d.order)
    return decisions


def _ids(subject: Record) -> Tuple[str, Optional[str], Optional[str]]:
    shop = subject.workshop()
    return (shop.id, subject.id if subject.kind == "worker" else None, subject.id if subject.kind == "loan" else None)


def _decision(policy: Policy, result: Result, events: Optional[tuple] = None, data: tuple = ()) -> Decision:
    """The decision of ``result``: with its events, or with ``events`` following its trace's first entries ``data``
    (already written as data)."""
    rule = result.rule
    ws, worker, loan = _ids(result.subject)
    if result.pending:
        return Decision(ws, worker, loan, rule.id, rule.clause, "pending", None,
                        rule.fund if rule.decides == "granted" else None, result.events, reason=result.reason,
                        order=(result.subject.position, rule.index), details=(("waits_for", result.pending),))
    details = result.details or decided_details(policy, rule, result.subject)
    return Decision(ws, worker, loan, rule.id, rule.clause, rule.decides, result.amount,
                    rule.fund if rule.decides == "granted" else None, result.events if events is None else events,
                    order=(result.subject.position, rule.index), items=result.items, details=details, data=data)


def _recorded(policy: Policy, result: Result) -> Decision:
    """The decision of ``result`` with its trace recorded as data in one pass (:mod:`.recording`), or traced as
    events when the recording variant leaves the case to the traced evaluation."""
    rule = result.rule  # the outcome follows the entries as an event, as an exclusivity group may change it
    if result.data:
        return _decision(policy, result, (T.Outcome(rule.decides, result.amount, rule.fund),), result.data)
    if result.fired and result.recordable:
        recorded = record(result.rule, result.subject, policy)
        if recorded is not None:
            entries, fired, amount, items = recorded
            if (fired, amount, items) == (result.fired, result.amount, result.items):
                return _decision(policy, result, (T.Outcome(rule.decides, amount, rule.fund),), entries)
            # told apart from the untraced evaluation: the traced one says so (Result.traced)
    return _decision(policy, result.traced())


def _denied(policy: Policy, result: Result) -> Decision:
    rule = result.rule
    ws, worker, loan = _ids(result.subject)
    return Decision(ws, worker, loan, rule.id, rule.clause, "denied", None, None, result.events,
                    reason=result.reason, order=(result.subject.position, rule.index))


def _not_activated(policy: Policy, rule: CompiledRule, subject: Record) -> Decision:
    ws, worker, loan = _ids(subject)
    events = opening_events(rule, subject, policy)
    unmet = [e for e in events if isinstance(e, T.Required) and not e.holds]
    if unmet and all(e.route is not None for e in unmet):  # held, but by a route that does not open this rule
        shown = [f"{e.fact} by route {' or '.join(e.routes or ())} ({e.fact.split('.')[0]} {e.holder_id} holds it by "
                 f"route {e.route})" for e in unmet]
        reason = f"{rule.clause} {rule.label} not {rule.decides}: requires {', '.join(shown)}"
        code = "requires_route"
    else:
        shown = [f"{e.fact} ({e.fact.split('.')[0]} {e.holder_id})" for e in unmet]
        reason = f"{rule.clause} {rule.label} not {rule.decides}: requires {', '.join(shown)}, which no rule asserted"
        code = "requires"
    events.append(T.NotReached(reason, code, tuple(("fact", e.fact) for e in unmet)))
    return Decision(ws, worker, loan, rule.id, rule.clause, "denied", None, None, tuple(events), reason=reason,
                    order=(subject.position, rule.index))


def _target_problem(facts: Facts, exc: TargetError) -> Problem:
    subject, where = exc.subject, exc.target.where
    return Problem(exc.error.code, f"{subject.kind} {subject.id}: target {exc.target.id} cannot be counted: "
                   f"{exc.error.message}", subject.pointer, facts.doc.locate(subject.pointer),
                   hint=f"in `{where.text}` at {where.location}")


def _rule_problem(facts: Facts, exc: RuleError) -> Problem:
    rule, subject, where = exc.rule, exc.subject, exc.where
    ws, worker, loan = _ids(subject)
    record = f"workshop {ws}" + (f", worker {worker}" if worker else "") + (f", loan {loan}" if loan else "")
    message = f"{record}: rule {rule.id} ({rule.clause}) cannot be decided: {exc.error.message}"
    return Problem(exc.error.code, message, subject.pointer, facts.doc.locate(subject.pointer),
                   hint=f"in `{where.text}` at {where.location}")
