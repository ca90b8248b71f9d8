"""The trace people read: each decision's reasons in the policy's language, from the trace events.

A pure view over :mod:`subsidy_rules.runtime.trace`, the counterpart of the engine-syntax lines of
:func:`subsidy_rules.views.explain.trace_lines` (``explain --raw``). Every word comes from the policy
file: condition, rule, parameter, computed-value and status labels, vocabulary labels for codes, and the
phrases of ``settings.labels`` (``fact.*`` and ``unit.*`` for fields of the facts, ``let.*`` for a rule's
intermediate values, ``op.*`` for operators, ``func.*`` for functions, ``trace.*`` for sentences). The
defaults here are English, for a policy that gives none.

An expression is shown in words by walking its text and the text with the values it saw side by side
(both parse to the same tree, the second with values where the first has names): a name becomes its
label, its value and its unit; a part that was never evaluated (the other branch of ``if``, an operand
after ``or`` decided the result) is left out.
"""
from __future__ import annotations

import datetime as _dt
import re
from functools import lru_cache
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ..facts.model import Derived
from ..lang import expr as E
from ..lang.expr import format_value
from ..problems import SubsidyError
from ..runtime import trace as T
from .formats import MARK, money

if TYPE_CHECKING:
    from ..policy.model import Policy, Status
    from ..runtime.decisions import Decision

#: English defaults of the phrases a policy's ``settings.labels`` gives in its own language.
DEFAULTS = {
    "value.yes": "yes", "value.no": "no", "value.null": "not given", "value.none": "none",
    "op.==": "is", "op.!=": "is not", "op.<": "below", "op.<=": "at most", "op.>": "above", "op.>=": "at least",
    "op.in": "is one of", "op.not in": "is none of", "op.and": "and", "op.or": "or", "op.not": "not ({0})",
    "op.+": "+", "op.-": "−", "op.*": "×", "op./": "÷", "list.sep": ", ", "sep": "; ", "colon": ": ",
    "func.in_period": "{0} (in this period)", "func.has_any": "{0} includes one of {1}",
    "trace.clause": "clause {clause} {heading}: {text}",
    "report.status_certified": "{label} ({clause} {rule}, route {route})",
    "report.status_held": "{label} (held since {since}, route {route})",
    "report.status_revoked": "{label} ({clause} {rule}, from {effective})",
    "report.summary_line": "{workshops} workshops, {certified} certified; {decisions} decisions; {granted} granted",
    "report.trace_of": " (of {subject}; the {others} others met the same conditions)",
    "text.workshop": "workshop {id}{name}{place}: {status}",
    "text.place": " ({place})",
    "text.why": "{subject}: {why}",
    "text.no_decision": "no decision (run with --why-not to see the first condition each rule failed)",
    "text.by_fund": "totals by fund",
    "text.by_clause": "totals by clause",
    "text.outcomes": "decisions: {counts}",
    "trace.title": "{title} ({document})",
    "trace.fund": " ({fund})",
    "trace.required": "{status} of {holder}: held (granted by {by})",
    "trace.required_route": "{status} of {holder}: held by route {route} (granted by {by})",
    "trace.required_only": "; this item is open to route {routes} only",
    "trace.required_missing": "{status} of {holder}: not held",
    "trace.route_closed": "held by route {route}; this item is open to route {routes} only",
    "trace.held": "{status}: held since {since} by route {route} ({source}); not tested again",
    "trace.held_end": "an end dated {on} is not after that grant, so the grant stands",
    "trace.pending": "pending: {parameter} has no value on {date}; decided once the policy has it",
    "trace.item_counted": "{item}: counted",
    "trace.item_beyond": "{item}: not counted, beyond the limit",
    "trace.item_not_counted": "{item}: not counted",
    "trace.limit": "counts at most {n}",
    "trace.no_limit": "no limit on how many count",
    "trace.amount": "amount",
    "trace.total": "total {parts} = {total}",
    "trace.total_one": "total {total}",
    "trace.not_reached": "no decision: {reason}",
    "trace.not_held": "applies only to a subject holding {status} from before this period",
    "trace.no_item": "no item qualified",
    "trace.other_route": "{status} is granted by another route",
    "trace.paid_by_run": "already paid by run {run} of the ledger, for workshop {workshop}, period {start}..{end} "
                         "(entry {entry}); it is paid once per person",
    "trace.paid_by_this_run": "already granted in this run, by workshop {workshop}; it is paid once per person",
    "trace.nothing": "the amount comes to nothing",
    "trace.ended": "{status} already ended on {on}",
    "trace.ended_stated": "{status} ended on {on}; only a grant stated after that date restores it",
    "trace.parameters": "values used:",
    "trace.parameter": "{label}{key}: {value}, in force from {since}{until}; source: {source}",
    "trace.parameter_no_start": "{label}{key}: {value}, in force before any later value; source: {source}",
    "trace.parameter_until": " until {until}",
    "trace.unconfirmed": " (not yet confirmed)",
    "trace.key": " [{key}]",
    "trace.from_file": " [from {file}]",
    "trace.top_up": "{group} ({clause}): reached T = {T}, paid before A = {A}; {other} paid before H = {H}, now N = {N}",
    "trace.top_up_paid": "A = {A} > 0: {lump} was paid before, so its side stays the one paid",
    "trace.top_up_reached": "T = {T} ≥ H + N = {H} + {N} = {HN}: {lump} is paid",
    "trace.top_up_none": "T = 0 and A = 0: {other} is paid",
    "trace.top_up_other": "T = {T} < H + N = {H} + {N} = {HN}: {other} is paid",
    "trace.top_up_net": "{lump}: T − A − H = {T} − {A} − {H} = {net}",
    "trace.top_up_nothing": ", nothing to pay",
    "trace.exclusive_won": "{group} ({clause}): {winner} {winner_amount} is paid, not {other} {other_amount}",
    "trace.exclusive_lost": "{group} ({clause}): not paid; {winner} {winner_amount} is paid instead of {other} {other_amount}",
    "trace.reading": "reading: {text}",
    "trace.outcome": "{outcome}{amount}{fund}",
    "trace.suppressed": "not paid: {amount} (the other side of {group} is paid)",
    "trace.yuan": "{amount}",
    "trace.source_facts": "the facts at {pointer}",
    "trace.source_run": "the ledger's run {run}, period {start}..{end}",
    "pending.count": "{count} decisions pending: the policy has no value yet for",
    "pending.parameter": "  {parameter} on {date} (needed by {count} of them)",
    "pending.advice": "add each value to the policy with its source, then evaluate again (with a ledger: --record "
                      "--supersede)",
    "pending.strict": "pending decisions fail the run (--strict)",
    "ledger.title": "ledger {ledger}, policy {policy}, {span}",
    "ledger.periods": "periods within {start} .. {end}",
    "ledger.all_periods": "all periods",
    "ledger.head": "head: run {runs}, entry {entries}, hash {hash} (verified)",
    "ledger.entries": "{entries} entries ({reversals} reversals); granted {granted}",
    "ledger.by_city": "totals by city",
    "ledger.by_county": "totals by county",
    "ledger.pending": "{count} decisions {pending}: add the values they wait for to the policy, then evaluate "
                      "the period again with --record --supersede",
    "ledger.pending_line": "{start}..{end} {workshop} {subject}: {clause} {rule} waits for {waits}",
    "ledger.waits": "{parameter} on {date}",
    "ledger.targets": "targets",
    "ledger.target": "{clause} {label}: {counted} of {target}{by} ({share}%)",
    "ledger.by": " by {date}",
}

_FIELD_PLACEHOLDER = re.compile(r"\{([a-zA-Z0-9_]+)\}")


class Words:
    """The phrases of one policy: its labels, or the English defaults."""

    def __init__(self, policy: "Policy"):
        self.policy = policy
        self._group_labels = {g.id: policy.label(f"group.{g.id}", g.id) for g in policy.exclusivity}
        self._status_by_flag = {(s.subject, s.flag): s for s in policy.statuses}

    def __call__(self, _key: str, **values: object) -> str:
        text = self.policy.label(_key, DEFAULTS.get(_key, _key))
        if values:
            text = _FIELD_PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)
        return text

    def call(self, key: str, *args: str) -> Optional[str]:
        text = self.policy.labels.get(key, DEFAULTS.get(key))
        if text is None:
            return None
        return _FIELD_PLACEHOLDER.sub(lambda m: args[int(m.group(1))] if m.group(1).isdigit() and int(m.group(1)) < len(args)
                                      else m.group(0), text)

    # values -------------------------------------------------------------------------------------------------
    def codes(self, field: Optional[str]) -> Optional[Dict[str, str]]:
        if not field or "." not in field:
            return None
        kind, name = field.rsplit(".", 1)
        vocab = self.policy.field_codes.get((kind, name))
        return vocab.codes if vocab is not None else None

    def value(self, value: Any, field: Optional[str] = None, unit: str = "") -> str:
        """A value in words: yes/no, a code's label, a date, a number (grouped, with its unit)."""
        if value is None:
            return self("value.null")
        if value is True:
            return self("value.yes")
        if value is False:
            return self("value.no")
        codes = self.codes(field)
        if isinstance(value, str):
            return codes.get(value, value) if codes else value
        if isinstance(value, dict):
            return self("list.sep").join(f"{k}{self('colon')}{self.value(v)}" for k, v in value.items())
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return self("list.sep").join(f"{self.value(k)}{self('colon')}{self.value(v)}" for k, v in value)  # a table
        if isinstance(value, (list, tuple, frozenset, set)):
            items = sorted(value, key=lambda v: list(codes).index(v) if codes and v in codes else 0) \
                if isinstance(value, (frozenset, set)) else value
            return self("list.sep").join(self.value(v, field) for v in items) if items else self("value.none")
        if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
            text = number(Decimal(value))
        elif isinstance(value, Fraction):
            text = number(Decimal(value.numerator) / Decimal(value.denominator))
        elif isinstance(value, _dt.date):
            text = value.isoformat()
        else:
            text = format_value(value)
        return f"{text} {unit}" if unit else text

    def fact(self, name: str) -> Tuple[Optional[str], str]:
        """The label and unit of a field of the facts (``fact.worker.contract_months``), if the policy names it."""
        key = name
        return self.policy.labels.get(f"fact.{key}"), self.policy.labels.get(f"unit.{key}", "")

    def status(self, fact: str) -> Optional["Status"]:
        kind, _, flag = fact.partition(".")
        return self._status_by_flag.get((kind, flag))

    def rule(self, rule_id: str) -> str:
        try:
            rule = self.policy.rule(rule_id)
        except KeyError:
            return rule_id
        return f"{rule.clause} {rule.label}"

    def group(self, group_id: str) -> str:
        return self._group_labels.get(group_id, group_id)


def number(value: Decimal) -> str:
    """A number as people read it: thousands grouped, no trailing zeros (1,630; 0.5; 4,246.9)."""
    text = format_value(value)
    sign = "-" if text.startswith("-") else ""
    whole, dot, frac = text.lstrip("-").partition(".")
    if len(whole) > 3 and whole.isdigit():
        whole = f"{int(whole):,}"
    return f"{sign}{whole}{dot}{frac}"


# expressions in words ----------------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _parse(text: str) -> Optional[E.Node]:
    """The tree of an expression text (the same texts come back for every subject: parsed once each)."""
    try:
        return E.parse(text)
    except SubsidyError:
        return None


def _literal_value(node: Any) -> Tuple[bool, Any]:
    """(True, value) when ``node`` is a value the engine substituted: a literal or a list of literals."""
    if isinstance(node, E.Literal):
        return True, node.value
    if isinstance(node, E.ListOf) and all(isinstance(i, E.Literal) for i in node.items):
        return True, [i.value for i in node.items if isinstance(i, E.Literal)]
    if isinstance(node, E.Unary) and node.op == "-" and isinstance(node.operand, E.Literal) \
            and _is_number(node.operand.value):
        return True, -node.operand.value
    if isinstance(node, E.Binary) and node.op == "/" and isinstance(node.left, E.Literal) \
            and isinstance(node.right, E.Literal) and _is_number(node.left.value) and _is_number(node.right.value) \
            and node.right.value:
        return True, Fraction(node.left.value) / Fraction(node.right.value)  # a fraction the engine carries
    return False, None


_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal, Fraction)) and not isinstance(value, bool)


def _truth(node: Any) -> Tuple[bool, Any]:
    """Whether a condition the engine substituted held: a literal, or a comparison of two numbers it shows."""
    known, value = _literal_value(node)
    if known:
        return True, value
    if isinstance(node, E.Binary) and node.op in _COMPARE:
        (lk, left), (rk, right) = _literal_value(node.left), _literal_value(node.right)
        if lk and rk and _is_number(left) and _is_number(right):
            return True, _COMPARE[node.op](Fraction(left), Fraction(right))
    return False, None


class _Speaker:
    """Renders one expression (its text, and its text with values) in words."""

    def __init__(self, words: Words, params: Iterable = (), seen: Iterable = ()):
        self.w = words
        self.seen = dict(seen or ())
        self.params: Dict[str, list] = {}
        self.derived: Dict[str, Derived] = {}
        for p in params or ():
            if isinstance(p, Derived):
                self.derived.setdefault(p.name, p)
            else:
                self.params.setdefault(p.name, []).append(p)

    def say(self, formula: str, substituted: str = "") -> Optional[str]:
        """``formula`` in words, with the values the engine saw (``seen``, the parameters): parsed once per text,
        whatever the subject."""
        f = _parse(formula)
        if f is None:
            return None
        if isinstance(f, E.Unary) and f.op == "not" and isinstance(f.operand, E.Name):
            return self.node(f.operand)  # the whole condition is `not x`: x's value says it ("paid before: no")
        return self.node(f)

    # a name: its label, value and unit
    def name(self, dotted: str) -> str:
        known = dotted in self.seen
        value = self.seen.get(dotted)
        label, unit = self.w.fact(dotted)
        if dotted in self.derived and self.derived[dotted].label:
            label = self.derived[dotted].label
        if dotted.count(".") == 0 and self.w.policy.labels.get(f"let.{dotted}"):
            label = self.w.policy.labels[f"let.{dotted}"]
        shown = self.w.value(value, dotted, unit) if known else ""
        if label is None:
            return shown or dotted
        return f"{label} {shown}".strip()

    def evaluated(self, node: E.Node) -> bool:
        """Whether the engine evaluated ``node``: every name of the facts in it was seen (``or`` and ``if`` stop
        early, leaving the rest unread)."""
        return all(n.dotted in self.seen for n in E.walk(node) if isinstance(n, E.Name) and n.parts[0] != "sets")

    def value_of(self, node: E.Node) -> Tuple[bool, Any]:
        """The value of ``node`` from what the engine saw, when it can be told without evaluating anew."""
        if isinstance(node, E.Literal):
            return True, node.value
        if isinstance(node, E.Name):
            return (True, self.seen[node.dotted]) if node.dotted in self.seen else (False, None)
        if isinstance(node, E.Call) and node.func == "param" and node.args and isinstance(node.args[0], E.Literal):
            uses = self.params.get(node.args[0].value)
            return (True, uses[0].value) if uses and len({u.value for u in uses if not isinstance(u.value, (dict, list))}) <= 1 \
                else (False, None)
        if isinstance(node, E.Unary) and node.op == "not":
            known, value = self.value_of(node.operand)
            return (True, not value) if known and isinstance(value, bool) else (False, None)
        if isinstance(node, E.Binary) and node.op in _COMPARE:
            (lk, left), (rk, right) = self.value_of(node.left), self.value_of(node.right)
            if lk and rk and _is_number(left) and _is_number(right):
                return True, _COMPARE[node.op](Fraction(left), Fraction(right))
        return False, None

    def node(self, f: Any, field: Optional[str] = None) -> str:
        if isinstance(f, E.Name):
            if f.parts[0] == "sets":
                members = self.w.policy.sets.get(f.parts[1], ())
                return self.w.value(frozenset(members), field)
            return self.name(f.dotted)
        if isinstance(f, E.Literal):
            return self.w.value(f.value, field)
        if isinstance(f, E.Call) and f.func == "param":
            return self.param(f, self.value_of(f)[1])
        if isinstance(f, E.ListOf):
            return self.w("list.sep").join(self.node(i, field) for i in f.items)
        if isinstance(f, E.Unary):
            inner = self.node(f.operand, field)
            if f.op == "-":
                return "-" + inner
            return self.w.call("op.not", inner) or inner  # inside `or`/`and` the `not` is said: it changes the sense
        if isinstance(f, E.Binary):
            other = _field_of(f.left) or _field_of(f.right)
            if f.op in ("==", "!=") and isinstance(f.right, E.Literal) and f.right.value is None:
                return self.node(f.left, other)  # "income != null": the value shown says it
            return f"{self.node(f.left, other)} {self.w('op.' + f.op)} {self.node(f.right, other)}"
        if isinstance(f, E.BoolOp):
            parts = [self.node(a) for a in f.operands if self.evaluated(a)]
            return f" {self.w('op.' + f.op)} ".join(parts) if parts else ""
        if isinstance(f, E.Call):
            if f.func == "if" and len(f.args) == 3:
                known, cond = self.value_of(f.args[0])
                if known:
                    return self.node(f.args[1] if cond else f.args[2])
                if self.evaluated(f.args[1]) != self.evaluated(f.args[2]):
                    return self.node(f.args[1] if self.evaluated(f.args[1]) else f.args[2])
            if f.func == "coalesce":
                kept = [self.node(a) for a in f.args if self.evaluated(a) and self.value_of(a) != (True, None)]
                if kept:
                    return kept[0]
            other = next((_field_of(a) for a in f.args if _field_of(a)), None)
            args = [self.node(a, other) for a in f.args]
            said = self.w.call(f"func.{f.func}", *args)
            return said if said is not None else f"{f.func}(" + self.w("list.sep").join(args) + ")"
        return ""

    def param(self, f: E.Call, value: Any) -> str:
        name = f.args[0].value if f.args and isinstance(f.args[0], E.Literal) else ""
        parameter = self.w.policy.parameters.get(name)
        label = parameter.label if parameter is not None else name
        unit = parameter.unit if parameter is not None else ""
        if value is None and self.params.get(name):
            value = self.params[name][0].value
        if value is None:
            return label
        if isinstance(value, Decimal) and not unit and value < 1 and value > 0:
            return f"{label} {number(value * 100)}%"
        return f"{label} {self.w.value(value, None, unit or '')}".rstrip()


def _field_of(node: E.Node) -> Optional[str]:
    return node.dotted if isinstance(node, E.Name) else None


# the trace ---------------------------------------------------------------------------------------------------

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
        speaker = _Speaker(w, a.params)
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
        elif isinstance(e, T.Total) and len(e.parts) == 1:
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
    said = _Speaker(w, c.params, c.seen).say(c.text, c.substituted)
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
        if isinstance(e, T.TopUp) and not e.won:
            return _top_up(w, e)[1].strip()
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
    node = _parse(substituted)
    if node is None:
        return substituted

    def show(n: Any, prec: int = 0) -> str:
        known, value = _literal_value(n)
        if known and not isinstance(n, E.Binary):
            return w.value(value)
        if isinstance(n, E.Call) and n.func == "if" and len(n.args) == 3:
            c_known, c = _truth(n.args[0])
            if c_known:
                return show(n.args[1] if c else n.args[2], prec)
        if isinstance(n, E.Binary):
            p = E._PRECEDENCE[n.op]
            text = f"{show(n.left, p)} {w('op.' + n.op) if n.op in E.ARITHMETIC else n.op} {show(n.right, p + 1)}"
            return f"({text})" if p < prec else text
        if isinstance(n, E.Call):
            args = [show(a) for a in n.args]
            said = w.call(f"func.{n.func}", *args)
            return said if said is not None else f"{n.func}(" + ", ".join(args) + ")"
        return E.unparse(n)

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
    if code in ("requires", "requires_route", "paid_elsewhere"):
        return None  # the failed requirement, or where it was paid, is shown by its own line
    return None


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
    elif e.why == "reached":
        lines.append("  " + w("trace.top_up_reached", **m))
    elif e.reached <= 0:
        lines.append("  " + w("trace.top_up_none", **m))
    else:
        lines.append("  " + w("trace.top_up_other", **m))
    if e.lump_wins:
        lines.append("  " + w("trace.top_up_net", **m) + ("" if e.net > 0 else w("trace.top_up_nothing")))
    if e.reading:
        lines.append("  " + w("trace.reading", text=e.reading))
    return lines
