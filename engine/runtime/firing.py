"""Apply one compiled rule to one subject: what it yields and, for a decision, why.

Shared by every backend: a backend decides *which* rule runs for *which*
subject and when (its agenda); this module decides what that rule yields.
A rule is first decided with no trace kept (:func:`apply`); a result that
becomes a decision is evaluated again with a recording tracer
(:meth:`Result.traced`, :func:`traced`), which builds its trace events.
Evaluation is deterministic, so both agree (and are checked to). When a run
wants its traces as data only (the decisions document), a fired result's
trace is instead recorded in one pass, straight as data (:mod:`.recording`).
"""
from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from . import trace as T
from ..lang.compiled import CompiledCondition, CompiledExpr, CompiledRule, EvalError, truth as _truth
from ..lang.exact import round_to
from ..lang.codegen import FAILED, FALLBACK, FIRED, NONE_COUNTED
from ..lang.tracing import NULL, Capture, Recorder, Substituted
from ..facts.model import Record
from ..policy.model import Policy
from ..problems import EngineFault, InputFault


class Result:
    """What one activation yielded: a decision (``fired``), or why not. Immutable by convention (a slotted record:
    one is made for every rule tried on every subject, and a frozen dataclass costs several times as much to build).

    ``events`` is the trace; a result decided with no trace kept has none, and ``trace``, when set, builds them
    (evaluating the rule again with a recording tracer) once the result is known to become a decision.
    """

    __slots__ = ("rule", "subject", "fired", "amount", "events", "reason", "items", "details", "pending", "trace",
                 "recordable", "data")

    def __init__(self, rule: CompiledRule, subject: Record, fired: bool, amount: Optional[Decimal], events: Tuple,
                 reason: Optional[str], items: Tuple[str, ...] = (), details: Tuple[Tuple[str, object], ...] = (),
                 pending: Tuple[Tuple[str, object, Optional[str]], ...] = (),
                 trace: Optional[Callable[[], "Result"]] = None, recordable: bool = False,
                 data: Tuple[Dict[str, Any], ...] = ()) -> None:
        self.rule = rule
        self.subject = subject
        self.fired = fired
        self.amount = amount
        self.events = events  # the trace
        self.reason = reason  # why it did not fire, in one line
        self.items = items  # for a per-item rule: the ids of the items (months) it counted
        self.details = details  # what the decision states besides its amount (route, dates…)
        self.pending = pending  # (parameter, date, key) it waits for
        self.trace = trace
        self.recordable = recordable  # its trace as data may be recorded in one pass (runtime.recording)
        self.data = data  # ... or was: the entries before its outcome

    def __repr__(self) -> str:
        return (f"Result({self.rule.id!r}, {self.subject.kind} {self.subject.id!r}, fired={self.fired}, "
                f"amount={self.amount!r}, reason={self.reason!r})")

    @property
    def is_pending(self) -> bool:
        return bool(self.pending)

    def traced(self) -> "Result":
        """This result with its trace: itself if it has one (or none can be built), else the same result built again
        with a recording tracer."""
        if self.events or self.trace is None:
            return self
        again = self.trace()
        if (again.fired, again.amount, again.items, again.pending) != (self.fired, self.amount, self.items,
                                                                       self.pending):
            raise EngineFault(f"rule {self.rule.id} for {self.subject.kind} {self.subject.id} decided "
                              f"{self.fired, self.amount, self.items} without its trace but "
                              f"{again.fired, again.amount, again.items} with it")
        return again


class _Pending(InputFault):
    """A parameter has no value on the date an expression needed it: the decision waits for it."""

    def __init__(self, missing: Tuple[str, Any, Optional[str]]) -> None:
        super().__init__(str(missing))
        self.missing = missing


class RuleError(InputFault):
    """An expression failed on these facts; carries the rule, subject and expression."""

    def __init__(self, error: EvalError, rule: CompiledRule, subject: Record, where: CompiledExpr):
        super().__init__(error.message)
        self.error, self.rule, self.subject, self.where = error, rule, subject, where


# --- deciding, with no trace kept (the generated functions; the reference closures for verdicts they cannot give) --

def _value(compiled: CompiledExpr, env: dict, rule: CompiledRule, subject: Record) -> Any:
    try:
        return compiled.traced(env, NULL)
    except EvalError as exc:
        if exc.missing is not None:
            raise _Pending(exc.missing) from None
        raise RuleError(exc, rule, subject, compiled) from None


def _holds(cond: CompiledCondition, env: dict, rule: CompiledRule, subject: Record) -> bool:
    value = _value(cond.expr, env, rule, subject)
    try:
        return _truth(value, cond.expr.ast)
    except EvalError as exc:
        raise RuleError(exc, rule, subject, cond.expr) from None


def apply(rule: CompiledRule, subject: Record, policy: Policy) -> Result:
    """Evaluate ``rule`` for ``subject`` (its requirements already hold) with its generated function, keeping no
    trace; the result's ``trace`` builds it when asked. A parameter with no value on a date the rule needs makes the
    result pending (naming every such parameter and date), never an error; an expression that fails raises
    :class:`RuleError`. Both are decided by the traced (reference) evaluation, which says exactly where and why."""
    code = rule.code
    if code is None or subject.ctx.every_trace:  # no generated function, or every result becomes a decision
        return traced(rule, subject, policy)
    try:
        status, amount, items, failed = code.run(subject)
    except FALLBACK:
        return traced(rule, subject, policy)
    return decided(rule, subject, policy, status, amount, items, failed)


def decided(rule: CompiledRule, subject: Record, policy: Policy, status: int, amount: Optional[Decimal] = None,
            items: Tuple[str, ...] = (), failed: Optional[int] = None) -> Result:
    """The result of what ``rule``'s generated function found for ``subject`` (:func:`apply`): its ``status``, the
    amount and the items counted, or the index of the ``when`` condition that ``failed``."""
    if status == FIRED:
        reason = None
    elif status == FAILED:
        assert failed is not None  # a failed status names its condition
        reason = f"{rule.when[failed].text} is false"
    elif status == NONE_COUNTED:
        # only a rule with an `each` counts items
        reason = f"{rule.clause} {rule.label}: no item of {rule.each.source.text} qualified"  # type: ignore[union-attr]
    else:
        reason = f"{rule.clause} {rule.label}: the amount comes to {amount}, so nothing is granted"
    tracing = subject.ctx.tracing
    return Result(rule, subject, status == FIRED, amount, (), reason, items,
                  trace=partial(traced, rule, subject, policy) if tracing else None, recordable=tracing)


def verdicts(rule: CompiledRule, subject: Record) -> List[bool]:
    """The ``when`` conditions of ``rule`` for ``subject``, in order, up to and including the first that fails."""
    if rule.code is not None:
        try:
            held = rule.code.when(subject)
        except FALLBACK:
            pass  # the reference evaluation below says which condition cannot be worked out, and why
        else:
            return [True] * held + ([False] if held < len(rule.when) else [])
    env = dict(subject.env)
    out: List[bool] = []
    for cond in rule.when:
        try:
            holds = _holds(cond, env, rule, subject)
        except _Pending:
            holds = False  # cannot be known yet: the rule is pending, not holding
        out.append(holds)
        if not holds:
            break
    return out


# --- deciding with the trace -------------------------------------------------------------------------------------

def opening_events(rule: CompiledRule, subject: Record, policy: Policy) -> List:
    """The clause and rule being applied, and each derived fact it requires with who asserted it."""
    clause = policy.clauses[rule.clause]
    label = subject.ctx.label(rule.label)  # a rule's label is text, and so is its filled form
    events: List = [T.RuleApplied(rule.id, label, rule.clause, clause.heading, clause.text,  # type: ignore[arg-type]
                                  rule.subject, subject.id, rule.origin)]
    events.extend(T.Required(*fields) for fields in requirements(rule, subject))
    return events


def requirements(rule: CompiledRule, subject: Record) -> Iterator[Tuple[str, str, bool, tuple, Optional[tuple],
                                                                          Optional[str]]]:
    """Each derived fact ``rule`` requires, as :class:`~.trace.Required`'s fields: the fact, who holds it, whether
    it holds, the rules that asserted it, the routes that open the rule and the route it holds by."""
    for req in rule.requires:
        holder = subject if subject.kind == req.holder else subject.workshop()
        yield (req.text, holder.id, req.met(holder), holder.asserted_by.get(req.flag, ()),
               tuple(sorted(req.routes)) if req.routes is not None else None, holder.routes.get(req.flag))


class _Traced:
    """One traced evaluation of a rule for a subject: each expression evaluated with a recording tracer, each
    event built from what it read."""

    __slots__ = ("rule", "subject", "tracer", "generated")

    def __init__(self, rule: CompiledRule, subject: Record, generated: bool):
        self.rule, self.subject, self.tracer = rule, subject, Recorder()
        self.generated = rule.code.traced if generated and rule.code is not None else None

    def evaluate(self, compiled: CompiledExpr, env: dict) -> Tuple[Any, Capture]:
        """(value, what it read): by the generated traced variant when there is one (any case it does not decide
        raises what :func:`traced` takes as the sign to evaluate the whole rule again by the reference closures), else
        by the reference closures."""
        generated = self.generated
        if generated:
            tracer = self.tracer
            return generated[id(compiled.ast)](env, tracer), tracer.take()
        try:
            value = compiled.traced(env, self.tracer)
        except EvalError as exc:
            if exc.missing is not None:
                raise _Pending(exc.missing) from None
            raise RuleError(exc, self.rule, self.subject, compiled) from None
        finally:
            captured = self.tracer.take()
        return value, captured

    def condition(self, cond: CompiledCondition, env: dict) -> T.Condition:
        value, captured = self.evaluate(cond.expr, env)
        try:
            holds = _truth(value, cond.expr.ast)
        except EvalError as exc:
            raise RuleError(exc, self.rule, self.subject, cond.expr) from None
        return T.Condition(cond.text, self.subject.ctx.label(cond.label), holds, Substituted(cond.expr.ast, captured),
                           captured, cond.reading)

    def amount(self, env: dict, policy: Policy) -> T.Arithmetic:
        rule = self.rule
        assert rule.amount is not None  # asked only of a rule with an amount
        exact, captured = self.evaluate(rule.amount, env)
        rounded = round_to(exact, policy.quantum, policy.rounding)
        lets: Tuple[T.Let, ...] = ()
        if rule.lets:
            values = captured.values()
            lets = tuple(T.Let(name, let.text, Substituted(let.ast, captured, let.ast), values[id(let.ast)])
                         for name, let in rule.lets if id(let.ast) in values)
        return T.Arithmetic(rule.amount.text, Substituted(rule.amount.ast, captured), exact, rounded, lets, captured)


def traced(rule: CompiledRule, subject: Record, policy: Policy) -> Result:
    """``rule`` evaluated for ``subject`` with every event of its trace (the reference evaluation: it is what runs
    when a result becomes a decision, and whenever an expression fails or waits for a parameter)."""
    try:
        try:
            return _traced(rule, subject, policy, True)
        except (EvalError, *FALLBACK):  # the generated variant met a value it does not decide (facts or policy)
            return _traced(rule, subject, policy, False)
    except _Pending as exc:
        return _pending_result(rule, subject, policy, (exc.missing,), ())


def _pending_result(rule: CompiledRule, subject: Record, policy: Policy, missing: Any, events: Any) -> Result:
    missing = tuple(dict.fromkeys(missing))
    events = tuple(events) if events else tuple(opening_events(rule, subject, policy))
    events += (T.Pending(missing),)
    names = ", ".join(f"{name} on {day.isoformat()}" for name, day, _ in missing)
    reason = f"{rule.clause} {rule.label}: pending until the policy has a value for {names}"
    return Result(rule, subject, False, None, events, reason, pending=missing)


def _traced(rule: CompiledRule, subject: Record, policy: Policy, generated: bool) -> Result:
    run = _Traced(rule, subject, generated)
    events: List = opening_events(rule, subject, policy)
    env = dict(subject.env)
    for cond in rule.when:
        event = run.condition(cond, env)
        events.append(event)
        if not event.holds:
            return Result(rule, subject, False, None, tuple(events), _why(rule, event))

    amount: Optional[Decimal] = None
    counted_items: Tuple[str, ...] = ()
    if rule.each is not None:
        each = rule.each
        limit = None
        if each.limit is not None:
            value, captured = run.evaluate(each.limit, env)
            limit = None if value is None else max(0, int(value))
            events.append(T.Limit(each.limit.text, Substituted(each.limit.ast, captured), limit, captured))
        items, _ = run.evaluate(each.source, env)
        parts: List[Decimal] = []
        counted_ids: List[str] = []
        missing: List = []
        for item in items or ():
            ienv = dict(env)
            ienv[each.var] = item
            failed = None
            held = []
            for cond in each.where:
                event = run.condition(cond, ienv)
                if not event.holds:
                    failed = event
                    break
                held.append(event)
            if failed is not None:
                events.append(T.Item(item.id, False, failed, False, None))
                continue
            if limit is not None and len(counted_ids) >= limit:
                events.append(T.Item(item.id, False, None, True, None, tuple(held)))
                continue
            counted_ids.append(item.id)
            arithmetic = None
            if rule.amount is not None:
                try:
                    arithmetic = run.amount(ienv, policy)
                except _Pending as exc:  # this item waits; the others are still worked out for the trace
                    missing.append(exc.missing)
                    events.append(T.Item(item.id, True, None, False, None, tuple(held)))
                    continue
                parts.append(arithmetic.rounded)
            events.append(T.Item(item.id, True, None, False, arithmetic, tuple(held)))
        if missing:
            return _pending_result(rule, subject, policy, missing, events)
        if rule.amount is not None:
            amount = sum(parts, Decimal(0)).quantize(policy.quantum)
            events.append(T.Total(tuple(parts), amount))
        if not counted_ids:
            reason = f"{rule.clause} {rule.label}: no item of {each.source.text} qualified"
            events.append(T.NotReached(reason, "no_item"))
            return Result(rule, subject, False, None, tuple(events), reason)
        counted_items = tuple(counted_ids)
    elif rule.amount is not None:
        arithmetic = run.amount(env, policy)
        amount = arithmetic.rounded
        events.append(arithmetic)
    if rule.amount is not None and amount <= 0:  # type: ignore[operator]  # set above when the rule has an amount
        reason = f"{rule.clause} {rule.label}: the amount comes to {amount}, so nothing is granted"
        events.append(T.NotReached(reason, "nothing", (("amount", amount),)))
        return Result(rule, subject, False, amount, tuple(events), reason)
    events.append(T.Outcome(rule.decides, amount, rule.fund))
    return Result(rule, subject, True, amount, tuple(events), None, counted_items)


def _why(rule: CompiledRule, event: T.Condition) -> str:
    """One line: the clause, what was not decided, the first condition that failed and the values it saw."""
    what = event.label or event.text
    shown = event.substituted
    if shown in ("true", "false", "null"):  # a bare value: "false is false" would say nothing; the condition does
        shown = event.text
    return f"{rule.clause} {rule.label} not {rule.decides}: {what}: {shown} is false"
