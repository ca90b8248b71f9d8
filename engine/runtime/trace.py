"""Trace events: what the engine records while it decides, and nothing else.

A closed set of records, immutable by convention: compact slotted classes (building one costs a
fraction of a frozen dataclass), built only for results that become decisions. Each class lists its
fields in ``_fields``; an expression shown with the values it saw (``substituted``) is printed from
the expression's AST and those values only when a view reads it. Views (:mod:`subsidy_rules.views`)
are pure functions over them; the engine never formats text for people here, beyond keeping
expressions as the policy wrote them and with the values it saw.
"""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any, Optional, Tuple

from ..lang.tracing import Capture, Reads, ShowsValues


class _Event:
    """Equality and a readable repr, from ``_fields`` (the fields in their constructor's order)."""

    __slots__ = ()
    _fields: Tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, f) == getattr(other, f) for f in self._fields)

    def __hash__(self) -> int:
        return hash(tuple(_hashable(getattr(self, f)) for f in self._fields))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields) + ")"


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


class RuleApplied(_Event):
    """Which rule was tried, for which subject, under which clause."""

    __slots__ = ('rule', 'label', 'clause', 'heading', 'clause_text', 'subject', 'subject_id', 'origin')
    _fields = ('rule', 'label', 'clause', 'heading', 'clause_text', 'subject', 'subject_id', 'origin')

    def __init__(self, rule: str,
                 label: str,
                 clause: str,
                 heading: str,
                 clause_text: str,
                 subject: str,
                 subject_id: str,
                 origin: str):
        self.rule = rule
        self.label = label
        self.clause = clause
        self.heading = heading
        self.clause_text = clause_text
        self.subject = subject  # workshop / worker / loan
        self.subject_id = subject_id
        self.origin = origin  # the policy file the rule came from


class Required(_Event):
    """A derived fact the rule needed, and the rules that asserted it."""

    __slots__ = ('fact', 'holder_id', 'holds', 'asserted_by', 'routes', 'route')
    _fields = ('fact', 'holder_id', 'holds', 'asserted_by', 'routes', 'route')

    def __init__(self, fact: str,
                 holder_id: str,
                 holds: bool,
                 asserted_by: Tuple[Tuple[str, str], ...],
                 routes: Optional[Tuple[str, ...]] = None,
                 route: Optional[str] = None):
        self.fact = fact
        self.holder_id = holder_id
        self.holds = holds
        self.asserted_by = asserted_by  # (rule id, clause id)
        self.routes = routes  # a status held by one of these routes opens the rule (None: any)
        self.route = route  # the route the holder holds the status by


class Held(_Event):
    """A status held from before the period: not tested again, cited from where it was granted."""

    __slots__ = ('status', 'route', 'since', 'source', 'ended_on')
    _fields = ('status', 'route', 'since', 'source', 'ended_on')

    def __init__(self, status: str, route: str, since: _dt.date, source: str, ended_on: Optional[_dt.date] = None):
        self.status = status  # the status's label
        self.route = route
        self.since = since
        self.source = source  # where the grant was read from: the facts file, or the ledger's run
        self.ended_on = ended_on  # an end dated on or before the grant (which the grant outlives)


class Pending(_Event):
    """A decision that waits for parameter values the policy does not have yet."""

    __slots__ = ('missing',)
    _fields = ('missing',)

    def __init__(self, missing: Tuple[Tuple[str, _dt.date, Optional[str]], ...]):
        self.missing = missing  # (parameter, date, key)


class TopUp(_Event):
    """An exclusivity group judged over time: an entitlement paid as top-ups against the other side's payments."""

    __slots__ = ('group', 'clause', 'won', 'lump', 'other', 'reached', 'lump_paid', 'other_paid', 'other_now',
                 'net', 'lump_wins', 'why', 'reading')
    _fields = ('group', 'clause', 'won', 'lump', 'other', 'reached', 'lump_paid', 'other_paid', 'other_now', 'net',
               'lump_wins', 'why', 'reading')

    def __init__(self, group: str,
                 clause: str,
                 won: bool,
                 lump: str,
                 other: str,
                 reached: Decimal,
                 lump_paid: Decimal,
                 other_paid: Decimal,
                 other_now: Decimal,
                 net: Decimal,
                 lump_wins: bool,
                 why: str,
                 reading: Optional[str]):
        self.group = group
        self.clause = clause
        self.won = won  # this decision's side won
        self.lump = lump  # the member whose amount is the entitlement reached so far
        self.other = other
        self.reached = reached  # T: the entitlement reached now
        self.lump_paid = lump_paid  # A: paid to the lump side before this period
        self.other_paid = other_paid  # H: paid to the other side before this period
        self.other_now = other_now  # N: the other side's amounts in this evaluation
        self.net = net  # T - A - H
        self.lump_wins = lump_wins
        self.why = why  # lump_paid / reached / not_reached
        self.reading = reading


class Condition(ShowsValues, Reads, _Event):
    """One condition: its text, whether it held, and the values it read."""

    __slots__ = ('text', 'label', 'holds', '_substituted', '_capture', 'reading')
    _fields = ('text', 'label', 'holds', 'substituted', 'seen', 'params', 'reading')

    def __init__(self, text: str,
                 label: Optional[str],
                 holds: bool,
                 substituted: Any,
                 capture: Capture,
                 reading: Optional[str] = None):
        self.text = text
        self.label = label
        self.holds = holds
        self._substituted = substituted
        self._capture = capture  # what it read: ``seen`` and ``params`` (each once) are worked out from it
        self.reading = reading


class Let(ShowsValues, _Event):
    __slots__ = ('name', 'formula', '_substituted', 'value')
    _fields = ('name', 'formula', 'substituted', 'value')

    def __init__(self, name: str, formula: str, substituted: Any, value: Any):
        self.name = name
        self.formula = formula
        self._substituted = substituted
        self.value = value


class Arithmetic(ShowsValues, Reads, _Event):
    """How an amount was worked out: the formula, with values, exact and rounded."""

    __slots__ = ('formula', '_substituted', 'exact', 'rounded', 'lets', '_capture')
    _fields = ('formula', 'substituted', 'exact', 'rounded', 'lets', 'params')

    def __init__(self, formula: str,
                 substituted: Any,
                 exact: Decimal,
                 rounded: Decimal,
                 lets: Tuple[Let, ...],
                 capture: Capture):
        self.formula = formula
        self._substituted = substituted
        self.exact = exact
        self.rounded = rounded
        self.lets = lets
        self._capture = capture


class Limit(ShowsValues, Reads, _Event):
    """A cap on how many items count (the subsidy window of a per-month rule)."""

    __slots__ = ('text', '_substituted', 'value', '_capture')
    _fields = ('text', 'substituted', 'value', 'params')

    def __init__(self, text: str, substituted: Any, value: Optional[int], capture: Capture):
        self.text = text
        self._substituted = substituted
        self.value = value
        self._capture = capture


class Item(_Event):
    """One item (a month) of a per-item rule: counted or not, and why."""

    __slots__ = ('item', 'counted', 'reason', 'beyond_limit', 'arithmetic', 'conditions')
    _fields = ('item', 'counted', 'reason', 'beyond_limit', 'arithmetic', 'conditions')

    def __init__(self, item: str,
                 counted: bool,
                 reason: Optional[Condition],
                 beyond_limit: bool,
                 arithmetic: Optional[Arithmetic],
                 conditions: Tuple[Condition, ...] = ()):
        self.item = item
        self.counted = counted
        self.reason = reason  # the first `where` condition that failed
        self.beyond_limit = beyond_limit
        self.arithmetic = arithmetic
        self.conditions = conditions  # the `where` conditions that held


class Total(_Event):
    __slots__ = ('parts', 'total')
    _fields = ('parts', 'total')

    def __init__(self, parts: Tuple[Decimal, ...], total: Decimal):
        self.parts = parts
        self.total = total


#: Why a rule decided nothing (``NotReached.code``): each case a view words in the policy's language.
NOT_REACHED = {
    "no_item": "no item of a per-item rule qualified",
    "nothing": "the amount comes to nothing",
    "requires": "a derived fact it requires was not asserted",
    "requires_route": "a status it requires is held, but by a route that does not open it",
    "held": "the status it grants is held from before the period: not tested again",
    "ended": "the status it ends has already ended",
    "ended_stated": "the status it grants ended; only a grant stated after that date restores it",
    "not_held": "it ends a status the subject does not hold from before the period",
    "other_route": "the status it grants is granted by an earlier route",
    "paid_elsewhere": "a once-per-person payment already made elsewhere",
}


class NotReached(_Event):
    """Why a rule decided nothing: ``code`` (one of :data:`NOT_REACHED`), what the case names (``details``: pairs
    of a name and a value, such as a date or a route), and the engine's own line (``reason``, for developers)."""

    __slots__ = ('reason', 'code', 'details')
    _fields = ('reason', 'code', 'details')

    def __init__(self, reason: str, code: str, details: Tuple[Tuple[str, Any], ...] = ()):
        assert code in NOT_REACHED, code
        self.reason = reason
        self.code = code
        self.details = details


class Exclusive(_Event):
    """The outcome of an exclusivity group for this decision."""

    __slots__ = ('group', 'clause', 'strategy', 'won', 'winner', 'winner_amount', 'other', 'other_amount', 'reading')
    _fields = ('group', 'clause', 'strategy', 'won', 'winner', 'winner_amount', 'other', 'other_amount', 'reading')

    def __init__(self, group: str,
                 clause: str,
                 strategy: str,
                 won: bool,
                 winner: str,
                 winner_amount: Decimal,
                 other: str,
                 other_amount: Decimal,
                 reading: Optional[str]):
        self.group = group
        self.clause = clause
        self.strategy = strategy
        self.won = won
        self.winner = winner
        self.winner_amount = winner_amount
        self.other = other
        self.other_amount = other_amount
        self.reading = reading


class Outcome(_Event):
    __slots__ = ('outcome', 'amount', 'fund')
    _fields = ('outcome', 'amount', 'fund')

    def __init__(self, outcome: str, amount: Optional[Decimal], fund: Optional[str]):
        self.outcome = outcome
        self.amount = amount
        self.fund = fund
