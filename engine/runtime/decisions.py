"""Decisions: what a run concludes, exclusivity between rules, and totals."""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Tuple

from . import trace as T
from ..lang.compiled import EvalError
from ..policy.model import ExclusivityGroup
from ..problems import InputFault

if TYPE_CHECKING:
    from datetime import date

    from ..facts.model import Record
    from ..lang.compiled import CompiledExpr

OUTCOMES = ("certified", "revoked", "granted", "suppressed", "discretionary", "alert", "pending", "denied")
#: The outcomes whose amount is shown: paid, or what would have been paid but for an exclusivity group.
WITH_AMOUNT = ("granted", "suppressed")
NO_FUND = "none"


@dataclass(frozen=True)
class Decision:
    """One decision about one subject under one rule, with the trace behind it."""

    workshop: str
    worker: Optional[str]
    loan: Optional[str]
    rule: str
    clause: str
    outcome: str
    amount: Optional[Decimal]
    fund: Optional[str]
    events: Tuple
    reason: Optional[str] = None  # for denied decisions: why, in one line
    order: Tuple[int, int] = (0, 0)  # subject position, rule position: the output order
    items: Tuple[str, ...] = ()  # for a per-month rule: the months it counted (the ledger remembers them)
    details: Tuple[Tuple[str, object], ...] = ()  # route, basis and since of a certification; effective; waits_for
    # the first entries of its trace already written as data (runtime.recording: a run whose traces are wanted as data
    # only); ``events`` then holds what follows them (its outcome, and its exclusivity group's event)
    data: Tuple[Dict[str, Any], ...] = ()

    @property
    def subject(self) -> str:
        return "worker" if self.worker else "loan" if self.loan else "workshop"

    @property
    def shown_amount(self) -> Optional[Decimal]:
        """The amount the decisions document states: for a granted decision, and for a suppressed one the amount it
        would have had (semantics.md), else None."""
        return self.amount if self.outcome in WITH_AMOUNT else None

    @property
    def paid_amount(self) -> Optional[Decimal]:
        """The amount paid: a granted decision's, else None (a table a person sums, and its fund, show only this)."""
        return self.amount if self.outcome == "granted" else None

    def id_in(self, policy_sha256: str, period: str) -> str:
        """Stable across identical runs; changes when the policy, the period, the subject or the rule does."""
        key = "\x1f".join([policy_sha256, period, self.workshop, self.worker or "", self.loan or "", self.clause,
                           self.rule])
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]

    def detail(self, name: str, default: Any = None) -> Any:
        return next((v for k, v in self.details if k == name), default)


def period_key(start: date, end: date) -> str:
    """A period as decision ids and the ledger name it: "2022-07-01/2022-12-31"."""
    return f"{start.isoformat()}/{end.isoformat()}"


def decision_id(policy_sha256: str, period: str, d: Decision) -> str:
    """The stable id of ``d`` in a run of the policy with sha256 ``policy_sha256`` over ``period``."""
    return d.id_in(policy_sha256, period)


def resolve_exclusivity(decisions: List[Decision], groups: Iterable[ExclusivityGroup], shop: Optional[Record] = None,
                        why_not: bool = False) -> List[Decision]:
    """Within each workshop, keep one side of each exclusivity group; mark the other suppressed.

    A group with a pending member is pending as a whole for that workshop (or worker): which side wins cannot be
    known yet. ``shop`` (the workshop's record tree) is read by groups judged over time (``top_up``).
    """
    out = list(decisions)
    for group in groups:
        scopes = {d.worker for d in out if d.rule in group.members} if group.scope == "worker" else {None}
        for scope in sorted(scopes, key=str):
            if group.strategy == "top_up":
                assert shop is not None, "a group judged over time reads the workshop's records"
                out = _top_up(out, group, shop, why_not)
            elif not _pending_group(out, group, scope):
                _resolve_one(out, group, scope)
    return out


def _inside(group: ExclusivityGroup, worker: Optional[str]) -> Callable[[Decision], bool]:
    return lambda d: d.rule in group.members and (group.scope != "worker" or d.worker == worker)


def _waits(decisions: Iterable[Decision]) -> tuple:
    return tuple(dict.fromkeys(w for d in decisions for w in d.detail("waits_for", ())))


def _decided(d: Decision, outcome: str, amount: Optional[Decimal], event: Optional[object] = None,
             **changes: Any) -> Decision:
    """``d`` with a new outcome (and amount) from its exclusivity group; the trace ends with the group's event and
    the outcome as it now stands, not the one the rule reached alone."""
    events = d.events
    if events:
        kept = tuple(e for e in events if not isinstance(e, T.Outcome))
        events = kept + ((event,) if event is not None else ()) + (T.Outcome(outcome, amount, d.fund),)
    return dataclasses.replace(d, outcome=outcome, amount=amount, events=events, **changes)


def _as_pending(d: Decision, waits: tuple) -> Decision:
    reason = f"{d.clause} {d.rule}: pending with its exclusivity group"
    return _decided(d, "pending", None, T.Pending(waits), details=(("waits_for", waits),), reason=reason)


def _pending_group(out: List[Decision], group: ExclusivityGroup, worker: Optional[str]) -> bool:
    """If a member is pending, make every member pending; True if it did."""
    inside = _inside(group, worker)
    members = [n for n, d in enumerate(out) if inside(d) and d.outcome in ("granted", "pending")]
    if not any(out[n].outcome == "pending" for n in members):
        return False
    waits = _waits(out[n] for n in members)
    for n in members:
        out[n] = _as_pending(out[n], waits)
    return True


class GroupError(InputFault):
    """What an exclusivity group reads about a workshop could not be worked out; carries the group and the place."""

    def __init__(self, error: EvalError, group: ExclusivityGroup, member: str, expr: CompiledExpr,
                 shop: Record) -> None:
        super().__init__(error.message)
        self.error, self.group, self.member, self.expr, self.shop = error, group, member, expr, shop


def _paid_before(group: ExclusivityGroup, shop: Record) -> Dict[str, Decimal]:
    """What earlier periods paid each member, as the group's ``paid_before`` expressions read it (an amount)."""
    out: Dict[str, Decimal] = {}
    for member, expr in group.paid_before:
        try:
            value = expr.fn(dict(shop.env))
            if isinstance(value, Fraction):
                raise EvalError(f"{expr.text} is {value}, not an amount in yuan and fen", expr.ast, "eval.type")
        except EvalError as exc:
            raise GroupError(exc, group, member, expr, shop) from None
        out[member] = Decimal(value or 0)
    return out


def _top_up(out: List[Decision], group: ExclusivityGroup, shop: Record, why_not: bool) -> List[Decision]:
    """One workshop's group judged over time: the first member is an entitlement reached so far (T), paid as top-ups
    less what was paid before on either side (A, H); it wins once paid (A > 0) or when T >= H + N, N being the other
    member's amounts now. The winner's side is granted, the other suppressed; nothing paid is clawed back."""
    lump, other = group.members
    paid = _paid_before(group, shop)
    before_lump, before_other = paid.get(lump, Decimal(0)), paid.get(other, Decimal(0))
    lumps = [n for n, d in enumerate(out) if d.rule == lump and d.outcome in ("granted", "pending")]
    others = [n for n, d in enumerate(out) if d.rule == other and d.outcome in ("granted", "pending")]
    if not lumps and (not others or before_lump == 0):
        return out  # no award reached or paid: nothing competes with this period's hiring subsidies
    reached = sum((_granted(out[n]) for n in lumps if out[n].outcome == "granted"), Decimal(0))
    now = sum((_granted(out[n]) for n in others if out[n].outcome == "granted"), Decimal(0))
    net = reached - before_lump - before_other
    drop = set()
    if any(out[n].outcome == "pending" for n in lumps + others):
        waits = _waits(out[n] for n in lumps + others)
        for n in others:
            out[n] = _as_pending(out[n], waits)
        for n in lumps:
            if out[n].outcome != "pending" and net <= 0:
                drop.add(n)
            elif out[n].outcome != "pending":
                out[n] = _as_pending(out[n], waits)
        return [d for n, d in enumerate(out) if n not in drop]
    lump_wins = before_lump > 0 or (reached > 0 and reached >= before_other + now)
    why = "lump_paid" if before_lump > 0 else "reached" if lump_wins else "not_reached"

    def event(won: bool) -> T.TopUp:
        return T.TopUp(group.id, group.clause, won, lump, other, reached, before_lump, before_other, now, net,
                       lump_wins, why, group.reading)

    for n in lumps:
        d = out[n]
        if net <= 0:
            if why_not:
                reason = (f"{d.clause} {d.rule}: the amount reached ({reached}) less what was paid before on either "
                          f"side ({before_lump} + {before_other}) leaves nothing to pay")
                out[n] = _decided(d, "denied", None, event(False), fund=None, reason=reason)
            else:
                drop.add(n)
            continue
        out[n] = _decided(d, "granted" if lump_wins else "suppressed", net, event(lump_wins))
    for n in others:
        d = out[n]
        out[n] = _decided(d, "suppressed" if lump_wins else "granted", d.amount, event(not lump_wins))
    return [d for n, d in enumerate(out) if n not in drop]


def _granted(d: Decision) -> Decimal:
    """The amount of a granted decision (a granted decision always has one)."""
    assert d.amount is not None, d
    return d.amount


def _resolve_one(out: List[Decision], group: ExclusivityGroup, worker: Optional[str]) -> None:
    """Resolve ``group`` within one workshop (or, for a worker-scoped group, one worker)."""
    inside = _inside(group, worker)
    totals: Dict[str, Decimal] = {}
    for d in out:
        if inside(d) and d.outcome == "granted":
            totals[d.rule] = totals.get(d.rule, Decimal(0)) + _granted(d)
    if len(totals) < 2:
        return
    present = [m for m in group.members if m in totals]
    if group.strategy == "max":
        best = max(totals[m] for m in present)
        winner = next(m for m in present if totals[m] == best)  # a tie goes to the member listed first
    else:
        winner = present[0]
    for n, d in enumerate(out):
        if not inside(d) or d.rule not in totals or d.outcome != "granted":
            continue
        won = d.rule == winner
        others = [m for m in present if m != winner]
        other = others[0] if won else d.rule
        event = T.Exclusive(group.id, group.clause, group.strategy, won, winner, totals[winner],
                            other if won else d.rule, totals[other], group.reading)
        out[n] = _decided(d, "granted" if won else "suppressed", d.amount, event)


@dataclass(frozen=True)
class Totals:
    granted: Decimal
    by_funding_source: Dict[str, Decimal]
    by_clause: Dict[str, Decimal]
    counts: Dict[str, int]
    waiting: Dict[tuple, int] = dataclasses.field(default_factory=dict)  # (parameter, date, key) -> pending decisions

    @classmethod
    def of(cls, decisions: Iterable[Decision]) -> "Totals":
        granted = Decimal("0.00")
        by_fund: Dict[str, Decimal] = {}
        by_clause: Dict[str, Decimal] = {}
        counts: Dict[str, int] = {}
        waiting: Dict[tuple, int] = {}
        for d in decisions:
            counts[d.outcome] = counts.get(d.outcome, 0) + 1
            for missing in d.detail("waits_for", ()) if d.outcome == "pending" else ():
                waiting[missing] = waiting.get(missing, 0) + 1
            if d.outcome != "granted" or d.amount is None:
                continue
            granted += d.amount
            fund = d.fund or NO_FUND
            by_fund[fund] = by_fund.get(fund, Decimal("0.00")) + d.amount
            by_clause[d.clause] = by_clause.get(d.clause, Decimal("0.00")) + d.amount
        return cls(granted, dict(sorted(by_fund.items())), dict(sorted(by_clause.items(), key=lambda kv: clause_key(kv[0]))),
                   counts, dict(sorted(waiting.items(), key=lambda kv: (kv[0][0], kv[0][1], str(kv[0][2])))))

    def merge(self, other: "Totals") -> "Totals":
        def add(a: Dict[Any, Any], b: Dict[Any, Any]) -> Dict[Any, Any]:
            out = dict(a)
            for k, v in b.items():
                out[k] = out.get(k, 0) + v
            return out
        return Totals(self.granted + other.granted, dict(sorted(add(self.by_funding_source, other.by_funding_source).items())),
                      dict(sorted(add(self.by_clause, other.by_clause).items(), key=lambda kv: clause_key(kv[0]))),
                      add(self.counts, other.counts),
                      dict(sorted(add(self.waiting, other.waiting).items(), key=lambda kv: (kv[0][0], kv[0][1], str(kv[0][2])))))


def clause_key(clause: str) -> Tuple[int, ...]:
    """Clause ids in document order: "3.2" before "3.10"."""
    return tuple(int(p) for p in clause.split("."))
