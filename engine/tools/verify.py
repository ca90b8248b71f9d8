"""Verify a decisions file: re-run it and name every decision that differs.

The decisions file records the policy (with the sha256 of every file it is
built from), the sha256 of the facts, the engine and the options. ``verify``
checks that the policy and facts are the ones recorded, re-runs the
evaluation and compares every decision and the totals. A difference is a
located problem pointing at the line of the decisions file that differs, so a
hand-edited amount is found at once. A changed policy or facts file is one
problem, not a cascade of every decision.

Both sides stream, so memory stays bounded whatever the file's size: the
decisions file is read a decision at a time
(:mod:`subsidy_rules.tools._decisions_reader`, :mod:`.decisions_file`), and a JSON facts file is
decided again a workshop at a time (:mod:`.rerun`, by :func:`subsidy_rules.runtime.stream.decide_stream`),
the two compared as they come (:mod:`.comparison`). The re-run builds each decision's trace by the traced
evaluation (events, then written as data), not by the one-pass recording `evaluate` writes with
(:mod:`subsidy_rules.runtime.recording`): a document is checked against the reference trace. A decision whose text is the one the run writes
is identical without being looked at further; one that is not is compared field
by field. YAML facts, and a run that took its history from a ledger, are decided
again in memory, and compared the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, List, Optional, Tuple

from .. import __version__
from ..policy.loader import load_policy
from ..problems import InvalidInput, Problem
from ._decisions_reader import DecisionsReader, ReadProblem
from .comparison import compare
from .decisions_file import Header, Member, Members, count_decisions, needs_ledger, schema_parts, shape_only, trace_mode
from .rerun import Fresh

if TYPE_CHECKING:
    from ..ledger import Ledger

_HEADER = ("policy", "facts_sha256", "run", "engine")  # what a re-run needs before the decisions


@dataclass(frozen=True)
class Verification:
    decisions: int
    problems: Tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(decisions_path: str, facts_path: str, policy_path: Optional[str] = None, ledger: Optional[Ledger] = None,
           encoding: Optional[str] = None, progress: Optional[Callable[[int], None]] = None) -> Verification:
    """Re-run ``decisions_path``; a run whose history came from a ledger is re-run with ``ledger`` (an open
    :class:`subsidy_rules.ledger.Ledger`), whose history before the run's period is what the run was decided on.
    ``progress`` is called with the number of bytes of the facts file decided again, as the run goes (a progress
    bar's ``update``, of the facts file's size)."""
    try:
        return _verify(decisions_path, facts_path, policy_path, ledger, encoding, progress)
    except ReadProblem as exc:
        raise InvalidInput([Problem(exc.code, exc.message, "", exc.location)]) from None


def _verify(decisions_path: str, facts_path: str, policy_path: Optional[str], ledger: Optional[Ledger],
            encoding: Optional[str] = None, progress: Optional[Callable[[int], None]] = None) -> Verification:
    members = Members(decisions_path)

    def problem(code: str, message: str, pointer: str, hint: Optional[str] = None) -> Problem:
        return Problem(code, message, pointer, members.locate(pointer), hint=hint)

    def not_a_decisions_file() -> InvalidInput:
        return InvalidInput([problem("verify.shape", "not a decisions file written by `subsidy evaluate --format json`", "")])

    with DecisionsReader(decisions_path) as reader:
        if reader.peek() != "{":
            if reader.peek() and reader.peek() in '["-0123456789tfn':
                raise not_a_decisions_file()
            reader.expect("{")
        keys = reader.members()
        for key, key_at in keys:
            if key == "decisions":
                members.decisions_at = key_at
                break
            value, text, at = reader.value()
            members.found[key] = Member(value, text, at, key_at)
        else:
            raise not_a_decisions_file()
        if not all(k in members.found for k in _HEADER):  # a file whose header stands after its decisions
            reader.skip()
            for key, key_at in keys:
                value, text, at = reader.value()
                members.found[key] = Member(value, text, at, key_at)
    if not isinstance(members.get("policy"), dict):
        raise not_a_decisions_file()

    parts = schema_parts()
    run_info = members.get("run") if isinstance(members.get("run"), dict) else {}
    mode = trace_mode(run_info)
    header_problems = Header(members).problems(parts["header"])
    written_by = run_info.get("version")
    if header_problems and isinstance(written_by, str) and written_by != __version__:
        # a document of another version's format: say so, not each of its decisions' differences from this one's
        raise InvalidInput([problem(
            "verify.version", f"the decisions file was written by version {written_by} of subsidy-rules, whose "
            f"document differs from this version's ({__version__})", "/run/version",
            hint=f"verify it with version {written_by}, or evaluate the facts again with this one")] + header_problems)
    if header_problems:  # report every shape problem, the decisions' too, and run nothing
        raise InvalidInput(header_problems + shape_only(decisions_path, parts, mode))

    header = members.data()
    path = policy_path or header["policy"].get("path")
    if not path:
        raise InvalidInput([problem("verify.shape", "the decisions file does not say which policy made it; give --policy",
                                    "/policy")])
    policy = load_policy(path)
    problems: List[Problem] = []
    recorded_files = header["policy"].get("files") or [{"path": path, "sha256": header["policy"].get("sha256")}]
    current = dict(policy.sources)
    for i, entry in enumerate(recorded_files):
        sha = current.get(entry.get("path")) if policy_path is None else (policy.sha256 if i == 0 else current.get(entry.get("path")))
        if sha != entry.get("sha256"):
            problems.append(problem("verify.policy_changed",
                                    f"policy file {entry.get('path')} is not the one this run used "
                                    f"(recorded sha256 {str(entry.get('sha256'))[:12]}…, now {str(sha)[:12]}…)",
                                    f"/policy/files/{i}/sha256"))
    options = dict(backend=header.get("engine", "core"), why_not=bool(run_info.get("why_not")), trace=mode)
    fresh = Fresh(policy, facts_path, ledger, options, encoding, progress)
    if fresh.sha256 != header.get("facts_sha256"):
        problems.append(problem("verify.facts_changed",
                                f"{facts_path} is not the facts this run used (recorded sha256 "
                                f"{str(header.get('facts_sha256'))[:12]}…, now {fresh.sha256[:12]}…)", "/facts_sha256"))
    if problems:
        return Verification(count_decisions(decisions_path), tuple(problems))
    if "ledger" in members.found and ledger is None:
        return Verification(count_decisions(decisions_path), (needs_ledger(members, problem),))

    from ..runtime.stream import StreamStopped
    try:
        return Verification(*compare(decisions_path, members, fresh, mode, problem))
    except StreamStopped:  # the facts stream met a problem: decide in memory, which reports it with its location
        return Verification(*compare(decisions_path, members, fresh.in_memory(), mode, problem))
