"""Province-scale runs: facts read, decided and written one workshop at a time.

A JSON facts file is read incrementally (ijson), so memory is bounded by the
largest workshop, not by the file. Each workshop is checked (the compiled
schema, then the facts contract), decided, and its decisions rendered and
handed on at once; ``jobs > 1`` decides workshops in worker processes and
hands them on in input order, so the output is the same as with one job.

Any problem, in the facts or while deciding, stops the stream: the caller
then runs the thorough path (:func:`engine.load_facts` and
:func:`engine.evaluate`), which reports every problem with its location.
Nothing is written where a partial result could be taken for a whole one.
"""
from __future__ import annotations

import datetime as _dt
import decimal
import hashlib
import multiprocessing
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Tuple

import schemas

from .backends import get as get_backend
from .decisions import Totals
from .evaluate import PRECISION, decide_records
from .facts import note_sources, records_for, source_of, workshop_problems
from .policy import Policy
from .render import decision_dict, decision_text
from .validation import apply_defaults_and_types, fast_valid


class StreamStopped(Exception):
    """The stream met a problem; run the thorough path to report it with its location."""


class _UniqueKeys(dict):
    """A mapping that refuses a key given twice (ijson builds objects through it)."""

    def __setitem__(self, key, value):
        if key in self:
            raise StreamStopped(f"duplicate key {key!r}")
        super().__setitem__(key, value)


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


def open_json(path: str) -> StreamHeader:
    """The period and hash of a JSON facts file, read without loading its workshops."""
    import ijson

    sha, size = _sha256(path)
    with open(path, "rb") as fh:
        try:
            period = next(ijson.items(fh, "period", map_type=_UniqueKeys, use_float=False), None)
        except (ijson.JSONError, StreamStopped, UnicodeDecodeError) as exc:
            raise StreamStopped(str(exc)) from None
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
    """(index, raw workshop) for each workshop of a JSON facts file, in order; StreamStopped on a problem.

    Only parsing and the one check that spans workshops (unique ids) happen here; each workshop is
    checked where it is decided, so with --jobs the checks run in parallel too.
    """
    import ijson

    ids = set()
    with open(path, "rb") as raw:
        fh = _Counting(raw, progress)
        try:
            for index, ws in enumerate(ijson.items(fh, "workshops.item", map_type=_UniqueKeys, use_float=False)):
                wid = ws.get("id") if isinstance(ws, dict) else None
                if wid in ids:
                    raise StreamStopped(f"workshop id {wid!r} is used twice")
                ids.add(wid)
                yield index, ws  # checked where it is decided (a worker process, with --jobs)
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            raise StreamStopped(str(exc)) from None


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
    note_sources(policy, ws, pointer, lambda at: source_of(header.path, at))
    return ws


_WORKSHOP_SCHEMA: dict = {}  # built once, so the compiled validator and resolved nodes are reused


class _Counting:
    """A file wrapper that reports how many bytes have been read (for the progress bar)."""

    def __init__(self, fh, progress):
        self.fh, self.progress = fh, progress

    def read(self, n=-1):
        block = self.fh.read(n)
        if self.progress is not None and block:
            self.progress(len(block))
        return block


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
    period = f"{header.period_start.isoformat()}/{header.period_end.isoformat()}"
    with decimal.localcontext() as ctx:
        ctx.prec = PRECISION
        ctx.traps[decimal.InvalidOperation] = True
        try:
            shop = records_for(header.period_start, header.period_end, ws, f"/workshops/{index}", trace or why_not)
            decisions = decide_records(policy, shop, get_backend(backend), why_not)
        except Exception as exc:  # an evaluation problem: reported in full by the thorough path
            raise StreamStopped(f"workshop #{index + 1}: {exc}") from None
    rendered = tuple(decision_text(decision_dict(d, policy.sha256, period, trace, policy.path)) for d in decisions)
    return Decided(index, rendered, Totals.of(decisions))


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
