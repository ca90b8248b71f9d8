"""Exports are data, never code (issue 12, items 1, 7 and 8; "What it must do" 3).

Every assertion is on the saved artifact: the CSV text parsed back with the csv
module, the workbook's sheet XML and the workbook read back with openpyxl, the
HTML page parsed and encoded. The rule under test (engine/exports.py):

* a text that begins with = + - @ tab or CR is neutralised in CSV with a single
  quote, the field quoted (OWASP); in XLSX it is a string cell, never a formula;
* a control character other than tab and line feed, a lone surrogate or a
  noncharacter is written as its escape, ``\\u0007``, ``\\ud800``, in every export;
* amounts are numbers, never escaped; in XLSX their exact two-decimal text, and
  totals are values equal to the JSON document's totals.
"""
import csv
import dataclasses
import io
import json
import re
import zipfile
from decimal import Decimal
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

import subsidy_rules
from subsidy_rules.cli import main
from conftest import EXAMPLE, POLICY
from subsidy_rules.views.exports import SHEETS, money_cell, to_csv, visible, workbook
from subsidy_rules.views.html import html_report

#: where each sheet stands in the workbook (its position; sheet N+1's XML)
PAYOUTS, BY_FUND, BY_COUNTY = (next(n for n, (key, _) in enumerate(SHEETS) if key == k)
                               for k in ("sheet.payouts", "sheet.by_fund", "sheet.by_county"))
HYPERLINK = '=HYPERLINK("http://x.invalid","click")'
SCRIPT = "<script>alert(1)</script>"
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
# What no export may hold raw: C0 controls but tab and LF, DEL and C1, lone surrogates, U+FFFE and U+FFFF.
RAW_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# What visible() escapes as documented: those, and every other noncharacter (U+FDD0-U+FDEF, U+nFFFE, U+nFFFF).
ESCAPED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
                     + "".join(chr(p << 16 | 0xFFFE) + chr(p << 16 | 0xFFFF) for p in range(1, 17)) + "]")

WORKERS = """\
    workers:
    - {id: F1, categories: [relocated], sex: male, birth_date: 1980-01-02, hired_on: 2021-01-01}
    - {id: F2, categories: [relocated], sex: male, birth_date: 1980-01-02, hired_on: 2021-01-01}
    - {id: F3, categories: [relocated], sex: male, birth_date: 1980-01-02, hired_on: 2021-01-01}
    - {id: F4, categories: [relocated], sex: male, birth_date: 1980-01-02, hired_on: 2021-01-01}
    - {id: F5, categories: [relocated], sex: male, birth_date: 1980-01-02, hired_on: 2021-01-01}
    - id: W1
      categories: [poverty_alleviated]
      sex: female
      birth_date: 1985-05-01
      hired_on: 2022-08-01
      contract_months: 6
      months: [{month: 2022-08, income: 2500}, {month: 2022-09, income: 2500}]
"""

# Five relocated production workers certify a cooperative by 3.1; W1, hired in August, is paid 3.2's
# 1,500.00 and 3.3's 400.00, so every workshop has amounts in the workbook.
HOSTILE_YAML = f"""\
period: {{start: 2022-07-01, end: 2022-12-31}}
workshops:
  - id: WS-1
    name: '{HYPERLINK}'
    city: '=1+1'
    county: '@SUM(A1)'
    wage_area: 3
    entity_type: cooperative
{WORKERS}
  - id: WS-2
    name: '{SCRIPT}'
    city: 吕梁市
    county: 临县
    wage_area: 3
    entity_type: cooperative
{WORKERS}
  - id: WS-3
    name: '-12'
    city: '-12'
    county: "\\t+1"
    wage_area: 3
    entity_type: cooperative
{WORKERS}
"""


def _workers():
    people = [{"id": f"F{i}", "categories": ["relocated"], "sex": "male", "birth_date": "1980-01-02",
               "hired_on": "2021-01-01"} for i in range(1, 6)]
    return people + [{"id": "W1", "categories": ["poverty_alleviated"], "sex": "female", "birth_date": "1985-05-01",
                      "hired_on": "2022-08-01", "contract_months": 6,
                      "months": [{"month": "2022-08", "income": 2500}, {"month": "2022-09", "income": 2500}]}]


def _json_facts(*places):
    """JSON facts text; json.dumps writes a control character as \\u0007 and a lone surrogate as \\ud800."""
    return json.dumps({"period": {"start": "2022-07-01", "end": "2022-12-31"},
                       "workshops": [{"id": ws_id, "name": name, "city": city, "county": county, "wage_area": 3,
                                      "entity_type": "cooperative", "workers": _workers()}
                                     for ws_id, name, city, county in places]})


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def _evaluate(facts, tmp_path, fmt, suffix):
    out = tmp_path / f"out-{fmt}.{suffix}"
    result = run("evaluate", POLICY, facts, "--format", fmt, "-o", out)
    return result, out


def _doc(facts, tmp_path):
    out = tmp_path / "decisions.json"
    result = run("evaluate", POLICY, facts, "-o", out)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text(encoding="utf-8"))


def _sheets(path):
    """{sheet xml name: its text} of every worksheet in the saved workbook."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/sheet")}


def _cells(xml):
    """{cell ref: (t attribute, <v> text or inline string text, has <f>)} of one sheet's XML."""
    out = {}
    for c in ElementTree.fromstring(xml).iter(f"{{{NS['m']}}}c"):
        v = c.find("m:v", NS)
        t = c.find("m:is/m:t", NS)
        out[c.get("r")] = (c.get("t"), v.text if v is not None else (t.text if t is not None else None),
                           c.find("m:f", NS) is not None)
    return out


@pytest.fixture
def hostile(write):
    return write("facts.yaml", HOSTILE_YAML)


# --- CSV ------------------------------------------------------------------------------------------------------------

def test_csv_neutralises_formula_text_and_leaves_amounts_numbers(hostile, tmp_path):
    result, out = _evaluate(hostile, tmp_path, "csv", "csv")
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8-sig")  # UTF-8 with the byte-order mark Excel needs
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    ws1 = [r for r in rows if r["workshop"] == "WS-1"]
    assert ws1 and all(r["city"] == "'=1+1" and r["county"] == "'@SUM(A1)" for r in ws1)
    ws3 = [r for r in rows if r["workshop"] == "WS-3"]
    assert ws3 and all(r["city"] == "'-12" and r["county"] == "'\t+1" for r in ws3)
    # a neutralised field is quoted (OWASP), an ordinary one is not
    assert "\"'=1+1\",\"'@SUM(A1)\"" in text and "\"'-12\"," in text and ",吕梁市,临县," in text
    for line in text.splitlines():
        for field in next(csv.reader([line])):
            assert not field.startswith(TRIGGERS), line
    # amounts: plain numbers, never quoted or prefixed, summing to the JSON total
    amounts = [r["amount"] for r in rows if r["amount"]]
    assert amounts and all(re.fullmatch(r"-?\d+\.\d\d", a) for a in amounts)
    doc = _doc(hostile, tmp_path)
    assert sum(Decimal(r["amount"]) for r in rows if r["outcome"] == "granted") == Decimal(doc["totals"]["granted"])
    assert [r["decision_id"] for r in rows] == [d["id"] for d in doc["decisions"]]


def test_csv_of_ordinary_data_is_what_the_csv_module_writes(tmp_path):
    result, out = _evaluate(EXAMPLE, tmp_path, "csv", "csv")
    assert result.exit_code == 0
    text = out.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    again = io.StringIO()
    csv.writer(again, lineterminator="\n").writerows(rows)
    assert again.getvalue() == text
    assert not any(field.startswith("'") for row in rows for field in row)


def test_ledger_report_csv_escapes_text_and_keeps_a_reversal_a_number():
    from subsidy_rules.ledger.report import LedgerReport, Pending, Progress, to_csv as ledger_csv
    report = LedgerReport(
        ledger="test", policy_id="shanxi_2022", start=None, end=None, granted=Decimal("-100.00"),
        by_fund={"none": Decimal("-100.00")}, by_clause={"3.3": Decimal("-100.00")},
        by_city={"=1+1": Decimal("-100.00")}, by_county={("=1+1", "bell\x07\ud800"): Decimal("-100.00")},
        entries=2, reversals=1,
        progress=(Progress("certified_workshops", "t", "3.1", 1, 2000, None, "s"),),
        pending=(Pending("2023-01-01", "2023-01-31", "-12", "@W1", None, "3.8", "social_insurance_subsidy",
                         (("provincial_average_annual_wage", "2023-01-01", None),)),))
    text = ledger_csv(report)
    text.encode("utf-8")  # no surrogate left
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1] == ["total", "granted", "", "-100.00", ""]
    assert ["city", "'=1+1", "", "-100.00", ""] in rows
    assert ["county", "'=1+1", "bell\\u0007\\ud800", "-100.00", ""] in rows
    assert ["target", "certified_workshops", "3.1", "1", "2000"] in rows
    assert ["pending", "'-12", "'@W1", "3.8", "provincial_average_annual_wage@2023-01-01"] in rows
    assert "\ntotal,granted,,-100.00,\n" in text and "\"'=1+1\"" in text


# --- XLSX -----------------------------------------------------------------------------------------------------------

def test_xlsx_cells_are_text_never_formulas(hostile, tmp_path):
    result, out = _evaluate(hostile, tmp_path, "xlsx", "xlsx")
    assert result.exit_code == 0, result.output
    sheets = _sheets(out)
    assert sheets and not any("<f>" in xml or "<f " in xml for xml in sheets.values())
    book = load_workbook(out)
    payouts = book.worksheets[PAYOUTS]
    rows = {row[0].value: row for row in payouts.iter_rows(min_row=2) if row[0].value and row[0].value.startswith("WS-")}
    name, city, county = rows["WS-1"][1], rows["WS-1"][2], rows["WS-1"][3]
    assert (name.value, city.value, county.value) == (HYPERLINK, "=1+1", "@SUM(A1)")
    assert name.data_type == city.data_type == county.data_type == "s"
    assert name.quotePrefix and city.quotePrefix and county.quotePrefix  # stays text when edited in Excel
    assert rows["WS-3"][1].value == "-12" and rows["WS-3"][1].data_type == "s"
    assert rows["WS-3"][3].value == "\t+1" and rows["WS-3"][3].data_type == "s"
    assert rows["WS-2"][1].value == SCRIPT
    ref = _cells(sheets[f"xl/worksheets/sheet{PAYOUTS + 1}.xml"])
    assert ref[name.coordinate] == ("inlineStr", HYPERLINK, False)
    # by county: the city is text, not a formula, there too
    counties = [r for r in book.worksheets[BY_COUNTY].iter_rows(min_row=2)]
    assert any(r[0].value == "=1+1" and r[0].data_type == "s" and r[1].value == "@SUM(A1)" for r in counties)


def test_xlsx_amounts_are_exact_and_totals_are_the_json_totals(hostile, tmp_path):
    doc = _doc(hostile, tmp_path)
    result, out = _evaluate(hostile, tmp_path, "xlsx", "xlsx")
    assert result.exit_code == 0, result.output
    sheets = _sheets(out)
    payouts, by_fund, by_county = (_cells(sheets[f"xl/worksheets/sheet{i + 1}.xml"]) for i in (PAYOUTS, BY_FUND, BY_COUNTY))
    amounts = [v for column, cells in (("K", payouts), ("C", by_fund), ("C", by_county))
               for ref, (t, v, _) in cells.items() if t == "n" and ref.startswith(column)]
    counts = [v for cells in (by_fund, by_county) for ref, (t, v, _) in cells.items() if t == "n" and ref.startswith("D")]
    assert amounts and all(re.fullmatch(r"-?\d+\.\d\d", v) for v in amounts), amounts
    assert counts and all(re.fullmatch(r"\d+", v) for v in counts), counts  # the count beside each amount
    assert {t for cells in (payouts, by_fund, by_county) for ref, (t, v, _) in cells.items()
            if ref[0] not in "KCD"} <= {"inlineStr", "s"}  # every other cell is text
    granted = doc["totals"]["granted"]
    assert granted == "5700.00"
    # payouts: one row per granted decision, the total row a value (no formula) equal to the JSON total
    last = max(int(ref[1:]) for ref in payouts if ref.startswith("K"))
    assert payouts[f"K{last}"] == ("n", granted, False)
    assert sum(Decimal(v) for ref, (t, v, _) in payouts.items() if ref.startswith("K") and ref != f"K{last}" and t == "n") \
        == Decimal(granted)
    # by fund: each fund code's amount is the JSON's, to the character
    rows = {}
    for ref, (_, v, _) in by_fund.items():
        rows.setdefault(int(re.sub(r"\D", "", ref)), {})[ref[0]] = v
    fund_amounts = {r["B"]: r["C"] for n, r in rows.items() if n > 1 and r.get("B")}
    assert fund_amounts == doc["totals"]["by_funding_source"]
    assert rows[max(rows)]["C"] == granted
    county_rows = {}
    for ref, (_, v, _) in by_county.items():
        county_rows.setdefault(int(re.sub(r"\D", "", ref)), {})[ref[0]] = v
    assert county_rows[max(county_rows)]["C"] == granted
    assert sum(Decimal(r["C"]) for n, r in county_rows.items() if 1 < n < max(county_rows)) == Decimal(granted)
    # and openpyxl reads them back as numbers
    book = load_workbook(out)
    assert all(isinstance(c.value, (int, float)) for c in book.worksheets[BY_FUND]["C"][1:])


def test_xlsx_money_is_the_decimal_text_not_a_binary_double(tmp_path):
    book = Workbook()
    sheet = book.active
    for row, amount in enumerate((Decimal("9745719.12"), Decimal("-100.00"), Decimal("0.1"), Decimal("123456789012.34")), 1):
        money_cell(sheet.cell(row=row, column=1), amount)
    path = tmp_path / "money.xlsx"
    book.save(path)
    cells = _cells(_sheets(path)["xl/worksheets/sheet1.xml"])
    assert [cells[f"A{i}"] for i in range(1, 5)] == [("n", "9745719.12", False), ("n", "-100.00", False),
                                                     ("n", "0.10", False), ("n", "123456789012.34", False)]
    back = load_workbook(path).active
    assert back["A1"].value == 9745719.12 and back["A1"].number_format == "#,##0.00"
    assert back["A2"].value == -100 and back["A2"].data_type == "n"


def test_a_sheet_label_excel_refuses_does_not_crash_the_workbook(tmp_path):
    from subsidy_rules.views.exports import _sheet_title
    book = Workbook()
    titles = [_sheet_title(label, "payouts") for label in ("a/b", "", "  ", "[x]:*?\\", "'q'", "长" * 40, "a\x07")]
    assert titles == ["a_b", "payouts", "payouts", "_x_____", "q", "长" * 31, "a_u0007"]  # no backslash in a sheet name
    for title in titles:
        book.create_sheet(title)
    book.save(tmp_path / "titles.xlsx")


# --- HTML -----------------------------------------------------------------------------------------------------------

class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_escapes_markup(hostile, tmp_path):
    result, out = _evaluate(hostile, tmp_path, "html", "html")
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and SCRIPT not in page
    parsed = _Page()
    parsed.feed(page)
    parsed.close()
    assert "script" not in parsed.tags
    text = "".join(parsed.text)
    assert SCRIPT in text and HYPERLINK in text  # shown as the text it is
    assert "=1+1 @SUM(A1)" in text


# --- control characters and lone surrogates -------------------------------------------------------------------------

def test_a_lone_surrogate_in_a_name_is_refused_at_its_place_before_any_export(write, tmp_path):
    facts = write("facts.json", _json_facts(("WS-1", "name\ud800end", "city", "临县")))
    for fmt in ("csv", "xlsx", "html", "text"):
        result, _ = _evaluate(facts, tmp_path, fmt, fmt)
        assert result.exit_code == 1 and "error[input.surrogate]" in result.output, (fmt, result.output)
        assert re.search(re.escape(str(facts)) + r":\d+:\d+: error\[input.surrogate\]", result.output)


def test_a_control_character_in_a_name_is_escaped_in_every_export(write, tmp_path):
    bad, escaped = "\x07", "\\u0007"
    name, city = f"name{bad}end", f"{bad}city"
    facts = write("facts.json", _json_facts(("WS-1", name, city, "临县")))
    assert "\\u0007" in open(facts, encoding="utf-8").read()

    result, out = _evaluate(facts, tmp_path, "csv", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert rows and all(r["city"] == f"{escaped}city" for r in rows)

    result, out = _evaluate(facts, tmp_path, "xlsx", "xlsx")
    assert result.exit_code == 0, result.output
    payouts = load_workbook(out).worksheets[PAYOUTS]
    row = next(r for r in payouts.iter_rows(min_row=2) if r[0].value == "WS-1")
    assert (row[1].value, row[2].value) == (f"name{escaped}end", f"{escaped}city")
    assert row[1].data_type == row[2].data_type == "s"

    result, out = _evaluate(facts, tmp_path, "html", "html")
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert f"name{escaped}end" in page and not RAW_FORBIDDEN.search(page)


def test_the_exports_escape_whatever_text_reaches_them(hostile, policy, tmp_path):
    """Whatever a reader lets through (or a ledger hands over), the exports write it escaped, never crash."""
    nasty = "\x00=a\x07\x0b\r\x1f\x7f\x85\ud800\udfff\ufffe\uffff\U0010ffff中文"
    expected = ("\\u0000=a\\u0007\\u000b\\u000d\\u001f\\u007f\\u0085\\ud800\\udfff\\ufffe\\uffff"
                "\\U0010ffff中文")
    assert visible(nasty) == expected
    run_ = _with_places(subsidy_rules.evaluate(policy, subsidy_rules.load_facts(hostile, policy)), nasty)

    rows = list(csv.DictReader(io.StringIO(to_csv(run_), newline="")))
    assert all(r["city"] == expected and r["county"] == expected for r in rows if r["workshop"] == "WS-1")

    path = tmp_path / "nasty.xlsx"
    workbook(run_).save(path)
    assert not any("<f>" in xml for xml in _sheets(path).values())
    first = next(r for r in load_workbook(path).worksheets[PAYOUTS].iter_rows(min_row=2) if r[0].value == "WS-1")
    assert [c.value for c in first[1:4]] == [expected] * 3 and first[1].data_type == "s"

    page = html_report(run_, None, "test")
    page.encode("utf-8")
    assert expected in page and not RAW_FORBIDDEN.search(page)
    _Page().feed(page)


# --- any name -------------------------------------------------------------------------------------------------------

def _with_places(evaluation, text):
    """The evaluation with WS-1's name, city and county replaced (names and places decide nothing)."""
    shops = tuple(dict(ws, name=text, city=text, county=text) if ws["id"] == "WS-1" else ws
                  for ws in evaluation.facts.workshops)
    return dataclasses.replace(evaluation, facts=dataclasses.replace(evaluation.facts, workshops=shops))


_UNESCAPE = re.compile(r"\\u([0-9a-f]{4})|\\U([0-9a-f]{8})")

from hypothesis import given, settings, strategies as st  # noqa: E402

_BASE = {}

def _base_run():
    if not _BASE:
        import tempfile
        with tempfile.TemporaryDirectory() as folder:
            path = f"{folder}/facts.yaml"
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(HOSTILE_YAML)
            policy = subsidy_rules.load_policy(POLICY)
            _BASE["run"] = subsidy_rules.evaluate(policy, subsidy_rules.load_facts(path, policy))
    return _BASE["run"]

@settings(max_examples=50, deadline=None, database=None)
@given(st.text(alphabet=st.characters(exclude_categories=())))  # every code point, lone surrogates included
def test_any_name_round_trips_through_csv_and_xlsx_as_text(text):
    evaluation = _with_places(_base_run(), text)
    shown = visible(text)
    # the escaped form holds nothing an export cannot carry, and undoes to the text itself
    assert not RAW_FORBIDDEN.search(shown)
    if "\\" not in text:
        assert _UNESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), shown) == text
    if not ESCAPED.search(text):
        assert shown == text

    rows = list(csv.DictReader(io.StringIO(to_csv(evaluation), newline="")))
    cell = ("'" + shown) if shown.startswith(TRIGGERS) else shown
    ws1 = [r for r in rows if r["workshop"] == "WS-1"]
    assert ws1 and all(r["city"] == cell and r["county"] == cell for r in ws1)
    assert all(re.fullmatch(r"(-?\d+\.\d\d)?", r["amount"]) for r in rows)

    out = io.BytesIO()
    workbook(evaluation).save(out)
    with zipfile.ZipFile(out) as z:
        assert not any(b"<f>" in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    out.seek(0)
    first = next(r for r in load_workbook(out).worksheets[PAYOUTS].iter_rows(min_row=2) if r[0].value == "WS-1")
    for c in first[1:4]:
        assert c.value == (shown or None)  # an empty text reads back as an empty cell
        assert not shown or c.data_type == "s"
