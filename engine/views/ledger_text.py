"""The ledger report for people (``subsidy ledger report``, ``--format text``): in the policy's language, every word
from its labels (``ledger.*``, ``text.*``), amounts with thousands separators (the one money formatter)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, List, Optional, Tuple

from .formats import money, table
from .reasons import Words

if TYPE_CHECKING:
    from decimal import Decimal

    from ..ledger.report import LedgerReport
    from ..policy.model import Policy


def ledger_text(report: "LedgerReport", policy: "Policy") -> str:
    """Totals paid by fund, clause, city and county, what waits for a parameter value, and the targets' progress."""
    w = Words(policy)
    none = w("value.none")
    if report.start or report.end:
        span = w("ledger.periods", start=report.start or "…", end=report.end or "…")
    else:
        span = w("ledger.all_periods")
    out: List[str] = [w("ledger.title", ledger=report.ledger, policy=report.policy_id, span=span)]
    if report.head is not None:
        out.append(w("ledger.head", runs=report.head.runs, entries=report.head.entries, hash=report.head.chain))
    out += [w("ledger.entries", entries=f"{report.entries:,}", reversals=f"{report.reversals:,}",
              granted=money(report.granted, grouped=True)), ""]

    def block(title: str, items: Iterable[Tuple[str, "Decimal"]]) -> None:
        out.append(title)
        rows = [[k, money(v, grouped=True) or ""] for k, v in items] or [[none, ""]]
        out.extend("  " + line for line in table(rows, right={1}))
        out.append("")

    block(w("text.by_fund"), [(policy.label(k), v) for k, v in report.by_fund.items()])
    block(w("text.by_clause"), [(f"{k} {policy.clauses[k].heading}" if k in policy.clauses else k, v)
                                for k, v in report.by_clause.items()])
    block(w("ledger.by_city"), [(k or none, v) for k, v in report.by_city.items()])
    block(w("ledger.by_county"), [(f"{c or none} {n or none}", v) for (c, n), v in report.by_county.items()])
    if report.pending:
        out.append(w("ledger.pending", count=len(report.pending), pending=policy.label("pending")))
        for p in report.pending:
            subject = (f"{policy.label('subject.worker', 'worker')} {p.worker}" if p.worker else
                       f"{policy.label('subject.loan', 'loan')} {p.loan}" if p.loan else
                       policy.label("subject.workshop", "workshop"))
            waits = w("list.sep").join(w("ledger.waits", parameter=_parameter(policy, w, name, key), date=day)
                                       for name, day, key in p.waits_for)
            rule = policy.rule(p.rule).label if p.rule in {r.id for r in policy.rules} else p.rule
            out.append("  " + w("ledger.pending_line", start=p.period_start, end=p.period_end, workshop=p.workshop,
                                subject=subject, clause=p.clause, rule=rule, waits=waits))
        out.append("")
    if report.progress:
        out.append(w("ledger.targets"))
        for t in report.progress:
            by = w("ledger.by", date=t.by.isoformat()) if t.by else ""
            out.append("  " + w("ledger.target", clause=t.clause, label=t.label, counted=f"{t.counted:,}",
                                target=f"{t.target:,}", by=by, share=t.share))
        out.append("")
    return "\n".join(out)


def _parameter(policy: "Policy", w: Words, name: str, key: Optional[str]) -> str:
    """A parameter by its label (and its key's label), as the trace names it."""
    parameter = policy.parameters.get(name)
    label = parameter.label if parameter is not None else name
    if key is None or key == "":
        return label
    codes = w.codes(parameter.keyed_by) if parameter is not None and parameter.keyed_by else None
    return label + w("trace.key", key=codes.get(key, key) if codes else key)
