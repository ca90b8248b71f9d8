"""Facts from a roster: an ``.xlsx`` workbook or a folder of CSV files, read into the facts document.

The reader turns the sheets of :mod:`.layout` into the same document a YAML or JSON file gives, each value
located at its cell (sheet, row, column header, cell reference), so the facts checks that follow report a
problem where the clerk typed it: ``SHEET!F12 HEADER``, the sheet and header as the clerk sees them. It
converts only what is unambiguous (an Excel date, a number, a label of a vocabulary, text amounts with
thousands separators, yes/no in the policy's words) and leaves anything else as the text typed, for the
checks to refuse with a hint; nothing is dropped and nothing is guessed. Rows are linked to their workshop and worker by the ids the sheets share.

A workbook is read in openpyxl's read-only mode, row by row; a formula cell is read by the value Excel
saved with it, and refused, with its place, when it has none.
"""
from __future__ import annotations

import csv
import datetime as _dt
import difflib
import hashlib
import io
import math
import os
import re
import zipfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from ..locale import language, say
from ..policy.model import Policy
from ..problems import InvalidInput, Location, Problem
from ..source import Document, encoding_problem
from .layout import CHILD_LIST, COMMENT, INSTRUCTIONS, VOCABULARIES, Column, Sheet, by_title, instructions_title, sheets

#: Separators of the codes in a list cell: comma, semicolon and their full-width forms, and the enumeration comma.
_LIST_SEP = re.compile("[,;\uff0c\uff1b\u3001]")
_GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
_PLAIN_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True, order=False)
class CellLocation(Location):
    """A value's place in a roster: the file, its row and column number, and the sheet, cell and header."""

    sheet: str = ""
    ref: str = ""
    header: str = ""

    def __str__(self) -> str:
        where = f"{self.sheet}!{self.ref}" + (f" {self.header}" if self.header else "")
        if self.file.lower().endswith(".csv"):
            return f"{self.file}:{self.line}:{self.col} {where}"
        return f"{self.file} {where}"

    def details(self) -> Dict[str, str]:
        return {"sheet": self.sheet, "cell": self.ref, "header": self.header}


def is_roster(path: str) -> bool:
    """True for a path read by this module: an ``.xlsx`` file (by its name or, for an upload kept under another
    name, its first bytes), a ``.csv`` file or a folder (and an ``.xls`` file, to say it is not read)."""
    return path.lower().endswith((".csv", ".xls")) or is_workbook(path) or os.path.isdir(path)


def is_workbook(path: str) -> bool:
    """An ``.xlsx`` workbook: by its extension, or by the zip archive an Excel workbook is."""
    if path.lower().endswith((".xlsx", ".xlsm")):
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04" and zipfile.is_zipfile(path)
    except OSError:
        return False


def column_letter(n: int) -> str:
    letters = ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# --- the rows of each sheet -------------------------------------------------------------------------------------


@dataclass
class _Table:
    title: str
    file: str
    rows: Iterator[Tuple[int, tuple]]  # (row number, cell values)
    size: int  # rows, as far as known (for progress)
    formulas: Optional[Iterator[Tuple[int, tuple]]] = None  # the same rows with formulas, when the sheet has any
    lines: Optional[List[str]] = None  # a CSV file's lines, so a cell is located at its character too


def _xlsx_tables(path: str, handles: list) -> Tuple[List[_Table], list]:
    """The sheets of a workbook, each read row by row (``handles``: the files opened, for the caller to close)."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException
    try:
        with_formulas = _sheets_with_formulas(path)
        # opened by handle, so a workbook uploaded under another name is read too (openpyxl checks names only)
        handles.append(open(path, "rb"))
        book = openpyxl.load_workbook(handles[-1], read_only=True, data_only=True)
        if with_formulas:
            handles.append(open(path, "rb"))
        raw = openpyxl.load_workbook(handles[-1], read_only=True, data_only=False) if with_formulas else None
    except (OSError, zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
        return [], [Problem("roster.unreadable", f"cannot read the workbook: {exc}", "", Location(path))]
    tables = []
    for ws in book.worksheets:
        rows = ((n, row) for n, row in enumerate(ws.iter_rows(values_only=True), 1))
        formulas = None
        if raw is not None and ws.title in with_formulas:
            formulas = ((n, row) for n, row in enumerate(raw[ws.title].iter_rows(values_only=True), 1))
        tables.append(_Table(ws.title, path, rows, ws.max_row or 0, formulas))
    return tables, []


def _sheets_with_formulas(path: str) -> set:
    """The titles of the sheets holding a formula (read from the file's XML without building it)."""
    found = set()
    with zipfile.ZipFile(path) as archive:
        names = {n for n in archive.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")}
        formula_parts = set()
        for name in names:
            with archive.open(name) as fh:
                tail = b""
                for block in iter(lambda: fh.read(1 << 20), b""):
                    if re.search(rb"<(?:\w+:)?f[ >/]", tail + block):
                        formula_parts.add(name)
                        break
                    tail = block[-16:]
        if not formula_parts:
            return found
        workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
        rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
        targets = {m.group(1): m.group(2) for m in re.finditer(r'<Relationship[^>]*Id="([^"]+)"[^>]*Target="([^"]+)"', rels)}
        targets.update({m.group(2): m.group(1) for m in re.finditer(r'<Relationship[^>]*Target="([^"]+)"[^>]*Id="([^"]+)"', rels)})
        for m in re.finditer(r'<sheet [^>]*name="([^"]+)"[^>]*r:id="([^"]+)"', workbook):
            target = targets.get(m.group(2), "").lstrip("/")
            part = target if target.startswith("xl/") else "xl/" + target
            if part in formula_parts:
                from xml.sax.saxutils import unescape
                found.add(unescape(m.group(1), {"&quot;": '"', "&apos;": "'"}))
    return found


def _csv_tables(path: str, encoding: Optional[str]) -> Tuple[List[_Table], list]:
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(path, n) for n in os.listdir(path) if n.lower().endswith(".csv"))
    if not files:
        return [], [Problem("roster.empty", say("roster.no_csv", "en"), "", Location(path))]
    tables, problems = [], []
    for name in files:
        try:
            with open(name, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            problems.append(Problem("file.unreadable", f"cannot read file: {exc.strerror}", "", Location(name)))
            continue
        text, problem = decode(name, raw, encoding)
        if problem is not None:
            problems.append(problem)
            continue
        lines = text.splitlines()
        rows = _csv_rows(text)
        title = os.path.splitext(os.path.basename(name))[0]
        tables.append(_Table(title, name, rows, len(lines), lines=lines))
    return tables, problems


def _csv_rows(text: str) -> Iterator[Tuple[int, tuple]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    for row in reader:
        yield start, tuple(row)
        start = reader.line_num + 1


def decode(path: str, raw: bytes, encoding: Optional[str]) -> Tuple[str, Optional[Problem]]:
    """The text of a file: UTF-8 (with or without a byte-order mark), or ``encoding`` when one is given. A file
    that is not UTF-8 but reads as GB18030 says so."""
    if encoding:
        try:
            return raw.decode(encoding), None
        except LookupError:
            return "", Problem("file.encoding", f"unknown encoding {encoding!r}", "", Location(path))
        except UnicodeDecodeError as exc:
            return "", Problem("file.encoding", f"not {encoding} text (byte {exc.start})", "", Location(path))
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return "", encoding_problem(path, raw, exc)


# --- reading ----------------------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, path: str, policy: Policy, progress: Optional[Callable[[int], None]]):
        self.path = path
        self.policy = policy
        self.lang = language(policy)
        self.layout = sheets(policy)
        self.titles = by_title(self.layout)
        self.problems: List[Problem] = []
        self.positions = _Positions({"": Location(path)})
        self.progress = progress
        self.refused: set = set()  # ids of workers whose rows name no workshop of the roster
        self.yes = {"true", policy.labels.get("value.true", "true").lower()}
        self.no = {"false", policy.labels.get("value.false", "false").lower()}

    def problem(self, code: str, key: str, loc: Location, pointer: str = "", hint: Optional[str] = None, **values):
        self.problems.append(Problem(code, say(key, self.lang, **values), pointer, loc, hint=hint))

    def read(self, tables: List[_Table]) -> dict:
        found: Dict[str, Tuple[Sheet, _Table]] = {}
        skip = {instructions_title(self.policy), INSTRUCTIONS, VOCABULARIES,
                self.policy.labels.get(f"sheet.{VOCABULARIES}", VOCABULARIES)}
        for table in tables:
            sheet = self.titles.get(table.title.strip())
            if sheet is None:
                if table.title.strip() not in skip and not _blank(table):
                    near = difflib.get_close_matches(table.title, [s.title for s in self.layout], n=1)
                    self.problem("roster.unknown_sheet", "roster.unknown_sheet", Location(table.file), sheet=table.title,
                                 hint=say("hint.did_you_mean", self.lang, name=near[0]) if near else
                                 say("hint.sheets", self.lang, names=", ".join(s.title for s in self.layout)))
                continue
            if sheet.key in found:
                self.problem("roster.duplicate_sheet", "roster.duplicate_sheet", Location(table.file), sheet=table.title)
                continue
            found[sheet.key] = (sheet, table)
        data: dict = {}
        shops: Dict[str, Tuple[dict, str]] = {}
        people: Dict[Tuple[str, str], Tuple[dict, str]] = {}
        for sheet in self.layout:
            if sheet.key not in found:
                if sheet.key == "period":
                    self.problem("roster.missing_sheet", "roster.missing_sheet", Location(self.path), sheet=sheet.title)
                continue
            sheet, table = found[sheet.key]
            for links, record, row in self._records(sheet, table):
                if sheet.kind == "period":
                    if "period" in data:
                        self.problem("roster.period_rows", "roster.period_rows", row.location(), sheet=sheet.title)
                        continue
                    data["period"] = record
                    self.positions.rows["/period"] = row
                    continue
                if sheet.kind == "workshop":
                    workshops = data.setdefault("workshops", [])
                    pointer = f"/workshops/{len(workshops)}"
                    workshops.append(record)
                    if isinstance(record.get("id"), str):
                        shops.setdefault(record["id"], (record, pointer))
                    self.positions.rows[pointer] = row
                    continue
                parent = self._parent(sheet, links, shops, people, record)  # None: reported at the cell
                if parent is None:
                    continue
                holder, parent_ptr = parent
                list_name = CHILD_LIST[sheet.kind][1]
                items = holder.setdefault(list_name, [])
                pointer = f"{parent_ptr}/{list_name}/{len(items)}"
                items.append(record)
                if sheet.kind == "worker" and isinstance(record.get("id"), str):
                    people.setdefault((links[0][1], record["id"]), (record, pointer))
                self.positions.rows[pointer] = row
        if "period" in found and "period" not in data:
            self.problem("roster.period_rows", "roster.period_rows", Location(found["period"][1].file),
                         sheet=found["period"][0].title)
        return data

    def _parent(self, sheet: Sheet, links, shops, people, record):
        """The workshop (or worker) a row names, or None with a problem at the cell that names it."""
        ids = dict((kind, value) for kind, value, _ in links)
        cells = dict((kind, loc) for kind, _, loc in links)
        for kind in sheet.parents:
            if ids.get(kind) is _BLANK:
                self.problem("roster.blank_link", "roster.blank_link", cells[kind], sheet=self.titles[kind + "s"].title)
                if sheet.kind == "worker":
                    self.refused.add(record.get("id"))
                return None
        shop_id = ids.get("workshop")
        if shop_id not in shops:
            if sheet.kind == "worker":
                self.refused.add(record.get("id"))
            near = difflib.get_close_matches(str(shop_id), list(shops), n=1)
            self.problem("roster.unknown_link", "roster.unknown_workshop", cells["workshop"], value=shop_id,
                         sheet=self.titles["workshops"].title,
                         hint=say("hint.did_you_mean", self.lang, name=near[0]) if near else None)
            return None
        if sheet.kind != "month":
            return shops[shop_id]
        key = (shop_id, ids.get("worker"))
        if key not in people and ids.get("worker") in self.refused:
            return None  # its worker's row was refused, with a problem at the cell that named the workshop
        if key not in people:
            near = difflib.get_close_matches(str(ids.get("worker")), [w for s, w in people if s == shop_id], n=1)
            self.problem("roster.unknown_link", "roster.unknown_worker", cells["worker"], value=ids.get("worker"),
                         workshop=shop_id, sheet=self.titles["workers"].title,
                         hint=say("hint.did_you_mean", self.lang, name=near[0]) if near else None)
            return None
        return people[key]

    def _records(self, sheet: Sheet, table: _Table):
        """(links, record, cell of each field) for each data row of a sheet."""
        columns, start = self._header(sheet, table, table.rows, table.formulas)
        if columns is None or any(c.kind == "link" and c not in columns.values() for c in sheet.columns):
            return  # no rows, or no column to link them by (reported once, at the header)
        rows, formulas = table.rows, table.formulas  # the header may have put back a row it looked at
        layout = _SheetCells(table, columns)
        if self.progress is not None:
            self.progress(start - 1)
        for number, values in rows:
            formula_row = next(formulas, (number, ()))[1] if formulas is not None else ()
            if self.progress is not None:
                self.progress(1)
            if number < start:
                continue
            if not any(v is not None and str(v).strip() != "" for v in values) and \
                    not any(v is not None and str(v).strip() != "" for v in formula_row):
                continue
            first = next((v for v in values if v is not None and str(v).strip() != ""), None)
            if isinstance(first, str) and first.strip().startswith(COMMENT):
                continue
            record: dict = {}
            row = _Row(layout, number)
            links = []
            for index, column in columns.items():
                value = values[index] if index < len(values) else None
                formula = formula_row[index] if index < len(formula_row) else None
                if value is None and isinstance(formula, str) and formula.startswith("="):
                    self.problem("roster.formula", "roster.formula", row.cell(index), formula=formula)
                    continue
                parsed = self._value(column, value, row, index)
                if column.kind == "link":
                    links.append((column.parent, parsed, row.cell(index)))
                    continue
                if parsed is not _BLANK:
                    _put(record, column.path, parsed)
            yield links, record, row

    def _header(self, sheet: Sheet, table: _Table, rows, formulas):
        """Which column holds which field, from the header (labels, or codes, or a code row under the labels), and
        the first row of data."""
        head = next(rows, None)
        if formulas is not None:
            next(formulas, None)
        if head is None:
            return None, 0
        number, labels = head
        known = {}
        for column in sheet.columns:
            known.setdefault(column.code, column)
            known.setdefault(column.label, column)
        columns: Dict[int, Column] = {}
        start = number + 1
        second = None
        peek = next(rows, None)
        if formulas is not None:
            next(formulas, None)
        if peek is not None:
            codes = [str(v).strip() for v in peek[1] if v is not None and str(v).strip()]
            # the code row: most of its cells are field codes (a misspelt one is reported below)
            if codes and 2 * sum(sheet.column(c) is not None for c in codes) > len(codes):
                second, start = peek, peek[0] + 1
            else:
                table.rows = rows = _chain(peek, rows)
                if formulas is not None:
                    table.formulas = formulas = _chain((peek[0], ()), formulas)
        header = second[1] if second is not None else labels
        header_row = second[0] if second is not None else number
        for index, cell in enumerate(header):
            name = str(cell).strip() if cell is not None else ""
            if not name:
                continue
            loc = CellLocation(table.file, header_row, index + 1, table.title, f"{column_letter(index + 1)}{header_row}",
                               name)
            column = (sheet.column(name) if second is not None else known.get(name))
            if column is None:
                near = difflib.get_close_matches(name, list(known), n=1)
                self.problem("roster.unknown_column", "roster.unknown_column", loc, column=name, sheet=table.title,
                             hint=say("hint.did_you_mean", self.lang, name=near[0]) if near else None)
                continue
            if column in columns.values():
                self.problem("roster.duplicate_column", "roster.duplicate_column", loc, column=name)
                continue
            columns[index] = column
        for column in sheet.columns:
            if column.required and column not in columns.values() and (column.kind == "link" or not column.path[:-1]):
                self.problem("roster.missing_column", "roster.missing_column",
                             CellLocation(table.file, header_row, 1, table.title, f"A{header_row}", ""),
                             column=column.label, field=column.code, sheet=table.title)
        return columns, start

    def _value(self, column: Column, value, row: "_Row", index: int):
        """A cell's value as the facts document holds it; _BLANK for an empty cell. What cannot be read without
        guessing is kept as the text typed, for the checks to refuse with a hint."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return [] if column.kind == "list" and column.required else _BLANK
        if isinstance(value, str):
            value = value.strip()
        kind = column.kind
        if isinstance(value, _dt.datetime) and value.time() == _dt.time(0):
            value = value.date()
        if kind == "list":
            if not isinstance(value, str):
                value = _text(value)
            items = [item.strip() for item in _LIST_SEP.split(value) if item.strip()]
            if not items:
                return []
            return [self._code(column, item, row, index) for item in items]
        if kind in ("link", "id") or (kind == "text" and column.vocab is None):
            return _text(value)
        if column.vocab is not None:
            code = self._code(column, _text(value), row, index)
            if kind in ("integer", "count") and isinstance(code, str) and code.isdigit() and code.isascii():
                return int(code)
            return code
        if kind == "date":
            if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
                return value.isoformat()
            return _text(value)
        if kind == "month":
            if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime) and value.day == 1:
                return value.strftime("%Y-%m")
            return _text(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = _text(value).lower()
            if text in self.yes:
                return True
            if text in self.no:
                return False
            return _text(value)
        if kind == "decimal":
            if isinstance(value, bool):
                return value
            if isinstance(value, int):
                return value
            if isinstance(value, float):
                return Decimal(repr(value)) if math.isfinite(value) else str(value)  # an Excel number is a double
            if isinstance(value, str) and (_PLAIN_NUMBER.match(value) or _GROUPED.match(value)):
                try:
                    return Decimal(value.replace(",", ""))
                except InvalidOperation:  # pragma: no cover - the patterns admit only numbers
                    return value
            return _text(value)
        if kind in ("integer", "count"):
            if isinstance(value, bool):
                return value
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str) and value.isdigit() and value.isascii():
                return int(value)
            return _text(value) if not isinstance(value, float) else Decimal(repr(value))
        return value

    def _code(self, column: Column, text: str, row: "_Row", index: int):
        """The code a cell names, by its code or its label; a cell naming neither is reported here, where the
        schema's checks of other cells do not hide it, and kept as typed."""
        vocab = column.vocab
        if vocab is None or text in vocab.codes:
            return text
        for code, label in vocab.codes.items():
            if text == label:
                return code
        names = list(vocab.codes.values()) + list(vocab.codes)
        near = difflib.get_close_matches(text, names, n=1)
        hint = say("hint.did_you_mean", self.lang, name=near[0]) if near else \
            say("hint.codes", self.lang, codes=", ".join(f"{label} ({code})" for code, label in vocab.codes.items()))
        self.problem("facts.unknown_code", "roster.unknown_code", row.cell(index), hint=hint, value=text,
                     vocab=vocab.label)
        return text


def _blank(table: _Table) -> bool:
    """A sheet with nothing in it (Excel's empty Sheet1): nothing is lost by leaving it unread."""
    return not any(v is not None and str(v).strip() for _, row in table.rows for v in row)


class _SheetCells:
    """What locating a cell of one sheet needs: its file, title, mapped columns and (CSV) lines."""

    __slots__ = ("table", "columns", "by_path")

    def __init__(self, table: _Table, columns: Dict[int, Column]):
        self.table = table
        self.columns = columns
        self.by_path = {column.path: index for index, column in columns.items() if column.kind != "link"}


class _Row:
    """One row of a sheet, located lazily: a cell's place is worked out only when a problem asks for it."""

    __slots__ = ("sheet", "number")

    def __init__(self, sheet: _SheetCells, number: int):
        self.sheet = sheet
        self.number = number

    def cell(self, index: int) -> "CellLocation":
        table, n = self.sheet.table, self.number
        column = self.sheet.columns.get(index)
        return CellLocation(table.file, n, _char_col(table, n, index), table.title, f"{column_letter(index + 1)}{n}",
                            column.label if column is not None else "")

    def location(self) -> "CellLocation":
        table = self.sheet.table
        return CellLocation(table.file, self.number, 1, table.title, f"A{self.number}", "")

    def locate(self, path: Tuple[str, ...]) -> "CellLocation":
        """The cell of a field (``path``, a list item's index after it), the first cell of a nested mapping, or the
        row."""
        for cut in range(len(path), 0, -1):
            index = self.sheet.by_path.get(path[:cut])
            if index is not None:
                return self.cell(index)
        if path:
            inside = [i for p, i in self.sheet.by_path.items() if p[:len(path)] == path]
            if inside:
                return self.cell(min(inside))
        return self.location()


class _Positions(dict):
    """Where each value of a roster's document stands: a pointer into a row is located at its cell when asked."""

    def __init__(self, known):
        super().__init__(known)
        self.rows: Dict[str, _Row] = {}

    def get(self, pointer, default=None):
        hit = dict.get(self, pointer)
        if hit is not None:
            return hit
        head, tail = pointer, []
        while head:
            row = self.rows.get(head)
            if row is not None:
                return row.locate(tuple(tail))
            head, _, last = head.rpartition("/")
            tail.insert(0, last.replace("~1", "/").replace("~0", "~"))
        return default


def _char_col(table: _Table, number: int, index: int) -> int:
    """The column a cell is located at: its character in a CSV line (1-based), its column number in a workbook."""
    if table.lines is None or not 0 < number <= len(table.lines):
        return index + 1
    line, field, quoted = table.lines[number - 1], 0, False
    for pos, char in enumerate(line):
        if field == index:
            return pos + 1
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            field += 1
    return len(line) + 1


class _Blank:
    def __repr__(self):
        return "<blank>"


_BLANK = _Blank()


def _chain(first, rest):
    yield first
    yield from rest


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value).strip()


def _put(record: dict, path: Tuple[str, ...], value) -> None:
    for part in path[:-1]:
        record = record.setdefault(part, {})
    record[path[-1]] = value


def _get(record: dict, path: Tuple[str, ...]):
    for part in path:
        if not isinstance(record, dict):
            return None
        record = record.get(part)
    return record


def roster_sha256(path: str) -> str:
    """The sha256 of a workbook file, or of a folder's CSV files (each name and content, in name order)."""
    if os.path.isfile(path):
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    digest = hashlib.sha256()
    for name in sorted(n for n in os.listdir(path) if n.lower().endswith(".csv")):
        with open(os.path.join(path, name), "rb") as fh:
            digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(fh.read()).digest())
    return digest.hexdigest()


def roster_size(path: str, policy: Optional[Policy] = None) -> int:
    """Rows of the roster's sheets, as far as the workbook says (for a progress bar)."""
    if is_workbook(path):
        import openpyxl
        titles = by_title(sheets(policy)) if policy is not None else None
        try:
            with open(path, "rb") as fh:
                book = openpyxl.load_workbook(fh, read_only=True)
            return sum(ws.max_row or 0 for ws in book.worksheets if titles is None or ws.title.strip() in titles)
        except Exception:  # noqa: BLE001 - a file that cannot be read is reported by the reader itself
            return 0
    files = [path] if os.path.isfile(path) else [os.path.join(path, n) for n in os.listdir(path)
                                                  if n.lower().endswith(".csv")]
    titles = by_title(sheets(policy)) if policy is not None else None
    total = 0
    for name in files:
        if titles is not None and os.path.splitext(os.path.basename(name))[0].strip() not in titles:
            continue
        try:
            with open(name, "rb") as fh:
                total += sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
        except OSError:
            pass
    return total


def read_roster(path: str, policy: Policy, encoding: Optional[str] = None,
                progress: Optional[Callable[[int], None]] = None) -> Tuple[Document, List[Problem]]:
    """The facts document of a roster (values located at their cells), and the problems of reading it."""
    if path.lower().endswith(".xls"):
        lang = language(policy)
        raise InvalidInput([Problem("roster.format", say("roster.xls", lang), "", Location(path),
                                    hint=say("hint.xls", lang))])
    handles: list = []
    try:
        if is_workbook(path):
            tables, problems = _xlsx_tables(path, handles)
        elif os.path.isdir(path) or path.lower().endswith(".csv"):
            tables, problems = _csv_tables(path, encoding)
        else:
            raise InvalidInput([Problem("roster.format", "not a workbook (.xlsx) or a folder of CSV files", "",
                                        Location(path))])
        if problems:
            return Document(path, "", {}, {"": Location(path)}), problems
        reader = _Reader(path, policy, progress)
        data = reader.read(tables)
        return Document(path, "", data, reader.positions), reader.problems
    finally:
        for handle in handles:
            handle.close()
