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
from ..views.trace_data import ENCODERS, condition_id, count, formula_id, recorded_uses, recorded_values, value
from ..views.formats import money
from .firing import Result, apply, decided, opening_events, traced

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


class _Condition:
    """A condition evaluated while recording, written once its item knows whether its entry is shown."""

    __slots__ = ("id", "holds", "shown", "uses")

    def __init__(self, cid: str, holds: bool, shown: Dict[Any, Any], uses: List[Any]) -> None:
        self.id, self.holds, self.shown, self.uses = cid, holds, shown, uses

    def entry(self, listed: Set[tuple], event: bool = False) -> Dict[str, Any]:
        out: Dict[str, Any] = {"event": "condition", "condition": self.id, "holds": self.holds} if event else {
            "condition": self.id, "holds": self.holds}
        if self.shown:
            _values(out, self.shown)
        if self.uses:
            _uses(out, self.uses, listed)
        return out


def _values(out: Dict[str, Any], shown: Dict[Any, Any]) -> None:
    """``out`` with the values its expression showed (none when it read only lets)."""
    values = recorded_values(shown)
    if values:
        out["values"] = values


def _uses(out: Dict[str, Any], uses: List[Any], listed: Set[tuple]) -> None:
    """``out`` with the uses its decision has not listed yet."""
    written = recorded_uses(uses, listed)
    if written:
        out["uses"] = written


_IDS: Dict[int, Tuple[CompiledCondition, Optional[str], str]] = {}


def _condition_id(cond: CompiledCondition, label: Optional[str]) -> str:
    """:func:`~subsidy_rules.views.trace_data.condition_id` of a compiled condition with its label as shown, kept
    by the condition (the entry says whose: the id of a condition that is gone may be reused)."""
    hit = _IDS.get(id(cond))
    if hit is None or hit[0] is not cond or hit[1] != label:
        if len(_IDS) > 4_096:
            _IDS.clear()
        hit = _IDS[id(cond)] = (cond, label, condition_id(cond.text, label, cond.reading))
    return hit[2]


class _Recording:
    """One rule for one subject, evaluated by its recording variants (``fns``: expression AST id -> fn(env, V, U))."""

    __slots__ = ("rule", "subject", "policy", "fns", "listed", "label")

    def __init__(self, rule: CompiledRule, subject: Record, policy: Policy, fns: Dict[int, Callable]) -> None:
        self.rule, self.subject, self.policy, self.fns = rule, subject, policy, fns
        self.listed: Set[tuple] = set()  # the parameter and computed values the decision's trace has listed
        self.label = subject.ctx.label

    def conditions(self, conds: Tuple[CompiledCondition, ...]) -> List[Tuple[CompiledCondition, Callable, str]]:
        """Each condition with its recording variant and the id it is filed under (worked out once a decision)."""
        fns, label = self.fns, self.label
        return [(cond, fns[id(cond.expr.ast)], _condition_id(cond, label(cond.label))) for cond in conds]

    def condition(self, planned: Tuple[CompiledCondition, Callable, str], env: dict) -> _Condition:
        cond, fn, cid = planned
        shown: Dict[Any, Any] = {}
        uses: List[Any] = []
        return _Condition(cid, truth(fn(env, shown, uses), cond.expr.ast), shown, uses)

    def arithmetic(self, env: dict) -> Tuple[Dict[str, Any], Decimal]:
        rule, policy = self.rule, self.policy
        assert rule.amount is not None  # asked only of a rule with an amount
        shown: Dict[Any, Any] = {}
        uses: List[Any] = []
        exact = self.fns[id(rule.amount.ast)](env, shown, uses)
        if exact is None:
            raise _Declined  # the traced evaluation says which value is missing
        rounded = round_to(exact, policy.quantum, policy.rounding)
        out: Dict[str, Any] = {"formula": formula_id(rule.amount.text)}
        if shown:
            _values(out, shown)
        out["exact"] = value(exact)
        out["rounded"] = money(rounded)
        if rule.lets:
            lets = [self.let(name, let, shown[(name,)], env) for name, let in rule.lets if (name,) in shown]
            if lets:
                out["lets"] = lets
        if uses:
            _uses(out, uses, self.listed)
        return out, rounded

    def let(self, name: str, let: Any, worked_out: Any, env: dict) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": name, "formula": formula_id(let.text)}
        own = env[f"$data:{name}"][1]
        if own and not isinstance(let.ast, (Name, Comprehension)):  # a let that is one name shows it as its value
            values = recorded_values(own)
            if values:
                out["values"] = values
        out["value"] = value(worked_out)
        return out

    def run(self) -> Recorded:
        rule, subject, policy, listed = self.rule, self.subject, self.policy, self.listed
        entries = [ENCODERS[e.__class__](e, listed) for e in opening_events(rule, subject, policy)]
        env = dict(subject.env)
        for planned in self.conditions(rule.when):
            evaluated = self.condition(planned, env)
            entries.append(evaluated.entry(listed, event=True))
            if not evaluated.holds:
                return tuple(entries), False, None, ()
        amount: Optional[Decimal] = None
        counted: List[str] = []
        if rule.each is not None:
            each = rule.each
            limit = None
            if each.limit is not None:
                shown: Dict[Any, Any] = {}
                uses: List[Any] = []
                worked_out = self.fns[id(each.limit.ast)](env, shown, uses)
                limit = None if worked_out is None else max(0, int(worked_out))
                entry: Dict[str, Any] = {"event": "limit", "formula": formula_id(each.limit.text)}
                if shown:
                    _values(entry, shown)
                entry["value"] = count(limit)
                if uses:
                    _uses(entry, uses, listed)
                entries.append(entry)
            items = self.fns[id(each.source.ast)](env, {}, [])  # what the source read is not shown
            parts: List[Decimal] = []
            where = self.conditions(each.where)
            ienv = env
            for item in items or ():
                if rule.lets:  # a let is worked out once an item: each has its own names
                    ienv = dict(env)
                ienv[each.var] = item
                held: List[_Condition] = []
                failed = None
                for planned in where:
                    evaluated = self.condition(planned, ienv)
                    if not evaluated.holds:
                        failed = evaluated
                        break
                    held.append(evaluated)
                entry = {"event": "item", "item": item.id}
                if failed is not None:  # the conditions that held before it are not shown
                    entry["counted"] = False
                    entry["failed"] = failed.entry(listed)
                elif limit is not None and len(counted) >= limit:
                    entry["counted"] = False
                    entry["beyond_limit"] = True
                    if held:
                        entry["where"] = [c.entry(listed) for c in held]
                else:
                    counted.append(item.id)
                    entry["counted"] = True
                    if held:
                        entry["where"] = [c.entry(listed) for c in held]
                    if rule.amount is not None:
                        entry["arithmetic"], rounded = self.arithmetic(ienv)
                        parts.append(rounded)
                entries.append(entry)
            if rule.amount is not None:
                amount = sum(parts, Decimal(0)).quantize(policy.quantum)
                entries.append({"event": "total", "parts": [money(p) for p in parts], "total": money(amount)})
            if not counted:
                return tuple(entries), False, None, ()
        elif rule.amount is not None:
            arithmetic, amount = self.arithmetic(env)
            entries.append(dict({"event": "arithmetic"}, **arithmetic))
        if amount is not None and amount <= 0:
            return tuple(entries), False, amount, ()
        return tuple(entries), True, amount, tuple(counted) if rule.each is not None else ()
