"""The views people read (issue 15): the trace in the policy's language, the county report in a real browser, the
terminal on a GBK console.

The report is printed by Debian's headless Chromium (`chromium`, which CI installs): these tests need it and
are never skipped.
"""
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

import subsidy_rules
from subsidy_rules.cli import main
from subsidy_rules.views.formats import display_width, encodable, money
from subsidy_rules.views.html import report_model, summary_html, workshop_html
from conftest import EXAMPLE, POLICY, ROOT

sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402

A4 = (595, 842)  # points, portrait
PAGE_BUDGET = 40  # a county of 50 workshops, traces folded


def run(*args, env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert "Traceback" not in result.output, result.output
    return result


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "the report tests need Debian's headless chromium (apt-get install chromium)"
    return found


def print_pdf(html: Path, pdf: Path) -> PdfReader:
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.as_uri()],
                   check=True, capture_output=True, timeout=180)
    return PdfReader(str(pdf))


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    """A county of 50 workshops (bench/generate.py, seeded), its report and the report printed to PDF."""
    folder = tmp_path_factory.mktemp("county")
    facts = folder / "county.json"
    with open(facts, "w", encoding="utf-8") as fh:
        generate.write(fh, 50, 750, 2022)
    html = folder / "report.html"
    result = run("evaluate", POLICY, facts, "--format", "html", "-o", html)
    assert result.exit_code == 0, result.output
    return facts, html, print_pdf(html, folder / "report.pdf")


#: The PDF's fonts map some glyphs to CJK radicals (⼤ U+2F24, ⻋ U+2ECB); NFKC and this table read them as the text.
_RADICALS = str.maketrans({"⻋": "车", "⻓": "长", "⻔": "门", "⻅": "见", "⻉": "贝", "⻜": "飞", "⻢": "马", "⻚": "页",
                           "⻛": "风", "⻄": "西", "⻬": "齐", "⻩": "黄", "⻰": "龙", "⻆": "角", "⻘": "青", "戶": "户",
                           "⻝": "食", "⻦": "鸟", "⻥": "鱼", "⻨": "麦"})


def _page_text(page) -> str:
    return unicodedata.normalize("NFKC", page.extract_text()).translate(_RADICALS)


def _text(reader: PdfReader) -> str:
    return "\n".join(_page_text(page) for page in reader.pages)


# --- the county report in a browser ----------------------------------------------------------------------------

def test_the_county_report_prints_on_a4_within_the_page_budget_with_page_numbers(county):
    _, _, pdf = county
    pages = len(pdf.pages)
    assert pages <= PAGE_BUDGET, pages
    for n, page in enumerate(pdf.pages, 1):
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == A4
        assert f"{n} / {pages}" in _page_text(page)


def test_the_printed_report_has_its_summary_and_index_first_and_folds_the_traces(county):
    facts, _, pdf = county
    first = _page_text(pdf.pages[0])
    assert "汇总" in first and "资金来源" in first
    text = re.sub(r"\s+", "", _text(pdf))
    policy = subsidy_rules.load_policy(POLICY)
    doc = subsidy_rules.evaluate(policy, subsidy_rules.load_facts(str(facts), policy))
    assert text.index("汇总") < text.index("车间目录") < text.index("WS-00001帮扶车间1")
    assert re.sub(r"\s+", "", f"发放合计{money(doc.totals.granted, grouped=True)}") in text
    for fund, amount in doc.totals.by_funding_source.items():
        assert money(amount, grouped=True) in text
    assert "所用参数" not in text and "依据（以" not in text  # folded traces are not printed
    assert text.count("帮扶车间编号") >= 2  # the index's header, repeated on the next page


def test_an_uncertified_workshop_says_which_condition_it_failed(county):
    _, html, _ = county
    page = html.read_text(encoding="utf-8")
    statuses = re.findall(r'<p class="status status-none">(.*?)</p>', page, re.S)
    assert statuses and all(s.startswith("未认定：3.1 认定为就业帮扶车间：✗ ") for s in statuses), statuses[:2]


def test_identical_decisions_are_one_row_listing_their_workers(policy):
    run_ = subsidy_rules.evaluate(policy, subsidy_rules.load_facts(EXAMPLE, policy), why_not=True)
    model = report_model(run_)
    shop = next(s for s in model.shops if s.id == "WS-003")
    hires = [r for r in shop.rows if r.clause == "3.2"]
    assert len(hires) == 1 and hires[0].count == 34 and hires[0].amount == "1,500.00" and hires[0].total == "51,000.00"
    assert hires[0].subjects[0][0] == "C-0001"
    denied = [r for s in model.shops for r in s.rows if r.outcome == "denied"]
    assert denied == []  # rules that did not fire are listed only with --why-not
    one = report_model(run_, workshop="WS-003")
    assert [s.id for s in one.shops] == ["WS-003"]
    assert all(r.count == 1 for r in one.shops[0].rows) and len(one.shops[0].rows) >= 34


def test_the_report_is_callable_in_parts(policy):
    run_ = subsidy_rules.evaluate(policy, subsidy_rules.load_facts(EXAMPLE, policy), why_not=True)
    summary = summary_html(run_)
    assert summary.startswith('<section id="summary">') and 'href="#ws-WS-005"' in summary and "147,211.61" in summary
    section = workshop_html(run_, "WS-005")
    assert section.startswith('<section class="workshop" id="ws-WS-005">') and "未认定：" in section
    assert "<details open>" in section  # one workshop in full: its traces open
    with pytest.raises(KeyError, match="no workshop 'NOPE'"):
        workshop_html(run_, "NOPE")


def test_one_workshops_report_prints_its_traces(tmp_path):
    html = tmp_path / "ws.html"
    assert run("evaluate", POLICY, EXAMPLE, "--format", "html", "--workshop", "WS-001", "-o", html).exit_code == 0
    text = re.sub(r"\s+", "", _text(print_pdf(html, tmp_path / "ws.pdf")))
    assert "WS-001" in text and "WS-002" not in text and "车间目录" not in text
    assert "所用参数" in text and "金额=815−700=115→115.00" in text


# --- the trace people read ---------------------------------------------------------------------------------------

def _explain(*args, columns=2000):
    result = run("explain", POLICY, EXAMPLE, *args, env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def test_explain_speaks_the_policys_language_not_the_engines():
    out = _explain("--workshop", "WS-005")
    assert "== WS-005 本车间 · 3.1 认定为就业帮扶车间：未认定" in out  # not 未享受
    assert "== WS-005 本车间 · 4.4 取消就业帮扶车间称号：未取消称号" in out
    assert "✗ 公共投入场地的车间吸纳比例不低于60%：" in out and "5 ÷ 务工就业人员总数 10 人 低于" in out
    assert "企业规模 微型企业 不属于 中型企业、大型企业" in out  # codes as their labels
    for code in ("param(", "workshop.", "worker.", "sets.", "certification_labour_intensive", '"enterprise"', "true",
                 "false", "null"):
        assert code not in out, code


def _DATES(month):
    """The values a condition comparing a month with a hiring date (2022-08-01) read."""
    return {"month.start": dt.date(2022, month, 1), "worker.hired_on": dt.date(2022, 8, 1)}


_SAID = [  # (condition, values seen, held, what a person reads)
    ("worker.contract_months >= 6", {"worker.contract_months": 0}, False, "劳动合同期限 0 个月 低于 6"),
    ("worker.contract_months >= 6", {"worker.contract_months": 6}, True, "劳动合同期限 6 个月 不少于 6"),
    ("worker.contract_months < 6", {"worker.contract_months": 6}, False, "劳动合同期限 6 个月 不少于 6"),
    ("worker.contract_months <= 6", {"worker.contract_months": 7}, False, "劳动合同期限 7 个月 超过 6"),
    ("worker.contract_months > 6", {"worker.contract_months": 6}, False, "劳动合同期限 6 个月 不超过 6"),
    ("worker.contract_months == 6", {"worker.contract_months": 5}, False, "劳动合同期限 5 个月 不为 6"),
    ("worker.contract_months != 6", {"worker.contract_months": 6}, False, "劳动合同期限 6 个月"),  # not "6 为 6"
    ('workshop.entity_type == "enterprise"', {"workshop.entity_type": "enterprise"}, True, "经营主体类型 企业"),
    ('workshop.entity_type == "enterprise"', {"workshop.entity_type": "cooperative"}, False,
     "经营主体类型 农民专业合作社 不为 企业"),
    ('not (workshop.entity_type == "enterprise" and workshop.enterprise_size in ["medium", "large"])',
     {"workshop.entity_type": "enterprise", "workshop.enterprise_size": "micro"}, True,
     "企业规模 微型企业 不属于 中型企业、大型企业"),
    ("in_period(worker.hired_on, period)", {"worker.hired_on": dt.date(2021, 3, 1)}, False,
     "招用日期 2021-03-01 不在本期内"),
    ("in_period(worker.hired_on, period)", {"worker.hired_on": dt.date(2022, 8, 1)}, True,
     "招用日期 2022-08-01 在本期内"),
    # a failed `and`: the operand that failed (the last one read); a failed `or`: each of its operands failing
    ("worker.contract_months >= 6 and worker.contract_months < 12", {"worker.contract_months": 12}, False,
     "劳动合同期限 12 个月 不少于 12"),
    ("worker.contract_months < 6 or worker.contract_months > 12", {"worker.contract_months": 8}, False,
     "劳动合同期限 8 个月 不少于 6 且 劳动合同期限 8 个月 不超过 12"),
    ("not (worker.contract_months >= 6)", {"worker.contract_months": 8}, False, "劳动合同期限 8 个月 不少于 6"),
    ("worker.training.pre_job", {"worker.training.pre_job": False}, False, "开展岗前培训 否"),
    # dates compare as before and after (op.date.*), not as below and above; a failed one as what is the case
    ("month.start < worker.hired_on", _DATES(7), True, "当月首日 2022-07-01 早于 招用日期 2022-08-01"),
    ("month.start < worker.hired_on", _DATES(9), False, "当月首日 2022-09-01 不早于 招用日期 2022-08-01"),
    ("month.start >= worker.hired_on", _DATES(7), False, "当月首日 2022-07-01 早于 招用日期 2022-08-01"),
    ("month.start <= worker.hired_on", _DATES(9), False, "当月首日 2022-09-01 晚于 招用日期 2022-08-01"),
    ("month.start > worker.hired_on", _DATES(7), False, "当月首日 2022-07-01 不晚于 招用日期 2022-08-01"),
]


@pytest.mark.parametrize("text,seen,holds,said", _SAID, ids=[f"{t} {'holds' if h else 'fails'}" for t, _, h, _ in _SAID])
def test_a_condition_is_said_as_what_is_the_case(text, seen, holds, said):
    """A condition that failed reads as what is the case (0 months, below 6), never as the claim that failed (0
    months, at least 6), which a clerk would take for true under its ✗."""
    from subsidy_rules.views.speaker import Speaker
    from subsidy_rules.views.words import Words
    policy = subsidy_rules.load_policy(POLICY)
    assert Speaker(Words(policy), (), tuple(seen.items())).say(text, "", holds) == said


def test_a_failed_call_without_a_phrase_of_its_own_is_said_as_not_so():
    """A call the policy words (``func.<name>``) but gives no ``func.not.<name>`` phrase for reads as the policy's own
    op.not of the call, never an English default."""
    from subsidy_rules.views.speaker import Speaker
    from subsidy_rules.views.words import Words
    policy = subsidy_rules.load_policy(POLICY)
    policy.labels.pop("func.not.in_period")
    try:
        said = Speaker(Words(policy), (), (("worker.hired_on", dt.date(2021, 3, 1)),)).say(
            "in_period(worker.hired_on, period)", "", False)
    finally:
        policy.labels["func.not.in_period"] = "{0} 不在本期内"
    assert said == "并非（招用日期 2021-03-01 在本期内）"


def test_a_policy_without_the_dated_words_keeps_its_own_not_an_english_default():
    """Dates compared by a policy that words op.< but not op.date.< read with its op.< (低于), never "before"."""
    from subsidy_rules.views.speaker import Speaker
    from subsidy_rules.views.words import Words
    policy = subsidy_rules.load_policy(POLICY)
    kept = policy.labels.pop("op.date.<")
    try:
        said = Speaker(Words(policy), (), tuple(_DATES(7).items())).say("month.start < worker.hired_on", "", True)
    finally:
        policy.labels["op.date.<"] = kept
    assert said == "当月首日 2022-07-01 低于 招用日期 2022-08-01"


@pytest.mark.parametrize("reached,said", [
    ("4500", "T = 4,500.00 = H + N = 0.00 + 4,500.00 = 4,500.00：相等时按奖补，发放 3.5 就业帮扶基地阶梯式奖补"),
    ("4500.01", "T = 4,500.01 > H + N = 0.00 + 4,500.00 = 4,500.00：发放 3.5 就业帮扶基地阶梯式奖补"),
])
def test_the_top_up_comparison_names_a_tie_only_on_a_tie(reached, said):
    """T = H + N is a tie the reading settles for the award, and says so; T > H + N is not a tie."""
    from subsidy_rules.runtime import trace as T
    from subsidy_rules.views.reasons import _top_up
    from subsidy_rules.views.words import Words
    policy = subsidy_rules.load_policy(POLICY)
    event = T.TopUp("base_award_or_hiring_subsidy", "3.5", False, "base_award", "one_time_hiring_subsidy", Decimal(reached),
                    Decimal(0), Decimal(0), Decimal("4500"), Decimal(reached), True, "reached", None)
    assert _top_up(Words(policy), event)[1].strip() == said


def test_explain_shows_the_exclusivity_comparison_with_its_numbers():
    out = _explain("--workshop", "WS-003", "--worker", "C-0001")
    assert "T = 50,000.00 < H + N = 0.00 + 51,000.00 = 51,000.00：发放 3.2 一次性吸纳就业补助" in out
    assert "解读：\"阶梯性奖励政策与一次性吸纳就业补贴政策不重复享受\"，跨期判断" in out


def test_explain_lists_each_parameter_with_value_unit_date_and_source():
    out = _explain("--workshop", "WS-001", "--worker", "W-0001")
    assert "月最低工资标准（三类地区）：1,630 元/月，2021-10-01 起施行，至 2022-12-31；来源：山西省月最低工资标准（2021-10-01起执行）（取值尚未核实）" in out
    assert "兜底标准 = 兜底比例（当地月最低工资标准的50%） 50% × 月最低工资标准 1,630 元/月 = 815" in out
    assert "2022-08 不计入：✗ 因岗前培训、疫情影响、订单调整等原因收入减少：收入减少原因 未填报" in out


def test_explain_is_wrapped_to_the_terminal_width_with_its_indentation():
    out = _explain("--workshop", "WS-001", "--worker", "W-0001", columns=80)
    lines = out.splitlines()
    assert max(display_width(line) for line in lines) <= 80
    clause = next(n for n, line in enumerate(lines) if line.startswith("   条款 3.2 "))
    assert lines[clause + 1].startswith("     ") and not lines[clause + 1].startswith("      ")


def test_explain_on_a_gbk_console_falls_back_instead_of_crashing(tmp_path):
    out = tmp_path / "out.txt"
    env = dict(os.environ, PYTHONIOENCODING="gbk", COLUMNS="100")
    subsidy = Path(sys.executable).with_name("subsidy")
    with open(out, "wb") as fh:
        done = subprocess.run([str(subsidy), "explain", POLICY, EXAMPLE, "--workshop", "WS-001"], stdout=fh,
                              stderr=subprocess.PIPE, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    text = out.read_bytes().decode("gbk")
    assert "√ 脱贫户或监测户劳动力：是" in text and "✓" not in text and "发放 1,500.00 元" in text


def test_the_text_view_on_a_gbk_console_falls_back_instead_of_crashing(tmp_path):
    out = tmp_path / "out.txt"
    env = dict(os.environ, PYTHONIOENCODING="gbk")
    subsidy = Path(sys.executable).with_name("subsidy")
    with open(out, "wb") as fh:
        done = subprocess.run([str(subsidy), "evaluate", POLICY, EXAMPLE, "--format", "text"], stdout=fh,
                              stderr=subprocess.PIPE, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    text = out.read_bytes().decode("gbk")
    assert "未认定：3.1 认定为就业帮扶车间：× 公共投入场地" in text and "147,211.61" in text


def test_encodable_keeps_what_the_encoding_has_and_replaces_the_rest():
    assert encodable("✓ 是 ✗ → 😀", "gbk") == "√ 是 × → ?"  # GBK has √, × and →
    assert encodable("✓ 😀", "utf-8") == "✓ 😀"
    assert encodable("✓ ok", "ascii") == "? ok"


def test_one_money_formatter_groups_thousands_for_people_and_not_for_machines():
    assert money(Decimal("1234567.5"), grouped=True) == "1,234,567.50"
    assert money(Decimal("1234567.5")) == "1234567.50"
    assert money(Decimal("-100"), grouped=True) == "-100.00"
    # the plain form is remembered by value: equal amounts written in other ways write the same, and a signed zero
    # (equal to zero) keeps its own sign whichever comes first
    assert [money(Decimal(x)) for x in ("200", "200.00", "2E+2", "-0", "0", "-0.00", "0.00", "-50000", "50000")] == \
        ["200.00", "200.00", "200.00", "-0.00", "0.00", "-0.00", "0.00", "-50000.00", "50000.00"]
    assert money(Decimal("-50000"), grouped=True) == "-50,000.00"


# --- the workbook a finance office files ---------------------------------------------------------------------------

def test_the_workbook_says_where_its_figures_came_from_and_lists_what_pays_nothing_yet(tmp_path):
    from openpyxl import load_workbook
    facts = str(ROOT / "examples" / "county" / "2026-11.yaml")  # 3.8 waits for the average wage: pending decisions
    doc_result = run("evaluate", POLICY, facts)
    import json
    doc = json.loads(doc_result.stdout)
    path = tmp_path / "payouts.xlsx"
    assert run("evaluate", POLICY, facts, "--format", "xlsx", "-o", path).exit_code == 0
    book = load_workbook(path, data_only=True)
    assert book.sheetnames[0] == "运行信息"
    info = {row[0]: row[1] for row in book["运行信息"].iter_rows(min_row=2, values_only=True)}
    assert info["政策"] == "关于大力发展就业帮扶车间的若干政策措施" and info["文号"] == "晋巩固衔接办〔2022〕1号"
    assert info["期间"] == f"{doc['period']['start']} – {doc['period']['end']}"
    assert info["政策 sha256"] == doc["policy"]["sha256"] and info["数据 sha256"] == doc["facts_sha256"]
    assert info["工具及版本"] == f"subsidy-rules {subsidy_rules.__version__}" and info["引擎"] == "core"
    assert info["运行时间（UTC）"].endswith("+00:00")
    assert Decimal(str(info["发放合计（元）"])) == Decimal(doc["totals"]["granted"])
    # totals are values (cached, never a formula read as None), equal to the JSON's
    by_clause = {r[0]: r[2] for r in book["按条款汇总"].iter_rows(min_row=2, values_only=True) if r[0] != "合计"}
    assert {k: f"{Decimal(str(v)):.2f}" for k, v in by_clause.items()} == doc["totals"]["by_clause"]
    shops = list(book["按车间汇总"].iter_rows(min_row=2, values_only=True))
    assert shops[-1][0] == "合计" and Decimal(str(shops[-1][4])) == Decimal(doc["totals"]["granted"])
    assert all(r[4] is not None and r[5] is not None for r in shops)
    # what pays nothing now: one row per decision, with what it waits for
    for sheet, outcome in (("待定决定", "pending"), ("预警", "alert"), ("由各地结合实际确定事项", "discretionary"),
                           ("取消称号", "revoked")):
        rows = list(book[sheet].iter_rows(min_row=2, values_only=True))
        assert len(rows) == sum(d["outcome"] == outcome for d in doc["decisions"]), sheet
    pending = list(book["待定决定"].iter_rows(min_row=2, values_only=True))
    assert pending and all(r[8].startswith("待补充参数：全省在岗职工年平均工资（按统计年度） 2025-") for r in pending)
    # printed: A4 landscape, fitted to the width, the header on every page; filtered and frozen headers
    for sheet in book.worksheets:
        assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4 and sheet.page_setup.orientation == "landscape"
        assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth == 1
        assert sheet.page_setup.fitToHeight == 0 and sheet.print_title_rows == "$1:$1"
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    payouts = book["发放明细"]
    ids = payouts["M"][1:]
    assert payouts.column_dimensions["M"].width >= max(len(c.value or "") for c in ids)  # ids are not cut off


# --- golden files: reviewed by eye once, then compared (SUBSIDY_UPDATE_GOLDEN=1 writes them anew) -----------------

GOLDEN = ROOT / "tests" / "golden"
_IDS = re.compile(r"\b[0-9a-f]{20}\b|\b[0-9a-f]{12}…|\b[0-9a-f]{64}\b")


def _golden(name: str, text: str) -> None:
    """``text`` equals the golden file ``name``, decision ids and sha256 masked (they follow the policy file's bytes)."""
    masked = _IDS.sub(lambda m: "<id>" if len(m.group()) == 20 else "<sha256>", text)
    path = GOLDEN / name
    if os.environ.get("SUBSIDY_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(masked, encoding="utf-8")
    assert masked == path.read_text(encoding="utf-8"), f"{name} differs from tests/golden (review, then update)"


def test_golden_explain():
    _golden("explain_WS-001_W-0001.txt", _explain("--workshop", "WS-001", "--worker", "W-0001", columns=100))


def test_golden_text_view():
    result = run("evaluate", POLICY, EXAMPLE, "--format", "text")
    assert result.exit_code == 0
    _golden("text_facts_2022.txt", result.stdout)


def test_golden_html_workshop(policy):
    run_ = subsidy_rules.evaluate(policy, subsidy_rules.load_facts(EXAMPLE, policy), why_not=True)
    _golden("html_WS-003.html", workshop_html(run_, "WS-003", full=False))
