"""What the ledger has paid, and how far the policy's targets are met: the data, then its views.

Totals count granted entries net of reversals, by fund, clause, city and
county, for the entries whose period lies inside the report's. A target counts
the subjects tallied by the latest recorded run of each workshop in the range
(the standing at the end of the range), distinct across workshops.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.engine import Connection

from ..runtime.decisions import NO_FUND, clause_key
from ..problems import InvalidInput
from ..views.formats import table
from . import chain
from .model import Head
from .store import Ledger
from .tables import coverage, entries, tallies

if TYPE_CHECKING:
    from ..policy.history import LedgerSettings
    from ..policy.model import Policy

_ZERO = Decimal("0.00")
_K = TypeVar("_K")


@dataclass(frozen=True)
class Progress:
    id: str
    label: str
    clause: str
    counted: int
    target: int
    by: Optional[_dt.date]
    source: str

    @property
    def share(self) -> Decimal:
        return (Decimal(self.counted) * 100 / Decimal(self.target)).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class LedgerReport:
    ledger: str
    policy_id: str
    start: Optional[str]
    end: Optional[str]
    granted: Decimal
    by_fund: Dict[str, Decimal]
    by_clause: Dict[str, Decimal]
    by_city: Dict[str, Decimal]
    by_county: Dict[Tuple[str, str], Decimal]
    entries: int
    reversals: int
    progress: Tuple[Progress, ...]
    pending: Tuple["Pending", ...] = ()
    head: Optional[Head] = None  # the ledger's head when the report was made


@dataclass(frozen=True)
class Pending:
    """A decision recorded as pending and not yet superseded: what it waits for."""

    period_start: str
    period_end: str
    workshop: str
    worker: Optional[str]
    loan: Optional[str]
    clause: str
    rule: str
    waits_for: Tuple[Tuple[str, str, Optional[str]], ...]  # (parameter, date, key)


def build(ledger: Ledger, policy: Policy, start: Optional[_dt.date] = None, end: Optional[_dt.date] = None
          ) -> LedgerReport:
    """The report for entries whose period lies in [start, end] (either may be open). The ledger is verified first:
    InvalidInput (``ledger.tampered`` / ``ledger.damaged``) naming every break rather than totals from a ledger that
    does not bear out its chain."""
    found = ledger.verify()
    if found.breaks:
        raise InvalidInput(ledger.damage(found.breaks, "no report is made from it"))
    s, e = (start.isoformat() if start else None), (end.isoformat() if end else None)
    cond: List[ColumnElement[bool]] = []
    if s:
        cond.append(entries.c.period_start >= s)
    if e:
        cond.append(entries.c.period_end <= e)
    granted = _ZERO
    by_fund: Dict[str, Decimal] = {}
    by_clause: Dict[str, Decimal] = {}
    by_city: Dict[str, Decimal] = {}
    by_county: Dict[Tuple[str, str], Decimal] = {}
    count = reversals = 0
    settings = policy.ledger
    with ledger.reading() as conn:
        q = select(entries.c.kind, entries.c.outcome, entries.c.amount, entries.c.fund, entries.c.clause,
                   entries.c.city, entries.c.county).where(*cond)
        for row in conn.execute(q):
            count += 1
            reversals += row.kind == "reversal"
            if row.outcome != "granted" or row.amount is None:
                continue
            try:
                amount = Decimal(row.amount)
            except (InvalidOperation, TypeError, ValueError):  # altered after it was verified, a moment ago
                raise InvalidInput(ledger.damage([chain.Break("entry", 0, f"an entry's amount {row.amount!r} is not a "
                                                              "decimal number", chain.DAMAGED)])) from None
            granted += amount
            _add(by_fund, row.fund or NO_FUND, amount)
            _add(by_clause, row.clause, amount)
            _add(by_city, row.city or "", amount)
            _add(by_county, (row.city or "", row.county or ""), amount)
        progress = tuple(_progress(conn, settings, s, e)) if settings else ()
        pending = tuple(_pending(conn, cond))
    return LedgerReport(ledger.display, policy.id, s, e, granted, dict(sorted(by_fund.items())),
                        dict(sorted(by_clause.items(), key=lambda kv: clause_key(kv[0]))), dict(sorted(by_city.items())),
                        dict(sorted(by_county.items())), count, reversals, progress, pending, found.head)


def _add(totals: Dict[_K, Decimal], key: _K, amount: Decimal) -> None:
    totals[key] = totals.get(key, _ZERO) + amount


def _pending(conn: Connection, cond: Iterable[ColumnElement[bool]]) -> Iterator[Pending]:
    """The pending entries in range that no later run reversed (superseding the period decides them)."""
    rev = entries.alias("rev")
    q = (select(entries).select_from(entries.outerjoin(rev, rev.c.reverses == entries.c.seq))
         .where(entries.c.kind == "decision", entries.c.outcome == "pending", rev.c.seq.is_(None), *cond)
         .order_by(entries.c.period_start, entries.c.workshop, entries.c.worker, entries.c.clause))
    for row in conn.execute(q):
        details = json.loads(row.details) if row.details else {}
        waits = details.get("waits_for", []) if isinstance(details, dict) else []
        yield Pending(row.period_start, row.period_end, row.workshop, row.worker, row.loan, row.clause, row.rule,
                      tuple((w["parameter"], w["date"], w.get("key")) for w in waits))


def _progress(conn: Connection, settings: LedgerSettings, start: Optional[str], end: Optional[str]
              ) -> Iterator[Progress]:
    """Each target against what the latest run of each workshop in the range tallied."""
    cond: List[ColumnElement[bool]] = []
    if start:
        cond.append(coverage.c.month >= start[:7])
    if end:
        cond.append(coverage.c.month <= end[:7])
    latest: Dict[str, Tuple[str, str]] = {}  # workshop -> (month, run id)
    for shop, month, run_id in conn.execute(select(coverage.c.workshop, coverage.c.month, coverage.c.run_id).where(*cond)):
        if shop not in latest or month > latest[shop][0]:
            latest[shop] = (month, run_id)
    wanted = {(run_id, shop) for shop, (_, run_id) in latest.items()}
    counted: Dict[str, Set[str]] = {t.id: set() for t in settings.targets}
    counts = {t.id: t.counts for t in settings.targets}
    if wanted:
        for row in conn.execute(select(tallies).where(tallies.c.run_id.in_(sorted({r for r, _ in wanted})))):
            if (row.run_id, row.workshop) in wanted and row.target in counted:
                key = row.workshop if counts[row.target] == "workshop" else settings.person_key(row.workshop, row.subject)
                counted[row.target].add(key)
    for t in settings.targets:
        yield Progress(t.id, t.label, t.clause, len(counted[t.id]), t.target, t.by, t.source)


# --- views ----------------------------------------------------------------------------------------------------------

def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def to_dict(report: LedgerReport) -> Dict[str, Any]:
    h = report.head
    return {
        "ledger": report.ledger, "policy": report.policy_id,
        "head": None if h is None else {"run": h.runs, "entry": h.entries, "hash": h.chain, "entry_hash": h.entry_hash},
        "period": {"start": report.start, "end": report.end},
        "entries": report.entries, "reversals": report.reversals, "granted": str(report.granted),
        "by_funding_source": {k: str(v) for k, v in report.by_fund.items()},
        "by_clause": {k: str(v) for k, v in report.by_clause.items()},
        "by_city": {k: str(v) for k, v in report.by_city.items()},
        "by_county": [{"city": c, "county": n, "granted": str(v)} for (c, n), v in report.by_county.items()],
        "pending": [{"period": {"start": p.period_start, "end": p.period_end}, "workshop": p.workshop,
                     "worker": p.worker, "loan": p.loan, "clause": p.clause, "rule": p.rule,
                     "waits_for": [{"parameter": n, "date": d, "key": k} for n, d, k in p.waits_for]}
                    for p in report.pending],
        "targets": [{"id": p.id, "label": p.label, "clause": p.clause, "counted": p.counted, "target": p.target,
                     "percent": str(p.share), "by": p.by.isoformat() if p.by else None, "source": p.source}
                    for p in report.progress],
    }


def to_text(report: LedgerReport, policy: Policy) -> str:
    span = f"{report.start or '…'} .. {report.end or '…'}"
    out = [f"ledger {report.ledger}, policy {report.policy_id}, "
           + (f"periods within {span}" if report.start or report.end else "all periods")]
    if report.head is not None:
        out.append(f"head: {report.head} (verified)")
    out += [f"{report.entries} entries ({report.reversals} reversals); granted {_money(report.granted)}", ""]

    def block(title: str, items: Iterable[Tuple[str, Decimal]]) -> None:
        out.append(title)
        out.extend("  " + line for line in table([[k, _money(v)] for k, v in items] or [["(none)", ""]], right={1}))
        out.append("")
    block(f"by fund ({policy.label('report.totals', 'by fund')})",
          [(f"{k} {policy.label(k)}" if policy.label(k) != k else k, v) for k, v in report.by_fund.items()])
    block("by clause", list(report.by_clause.items()))
    block("by city", [(k or "(none)", v) for k, v in report.by_city.items()])
    block("by county", [(f"{c or '(none)'} / {n or '(none)'}", v) for (c, n), v in report.by_county.items()])
    if report.pending:
        out.append(f"pending ({policy.label('pending', 'pending')}): {len(report.pending)} decisions wait for parameter "
                   "values; add them to the policy, then evaluate the period again with --record --supersede")
        for w in report.pending:
            who = f"worker {w.worker}" if w.worker else f"loan {w.loan}" if w.loan else "workshop"
            waits = ", ".join(f"{n}{f'[{k}]' if k else ''} on {d}" for n, d, k in w.waits_for)
            out.append(f"  {w.period_start}..{w.period_end} {w.workshop} {who}: {w.clause} {w.rule} waits for {waits}")
        out.append("")
    if report.progress:
        out.append("targets")
        for p in report.progress:
            by = f" by {p.by.isoformat()}" if p.by else ""
            out.append(f"  {p.clause} {p.label}: {p.counted:,} of {p.target:,}{by} ({p.share}%)")
        out.append("")
    return "\n".join(out)


def to_csv(report: LedgerReport) -> str:
    """The report as CSV: one row per total, target and pending decision.

    Text fields (funds, clauses, cities, counties, workshop and worker ids, what a
    pending decision waits for) are escaped as ``subsidy_rules.views.exports.csv_line`` says
    (control characters and lone surrogates made visible, a leading ``= + - @``,
    tab or CR neutralised with a single quote, OWASP); amounts and counts are
    numbers and are written as they are, so a net ``-100.00`` stays a number.
    """
    from ..views.exports import csv_line

    lines = [csv_line([(c, True) for c in ("table", "key", "subkey", "amount_or_count", "target")]),
             csv_line([("total", True), ("granted", True), ("", True), (str(report.granted), False), ("", False)])]
    if report.head is not None:  # the ledger's head: run and entry numbers, and the hash that stands for them all
        lines.append(csv_line([("head", True), (report.head.runs, False), (report.head.entries, False),
                               (report.head.chain, True), ("", False)]))
    for k, v in report.by_fund.items():
        lines.append(csv_line([("fund", True), (k, True), ("", True), (str(v), False), ("", False)]))
    for k, v in report.by_clause.items():
        lines.append(csv_line([("clause", True), (k, True), ("", True), (str(v), False), ("", False)]))
    for k, v in report.by_city.items():
        lines.append(csv_line([("city", True), (k, True), ("", True), (str(v), False), ("", False)]))
    for (c, n), v in report.by_county.items():
        lines.append(csv_line([("county", True), (c, True), (n, True), (str(v), False), ("", False)]))
    for p in report.progress:
        lines.append(csv_line([("target", True), (p.id, True), (p.clause, True), (p.counted, False), (p.target, False)]))
    for w in report.pending:
        # a pending row carries text in the last two columns: the clause and what it waits for
        lines.append(csv_line([("pending", True), (w.workshop, True), (w.worker or w.loan or "", True), (w.clause, True),
                               (" ".join(f"{n}@{d}" for n, d, _ in w.waits_for), True)]))
    return "".join(lines)
