"""Province-scale runs: facts read, decided and written one workshop at a time.

A JSON facts file is read one workshop at a time by the same strict JSON
decoder that reads a whole file, so memory is bounded by the largest workshop,
not by the file, and both paths take and refuse the same files. Each workshop is checked (the compiled
schema, then the facts contract), decided, and its decisions rendered and
handed on at once; ``jobs > 1`` decides workshops in worker processes and
hands them on in input order, so the output is the same as with one job.

Any problem, in the facts or while deciding, stops the stream: the caller
then runs the thorough path (:func:`subsidy_rules.load_facts` and
:func:`subsidy_rules.runtime.evaluate`), which reports every problem with its location.
Nothing is written where a partial result could be taken for a whole one.
"""
from __future__ import annotations

import codecs
import datetime as _dt
import decimal
import hashlib
import json
import multiprocessing
import re
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Tuple

from .. import schemas

from .backends import get as get_backend
from .decisions import Totals, period_key
from .evaluate import PRECISION, decide_records
from ..facts.reading import note_sources, records_for, source_of, workshop_problems
from ..limits import LIMITS
from ..policy.model import Policy
from ..problems import InputFault
from ..views.document import decision_dict, decision_text
from ..source import DuplicateKey, json_decoder, value_problems
from ..validation import apply_defaults_and_types, fast_valid


class StreamStopped(InputFault):
    """The stream met a problem; run the thorough path to report it with its location."""


@dataclass(frozen=True)
class StreamHeader:
    path: str
    sha256: str
    period_start: _dt.date
    period_end: _dt.date
    size: int


def _sha256(path: str) -> Tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


class _JsonReader:
    """A facts document ``{"period": …, "workshops": [ … ]}`` read one value at a time with the standard
    library's strict JSON decoder, the same one that reads a whole file (:func:`subsidy_rules.source.parse_json`), so
    both paths take and refuse the same files. A value is decoded from a buffer that grows a chunk at a time
    until it holds the whole value; anything but the expected shape stops the stream (the whole-file path
    then reports it with its location)."""

    CHUNK = 1 << 20
    MAX_VALUE = 256 * 1024 * 1024  # one workshop larger than this is left to the whole-file path

    def __init__(self, path: str, progress: Optional[Callable[[int], None]] = None):
        self.fh = open(path, "rb")
        self.progress = progress
        self.text = ""
        self.pos = 0
        self.eof = False
        self.utf8 = codecs.getincrementaldecoder("utf-8-sig")()
        self.decoder = json_decoder()

    def close(self) -> None:
        self.fh.close()

    def _more(self) -> bool:
        if self.eof:
            return False
        block = self.fh.read(self.CHUNK)
        if self.progress is not None and block:
            self.progress(len(block))
        try:
            added = self.utf8.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            raise StreamStopped(f"not UTF-8 text: {exc}") from None
        self.eof = not block
        self.text = self.text[self.pos:] + added
        self.pos = 0
        return bool(block)

    def _next_char(self) -> str:
        """The next character that is not white space ("" at the end), not consumed."""
        while True:
            match = _SPACE.match(self.text, self.pos)
            self.pos = match.end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._more():
                return ""

    def expect(self, allowed: str) -> str:
        found = self._next_char()
        if not found or found not in allowed:
            raise StreamStopped(f"expected one of {allowed!r}, found {found!r}")
        self.pos += 1
        return found

    def value(self):
        self._next_char()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError:
                if len(self.text) - self.pos > self.MAX_VALUE or not self._more():
                    raise StreamStopped("not valid JSON") from None
                continue
            except (ValueError, RecursionError, DuplicateKey) as exc:  # a number too long, too deep, a repeated key
                raise StreamStopped(f"{type(exc).__name__}: {exc}") from None
            if end == len(self.text) and not self.eof and self.text[self.pos] not in "{[\"":
                self._more()  # a number may go on in the next chunk: decode it again whole
                continue
            self.pos = end
            found = value_problems(value, "", LIMITS)
            if found:
                raise StreamStopped(f"{found[0][0]}: {found[0][1]}")
            return value

    def end(self) -> None:
        if self._next_char():
            raise StreamStopped("text after the document")


_SPACE = re.compile(r"[ \t\n\r]*")


def _members(reader: _JsonReader):
    """(key, reader positioned at its value) for each member of the top-level object; a key given twice, or one
    the facts do not have, stops the stream."""
    reader.expect("{")
    if reader._next_char() == "}":
        reader.expect("}")
        return
    seen = set()
    while True:
        key = reader.value()
        if not isinstance(key, str) or key in seen or key not in ("period", "workshops"):
            raise StreamStopped(f"top-level key {key!r}")
        seen.add(key)
        reader.expect(":")
        yield key
        if reader.expect(",}") == "}":
            reader.end()
            return


def open_json(path: str) -> StreamHeader:
    """The period and hash of a JSON facts file, read without loading its workshops (the period must come first)."""
    sha, size = _sha256(path)
    reader = _JsonReader(path)
    try:
        members = _members(reader)
        if next(members, None) != "period":
            raise StreamStopped("the period does not come first")
        period = reader.value()
    finally:
        reader.close()
    schema = schemas.load("facts")
    period_schema = _WORKSHOP_SCHEMA.setdefault("period", dict(schema["properties"]["period"], **{"$defs": schema["$defs"]}))
    if not isinstance(period, dict) or not fast_valid(period_schema, period):
        raise StreamStopped("period")
    start, end = _dt.date.fromisoformat(period["start"]), _dt.date.fromisoformat(period["end"])
    if end < start:
        raise StreamStopped("period")
    return StreamHeader(path, sha, start, end, size)


def check_period(policy: Policy, header: "StreamHeader") -> None:
    """A period the policy does not cover stops the stream (the thorough path says why, with its location)."""
    if policy.in_force is not None and header.period_start < policy.in_force:
        raise StreamStopped("the period starts before the policy is in force")


def read_workshops(path: str, progress: Optional[Callable[[int], None]] = None) -> Iterator[Tuple[int, dict]]:
    """(index, raw workshop) for each workshop of a JSON facts file, in order; StreamStopped on a problem, and
    only once the whole document has been read (so a file cut short, or with text after it, never passes).

    Only parsing and the one check that spans workshops (unique ids) happen here; each workshop is
    checked where it is decided, so with --jobs the checks run in parallel too.
    """
    reader = _JsonReader(path, progress)
    try:
        for key in _members(reader):
            if key == "period":
                reader.value()
                continue
            reader.expect("[")
            if reader._next_char() == "]":
                reader.expect("]")
                continue
            ids, index = set(), 0
            while True:
                ws = reader.value()
                wid = ws.get("id") if isinstance(ws, dict) else None
                if not isinstance(wid, str) or wid in ids:
                    raise StreamStopped(f"workshop #{index + 1}: id {wid!r} missing, not text or used twice")
                ids.add(wid)
                yield index, ws  # checked where it is decided (a worker process, with --jobs)
                index += 1
                if reader.expect(",]") == "]":
                    break
    finally:
        reader.close()


def _checked(policy: Policy, header: "StreamHeader", index: int, ws) -> dict:
    """One raw workshop, checked (the compiled schema, then the facts contract) and converted."""
    schema = schemas.load("facts")
    workshop_schema, root = _WORKSHOP_SCHEMA.setdefault("facts", ({"$ref": "#/$defs/workshop", "$defs": schema["$defs"]},
                                                                  {"$defs": schema["$defs"]}))

    def refuse(code, message, pointer, hint=None):
        raise StreamStopped(f"{code}: {message} at {pointer}")

    if not fast_valid(workshop_schema, ws):
        raise StreamStopped(f"workshop #{index + 1} does not match the facts schema")
    ws = apply_defaults_and_types(ws, workshop_schema, root)
    pointer = f"/workshops/{index}"
    for _ in workshop_problems(policy, ws, pointer, {}, refuse, header.period_start, header.period_end):
        pass
    note_sources(policy, ws, pointer, source_of)
    return ws


_WORKSHOP_SCHEMA: dict = {}  # built once, so the compiled validator and resolved nodes are reused


@dataclass(frozen=True)
class Decided:
    """One workshop's decisions, rendered as JSON text, with their totals."""

    index: int
    decisions: Tuple[str, ...]
    totals: Totals


_WORKER = {}


def _decide(job) -> Decided:
    index, ws = job
    policy, header, backend, why_not, trace = _WORKER["args"]
    ws = _checked(policy, header, index, ws)
    period = period_key(header.period_start, header.period_end)
    with decimal.localcontext() as ctx:
        ctx.prec = PRECISION
        ctx.traps[decimal.InvalidOperation] = True
        try:
            shop = records_for(header.period_start, header.period_end, ws, f"/workshops/{index}", trace or why_not)
            decisions = decide_records(policy, shop, get_backend(backend), why_not)
            rendered = tuple(decision_text(decision_dict(d, policy.sha256, period, trace, policy.path))
                             for d in decisions)
            return Decided(index, rendered, Totals.of(decisions))
        except Exception as exc:  # an evaluation problem, in this process or a worker: the thorough path reports it
            raise StreamStopped(f"workshop #{index + 1}: {type(exc).__name__}: {exc}") from None


def decide_stream(policy: Policy, header: StreamHeader, workshops: Iterator[Tuple[int, dict]], *, backend: str = "core",
                  why_not: bool = False, trace: bool = True, jobs: int = 1) -> Iterator[Decided]:
    """Each workshop's decisions, in input order; with ``jobs > 1``, decided in worker processes."""
    _WORKER["args"] = (policy, header, backend, why_not, trace)
    if jobs <= 1:
        for job in workshops:
            yield _decide(job)
        return
    # fork: the workers inherit the compiled policy (closures cannot be pickled)
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        yield from pool.imap(_decide, workshops, chunksize=4)
