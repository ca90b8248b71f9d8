"""Policy cases written in YAML: facts in, expected decisions out.

A cases file holds ``cases:``, each with a ``name``, the ``clause`` it
exercises, inline ``facts`` and ``expect`` (decisions that must be there,
each matching exactly one decision on the fields it gives), ``absent``
(decisions that must not be there), or ``error`` (a problem code the run must
report). ``only: true`` also fails on any decision (other than denied) that
``expect`` does not name. The same file serves ``subsidy test`` and pytest.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple

from ..runtime.decisions import Decision
from ..runtime.evaluate import evaluate
from ..facts.reading import check_facts
from ..policy.model import Policy
from ..problems import InvalidInput, Location, Problem
from ..views.document import details_dict
from ..views.formats import money
from ..source import Document, read_file

_FIELDS = ("workshop", "worker", "loan", "rule", "clause", "outcome", "amount", "funding_source",
           "route", "basis", "since", "effective", "waits_for")


@dataclass(frozen=True)
class Case:
    name: str
    clause: Optional[str]
    facts: Document
    expect: Tuple[dict, ...]
    absent: Tuple[dict, ...]
    error: Optional[str]
    only: bool
    location: Location


@dataclass(frozen=True)
class CaseResult:
    case: Case
    failures: Tuple[str, ...]
    decisions: Tuple[dict, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


def _sub_document(doc: Document, prefix: str) -> Document:
    doc.locate(prefix)  # a file read without its positions (JSON) is located now
    assert doc.positions is not None
    positions = {p[len(prefix):]: loc for p, loc in doc.positions.items() if p == prefix or p.startswith(prefix + "/")}
    node = doc.data
    for part in prefix.split("/")[1:]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return Document(doc.path, doc.text, node, positions)


def load_cases(path: str) -> List[Case]:
    doc = read_file(path)
    data = doc.data
    problems = []
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise InvalidInput([Problem("cases.shape", "a cases file holds `cases:`, a list", "", doc.locate(""))])
    cases = []
    names = set()
    for i, raw in enumerate(data["cases"]):
        pointer = f"/cases/{i}"
        if not isinstance(raw, dict) or "name" not in raw or "facts" not in raw:
            problems.append(Problem("cases.shape", "each case needs `name` and `facts`", pointer, doc.locate(pointer)))
            continue
        if raw["name"] in names:
            problems.append(Problem("cases.duplicate", f"case name {raw['name']!r} is used twice", pointer + "/name",
                                    doc.locate(pointer + "/name")))
        names.add(raw["name"])
        unknown = set(raw) - {"name", "clause", "facts", "expect", "absent", "error", "only", "note"}
        for key in sorted(unknown):
            problems.append(Problem("cases.unknown_field", f"unknown field {key!r}", f"{pointer}/{key}",
                                    doc.locate(f"{pointer}/{key}")))
        cases.append(Case(str(raw["name"]), raw.get("clause"), _sub_document(doc, pointer + "/facts"),
                          tuple(raw.get("expect") or ()), tuple(raw.get("absent") or ()), raw.get("error"),
                          bool(raw.get("only")), doc.locate(pointer)))
    if problems:
        raise InvalidInput(problems)
    return cases


def _plain(decision: Decision) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "workshop": decision.workshop, "worker": decision.worker, "loan": decision.loan, "rule": decision.rule,
        "clause": decision.clause, "outcome": decision.outcome,
        "amount": money(decision.shown_amount),
        "funding_source": decision.fund}
    for name, value in details_dict(decision).items():
        if name in _FIELDS:
            out[name] = [w["parameter"] for w in value] if name == "waits_for" else value
    return out


def _matches(want: dict, got: dict) -> bool:
    for key, value in want.items():
        if key not in _FIELDS:
            return False
        if key == "amount" and value is not None:
            value = money(Decimal(str(value)))
        if key == "waits_for":  # the parameter name (or one of the names) the pending decision waits for
            if value not in (got.get(key) or ()):
                return False
            continue
        if got.get(key) != (str(value) if isinstance(value, (int, float)) and key != "amount" else value):
            return False
    return True


def _show(d: dict) -> str:
    return "{" + ", ".join(f"{k}: {d[k]}" for k in _FIELDS if k in d and d[k] is not None) + "}"


def run_case(policy: Policy, case: Case, backend: str = "core") -> CaseResult:
    try:
        facts = check_facts(case.facts, policy)
        run = evaluate(policy, facts, trace=False, backend=backend)
    except InvalidInput as exc:
        codes = [p.code for p in exc.errors]
        if case.error and case.error in codes:
            return CaseResult(case, (), ())
        what = "; ".join(f"{p.code}: {p.message}" for p in exc.errors[:3])
        expected = f"expected error {case.error}, got " if case.error else "unexpected error: "
        return CaseResult(case, (expected + what,), ())
    decisions = tuple(_plain(d) for d in run.decisions)
    failures = []
    if case.error:
        failures.append(f"expected error {case.error}, but the run succeeded")
    for want in case.expect:
        hits = [d for d in decisions if _matches(want, d)]
        if len(hits) != 1:
            near = [d for d in decisions if all(d.get(k) == want.get(k) for k in ("workshop", "worker", "loan") if k in want)
                    and (d["clause"] == str(want.get("clause", d["clause"])))]
            shown = "; ".join(_show(d) for d in near[:4]) or "none"
            failures.append(f"expected {_show(want)}: found {len(hits)} matching decisions (nearest: {shown})")
    for unwanted in case.absent:
        hits = [d for d in decisions if _matches(unwanted, d)]
        if hits:
            failures.append(f"expected no {_show(unwanted)}, found {'; '.join(_show(d) for d in hits[:4])}")
    if case.only:
        for d in decisions:
            if d["outcome"] != "denied" and not any(_matches(w, d) for w in case.expect):
                failures.append(f"unexpected decision {_show(d)}")
    return CaseResult(case, tuple(failures), decisions)
