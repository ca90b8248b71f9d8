"""Views of a run: JSON (the spec's decisions), a text table, an auditor's explanation, problems.

Every function here is pure: it reads decisions, their trace events and the
policy's labels, and returns text or plain data. Nothing here decides.
"""
from __future__ import annotations

import unicodedata
import decimal
from decimal import Decimal
from typing import Callable, Dict, Iterable, List, Optional

from ..runtime import trace as T
from ..runtime.decisions import Decision, NO_FUND, decision_id, period_key
from ..lang.expr import format_value
from ..facts.model import Derived
from ..problems import Problem

MARK = {True: "✓", False: "✗"}


_MONEY = decimal.Context(prec=80)


def money(amount: Optional[Decimal]) -> Optional[str]:
    """An amount as the spec writes it: a string with two decimals (or None). Exact whatever its size (the
    default decimal context would refuse to quantize an amount of more than 26 integer digits)."""
    return None if amount is None else format(amount.quantize(Decimal("0.01"), context=_MONEY), "f")


# --- trace lines ---------------------------------------------------------------

def _param_line(p, main_file: Optional[str] = None) -> str:
    key = f"[{p.key}]" if p.key is not None else ""
    flag = " (UNCONFIRMED value)" if p.unconfirmed else ""
    origin = f" [from {p.origin}]" if main_file and p.origin and p.origin != main_file else ""
    return (f"parameter {p.name}{key} ({p.label}) on {p.at.isoformat()} = {format_value(p.value)}, "
            f"{p.in_force()}; source: {p.source}{flag}{origin}")


def _derived_line(d: Derived) -> str:
    label = f" [{d.label}]" if d.label else ""
    value = format_value(d.value)
    shown = f" = {d.substituted}" if d.substituted not in (d.formula, value) else ""
    return f"computed {d.name}{label} = {d.formula}{shown} = {value}"


def _seen(seen) -> str:
    return ", ".join(f"{name} = {format_value(value)}" for name, value in seen)


def _condition_line(c: T.Condition, prefix: str = "condition") -> str:
    label = f" [{c.label}]" if c.label else ""
    verdict = "true" if c.holds else "false"
    shown = c.substituted if c.substituted == verdict else f"{c.substituted} is {verdict}"
    line = f"{prefix} {MARK[c.holds]} {c.text}{label}: {shown}"
    if c.seen:
        line += f" ({_seen(c.seen)})"
    if c.reading:
        line += f"; reading: {c.reading}"
    return line


def _arithmetic_lines(a: T.Arithmetic, indent: str = "") -> List[str]:
    lines = [f"{indent}{let.name} = {let.formula} = {let.substituted} = {format_value(let.value)}" for let in a.lets]
    exact = format_value(a.exact)
    rounded = money(a.rounded)
    tail = f" = {exact}" if exact != a.substituted else ""
    lines.append(f"{indent}amount = {a.formula} = {a.substituted}{tail} → {rounded}")
    return lines


def trace_lines(events: Iterable, params: bool = True, main_file: Optional[str] = None) -> List[str]:
    """The trace of one decision as lines an auditor reads, in the order things happened.

    With ``main_file``, a parameter that came from another file (the parent of a fork) says which.
    """
    lines: List[str] = []
    shown_params = set()

    def add_params(ps, indent=""):
        for p in ps or ():
            derived = isinstance(p, Derived)
            key = (p.name,) if derived else (p.name, p.key, p.since, p.at)
            if params and key not in shown_params:
                shown_params.add(key)
                lines.append(indent + (_derived_line(p) if derived else _param_line(p, main_file)))

    for e in events:
        if isinstance(e, T.RuleApplied):
            lines.append(f"clause {e.clause} {e.heading}: {e.clause_text}")
            lines.append(f"rule {e.rule} ({e.label}) from {e.origin}, for {e.subject} {e.subject_id}")
        elif isinstance(e, T.Required):
            by = ", ".join(f"{rule} (clause {clause})" for rule, clause in e.asserted_by) or "no rule"
            state = "holds" if e.holds else "does not hold"
            line = f"requires {MARK[e.holds]} {e.fact} of {e.holder_id}: {state}, asserted by {by}"
            if e.route is not None:
                line += f", held by route {e.route}"
            if e.routes is not None:
                line += f" (this rule is open to route {' or '.join(e.routes)} only)"
            lines.append(line)
        elif isinstance(e, T.Held):
            lines.append(f"status {e.status} held since {e.since.isoformat()} by route {e.route}, read from {e.source}; "
                         "not tested again")
            if e.ended_on is not None:
                lines.append(f"  an end dated {e.ended_on.isoformat()} is not after that grant, so the grant stands")
        elif isinstance(e, T.Pending):
            for name, day, key in e.missing:
                keyed = f"[{key}]" if key is not None else ""
                lines.append(f"pending: parameter {name}{keyed} has no value on {day.isoformat()}; the decision is made "
                             "once the policy has it")
        elif isinstance(e, T.TopUp):
            lines.extend(_top_up_lines(e))
        elif isinstance(e, T.Condition):
            lines.append(_condition_line(e))
            add_params(e.params, "  ")
        elif isinstance(e, T.Limit):
            value = "no limit" if e.value is None else f"at most {e.value} items"
            lines.append(f"limit {e.text} = {e.substituted} → {value}")
            add_params(e.params, "  ")
        elif isinstance(e, T.Item):
            if e.counted:
                lines.append(f"item {e.item}: counted")
                for c in e.conditions:
                    lines.append("  " + _condition_line(c, "where"))
                if e.arithmetic is not None:
                    add_params(e.arithmetic.params, "  ")
                    lines.extend(_arithmetic_lines(e.arithmetic, "  "))
            elif e.beyond_limit:
                lines.append(f"item {e.item}: not counted: its conditions hold, but it is beyond the limit")
            else:
                lines.append(f"item {e.item}: not counted; " + _condition_line(e.reason, "where"))
        elif isinstance(e, T.Arithmetic):
            add_params(e.params)
            lines.extend(_arithmetic_lines(e))
        elif isinstance(e, T.Total):
            parts = " + ".join(money(p) for p in e.parts)
            lines.append(f"total = {parts} = {money(e.total)}")
        elif isinstance(e, T.NotReached):
            lines.append(f"no decision: {e.reason}")
        elif isinstance(e, T.Exclusive):
            if e.won:
                lines.append(f"exclusivity {e.group} (clause {e.clause}, strategy {e.strategy}): {e.winner} "
                             f"{money(e.winner_amount)} wins over {e.other} {money(e.other_amount)}")
            else:
                lines.append(f"exclusivity {e.group} (clause {e.clause}, strategy {e.strategy}): suppressed; "
                             f"{e.winner} {money(e.winner_amount)} wins over {e.other} {money(e.other_amount)}")
            if e.reading:
                lines.append(f"  reading: {e.reading}")
        elif isinstance(e, T.Outcome) and e.outcome == "suppressed":
            lines.append(f"outcome suppressed: {money(e.amount)} not paid (the other side of its exclusivity group is)")
        elif isinstance(e, T.Outcome):
            amount = f" {money(e.amount)}" if e.amount is not None else ""
            fund = f" from {e.fund}" if e.fund else (" (no fund named)" if e.amount is not None else "")
            lines.append(f"outcome {e.outcome}{amount}{fund}")
    return lines


def _top_up_lines(e: T.TopUp) -> List[str]:
    figures = (f"{e.lump} reached T = {money(e.reached)}, paid before A = {money(e.lump_paid)}; {e.other} paid before "
               f"H = {money(e.other_paid)}, now N = {money(e.other_now)}")
    both = f"H + N = {money(e.other_paid)} + {money(e.other_now)} = {money(e.other_paid + e.other_now)}"
    if e.why == "lump_paid":
        verdict = f"A = {money(e.lump_paid)} > 0: {e.lump} was paid before, so its side stays the one paid"
    elif e.why == "reached":
        verdict = f"T = {money(e.reached)} >= {both}, so {e.lump} wins (a tie goes to {e.lump})"
    elif e.reached <= 0:
        verdict = f"T = 0 (no tier reached) and A = 0, so {e.other} is paid"
    else:
        verdict = f"T = {money(e.reached)} < {both}, so {e.other} wins"
    side = "this side wins" if e.won else "suppressed"
    lines = [f"exclusivity {e.group} (clause {e.clause}, over time): {side}; {figures}", f"  {verdict}"]
    net = f"T - A - H = {money(e.reached)} - {money(e.lump_paid)} - {money(e.other_paid)} = {money(e.net)}"
    lines.append(f"  {e.lump}: {net}" + ("" if e.net > 0 else ", nothing to pay"))
    if e.reading:
        lines.append(f"  reading: {e.reading}")
    return lines


# --- JSON ----------------------------------------------------------------------

def decision_dict(d: Decision, policy_sha256: str, period: str, with_trace: bool = True,
                  main_file: Optional[str] = None) -> dict:
    out = {
        "id": decision_id(policy_sha256, period, d),
        "workshop": d.workshop, "worker": d.worker, "loan": d.loan,
        "rule": d.rule, "clause": d.clause, "outcome": d.outcome,
        "amount": money(d.shown_amount),
        "funding_source": d.fund,
    }
    out.update(details_dict(d))
    if d.reason:
        out["reason"] = d.reason
    if with_trace:
        out["trace"] = trace_lines(d.events, main_file=main_file)
    return out


def details_dict(d: Decision) -> dict:
    """What a decision states besides its amount, as JSON: a certification's route, basis, date and source; the day
    a revocation takes effect; the parameter values a pending decision waits for."""
    out = {}
    for name, value in d.details:
        if name == "waits_for":
            out[name] = [{"parameter": p, "date": day.isoformat(), "key": key} for p, day, key in value]
        else:
            out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


def totals_dict(totals) -> dict:
    out = {
        "granted": money(totals.granted),
        "by_funding_source": {k: money(v) for k, v in totals.by_funding_source.items()},
        "by_clause": {k: money(v) for k, v in totals.by_clause.items()},
    }
    if totals.waiting:
        out["pending"] = [{"parameter": p, "date": day.isoformat(), "key": key, "decisions": n}
                          for (p, day, key), n in totals.waiting.items()]
    return out


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


def _version() -> str:
    from .. import __version__
    return __version__


def json_header(policy, facts_sha256: str, facts_path: str, start, end, backend: str, why_not: bool, trace: bool,
                ran_at: str) -> dict:
    """Everything in the decisions document before its decisions."""
    return {
        "policy": {"id": policy.id, "sha256": policy.sha256, "path": policy.path,
                   "files": [{"path": path, "sha256": sha} for path, sha in policy.sources]},
        "facts_sha256": facts_sha256,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "run": {"tool": "subsidy-rules", "version": _version(), "ran_at": ran_at,
                "facts": facts_path, "why_not": why_not, "trace": trace},
        "engine": backend,
    }


def decision_text(d: dict) -> str:
    """One decision as it stands inside the decisions document's list (indented, no trailing comma)."""
    import json

    return json.dumps(d, ensure_ascii=False, indent=2).replace("\n", "\n    ")


def write_json(out, header: dict, decision_texts, totals_of) -> None:
    """Write the decisions document as it goes: the header, each decision as it comes, then the totals.

    ``decision_texts`` are decisions already rendered by :func:`decision_text` (by worker processes,
    with --jobs). The text is the same as ``json.dumps(document, ensure_ascii=False, indent=2)``.
    """
    import json

    head = json.dumps(header, ensure_ascii=False, indent=2)
    out.write(head[:-2] + ',\n  "decisions": [')
    first = True
    for text in decision_texts:
        out.write(("\n    " if first else ",\n    ") + text)
        first = False
    out.write("]" if first else "\n  ]")
    totals = json.dumps(totals_dict(totals_of()), ensure_ascii=False, indent=2).replace("\n", "\n  ")
    out.write(f',\n  "totals": {totals}\n}}\n')


def to_json(evaluation, with_trace: bool = True) -> dict:
    """The decisions document of semantics.md section 7."""
    policy, facts = evaluation.policy, evaluation.facts
    period = period_key(facts.period_start, facts.period_end)
    doc = json_header(policy, facts.sha256, facts.path, facts.period_start, facts.period_end, evaluation.backend,
                      evaluation.why_not, with_trace and evaluation.trace, evaluation.ran_at)
    doc["decisions"] = [decision_dict(d, policy.sha256, period, with_trace, policy.path) for d in evaluation.decisions]
    doc["totals"] = totals_dict(evaluation.totals)
    return doc


# --- text ------------------------------------------------------------------------

def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def table(rows: List[List[str]], right: Iterable[int] = ()) -> List[str]:
    right = set(right)
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(_pad(c, widths[i], i in right) for i, c in enumerate(r)).rstrip() for r in rows]


def _subject(d: Decision, policy=None) -> str:
    def word(kind):
        return policy.label(f"subject.{kind}", kind) if policy is not None else kind
    return f"{word('worker')} {d.worker}" if d.worker else f"{word('loan')} {d.loan}" if d.loan else word("workshop")


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
            rows.append([_subject(d, policy), d.clause, d.rule, policy.label(d.outcome), amount or "-", fund])
            if d.outcome == "granted" and d.amount is not None:
                total += d.amount
        out.extend("  " + line for line in table(rows, right={4}))
        for d in decisions:
            if d.reason:
                why = policy.label("pending", "pending") if d.outcome == "pending" else "why not"
                out.append(f"  {why}: {_subject(d, policy)}: {d.reason}")
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


def explain_text(evaluation, decisions: List[Decision]) -> str:
    """Every decision about one subject, with its full trace, as an auditor reads it."""
    policy = evaluation.policy
    out = [f"policy {policy.id} ({policy.path}, sha256 {policy.sha256[:12]}…), "
           f"period {evaluation.facts.period_start} to {evaluation.facts.period_end}", ""]
    period = period_key(evaluation.facts.period_start, evaluation.facts.period_end)
    for d in decisions:
        amount = f" {money(d.shown_amount)}" if d.shown_amount is not None else ""
        fund = f" from {d.fund} {policy.label(d.fund)}" if d.fund else ""
        out.append(f"== {d.workshop} {_subject(d)}: clause {d.clause} {d.rule}: {d.outcome}"
                   f" ({policy.label(d.outcome)}){amount}{fund}  [id {decision_id(policy.sha256, period, d)}]")
        if d.reason:
            out.append(f"   why not: {d.reason}")
        out.extend("   " + line for line in trace_lines(d.events, main_file=policy.path))
        out.append("")
    return "\n".join(out)


# --- problems --------------------------------------------------------------------

def _around(text: str, col: int, width: int = 60):
    """A long source line cut to ``width`` characters either side of ``col``, and where ``col`` falls in it."""
    if len(text) <= 2 * width + 20:
        return text, col
    start = max(0, col - width)
    end = min(len(text), col + width)
    head = "…" if start else ""
    return head + text[start:end] + ("…" if end < len(text) else ""), col - start + len(head)


def problem_lines(problems: Iterable[Problem], source_line: Callable[[str, int], str]) -> List[str]:
    """Problems as a compiler prints them: location, code, message, the line and a caret under the spot."""
    out = []
    for p in problems:
        out.append(str(p))
        if p.location.line:
            text = source_line(p.location.file, p.location.line)
            if text:
                shown, col = _around(text, max(0, p.location.col - 1))
                out.append(f"  {p.location.line:>5} | {shown}")
                out.append(f"        | {' ' * _width(shown[:col])}^")
    return out
