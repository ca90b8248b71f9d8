"""Parameters: values in force by date, each with its legal source.

A parameter has one or more values in date order. Each holds from its ``from``
date (the first may leave it open: "before the next value") until the day
before the next value, or until its own ``until``. Looking a parameter up at a
date none of its values covers is an error naming the parameter and the date,
never a silent reuse of a neighbouring value.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Dict, Iterable, Iterator, Optional, Tuple

from ..lang.exact import Number
from ..problems import InputFault


@dataclass(frozen=True)
class ParameterValue:
    since: Optional[_dt.date]
    until: Optional[_dt.date]  # inclusive; None: until the next value, or open
    value: Any  # Decimal, {key: Decimal}, or a tier table ((threshold, amount), ...)
    source: str
    unconfirmed: bool
    pointer: str
    ends: Optional[_dt.date] = None  # the last day in force: ``until``, else the day before the next value; None: open


def with_ends(values: Iterable[ParameterValue]) -> Tuple[ParameterValue, ...]:
    """``values`` (in date order), each with the last day it is in force (``ends``): its own ``until``, else the day
    before the next value's ``from`` (what a reader of "in force from … until …" needs; ``until`` stays as written)."""
    values = tuple(values)
    out = []
    for value, after in zip(values, values[1:] + (None,)):
        ends = value.until
        if ends is None and after is not None and after.since is not None:
            ends = after.since - _dt.timedelta(days=1)
        out.append(replace(value, ends=ends))
    return tuple(out)


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    unit: str
    clause: Optional[str]
    keyed_by: Optional[str]
    table: bool
    values: Tuple[ParameterValue, ...]
    pointer: str
    type: str = "number"  # number / date: what each value is

    def at(self, day: _dt.date) -> ParameterValue:
        """The value in force on ``day``; :class:`ParameterMissing` if there is none."""
        found = None
        for value in self.values:
            if value.since is None or value.since <= day:
                found = value
            else:
                break
        if found is None or (found.until is not None and day > found.until):
            raise ParameterMissing(self, day)
        return found


class ParameterMissing(InputFault):
    def __init__(self, parameter: Parameter, day: _dt.date):
        self.parameter, self.day = parameter, day
        spans = ", ".join(_span(v) for v in parameter.values)
        super().__init__(f"parameter {parameter.name!r} has no value on {day.isoformat()} (it has values {spans})")


def _span(value: ParameterValue) -> str:
    start = value.since.isoformat() if value.since else "…"
    end = value.ends.isoformat() if value.ends else "…"
    return f"{start} to {end}"


class ParamUse:
    """A trace record: a parameter consulted, with what it gave and why it was in force. Immutable by convention; a
    slotted class, as the trace events are (a traced run builds one per parameter, date and key it reads)."""

    __slots__ = ("name", "label", "at", "key", "value", "since", "until", "source", "unconfirmed", "origin",
                 "identity", "written")
    _fields = ("name", "label", "at", "key", "value", "since", "until", "source", "unconfirmed", "origin")

    def __init__(self, name: str, label: str, at: _dt.date, key: Optional[str], value: Any,
                 since: Optional[_dt.date], until: Optional[_dt.date], source: str, unconfirmed: bool,
                 origin: str = ""):
        self.name = name
        self.label = label
        self.at = at
        self.key = key
        self.value = value
        self.since = since
        self.until = until
        self.source = source
        self.unconfirmed = unconfirmed
        self.origin = origin  # the policy file the value came from
        # what makes two uses the same in a trace: the parameter, its key, and the value and date it was read on
        self.identity: Tuple[Any, ...] = (name, key, since, at)
        self.written: Optional[Dict[str, Any]] = None  # its trace entry as data, once written (views.trace_data)

    def _astuple(self) -> tuple:
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other: object) -> bool:
        return other.__class__ is ParamUse and self._astuple() == other._astuple()

    def __hash__(self) -> int:
        return hash(self.identity)

    def __repr__(self) -> str:
        return "ParamUse(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields) + ")"

    def in_force(self) -> str:
        if self.since is None:
            text = "in force before any later value (start not stated by the source)"
        else:
            text = f"in force from {self.since.isoformat()}"
        if self.until is not None:
            text += f" until {self.until.isoformat()}"
        return text


def tier(table: Iterable[Tuple[Decimal, Decimal]], x: Number) -> Decimal:
    """The amount of the highest threshold ``x`` reaches, or 0."""
    amount = Decimal(0)
    for threshold, value in table:
        if x >= threshold:
            amount = value
    return amount


def all_values(parameter: Parameter) -> Iterator[Decimal]:
    """Every number a parameter holds, on any date and for any key (a table's thresholds and amounts too)."""
    for pv in parameter.values:
        value = pv.value
        if isinstance(value, dict):
            yield from (v for v in value.values() if isinstance(v, Decimal))
        elif isinstance(value, tuple):
            for threshold, amount in value:
                yield threshold
                yield amount
        elif isinstance(value, Decimal):
            yield value
