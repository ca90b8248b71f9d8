"""The trace as lines of text: what each event says, for ``explain``, the JSON's rendered lines and the HTML report.

Pure functions over the trace events (:mod:`subsidy_rules.runtime.trace`); nothing here decides.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, List, Optional, Set, Tuple, Union

from ..facts.model import Derived
from ..lang.printing import format_value
from ..policy.parameters import ParamUse
from ..runtime import trace as T
from ..runtime.decisions import Decision, decision_id, period_key
from .formats import MARK, amount_text, money, outcome_label, subject_label, wrap
from .reasons import Words, reason_lines

if TYPE_CHECKING:
    from ..runtime.evaluate import Evaluation


def _param_line(p: ParamUse, main_file: Optional[str] = None) -> str:
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


def _seen(seen: Iterable[Tuple[str, Any]]) -> str:
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


def trace_lines(events: Iterable[object], params: bool = True, main_file: Optional[str] = None) -> List[str]:
    """The trace of one decision as lines an auditor reads, in the order things happened.

    With ``main_file``, a parameter that came from another file (the parent of a fork) says which.
    """
    lines: List[str] = []
    shown_params: Set[tuple] = set()

    def add_params(ps: Optional[Iterable[Union[ParamUse, Derived]]], indent: str = "") -> None:
        for p in ps or ():
            key = (p.name,) if isinstance(p, Derived) else (p.name, p.key, p.since, p.at)
            if params and key not in shown_params:
                shown_params.add(key)
                lines.append(indent + (_derived_line(p) if isinstance(p, Derived) else _param_line(p, main_file)))

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
                assert e.reason is not None  # an item not counted, within the limit, has the condition that failed
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


def explain_text(evaluation: "Evaluation", decisions: List[Decision], raw: bool = False, width: Optional[int] = None) -> str:
    """Every decision about one subject, with its full trace, as an auditor reads it: in the policy's language
    (:mod:`subsidy_rules.views.reasons`), or with ``raw`` in the engine's syntax, for developers. ``width``: lines
    wrapped to so many columns, indentation kept."""
    if raw:
        return raw_explain_text(evaluation, decisions)
    policy = evaluation.policy
    facts = evaluation.facts
    period = period_key(facts.period_start, facts.period_end)
    w = Words(policy)
    out = [w("trace.title", title=policy.title, document=policy.document) if policy.document else policy.title,
           f"{policy.label('report.period', 'period')} {facts.period_start} – {facts.period_end} · "
           f"{policy.label('report.policy', 'policy')} {policy.id} sha256 {policy.sha256[:12]}…", ""]
    for d in decisions:
        amount = amount_text(policy, d.shown_amount)
        fund = policy.label(d.fund) if d.fund and d.shown_amount is not None else ""
        rule = policy.rule(d.rule)
        head = f"== {d.workshop} {subject_label(d, policy)} · {d.clause} {rule.label}{policy.label('colon', ': ')}" \
               f"{outcome_label(policy, d)}"
        head += f" {amount}" if amount else ""
        head += w("trace.fund", fund=fund) if fund else ""
        out.append(head)
        out.append(f"   {policy.label('column.decision_id', 'decision id')} {decision_id(policy.sha256, period, d)}")
        out.extend("   " + line for line in reason_lines(d.events, policy, main_file=policy.path,
                                                          paid_by=d.detail("paid_by")))
        out.append("")
    return "\n".join(wrap(out, width))


def raw_explain_text(evaluation: "Evaluation", decisions: List[Decision]) -> str:
    """Every decision about one subject, with its full trace in the engine's syntax (``explain --raw``)."""
    policy = evaluation.policy
    out = [f"policy {policy.id} ({policy.path}, sha256 {policy.sha256[:12]}…), "
           f"period {evaluation.facts.period_start} to {evaluation.facts.period_end}", ""]
    period = period_key(evaluation.facts.period_start, evaluation.facts.period_end)
    for d in decisions:
        amount = f" {money(d.shown_amount)}" if d.shown_amount is not None else ""
        fund = f" from {d.fund} {policy.label(d.fund)}" if d.fund else ""
        out.append(f"== {d.workshop} {subject_label(d)}: clause {d.clause} {d.rule}: {d.outcome}"
                   f" ({policy.label(d.outcome)}){amount}{fund}  [id {decision_id(policy.sha256, period, d)}]")
        if d.reason:
            out.append(f"   why not: {d.reason}")
        out.extend("   " + line for line in trace_lines(d.events, main_file=policy.path))
        out.append("")
    return "\n".join(out)
