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

import difflib
import os
from typing import Callable, Dict, FrozenSet, Iterable, Iterator, List, NamedTuple, Optional, Set, Tuple, TypeVar

from ..locale import language, say
from ..policy.model import Policy
from ..problems import InvalidInput, Location, Problem
from ..source import Document
from .cell_values import BLANK, CellValues
from .cells import CellLocation, Positions, Row, SheetCells, column_letter
from .layout import CHILD_LIST, COMMENT, INSTRUCTIONS, VOCABULARIES, Column, Sheet, by_title, instructions_title, sheets
from .roster_files import Table, csv_tables, is_roster, is_workbook, roster_sha256, roster_size, xlsx_tables

_T = TypeVar("_T")
_Cells = Tuple[int, tuple]  # a row: its number and its cells' values
_Link = Tuple[Optional[str], object, CellLocation]  # a link cell: the parent kind, the id it names, where

# where callers import them from: the reading of a roster, and what it is read from
__all__ = ["CellLocation", "is_roster", "is_workbook", "read_roster", "roster_sha256", "roster_size"]


class _Reader:
    def __init__(self, path: str, policy: Policy, progress: Optional[Callable[[int], None]]):
        self.path = path
        self.policy = policy
        self.lang = language(policy)
        self.layout = sheets(policy)
        self.titles = by_title(self.layout)
        self.problems: List[Problem] = []
        self.positions = Positions({"": Location(path)})
        self.progress = progress
        self.refused: set = set()  # ids of workers whose rows name no workshop of the roster
        self.missing: Set[Tuple[str, str]] = set()  # (sheet title, field name) of each required column not there
        self.cells = CellValues(policy, self.problems)

    def problem(self, code: str, key: str, loc: Location, pointer: str = "", hint: Optional[str] = None,
                **values: object) -> None:
        self.problems.append(Problem(code, say(key, self.lang, **values), pointer, loc, hint=hint))

    def read(self, tables: List[Table]) -> dict:
        found: Dict[str, Tuple[Sheet, Table]] = {}
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
            table.order = 1 + self.layout.index(sheet)  # its problems are reported in the roster's order of sheets
        data: dict = {}
        shops: Dict[object, Tuple[dict, str]] = {}  # by the id a row names: the record and its pointer
        people: Dict[Tuple[object, object], Tuple[dict, str]] = {}
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

    def _parent(self, sheet: Sheet, links: List[_Link], shops: Dict[object, Tuple[dict, str]],
                people: Dict[Tuple[object, object], Tuple[dict, str]], record: dict) -> Optional[Tuple[dict, str]]:
        """The workshop (or worker) a row names, or None with a problem at the cell that names it."""
        ids = dict((kind, value) for kind, value, _ in links)
        cells = dict((kind, loc) for kind, _, loc in links)
        for kind in sheet.parents:
            if ids.get(kind) is BLANK:
                self.problem("roster.blank_link", "roster.blank_link", cells[kind], sheet=self.titles[kind + "s"].title)
                if sheet.kind == "worker":
                    self.refused.add(record.get("id"))
                return None
        shop_id = ids.get("workshop")
        if shop_id not in shops:
            if sheet.kind == "worker":
                self.refused.add(record.get("id"))
            near = difflib.get_close_matches(str(shop_id), [s for s in shops if isinstance(s, str)], n=1)
            self.problem("roster.unknown_link", "roster.unknown_workshop", cells["workshop"], value=shop_id,
                         sheet=self.titles["workshops"].title, hint=self._orphan_hint(near))
            return None
        if sheet.kind != "month":
            return shops[shop_id]
        key = (shop_id, ids.get("worker"))
        if key not in people and ids.get("worker") in self.refused:
            return None  # its worker's row was refused, with a problem at the cell that named the workshop
        if key not in people:
            named = [w for s, w in people if s == shop_id and isinstance(w, str)]
            near = difflib.get_close_matches(str(ids.get("worker")), named, n=1)
            self.problem("roster.unknown_link", "roster.unknown_worker", cells["worker"], value=ids.get("worker"),
                         workshop=shop_id, sheet=self.titles["workers"].title, hint=self._orphan_hint(near))
            return None
        return people[key]

    def _orphan_hint(self, near: List[str]) -> str:
        """What to do about a row that names a record the roster does not have: the nearest id, if any; and that the
        row's other cells are checked once it names one (a row with no record to belong to is not read further)."""
        rest = say("hint.row_unread", self.lang)
        return (say("hint.did_you_mean", self.lang, name=near[0]) + " " + rest) if near else rest

    def _records(self, sheet: Sheet, table: Table) -> Iterator[Tuple[List[_Link], dict, Row]]:
        """(links, record, cell of each field) for each data row of a sheet."""
        columns, start = self._header(sheet, table, table.rows, table.formulas)
        if columns is None or any(c.kind == "link" and c not in columns.values() for c in sheet.columns):
            return  # no rows, or no column to link them by (reported once, at the header)
        rows, formulas = table.rows, table.formulas  # the header may have put back a row it looked at
        layout = SheetCells(table, columns)
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
            row = Row(layout, number)
            links: List[_Link] = []
            for index, column in columns.items():
                value = values[index] if index < len(values) else None
                formula = formula_row[index] if index < len(formula_row) else None
                if value is None and isinstance(formula, str) and formula.startswith("="):
                    self.problem("roster.formula", "roster.formula", row.cell(index), formula=formula)
                    continue
                parsed = self.cells.value(column, value, row, index)
                if column.kind == "link":
                    links.append((column.parent, parsed, row.cell(index)))
                    continue
                if parsed is not BLANK:
                    _put(record, column.path, parsed)
            yield links, record, row

    def _header(self, sheet: Sheet, table: Table, rows: Iterator[_Cells], formulas: Optional[Iterator[_Cells]]
                ) -> Tuple[Optional[Dict[int, Column]], int]:
        """Which column holds which field, from the header (labels, or codes, or a code row under the labels), and
        the first row of data."""
        head = next(rows, None)
        if formulas is not None:
            next(formulas, None)
        if head is None:
            return None, 0
        number, labels = head
        known: Dict[str, Column] = {}
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
                               name, table.order)
            mapped = (sheet.column(name) if second is not None else known.get(name))
            if mapped is None:
                near = difflib.get_close_matches(name, list(known), n=1)
                self.problem("roster.unknown_column", "roster.unknown_column", loc, column=name, sheet=table.title,
                             hint=say("hint.did_you_mean", self.lang, name=near[0]) if near else None)
                continue
            if mapped in columns.values():
                self.problem("roster.duplicate_column", "roster.duplicate_column", loc, column=name)
                continue
            columns[index] = mapped
        for column in sheet.columns:
            if column.required and column not in columns.values() and (column.kind == "link" or not column.path[:-1]):
                self.problem("roster.missing_column", "roster.missing_column",
                             CellLocation(table.file, header_row, 1, table.title, f"A{header_row}", "", table.order),
                             column=column.label, field=column.code, sheet=table.title)
                if column.path:
                    self.missing.add((table.title, column.path[-1]))
        return columns, start


def _blank(table: Table) -> bool:
    """A sheet with nothing in it (Excel's empty Sheet1): nothing is lost by leaving it unread."""
    return not any(v is not None and str(v).strip() for _, row in table.rows for v in row)


def _chain(first: _T, rest: Iterable[_T]) -> Iterator[_T]:
    yield first
    yield from rest


def _put(record: dict, path: Tuple[str, ...], value: object) -> None:
    for part in path[:-1]:
        record = record.setdefault(part, {})
    record[path[-1]] = value


class RosterRead(NamedTuple):
    """A roster read: its facts document (values located at their cells), the problems of reading it, and the
    required columns a sheet lacks, as (sheet title, field name): a row's missing value there is already said."""

    doc: Document
    problems: List[Problem]
    missing_columns: FrozenSet[Tuple[str, str]] = frozenset()


def read_roster(path: str, policy: Policy, encoding: Optional[str] = None,
                progress: Optional[Callable[[int], None]] = None) -> RosterRead:
    """The facts document of a roster (values located at their cells), and the problems of reading it."""
    if path.lower().endswith(".xls"):
        lang = language(policy)
        raise InvalidInput([Problem("roster.format", say("roster.xls", lang), "", Location(path),
                                    hint=say("hint.xls", lang))])
    handles: list = []
    try:
        if is_workbook(path):
            tables, problems = xlsx_tables(path, handles)
        elif os.path.isdir(path) or path.lower().endswith(".csv"):
            tables, problems = csv_tables(path, encoding)
        else:
            raise InvalidInput([Problem("roster.format", "not a workbook (.xlsx) or a folder of CSV files", "",
                                        Location(path))])
        if problems:
            return RosterRead(Document(path, "", {}, {"": Location(path)}), problems)
        reader = _Reader(path, policy, progress)
        data = reader.read(tables)
        return RosterRead(Document(path, "", data, reader.positions), reader.problems, frozenset(reader.missing))
    finally:
        for handle in handles:
            handle.close()
