"""The decisions document (semantics.md section 7): its header, each decision, the totals; written as it goes.

Pure functions over decisions; nothing here decides.
"""
from __future__ import annotations

from typing import Optional

from ..runtime.decisions import Decision, decision_id, period_key
from .explain import trace_lines
from .formats import money


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
