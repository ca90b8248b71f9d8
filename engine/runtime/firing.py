"""Apply one compiled rule to one subject and record what happened.

Shared by every backend: a backend decides *which* rule runs for *which*
subject and when (its agenda); this module decides what that rule yields.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import List, Optional, Tuple

from ..lang import expr as X
from . import trace as T
from ..lang.compiler import CompiledCondition, CompiledExpr, CompiledRule, EvalError, _truth
from ..lang.exact import round_to
from ..facts.model import Derived, Record
from ..policy.model import Policy
from ..problems import InputFault


@dataclass(frozen=True)
class Result:
    """What one activation yielded: a decision (``fired``), or why not."""

    rule: CompiledRule
    subject: Record
    fired: bool
    amount: Optional[Decimal]
    events: Tuple
    reason: Optional[str]  # why it did not fire, in one line
    items: Tuple[str, ...] = ()  # for a per-item rule: the ids of the items (months) it counted
    details: Tuple[Tuple[str, object], ...] = ()  # what the decision states besides its amount (route, dates…)
    pending: Tuple[Tuple[str, object, Optional[str]], ...] = ()  # (parameter, date, key) it waits for

    @property
    def is_pending(self) -> bool:
        return bool(self.pending)


class _Pending(InputFault):
    """A parameter has no value on the date an expression needed it: the decision waits for it."""

    def __init__(self, missing):
        super().__init__(str(missing))
        self.missing = missing


class RuleError(InputFault):
    """An expression failed on these facts; carries the rule, subject and expression."""

    def __init__(self, error: EvalError, rule: CompiledRule, subject: Record, where: CompiledExpr):
        super().__init__(error.message)
        self.error, self.rule, self.subject, self.where = error, rule, subject, where


def _seen_pairs(seen: list) -> Tuple[Tuple[str, object], ...]:
    out, shown = [], set()
    for node, value in seen:
        if isinstance(node, X.Name):
            text = node.dotted
        elif isinstance(node, X.Comprehension):
            text = X.unparse(node)
        else:
            continue
        if text not in shown:
            shown.add(text)
            out.append((text, value))
    return tuple(out)


def _values(seen: list) -> dict:
    """What each node evaluated to, keyed by the node's identity (hashing a tree node would hash its subtree)."""
    values = {}
    for node, value in seen:
        values.setdefault(id(node), value)
    return values


def _without(values: dict, node) -> dict:
    """The seen values less ``node`` itself, so a formula prints with its parts substituted."""
    inner = dict(values)
    inner.pop(id(node), None)
    return inner


def _evaluate(compiled: CompiledExpr, env: dict, rule, subject, tracing: bool):
    ctx = env["$ctx"]
    if tracing:
        ctx.seen, ctx.params = [], []
    try:
        value = compiled.fn(env)
    except EvalError as exc:
        if exc.missing is not None:
            raise _Pending(exc.missing) from None
        raise RuleError(exc, rule, subject, compiled) from None
    finally:
        seen, params = ctx.seen, ctx.params
        ctx.seen = ctx.params = None
    return value, seen or [], tuple(params or ())


def _condition(cond: CompiledCondition, env, rule, subject, tracing) -> Tuple[bool, Optional[T.Condition]]:
    value, seen, params = _evaluate(cond.expr, env, rule, subject, tracing)
    try:
        holds = _truth(value, cond.expr.ast)
    except EvalError as exc:
        raise RuleError(exc, rule, subject, cond.expr) from None
    if not tracing:
        return holds, None
    event = T.Condition(cond.text, subject.ctx.label(cond.label), holds, X.unparse(cond.expr.ast, _values(seen)),
                        _seen_pairs(seen), _dedupe(params), cond.reading)
    return holds, event


def _dedupe(params) -> tuple:
    out, keys = [], set()
    for p in params:
        key = (p.name,) if isinstance(p, Derived) else (p.name, p.key, p.since, p.at)
        if key not in keys:
            keys.add(key)
            out.append(p)
    return tuple(out)


def _amount(rule: CompiledRule, env, subject, policy: Policy, tracing) -> Tuple[Decimal, Optional[T.Arithmetic]]:
    value, seen, params = _evaluate(rule.amount, env, rule, subject, tracing)
    exact = value
    rounded = round_to(value, policy.quantum, policy.rounding)
    if not tracing:
        return rounded, None
    values = _values(seen)
    lets = tuple(T.Let(name, let.text, X.unparse(let.ast, _without(values, let.ast)), values.get(id(let.ast)))
                 for name, let in rule.lets if id(let.ast) in values)
    return rounded, T.Arithmetic(rule.amount.text, X.unparse(rule.amount.ast, values), exact, rounded, lets, _dedupe(params))


def opening_events(rule: CompiledRule, subject: Record, policy: Policy) -> List:
    """The clause and rule being applied, and each derived fact it requires with who asserted it."""
    clause = policy.clauses[rule.clause]
    events: List = [T.RuleApplied(rule.id, subject.ctx.label(rule.label), rule.clause, clause.heading, clause.text,
                                  rule.subject, subject.id, rule.origin)]
    for req in rule.requires:
        holder = subject if subject.kind == req.holder else subject.workshop()
        events.append(T.Required(req.text, holder.id, req.met(holder), holder.asserted_by.get(req.flag, ()),
                                 tuple(sorted(req.routes)) if req.routes is not None else None,
                                 holder.routes.get(req.flag)))
    return events


def apply(rule: CompiledRule, subject: Record, policy: Policy) -> Result:
    """Evaluate ``rule`` for ``subject`` (its requirements already hold). A parameter with no value on a date the
    rule needs makes the result pending (naming every such parameter and date), never an error."""
    try:
        return _apply(rule, subject, policy)
    except _Pending as exc:
        return _pending_result(rule, subject, policy, (exc.missing,), ())


def _pending_result(rule, subject, policy, missing, events) -> Result:
    missing = tuple(dict.fromkeys(missing))
    if subject.ctx.tracing:
        events = tuple(events) if events else tuple(opening_events(rule, subject, policy))
        events += (T.Pending(missing),)
    names = ", ".join(f"{name} on {day.isoformat()}" for name, day, _ in missing)
    reason = f"{rule.clause} {rule.label}: pending until the policy has a value for {names}"
    return Result(rule, subject, False, None, tuple(events), reason, pending=missing)


def _apply(rule: CompiledRule, subject: Record, policy: Policy) -> Result:
    ctx = subject.ctx
    tracing = ctx.tracing
    events: List = []
    env = dict(subject.env)
    if tracing:
        events.extend(opening_events(rule, subject, policy))
    for cond in rule.when:
        holds, event = _condition(cond, env, rule, subject, tracing)
        if event is not None:
            events.append(event)
        if not holds:
            reason = _why(rule, event) if tracing else f"{cond.text} is false"
            return Result(rule, subject, False, None, tuple(events), reason)

    amount: Optional[Decimal] = None
    if rule.each is not None:
        each = rule.each
        limit = None
        if each.limit is not None:
            value, seen, params = _evaluate(each.limit, env, rule, subject, tracing)
            limit = None if value is None else max(0, int(value))
            if tracing:
                events.append(T.Limit(each.limit.text, X.unparse(each.limit.ast, _values(seen)), limit, _dedupe(params)))
        try:
            items = each.source.fn(env) or ()
        except EvalError as exc:
            raise RuleError(exc, rule, subject, each.source) from None
        parts: List[Decimal] = []
        counted = 0
        counted_ids: List[str] = []
        missing: List = []
        for item in items:
            ienv = dict(env)
            ienv[each.var] = item
            failed = None
            held = []
            for cond in each.where:
                holds, event = _condition(cond, ienv, rule, subject, tracing)
                if not holds:
                    failed = event if tracing else cond
                    break
                if tracing:
                    held.append(event)
            if failed is not None:
                if tracing:
                    events.append(T.Item(item.id, False, failed, False, None))
                continue
            if limit is not None and counted >= limit:
                if tracing:
                    events.append(T.Item(item.id, False, None, True, None, tuple(held)))
                continue
            counted += 1
            counted_ids.append(item.id)
            arithmetic = None
            if rule.amount is not None:
                try:
                    part, arithmetic = _amount(rule, ienv, subject, policy, tracing)
                except _Pending as exc:  # this item waits; the others are still worked out for the trace
                    missing.append(exc.missing)
                    if tracing:
                        events.append(T.Item(item.id, True, None, False, None, tuple(held)))
                    continue
                parts.append(part)
            if tracing:
                events.append(T.Item(item.id, True, None, False, arithmetic, tuple(held)))
        if missing:
            return _pending_result(rule, subject, policy, missing, events)
        if rule.amount is not None:
            amount = sum(parts, Decimal(0)).quantize(policy.quantum)
            if tracing:
                events.append(T.Total(tuple(parts), amount))
        if counted == 0:
            reason = f"{rule.clause} {rule.label}: no item of {each.source.text} qualified"
            if tracing:
                events.append(T.NotReached(reason))
            return Result(rule, subject, False, None, tuple(events), reason)
        counted_items = tuple(counted_ids)
    else:
        counted_items = ()
        if rule.amount is not None:
            amount, arithmetic = _amount(rule, env, subject, policy, tracing)
            if arithmetic is not None:
                events.append(arithmetic)
    if rule.amount is not None and amount <= 0:
        reason = f"{rule.clause} {rule.label}: the amount comes to {amount}, so nothing is granted"
        if tracing:
            events.append(T.NotReached(reason))
        return Result(rule, subject, False, amount, tuple(events), reason)
    if tracing:
        events.append(T.Outcome(rule.decides, amount, rule.fund))
    return Result(rule, subject, True, amount, tuple(events), None, counted_items)


def verdicts(rule: CompiledRule, subject: Record) -> List[bool]:
    """The ``when`` conditions of ``rule`` for ``subject``, in order, up to and including the first that fails."""
    env = dict(subject.env)
    out: List[bool] = []
    for cond in rule.when:
        try:
            holds, _ = _condition(cond, env, rule, subject, False)
        except _Pending:
            holds = False  # cannot be known yet: the rule is pending, not holding
        out.append(holds)
        if not holds:
            break
    return out


def _why(rule: CompiledRule, event: T.Condition) -> str:
    """One line: the clause, what was not decided, the first condition that failed and the values it saw."""
    what = event.label or event.text
    return f"{rule.clause} {rule.label} not {rule.decides}: {what}: {event.substituted} is false"
