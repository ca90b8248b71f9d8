"""Exports a finance office opens: CSV (one row per decision) and an XLSX payout workbook.

Pure views over an evaluation. Column headers, sheet names, outcome and fund
names come from the policy file's labels (``settings.labels``), so a
province's fork brings its own words; codes stay in the machine-facing CSV.

Exports are data, never code (issue 12). Every text written to an export
(names, cities, counties, ids, codes, labels, reasons) goes through two rules:

* :func:`visible` writes each character that no export can carry faithfully
  as its escape, ``\\u0007``, ``\\ud800`` (the notation of the JSON decisions
  document for the same character, so an auditor can find it in the facts);
* in CSV, a text that then begins with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return is neutralised as OWASP's CSV-injection guidance says: a
  single quote before it, the field quoted (:func:`csv_line`); in XLSX such a
  text is a string cell (never a formula, never an error value) with Excel's
  quote prefix (:func:`text_cell`).

Amounts are never escaped: a reversal's ``-100.00`` stays a number. In XLSX an
amount is written as the exact decimal text of its value to the fen
(:func:`money_cell`), and every total is a value, not a formula.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ..runtime.decisions import decision_id, period_key
from .formats import money

CSV_COLUMNS = ("workshop", "city", "county", "worker", "loan", "clause", "rule", "outcome", "amount", "fund", "decision_id")
MONEY_FORMAT = "#,##0.00"

# What a spreadsheet may read as the start of a formula (OWASP, CSV injection): = + - @ tab CR.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# The characters no export carries faithfully, written as escapes by visible():
#   C0 controls but tab and line feed (XML 1.0 and so XLSX refuse them, openpyxl raises
#   IllegalCharacterError; a CR is read back as LF by every XML and HTML parser and splits a
#   CSV row), DEL and the C1 controls (invisible; control characters in HTML), lone surrogates
#   (not encodable in UTF-8) and the noncharacters (U+FFFE and U+FFFF are not XML characters).
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(1, 17)) + "]")


def _escape(match) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(value) -> str:
    """The text of ``value`` with every character no export can carry written as its escape.

    The rule, the same in CSV, XLSX and HTML: a control character other than tab
    and line feed (U+0000–U+0008, U+000B–U+001F, U+007F–U+009F; a carriage return
    too, which XML and HTML readers turn into a line feed), a lone surrogate
    (U+D800–U+DFFF) or a noncharacter (U+FDD0–U+FDEF, U+xFFFE, U+xFFFF) becomes the
    six characters ``\\uXXXX`` (lower-case hex, as the JSON decisions document writes
    it; ``\\UXXXXXXXX`` beyond the BMP). So ``"a\\x07b"`` is written ``a\\u0007b`` and
    a lone ``"\\ud800"`` is written ``\\ud800``: visible, never a crash, and the facts
    file's own escape. Ordinary text (anything else, Chinese included) is unchanged.
    """
    text = "" if value is None else str(value)
    return _INVISIBLE.sub(_escape, text) if _INVISIBLE.search(text) else text


def csv_line(fields: Sequence[Tuple[object, bool]]) -> str:
    """One CSV record (``\\n`` ended) from ``(value, is_text)`` pairs.

    A text field is made :func:`visible`, then, when it begins with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return, neutralised as OWASP's CSV-injection
    guidance says: a single quote before it (``=1+1`` is written ``"'=1+1"``,
    ``-12`` ``"'-12"``) and the field quoted. A number (an amount, a count) is
    written as it is, never escaped: a reversal's ``-100.00`` stays a number.

    Otherwise quoting is the csv module's minimal quoting (a field with a comma,
    a double quote or a line break is quoted, quotes doubled), so ordinary data is
    byte-identical to ``csv.writer(lineterminator="\\n")``.
    """
    out = []
    for value, is_text in fields:
        text = visible(value) if is_text else ("" if value is None else str(value))
        neutralised = is_text and text.startswith(FORMULA_TRIGGERS)
        if neutralised:
            text = "'" + text
        if neutralised or any(c in text for c in ',"\n\r'):
            text = '"' + text.replace('"', '""') + '"'
        out.append(text)
    return ",".join(out) + "\n"


def _period(evaluation) -> str:
    return period_key(evaluation.facts.period_start, evaluation.facts.period_end)


def _places(evaluation) -> Dict[str, dict]:
    return {ws["id"]: ws for ws in evaluation.facts.workshops}


def to_csv(evaluation) -> str:
    """One row per decision, codes as they are: workshop, city, county, worker, clause, outcome, amount, fund, id.

    Every column is text (escaped as :func:`csv_line` says) but ``amount``, a number.
    """
    lines = [csv_line([(c, True) for c in CSV_COLUMNS])]
    places = _places(evaluation)
    period = _period(evaluation)
    for d in evaluation.decisions:
        ws = places.get(d.workshop, {})
        amount = money(d.shown_amount) or ""
        lines.append(csv_line([
            (d.workshop, True), (ws.get("city", ""), True), (ws.get("county", ""), True), (d.worker or "", True),
            (d.loan or "", True), (d.clause, True), (d.rule, True), (d.outcome, True), (amount, False),
            (d.fund or "", True), (decision_id(evaluation.policy.sha256, period, d), True)]))
    return "".join(lines)


def _col(policy, key: str, default: str) -> str:
    return policy.label(f"column.{key}", default)


def text_cell(cell, value) -> None:
    """Write ``value`` into an openpyxl cell as a string, never a formula.

    openpyxl's ``Cell._bind_value`` makes any string longer than one character
    that starts with ``=`` a formula (``data_type 'f'``, written ``<f>``) and one of
    the error codes (``#N/A`` …) an error; its ``check_string`` raises
    ``IllegalCharacterError`` on control characters. So the text is first made
    :func:`visible`, then ``data_type`` is set to ``'s'`` after assigning (an inline
    string, ``<is><t>…</t></is>``). A text that begins with a formula trigger also
    gets Excel's quote prefix, as Excel stores ``'=1+1`` typed by hand: it stays
    text when someone edits the cell.
    """
    text = visible(value)
    cell.value = text
    cell.data_type = "s"
    if text.startswith(FORMULA_TRIGGERS):
        cell.quotePrefix = True


def money_cell(cell, amount: Optional[Decimal]) -> None:
    """Write an amount exactly: the decimal text of ``amount`` quantized to the fen, a number cell, '#,##0.00'.

    openpyxl writes a ``Decimal`` (or float) value through ``"%.16g"`` of its
    float, so 9745719.12 is stored as ``<v>9745719.119999999</v>``. The cell is
    therefore given the decimal text (``render.money``) with ``data_type 'n'``:
    the sheet holds ``<v>9745719.12</v>``, which Excel and openpyxl read as a
    number. (In memory the cell's value is that text.)
    """
    cell.value = money(amount if amount is not None else Decimal("0.00"))
    cell.data_type = "n"
    cell.number_format = MONEY_FORMAT


class _Rows:
    """Writes a sheet's rows one after the other: text cells, and amounts in ``money_columns`` (1-based).

    It counts the rows itself: openpyxl's ``max_row`` walks every cell, so asking it for each row of a
    province's workbook is quadratic.
    """

    def __init__(self, sheet):
        self.sheet, self.row = sheet, 0

    def append(self, values: Sequence, money_columns: Iterable[int] = ()) -> int:
        self.row += 1
        numbers = set(money_columns)
        for column, value in enumerate(values, 1):
            cell = self.sheet.cell(row=self.row, column=column)
            if column in numbers:
                money_cell(cell, value)
            else:
                text_cell(cell, value)
        return self.row


_TITLE_FORBIDDEN = re.compile(r"[\\*?:/\[\]]")


def _sheet_title(label: str, default: str) -> str:
    """A sheet name Excel accepts: no \\ * ? : / [ ], not empty, at most 31 characters."""
    title = _TITLE_FORBIDDEN.sub("_", visible(label)).strip("'")[:31]
    return title if title.strip() else default


def workbook(evaluation):
    """An openpyxl Workbook: payouts by workshop and worker, totals by fund, totals by county.

    Text cells are strings (:func:`text_cell`), amounts exact numbers
    (:func:`money_cell`), totals values summed in ``Decimal`` (no formula, so no
    uncached value for a reader that does not calculate).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    policy = evaluation.policy
    places = _places(evaluation)
    period = _period(evaluation)
    granted = [d for d in evaluation.decisions if d.outcome == "granted" and d.amount is not None]
    bold = Font(bold=True)
    total_label = policy.label("total", "total")

    book = Workbook()
    sheet = book.active
    sheet.title = _sheet_title(policy.label("sheet.payouts", "payouts"), "payouts")
    headers = [("workshop", "workshop"), ("workshop_name", "workshop name"), ("city", "city"), ("county", "county"),
               ("worker", "worker"), ("loan", "loan"), ("clause", "clause"), ("heading", "heading"),
               ("rule", "rule"), ("outcome", "outcome"), ("amount", "amount"), ("fund", "fund"), ("decision_id", "decision id")]
    rows = _Rows(sheet)
    rows.append([_col(policy, key, default) for key, default in headers])
    for d in granted:
        ws = places.get(d.workshop, {})
        clause = policy.clauses.get(d.clause)
        rule = policy.rule(d.rule)
        rows.append([d.workshop, ws.get("name", ""), ws.get("city", ""), ws.get("county", ""), d.worker or "",
                     d.loan or "", d.clause, clause.heading if clause else "", rule.label, policy.label(d.outcome),
                     d.amount, policy.label(d.fund) if d.fund else policy.label("none", "none"),
                     decision_id(policy.sha256, period, d)], money_columns=(11,))
    rows.row += 1
    label, total = sheet.cell(row=rows.row, column=1), sheet.cell(row=rows.row, column=11)
    text_cell(label, total_label)
    money_cell(total, sum((d.amount for d in granted), Decimal("0.00")))
    label.font = total.font = bold
    _widths(sheet, [12, 24, 10, 10, 10, 8, 8, 30, 24, 10, 14, 18, 22])

    by_fund = book.create_sheet(_sheet_title(policy.label("sheet.by_fund", "by fund"), "by fund"))
    rows = _Rows(by_fund)
    rows.append([_col(policy, "fund", "fund"), _col(policy, "fund_code", "fund code"), _col(policy, "amount", "amount")])
    for fund, amount in evaluation.totals.by_funding_source.items():
        rows.append([policy.label(fund), fund, amount], money_columns=(3,))
    rows.append([total_label, "", evaluation.totals.granted], money_columns=(3,))
    _widths(by_fund, [20, 26, 16])

    by_county = book.create_sheet(_sheet_title(policy.label("sheet.by_county", "by county"), "by county"))
    rows = _Rows(by_county)
    rows.append([_col(policy, "city", "city"), _col(policy, "county", "county"), _col(policy, "amount", "amount")])
    counties: Dict[Tuple[str, str], Decimal] = {}
    for d in granted:
        ws = places.get(d.workshop, {})
        key = (ws.get("city", ""), ws.get("county", ""))
        counties[key] = counties.get(key, Decimal("0.00")) + d.amount
    for (city, county), amount in sorted(counties.items()):
        rows.append([city, county, amount], money_columns=(3,))
    rows.append([total_label, "", evaluation.totals.granted], money_columns=(3,))
    _widths(by_county, [14, 14, 16])
    for ws in book.worksheets:
        for cell in ws[1]:
            cell.font = bold
        ws.freeze_panes = "A2"
    return book


def _widths(sheet, widths: List[int]) -> None:
    from openpyxl.utils import get_column_letter
    for i, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
