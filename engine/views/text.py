"""The terminal view of a run (``--format text``) and the pending summary on standard error.

In the policy's language: labels for rules, outcomes, funds and codes (never a rule id), amounts with
thousands separators (the one money formatter), a workshop's standing with its reason.
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Dict, List, Optional

from ..runtime.decisions import Decision, NO_FUND
from .formats import money, outcome_label, subject_label, table
from .reasons import Words, standing, why_not_line

if TYPE_CHECKING:
    from ..runtime.decisions import Totals
    from ..runtime.evaluate import Evaluation
    from ..policy.model import Policy


def to_text(evaluation: "Evaluation", why_not: Optional[bool] = None) -> str:
    """A per-workshop table a person can read, with totals by fund and by clause.

    ``why_not`` (default: as the run was made): list the rules that did not fire. A run made with why-not shows
    without it only why a workshop is not certified."""
    policy, facts = evaluation.policy, evaluation.facts
    why_not = evaluation.why_not if why_not is None else why_not
    w = Words(policy)
    title = w("trace.title", title=policy.title, document=policy.document) if policy.document else policy.title
    out = [title,
           f"{policy.label('report.period', 'period')} {facts.period_start} – {facts.period_end} · "
           f"{policy.label('report.policy', 'policy')} {policy.id} · {policy.label('report.engine', 'engine')} "
           f"{evaluation.backend}", ""]
    by_ws: Dict[str, List[Decision]] = {}
    for d in evaluation.decisions:
        by_ws.setdefault(d.workshop, []).append(d)
    for ws in facts.workshops:
        ws_id = ws["id"]
        decisions = by_ws.get(ws_id, [])
        place = " ".join(x for x in (ws.get("city"), ws.get("county")) if x)
        _, state = standing(policy, decisions)
        out.append(w("text.workshop", id=ws_id, name=f" {ws['name']}" if ws.get("name") else "",
                     place=w("text.place", place=place) if place else "", status=state))
        # a once-per-person subsidy paid elsewhere is denied with or without why-not: it says where it was paid
        shown = [d for d in decisions if why_not or d.outcome != "denied" or d.detail("paid_by")]
        if not shown:
            out.append("  " + w("text.no_decision"))
            out.append("")
            continue
        rows = [[policy.label(f"column.{key}", key) for key in ("subject", "clause", "rule", "outcome", "amount", "fund")]]
        total = Decimal("0.00")
        for d in shown:
            # what is paid, from which fund: a decision that lost to its exclusive partner pays nothing (its line below
            # says why, with the amounts compared; the JSON keeps the amount it would have been)
            paid = d.paid_amount
            fund = "-" if paid is None else policy.label(d.fund) if d.fund else policy.label(NO_FUND)
            rows.append([subject_label(d, policy), d.clause, policy.rule(d.rule).label, outcome_label(policy, d),
                         money(paid, grouped=True) or "-", fund])
            if d.outcome == "granted" and d.amount is not None:
                total += d.amount
        out.extend("  " + line for line in table(rows, right={4}))
        for d in shown:
            if d.outcome in ("denied", "pending", "suppressed"):
                why = why_not_line(d, policy)
                if why:
                    out.append("  " + w("text.why", subject=f"{subject_label(d, policy)} {d.clause} "
                                                           f"{policy.rule(d.rule).label}", why=why))
        out.append(f"  {policy.label('report.workshop_total', 'granted to this workshop')}{w('colon')}"
                   f"{money(total, grouped=True)}")
        out.append("")
    totals = evaluation.totals
    rows = [[policy.label("column.fund", "fund"), policy.label("column.fund_code", "code"),
             policy.label("column.amount", "granted")]]
    for fund, amount in totals.by_funding_source.items():
        rows.append([policy.label(fund), fund, money(amount, grouped=True) or ""])
    rows.append([policy.label("total", "total"), "", money(totals.granted, grouped=True) or ""])
    out.append(w("text.by_fund"))
    out.extend("  " + line for line in table(rows, right={2}))
    rows = [[policy.label("column.clause", "clause"), policy.label("column.heading", "heading"),
             policy.label("column.amount", "granted")]]
    for clause, amount in totals.by_clause.items():
        rows.append([clause, policy.clauses[clause].heading if clause in policy.clauses else "",
                     money(amount, grouped=True) or ""])
    out.append(w("text.by_clause"))
    out.extend("  " + line for line in table(rows, right={2}))
    counts = w("list.sep").join(f"{policy.label(k)} {n}" for k, n in sorted(totals.counts.items())
                                if why_not or k != "denied")
    out.append(w("text.outcomes", counts=counts or w("value.none")))
    return "\n".join(out) + "\n"


def pending_lines(totals: "Totals", policy: "Policy") -> List[str]:
    """What a run could not decide yet, for standard error, in the policy's language: how many decisions wait, and
    for which parameter values (by their labels)."""
    count = totals.counts.get("pending", 0)
    if not count:
        return []
    w = Words(policy)
    lines = [w("pending.count", count=count)]
    for (name, day, key), n in totals.waiting.items():
        parameter = policy.parameters.get(name)
        label = parameter.label if parameter is not None else name
        if key is not None:
            codes = w.codes(parameter.keyed_by) if parameter is not None and parameter.keyed_by else None
            label += w("trace.key", key=codes.get(key, key) if codes else key)
        lines.append(w("pending.parameter", parameter=label, date=day.isoformat(), count=n))
    lines.append(w("pending.advice"))
    return lines

