"""A roster workbook (or a folder of CSV files) made from the facts schema and the policy: to fill, or filled.

``template`` writes the empty roster a county fills: one sheet per record kind with the policy's headers
and the field codes beneath them, required columns marked, a drop-down list of the policy's labels for
every vocabulary column, date and number formats, an instructions sheet and one example row per sheet
(a row starting with ``#``, which is never read). ``write_roster`` writes facts into the same layout, so
``subsidy facts convert`` can turn YAML or JSON into a workbook and back.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import os
from decimal import Decimal
from typing import Dict, Iterable, List, Optional, Tuple, Union

from ..locale import language, say
from ..policy.model import Policy
from .layout import COMMENT, VOCABULARIES as _VOCAB_SHEET, Column, Sheet, instructions_title, sheets

_LAST_ROW = 20000  # how far down formats and drop-down lists reach in a template


#: The number format of each kind of column: dates as dates, amounts with every decimal given, ids and codes as text.
_FORMATS = {"date": "yyyy-mm-dd", "month": "@", "decimal": "#,##0.00########", "count": "0", "integer": "0",
            "id": "@", "link": "@", "text": "@", "list": "@"}


def _yes_no(policy: Policy) -> Tuple[str, str]:
    return policy.labels.get("value.true", "true"), policy.labels.get("value.false", "false")


def describe(column: Column, policy: Policy, lang: str, titles: Dict[str, str]) -> str:
    """What to write in a column, in the policy's language."""
    if column.kind == "link":
        assert column.parent is not None  # a link column names the kind of its parent
        return say("kind.link", lang, sheet=titles.get(column.parent, column.parent))
    if column.vocab is not None:
        codes = ", ".join(f"{label} ({code})" for code, label in column.vocab.codes.items())
        return say("kind.list" if column.kind == "list" else "kind.vocab", lang, codes=codes)
    if column.kind == "bool":
        yes, no = _yes_no(policy)
        return say("kind.bool", lang, yes=yes, no=no)
    return say(f"kind.{column.kind}", lang)


def _example(column: Column, sheet: Sheet, policy: Policy, examples: Dict[str, str]) -> Union[str, int, _dt.date]:
    start = policy.in_force or _dt.date(2000, 1, 1)
    if column.kind == "link":
        assert column.parent is not None  # a link column names the kind of its parent
        return examples.get(column.parent, f"{column.parent[:2].upper()}-001")
    if column.kind == "id":
        return examples.setdefault(sheet.kind, f"{sheet.kind[:2].upper()}-001")
    if column.vocab is not None:
        first = next(iter(column.vocab.codes.items()))
        return first[1]
    if column.kind == "date":
        return start
    if column.kind == "month":
        return start.strftime("%Y-%m")
    if column.kind == "bool":
        return _yes_no(policy)[1]
    if column.kind in ("decimal", "count", "integer"):
        return 0
    return column.label


def flatten(data: dict, layout: Iterable[Sheet]) -> Dict[str, List[list]]:
    """The rows of each sheet for a facts document (values as the document holds them)."""
    out: Dict[str, List[list]] = {sheet.key: [] for sheet in layout}
    by_kind = {sheet.kind: sheet for sheet in layout}

    def row(sheet: Sheet, record: dict, links: Dict[str, str]) -> None:
        values: List[object] = []
        for column in sheet.columns:
            if column.kind == "link":
                assert column.parent is not None  # a link column names the kind of its parent
                values.append(links.get(column.parent))
                continue
            node: object = record
            for part in column.path:
                node = node.get(part) if isinstance(node, dict) else None
            values.append(node)
        out[sheet.key].append(values)

    if isinstance(data.get("period"), dict):
        row(by_kind["period"], data["period"], {})
    for ws in data.get("workshops") or ():
        row(by_kind["workshop"], ws, {})
        for worker in ws.get("workers") or ():
            row(by_kind["worker"], worker, {"workshop": ws.get("id")})
        for worker in ws.get("workers") or ():
            for month in worker.get("months") or ():
                row(by_kind["month"], month, {"workshop": ws.get("id"), "worker": worker.get("id")})
        for loan in ws.get("loans") or ():
            row(by_kind["loan"], loan, {"workshop": ws.get("id")})
    return out


def _cell(value: object, column: Column) -> object:
    """A document value as a cell holds it: dates as dates, amounts as numbers, lists joined by commas."""
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if column.kind == "date" and isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            return value
    if column.kind == "decimal" and isinstance(value, (str, Decimal)):
        return _number(value)
    return value


def _number(value: Union[str, Decimal]) -> Union[int, float, str]:
    """An amount as a cell number: an int when whole, else the float Excel stores (exact when its repr gives the same
    digits back); text when a float would change it."""
    number = Decimal(str(value))
    exponent = number.as_tuple().exponent  # an int: the facts schema's decimals are finite (not 'n', 'N' or 'F')
    if number == number.to_integral_value() and isinstance(exponent, int) and exponent >= 0:
        return int(number)
    as_float = float(number)
    return as_float if Decimal(repr(as_float)) == number else str(number)


def write_workbook(path: str, policy: Policy, rows: Optional[Dict[str, List[list]]] = None, example: bool = True) -> None:
    """A roster workbook at ``path``: the template (``rows`` None) or filled with ``rows`` (see :func:`flatten`)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation
    from openpyxl.worksheet.worksheet import Worksheet

    lang = language(policy)
    layout = sheets(policy)
    titles = {sheet.kind: sheet.title for sheet in layout}
    book = Workbook()
    guide = book.active
    assert isinstance(guide, Worksheet)  # a new workbook's one sheet is a worksheet
    guide.title = instructions_title(policy)
    for line in say("template.instructions", lang).splitlines():
        guide.append([line])
    guide["A1"].font = Font(bold=True, size=14)
    guide.append([])
    head = [h.strip() for h in say("template.columns", lang).split(",")]
    guide.append(head)
    for cell in guide[guide.max_row]:
        cell.font = Font(bold=True)
    for sheet in layout:
        for column in sheet.columns:
            guide.append([sheet.title, column.label, column.code,
                          say("template.required" if column.required else "template.optional", lang),
                          describe(column, policy, lang, titles)])
    guide.column_dimensions["A"].width = 18
    guide.column_dimensions["B"].width = 28
    guide.column_dimensions["C"].width = 30
    guide.column_dimensions["E"].width = 80

    lists = book.create_sheet(policy.labels.get(f"sheet.{_VOCAB_SHEET}", _VOCAB_SHEET))
    list_ranges: Dict[str, str] = {}
    yes, no = _yes_no(policy)
    vocabularies = {c.vocab.name: c.vocab for s in layout for c in s.columns if c.vocab is not None}
    for n, (name, heading, labels) in enumerate([("bool", f"{yes}/{no}", [yes, no])] + [
            (v.name, v.label or v.name, list(v.codes.values())) for v in vocabularies.values()], 1):
        letter = get_column_letter(n)
        lists.cell(row=1, column=n, value=heading)  # headed in the policy's words, as every sheet a clerk may open
        for i, label in enumerate(labels, 2):
            lists.cell(row=i, column=n, value=label)
        list_ranges[name] = f"'{lists.title}'!${letter}$2:${letter}${len(labels) + 1}"
    lists.sheet_state = "hidden"

    required_fill = PatternFill("solid", fgColor="FCE4D6")
    optional_fill = PatternFill("solid", fgColor="DDEBF7")
    grey = Font(color="808080", size=9)
    examples: Dict[str, str] = {}
    for sheet in layout:
        ws = book.create_sheet(sheet.title)
        for index, column in enumerate(sheet.columns, 1):
            letter = get_column_letter(index)
            top = ws.cell(row=1, column=index, value=column.label)
            top.font = Font(bold=True)
            top.fill = required_fill if column.required else optional_fill
            top.alignment = Alignment(wrap_text=True, vertical="center")
            top.comment = Comment(f"{column.code}\n{say('template.required' if column.required else 'template.optional', lang)}"
                                  f"\n{describe(column, policy, lang, titles)}", "subsidy")
            code = ws.cell(row=2, column=index, value=column.code)
            code.font = grey
            ws.column_dimensions[letter].width = max(12, min(40, 2 * len(column.label) + 4))
            fmt = _FORMATS.get(column.kind)
            if fmt:
                ws.column_dimensions[letter].number_format = fmt
            source = list_ranges.get("bool") if column.kind == "bool" else (
                list_ranges.get(column.vocab.name) if column.vocab is not None else None)
            if source:
                check = DataValidation(type="list", formula1=source, allow_blank=True,
                                       showErrorMessage=column.kind != "list")
                check.add(f"{letter}3:{letter}{_LAST_ROW}")
                ws.add_data_validation(check)
        if rows is None and example:
            values = [_example(c, sheet, policy, examples) for c in sheet.columns]
            values[0] = f"{COMMENT}{values[0]}"
            ws.append(values)
            for index, column in enumerate(sheet.columns, 1):
                cell = ws.cell(row=3, column=index)
                cell.font = Font(italic=True, color="808080")
                if column.kind == "date":
                    cell.number_format = "yyyy-mm-dd"
            ws.cell(row=3, column=len(sheet.columns) + 2, value=say("template.example", lang)).font = grey
        formats = [_FORMATS.get(c.kind) for c in sheet.columns]
        for r, values in enumerate((rows or {}).get(sheet.key, ()), 3):
            for index, (raw, column) in enumerate(zip(values, sheet.columns), 1):
                value = _cell(raw, column)
                if value is None:
                    continue
                cell = ws.cell(row=r, column=index, value=value)
                if formats[index - 1] and not (column.kind == "decimal" and isinstance(value, str)):
                    cell.number_format = formats[index - 1]
        ws.freeze_panes = "A3"
    book.save(path)


def write_csv_folder(path: str, policy: Policy, rows: Optional[Dict[str, List[list]]] = None, example: bool = True,
                     encoding: str = "utf-8-sig") -> None:
    """A roster as a folder of CSV files (UTF-8 with a byte-order mark, which Excel opens as UTF-8), one per sheet,
    with the instructions as one more file."""
    lang = language(policy)
    layout = sheets(policy)
    titles = {sheet.kind: sheet.title for sheet in layout}
    os.makedirs(path, exist_ok=True)

    def save(name: str, table: List[list]) -> None:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        for values in table:
            writer.writerow(["" if v is None else v for v in values])
        with open(os.path.join(path, f"{name}.csv"), "w", encoding=encoding, newline="") as fh:
            fh.write(buffer.getvalue())

    guide = [[line] for line in say("template.instructions", lang).splitlines()] + [[]]
    guide.append([h.strip() for h in say("template.columns", lang).split(",")])
    for sheet in layout:
        for column in sheet.columns:
            guide.append([sheet.title, column.label, column.code,
                          say("template.required" if column.required else "template.optional", lang),
                          describe(column, policy, lang, titles)])
    save(instructions_title(policy), guide)
    examples: Dict[str, str] = {}
    for sheet in layout:
        table = [[c.label for c in sheet.columns], [c.code for c in sheet.columns]]
        if rows is None and example:
            values = [_csv_text(_example(c, sheet, policy, examples), c) for c in sheet.columns]
            values[0] = f"{COMMENT}{values[0]}"
            table.append(values)
        for values in (rows or {}).get(sheet.key, ()):
            table.append([_csv_text(v, c) for v, c in zip(values, sheet.columns)])
        save(sheet.title, table)


def _csv_text(value: object, column: Column) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (_dt.date, Decimal, int)):
        return str(value)
    return str(value)


def template(policy: Policy, path: str, fmt: str = "xlsx", bom: bool = True) -> None:
    """Write the roster template of ``policy`` to ``path`` (a workbook, or a folder for ``fmt`` csv: UTF-8 with a
    byte-order mark unless not ``bom``)."""
    if fmt == "csv":
        write_csv_folder(path, policy, encoding="utf-8-sig" if bom else "utf-8")
    else:
        write_workbook(path, policy)
