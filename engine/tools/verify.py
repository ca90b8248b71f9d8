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
(:mod:`subsidy_rules.tools._decisions_reader`), and a JSON facts file is
decided again a workshop at a time (:func:`subsidy_rules.runtime.stream.decide_stream`),
the two compared as they come. A decision whose text is the one the run writes
is identical without being looked at further; one that is not is compared field
by field. YAML facts, and a run that took its history from a ledger, are decided
again in memory, and compared the same way.
"""
from __future__ import annotations

import dataclasses
import json
import re
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .. import schemas
from ..facts.reading import load_facts
from ..policy.loader import load_policy
from ..problems import InvalidInput, Location, Problem, pointer_join
from ..runtime.decisions import Totals, period_key
from ..source import json_decoder
from ..validation import fast_valid, schema_problems
from ..views.document import decision_dict, decision_text, totals_dict
from ..views.trace_data import dictionary
from ._decisions_reader import DecisionsReader, ReadProblem, locate_in

_COMPARED = ("workshop", "worker", "loan", "rule", "clause", "outcome", "amount", "funding_source", "route", "basis",
             "since", "source", "effective", "waits_for", "reason", "trace")
_HEADER = ("policy", "facts_sha256", "run", "engine")  # what a re-run needs before the decisions
_WINDOW = 20_000  # decisions decided ahead while looking for one the file has out of place


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
    try:
        return _verify(decisions_path, facts_path, policy_path, ledger, encoding)
    except ReadProblem as exc:
        raise InvalidInput([Problem(exc.code, exc.message, "", exc.location)]) from None


# --- the file's members -----------------------------------------------------------------------------------------------


class _Member:
    __slots__ = ("value", "text", "at", "key_at")

    def __init__(self, value, text, at, key_at):
        self.value, self.text, self.at, self.key_at = value, text, at, key_at


class _Members:
    """The top-level members other than the decisions (each with its text and place), and the decisions' place."""

    def __init__(self, path: str):
        self.path = path
        self.found: Dict[str, _Member] = {}
        self.decisions_at: Optional[Location] = None

    def get(self, key, default=None):
        member = self.found.get(key)
        return default if member is None else member.value

    def data(self) -> dict:
        return {key: m.value for key, m in self.found.items()}

    def locate(self, pointer: str) -> Location:
        """Where ``pointer`` stands in the file, as the whole-file reading would say (a collection at its key)."""
        if not pointer:
            return Location(self.path, 1, 1)
        head, _, rest = pointer[1:].partition("/")
        key = head.replace("~1", "/").replace("~0", "~")
        if key == "decisions":
            return self.decisions_at or Location(self.path, 1, 1)
        member = self.found.get(key)
        if member is None:
            return Location(self.path, 1, 1)
        if not rest:
            return member.key_at if isinstance(member.value, (dict, list)) else member.at
        return locate_in(member.text, member.at, "/" + rest)


class _Located:
    """One value of the file, for :func:`subsidy_rules.validation.schema_problems`: its data, and where a pointer
    inside it stands."""

    def __init__(self, data, text: str, at: Location, prefix: str, key_at: Optional[Location] = None):
        self.data, self.text, self.at, self.prefix, self.key_at = data, text, at, prefix, key_at

    def locate(self, pointer: str) -> Location:
        if not pointer and self.key_at is not None:
            return self.key_at
        return locate_in(self.text, self.at, pointer)

    def problems(self, schema: dict) -> List[Problem]:
        return [dataclasses.replace(p, pointer=self.prefix + p.pointer) for p in schema_problems(self, schema, "verify")]


class _Header(_Located):
    """The members other than the decisions, as one value, located member by member."""

    def __init__(self, members: _Members):
        super().__init__(members.data(), "", Location(members.path), "")
        self.members = members

    def locate(self, pointer: str) -> Location:
        return self.members.locate(pointer)


def _schemas() -> Dict[str, dict]:
    """The schema's parts a streamed file is checked against: its header, a decision (by trace mode), its totals."""
    found = _SCHEMAS.get("root")
    if found is not schemas.load("decisions"):
        root = schemas.load("decisions")
        header = dict(root, required=[k for k in root["required"] if k not in ("decisions", "totals")])
        header["properties"] = {k: v for k, v in root["properties"].items() if k not in ("decisions", "totals")}
        header.pop("allOf", None)
        header["allOf"] = [{"if": {"required": ["run"], "properties": {"run": {"required": ["trace"], "properties": {
            "trace": {"const": "data"}}}}}, "then": {"required": ["dictionary"]}}]
        defs = {"$defs": root["$defs"]}
        trace = {"data": {"properties": {"trace": {"$ref": "#/$defs/trace_data"}}},
                 "lines": {"properties": {"trace": {"$ref": "#/$defs/trace_lines"}}},
                 None: {"not": {"required": ["trace"]}}}
        _SCHEMAS.clear()
        _SCHEMAS.update({"root": root, "header": header, "totals": dict(root["properties"]["totals"], **defs)})
        for mode, constraint in trace.items():
            _SCHEMAS[f"decision:{mode}"] = dict(defs, allOf=[{"$ref": "#/$defs/decision"}, constraint])
    return _SCHEMAS


_SCHEMAS: Dict[Any, dict] = {}


def _trace_mode(run_info: dict) -> Optional[str]:
    trace = run_info.get("trace", True)
    if trace is True:
        return "lines"  # written before traces could be data
    return trace if trace in ("data", "lines") else None


# --- verify -------------------------------------------------------------------------------------------------------


def _verify(decisions_path, facts_path, policy_path, ledger, encoding=None) -> Verification:
    members = _Members(decisions_path)

    def problem(code, message, pointer):
        return Problem(code, message, pointer, members.locate(pointer))

    def not_a_decisions_file():
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
            members.found[key] = _Member(value, text, at, key_at)
        else:
            raise not_a_decisions_file()
        if not all(k in members.found for k in _HEADER):  # a file whose header stands after its decisions
            reader.skip()
            for key, key_at in keys:
                value, text, at = reader.value()
                members.found[key] = _Member(value, text, at, key_at)
    if not isinstance(members.get("policy"), dict):
        raise not_a_decisions_file()

    parts = _schemas()
    run_info = members.get("run") if isinstance(members.get("run"), dict) else {}
    mode = _trace_mode(run_info)
    header_problems = _Header(members).problems(parts["header"])
    if header_problems:  # report every shape problem, the decisions' too, and run nothing
        raise InvalidInput(header_problems + _shape_only(decisions_path, parts, mode))

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
    fresh = _Fresh(policy, facts_path, ledger, options, encoding)
    if fresh.sha256 != header.get("facts_sha256"):
        problems.append(problem("verify.facts_changed",
                                f"{facts_path} is not the facts this run used (recorded sha256 "
                                f"{str(header.get('facts_sha256'))[:12]}…, now {fresh.sha256[:12]}…)", "/facts_sha256"))
    if problems:
        return Verification(_count(decisions_path), tuple(problems))
    if "ledger" in members.found and ledger is None:
        return Verification(_count(decisions_path), (_needs_ledger(members, problem),))

    from ..runtime.stream import StreamStopped
    try:
        return _compare(decisions_path, members, fresh, mode, problem)
    except StreamStopped:  # the facts stream met a problem: decide in memory, which reports it with its location
        return _compare(decisions_path, members, fresh.in_memory(), mode, problem)


def _needs_ledger(members: _Members, problem) -> Problem:
    ledger = members.get("ledger")
    url = ledger.get("url") if isinstance(ledger, dict) else None
    return problem("verify.needs_ledger", f"this run took its history from the ledger {url}; verify it with --ledger URL",
                   "/ledger")


def _decisions(reader: DecisionsReader) -> Iterator[Tuple[str, Location]]:
    """The members up to the decisions are read; yields the members after them, as (key, where)."""
    keys = reader.members()
    for key, key_at in keys:
        if key == "decisions":
            break
        reader.skip()
    return keys


def _count(path: str) -> int:
    with DecisionsReader(path) as reader:
        _decisions(reader)
        return sum(1 for _ in reader.items())


def _shape_only(path: str, parts: dict, mode) -> List[Problem]:
    """Every shape problem of the decisions and totals of a file whose header is already wrong."""
    out: List[Problem] = []
    with DecisionsReader(path) as reader:
        rest = _decisions(reader)
        if reader.peek() != "[":
            return out
        for i, (value, text, at) in enumerate(reader.items()):
            if not fast_valid(parts[f"decision:{mode}"], value):
                out.extend(_Located(value, text, at, f"/decisions/{i}").problems(parts[f"decision:{mode}"]))
        for key, key_at in rest:
            value, text, at = reader.value()
            if key == "totals" and not fast_valid(parts["totals"], value):
                out.extend(_Located(value, text, at, "/totals", key_at).problems(parts["totals"]))
    return out


# --- the decisions made again --------------------------------------------------------------------------------------


class _Fresh:
    """The run made again: its facts' sha256, and its decisions a workshop at a time as (id, text) pairs."""

    def __init__(self, policy, facts_path: str, ledger, options: dict, encoding: Optional[str] = None):
        self.policy, self.facts_path, self.ledger, self.options = policy, facts_path, ledger, options
        self.encoding = encoding
        self.header = None
        self.facts = None
        self.totals: Optional[Totals] = None
        if ledger is None and facts_path.endswith(".json"):
            from ..runtime.stream import StreamStopped, check_period, open_json
            try:
                header = open_json(facts_path)
                check_period(policy, header)
                self.header = header
            except StreamStopped:
                pass
        if self.header is None:
            self.facts = load_facts(facts_path, policy, self.encoding)
        source = self.header or self.facts
        self.sha256 = source.sha256
        self.period_end = source.period_end
        self.period = period_key(source.period_start, source.period_end)

    def in_memory(self) -> "_Fresh":
        self.header = None
        self.facts = load_facts(self.facts_path, self.policy, self.encoding)
        return self

    def chunks(self) -> Iterator[List[Tuple[str, str]]]:
        """Each workshop's decisions as (id, text), in the order the run writes them; ``totals`` once all are out."""
        policy, options = self.policy, self.options
        if self.header is not None:
            from ..runtime.stream import decide_stream, read_workshops
            totals = Totals.of(())
            for chunk in decide_stream(policy, self.header, read_workshops(self.facts_path), jobs=1, **options):
                totals = totals.merge(chunk.totals)
                yield [(_id_of(text), text) for text in chunk.decisions]
            self.totals = totals
            return
        evaluation = dict(options, trace=bool(options["trace"]))
        if self.ledger is not None:
            from ..ledger import evaluate_with_ledger
            run, _ = evaluate_with_ledger(self.ledger, policy, self.facts, **evaluation)
        else:
            from ..runtime.evaluate import evaluate
            run = evaluate(policy, self.facts, **evaluation)
        chunk: List[Tuple[str, str]] = []
        shop = None
        for d in run.decisions:
            if d.workshop != shop and chunk:
                yield chunk
                chunk = []
            shop = d.workshop
            text = decision_text(decision_dict(d, policy.sha256, self.period, options["trace"], policy.path))
            chunk.append((_id_of(text), text))
        if chunk:
            yield chunk
        self.totals = run.totals


_ID = re.compile(r'"id": "([^"\\]*)"')


def _id_of(text: str) -> str:
    match = _ID.search(text, 0, 200)
    return match.group(1) if match else json_decoder().decode(text).get("id")


def _parsed(text: str) -> dict:
    return json_decoder().decode(text)


def _about(d: dict) -> str:
    subject = f"worker {d['worker']}" if d.get("worker") else f"loan {d['loan']}" if d.get("loan") else "workshop"
    return f"{d['workshop']} {subject}, clause {d['clause']} {d['rule']}"


def _id_number(did) -> Optional[int]:
    try:
        return int(did[:16], 16) if isinstance(did, str) and did else None
    except ValueError:
        return None


# --- the comparison ------------------------------------------------------------------------------------------------


class _Window:
    """The decisions made again that the file has not reached yet, a workshop (chunk) at a time: decided ahead only
    as far as the file's next decision needs, so memory stays bounded by a workshop or two."""

    def __init__(self, chunks: Iterator[List[Tuple[str, str]]]):
        self.chunks = chunks
        self.pending: "OrderedDict[str, Tuple[int, str]]" = OrderedDict()  # id -> (chunk number, text)
        self.shops: Dict[int, Optional[str]] = {}  # chunk number -> its workshop
        self.pulled = 0
        self.done = False
        self.missing: List[Tuple[str, str]] = []  # (id, about) of decisions the file passed by
        self.matched = array("Q")  # the ids (their first 64 bits) of the decisions the file has matched
        self.matched_set: Optional[set] = None  # the same as a set, made at the first decision not found

    def match(self, did: str) -> None:
        number = _id_number(did) or 0
        self.matched.append(number)
        if self.matched_set is not None:
            self.matched_set.add(number)

    def was_matched(self, did) -> bool:
        number = _id_number(did)
        if number is None:
            return False
        if self.matched_set is None:
            self.matched_set = set(self.matched)
        return number in self.matched_set

    def pull(self) -> bool:
        chunk = next(self.chunks, None)
        if chunk is None:
            self.done = True
            return False
        n = self.pulled
        self.pulled += 1
        if chunk:
            self.shops[n] = _workshop_of(chunk[0][1])
        for did, text in chunk:
            self.pending[did] = (n, text)
        return True

    def head(self) -> Optional[Tuple[str, int, str]]:
        """The next decision the run writes that the file has not reached: (id, chunk number, text)."""
        while not self.pending and not self.done:
            self.pull()
        if not self.pending:
            return None
        did, (n, text) = next(iter(self.pending.items()))
        return did, n, text

    def find(self, did, workshop) -> Optional[Tuple[int, str]]:
        while did not in self.pending and not self.done:
            if len(self.pending) >= _WINDOW or (self.pending and workshop in self.shops.values()):
                break
            self.pull()
        return self.pending.pop(did, None)

    def passed(self, chunk: int) -> None:
        """The file has reached ``chunk``: what is left of earlier chunks is missing from it."""
        for n in [n for n in self.shops if n < chunk]:
            del self.shops[n]
        while self.pending:
            did, (n, text) = next(iter(self.pending.items()))
            if n >= chunk:
                break
            del self.pending[did]
            self.missing.append((did, _about(_parsed(text))))

    def finish(self) -> None:
        """Decide the rest (the totals need it); whatever the file did not reach is missing from it."""
        self.passed(self.pulled)
        while self.pull():
            self.passed(self.pulled)


def _workshop_of(text: str) -> Optional[str]:
    match = re.search(r'"workshop": ', text)
    if match is None:
        return None
    value, _ = json_decoder().raw_decode(text, match.end())
    return value


def _items(reader: DecisionsReader, window: _Window) -> Iterator[Optional[Tuple[Any, str, Location]]]:
    """Each decision of the file: None when it is, to the character, the next one the run writes (taken as matched
    without being decoded), else (its value, its text, where it starts)."""
    reader.expect("[")
    if reader.peek() == "]":
        reader.expect("]")
        return
    while True:
        head = window.head()
        if head is not None and reader.take(head[2]) is not None:
            did, chunk, _text = head
            del window.pending[did]
            window.passed(chunk)
            window.match(did)
            yield None
        else:
            yield reader.value()
        if reader.expect(",]") == "]":
            return


def _compare(path: str, members: _Members, fresh: _Fresh, mode, problem) -> Verification:
    parts = _schemas()
    decision_schema = parts[f"decision:{mode}"]
    shape: List[Problem] = []
    problems: List[Problem] = []
    window = _Window(fresh.chunks())
    unknown = False
    count = 0
    with DecisionsReader(path) as reader:
        rest = _decisions(reader)
        if reader.peek() != "[":
            raise InvalidInput([problem("verify.shape", "not a decisions file written by `subsidy evaluate --format json`", "")])
        for i, item in enumerate(_items(reader, window)):
            count += 1
            if item is None:  # the very text the run writes: identical (and of the schema's shape, as the run's is)
                continue
            recorded, text, at = item
            pointer = f"/decisions/{i}"
            if not fast_valid(decision_schema, recorded):
                shape.extend(_Located(recorded, text, at, pointer).problems(decision_schema))
                if not isinstance(recorded, dict):
                    continue

            def here(key, code, message):
                return Problem(code, message, f"{pointer}/{key}", locate_in(text, at, f"/{key}"))

            did = recorded.get("id")
            found = window.find(did, recorded.get("workshop")) if isinstance(did, str) else None
            if found is None:
                if window.was_matched(did):
                    problems.append(here("id", "verify.duplicate", f"decision {did} is listed twice"))
                else:
                    unknown = True
                    problems.append(here("id", "verify.unknown", f"decision {did!r} is not one this run makes "
                                                                 "(its id, or what it is about, was changed)"))
                continue
            chunk, expected_text = found
            window.passed(chunk)
            window.match(did)
            if text == expected_text:
                continue
            expected = _parsed(expected_text)
            about = _about(expected)
            for key in _COMPARED:
                if key not in recorded and key not in expected:
                    continue
                if recorded.get(key) != expected.get(key):
                    shown = "differs" if key == "trace" else f"recorded {recorded.get(key)!r}, recomputed {expected.get(key)!r}"
                    problems.append(here(key, "verify.changed", f"decision {did} ({about}): {key} {shown}"))
        window.finish()
        for key, key_at in rest:
            value, value_text, at = reader.value()
            members.found[key] = _Member(value, value_text, at, key_at)
            if key == "totals" and not fast_valid(parts["totals"], value):
                shape.extend(_Located(value, value_text, at, "/totals", key_at).problems(parts["totals"]))
    if shape:
        raise InvalidInput(shape)
    if "ledger" in members.found and fresh.ledger is None:
        return Verification(count, (_needs_ledger(members, problem),))
    if not unknown:
        for did, about in window.missing:
            problems.append(problem("verify.missing", f"decision {did} ({about}) is missing from the file", "/decisions"))
    recorded_totals = members.get("totals") or {}
    for key, value in totals_dict(fresh.totals).items():
        if recorded_totals.get(key) != value:
            problems.append(problem("verify.totals", f"totals.{key} recorded {recorded_totals.get(key)!r}, "
                                    f"recomputed {value!r}", f"/totals/{key}"))
    if mode == "data":
        problems.extend(_dictionary_problems(members, dictionary(fresh.policy, fresh.period_end), problem))
    return Verification(count, tuple(problems))


def _dictionary_problems(members: _Members, expected: dict, problem) -> List[Problem]:
    """Each entry of the recorded dictionary that is not the policy's: the traces refer to these texts."""
    recorded = members.get("dictionary")
    if not isinstance(recorded, dict):
        return [problem("verify.changed", "the dictionary the traces refer to is missing", "/dictionary")]
    out = []
    for section, entries in expected.items():
        have = recorded.get(section)
        if not isinstance(have, dict):
            out.append(problem("verify.changed", f"dictionary section {section} differs from the policy's",
                               pointer_join("/dictionary", section)))
            continue
        for key in list(entries) + [k for k in have if k not in entries]:
            if have.get(key) != entries.get(key):
                out.append(problem("verify.changed", f"dictionary {section} {key} differs from the policy's "
                                   f"(recorded {json.dumps(have.get(key), ensure_ascii=False)[:80]})",
                                   pointer_join(pointer_join("/dictionary", section), key)))
    return out
