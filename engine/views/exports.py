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
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ..runtime.decisions import Decision, decision_id, period_key
from .formats import money, outcome_label
from .reasons import why_not_line

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.cell.cell import Cell, MergedCell
    from openpyxl.styles import Font
    from openpyxl.worksheet.worksheet import Worksheet

    from ..policy.model import Policy
    from ..runtime.evaluate import Evaluation

    #: a cell of a sheet, as openpyxl gives it (a cell under a merged range is a MergedCell)
    _Cell = Union[Cell, MergedCell]

CSV_COLUMNS = ("workshop", "city", "county", "worker", "loan", "clause", "rule", "outcome", "amount", "fund", "decision_id",
               "reason")
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


def _escape(match: "re.Match[str]") -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(value: object) -> str:
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


def _period(evaluation: "Evaluation") -> str:
    return period_key(evaluation.facts.period_start, evaluation.facts.period_end)


def _places(evaluation: "Evaluation") -> Dict[str, dict]:
    return {ws["id"]: ws for ws in evaluation.facts.workshops}


def to_csv(evaluation: "Evaluation") -> str:
    """One row per decision, codes as they are: workshop, city, county, worker, clause, outcome, amount, fund, id;
    and, for a decision that pays nothing (denied, pending, suppressed), why, in the policy's language (the text
    view's line).

    Every column is text (escaped as :func:`csv_line` says) but ``amount``, a number.
    """
    lines = [csv_line([(c, True) for c in CSV_COLUMNS])]
    places = _places(evaluation)
    period = _period(evaluation)
    for d in evaluation.decisions:
        ws = places.get(d.workshop, {})
        amount = money(d.paid_amount) or ""  # a column a finance office sums: what is paid, never what would have been
        lines.append(csv_line([
            (d.workshop, True), (ws.get("city", ""), True), (ws.get("county", ""), True), (d.worker or "", True),
            (d.loan or "", True), (d.clause, True), (d.rule, True), (d.outcome, True), (amount, False),
            ((d.fund or "") if d.paid_amount is not None else "", True), (decision_id(evaluation.policy.sha256, period, d), True),
            ((why_not_line(d, evaluation.policy) or "") if d.outcome in _WHY else "", True)]))
    return "".join(lines)


#: The outcomes whose CSV row says why nothing is paid.
_WHY = ("denied", "pending", "suppressed")


def _col(policy: "Policy", key: str, default: str) -> str:
    return policy.label(f"column.{key}", default)


def text_cell(cell: "_Cell", value: object) -> None:
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


def money_cell(cell: "_Cell", amount: Optional[Decimal]) -> None:
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

    def __init__(self, sheet: "Worksheet") -> None:
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


#: The workbook's sheets, in order: (label key, default title).
SHEETS = (("sheet.run", "run"), ("sheet.payouts", "payouts"), ("sheet.by_fund", "by fund"),
          ("sheet.by_clause", "by clause"), ("sheet.by_county", "by county"), ("sheet.by_workshop", "by workshop"),
          ("sheet.discretionary", "discretionary"), ("sheet.alerts", "alerts"), ("sheet.pending", "pending"),
          ("sheet.revoked", "revoked"), ("sheet.denied", "not granted"))
#: The decisions each sheet of items lists (no amount paid: for the office to act on or to wait for; and, in a run
#: made with why-not or with a once-per-person payment made elsewhere, what was not granted and why).
ITEM_SHEETS = {"sheet.discretionary": ("discretionary",), "sheet.alerts": ("alert",), "sheet.pending": ("pending",),
               "sheet.revoked": ("revoked",), "sheet.denied": ("denied", "suppressed")}


def _version() -> str:
    from .. import __version__
    return __version__


def workbook(evaluation: "Evaluation", version: Optional[str] = None) -> "Workbook":
    """An openpyxl Workbook a finance office files as it is.

    Sheets (named by the policy's ``sheet.*`` labels): the run (policy, document, period, the policy files'
    and the facts' sha256, engine, tool version, when it ran, totals); payouts by workshop and worker; totals by
    fund, clause, county and workshop; and the decisions that pay nothing now but ask for action: discretionary
    items, alerts, pending decisions (with the value each waits for) and revocations (with their date).

    Text cells are strings (:func:`text_cell`), amounts exact numbers (:func:`money_cell`), every total a value
    summed in ``Decimal`` (no formula, so no uncached value for a reader that does not calculate). Each sheet:
    bold, frozen, filtered header; column widths from its content; printed on A4 landscape fitted to the page's
    width, the header row repeated on every page, page numbers in the footer.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.worksheet import Worksheet

    policy = evaluation.policy
    facts = evaluation.facts
    places = _places(evaluation)
    period = _period(evaluation)
    granted = [d for d in evaluation.decisions if d.outcome == "granted" and d.amount is not None]
    bold = Font(bold=True)
    total_label = policy.label("total", "total")

    book = Workbook()
    sheets: Dict[str, Worksheet] = {}
    denied = evaluation.why_not or any(d.outcome in ITEM_SHEETS["sheet.denied"] for d in evaluation.decisions)
    for n, (key, default) in enumerate(SHEETS):
        if key == "sheet.denied" and not denied:
            continue  # without why-not, an empty sheet would read as "nothing was refused"
        title = _sheet_title(policy.label(key, default), default)
        sheet = book.active if n == 0 else book.create_sheet(title)
        assert isinstance(sheet, Worksheet)  # a new workbook's one sheet, and each sheet made, is a worksheet
        sheets[key] = sheet
        sheet.title = title

    # the run: what a filed copy must say about where its figures came from
    rows = _Rows(sheets["sheet.run"])
    rows.append([_col(policy, "item", "item"), _col(policy, "value", "value")])
    run_facts = [
        ("run.policy", "policy", policy.title), ("run.policy_id", "policy id", policy.id),
        ("run.document", "document", getattr(policy, "document", "") or ""),
        ("run.period", "period", f"{facts.period_start.isoformat()} – {facts.period_end.isoformat()}"),
        ("run.policy_sha256", "policy sha256", policy.sha256),
    ]
    run_facts += [("run.policy_file", "policy file", f"{path}  sha256 {sha}") for path, sha in policy.sources]
    run_facts += [
        ("run.facts", "facts file", facts.path or ""), ("run.facts_sha256", "facts sha256", facts.sha256),
        ("run.engine", "engine", evaluation.backend), ("run.tool", "tool",
                                                        f"subsidy-rules {version if version is not None else _version()}"),
        ("run.ran_at", "run at", evaluation.ran_at),
    ]
    for key, default, value in run_facts:
        rows.append([policy.label(key, default), value])
    rows.append([policy.label("run.granted", "granted"), evaluation.totals.granted], money_columns=(2,))
    for outcome, n in sorted(evaluation.totals.counts.items()):
        row = rows.append([policy.label("run.count", "decisions") + " · " + policy.label(outcome), ""])
        sheets["sheet.run"].cell(row=row, column=2, value=n)

    # payouts: one row per granted decision, and the total
    sheet = sheets["sheet.payouts"]
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
    money_cell(total, sum((d.amount for d in granted if d.amount is not None), Decimal("0.00")))  # every one has an amount
    label.font = total.font = bold

    count_label = _col(policy, "count", "decisions")
    # by fund
    rows = _Rows(sheets["sheet.by_fund"])
    rows.append([_col(policy, "fund", "fund"), _col(policy, "fund_code", "fund code"), _col(policy, "amount", "amount"),
                 count_label])
    counted = _count(granted, lambda d: d.fund or "none")
    for fund, amount in evaluation.totals.by_funding_source.items():
        _counted_row(rows, [policy.label(fund), fund], counted.get(fund, 0), amount)
    _counted_row(rows, [total_label, ""], len(granted), evaluation.totals.granted, bold)

    # by clause
    rows = _Rows(sheets["sheet.by_clause"])
    rows.append([_col(policy, "clause", "clause"), _col(policy, "heading", "heading"), _col(policy, "amount", "amount"),
                 count_label])
    counted = _count(granted, lambda d: d.clause)
    for clause_id, amount in evaluation.totals.by_clause.items():
        heading = policy.clauses[clause_id].heading if clause_id in policy.clauses else ""
        _counted_row(rows, [clause_id, heading], counted.get(clause_id, 0), amount)
    _counted_row(rows, [total_label, ""], len(granted), evaluation.totals.granted, bold)

    # by county
    rows = _Rows(sheets["sheet.by_county"])
    rows.append([_col(policy, "city", "city"), _col(policy, "county", "county"), _col(policy, "amount", "amount"),
                 count_label])
    counties: Dict[Tuple[str, str], list] = {}
    for d in granted:
        ws = places.get(d.workshop, {})
        entry = counties.setdefault((ws.get("city", ""), ws.get("county", "")), [Decimal("0.00"), 0])
        entry[0] += d.amount
        entry[1] += 1
    for (city, county), (amount, n) in sorted(counties.items()):
        row = rows.append([city, county, amount], money_columns=(3,))
        sheets["sheet.by_county"].cell(row=row, column=4, value=n)
    row = rows.append([total_label, "", evaluation.totals.granted], money_columns=(3,))
    sheets["sheet.by_county"].cell(row=row, column=4, value=len(granted))
    for cell in sheets["sheet.by_county"][row]:
        cell.font = bold

    # by workshop: every workshop of the facts, paid or not
    rows = _Rows(sheets["sheet.by_workshop"])
    rows.append([_col(policy, "workshop", "workshop"), _col(policy, "workshop_name", "workshop name"),
                 _col(policy, "city", "city"), _col(policy, "county", "county"), _col(policy, "amount", "amount"),
                 count_label])
    by_shop: Dict[str, list] = {}
    for d in granted:
        entry = by_shop.setdefault(d.workshop, [Decimal("0.00"), 0])
        entry[0] += d.amount
        entry[1] += 1
    for ws in facts.workshops:
        amount, n = by_shop.get(ws["id"], [Decimal("0.00"), 0])
        _counted_row(rows, [ws["id"], ws.get("name", ""), ws.get("city", ""), ws.get("county", "")], n, amount)
    _counted_row(rows, [total_label, "", "", ""], len(granted), evaluation.totals.granted, bold)

    # the items that pay nothing now but ask the office to act or wait
    item_headers = [_col(policy, "workshop", "workshop"), _col(policy, "workshop_name", "workshop name"),
                    _col(policy, "city", "city"), _col(policy, "county", "county"), _col(policy, "subject", "subject"),
                    _col(policy, "clause", "clause"), _col(policy, "rule", "rule"), _col(policy, "outcome", "outcome"),
                    _col(policy, "detail", "detail"), _col(policy, "decision_id", "decision id")]
    for key, outcomes in ITEM_SHEETS.items():
        if key not in sheets:
            continue
        rows = _Rows(sheets[key])
        rows.append(item_headers)
        for d in evaluation.decisions:
            if d.outcome not in outcomes:
                continue
            ws = places.get(d.workshop, {})
            subject = d.worker or d.loan or ""
            subject = f"{policy.label('subject.' + d.subject, d.subject)} {subject}".strip()
            rows.append([d.workshop, ws.get("name", ""), ws.get("city", ""), ws.get("county", ""), subject, d.clause,
                         policy.rule(d.rule).label, outcome_label(policy, d), _detail(policy, d),
                         decision_id(policy.sha256, period, d)])

    wrap = Alignment(wrap_text=True, vertical="top")
    for sheet in book.worksheets:
        for cell in sheet[1]:
            cell.font = bold
            cell.alignment = wrap
        sheet.freeze_panes = "A2"
        if sheet.max_row > 1 or sheet is not sheets["sheet.run"]:
            sheet.auto_filter.ref = sheet.dimensions
        _fit(sheet)
        _print_setup(sheet)
    return book


def _count(decisions: Iterable[Decision], key: Callable[[Decision], str]) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for d in decisions:
        out[key(d)] = out.get(key(d), 0) + 1
    return out


def _counted_row(rows: "_Rows", texts: List[object], count: int, amount: Decimal, font: "Optional[Font]" = None) -> None:
    """Texts, then an amount (exact, a number cell), then a count (a number cell)."""
    at = len(texts) + 1
    row = rows.append(texts + [amount], money_columns=(at,))
    cell = rows.sheet.cell(row=row, column=at + 1)
    cell.value, cell.data_type = count, "n"
    if font is not None:
        for c in rows.sheet[row]:
            c.font = font


def _detail(policy: "Policy", d: Decision) -> str:
    """What an item sheet says beside a decision: the months an alert was raised for, the value a pending decision
    waits for, the day a revocation takes effect."""
    if d.outcome == "pending":
        waits = []
        for name, day, key in d.detail("waits_for", ()):
            parameter = policy.parameters.get(name)
            label = parameter.label if parameter is not None else name
            waits.append(f"{label}{'[' + key + ']' if key else ''} {day.isoformat()}")
        return policy.label("run.waits_for", "waits for {values}").replace(
            "{values}", policy.label("list.sep", ", ").join(waits))
    if d.outcome == "revoked" and d.detail("effective"):
        return policy.label("run.effective", "effective from {date}").replace("{date}", str(d.detail("effective")))
    if d.outcome in ("denied", "suppressed"):
        return why_not_line(d, policy) or ""
    if d.items:
        return policy.label("list.sep", ", ").join(d.items)
    return d.reason or ""


def _fit(sheet: "Worksheet") -> None:
    """Column widths from content: the widest cell (a Chinese character counts two), between 6 and 60."""
    from openpyxl.utils import get_column_letter
    from .formats import display_width

    widths: Dict[int, int] = {}
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            text = cell.value if isinstance(cell.value, str) else str(cell.value)
            if cell.number_format == MONEY_FORMAT:
                text = money(Decimal(text), grouped=True) if text else text
            widths[cell.column] = max(widths.get(cell.column, 0), display_width(text))
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = max(6, min(60, width + 2))


def _print_setup(sheet: "Worksheet") -> None:
    """A4 landscape, fitted to the page's width (as many pages down as it takes), the header row on every page,
    page numbers in the footer."""
    # a worksheet openpyxl makes has its page set-up properties, header and footer (its stubs say they may be None)
    assert sheet.sheet_properties.pageSetUpPr is not None and sheet.oddFooter is not None \
        and sheet.oddHeader is not None
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape"
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.print_title_rows = "1:1"
    sheet.print_options.gridLines = True
    sheet.oddFooter.center.text = "&P / &N"
    sheet.oddHeader.center.text = "&A"


def _widths(sheet: "Worksheet", widths: List[int]) -> None:
    from openpyxl.utils import get_column_letter
    for i, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
