"""Trace events: what the engine records while it decides, and nothing else.

A closed set of immutable records. Renderers (:mod:`subsidy_rules.views.render`) are pure
functions over them; the engine never formats text for people here, beyond
keeping expressions as the policy wrote them and with the values it saw.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional, Tuple

from ..policy.parameters import ParamUse


@dataclass(frozen=True)
class RuleApplied:
    """Which rule was tried, for which subject, under which clause."""

    rule: str
    label: str
    clause: str
    heading: str
    clause_text: str
    subject: str  # workshop / worker / loan
    subject_id: str
    origin: str  # the policy file the rule came from


@dataclass(frozen=True)
class Required:
    """A derived fact the rule needed, and the rules that asserted it."""

    fact: str
    holder_id: str
    holds: bool
    asserted_by: Tuple[Tuple[str, str], ...]  # (rule id, clause id)
    routes: Optional[Tuple[str, ...]] = None  # a status held by one of these routes opens the rule (None: any)
    route: Optional[str] = None  # the route the holder holds the status by


@dataclass(frozen=True)
class Held:
    """A status held from before the period: not tested again, cited from where it was granted."""

    status: str  # the status's label
    route: str
    since: _dt.date
    source: str  # where the grant was read from: the facts file, or the ledger's run
    ended_on: Optional[_dt.date] = None  # an end dated on or before the grant (which the grant outlives)


@dataclass(frozen=True)
class Pending:
    """A decision that waits for parameter values the policy does not have yet."""

    missing: Tuple[Tuple[str, _dt.date, Optional[str]], ...]  # (parameter, date, key)


@dataclass(frozen=True)
class TopUp:
    """An exclusivity group judged over time: an entitlement paid as top-ups against the other side's payments."""

    group: str
    clause: str
    won: bool  # this decision's side won
    lump: str  # the member whose amount is the entitlement reached so far
    other: str
    reached: Decimal  # T: the entitlement reached now
    lump_paid: Decimal  # A: paid to the lump side before this period
    other_paid: Decimal  # H: paid to the other side before this period
    other_now: Decimal  # N: the other side's amounts in this evaluation
    net: Decimal  # T - A - H
    lump_wins: bool
    why: str  # lump_paid / reached / not_reached
    reading: Optional[str]


@dataclass(frozen=True)
class Condition:
    """One condition: its text, whether it held, and the values it read."""

    text: str
    label: Optional[str]
    holds: bool
    substituted: str
    seen: Tuple[Tuple[str, Any], ...]
    params: Tuple[ParamUse, ...]
    reading: Optional[str] = None


@dataclass(frozen=True)
class Let:
    name: str
    formula: str
    substituted: str
    value: Any


@dataclass(frozen=True)
class Arithmetic:
    """How an amount was worked out: the formula, with values, exact and rounded."""

    formula: str
    substituted: str
    exact: Decimal
    rounded: Decimal
    lets: Tuple[Let, ...]
    params: Tuple[ParamUse, ...]


@dataclass(frozen=True)
class Limit:
    """A cap on how many items count (the subsidy window of a per-month rule)."""

    text: str
    substituted: str
    value: Optional[int]
    params: Tuple[ParamUse, ...]


@dataclass(frozen=True)
class Item:
    """One item (a month) of a per-item rule: counted or not, and why."""

    item: str
    counted: bool
    reason: Optional[Condition]  # the first `where` condition that failed
    beyond_limit: bool
    arithmetic: Optional[Arithmetic]
    conditions: Tuple[Condition, ...] = ()  # the `where` conditions that held


@dataclass(frozen=True)
class Total:
    parts: Tuple[Decimal, ...]
    total: Decimal


@dataclass(frozen=True)
class NotReached:
    """Why a rule decided nothing: a requirement unmet, no item counted, or an amount of zero."""

    reason: str


@dataclass(frozen=True)
class Exclusive:
    """The outcome of an exclusivity group for this decision."""

    group: str
    clause: str
    strategy: str
    won: bool
    winner: str
    winner_amount: Decimal
    other: str
    other_amount: Decimal
    reading: Optional[str]


@dataclass(frozen=True)
class Outcome:
    outcome: str
    amount: Optional[Decimal]
    fund: Optional[str]
