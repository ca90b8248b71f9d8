"""A decisions file compared with the run made again, both streamed: a decision whose text is the one the run writes
is identical without being looked at further; one that is not is compared field by field; decisions the file lacks,
repeats or does not make are named, and the totals and the dictionary the traces refer to compared."""
from __future__ import annotations

import json
import re
from array import array
from collections import OrderedDict
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..problems import InvalidInput, Location, Problem, pointer_join
from ..source import json_decoder
from ..validation import fast_valid
from ..views.document import totals_dict
from ..views.trace_data import dictionary
from ._decisions_reader import DecisionsReader, locate_in
from .decisions_file import Located, Member, Members, ProblemAt, decisions_after, needs_ledger, schema_parts
from .rerun import Fresh

_COMPARED = ("workshop", "worker", "loan", "rule", "clause", "outcome", "amount", "funding_source", "route", "basis",
             "since", "source", "effective", "waits_for", "reason", "trace")
_WINDOW = 20_000  # decisions decided ahead while looking for one the file has out of place


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

    def was_matched(self, did: object) -> bool:
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

    def find(self, did: str, workshop: object) -> Optional[Tuple[int, str]]:
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


def compare(path: str, members: Members, fresh: Fresh, mode: Optional[str], problem: ProblemAt
            ) -> Tuple[int, Tuple[Problem, ...]]:
    """The file's decisions against the run made again, as they come: how many the file holds, and every difference."""
    parts = schema_parts()
    decision_schema = parts[f"decision:{mode}"]
    shape: List[Problem] = []
    problems: List[Problem] = []
    window = _Window(fresh.chunks())
    unknown = False
    count = 0
    with DecisionsReader(path) as reader:
        rest = decisions_after(reader)
        if reader.peek() != "[":
            raise InvalidInput([problem("verify.shape", "not a decisions file written by `subsidy evaluate --format json`", "")])
        for i, item in enumerate(_items(reader, window)):
            count += 1
            if item is None:  # the very text the run writes: identical (and of the schema's shape, as the run's is)
                continue
            recorded, text, at = item
            pointer = f"/decisions/{i}"
            if not fast_valid(decision_schema, recorded):
                shape.extend(Located(recorded, text, at, pointer).problems(decision_schema))
                if not isinstance(recorded, dict):
                    continue

            def here(key: str, code: str, message: str) -> Problem:
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
            members.found[key] = Member(value, value_text, at, key_at)
            if key == "totals" and not fast_valid(parts["totals"], value):
                shape.extend(Located(value, value_text, at, "/totals", key_at).problems(parts["totals"]))
    if shape:
        raise InvalidInput(shape)
    if "ledger" in members.found and fresh.ledger is None:
        return count, (needs_ledger(members, problem),)
    if not unknown:
        for did, about in window.missing:
            problems.append(problem("verify.missing", f"decision {did} ({about}) is missing from the file", "/decisions"))
    recorded_totals = members.get("totals") or {}
    assert fresh.totals is not None  # set once every decision of the fresh run is out, as all are by now
    for key, value in totals_dict(fresh.totals).items():
        if recorded_totals.get(key) != value:
            problems.append(problem("verify.totals", f"totals.{key} recorded {recorded_totals.get(key)!r}, "
                                    f"recomputed {value!r}", f"/totals/{key}"))
    if mode == "data":
        problems.extend(_dictionary_problems(members, dictionary(fresh.policy, fresh.period_end), problem))
    return count, tuple(problems)


def _dictionary_problems(members: Members, expected: dict, problem: ProblemAt) -> List[Problem]:
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


def _parsed(text: str) -> dict:
    return json_decoder().decode(text)


def _about(d: dict) -> str:
    subject = f"worker {d['worker']}" if d.get("worker") else f"loan {d['loan']}" if d.get("loan") else "workshop"
    return f"{d['workshop']} {subject}, clause {d['clause']} {d['rule']}"


def _id_number(did: object) -> Optional[int]:
    try:
        return int(did[:16], 16) if isinstance(did, str) and did else None
    except ValueError:
        return None
