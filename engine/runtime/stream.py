"""Province-scale runs: a JSON facts file read, decided and written one workshop at a time.

The file is scanned for each workshop's byte range (:mod:`subsidy_rules.facts.scan`) and each workshop is
read by the typed reader (:mod:`subsidy_rules.facts.typed`: msgspec, with every rule of the facts schema
and its defaults), checked against the facts contract, turned into its record tree once (the policy's facts
checks and the rules read the same tree), decided, and its decisions rendered at once. Memory is bounded by
the largest workshop, not by the file.

``jobs > 1`` runs the same steps in worker processes: the parent only finds the workshops' byte ranges and
hands out batches of consecutive workshops; each worker reads its batch's bytes from the file itself and
writes its decisions to its own part file. The document is assembled in input order from the parts, with
the same code for one job as for many, so the output is byte-identical whatever ``jobs`` is.

Any problem, in the facts or while deciding, stops the stream: the caller then runs the thorough path
(:func:`subsidy_rules.load_facts` and :func:`subsidy_rules.runtime.evaluate`), which reports every problem
with its location. Nothing is written where a partial result could be taken for a whole one.
"""
from __future__ import annotations

import collections
import datetime as _dt
import decimal
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, List, NoReturn, Optional, Sequence, Set, Tuple, Union

from .backends import get as get_backend
from .decisions import Totals, period_key
from .evaluate import PRECISION, decide_records
from ..facts.model import Record
from ..facts.reading import note_sources, records_for, source_of, workshop_problems
from ..facts.scan import FactsScan, ScanStopped
from ..facts.typed import NotVouched, workshop_reader
from ..policy.model import Policy
from ..problems import InputFault
from ..views.document import TraceOption, decision_bytes, decision_dict, trace_mode, write_json


class StreamStopped(InputFault):
    """The stream met a problem; run the thorough path to report it with its location."""


@dataclass(frozen=True)
class StreamHeader:
    path: str
    sha256: str
    period_start: _dt.date
    period_end: _dt.date
    size: int


def _period(scan: FactsScan) -> Tuple[_dt.date, _dt.date]:
    try:
        _, raw = scan.period()
        period = workshop_reader().period(raw)
    except (ScanStopped, NotVouched) as exc:
        raise StreamStopped(f"period: {exc}") from None
    if period["end"] < period["start"]:
        raise StreamStopped("the period ends before it starts")
    return period["start"], period["end"]


class _Hash:
    """The sha256 of a facts file as the thorough path takes it (of its text: a UTF-8 byte order mark left out)."""

    def __init__(self) -> None:
        self.digest, self.size, self.first = hashlib.sha256(), 0, True

    def __call__(self, block: bytes) -> None:
        self.size += len(block)
        if self.first and block.startswith(b"\xef\xbb\xbf"):
            block = block[3:]
        self.first = False
        self.digest.update(block)

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def open_json(path: str) -> StreamHeader:
    """The period and hash of a JSON facts file, read without loading its workshops (the period must come first)."""
    digest = _Hash()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest(block)
    size = digest.size
    with FactsScan(path) as scan:
        start, end = _period(scan)
    return StreamHeader(path, digest.hexdigest(), start, end, size)


def check_period(policy: Policy, header: "StreamHeader") -> None:
    """A period the policy does not cover stops the stream (the thorough path says why, with its location)."""
    if policy.in_force is not None and header.period_start < policy.in_force:
        raise StreamStopped("the period starts before the policy is in force")


def read_workshops(path: str, progress: Optional[Callable[[int], None]] = None) -> Iterator[Tuple[int, bytes]]:
    """(index, JSON text) of each workshop of a JSON facts file, in order; StreamStopped on a problem of the
    document's shape, raised only once it is met (a file cut short, or with text after it, never passes).

    Each workshop is read and checked where it is decided (:func:`decide_workshop`), so with --jobs the
    reading runs in parallel too.
    """
    with FactsScan(path, progress) as scan:
        try:
            scan.period()
            for index, _, raw in scan.workshops():
                yield index, raw
        except ScanStopped as exc:
            raise StreamStopped(str(exc)) from None


@dataclass(frozen=True)
class Decided:
    """One workshop's decisions, rendered as JSON text in UTF-8 (as the document is written), with their totals."""

    index: int
    decisions: Tuple[bytes, ...]
    totals: Totals
    workshop: str = ""  # its id


def checked_records(policy: Policy, start: _dt.date, end: _dt.date, index: int, raw: bytes,
                    tracing: bool) -> Record:
    """The record tree of one workshop read from its JSON text, checked against the facts schema and contract
    and the policy's facts checks (on this same tree); StreamStopped on any problem."""
    try:
        ws = workshop_reader().workshop(raw)
    except NotVouched as exc:
        raise StreamStopped(f"workshop #{index + 1}: {exc}") from None
    pointer = f"/workshops/{index}"

    def refuse(code: str, message: str, at: str, hint: Optional[str] = None) -> NoReturn:
        raise StreamStopped(f"{code}: {message} at {at}")

    try:
        note_sources(policy, ws, pointer, source_of)  # before the records are made: they share its nested mappings
        shop = records_for(start, end, ws, pointer, tracing)
        shop.ctx.parameters = policy.parameters  # as deciding sets it: a computed value a check reads is cached
        for _ in workshop_problems(policy, ws, pointer, {}, refuse, start, end, shop=shop):
            pass
    except StreamStopped:
        raise
    except Exception as exc:  # a facts check the policy cannot work out here: the thorough path says so
        raise StreamStopped(f"workshop #{index + 1}: {type(exc).__name__}: {exc}") from None
    return shop


def decide_workshop(policy: Policy, header: StreamHeader, index: int, raw: bytes, *, backend: str = "core",
                    why_not: bool = False, trace: TraceOption = True, recorded: bool = True) -> Decided:
    """One workshop, from its JSON text to its rendered decisions; StreamStopped on any problem. A trace written as
    data is ``recorded`` in one pass (:mod:`.recording`), or built as events by the traced evaluation and then
    written (what ``verify`` checks a document against)."""
    period = period_key(header.period_start, header.period_end)
    with decimal.localcontext() as ctx:
        ctx.prec = PRECISION
        ctx.traps[decimal.InvalidOperation] = True
        shop = checked_records(policy, header.period_start, header.period_end, index, raw, bool(trace) or why_not)
        shop.ctx.data_only = recorded and trace_mode(trace) == "data"
        try:
            decisions = decide_records(policy, shop, get_backend(backend), why_not)
            rendered = tuple(decision_bytes(decision_dict(d, policy.sha256, period, trace, policy.path))
                             for d in decisions)
        except ImportError:
            raise
        except Exception as exc:  # an evaluation problem: the thorough path reports it with its location
            raise StreamStopped(f"workshop #{index + 1}: {type(exc).__name__}: {exc}") from None
        finally:
            shop.release()  # written: freed at once, not left for the cyclic collector
    return Decided(index, rendered, Totals.of(decisions), shop.id)


_WORKER: Dict[str, Any] = {}  # what the worker processes inherit (fork): the policy, the header, the options


def _decide_raw(job: Tuple[int, bytes]) -> Decided:
    index, raw = job
    policy, header, options = _WORKER["args"]
    return decide_workshop(policy, header, index, raw, **options)


def decide_stream(policy: Policy, header: StreamHeader, workshops: Iterator[Tuple[int, bytes]], *, backend: str = "core",
                  why_not: bool = False, trace: TraceOption = True, jobs: int = 1,
                  recorded: bool = True) -> Iterator[Decided]:
    """Each workshop's decisions, in input order, from (index, JSON text) pairs (:func:`read_workshops`); a
    workshop id given twice stops the stream. With ``jobs > 1`` the workshops are decided in worker processes
    (:func:`write_document` is the faster way to write a whole document with several jobs). ``recorded``: as
    :func:`decide_workshop`."""
    import multiprocessing

    _WORKER["args"] = (policy, header, dict(backend=backend, why_not=why_not, trace=trace, recorded=recorded))
    ids: Set[str] = set()

    def unique(done: Decided) -> Decided:
        if done.workshop in ids:
            raise StreamStopped(f"workshop id {done.workshop!r} is used twice")
        ids.add(done.workshop)
        return done

    if jobs <= 1:
        for job in workshops:
            yield unique(_decide_raw(job))
        return
    with multiprocessing.get_context("fork").Pool(jobs) as pool:  # fork: the workers inherit the compiled policy
        for done in pool.imap(_decide_raw, workshops, chunksize=4):
            yield unique(done)


# -- the decisions document, written from parts -------------------------------------------------------------

#: a batch of consecutive workshops handed to one worker: about this many bytes of facts
BATCH_BYTES = 512 * 1024


@dataclass(frozen=True)
class _Part:
    """A batch decided: its decisions written (joined by the document's separator) to ``path``."""

    number: int
    path: str
    decisions: int
    totals: Totals
    workshops: Tuple[str, ...]
    end: int  # the file offset after its last workshop


def _decide_batch(task: Tuple[int, Sequence[Tuple[int, int, int]]]) -> _Part:
    """A worker's job: read a batch's bytes from the facts file, decide each workshop, write the part."""
    number, items = task
    policy, header, options, separator, folder = _WORKER["batch"]
    first = items[0][1]
    last = items[-1][1] + items[-1][2]
    with open(header.path, "rb") as fh:
        fh.seek(first)
        data = fh.read(last - first)
    texts: List[bytes] = []
    totals = _ZERO
    ids: List[str] = []
    for index, offset, length in items:
        done = decide_workshop(policy, header, index, data[offset - first:offset - first + length], **options)
        texts.extend(done.decisions)
        totals = totals.merge(done.totals)
        ids.append(done.workshop)
    path = os.path.join(folder, f"part-{number:09d}")
    with open(path, "wb") as fh:
        fh.write(separator.join(texts))
    return _Part(number, path, len(texts), totals, tuple(ids), last)


_ZERO = Totals(Decimal("0.00"), {}, {}, {})


def _bytes(text: Union[str, bytes]) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


_FIRST, _SECOND = "\x00first decision\x00", "\x00second decision\x00"  # JSON text never holds a raw NUL


def _frame(doc_header: dict, totals: Totals) -> Tuple[bytes, bytes, bytes]:
    """(what comes before the first decision, what stands between two, what follows the last) in the document
    :func:`subsidy_rules.views.document.write_json` writes: learnt from it, so parts joined with them make the
    very text it would write."""
    text = _written(doc_header, [_FIRST, _SECOND], totals)
    first, second = _bytes(_FIRST), _bytes(_SECOND)
    a, b = text.index(first), text.index(second)
    return text[:a], text[a + len(first):b], text[b + len(second):]


def _empty(doc_header: dict, totals: Totals) -> bytes:
    return _written(doc_header, [], totals)


def _written(doc_header: dict, texts: List[str], totals: Totals) -> bytes:
    """What write_json writes, as bytes, whether it writes text or (decisions rendered as bytes) bytes."""
    text = io.StringIO()
    try:
        write_json(text, doc_header, texts, lambda: totals)
        return _bytes(text.getvalue())
    except TypeError:
        data = io.BytesIO()
        write_json(data, doc_header, [_bytes(t) for t in texts], lambda: totals)
        return data.getvalue()


def _batches(scan: FactsScan) -> Iterator[Tuple[int, Tuple[Tuple[int, int, int], ...]]]:
    """(number, ((index, offset, length), ...)) for consecutive workshops of about BATCH_BYTES."""
    batch: List[Tuple[int, int, int]] = []
    size, number = 0, 0
    for index, offset, raw in scan.workshops():
        batch.append((index, offset, len(raw)))
        size += len(raw)
        if size >= BATCH_BYTES:
            yield number, tuple(batch)
            batch, size, number = [], 0, number + 1
    if batch:
        yield number, tuple(batch)


def write_document(policy: Policy, path: str, out_fd: int, header_of: Callable[[StreamHeader], dict], *,
                   backend: str = "core", why_not: bool = False, trace: TraceOption = True, jobs: int = 1,
                   progress: Optional[Callable[[int], None]] = None, folder: Optional[str] = None
                   ) -> Tuple[StreamHeader, Totals]:
    """Decide every workshop of the JSON facts file at ``path`` and write the decisions document to the file
    descriptor ``out_fd``; ``header_of`` makes the document's header once the facts' hash is known. Part files
    go to a temporary folder in ``folder``. StreamStopped on any problem (``out_fd`` then holds a partial
    document, which the caller discards)."""
    digest = _Hash()
    done_bytes = [0]

    def advanced(end: int) -> None:
        if progress is not None and end > done_bytes[0]:
            progress(end - done_bytes[0])
            done_bytes[0] = end

    with tempfile.TemporaryDirectory(prefix=".decisions-parts-", dir=folder) as parts_dir, \
            FactsScan(path, on_block=digest) as scan:
        try:
            start, end = _period(scan)
            provisional = StreamHeader(path, "", start, end, 0)
            check_period(policy, provisional)
            _, separator, _ = _frame({}, _ZERO)
            options = dict(backend=backend, why_not=why_not, trace=trace)
            _WORKER["batch"] = (policy, provisional, options, separator, parts_dir)
            parts: List[_Part] = []
            ids: Set[str] = set()
            for part in _run_batches(_batches(scan), jobs):
                for wid in part.workshops:
                    if wid in ids:
                        raise StreamStopped(f"workshop id {wid!r} is used twice")
                    ids.add(wid)
                parts.append(part)
                advanced(part.end)
        except ScanStopped as exc:
            raise StreamStopped(str(exc)) from None
        header = StreamHeader(path, digest.hexdigest(), start, end, digest.size)
        if progress is not None:
            advanced(digest.size)
        totals = _ZERO
        for part in parts:
            totals = totals.merge(part.totals)
        doc_header = header_of(header)
        written = [p for p in parts if p.decisions]
        if not written:
            _write_all(out_fd, _empty(doc_header, totals))
            return header, totals
        before, separator, after = _frame(doc_header, totals)
        _write_all(out_fd, before)
        for n, part in enumerate(written):
            if n:
                _write_all(out_fd, separator)
            _append(out_fd, part.path)
        _write_all(out_fd, after)
    return header, totals


def _run_batches(batches: Iterable[Tuple[int, Sequence[Tuple[int, int, int]]]], jobs: int) -> Iterator[_Part]:
    """Each batch decided, in order: in this process, or in ``jobs`` worker processes with a few batches in
    flight each (the parent reads ahead only that far)."""
    if jobs <= 1:
        for batch in batches:
            yield _decide_batch(batch)
        return
    import multiprocessing

    window: Deque[Any] = collections.deque()  # AsyncResult of _Part
    # fork: the workers inherit the compiled policy (its closures cannot be pickled)
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        for batch in batches:
            window.append(pool.apply_async(_decide_batch, (batch,)))
            if len(window) >= 3 * jobs:
                yield window.popleft().get()
        while window:
            yield window.popleft().get()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _append(fd: int, path: str) -> None:
    """Append the file at ``path`` to ``fd``: in the kernel where it can (copy_file_range), else in blocks."""
    with open(path, "rb") as src:
        remaining = os.fstat(src.fileno()).st_size
        copy = getattr(os, "copy_file_range", None)
        while remaining and copy is not None:
            try:
                n = copy(src.fileno(), fd, remaining)
            except OSError:
                break
            if n == 0:
                break
            remaining -= n
        while remaining:
            block = src.read(min(remaining, 1 << 20))
            if not block:
                break
            _write_all(fd, block)
            remaining -= len(block)
