"""What generated rule code calls: exact arithmetic, checked truth values, parameter look-ups by date.

Generated code (:mod:`subsidy_rules.lang.codegen`) is the fast path: it keeps no trace and it does not
explain failures. Whenever a value is not what the happy path expects (a null where a number is needed, a
parameter with no value on a date, a division by zero, a date outside the calendar) it raises
:class:`Fallback`, and the caller evaluates the rule again on the reference path (the checked closures with
a tracer), which decides the same case exactly as before: a located error, or a pending decision.
"""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Tuple

from . import exact
from .calendar import add_months as _add_months, add_years as _add_years, months_between as _months_between
from ..policy.parameters import Parameter, ParameterMissing, ParamUse, tier as _tier
from ..problems import InputFault

if TYPE_CHECKING:
    from .compiled import TracedFn
    from .expr import Node
    from .tracing import Tracer
    from ..facts.model import Record

#: A value of the expression language as generated code meets it (null, true/false, a number, text, a date, a list, a
#: record): the facts decide which, so each helper checks what it needs and raises :class:`Fallback` otherwise.
Value = Any

#: Marks a value not worked out yet (a let, a computed value).
UNSET = object()
_MISSING = object()


class Fallback(InputFault):
    """The fast path met a value it does not decide (the facts' or the policy's: a null, a missing parameter value);
    never leaves the engine: the reference evaluation decides that case and explains it."""


def num(value: Value) -> Value:
    if value is None or value is True or value is False:
        raise Fallback
    return value


def truth(value: Value) -> bool:
    if value is True or value is False:
        return value
    raise Fallback


def add(a: Value, b: Value) -> Value:
    if a is None or b is None or a is True or a is False or b is True or b is False:
        raise Fallback
    if a.__class__ is Fraction or b.__class__ is Fraction:
        return exact.normal(Fraction(a) + Fraction(b))
    return a + b


def sub(a: Value, b: Value) -> Value:
    if a is None or b is None or a is True or a is False or b is True or b is False:
        raise Fallback
    if a.__class__ is Fraction or b.__class__ is Fraction:
        return exact.normal(Fraction(a) - Fraction(b))
    return a - b


def mul(a: Value, b: Value) -> Value:
    if a is None or b is None or a is True or a is False or b is True or b is False:
        raise Fallback
    if a.__class__ is Fraction or b.__class__ is Fraction:
        return exact.normal(Fraction(a) * Fraction(b))
    return a * b


def div(a: Value, b: Value) -> Value:
    if a is None or b is None or a is True or a is False or b is True or b is False or b == 0:
        raise Fallback
    return exact.div(a, b)


def neg(a: Value) -> Value:
    return sub(0, a)


def floor(value: Value) -> Decimal:
    return exact.floor(num(value))


def smallest(*values: Value) -> Value:
    return min(num(v) for v in values)


def largest(*values: Value) -> Value:
    return max(num(v) for v in values)


def count(items: Value) -> int:
    return 0 if items is None else len(items)


def total(values: Iterable[Value]) -> exact.Number:
    """A sum as ``sum(...)`` in the language gives it: exact, 0 when nothing is summed."""
    out: exact.Number = 0
    for value in values:
        out = exact.add(out, num(value))
    return out


def coalesce(first: Value, *rest: Callable[[], Value]) -> Value:
    """The first value that is not null; the others (given as functions) are worked out only if needed."""
    if first is not None:
        return first
    for later in rest:
        value = later()
        if value is not None:
            return value
    return None


def has_any(a: Value, b: Value) -> bool:
    return not frozenset(a or ()).isdisjoint(b or ())


def in_period(day: Value, period: Record) -> bool:
    data = period.data
    return day is not None and data["start"] <= day <= data["end"]


def _whole(value: Value) -> int:
    value = num(value)
    if value != int(value):
        raise Fallback
    return int(value)


def add_years(day: Optional[_dt.date], n: Value) -> _dt.date:
    if day is None:
        raise Fallback
    try:
        return _add_years(day, _whole(n))
    except (OverflowError, ValueError):
        raise Fallback from None


def add_months(day: Optional[_dt.date], n: Value) -> _dt.date:
    if day is None:
        raise Fallback
    try:
        return _add_months(day, _whole(n))
    except (OverflowError, ValueError):
        raise Fallback from None


def add_days(day: Optional[_dt.date], n: Value) -> _dt.date:
    if day is None:
        raise Fallback
    try:
        return day + _dt.timedelta(days=_whole(n))
    except (OverflowError, ValueError):
        raise Fallback from None


def months_between(a: Optional[_dt.date], b: Optional[_dt.date]) -> int:
    if a is None or b is None:
        raise Fallback
    return _months_between(a, b)


def tier(table: Iterable[Tuple[Decimal, Decimal]], x: Value) -> Decimal:
    return _tier(table, num(x))


def limit(value: Value) -> Optional[int]:
    return None if value is None else max(0, int(value))


def member(value: Value, container: Value) -> bool:
    if container is None:
        raise Fallback
    return value in container


def computed(rec: Record, name: str, fn: Callable[[Record], Value]) -> Value:
    """The computed value ``name`` of record ``rec``, worked out once (by its generated function ``fn``)."""
    value = fn(rec)
    rec.values[name] = value
    return value


def setlet(slots: list, slot: int, value: Value) -> Value:
    """A let's value, kept in its slot once worked out."""
    slots[slot] = value
    return value


def key_text(value: Value) -> str:
    """A parameter key as the policy file writes it: 3 and 3.0 are both "3"."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value)


class ParameterLookup:
    """One parameter's values, looked up by date once per date (a run asks for few dates many times)."""

    __slots__ = ("parameter", "_by_day")

    # distinct dates remembered per parameter: a run asks for the same few (month starts); a cache that grows with
    # every birth date is walked again by each full garbage collection, which cost a province run more than it saved
    _LIMIT = 512

    def __init__(self, parameter: Parameter) -> None:
        self.parameter = parameter
        self._by_day: Dict[Any, Any] = {}

    def at(self, day: Value) -> Value:
        """The value in force on ``day`` (Fallback when there is none: the decision is pending)."""
        value = self._by_day.get(day, UNSET)
        if value is UNSET:
            if not isinstance(day, _dt.date):
                raise Fallback
            try:
                value = self.parameter.at(day).value
            except ParameterMissing:
                value = _MISSING
            if len(self._by_day) < self._LIMIT:
                self._by_day[day] = value
        if value is _MISSING:
            raise Fallback
        return value

    def keyed(self, day: Value, key: Value, otherwise: Optional[Callable[[], Value]] = None) -> Value:
        """The value for ``key`` on ``day``; for a key the parameter does not list, ``otherwise()`` if given."""
        values = self.at(day)
        found = values.get(key_text(key), _MISSING)
        if found is _MISSING:
            if otherwise is None:
                raise Fallback
            return otherwise()
        return found


def round_to(value: Value, quantum: Decimal, mode: str) -> Decimal:
    if value is None or value is True or value is False:
        raise Fallback
    return exact.round_to(value, quantum, mode)


# --- the traced variant: what the reference evaluation reports, told to the tracer passed in ----------------------

def tlet(env: dict, tracer: Tracer, key: str, fn: TracedFn, let_ast: Node, node: Node) -> Value:
    """A let read while tracing: worked out once per item (what it read captured apart) and told again to every
    trace that reads it."""
    hit = env.get(key)
    if hit is None:
        tracer.open()
        try:
            value = fn(env, tracer)
        finally:
            captured = tracer.close()
        hit = env[key] = (value, captured)
    value, captured = hit
    tracer.replay(captured)
    tracer.value(let_ast, value)
    tracer.value(node, value)
    return value


def tcomputed(rec: Record, name: str, reference: Tuple[TracedFn, Any], tracer: Tracer) -> Value:
    """A computed value read while tracing: the record works it out once with its reference closure and replays
    what it built on."""
    return rec.computed(name, reference[0], reference[1], tracer)


def tcomprehension(tracer: Tracer, node: Node, count: Callable[[], Value]) -> Value:
    """A count or a sum while tracing: only the parameters read inside are kept, then the total itself."""
    tracer.open(False)
    try:
        total = count()
    finally:
        tracer.replay(tracer.close())
    tracer.value(node, total)
    return total


# --- the recording variant: what a decision's trace as data shows, written into V (names) and U (uses) ------------

def dlet(env: dict, shown: Optional[Dict[Any, Value]], uses: List[Any], key: str, fn: Callable[..., Value],
         name: str) -> Value:
    """A let read while recording: worked out once per item (what it read kept apart, as its own line shows it)
    and its uses told again to every expression that reads it. ``shown`` is None inside a count or a sum. The lets
    an expression read, directly or through another let, are marked in its ``shown`` by ``(name,)``."""
    hit = env.get(key)
    if hit is None:
        own: Dict[Any, Value] = {}
        used: List[Any] = []
        value = fn(env, own, used)
        hit = env[key] = (value, own if shown is not None else None, used)  # inside a count: no values kept
    value, kept, used = hit
    uses.extend(used)
    if shown is not None:
        if kept:
            for mark, worked_out in kept.items():
                if mark.__class__ is tuple:  # a let it read: read through it
                    shown.setdefault(mark, worked_out)
        shown.setdefault((name,), value)
        shown.setdefault(name, value)
    return value


def dcomputed(rec: "Record", name: str, recorder: Tuple[Callable[..., Value], Any], uses: List[Any]) -> Value:
    """A computed value read while recording: the record works it out once and tells what it built on again."""
    return rec.computed_recorded(name, recorder[0], recorder[1], uses)


class TracedParameter:
    """A parameter read while tracing: its value, and the ParamUse the trace cites (one per date and key: a trace
    reads the same few values thousands of times)."""

    __slots__ = ("name", "parameter", "origin", "_uses")

    def __init__(self, parameter: Parameter, origin: str) -> None:
        self.name, self.parameter, self.origin = parameter.name, parameter, origin
        self._uses: Dict[Tuple[_dt.date, Optional[str]], Any] = {}  # a ParamUse, or _NO_KEY

    def read(self, tracer: Tracer, node: Node, day: Value, key: Value = UNSET,
             otherwise: Optional[Callable[[], Value]] = None) -> Value:
        used: List[Any] = []
        value = self.record(used, day, key, otherwise)
        if used:  # the parameter gave it (else ``otherwise`` did, and told the tracer what it read)
            tracer.param(used[0])
            tracer.value(node, value)
        return value

    def record(self, uses: List[Any], day: Value, key: Value = UNSET,
               otherwise: Optional[Callable[[], Value]] = None) -> Value:
        """The value on ``day`` (for ``key``), its use appended to ``uses`` (the recording variant's call; the
        traced variant's is :meth:`read`)."""
        if not isinstance(day, _dt.date):
            raise Fallback
        keytext = None if key is UNSET else key_text(key)
        use = self._uses.get((day, keytext))
        if use is None:
            use = self._use(day, keytext)
        if use is _NO_KEY:
            if otherwise is None:
                raise Fallback
            return otherwise()
        uses.append(use)
        return use.value

    def _use(self, day: _dt.date, keytext: Optional[str]) -> Any:
        try:
            pv = self.parameter.at(day)
        except ParameterMissing:
            raise Fallback from None
        if keytext is not None and keytext not in pv.value:
            use = _NO_KEY
        else:
            value = pv.value if keytext is None else pv.value[keytext]
            use = ParamUse(self.name, self.parameter.label, day, keytext, value, pv.since, pv.ends, pv.source,
                           pv.unconfirmed, self.origin)
        if len(self._uses) > 1_024:  # small: see ParameterLookup._LIMIT
            self._uses.clear()
        self._uses[(day, keytext)] = use
        return use


_NO_KEY = object()  # the parameter has no value for the key asked for on that date
