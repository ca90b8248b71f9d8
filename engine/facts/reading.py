"""Facts: read, validate and build the records a policy is evaluated on.

The facts file is checked against ``schemas/facts.schema.json`` and then
against the policy (codes must be in its vocabularies) and the contract's own
rules (unique ids, headcount not below the workers listed, one entry per
month, a period that ends after it starts). Every problem names its record and
field and carries its ``file:line:col``; none is dropped, none is guessed.
"""
from __future__ import annotations

import datetime as _dt
import os
import hashlib
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, Optional, Protocol, Tuple

from .. import schemas

from ..lang.calendar import month_start as _parse_month, months_in
from .model import EvalContext, Record
from ..policy.model import Policy, Vocabulary
from ..problems import InvalidInput, Problem, pointer_join
from ..runtime.status import SOURCE
from ..source import Document, read_file
from ..validation import apply_defaults_and_types, fast_valid, schema_problems


@dataclass(frozen=True)
class Facts:
    """Validated facts: the period and the workshops, as plain data, with their source."""

    path: str
    sha256: str
    period_start: _dt.date
    period_end: _dt.date
    workshops: Tuple[dict, ...]
    pointers: Tuple[str, ...]  # the JSON pointer of each workshop in the file
    doc: Document


def load_facts(path: "str | os.PathLike[str]", policy: Policy, encoding: Optional[str] = None,
               progress: Optional[Callable[[int], None]] = None) -> Facts:
    """Read and check the facts at ``path`` for ``policy``; raise InvalidInput with every problem.

    ``path`` is a YAML or JSON file, or a roster: an ``.xlsx`` workbook or a folder of CSV files (see
    :mod:`.workbook`; ``encoding`` names a CSV or YAML file's encoding when it is not UTF-8, ``progress`` is
    called with the rows read)."""
    from .workbook import is_roster
    path = os.fspath(path)
    if path == STDIN:
        return _load_stdin(policy, encoding)
    if is_roster(path):
        from .roster import load_roster
        return load_roster(path, policy, encoding, progress)
    from ..locale import language, localize
    lang = language(policy)  # the policy's people read its language; the codes stay as they are
    try:
        doc = read_file(path, encoding=encoding)
    except InvalidInput as exc:
        raise InvalidInput(localize(exc.problems, lang)) from None
    return _checked(doc, policy, lang)


def _checked(doc: Document, policy: Policy, lang: str) -> Facts:
    """``doc`` checked as facts for ``policy``; its problems with hints, in the policy's language."""
    from ..locale import localize
    try:
        return check_facts(doc, policy)
    except InvalidInput as exc:
        from .hints import enrich
        raise InvalidInput(localize(enrich(exc.problems, doc.data, lang, lambda p: doc.line(p.location.line)), lang)) from None


#: The facts argument that stands for standard input, and the name problems read from it are located by.
STDIN = "-"
STDIN_NAME = "<stdin>"
_WORKBOOK_MAGIC = b"PK\x03\x04"
_stdin_read: list = []  # [(the stream, its bytes)]: standard input is read once, whoever asks again


def stdin_bytes(limit: Optional[int] = None) -> bytes:
    """The bytes of standard input, read once (at most ``limit`` + 1 of them: more is refused by the caller); a
    second call, e.g. for the second policy of ``diff --facts -``, gets the same bytes."""
    import sys
    from ..limits import LIMITS
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    if _stdin_read and _stdin_read[0][0] is stream:
        return _stdin_read[0][1]
    raw = stream.read((limit or LIMITS.max_file_bytes) + 1)
    if isinstance(raw, str):  # a text stream with no bytes under it
        raw = raw.encode("utf-8")
    _stdin_read[:] = [(stream, raw)]
    return raw


def stdin_is_workbook() -> bool:
    """Whether standard input holds a workbook (a zip archive), which is read from a file only."""
    return stdin_bytes().startswith(_WORKBOOK_MAGIC)


def stdin_line(n: int) -> str:
    """Line ``n`` of the facts read from standard input (for a problem's caret), or ""."""
    if not _stdin_read:
        return ""
    lines = _stdin_read[0][1].decode("utf-8-sig", errors="replace").splitlines()
    return lines[n - 1] if 0 < n <= len(lines) else ""


def _load_stdin(policy: Policy, encoding: Optional[str]) -> Facts:
    """Facts from standard input: JSON when its first character is ``{``, else YAML; problems located as
    ``<stdin>:line:col``. A workbook or a folder of CSV files is read from its path only."""
    from ..limits import LIMITS
    from ..locale import language, localize
    from ..problems import Location
    from ..source import encoding_problem, read_json_fast, read_text
    lang = language(policy)
    raw = stdin_bytes()
    where = Location(STDIN_NAME)
    try:
        if raw.startswith(_WORKBOOK_MAGIC):
            raise InvalidInput([Problem("file.roster_on_stdin", "a workbook is read from its file, not from standard "
                                        "input", "", where)])
        if len(raw) > LIMITS.max_file_bytes:
            raise InvalidInput([Problem("input.too_large", f"standard input has more than {LIMITS.max_file_bytes:,} "
                                        "bytes", "", where)])
        try:
            text = raw.decode(encoding) if encoding else raw.decode("utf-8-sig")
        except LookupError as exc:
            raise InvalidInput([Problem("file.encoding", f"cannot read standard input as {encoding}: {exc}", "",
                                        where)]) from None
        except UnicodeDecodeError as exc:
            if encoding:
                raise InvalidInput([Problem("file.encoding", f"cannot read standard input as {encoding}: {exc}", "",
                                            where)]) from None
            raise InvalidInput([encoding_problem(STDIN_NAME, raw, exc)]) from None
        doc = read_json_fast(STDIN_NAME, text) if text.lstrip().startswith("{") else read_text(STDIN_NAME, text)
    except InvalidInput as exc:
        raise InvalidInput(localize(exc.problems, lang)) from None
    return _checked(doc, policy, lang)


def check_facts(doc: Document, policy: Policy) -> Facts:
    schema = schemas.load("facts")
    if not fast_valid(schema, doc.data):
        problems = schema_problems(doc, schema, "facts")
        raise InvalidInput([_name_record(doc, p) for p in problems])
    data = apply_defaults_and_types(doc.data, schema, schema)
    problems = list(_contract_problems(doc, data, policy))
    if problems:
        raise InvalidInput([_name_record(doc, p) for p in problems])
    period = data["period"]
    workshops = tuple(data.get("workshops") or ())
    for i, ws in enumerate(workshops):
        note_sources(policy, ws, f"/workshops/{i}", source_of)
    return Facts(doc.path, hashlib.sha256(doc.text.encode("utf-8")).hexdigest(), period["start"], period["end"],
                 workshops, tuple(f"/workshops/{i}" for i in range(len(workshops))), doc)


def _name_record(doc: Document, problem: Problem) -> Problem:
    """Prefix a problem's message with the records it lies in: 'workshop WS-1, worker W-3, month 2022-07'."""
    parts = problem.pointer.split("/")[1:]
    names = []
    node = doc.data
    names_for = {"workshops": "workshop", "workers": "worker", "loans": "loan", "months": "month"}
    for i, part in enumerate(parts):
        if isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                break
            label = names_for.get(parts[i - 1]) if i else None
            if label and isinstance(node, dict):
                rid = node.get("month" if label == "month" else "id")
                names.append(f"{label} {rid}" if isinstance(rid, (str, int)) else f"{label} #{int(part) + 1}")
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            break
    if not names:
        return problem
    where = ", ".join(names)
    return Problem(problem.code, f"{where}: {problem.message}", problem.pointer, problem.location,
                   problem.severity, problem.hint)


class ProblemAt(Protocol):
    """Makes the problem ``code`` with ``message`` at ``pointer`` of the facts (located in the file the caller reads)."""

    def __call__(self, code: str, message: str, pointer: str, /, hint: Optional[str] = None) -> Problem: ...


def _contract_problems(doc: Document, data: dict, policy: Policy) -> Iterator[Problem]:
    def problem(code: str, message: str, pointer: str, hint: Optional[str] = None) -> Problem:
        return Problem(code, message, pointer, doc.locate(pointer), hint=hint)

    period = data["period"]
    if period["end"] < period["start"]:
        yield problem("facts.period", f"the period ends ({period['end']}) before it starts ({period['start']})", "/period/end")
        return
    if policy.in_force is not None and period["start"] < policy.in_force:
        yield problem("facts.period_before_policy", f"the period starts on {period['start']}, before the policy is in "
                      f"force ({policy.in_force})", "/period/start",
                      hint=f"start the period on {policy.in_force} or later: the measures do not apply before")
    seen_ws: Dict[str, str] = {}
    for i, ws in enumerate(data.get("workshops") or ()):
        yield from workshop_problems(policy, ws, f"/workshops/{i}", seen_ws, problem, period["start"], period["end"])


def source_of(pointer: str) -> str:
    """Where a stated fact was read from, as a trace cites it: its JSON pointer in the facts file (which the
    decisions document names), the same whether the file was read whole or streamed, and whatever path it was
    given by, so the same facts always give the same decisions."""
    return FACTS_SOURCE + pointer


#: How a stated grant's source begins (then its JSON pointer); the views for people render it in the policy's words.
FACTS_SOURCE = "the facts at "


def note_sources(policy: Policy, ws: dict, pointer: str, where: Callable[[str], str]) -> None:
    """Note, on each grant or end of a status the workshop's facts state, where it was read from (for the trace)."""
    for status in policy.statuses:
        subjects = [(ws, pointer)] if status.subject == "workshop" else [
            (child, f"{pointer}/{status.subject}s/{j}") for j, child in enumerate(ws.get(f"{status.subject}s") or ())]
        for record, at in subjects:
            for name in (status.granted_field, status.ended_field):
                stated = record.get(name)
                if isinstance(stated, dict) and SOURCE not in stated:
                    record[name] = dict(stated, **{SOURCE: where(f"{at}/{name}")})


def workshop_problems(policy: Policy, ws: dict, wp: str, seen_ws: Dict[str, str], problem: ProblemAt, start: _dt.date,
                      end: _dt.date, shop: Optional[Record] = None) -> Iterator[Problem]:
    """The facts contract for one workshop (after the schema): unique ids, codes, headcount, one entry a month,
    months within employment, statuses stated before the period, and the policy's own facts checks (on
    ``shop``, the workshop's record tree, if the caller has made it to decide on, so it is made once)."""
    if ws["id"] in seen_ws:
        yield problem("facts.duplicate_id", f"workshop id {ws['id']!r} is used twice (first at {seen_ws[ws['id']]})", wp + "/id")
    seen_ws.setdefault(ws["id"], wp)
    yield from _codes(policy, "workshop", ws, wp, problem)
    workers = ws.get("workers") or []
    if "headcount" in ws and ws["headcount"] < len(workers):
        yield problem("facts.headcount", f"headcount {ws['headcount']} is below the {len(workers)} workers listed", wp + "/headcount")
    for pp, w, repeated in _unique(workers, "id", f"{wp}/workers", "worker id {!r} is listed twice in this workshop"):
        if repeated:
            yield problem("facts.duplicate_id", repeated, pp + "/id")
        yield from _codes(policy, "worker", w, pp, problem)
        first, last = w["hired_on"].replace(day=1), (w.get("left_on") or _dt.date.max).replace(day=1)
        if w.get("left_on") is not None and w["left_on"] < w["hired_on"]:
            yield problem("facts.left_before_hired", f"left_on {w['left_on']} is before hired_on {w['hired_on']}",
                          pp + "/left_on")
        for mp, m, again in _unique(w.get("months") or (), "month", f"{pp}/months", "month {} is listed twice for this worker"):
            if again:
                yield problem("facts.duplicate_month", again, mp + "/month")
            if not first <= month_start(m["month"]) <= last:
                outside = f"before the month of hired_on {w['hired_on']}" if month_start(m["month"]) < first else \
                    f"after the month of left_on {w['left_on']}"
                yield problem("facts.month_outside_employment", f"month {m['month']} is {outside}: a month entry is a "
                              "month the worker worked in this workshop", mp + "/month",
                              hint="remove the entry, or correct hired_on / left_on")
            yield from _codes(policy, "month", m, mp, problem)
    for lp, loan, repeated in _unique(ws.get("loans") or (), "id", f"{wp}/loans", "loan id {!r} is listed twice in this workshop"):
        if repeated:
            yield problem("facts.duplicate_id", repeated, lp + "/id")
        yield from _codes(policy, "loan", loan, lp, problem)
    yield from _status_problems(policy, ws, wp, problem, start, end)
    if policy.facts_checks:
        yield from _checks(policy, ws, wp, problem, start, end, shop)


def _status_problems(policy: Policy, ws: dict, wp: str, problem: ProblemAt, start: _dt.date, end: _dt.date
                     ) -> Iterator[Problem]:
    """A stated grant must be dated by the period end and name a route of the status; a stated end must come
    before the period (an end inside the period is a rule's decision, not a fact)."""
    for status in policy.statuses:
        if status.subject != "workshop":
            continue
        granted, ended = ws.get(status.granted_field), ws.get(status.ended_field)
        at = pointer_join(wp, status.granted_field)
        if granted and granted["on"] > end:
            yield problem(f"facts.{status.granted_field}_after_period", f"{status.granted_field} is dated "
                          f"{granted['on']}, after the period ends ({end})", at + "/on",
                          hint="a grant made later belongs to the facts of a later period")
        vocab = policy.field_codes.get((f"workshop.{status.granted_field}", "route"))
        if granted and status.route(granted["route"]) is None and (vocab is None or granted["route"] in vocab.codes):
            routes = ", ".join(r.route for r in status.routes)
            yield problem("facts.unknown_code", f"{granted['route']!r} is not a route of {status.label}", at + "/route",
                          hint=f"routes: {routes}")
        if ended and ended["on"] >= start:
            yield problem(f"facts.{status.ended_field}_in_period", f"{status.ended_field} is dated {ended['on']}, "
                          f"not before the period starts ({start})", pointer_join(wp, status.ended_field) + "/on",
                          hint="an end inside the period is decided by the rules; state only one dated before it")


def _checks(policy: Policy, ws: dict, wp: str, problem: ProblemAt, start: _dt.date, end: _dt.date,
            shop: Optional[Record] = None) -> Iterator[Problem]:
    """The policy's facts checks, each on every record of its subject kind."""
    from ..lang.compiler import EvalError, _truth
    if shop is None:
        shop = records_for(start, end, ws, wp, tracing=False)
    subjects = {"workshop": (shop,), "worker": shop.children["workers"], "loan": shop.children["loans"]}
    for check in policy.facts_checks:
        for record in subjects[check.subject]:
            at = pointer_join(record.pointer, check.field)
            try:
                holds = _truth(check.test.fn(dict(record.env)), check.test.ast)
            except EvalError as exc:  # the policy's check itself fails on these facts: say so, and where it is
                yield problem(exc.code, f"the policy's facts check {check.id} cannot be worked out here: "
                              f"{exc.message}", at, f"in `{check.test.text}` at {check.test.location}")
                continue
            if not holds:
                yield problem(f"facts.{check.id}", check.message, at, check.hint)


_MONTHS: Dict[str, _dt.date] = {}


def month_start(text: str) -> _dt.date:
    """The first day of a month written YYYY-MM (a month of the facts schema), remembered: a province's facts
    name a few months hundreds of thousands of times."""
    day = _MONTHS.get(text)
    if day is None:
        day = _MONTHS[text] = _parse_month(text)
    return day


def _unique(items: Iterable[dict], key: str, base: str, message: str) -> Iterator[Tuple[str, dict, str]]:
    """(pointer, item, message if its ``key`` repeats an earlier item's, else "") for each item."""
    first: Dict[str, str] = {}
    for j, item in enumerate(items):
        pointer = f"{base}/{j}"
        value = item[key]
        repeated = f"{message.format(value)} (first at {first[value]})" if value in first else ""
        first.setdefault(value, pointer)
        yield pointer, item, repeated


def _codes(policy: Policy, kind: str, item: dict, pointer: str, problem: ProblemAt) -> Iterator[Problem]:
    for sub, name, vocab in _code_fields(policy, kind):
        holder: object = item
        base = pointer
        if sub is not None:  # a field of a nested object: workshop.certification.route
            holder = item.get(sub)
            base = pointer_join(pointer, sub)
        if not isinstance(holder, dict) or name not in holder:
            continue
        value = holder[name]
        values = value if isinstance(value, list) else [value]
        for n, v in enumerate(values):
            if str(v) not in vocab.codes:
                at = pointer_join(base, name)
                if isinstance(value, list):
                    at = pointer_join(at, n)
                code = vocab.nearest(str(v))  # said with its name, what a roster's drop-down offers
                hint = f"did you mean {code!r} ({vocab.codes[code]})?" if code is not None else \
                    "codes: " + ", ".join(f"{c} ({label})" for c, label in vocab.codes.items())
                yield problem("facts.unknown_code", f"{v!r} is not a code of {vocab.name} ({vocab.label}) for {name}", at, hint)


_CODE_FIELDS: dict = {}  # id(policy) -> (policy, {kind: ((nested field or None, field, vocabulary), ...)})


def _code_fields(policy: Policy, kind: str) -> Tuple[Tuple[Optional[str], str, Vocabulary], ...]:
    """The fields of ``kind`` (and of objects nested in it) that hold codes of a vocabulary, worked out once a policy."""
    hit = _CODE_FIELDS.get(id(policy))
    if hit is None or hit[0] is not policy:
        by_kind: Dict[str, list] = {}
        for (k, name), vocab in policy.field_codes.items():
            owner, _, sub = k.partition(".")
            by_kind.setdefault(owner, []).append((sub or None, name, vocab))
        hit = (policy, {k: tuple(v) for k, v in by_kind.items()})
        _CODE_FIELDS.clear()  # one policy at a time is the common case; keep the map small
        _CODE_FIELDS[id(policy)] = hit
    return hit[1].get(kind, ())


def build_records(facts: Facts, index: int, tracing: bool = True) -> Record:
    """The record tree of workshop ``index``, ready for evaluation, in its own context."""
    return records_for(facts.period_start, facts.period_end, facts.workshops[index], facts.pointers[index], tracing)


def records_for(start: _dt.date, end: _dt.date, ws: dict, pointer: str, tracing: bool = True) -> Record:
    """The record tree of one workshop for the period [start, end], in its own evaluation context."""
    period = Record("period", "period", {"start": start, "end": end}, None, "/period")
    ctx = EvalContext(period, tracing)
    period.ctx = ctx
    period.children["months"] = tuple(
        _attach(Record("calendar_month", d.strftime("%Y-%m"), {"month": d.strftime("%Y-%m"), "start": d}, period, "/period", n), ctx)
        for n, d in enumerate(months_in(start, end)))
    return workshop_record(ws, pointer, ctx)


def workshop_record(ws: dict, pointer: str, ctx: EvalContext) -> Record:
    start, end = ctx.period.data["start"], ctx.period.data["end"]
    workers = ws.get("workers") or []
    data = dict(ws)
    data.setdefault("headcount", len(workers))
    shop = _attach(Record("workshop", ws["id"], data, None, pointer, 0), ctx)
    worker_records = []
    for j, w in enumerate(workers):
        rec = _attach(Record("worker", w["id"], w, shop, f"{pointer}/workers/{j}", 1 + j), ctx)
        months = []
        for k, m in enumerate(w.get("months") or ()):
            first = month_start(m["month"])
            if start <= first <= end:
                md = dict(m)
                md["start"] = first
                months.append(_attach(Record("month", m["month"], md, rec, f"{rec.pointer}/months/{k}", k), ctx))
        months.sort(key=lambda r: r.data["start"])
        rec.children["months"] = tuple(months)
        worker_records.append(rec)
    loans = tuple(_attach(Record("loan", loan["id"], loan, shop, f"{pointer}/loans/{j}", 1 + len(workers) + j), ctx)
                  for j, loan in enumerate(ws.get("loans") or ()))
    shop.children["workers"] = tuple(worker_records)
    shop.children["loans"] = loans
    return shop


def _attach(rec: Record, ctx: EvalContext) -> Record:
    rec.ctx = ctx
    return rec
