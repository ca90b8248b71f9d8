"""The HTML audit report at county scale: a summary, an index, and per workshop its decisions grouped.

Callable in parts, for a page that shows one of them (a web app): :func:`html_report` (the whole,
self-contained page), :func:`summary_html` (the county summary: totals by fund, clause and county, and
the index of workshops), :func:`workshop_html` (one workshop's section) and :func:`report_css` (the
style sheet, print rules included). :func:`report_model` is the data every part is drawn from. A run made
with ``why_not=True`` lets a workshop that is not certified say which condition it failed (the CLI decides the
report so); the rules that did not fire are listed only when asked (``why_not``) or for one workshop in full.

Identical decisions of a workshop (same rule, outcome, amount, fund, and the same conditions holding or
failing) are one row listing their subjects; each row's trace is one click away (``<details>``), folded
and not printed unless opened. ``--workshop ID`` (:func:`html_report` with ``workshop``) is that
workshop's full report: one row per decision, every trace open.

Every field is data: Jinja2 autoescaping is on for the whole template (a name ``<script>`` is written
``&lt;script&gt;``, quotes in attributes ``&#34;``), and every value printed passes through
``subsidy_rules.views.exports.visible`` first (the environment's ``finalize``), so a control character
or a lone surrogate in a name, an id or a trace is written as its ``\\uXXXX`` escape: the page encodes
as UTF-8 and parses without a control character in it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from .exports import visible
from ..runtime import trace as T
from ..runtime.decisions import Decision, decision_id, period_key
from .formats import amount_text, money, outcome_label
from .reasons import Words, reason_lines, standing, why_not_line

if TYPE_CHECKING:
    from ..policy.model import Policy
    from ..runtime.decisions import Totals
    from ..runtime.evaluate import Evaluation


def _finalize(value: object) -> object:
    """Each ``{{ … }}`` value before it is escaped: text made visible (see ``subsidy_rules.views.exports.visible``)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    return value


# autoescape=True, not select_autoescape: every template of this environment is HTML, whatever its name.
_ENV = Environment(loader=PackageLoader(__package__, "templates"), autoescape=True, finalize=_finalize,
                   trim_blocks=True, lstrip_blocks=True)


@dataclass
class Row:
    """One line of a workshop's table: one decision, or several identical ones (their subjects listed)."""

    kind: str  # the subject's kind, in words (worker, loan, this workshop)
    subjects: List[Tuple[str, str]]  # (the worker's or loan's id, or "" for the workshop; the decision id: its anchor)
    clause: str
    heading: str
    rule_label: str
    outcome: str
    outcome_label: str
    amount: Optional[str]  # each decision's amount
    total: Optional[str]  # the row's amount: amount × its decisions (granted, suppressed)
    fund_label: str
    reasons: List[str]  # the trace in the policy's language, of the first subject (the same for the others)
    why: Optional[str]  # for a decision that did not fire or waits: the one line that says why

    @property
    def count(self) -> int:
        return len(self.subjects)


@dataclass
class Shop:
    id: str
    name: str
    city: str
    county: str
    status: str  # certified / held / revoked / none
    status_text: str
    granted: Decimal
    granted_count: int
    rows: List[Row] = field(default_factory=list)
    decisions: int = 0

    @property
    def place(self) -> str:
        return " ".join(x for x in (self.city, self.county) if x)

    @property
    def anchor(self) -> str:
        return "ws-" + self.id


@dataclass
class Model:
    policy: Policy
    period: Dict[str, str]
    facts_sha256: str
    engine: str
    version: str
    ran_at: str
    totals: Totals
    shops: List[Shop]
    by_fund: List[Tuple[str, str, int, str]]  # label, code, count, amount
    by_clause: List[Tuple[str, str, int, str]]  # clause, heading, count, amount
    by_county: List[Tuple[str, str, int, int, int, str]]  # city, county, workshops, certified, granted decisions, amount
    outcomes: List[Tuple[str, int]]
    pending: List[Tuple[str, str, int]]  # parameter label, date, decisions
    clauses: List[Tuple[str, str, str]]  # clause, heading, text: every clause a decision cites
    full: bool


def _signature(d: Decision) -> tuple:
    """What makes two decisions identical for the report: rule, outcome, amount, fund, and which conditions and
    requirements held (not the values each subject's facts gave them)."""
    marks: List[tuple] = []
    for e in d.events:
        if isinstance(e, T.Condition):
            marks.append(("c", e.label or e.text, e.holds))
        elif isinstance(e, T.Required):
            marks.append(("r", e.fact, e.holds, e.route))
        elif isinstance(e, T.Held):
            marks.append(("h", e.since, e.route))
        elif isinstance(e, (T.Exclusive, T.TopUp)):
            marks.append(("x", e.group, e.won))
        elif isinstance(e, T.Item):
            marks.append(("i", e.counted, e.beyond_limit, e.reason.label if e.reason is not None else None))
        elif isinstance(e, T.Arithmetic):
            marks.append(("a", e.rounded))
    return (d.rule, d.outcome, d.amount, d.fund, d.reason if d.outcome != "denied" else None, tuple(marks))


def report_model(evaluation: "Evaluation", workshop: Optional[str] = None, version: str = "", why_not: bool = False) -> Model:
    """Everything the report shows, computed once: the summary's totals and each workshop's grouped rows.

    ``workshop``: only that workshop, in full (one row per decision). ``why_not``: also list the rules that did
    not fire (otherwise only a workshop's certification is explained, when it was not certified)."""
    policy, facts = evaluation.policy, evaluation.facts
    w = Words(policy)
    period = period_key(facts.period_start, facts.period_end)
    full = workshop is not None
    by_ws: Dict[str, List[Decision]] = {}
    for d in evaluation.decisions:
        by_ws.setdefault(d.workshop, []).append(d)
    shops: List[Shop] = []
    cited: Dict[str, None] = {}
    fund_counts: Dict[str, int] = {}
    clause_counts: Dict[str, int] = {}
    county: Dict[Tuple[str, str], list] = {}
    for ws in facts.workshops:
        decisions = by_ws.get(ws["id"], [])
        granted = [d for d in decisions if d.outcome == "granted" and d.amount is not None]
        for d in granted:
            fund_counts[d.fund or "none"] = fund_counts.get(d.fund or "none", 0) + 1
            clause_counts[d.clause] = clause_counts.get(d.clause, 0) + 1
        kind, status_text = standing(policy, decisions)
        key = (ws.get("city", ""), ws.get("county", ""))
        entry = county.setdefault(key, [0, 0, 0, Decimal("0.00")])
        entry[0] += 1
        entry[1] += kind in ("certified", "held", "revoked")
        entry[2] += len(granted)
        granted_total = sum((d.amount for d in granted if d.amount is not None), Decimal("0.00"))  # every one has one
        entry[3] += granted_total
        if workshop and ws["id"] != workshop:
            continue
        shop = Shop(ws["id"], ws.get("name", ""), ws.get("city", ""), ws.get("county", ""), kind, status_text,
                    granted_total, len(granted), decisions=len(decisions))
        groups: Dict[tuple, Row] = {}
        for d in decisions:
            if d.outcome == "denied" and not why_not and not full and not d.detail("paid_by"):
                continue
            cited[d.clause] = None
            key_ = ("one", d.id_in(policy.sha256, period)) if full else _signature(d)
            subject = (d.worker or d.loan or "", decision_id(policy.sha256, period, d))
            if key_ in groups:
                groups[key_].subjects.append(subject)
                continue
            clause = policy.clauses.get(d.clause)
            amount = money(d.shown_amount, grouped=True)
            why = why_not_line(d, policy) if d.outcome in ("denied", "pending") else None
            groups[key_] = Row(policy.label(f"subject.{d.subject}", d.subject), [subject], d.clause, clause.heading if clause else "", policy.rule(d.rule).label,
                               d.outcome, outcome_label(policy, d), amount, None,
                               policy.label(d.fund) if d.fund and amount else ("" if amount is None else policy.label("none")),
                               reason_lines(d.events, policy, main_file=policy.path, clause_text=False,
                                            paid_by=d.detail("paid_by")), why)
        for row in groups.values():
            if row.amount is not None:
                each = next(d.shown_amount for d in decisions if decision_id(policy.sha256, period, d) == row.subjects[0][1])
                assert each is not None  # the row has the amount its first decision shows
                row.total = money(each * row.count, grouped=True)
        # the workshop's own decisions first, then clause by clause (a rule's rows together), subjects in order
        order = {d.id_in(policy.sha256, period): n for n, d in enumerate(decisions)}
        shop.rows = sorted(groups.values(), key=lambda r: (r.subjects[0][0] != "", _clause_order(r.clause), r.rule_label,
                                                           order.get(r.subjects[0][1], 0)))
        shops.append(shop)
    totals = evaluation.totals
    by_fund = [(policy.label(f), f, fund_counts.get(f, 0), money(a, grouped=True)) for f, a in totals.by_funding_source.items()]
    by_clause = [(c, policy.clauses[c].heading if c in policy.clauses else "", clause_counts.get(c, 0), money(a, grouped=True))
                 for c, a in totals.by_clause.items()]
    by_county = [(k[0], k[1], v[0], v[1], v[2], money(v[3], grouped=True)) for k, v in sorted(county.items())]
    # the rules that did not fire are counted only when asked for (the report is decided with why-not, to explain
    # a workshop that is not certified)
    outcomes = [(policy.label(o), n) for o, n in sorted(totals.counts.items()) if why_not or o != "denied"]
    pending: List[Tuple[str, str, int]] = []
    for (name, day, key), n in totals.waiting.items():
        parameter = policy.parameters.get(name)
        label = parameter.label if parameter is not None else name
        pending.append((label + (w("trace.key", key=key) if key is not None else ""), day.isoformat(), n))
    clauses = [(c, policy.clauses[c].heading, policy.clauses[c].text) for c in sorted(cited, key=_clause_order)
               if c in policy.clauses]
    return Model(policy, {"start": facts.period_start.isoformat(), "end": facts.period_end.isoformat()}, facts.sha256,
                 evaluation.backend, version, evaluation.ran_at, totals, shops, by_fund, by_clause, by_county, outcomes,
                 pending, clauses, full)


def _clause_order(clause: str) -> Tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in clause.split("."))


def _context(model: Model) -> dict:
    policy = model.policy
    w = Words(policy)
    return dict(m=model, policy=policy, lang=policy.label("report.lang", "en"), label=policy.label, w=w,
                money=lambda a: money(a, grouped=True), amount=lambda a: amount_text(policy, a))


def report_css() -> str:
    """The report's style sheet: screen and print (A4, repeated table headers, page numbers, no row split)."""
    return _ENV.get_template("report.css").render()


def summary_html(evaluation: "Evaluation", version: str = "", model: Optional[Model] = None) -> str:
    """The county summary as an HTML fragment: totals by fund, clause and county, and the index of workshops."""
    model = model or report_model(evaluation, version=version)
    return _ENV.get_template("_summary.html").render(**_context(model))


def workshop_html(evaluation: "Evaluation", workshop: str, full: bool = True, model: Optional[Model] = None) -> str:
    """One workshop's section as an HTML fragment (``full``: one row per decision, traces open)."""
    model = model or report_model(evaluation, workshop=workshop if full else None)
    shop = next((s for s in model.shops if s.id == workshop), None)
    if shop is None:
        raise KeyError(f"the run has no workshop {workshop!r}")
    return _ENV.get_template("_workshop.html").render(ws=shop, **_context(model))


def html_report(evaluation: "Evaluation", workshop: Optional[str] = None, version: str = "", why_not: bool = False) -> str:
    """The self-contained report: the whole run (summary, index, every workshop), or one workshop in full."""
    model = report_model(evaluation, workshop, version, why_not)
    return _ENV.get_template("report.html").render(css=Markup(report_css()), **_context(model))
