"""What changed between two policies, and what it does to the payouts on given facts."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar

from ..runtime.evaluate import Evaluation
from ..lang.printing import format_value
from ..policy.model import Policy
from ..policy.parameters import Parameter

if TYPE_CHECKING:
    from ..lang.compiled import CompiledRule

_V = TypeVar("_V")
_Subject = Tuple[str, Optional[str], Optional[str]]  # workshop, worker, loan


@dataclass(frozen=True)
class Change:
    kind: str  # parameter, rule, clause, fund, set, exclusivity
    id: str
    change: str  # added, removed, changed
    details: Tuple[str, ...] = ()


def _values(parameter: Parameter) -> Dict[str, str]:
    out = {}
    for v in parameter.values:
        since = v.since.isoformat() if v.since else "the start"
        span = f"from {since}" + (f" until {v.until.isoformat()}" if v.until else "")
        value = v.value if not parameter.table else dict((format_value(k), a) for k, a in v.value)
        out[span] = format_value(value)
    return out


def _rule_parts(rule: CompiledRule) -> Dict[str, str]:
    parts = {"clause": rule.clause, "subject": rule.subject, "decides": rule.decides, "asserts": str(rule.asserts),
             "requires": ", ".join(r.text for r in rule.requires), "fund": str(rule.fund),
             "amount": rule.amount.text if rule.amount else "", "label": rule.label}
    for i, c in enumerate(rule.when):
        parts[f"when[{i}]"] = c.text
    for name, let in rule.lets:
        parts[f"let {name}"] = let.text
    if rule.each:
        parts["each.in"] = rule.each.source.text
        parts["each.limit"] = rule.each.limit.text if rule.each.limit else ""
        for i, c in enumerate(rule.each.where):
            parts[f"each.where[{i}]"] = c.text
    return parts


def _compare(kind: str, old: Mapping[str, _V], new: Mapping[str, _V], describe: Callable[[_V, _V], List[str]]
             ) -> List[Change]:
    changes = []
    for key in old:
        if key not in new:
            changes.append(Change(kind, key, "removed"))
    for key in new:
        if key not in old:
            changes.append(Change(kind, key, "added"))
        else:
            details = describe(old[key], new[key])
            if details:
                changes.append(Change(kind, key, "changed", tuple(details)))
    return changes


def _dict_details(a: Dict[str, str], b: Dict[str, str]) -> List[str]:
    out = []
    for key in a:
        if key not in b:
            out.append(f"{key}: {a[key]} removed")
        elif a[key] != b[key]:
            out.append(f"{key}: {a[key]} → {b[key]}")
    for key in b:
        if key not in a:
            out.append(f"{key}: {b[key]} added")
    return out


def policy_changes(old: Policy, new: Policy) -> List[Change]:
    changes = []
    changes += _compare("parameter", old.parameters, new.parameters, lambda a, b: _dict_details(_values(a), _values(b)))
    changes += _compare("rule", {r.id: r for r in old.rules}, {r.id: r for r in new.rules},
                        lambda a, b: _dict_details(_rule_parts(a), _rule_parts(b)))
    changes += _compare("clause", old.clauses, new.clauses, lambda a, b: _dict_details(
        {"heading": a.heading, "kind": a.kind, "text": a.text}, {"heading": b.heading, "kind": b.kind, "text": b.text}))
    changes += _compare("fund", old.funds, new.funds, lambda a, b: [f"label: {a} → {b}"] if a != b else [])
    changes += _compare("set", old.sets, new.sets, lambda a, b: [
        f"members: {', '.join(sorted(map(str, a)))} → {', '.join(sorted(map(str, b)))}"] if a != b else [])
    changes += _compare("exclusivity", {g.id: g for g in old.exclusivity}, {g.id: g for g in new.exclusivity},
                        lambda a, b: _dict_details({"members": ", ".join(a.members), "strategy": a.strategy, "scope": a.scope},
                                                   {"members": ", ".join(b.members), "strategy": b.strategy, "scope": b.scope}))
    return changes


@dataclass(frozen=True)
class Impact:
    before: Evaluation
    after: Evaluation
    subjects: Tuple[Tuple[str, Optional[str], Optional[str], Decimal, Decimal], ...]  # workshop, worker, loan, before, after


def _by_subject(run: Evaluation) -> Dict[_Subject, Decimal]:
    out: Dict[_Subject, Decimal] = {}
    for d in run.decisions:
        if d.outcome == "granted" and d.amount is not None:
            key = (d.workshop, d.worker, d.loan)
            out[key] = out.get(key, Decimal("0.00")) + d.amount
    return out


def payout_impact(before: Evaluation, after: Evaluation) -> Impact:
    a, b = _by_subject(before), _by_subject(after)
    order = {ws["id"]: i for i, ws in enumerate(before.facts.workshops)}
    keys = sorted(set(a) | set(b), key=lambda k: (order.get(k[0], 0), k[1] or "", k[2] or ""))
    zero = Decimal("0.00")
    rows = tuple((k[0], k[1], k[2], a.get(k, zero), b.get(k, zero)) for k in keys if a.get(k, zero) != b.get(k, zero))
    return Impact(before, after, rows)
