"""Verify a decisions file: re-run it and name every decision that differs.

The decisions file records the policy (with the sha256 of every file it is
built from), the sha256 of the facts, the engine and the options. ``verify``
checks that the policy and facts are the ones recorded, re-runs the
evaluation and compares every decision and the totals. A difference is a
located problem pointing at the line of the decisions file that differs, so a
hand-edited amount is found at once. A changed policy or facts file is one
problem, not a cascade of every decision.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import schemas
from typing import List, Optional, Tuple

from ..runtime.evaluate import evaluate
from ..facts.reading import load_facts
from ..policy.loader import load_policy
from ..problems import InvalidInput, Problem
from ..views.document import to_json
from ..source import read_file
from ..validation import schema_problems

_COMPARED = ("workshop", "worker", "loan", "rule", "clause", "outcome", "amount", "funding_source", "reason", "trace")


@dataclass(frozen=True)
class Verification:
    decisions: int
    problems: Tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(decisions_path: str, facts_path: str, policy_path: Optional[str] = None, ledger=None,
           encoding: Optional[str] = None) -> Verification:
    """Re-run ``decisions_path``; a run whose history came from a ledger is re-run with ``ledger`` (an open
    :class:`subsidy_rules.ledger.Ledger`), whose history before the run's period is what the run was decided on."""
    doc = read_file(decisions_path)
    data = doc.data

    def problem(code, message, pointer):
        return Problem(code, message, pointer, doc.locate(pointer))

    if not (isinstance(data, dict) and isinstance(data.get("decisions"), list) and isinstance(data.get("policy"), dict)):
        raise InvalidInput([problem("verify.shape", "not a decisions file written by `subsidy evaluate --format json`", "")])
    shape = schema_problems(doc, schemas.load("decisions"), "verify")
    if shape:
        raise InvalidInput(shape)
    path = policy_path or data["policy"].get("path")
    if not path:
        raise InvalidInput([problem("verify.shape", "the decisions file does not say which policy made it; give --policy", "/policy")])
    policy = load_policy(path)
    problems: List[Problem] = []
    recorded_files = data["policy"].get("files") or [{"path": path, "sha256": data["policy"].get("sha256")}]
    current = dict(policy.sources)
    for i, entry in enumerate(recorded_files):
        sha = current.get(entry.get("path")) if policy_path is None else (policy.sha256 if i == 0 else current.get(entry.get("path")))
        if sha != entry.get("sha256"):
            problems.append(problem("verify.policy_changed",
                                    f"policy file {entry.get('path')} is not the one this run used "
                                    f"(recorded sha256 {str(entry.get('sha256'))[:12]}…, now {str(sha)[:12]}…)",
                                    f"/policy/files/{i}/sha256"))
    facts = load_facts(facts_path, policy, encoding)
    if facts.sha256 != data.get("facts_sha256"):
        problems.append(problem("verify.facts_changed",
                                f"{facts_path} is not the facts this run used (recorded sha256 "
                                f"{str(data.get('facts_sha256'))[:12]}…, now {facts.sha256[:12]}…)", "/facts_sha256"))
    if problems:
        return Verification(len(data["decisions"]), tuple(problems))

    run_info = data.get("run") or {}
    options = dict(backend=data.get("engine", "core"), why_not=bool(run_info.get("why_not")),
                   trace=bool(run_info.get("trace", True)))
    if isinstance(data.get("ledger"), dict) and ledger is None:
        return Verification(len(data["decisions"]), (problem(
            "verify.needs_ledger", f"this run took its history from the ledger {data['ledger'].get('url')}; "
            "verify it with --ledger URL", "/ledger"),))
    if ledger is not None:
        from ..ledger import evaluate_with_ledger
        again, _ = evaluate_with_ledger(ledger, policy, facts, **options)
    else:
        again = evaluate(policy, facts, **options)
    fresh = to_json(again, with_trace=bool(run_info.get("trace", True)))
    by_id = {d["id"]: d for d in fresh["decisions"]}
    seen = set()
    for i, recorded in enumerate(data["decisions"]):
        pointer = f"/decisions/{i}"
        if not isinstance(recorded, dict):
            problems.append(problem("verify.shape", "a decision must be an object", pointer))
            continue
        did = recorded.get("id")
        expected = by_id.get(did)
        if expected is None:
            problems.append(problem("verify.unknown", f"decision {did!r} is not one this run makes "
                                    f"(its id, or what it is about, was changed)", pointer + "/id"))
            continue
        if did in seen:
            problems.append(problem("verify.duplicate", f"decision {did} is listed twice", pointer + "/id"))
            continue
        seen.add(did)
        about = _about(expected)
        for key in _COMPARED:
            if key == "trace" and "trace" not in recorded and "trace" not in expected:
                continue
            if recorded.get(key) != expected.get(key):
                shown = "differs" if key == "trace" else f"recorded {recorded.get(key)!r}, recomputed {expected.get(key)!r}"
                problems.append(problem("verify.changed", f"decision {did} ({about}): {key} {shown}", f"{pointer}/{key}"))
    for did, expected in by_id.items():
        if did not in seen and not any(p.code == "verify.unknown" for p in problems):
            problems.append(problem("verify.missing", f"decision {did} ({_about(expected)}) is missing from the file", "/decisions"))
    for key, value in fresh["totals"].items():
        if (data.get("totals") or {}).get(key) != value:
            problems.append(problem("verify.totals", f"totals.{key} recorded {(data.get('totals') or {}).get(key)!r}, "
                                    f"recomputed {value!r}", f"/totals/{key}"))
    return Verification(len(data["decisions"]), tuple(problems))


def _about(d: dict) -> str:
    subject = f"worker {d['worker']}" if d.get("worker") else f"loan {d['loan']}" if d.get("loan") else "workshop"
    return f"{d['workshop']} {subject}, clause {d['clause']} {d['rule']}"
