"""A roster's files: which paths are rosters (a workbook, a CSV file or a folder of them), their sheets read row by
row, a file's text in its encoding, and the roster's digest and size."""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import zipfile
from dataclasses import dataclass
from typing import Iterator, List, Optional, Set, Tuple

from ..locale import say
from ..policy.model import Policy
from ..problems import Location, Problem
from ..source import encoding_problem
from .layout import by_title, sheets


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


@dataclass
class Table:
    title: str
    file: str
    rows: Iterator[Tuple[int, tuple]]  # (row number, cell values)
    size: int  # rows, as far as known (for progress)
    formulas: Optional[Iterator[Tuple[int, tuple]]] = None  # the same rows with formulas, when the sheet has any
    lines: Optional[List[str]] = None  # a CSV file's lines, so a cell is located at its character too
    order: int = 0  # its place among the roster's sheets, once the reader knows which it is (0: not yet)


def xlsx_tables(path: str, handles: list) -> Tuple[List[Table], list]:
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
        tables.append(Table(ws.title, path, rows, ws.max_row or 0, formulas))
    return tables, []


def _sheets_with_formulas(path: str) -> set:
    """The titles of the sheets holding a formula (read from the file's XML without building it)."""
    found: Set[str] = set()
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


def csv_tables(path: str, encoding: Optional[str]) -> Tuple[List[Table], list]:
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
        tables.append(Table(title, name, rows, len(lines), lines=lines))
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
