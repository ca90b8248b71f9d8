"""The policy as the pages show it: clauses with their rules, groups and parameters (labels filled with the values
of the day), and a fork's changes from its parent."""
from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Dict, List, Optional

import subsidy_rules

if TYPE_CHECKING:
    import datetime as _dt

    from ..policy.model import Policy
    from ..policy.parameters import Parameter


def policy_view(policy: Policy, day: Optional[_dt.date] = None) -> dict:
    """The policy as the page shows it; labels that quote a parameter are filled with its value on ``day`` (today)."""
    import datetime as dt

    from ..lang.printing import format_value
    from ..policy.labels import fill_label
    from ..tools.diff import policy_changes
    day = day or dt.date.today()

    def fill(text: Optional[str]) -> Optional[str]:
        return fill_label(text, policy.parameters, day) if text else text

    def values(p: Parameter) -> List[dict]:
        out = []
        for v in p.values:
            value = v.value if not p.table else dict((format_value(k), a) for k, a in v.value)
            out.append({"since": v.since.isoformat() if v.since else "", "until": v.ends.isoformat() if v.ends else "",
                        "value": format_value(value), "source": v.source, "unconfirmed": v.unconfirmed})
        return out

    rules_by_clause: Dict[str, list] = {}
    for r in sorted(policy.rules, key=lambda r: r.index):
        rules_by_clause.setdefault(r.clause, []).append({
            "id": r.id, "label": fill(r.label), "subject": policy.label(f"subject.{r.subject}", r.subject),
            "decides": policy.label(r.decides, r.decides), "requires": [q.text for q in r.requires],
            "conditions": [{"label": fill(c.label) or c.text, "text": c.text, "reading": c.reading} for c in r.when],
            "each": None if not r.each else {"source": r.each.source.text,
                                             "where": [{"label": fill(c.label) or c.text, "text": c.text, "reading": c.reading}
                                                       for c in r.each.where]},
            "amount": r.amount.text if r.amount else "", "fund": policy.label(r.fund) if r.fund else "",
            "reading": r.reading, "note": r.note})
    groups_by_clause: Dict[str, list] = {}
    for g in policy.exclusivity:
        groups_by_clause.setdefault(g.clause, []).append({
            "id": g.id, "members": [fill(policy.rule(m).label) if m in {r.id for r in policy.rules} else m for m in g.members],
            "strategy": g.strategy, "scope": g.scope, "reading": g.reading})
    params_by_clause: Dict[Optional[str], list] = {}
    for p in policy.parameters.values():
        params_by_clause.setdefault(p.clause if p.clause in policy.clauses else None, []).append(
            {"name": p.name, "label": p.label, "unit": p.unit, "keyed_by": p.keyed_by, "values": values(p)})
    clauses = [{"id": c.id, "heading": c.heading, "text": c.text, "kind": c.kind,
                "rules": rules_by_clause.get(c.id, []), "groups": groups_by_clause.get(c.id, []),
                "parameters": params_by_clause.get(c.id, [])} for c in policy.clauses.values()]
    fork = None
    if len(policy.sources) > 1:
        try:
            paths = [path for path, _ in policy.sources]  # the root first, the policy itself last
            own = paths.index(policy.path) if policy.path in paths else len(paths) - 1
            parent = subsidy_rules.load_policy(paths[own - 1])
            fork = {"parent": os.path.basename(parent.path),
                    "changes": [dataclasses.asdict(c) for c in policy_changes(parent, policy)]}
        except subsidy_rules.InvalidInput:
            fork = None
    return {"clauses": clauses, "other_parameters": params_by_clause.get(None, []), "fork": fork}


def rule_label(policy: Policy, rule_id: str, day: _dt.date) -> str:
    """A rule's label, its placeholders filled with the parameters' values on ``day`` (the period's end)."""
    from ..policy.labels import fill_label
    return fill_label(policy.rule(rule_id).label, policy.parameters, day)
