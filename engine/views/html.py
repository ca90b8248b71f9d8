"""The HTML audit report: each decision with its trace and its clause's text, printable, self-contained.

Every field is data: Jinja2 autoescaping is on for the whole template (a name
``<script>`` is written ``&lt;script&gt;``, quotes in attributes ``&#34;``), and every
value printed passes through ``subsidy_rules.views.exports.visible`` first (the environment's
``finalize``), so a control character or a lone surrogate in a name, an id or a
trace is written as its ``\\uXXXX`` escape: the page encodes as UTF-8 and parses
without a control character in it.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Optional

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from .exports import visible
from ..runtime.decisions import decision_id, period_key
from .formats import money
from .explain import trace_lines


def _finalize(value):
    """Each ``{{ … }}`` value before it is escaped: text made visible (see ``subsidy_rules.views.exports.visible``)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    return value


# autoescape=True, not select_autoescape: every template of this environment is HTML, whatever its name.
_ENV = Environment(loader=PackageLoader(__package__, "templates"), autoescape=True, finalize=_finalize,
                   trim_blocks=True, lstrip_blocks=True)


def html_report(evaluation, workshop: Optional[str] = None, version: str = "") -> str:
    """The report for the whole run, or for one workshop."""
    policy, facts = evaluation.policy, evaluation.facts
    period = period_key(facts.period_start, facts.period_end)
    by_ws = {}
    for d in evaluation.decisions:
        by_ws.setdefault(d.workshop, []).append(d)
    shops = []
    for ws in facts.workshops:
        if workshop and ws["id"] != workshop:
            continue
        decisions = []
        total = Decimal("0.00")
        for d in by_ws.get(ws["id"], []):
            clause = policy.clauses[d.clause]
            subject = f"{policy.label('subject.worker', 'worker')} {d.worker}" if d.worker else (
                f"{policy.label('subject.loan', 'loan')} {d.loan}" if d.loan else policy.label("subject.workshop", "workshop"))
            amount = money(d.shown_amount)
            if d.outcome == "granted" and d.amount is not None:
                total += d.amount
            decisions.append({
                "id": decision_id(policy.sha256, period, d), "subject": subject, "clause": d.clause,
                "heading": clause.heading, "clause_text": clause.text, "rule_label": policy.rule(d.rule).label,
                "outcome": d.outcome, "outcome_label": policy.label(d.outcome), "amount": amount,
                "fund_label": policy.label(d.fund) if d.fund else ("" if amount is None else policy.label("none", "none")),
                "reason": d.reason, "trace": [line for line in trace_lines(d.events, main_file=policy.path) if not line.startswith("clause ")],
            })
        status = [f"{policy.label(d.outcome)} ({d.clause})" for d in by_ws.get(ws["id"], [])
                  if d.outcome in ("certified", "revoked") and not d.worker and not d.loan]
        shops.append({"id": ws["id"], "name": ws.get("name", ""),
                      "place": " ".join(x for x in (ws.get("city"), ws.get("county")) if x),
                      "status": "、".join(status) if status else policy.label("not_certified", "not certified"),
                      "decisions": decisions, "total": money(total)})
    return _ENV.get_template("report.html").render(
        policy=policy, lang=policy.label("report.lang", "en"), label=policy.label, money=money,
        period={"start": facts.period_start.isoformat(), "end": facts.period_end.isoformat()},
        facts_sha256=facts.sha256, engine=evaluation.backend, version=version, ran_at=evaluation.ran_at,
        totals=evaluation.totals, workshops=shops)
