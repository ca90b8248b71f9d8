"""The trace people read: each decision's reasons in the policy's language, from the trace events.

A pure view over :mod:`subsidy_rules.runtime.trace`, the counterpart of the engine-syntax lines of
:func:`subsidy_rules.views.explain.trace_lines` (``explain --raw``). Every word comes from the policy
file: condition, rule, parameter, computed-value and status labels, vocabulary labels for codes, and the
phrases of ``settings.labels`` (``fact.*`` and ``unit.*`` for fields of the facts, ``let.*`` for a rule's
intermediate values, ``op.*`` for operators, ``func.*`` for functions, ``trace.*`` for sentences), through
:class:`~subsidy_rules.views.words.Words` (whose defaults are English, for a policy that gives none); an
expression is put in words by :mod:`subsidy_rules.views.speaker`.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ..facts.model import Derived
from ..lang import expr as E
from ..lang.printing import PRECEDENCE, unparse
from ..runtime import trace as T
from .formats import MARK, money

if TYPE_CHECKING:
    from ..policy.model import Policy, Status
    from ..runtime.decisions import Decision
from .speaker import Speaker, literal_value, parse_formula, substituted_truth
from .words import DEFAULTS, Words, number  # noqa: F401 (re-exported: the views import them from here)


def reason_lines(events: Sequence[object], policy: "Policy", main_file: Optional[str] = None, clause_text: bool = True,
                 paid_by: Optional[dict] = None) -> List[str]:
    """The trace of one decision as sentences in the policy's language, in the order things happened, the values
    used (parameters: value, unit, effective date, source) listed once at the end. Lines of a per-item rule are
    indented under their item."""
    w = Words(policy)
    lines: List[str] = []
    used: Dict[tuple, Any] = {}

    def note_params(ps: Iterable[Any]) -> None:
        for p in ps or ():
            if not isinstance(p, Derived):
                used.setdefault((p.name, p.key, p.since, p.until), p)

    def condition(c: T.Condition, indent: str = "") -> str:
        line = f"{indent}{MARK[c.holds]} {condition_text(w, c)}"
        if c.reading:
            line += f"{w('sep')}{w('trace.reading', text=c.reading)}"
        return line

    def arithmetic(a: T.Arithmetic, indent: str = "") -> List[str]:
        speaker = Speaker(w, a.params)
        out = []
        for let in a.lets:
            said = speaker.say(let.formula, let.substituted) or let.substituted
            name = policy.labels.get(f"let.{let.name}", let.name)
            out.append(f"{indent}{name} = {said} = {w.value(let.value)}")
        said = _arith(a.substituted, w)
        exact = w.value(a.exact)
        tail = f" = {exact}" if exact != said else ""
        out.append(f"{indent}{w('trace.amount')} = {said}{tail} → {money(a.rounded, grouped=True)}")
        return out

    for e in events:
        if isinstance(e, T.RuleApplied):
            if clause_text:
                lines.append(w("trace.clause", clause=e.clause, heading=e.heading, text=e.clause_text))
        elif isinstance(e, T.Required):
            status = w.status(e.fact)
            what = status.label if status is not None else e.fact
            holder = policy.label(f"subject.{e.fact.split('.')[0]}", e.holder_id)
            if not e.holds and not (e.route is not None and e.routes is not None):
                lines.append(f"{MARK[False]} " + w("trace.required_missing", status=what, holder=holder))
                continue
            by = w("list.sep").join(w.rule(rule) for rule, _ in e.asserted_by)
            if e.route is not None:
                line = w("trace.required_route", status=what, holder=holder, by=by, route=_route(w, status, e.route))
            else:
                line = w("trace.required", status=what, holder=holder, by=by)
            if e.routes is not None:
                line += w("trace.required_only", routes=w("list.sep").join(_route(w, status, r) for r in e.routes))
            lines.append(f"{MARK[e.holds]} {line}")
        elif isinstance(e, T.Held):
            lines.append(w("trace.held", status=e.status, since=e.since.isoformat(), source=held_source(w, e.source),
                           route=_route(w, _status_by_label(policy, e.status), e.route)))
            if e.ended_on is not None:
                lines.append("  " + w("trace.held_end", on=e.ended_on.isoformat()))
        elif isinstance(e, T.Pending):
            for name, day, key in e.missing:
                parameter = policy.parameters.get(name)
                label = parameter.label if parameter is not None else name
                lines.append(w("trace.pending", parameter=label + (w("trace.key", key=key) if key is not None else ""),
                               date=day.isoformat()))
        elif isinstance(e, T.TopUp):
            lines.extend(_top_up(w, e))
        elif isinstance(e, T.Condition):
            lines.append(condition(e))
            note_params(e.params)
        elif isinstance(e, T.Limit):
            lines.append(w("trace.no_limit") if e.value is None else w("trace.limit", n=e.value))
            note_params(e.params)
        elif isinstance(e, T.Item):
            if e.counted:
                amount = f" {money(e.arithmetic.rounded, grouped=True)}" if e.arithmetic is not None else ""
                lines.append(w("trace.item_counted", item=e.item) + amount)
                lines.extend(condition(c, "  ") for c in e.conditions)
                for c in e.conditions:
                    note_params(c.params)
                if e.arithmetic is not None:
                    note_params(e.arithmetic.params)
                    lines.extend(arithmetic(e.arithmetic, "  "))
            elif e.beyond_limit:
                lines.append(w("trace.item_beyond", item=e.item))
            else:
                reason = e.reason
                lines.append(w("trace.item_not_counted", item=e.item) +
                             (w("colon") + condition(reason).strip() if reason is not None else ""))
                note_params(reason.params if reason is not None else ())
        elif isinstance(e, T.Arithmetic):
            note_params(e.params)
            lines.extend(arithmetic(e))
        elif isinstance(e, T.Total) and len(e.parts) <= 1:  # one part, or none counted: the total alone
            lines.append(w("trace.total_one", total=money(e.total, grouped=True)))
        elif isinstance(e, T.Total):
            lines.append(w("trace.total", parts=" + ".join(money(p, grouped=True) or "" for p in e.parts),
                           total=money(e.total, grouped=True)))
        elif isinstance(e, T.NotReached):
            if not _explained(events) and not paid_by:  # paid elsewhere: the line below says where, in its words
                lines.append(_not_reached(w, events, e))
        elif isinstance(e, T.Exclusive):
            key = "trace.exclusive_won" if e.won else "trace.exclusive_lost"
            lines.append(w(key, group=w.group(e.group), clause=e.clause, winner=w.rule(e.winner),
                           winner_amount=money(e.winner_amount, grouped=True), other=w.rule(e.other),
                           other_amount=money(e.other_amount, grouped=True)))
            if e.reading:
                lines.append("  " + w("trace.reading", text=e.reading))
        elif isinstance(e, T.Outcome):
            continue  # the decision's heading says it
    if paid_by:
        lines.append(paid_by_line(w, paid_by))
    if used:
        lines.append(w("trace.parameters"))
        for p in used.values():
            lines.append("  " + parameter_line(w, p, main_file))
    return lines


_LEDGER_SOURCE = re.compile(r"the ledger's run (?P<run>\d+), period (?P<start>\S+)\.\.(?P<end>\S+)")


def held_source(w: Words, source: str) -> str:
    """Where a status held from before was read from, in the policy's words: the facts (at a JSON pointer) or a run
    of the ledger. The trace event carries it as the engine's sentence (the JSON's ``source``, kept as it is for
    tools); a form not known here is shown as it is."""
    from ..facts.reading import FACTS_SOURCE
    if source.startswith(FACTS_SOURCE):
        return w("trace.source_facts", pointer=source[len(FACTS_SOURCE):])
    found = _LEDGER_SOURCE.fullmatch(source)
    if found:
        return w("trace.source_run", **found.groupdict())
    return source


def condition_text(w: Words, c: T.Condition) -> str:
    """A condition in words: its label, then the values it read (``signed for 6 months or more: contract 12
    months, at least 6 months``)."""
    label = c.label or None
    said = Speaker(w, c.params, c.seen).say(c.text, c.substituted, c.holds)
    if label and said and said.startswith(label + " "):
        said = said[len(label) + 1:]  # "subsidised: subsidised yes" reads "subsidised: yes"
    body = label or said or c.text
    if label and said and said.strip() not in ("", label):
        body = f"{label}{w('colon')}{said}"
    return body


def standing(policy: "Policy", decisions: Sequence["Decision"]) -> Tuple[str, str]:
    """A workshop's standing in a line: certified (how), held (since when), revoked (from when), or not
    certified with the first condition each route failed (the rules that did not fire are in ``decisions`` when
    the run was made with why-not). Returns (certified / held / revoked / none, the line)."""
    w = Words(policy)
    status_rules = {s.flag: s for s in policy.statuses}
    parts, kind = [], "none"
    for d in decisions:
        if d.subject != "workshop" or d.outcome not in ("certified", "revoked"):
            continue
        rule = policy.rule(d.rule)
        if d.outcome == "revoked":
            kind = "revoked"
            parts.append(w("report.status_revoked", label=policy.label("revoked"), clause=d.clause, rule=rule.label,
                           effective=str(d.detail("effective") or "")))
            continue
        route = d.detail("route")
        grants = policy.status_of_rule(d.rule)
        codes = w.codes(f"workshop.{grants[0].granted_field}.route") if grants else None
        route_label = codes.get(route, route) if codes and route else (route or "")
        if d.detail("basis") == "held":
            kind = "held" if kind == "none" else kind
            parts.append(w("report.status_held", label=policy.label("certified"), since=str(d.detail("since") or ""),
                           route=route_label))
        else:
            kind = "certified" if kind == "none" else kind
            parts.append(w("report.status_certified", label=policy.label("certified"), clause=d.clause,
                           rule=rule.label, route=route_label))
    if parts:
        revoked = [p for p in parts if p.startswith(policy.label("revoked"))]
        return kind, w("list.sep").join([p for p in parts if p not in revoked] + revoked)  # granted, then ended
    # not certified: why, from the rules that would have granted the status (present when run with why-not)
    routes = [r.rule for s in status_rules.values() for r in s.routes]
    whys = []
    for d in decisions:
        if d.subject == "workshop" and d.rule in routes and d.outcome == "denied":
            line = why_not_line(d, policy)
            if line:
                whys.append(f"{d.clause} {policy.rule(d.rule).label}{w('colon')}{line}")
    text = policy.label("not_certified", "not certified")
    if whys:
        text += w("colon") + w("sep").join(whys)
    return "none", text


def why_not_line(d: "Decision", policy: "Policy") -> Optional[str]:
    """In one line, in the policy's language, why a decision did not fire or waits: the first condition or
    requirement that failed, no item that qualified, the value a pending decision waits for."""
    w = Words(policy)
    events = d.events or ()
    paid_by = d.detail("paid_by")
    if paid_by:
        return paid_by_line(w, paid_by)
    for e in events:
        if isinstance(e, T.Condition) and not e.holds:
            return f"{MARK[False]} {condition_text(w, e)}"
        if isinstance(e, T.Required) and not e.holds and e.route is not None and e.routes is not None:
            status = w.status(e.fact)
            only = w("list.sep").join(_route(w, status, r) for r in e.routes)
            return f"{MARK[False]} " + w("trace.route_closed", route=_route(w, status, e.route), routes=only)
        if isinstance(e, T.Required) and not e.holds:
            status = w.status(e.fact)
            holder = policy.label(f"subject.{e.fact.split('.')[0]}", e.holder_id)
            return f"{MARK[False]} " + w("trace.required_missing", status=status.label if status is not None else e.fact,
                                         holder=holder)
        if isinstance(e, T.Pending):
            name, day, key = e.missing[0]
            parameter = policy.parameters.get(name)
            label = (parameter.label if parameter is not None else name) + (w("trace.key", key=key) if key else "")
            return w("trace.pending", parameter=label, date=day.isoformat())
        if isinstance(e, T.TopUp) and not e.won:  # what T, A, H and N are, then how they compared
            lines = _top_up(w, e)
            return lines[0] + w("sep") + lines[1].strip()
    for e in events:
        if isinstance(e, T.NotReached):
            return _not_reached(w, events, e)
    if any(isinstance(e, T.Item) for e in events):
        return w("trace.no_item")
    return d.reason


def paid_by_line(w: Words, paid_by: dict) -> str:
    """A once-per-person subsidy another workshop or an earlier run paid: where it was paid."""
    if paid_by.get("run") is None:
        return w("trace.paid_by_this_run", workshop=paid_by.get("workshop", ""))
    period = paid_by.get("period") or {}
    return w("trace.paid_by_run", run=paid_by["run"], workshop=paid_by.get("workshop", ""), entry=paid_by.get("entry", ""),
             start=period.get("start", ""), end=period.get("end", ""))


def parameter_line(w: Words, p: Any, main_file: Optional[str] = None) -> str:
    parameter = w.policy.parameters.get(p.name)
    unit = parameter.unit if parameter is not None else ""
    key = ""
    if p.key is not None:
        codes = w.codes(parameter.keyed_by) if parameter is not None and parameter.keyed_by else None
        key = w("trace.key", key=codes.get(p.key, p.key) if codes else p.key)
    if isinstance(p.value, Decimal) and not unit and 0 < p.value < 1:
        value = number(p.value * 100) + "%"
    else:
        value = w.value(p.value, None, unit or "")
    until = w("trace.parameter_until", until=p.until.isoformat()) if p.until is not None else ""
    if p.since is None:
        line = w("trace.parameter_no_start", label=p.label, key=key, value=value, source=p.source)
    else:
        line = w("trace.parameter", label=p.label, key=key, value=value, since=p.since.isoformat(), until=until,
                 source=p.source)
    if p.unconfirmed:
        line += w("trace.unconfirmed")
    if main_file and p.origin and p.origin != main_file:
        line += w("trace.from_file", file=p.origin)
    return line


_NUMBER = re.compile(r"(?<![\d.])(\d{4,})(?=[^\d]|$)")
_OPERATOR = re.compile(r" ([*/+-]) ")


def _arith(substituted: str, w: Words) -> str:
    """The arithmetic with the values it used, the branch not taken left out, operators as people write them."""
    if "(" not in substituted:  # plain arithmetic: written again, not parsed (the texts differ by subject)
        text = _OPERATOR.sub(lambda m: f" {w('op.' + m.group(1))} ", substituted)
        return _NUMBER.sub(lambda m: number(Decimal(m.group(1))), text)
    node = parse_formula(substituted)
    if node is None:
        return substituted

    def show(n: Any, prec: int = 0) -> str:
        known, value = literal_value(n)
        if known and not isinstance(n, E.Binary):
            return w.value(value)
        if isinstance(n, E.Call) and n.func == "if" and len(n.args) == 3:
            c_known, c = substituted_truth(n.args[0])
            if c_known:
                return show(n.args[1] if c else n.args[2], prec)
        if isinstance(n, E.Binary):
            p = PRECEDENCE[n.op]
            text = f"{show(n.left, p)} {w('op.' + n.op) if n.op in E.ARITHMETIC else n.op} {show(n.right, p + 1)}"
            return f"({text})" if p < prec else text
        if isinstance(n, E.Call):
            args = [show(a) for a in n.args]
            said = w.call(f"func.{n.func}", *args)
            return said if said is not None else f"{n.func}(" + ", ".join(args) + ")"
        return unparse(n)

    return show(node)


def _route(w: Words, status: Optional["Status"], route: str) -> str:
    codes = w.codes(f"{status.subject}.{status.granted_field}.route") if status is not None else None
    return codes.get(route, route) if codes else route


def _status_by_label(policy: "Policy", label: str) -> Optional["Status"]:
    return next((s for s in policy.statuses if s.label == label or label.startswith(s.label)), None)


def _explained(events: Iterable[object]) -> bool:
    """A decision whose trace already says why nothing was decided: a condition or requirement that failed, items."""
    return any((isinstance(e, T.Condition) and not e.holds) or (isinstance(e, T.Required) and not e.holds)
               or isinstance(e, T.Item) for e in events)


def _not_reached(w: Words, events: Iterable[object], e: T.NotReached) -> str:
    """Why a rule decided nothing, when no failed condition says it, in the policy's words for the event's ``code``
    (an event written before codes were kept is read from the trace around it)."""
    code = getattr(e, "code", None)
    if code is not None:
        said = _said_for(w, code, dict(e.details))
        if said is not None:
            return said
    return _guessed(w, events, e)


def _said_for(w: Words, code: str, details: dict) -> Optional[str]:
    status = next((s for s in w.policy.statuses if s.id == details.get("status")), None)
    label = status.label if status is not None else details.get("status", "")
    if code == "no_item":
        return w("trace.no_item")
    if code == "nothing":
        return w("trace.nothing")
    if code == "not_held":
        return w("trace.not_held", status=label)
    if code == "other_route":
        return w("trace.other_route", status=label)
    if code == "held":
        return w("trace.held", status=label, since=_day(details.get("since")), route=_route(w, status, details.get("route", "")),
                 source=held_source(w, details.get("source", "")))
    if code == "ended":
        return w("trace.ended", status=label, on=_day(details.get("on")))
    if code == "ended_stated":
        return w("trace.ended_stated", status=label, on=_day(details.get("on")))
    return None  # requires, requires_route, paid_elsewhere: the failed requirement, or the payer, has its own line


def _day(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


def _guessed(w: Words, events: Iterable[object], e: T.NotReached) -> str:
    applied = next((x for x in events if isinstance(x, T.RuleApplied)), None)
    try:
        rule = w.policy.rule(applied.rule) if applied is not None else None
    except KeyError:
        rule = None
    if rule is not None:
        ends = next((s for s in w.policy.statuses if rule.id in s.ended_by), None)
        if ends is not None and not any(isinstance(x, T.Condition) for x in events):
            return w("trace.not_held", status=ends.label)
        grants = w.policy.status_of_rule(rule.id)
        if grants is not None and grants[1] is not None and not any(isinstance(x, T.Condition) for x in events):
            return w("trace.other_route", status=grants[0].label)
        if getattr(rule, "each", None) is not None and not any(isinstance(x, (T.Arithmetic, T.Total)) for x in events):
            return w("trace.no_item")
        if any(isinstance(x, (T.Arithmetic, T.Total)) for x in events):
            return w("trace.nothing")
    return w("trace.not_reached", reason=e.reason)


def _top_up(w: Words, e: T.TopUp) -> List[str]:
    m = {"T": money(e.reached, grouped=True), "A": money(e.lump_paid, grouped=True),
         "H": money(e.other_paid, grouped=True), "N": money(e.other_now, grouped=True),
         "HN": money(e.other_paid + e.other_now, grouped=True), "net": money(e.net, grouped=True),
         "lump": w.rule(e.lump), "other": w.rule(e.other), "group": w.group(e.group), "clause": e.clause}
    lines = [w("trace.top_up", **m)]
    if e.why == "lump_paid":
        lines.append("  " + w("trace.top_up_paid", **m))
    elif e.why == "reached":  # T = H + N has its own words where the policy gives them (how a tie is settled)
        tie = e.reached == e.other_paid + e.other_now
        lines.append("  " + w(w.finer("trace.top_up_equal", "trace.top_up_reached") if tie else "trace.top_up_reached",
                              **m))
    elif e.reached <= 0:
        lines.append("  " + w("trace.top_up_none", **m))
    else:
        lines.append("  " + w("trace.top_up_other", **m))
    if e.lump_wins:
        lines.append("  " + w("trace.top_up_net", **m) + ("" if e.net > 0 else w("trace.top_up_nothing")))
    if e.reading:
        lines.append("  " + w("trace.reading", text=e.reading))
    return lines
