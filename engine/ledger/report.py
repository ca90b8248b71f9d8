"""What the ledger has paid, and how far the policy's targets are met: the data, then its views.

Totals count granted entries net of reversals, by fund, clause, city and
county, for the entries whose period lies inside the report's. A target counts
the subjects tallied by the latest recorded run of each workshop in the range
(the standing at the end of the range), distinct across workshops.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Dict, Optional, Tuple

from sqlalchemy import select

from ..decisions import NO_FUND, clause_key
from ..render import table
from .tables import coverage, entries, tallies

_ZERO = Decimal("0.00")


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


def build(ledger, policy, start: Optional[_dt.date] = None, end: Optional[_dt.date] = None) -> LedgerReport:
    """The report for entries whose period lies in [start, end] (either may be open)."""
    s, e = (start.isoformat() if start else None), (end.isoformat() if end else None)
    cond = []
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
            amount = Decimal(row.amount)
            granted += amount
            for totals, key in ((by_fund, row.fund or NO_FUND), (by_clause, row.clause), (by_city, row.city or ""),
                                (by_county, (row.city or "", row.county or ""))):
                totals[key] = totals.get(key, _ZERO) + amount
        progress = tuple(_progress(conn, settings, s, e)) if settings else ()
        pending = tuple(_pending(conn, cond))
    return LedgerReport(ledger.display, policy.id, s, e, granted, dict(sorted(by_fund.items())),
                        dict(sorted(by_clause.items(), key=lambda kv: clause_key(kv[0]))), dict(sorted(by_city.items())),
                        dict(sorted(by_county.items())), count, reversals, progress, pending)


def _pending(conn, cond):
    """The pending entries in range that no later run reversed (superseding the period decides them)."""
    rev = entries.alias("rev")
    q = (select(entries).select_from(entries.outerjoin(rev, rev.c.reverses == entries.c.seq))
         .where(entries.c.kind == "decision", entries.c.outcome == "pending", rev.c.seq.is_(None), *cond)
         .order_by(entries.c.period_start, entries.c.workshop, entries.c.worker, entries.c.clause))
    for row in conn.execute(q):
        waits = json.loads(row.details).get("waits_for", []) if row.details else []
        yield Pending(row.period_start, row.period_end, row.workshop, row.worker, row.loan, row.clause, row.rule,
                      tuple((w["parameter"], w["date"], w.get("key")) for w in waits))


def _progress(conn, settings, start: Optional[str], end: Optional[str]):
    """Each target against what the latest run of each workshop in the range tallied."""
    cond = []
    if start:
        cond.append(coverage.c.month >= start[:7])
    if end:
        cond.append(coverage.c.month <= end[:7])
    latest: Dict[str, Tuple[str, str]] = {}  # workshop -> (month, run id)
    for shop, month, run_id in conn.execute(select(coverage.c.workshop, coverage.c.month, coverage.c.run_id).where(*cond)):
        if shop not in latest or month > latest[shop][0]:
            latest[shop] = (month, run_id)
    wanted = {(run_id, shop) for shop, (_, run_id) in latest.items()}
    counted: Dict[str, set] = {t.id: set() for t in settings.targets}
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


def to_dict(report: LedgerReport) -> dict:
    return {
        "ledger": report.ledger, "policy": report.policy_id,
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


def to_text(report: LedgerReport, policy) -> str:
    span = f"{report.start or '…'} .. {report.end or '…'}"
    out = [f"ledger {report.ledger}, policy {report.policy_id}, periods within {span}",
           f"{report.entries} entries ({report.reversals} reversals); granted {_money(report.granted)}", ""]

    def block(title, items):
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
        for p in report.pending:
            who = f"worker {p.worker}" if p.worker else f"loan {p.loan}" if p.loan else "workshop"
            waits = ", ".join(f"{n}{f'[{k}]' if k else ''} on {d}" for n, d, k in p.waits_for)
            out.append(f"  {p.period_start}..{p.period_end} {p.workshop} {who}: {p.clause} {p.rule} waits for {waits}")
        out.append("")
    if report.progress:
        out.append("targets")
        for p in report.progress:
            by = f" by {p.by.isoformat()}" if p.by else ""
            out.append(f"  {p.clause} {p.label}: {p.counted:,} of {p.target:,}{by} ({p.share}%)")
        out.append("")
    return "\n".join(out)


def to_csv(report: LedgerReport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["table", "key", "subkey", "amount_or_count", "target"])
    w.writerow(["total", "granted", "", str(report.granted), ""])
    for k, v in report.by_fund.items():
        w.writerow(["fund", k, "", str(v), ""])
    for k, v in report.by_clause.items():
        w.writerow(["clause", k, "", str(v), ""])
    for k, v in report.by_city.items():
        w.writerow(["city", k, "", str(v), ""])
    for (c, n), v in report.by_county.items():
        w.writerow(["county", c, n, str(v), ""])
    for p in report.progress:
        w.writerow(["target", p.id, p.clause, p.counted, p.target])
    for p in report.pending:
        w.writerow(["pending", p.workshop, p.worker or p.loan or "", p.clause,
                    " ".join(f"{n}@{d}" for n, d, _ in p.waits_for)])
    return buf.getvalue()
