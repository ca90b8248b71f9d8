"""The policy's words for people: its ``settings.labels`` phrases (with English defaults for a policy that gives
none), and how values, codes, facts and rules read in them. Every view made for a person speaks through
:class:`Words`; nothing here knows a particular policy.
"""
from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from ..lang.printing import format_value

if TYPE_CHECKING:
    from ..policy.model import Policy, Status

#: English defaults of the phrases a policy's ``settings.labels`` gives in its own language.
DEFAULTS = {
    "value.yes": "yes", "value.no": "no", "value.null": "not given", "value.none": "none",
    "op.==": "is", "op.!=": "is not", "op.<": "below", "op.<=": "at most", "op.>": "above", "op.>=": "at least",
    "op.date.<": "before", "op.date.<=": "on or before", "op.date.>": "after", "op.date.>=": "on or after",
    "op.in": "is one of", "op.not in": "is none of", "op.and": "and", "op.or": "or", "op.not": "not ({0})",
    "op.+": "+", "op.-": "−", "op.*": "×", "op./": "÷", "list.sep": ", ", "sep": "; ", "colon": ": ",
    "func.in_period": "{0} (in this period)", "func.has_any": "{0} includes one of {1}",
    "func.not.in_period": "{0} (not in this period)", "func.not.has_any": "{0} includes none of {1}",
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
    "trace.top_up_equal": "T = {T} = H + N = {H} + {N} = {HN}: a tie, so {lump} is paid",
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

    def finer(self, key: str, base: str) -> str:
        """``key``, a finer phrase for what ``base`` says (a call that failed, a comparison of dates, a tie), when the
        policy gives it, or gives neither (English defaults throughout); else ``base``: a policy in its own words
        that predates the finer phrase keeps its own, never an English default beside them."""
        labels = self.policy.labels
        return key if key in labels or base not in labels else base

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
