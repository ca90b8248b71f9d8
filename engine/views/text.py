"""The terminal view of a run (``--format text``) and the pending summary on standard error."""
from __future__ import annotations

from decimal import Decimal
from typing import Dict, List

from ..runtime.decisions import Decision, NO_FUND
from .formats import money, subject_label, table


def to_text(evaluation) -> str:
    """A per-workshop table a person can read, with totals by fund."""
    policy, facts = evaluation.policy, evaluation.facts
    out = [f"{policy.title} ({policy.document}) — policy {policy.id}",
           f"period {facts.period_start} to {facts.period_end}; engine {evaluation.backend}", ""]
    by_ws: Dict[str, List[Decision]] = {}
    for d in evaluation.decisions:
        by_ws.setdefault(d.workshop, []).append(d)
    for ws in facts.workshops:
        ws_id = ws["id"]
        decisions = by_ws.get(ws_id, [])
        where = " ".join(x for x in (ws.get("city"), ws.get("county")) if x)
        status = [d for d in decisions if d.outcome in ("certified", "revoked") and d.subject == "workshop"]
        state = ", ".join(f"{policy.label(d.outcome)} {d.outcome} ({d.clause}"
                          + (f", held since {d.detail('since')}" if d.detail("basis") == "held" else "")
                          + (f", from {d.detail('effective')}" if d.detail("effective") else "") + ")"
                          for d in status) or "not certified"
        out.append(f"Workshop {ws_id}" + (f" {ws['name']}" if ws.get("name") else "") + (f" ({where})" if where else "")
                   + f": {state}")
        if not decisions:
            out.append("  no decision (run with --why-not to see the first condition each rule failed)")
            out.append("")
            continue
        rows = [[policy.label(f"column.{key}", key) for key in ("subject", "clause", "rule", "outcome", "amount", "fund")]]
        total = Decimal("0.00")
        for d in decisions:
            fund = policy.label(d.fund) if d.fund else ("-" if d.amount is None else policy.label(NO_FUND))
            amount = money(d.shown_amount) or "-"
            rows.append([subject_label(d, policy), d.clause, d.rule, policy.label(d.outcome), amount or "-", fund])
            if d.outcome == "granted" and d.amount is not None:
                total += d.amount
        out.extend("  " + line for line in table(rows, right={4}))
        for d in decisions:
            if d.reason:
                why = policy.label("pending", "pending") if d.outcome == "pending" else "why not"
                out.append(f"  {why}: {subject_label(d, policy)}: {d.reason}")
        out.append(f"  granted to this workshop: {money(total)}")
        out.append("")
    totals = evaluation.totals
    rows = [[policy.label("column.fund", "fund"), policy.label("column.fund_code", "code"), policy.label("column.amount", "granted")]]
    for fund, amount in totals.by_funding_source.items():
        rows.append([policy.label(fund), fund, money(amount)])
    rows.append([policy.label("total", "total"), "", money(totals.granted)])
    out.append("Totals by fund")
    out.extend("  " + line for line in table(rows, right={2}))
    rows = [[policy.label("column.clause", "clause"), policy.label("column.heading", "heading"), policy.label("column.amount", "granted")]]
    for clause, amount in totals.by_clause.items():
        rows.append([clause, policy.clauses[clause].heading if clause in policy.clauses else "", money(amount)])
    out.append("Totals by clause")
    out.extend("  " + line for line in table(rows, right={2}))
    counts = ", ".join(f"{n} {k}" for k, n in sorted(totals.counts.items()))
    out.append(f"Decisions: {counts or 'none'}")
    return "\n".join(out) + "\n"


def pending_lines(totals) -> List[str]:
    """What a run could not decide yet, for standard error: how many decisions wait, and for which values."""
    count = totals.counts.get("pending", 0)
    if not count:
        return []
    lines = [f"{count} decision{'s' * (count != 1)} pending: the policy has no value yet for"]
    for (name, day, key), n in totals.waiting.items():
        keyed = f"[{key}]" if key is not None else ""
        lines.append(f"  parameter {name}{keyed} on {day.isoformat()} (needed by {n} of them)")
    lines.append("add each value to the policy with its source, then evaluate again (with a ledger: --record "
                 "--supersede)")
    return lines
