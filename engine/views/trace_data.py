"""The trace as data: each decision's events as small JSON objects that refer to the policy by id.

A decision's trace names the clause, rule, conditions, formulas, computed values and parameter values it
used by id; their texts (a clause's heading and text, a rule's label, a condition's text, label and reading,
a parameter's label, values, dates and sources) are written once, in the document's ``dictionary``
(:func:`dictionary`), not again in every decision. ``schemas/decisions.schema.json`` describes both.

Ids are made so that both sides agree without sharing state (a worker process of ``--jobs`` encodes its
decisions alone): a clause, rule, computed value, parameter or exclusivity group by its own id in the
policy; a parameter's value by the parameter and the date it is in force from; a condition and a
formula, which the policy does not name, by a short digest of their text (a condition's with its label
and reading), the same digest the dictionary files them under.

Numbers are written as strings of their exact value (money with its two decimals, as everywhere in the
document; a fraction that does not terminate as ``numerator/denominator``), so nothing passes through a
binary float; dates as ``YYYY-MM-DD``.

Pure functions over the trace events (:mod:`subsidy_rules.runtime.trace`), read by class and field name;
nothing here decides.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Set, Tuple, Union

from ..facts.model import Derived
from ..lang.printing import decimal_text
from ..runtime import trace as T
from .formats import money

if TYPE_CHECKING:
    from ..policy.model import Policy

# --- values ---------------------------------------------------------------------------------------------------------


def value(v: Any) -> Any:
    """A value the engine read or worked out, as JSON: numbers as exact decimal strings, dates as ISO dates."""
    write = _VALUES.get(type(v))
    if write is not None:
        return write(v)
    if isinstance(v, (list, tuple)):
        return [value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): value(x) for k, x in v.items()}
    if isinstance(v, Decimal):
        return decimal_text(v)
    if isinstance(v, _dt.date):
        return _iso(v)
    return str(v)


def _fraction(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


_ISO: Dict[_dt.date, str] = {}


def _iso(d: _dt.date) -> str:
    """A date as YYYY-MM-DD (the few dates of a run, each written once)."""
    text = _ISO.get(d)
    if text is None:
        if len(_ISO) > 4_096:  # small: a long-lived cache is walked by every full garbage collection
            _ISO.clear()
        text = _ISO[d] = d.isoformat()
    return text


def _same(v: Any) -> Any:
    return v


_DECIMALS: Dict[Decimal, str] = {}


def _decimal(v: Decimal) -> str:
    """A decimal as :func:`~subsidy_rules.lang.printing.decimal_text` writes it; the few values a run reads again and
    again (incomes, bases, amounts) written once. Equal decimals write the same, but for -0, which equals 0 and
    writes apart: a signed decimal is neither kept nor looked up (else -0 would be written as the 0 kept before it,
    or not, as the run went)."""
    if v.is_signed():
        return decimal_text(v)
    text = _DECIMALS.get(v)
    if text is None:
        text = decimal_text(v)
        if len(_DECIMALS) > 4_096:  # small: a long-lived cache is walked by every full garbage collection
            _DECIMALS.clear()
        _DECIMALS[v] = text
    return text


_VALUES: Dict[type, Callable[[Any], Any]] = {
    type(None): _same, bool: _same, str: _same, Decimal: _decimal, int: str, Fraction: _fraction,
    _dt.date: _iso, list: lambda v: [value(x) for x in v], tuple: lambda v: [value(x) for x in v],
}


def _date(d: Optional[_dt.date]) -> Optional[str]:
    return None if d is None else _iso(d)


def count(n: Optional[int]) -> Union[int, str, None]:
    """A count as a JSON integer (one too large for a 64-bit integer as a string: it is still exact)."""
    if n is None or -(1 << 63) <= n < (1 << 63):
        return n
    return str(n)


# --- ids of what the policy does not name ---------------------------------------------------------------------------

_IDS: Dict[tuple, str] = {}


def _digest(kind: str, *parts: Optional[str]) -> str:
    key = (kind,) + parts
    found = _IDS.get(key)
    if found is None:
        if len(_IDS) > 100_000:  # policy texts are few; bound the cache whatever comes
            _IDS.clear()
        found = hashlib.blake2b(json.dumps(key, ensure_ascii=False).encode("utf-8"), digest_size=5).hexdigest()
        _IDS[key] = found
    return found


def condition_id(text: str, label: Optional[str], reading: Optional[str]) -> str:
    """The id a condition is filed under: a digest of its text, label (as shown) and reading."""
    return _digest("condition", text, label, reading)


def formula_id(text: str) -> str:
    """The id a formula (an amount, a ``let``, a limit) is filed under: a digest of its text."""
    return _digest("formula", text)


# --- the events -----------------------------------------------------------------------------------------------------
#
# Each encoder takes an event and the set of parameter and computed values its decision's trace has already
# listed: like the rendered trace, a decision lists each value it used once, where it was first used.


def recorded_uses(params: Iterable[Any], shown: Set[tuple]) -> List[Dict[str, Any]]:
    """Each parameter value and computed value of ``params`` (as told, repeats included) that its decision has not
    listed yet. Each use's entry is written once, kept by the use and shared, never changed: a parameter's use on a
    date is one object the engine hands to every trace that reads it, a computed value one object per record, listed
    by each of that record's decisions."""
    out: List[Dict[str, Any]] = []
    for p in params:
        if p.__class__ is tuple:  # a computed value's uses as one block (runtime.recording): each once a decision
            mark = (id(p),)  # alive as long as its record, which outlives the decision
            if mark not in shown:
                shown.add(mark)
                out += recorded_uses(p, shown)
            continue
        key = p.identity
        if key in shown:
            continue
        shown.add(key)
        entry = p.written
        if entry is None:
            entry = p.written = _use(p)
        out.append(entry)
    return out


def _use(p: Any) -> Dict[str, Any]:
    if p.__class__ is Derived:
        out = {"computed": p.name}
        _values(out, p)
        out["value"] = value(p.value)
        return out
    use = {"parameter": p.name, "on": _iso(p.at), "from": _date(p.since)}
    if p.key is not None:
        use["key"] = p.key
    return use


def _with_uses(out: Dict[str, Any], event: Any, shown: Set[tuple]) -> Dict[str, Any]:
    """``out`` with the parameter and computed values ``event`` used that its decision has not listed yet (from
    what was told, repeats included: ``shown`` keeps each once across the decision)."""
    told = event.told
    if told:
        uses = recorded_uses(told, shown)
        if uses:
            out["uses"] = uses
    return out


def _values(out: Dict[str, Any], e: Any) -> Dict[str, Any]:
    """``out`` with the values the expression of ``e`` read, by the name (or count, or parameter call) as written:
    with its text in the dictionary, what its text with the values in place (a view) is made of."""
    seen = e.shown
    if seen:
        write = _VALUES.get
        out["values"] = {name: (write(v.__class__) or value)(v) for name, v in seen}
    return out


def recorded_values(shown: Dict[Any, Any]) -> Dict[str, Any]:
    """What a recording variant kept of an expression (:mod:`subsidy_rules.runtime.recording`): each name and count
    as written, with the first value it read, as JSON (the marks of the lets it read left out)."""
    out: Dict[str, Any] = {}
    decimals, dates = _DECIMALS, _ISO  # the caches of _decimal and _iso, read here first (millions of values a run)
    for name, v in shown.items():
        if name.__class__ is not str:
            continue
        cls = v.__class__
        if cls is Decimal:
            text = None if v.is_signed() else decimals.get(v)
            out[name] = _decimal(v) if text is None else text
        elif cls is _dt.date:
            text = dates.get(v)
            out[name] = _iso(v) if text is None else text
        elif cls is str or cls is bool or v is None:
            out[name] = v
        else:
            out[name] = (_VALUES.get(cls) or value)(v)
    return out


def _condition(c: Any, shown: Set[tuple]) -> Dict[str, Any]:
    out = _values({"condition": condition_id(c.text, c.label, c.reading), "holds": c.holds}, c)
    return _with_uses(out, c, shown)


def _let(let: Any) -> Dict[str, Any]:
    out = _values({"name": let.name, "formula": formula_id(let.formula)}, let)
    out["value"] = value(let.value)
    return out


def _arithmetic(a: Any, shown: Set[tuple]) -> Dict[str, Any]:
    out = _values({"formula": formula_id(a.formula)}, a)
    out["exact"] = value(a.exact)
    out["rounded"] = money(a.rounded)
    if a.lets:
        out["lets"] = [_let(let) for let in a.lets]
    return _with_uses(out, a, shown)


def _rule(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    return rule_entry(e.rule, e.subject_id)


def rule_entry(rule: str, subject_id: str) -> Dict[str, Any]:
    """The entry of the rule being applied (:class:`~subsidy_rules.runtime.trace.RuleApplied`'s, and the recording's:
    the texts it quotes are the document's dictionary's)."""
    return {"event": "rule", "rule": rule, "subject_id": subject_id}


def _required(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    return required_entry(e.fact, e.holder_id, e.holds, e.asserted_by, e.routes, e.route)


def required_entry(fact: str, holder_id: str, holds: bool, asserted_by: Iterable[Tuple[str, str]],
                   routes: Optional[Iterable[str]], route: Optional[str]) -> Dict[str, Any]:
    """The entry of a derived fact a rule requires (:class:`~subsidy_rules.runtime.trace.Required`'s fields, and the
    recording's)."""
    out = {"event": "requires", "fact": fact, "holder": holder_id, "holds": holds,
           "asserted_by": [rule for rule, _clause in asserted_by]}
    if routes is not None:
        out["routes"] = list(routes)
    if route is not None:
        out["route"] = route
    return out


def _held(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    out = {"event": "held", "route": e.route, "since": e.since.isoformat(), "source": e.source}
    if e.ended_on is not None:
        out["ended_on"] = e.ended_on.isoformat()
    return out


def _pending(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    return {"event": "pending", "missing": [{"parameter": name, "date": day.isoformat(), "key": key}
                                            for name, day, key in e.missing]}


def _top_up(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    return {"event": "top_up", "group": e.group, "won": e.won, "lump": e.lump, "other": e.other,
            "reached": money(e.reached), "lump_paid": money(e.lump_paid), "other_paid": money(e.other_paid),
            "other_now": money(e.other_now), "net": money(e.net), "lump_wins": e.lump_wins, "why": e.why}


def _condition_event(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    out = _values({"event": "condition", "condition": condition_id(e.text, e.label, e.reading), "holds": e.holds}, e)
    return _with_uses(out, e, shown)


def _limit(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    out = _values({"event": "limit", "formula": formula_id(e.text)}, e)
    out["value"] = count(e.value)
    return _with_uses(out, e, shown)


def _item(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    out = {"event": "item", "item": e.item, "counted": e.counted}
    if e.beyond_limit:
        out["beyond_limit"] = True
    if e.conditions:
        out["where"] = [_condition(c, shown) for c in e.conditions]
    if e.reason is not None:
        out["failed"] = _condition(e.reason, shown)
    if e.arithmetic is not None:
        out["arithmetic"] = _arithmetic(e.arithmetic, shown)
    return out


def _arithmetic_event(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    out = {"event": "arithmetic"}
    out.update(_arithmetic(e, shown))
    return out


def _total(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    return {"event": "total", "parts": [money(p) for p in e.parts], "total": money(e.total)}


def _not_reached(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    out = {"event": "not_reached", "code": e.code, "reason": e.reason}
    if e.details:
        out["details"] = {name: value(v) for name, v in e.details}
    return out


def _exclusive(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    return {"event": "exclusive", "group": e.group, "won": e.won, "winner": e.winner,
            "winner_amount": money(e.winner_amount), "other": e.other, "other_amount": money(e.other_amount)}


def _outcome(e: Any, shown: Set[tuple]) -> Dict[str, Any]:
    return {"event": "outcome", "outcome": e.outcome, "amount": money(e.amount), "fund": e.fund}


#: How each kind of event is written: one entry per class of :mod:`subsidy_rules.runtime.trace`.
ENCODERS: Dict[type, Callable[[Any, Set[tuple]], Dict[str, Any]]] = {
    T.RuleApplied: _rule, T.Required: _required, T.Held: _held, T.Pending: _pending, T.TopUp: _top_up,
    T.Condition: _condition_event, T.Limit: _limit, T.Item: _item, T.Arithmetic: _arithmetic_event,
    T.Total: _total, T.NotReached: _not_reached, T.Exclusive: _exclusive, T.Outcome: _outcome,
}

#: Event classes that are parts of others, never a trace entry of their own.
PARTS = (T.Let,)


def trace_data(events: Iterable[Any], reason: Optional[str] = None) -> List[Dict[str, Any]]:
    """The trace of one decision as data, in the order things happened. Each parameter value and computed value
    is listed once, where the decision first used it; a ``not_reached`` entry whose reason is the decision's own
    ``reason`` leaves it out (the decision states it once)."""
    encoders = ENCODERS
    shown: set = set()
    out = [encoders[e.__class__](e, shown) for e in events]
    if reason is not None:
        for entry in out:
            if entry["event"] == "not_reached" and entry["reason"] == reason:
                del entry["reason"]
    return out


# --- the dictionary -------------------------------------------------------------------------------------------------


def dictionary(policy: "Policy", end: _dt.date) -> Dict[str, Any]:
    """Every text a trace refers to, once: the policy's clauses, rules, statuses, conditions, formulas,
    computed values, parameters (with every value, its dates and its source) and exclusivity groups; and what its
    values mean in words: each fact's label and unit, each code's label, each set's members, each fund's label and
    the rounding of amounts.

    Labels that quote a parameter are filled in as in force on ``end`` (the period's end), as the engine
    shows them."""
    from ..policy.labels import fill_label

    def label(text: Optional[str]) -> Optional[str]:
        return fill_label(text, policy.parameters, end) if text else text

    cited = {r.clause for r in policy.rules} | {g.clause for g in policy.exclusivity}
    clauses = {cid: {"heading": c.heading, "text": c.text} for cid, c in policy.clauses.items() if cid in cited}
    grants: Dict[str, Dict[str, str]] = {}
    for status in policy.statuses:
        for route in status.routes:
            grants.setdefault(route.rule, {"status": status.id, "route": route.route})
    rules, conditions, formulas = {}, {}, {}

    def file_condition(c: Any) -> None:
        text, shown = c.text, label(c.label)
        entry = {"text": text}
        if shown:
            entry["label"] = shown
        if c.reading:
            entry["reading"] = c.reading
        conditions[condition_id(text, shown, c.reading)] = entry

    def file_formula(text: str) -> None:
        formulas[formula_id(text)] = text

    for r in sorted(policy.rules, key=lambda r: r.index):
        entry: Dict[str, Any] = {"label": label(r.label), "clause": r.clause, "subject": r.subject,
                                 "decides": r.decides, "fund": r.fund, "origin": r.origin}
        if r.id in grants:
            entry["grants"] = grants[r.id]
        rules[r.id] = entry
        for c in r.when:
            file_condition(c)
        for _name, let in r.lets:
            file_formula(let.text)
        if r.amount is not None:
            file_formula(r.amount.text)
        if r.each is not None:
            for c in r.each.where:
                file_condition(c)
            if r.each.limit is not None:
                file_formula(r.each.limit.text)
    statuses = {s.id: {"label": label(s.label), "subject": s.subject, "flag": s.flag,
                       "routes": {route.route: route.rule for route in s.routes}} for s in policy.statuses}
    computed = {}
    for value_of in policy.computed:
        entry = {"formula": value_of.formula}
        shown = label(value_of.label)
        if shown:
            entry["label"] = shown
        if value_of.clause:
            entry["clause"] = value_of.clause
        computed[value_of.name] = entry
    parameters = {}
    for name, p in policy.parameters.items():
        parameters[name] = {
            "label": p.label, "unit": p.unit, "clause": p.clause, "type": "table" if p.table else p.type,
            "keyed_by": p.keyed_by, "origin": policy.origins.get(name),
            "values": [{"from": _date(v.since), "until": _date(v.ends), "value": value(v.value), "source": v.source,
                        "unconfirmed": v.unconfirmed} for v in p.values]}
    groups = {}
    for g in policy.exclusivity:
        entry = {"clause": g.clause, "scope": g.scope, "strategy": g.strategy, "members": list(g.members)}
        if g.reading:
            entry["reading"] = g.reading
        groups[g.id] = entry
    # what a trace's values mean in words: each fact's label and unit (and its codes), each code's label, each set's
    # members, each fund's label, and how amounts are rounded
    facts: Dict[str, Dict[str, Any]] = {}
    for key, text in policy.labels.items():
        if key.startswith("fact."):
            name = key[len("fact."):]
            entry = {"label": text}
            unit = policy.labels.get(f"unit.{name}")
            if unit:
                entry["unit"] = unit
            kind, _, field_name = name.rpartition(".")
            vocab = policy.field_codes.get((kind, field_name))
            if vocab is not None:
                entry["codes"] = vocab.name
            facts[name] = entry
    codes = {v.name: {"label": v.label, "codes": dict(v.codes)} for v in policy.vocabularies.values()}
    sets = {name: sorted(value(m) for m in members) for name, members in policy.sets.items()}
    return {"clauses": clauses, "rules": rules, "statuses": statuses, "conditions": conditions, "formulas": formulas,
            "computed": computed, "parameters": parameters, "exclusivity": groups, "facts": facts, "codes": codes,
            "sets": sets, "funds": dict(policy.funds),
            "rounding": {"quantum": decimal_text(policy.quantum), "mode": policy.rounding}}
