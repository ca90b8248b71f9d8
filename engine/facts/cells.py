"""Where each value of a roster stands: its cell (sheet, row, column header, reference; in a CSV file, its line and
character), worked out only when a problem asks for it."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ..problems import Location
from .layout import Column
from .roster_files import Table


@dataclass(frozen=True, order=False)
class CellLocation(Location):
    """A value's place in a roster: the file, its row and column number, and the sheet, cell and header."""

    sheet: str = ""
    ref: str = ""
    header: str = ""
    order: int = 0  # the sheet's place in the roster's layout (1 the first): problems are reported sheet by sheet

    def order_key(self) -> Tuple[Any, ...]:
        folder = os.path.dirname(self.file) if self.file.lower().endswith(".csv") else self.file  # a CSV file a sheet
        return (folder, self.order, self.line, self.col)

    def __str__(self) -> str:
        where = f"{self.sheet}!{self.ref}" + (f" {self.header}" if self.header else "")
        if self.file.lower().endswith(".csv"):
            return f"{self.file}:{self.line}:{self.col} {where}"
        return f"{self.file} {where}"

    def details(self) -> Dict[str, str]:
        return {"sheet": self.sheet, "cell": self.ref, "header": self.header}


def column_letter(n: int) -> str:
    letters = ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


class SheetCells:
    """What locating a cell of one sheet needs: its file, title, mapped columns and (CSV) lines."""

    __slots__ = ("table", "columns", "by_path")

    def __init__(self, table: Table, columns: Dict[int, Column]):
        self.table = table
        self.columns = columns
        self.by_path = {column.path: index for index, column in columns.items() if column.kind != "link"}


class Row:
    """One row of a sheet, located lazily: a cell's place is worked out only when a problem asks for it."""

    __slots__ = ("sheet", "number")

    def __init__(self, sheet: SheetCells, number: int):
        self.sheet = sheet
        self.number = number

    def cell(self, index: int) -> "CellLocation":
        table, n = self.sheet.table, self.number
        column = self.sheet.columns.get(index)
        return CellLocation(table.file, n, _char_col(table, n, index), table.title, f"{column_letter(index + 1)}{n}",
                            column.label if column is not None else "", table.order)

    def location(self) -> "CellLocation":
        table = self.sheet.table
        return CellLocation(table.file, self.number, 1, table.title, f"A{self.number}", "", table.order)

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


class Positions(Dict[str, Location]):
    """Where each value of a roster's document stands: a pointer into a row is located at its cell when asked."""

    def __init__(self, known: Dict[str, Location]):
        super().__init__(known)
        self.rows: Dict[str, Row] = {}

    # one signature, not dict.get's overloads: a pointer's location, or ``default``
    def get(self, pointer: str, default: Optional[Location] = None) -> Optional[Location]:  # type: ignore[override]
        hit = dict.get(self, pointer)
        if hit is not None:
            return hit
        head = pointer
        tail: List[str] = []
        while head:
            row = self.rows.get(head)
            if row is not None:
                return row.locate(tuple(tail))
            head, _, last = head.rpartition("/")
            tail.insert(0, last.replace("~1", "/").replace("~0", "~"))
        return default


def _char_col(table: Table, number: int, index: int) -> int:
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
