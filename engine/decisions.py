"""Decisions: what a run concludes, exclusivity between rules, and totals."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Dict, Iterable, List, Optional, Tuple

from . import trace as T
from .policy import ExclusivityGroup

OUTCOMES = ("certified", "revoked", "granted", "suppressed", "discretionary", "alert", "denied")
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

    @property
    def subject(self) -> str:
        return "worker" if self.worker else "loan" if self.loan else "workshop"


def resolve_exclusivity(decisions: List[Decision], groups: Iterable[ExclusivityGroup]) -> List[Decision]:
    """Within each workshop, keep one side of each exclusivity group; mark the other suppressed."""
    out = list(decisions)
    for group in groups:
        scopes = {d.worker for d in out if d.rule in group.members} if group.scope == "worker" else {None}
        for scope in sorted(scopes, key=str):
            _resolve_one(out, group, scope)
    return out


def _resolve_one(out: List[Decision], group: ExclusivityGroup, worker: Optional[str]) -> None:
    """Resolve ``group`` within one workshop (or, for a worker-scoped group, one worker)."""
    def inside(d: Decision) -> bool:
        return d.rule in group.members and (group.scope != "worker" or d.worker == worker)
    totals: Dict[str, Decimal] = {}
    for d in out:
        if inside(d) and d.outcome == "granted":
            totals[d.rule] = totals.get(d.rule, Decimal(0)) + d.amount
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
        events = d.events + (event,) if d.events else ()
        out[n] = dataclasses.replace(d, outcome="granted" if won else "suppressed", events=events)


@dataclass(frozen=True)
class Totals:
    granted: Decimal
    by_funding_source: Dict[str, Decimal]
    by_clause: Dict[str, Decimal]
    counts: Dict[str, int]

    @classmethod
    def of(cls, decisions: Iterable[Decision]) -> "Totals":
        granted = Decimal("0.00")
        by_fund: Dict[str, Decimal] = {}
        by_clause: Dict[str, Decimal] = {}
        counts: Dict[str, int] = {}
        for d in decisions:
            counts[d.outcome] = counts.get(d.outcome, 0) + 1
            if d.outcome != "granted" or d.amount is None:
                continue
            granted += d.amount
            fund = d.fund or NO_FUND
            by_fund[fund] = by_fund.get(fund, Decimal("0.00")) + d.amount
            by_clause[d.clause] = by_clause.get(d.clause, Decimal("0.00")) + d.amount
        return cls(granted, dict(sorted(by_fund.items())), dict(sorted(by_clause.items(), key=lambda kv: clause_key(kv[0]))),
                   counts)

    def merge(self, other: "Totals") -> "Totals":
        def add(a, b):
            out = dict(a)
            for k, v in b.items():
                out[k] = out.get(k, 0) + v
            return out
        return Totals(self.granted + other.granted, dict(sorted(add(self.by_funding_source, other.by_funding_source).items())),
                      dict(sorted(add(self.by_clause, other.by_clause).items(), key=lambda kv: clause_key(kv[0]))),
                      add(self.counts, other.counts))


def clause_key(clause: str):
    """Clause ids in document order: "3.2" before "3.10"."""
    return tuple(int(p) for p in clause.split("."))
