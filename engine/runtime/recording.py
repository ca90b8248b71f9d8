"""A fired rule's trace written as data in one pass, for a run whose traces are wanted as data only.

When the decisions document is all a run writes of its traces (``--trace data``, the default, without
``--why-not``), a decision's trace need not be built as events (:mod:`.trace`) and then written as data
(:mod:`subsidy_rules.views.trace_data`): each expression's *recording variant* (generated with the rule:
:mod:`subsidy_rules.lang.expression_code`) writes, as it evaluates, the names and counts it read (``V``) and the
parameter and computed values it used (``U``), and this module puts them together into the trace's entries,
exactly as :func:`~subsidy_rules.views.trace_data.trace_data` writes the events of the traced evaluation
(``tests/test_recording.py`` holds the two to the same output on every policy case).

What the recording variant does not decide (a value the generated code does not expect, a parameter with no
value on a date) it leaves to the traced evaluation: :func:`record` returns None, and the decision is traced as
before. It writes the entries that come before the outcome; the outcome, and the exclusivity group's event if
the group changes it, follow as events (:class:`~subsidy_rules.runtime.decisions.Decision`'s ``data``).
"""
from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ..facts.model import Record
from ..lang.codegen import FAILED, FALLBACK
from ..lang.compiled import CompiledCondition, CompiledRule, EvalError, truth
from ..lang.exact import round_to
from ..lang.expr import Comprehension, Name
from ..policy.model import Policy
from ..problems import InputFault
from ..views.trace_data import (condition_id, count, formula_id, recorded_uses, recorded_values, required_entry,
                                rule_entry, value)
from ..views.formats import money
from .firing import Result, apply, decided, requirements, traced

#: What :func:`record` gives: the trace's entries before its outcome, whether the rule fired, its amount and the
#: items it counted.
Recorded = Tuple[Tuple[Dict[str, Any], ...], bool, Optional[Decimal], Tuple[str, ...]]


class _Declined(InputFault):
    """The recording variant met a case it leaves to the traced evaluation (an amount the facts or the policy leave
    null: the traced evaluation says which value, and where); never leaves this module."""


def apply_recorded(rule: CompiledRule, subject: Record, policy: Policy) -> Result:
    """:func:`~.firing.apply` for a run that records its traces as data: a rule whose ``when`` conditions hold for
    ``subject`` is evaluated once, by its recording variants, its result carrying its trace's entries (rather than
    decided untraced and then evaluated again to record them). Any other case is :func:`~.firing.apply`'s."""
    code = rule.code
    if code is None or not code.recording or subject.ctx.every_trace:
        return apply(rule, subject, policy)
    try:
        held = code.when(subject)
    except FALLBACK:
        return apply(rule, subject, policy)  # its reference evaluation says why
    if held < len(rule.when):
        return decided(rule, subject, policy, FAILED, failed=held)
    counts = code.held_fired  # recorded at once only while most such results fire (else the recording is wasted)
    counts[0] += 1
    if counts[0] <= _TRIAL or counts[1] * 4 >= counts[0] * 3:
        recorded = record(rule, subject, policy)
        if recorded is not None and recorded[1]:  # fired: a result that is not is worked out, and told, by apply
            counts[1] += 1
            entries, _, amount, items = recorded
            return Result(rule, subject, True, amount, (), None, items, trace=partial(traced, rule, subject, policy),
                          recordable=True, data=entries)
    result = apply(rule, subject, policy)
    counts[1] += result.fired
    return result


#: How many results whose conditions held a rule is recorded at once for before what they came to decides.
_TRIAL = 20


def record(rule: CompiledRule, subject: Record, policy: Policy) -> Optional[Recorded]:
    """``rule`` for ``subject`` evaluated by its recording variants, its trace written as data; None for a case the
    traced evaluation decides (and explains)."""
    code = rule.code
    if code is None or not code.recording:
        return None
    try:
        return _Recording(rule, subject, policy, code.recording).run()
    except (EvalError, _Declined, *FALLBACK):
        return None


#: One condition as the recording evaluates it: (its recording variant, the id it is filed under, its AST).
_Planned = Tuple[Callable, str, Any]


class _Plan:
    """What recording a rule reads of it, worked out once for a run's parameters and period end (a condition's label,
    and so its id, is filled in from them): each condition's and formula's recording variant and id."""

    __slots__ = ("when", "where", "amount", "amount_id", "limit", "limit_id", "source", "lets")

    def __init__(self, rule: CompiledRule, label: Callable[[Optional[str]], Optional[str]],
                 fns: Dict[int, Callable]) -> None:
        def planned(conds: Tuple[CompiledCondition, ...]) -> Tuple[_Planned, ...]:
            return tuple((fns[id(c.expr.ast)], condition_id(c.text, label(c.label), c.reading), c.expr.ast)
                         for c in conds)

        self.when = planned(rule.when)
        self.amount: Optional[Callable] = None
        self.amount_id: Optional[str] = None
        self.limit: Optional[Callable] = None
        self.limit_id: Optional[str] = None
        self.source: Optional[Callable] = None
        if rule.amount is not None:
            self.amount, self.amount_id = fns[id(rule.amount.ast)], formula_id(rule.amount.text)
        each = rule.each
        self.where = planned(each.where) if each is not None else ()
        if each is not None:
            self.source = fns[id(each.source.ast)]
            if each.limit is not None:
                self.limit, self.limit_id = fns[id(each.limit.ast)], formula_id(each.limit.text)
        # (name, key of its worked-out value in the item's names, its formula's id, whether it shows its own values:
        # a let that is one name shows it as its value)
        self.lets = tuple((name, f"$data:{name}", formula_id(let.text), not isinstance(let.ast, (Name, Comprehension)))
                          for name, let in rule.lets)


_PLANS: Dict[tuple, Tuple[CompiledRule, Any, _Plan]] = {}


def _plan(rule: CompiledRule, subject: Record, fns: Dict[int, Callable]) -> _Plan:
    """The rule's plan for the run of ``subject`` (kept with the rule and parameters it is of: the id of one that is
    gone may be reused)."""
    ctx = subject.ctx
    key = (id(rule), id(ctx.parameters), ctx.period.data["end"])
    hit = _PLANS.get(key)
    if hit is None or hit[0] is not rule or hit[1] is not ctx.parameters:
        if len(_PLANS) > 1_024:  # small: a long-lived cache is walked by every full garbage collection
            _PLANS.clear()
        hit = _PLANS[key] = (rule, ctx.parameters, _Plan(rule, ctx.label, fns))
    return hit[2]


def _entry(out: Dict[str, Any], shown: Dict[Any, Any], uses: List[Any], listed: Set[tuple]) -> Dict[str, Any]:
    """``out`` with the values its expression showed and the uses its decision has not listed yet."""
    _with_values(out, shown)
    _with_uses(out, uses, listed)
    return out


def _with_values(out: Dict[str, Any], shown: Dict[Any, Any]) -> None:
    """``out`` with the values its expression showed (none when it read only lets)."""
    if shown:
        values = recorded_values(shown)
        if values:
            out["values"] = values


def _with_uses(out: Dict[str, Any], uses: List[Any], listed: Set[tuple]) -> None:
    """``out`` with the uses its decision has not listed yet."""
    if uses:
        written = recorded_uses(uses, listed)
        if written:
            out["uses"] = written


class _Recording:
    """One rule for one subject, evaluated by its recording variants (``fns``: expression AST id -> fn(env, V, U))."""

    __slots__ = ("rule", "subject", "policy", "plan", "listed")

    def __init__(self, rule: CompiledRule, subject: Record, policy: Policy, fns: Dict[int, Callable]) -> None:
        self.rule, self.subject, self.policy = rule, subject, policy
        self.plan = _plan(rule, subject, fns)
        self.listed: Set[tuple] = set()  # the parameter and computed values the decision's trace has listed

    def arithmetic(self, env: dict) -> Tuple[Dict[str, Any], Decimal]:
        plan, policy = self.plan, self.policy
        assert plan.amount is not None  # asked only of a rule with an amount
        shown: Dict[Any, Any] = {}
        uses: List[Any] = []
        exact = plan.amount(env, shown, uses)
        if exact is None:
            raise _Declined  # the traced evaluation says which value is missing
        rounded = exact.quantize(policy.quantum, rounding=policy.rounding) if exact.__class__ is Decimal else \
            round_to(exact, policy.quantum, policy.rounding)
        out: Dict[str, Any] = {"formula": plan.amount_id}
        _with_values(out, shown)
        out["exact"] = value(exact)
        out["rounded"] = money(rounded)
        if plan.lets:
            lets = [self.let(let, shown[(let[0],)], env) for let in plan.lets if (let[0],) in shown]
            if lets:
                out["lets"] = lets
        _with_uses(out, uses, self.listed)
        return out, rounded

    @staticmethod
    def let(let: Tuple[str, str, str, bool], worked_out: Any, env: dict) -> Dict[str, Any]:
        name, key, fid, shows = let
        out: Dict[str, Any] = {"name": name, "formula": fid}
        if shows:
            _with_values(out, env[key][1])
        out["value"] = value(worked_out)
        return out

    def run(self) -> Recorded:
        rule, subject, policy, listed, plan = self.rule, self.subject, self.policy, self.listed, self.plan
        entries = [rule_entry(rule.id, subject.id)]  # as the opening events (firing.opening_events) are written
        for fields in requirements(rule, subject):
            entries.append(required_entry(*fields))
        env = dict(subject.env)
        for fn, cid, node in plan.when:
            shown: Dict[Any, Any] = {}
            uses: List[Any] = []
            holds = truth(fn(env, shown, uses), node)
            entries.append(_entry({"event": "condition", "condition": cid, "holds": holds}, shown, uses, listed))
            if not holds:
                return tuple(entries), False, None, ()
        amount: Optional[Decimal] = None
        counted: List[str] = []
        if rule.each is not None:
            each = rule.each
            limit = None
            if plan.limit is not None:
                shown = {}
                uses = []
                worked_out = plan.limit(env, shown, uses)
                limit = None if worked_out is None else max(0, int(worked_out))
                entry: Dict[str, Any] = {"event": "limit", "formula": plan.limit_id}
                _with_values(entry, shown)
                entry["value"] = count(limit)
                _with_uses(entry, uses, listed)
                entries.append(entry)
            assert plan.source is not None  # a rule with `each` has its source
            items = plan.source(env, {}, [])  # what the source read is not shown
            parts: List[Decimal] = []
            where = plan.where
            with_amount = plan.amount is not None
            ienv = env
            for item in items or ():
                if rule.lets:  # a let is worked out once an item: each has its own names
                    ienv = dict(env)
                ienv[each.var] = item
                held: List[Tuple[str, Dict[Any, Any], List[Any]]] = []
                failed = None
                for fn, cid, node in where:
                    shown = {}
                    uses = []
                    if not truth(fn(ienv, shown, uses), node):
                        failed = (cid, shown, uses)
                        break
                    held.append((cid, shown, uses))
                entry = {"event": "item", "item": item.id}
                if failed is not None:  # the conditions that held before it are not shown
                    entry["counted"] = False
                    entry["failed"] = _entry({"condition": failed[0], "holds": False}, failed[1], failed[2], listed)
                elif limit is not None and len(counted) >= limit:
                    entry["counted"] = False
                    entry["beyond_limit"] = True
                    if held:
                        entry["where"] = [_entry({"condition": cid, "holds": True}, shown, uses, listed)
                                          for cid, shown, uses in held]
                else:
                    counted.append(item.id)
                    entry["counted"] = True
                    if held:
                        entry["where"] = [_entry({"condition": cid, "holds": True}, shown, uses, listed)
                                          for cid, shown, uses in held]
                    if with_amount:
                        entry["arithmetic"], rounded = self.arithmetic(ienv)
                        parts.append(rounded)
                entries.append(entry)
            if with_amount:
                amount = sum(parts, Decimal(0)).quantize(policy.quantum)
                entries.append({"event": "total", "parts": [money(p) for p in parts], "total": money(amount)})
            if not counted:
                return tuple(entries), False, None, ()
        elif plan.amount is not None:
            arithmetic, amount = self.arithmetic(env)
            entries.append(dict({"event": "arithmetic"}, **arithmetic))
        if amount is not None and amount <= 0:
            return tuple(entries), False, amount, ()
        return tuple(entries), True, amount, tuple(counted) if rule.each is not None else ()
