"""Rosters (issue 14): the template a county fills, facts from a workbook or a CSV folder, conversion, and hints
for a clerk's slips in every format, each at its cell or line."""
import csv
import datetime as dt
import json
import os
import re
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import subsidy_rules
from subsidy_rules.cli import main
from conftest import EXAMPLE, POLICY, ROOT

FORK = str(ROOT / "policies" / "examples" / "neighbour_province.yaml")
COUNTY = str(ROOT / "examples" / "county" / "2022-07.yaml")


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def decisions(policy_path, facts_path):
    policy = subsidy_rules.load_policy(policy_path)
    doc = subsidy_rules.to_json(subsidy_rules.evaluate(policy, subsidy_rules.load_facts(facts_path, policy)))
    return [(d["id"], d["outcome"], d.get("amount")) for d in doc["decisions"]], doc["totals"]


def _sheet_rows(ws):
    return [list(r) for r in ws.iter_rows(values_only=True)]


# --- the template ------------------------------------------------------------------------------------------------

def test_the_template_has_a_sheet_per_record_with_the_policys_words(tmp_path):
    out = tmp_path / "花名册.xlsx"
    result = run("template", POLICY, "-o", out)
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["填表说明", "下拉选项", "期间", "车间", "劳动力", "月度收入与社保", "贷款"]
    assert book["下拉选项"].sheet_state == "hidden"
    workers = book["劳动力"]
    header, codes, example = _sheet_rows(workers)[:3]
    assert header[:6] == ["帮扶车间编号", "劳动力编号", "户类别", "岗位", "性别", "出生日期"]
    assert codes[:6] == ["workshop_id", "id", "categories", "role", "sex", "birth_date"]
    assert str(example[0]).startswith("#")  # the example row is never read
    assert workers["F1"].comment.text.startswith("birth_date\n必填")
    assert workers["D1"].comment.text.startswith("role\n选填")
    assert workers["F1"].fill.fgColor.rgb != workers["D1"].fill.fgColor.rgb  # required columns marked
    assert workers.column_dimensions["F"].number_format == "yyyy-mm-dd"
    validations = {str(v.sqref).split(":")[0]: v.formula1 for v in workers.data_validations.dataValidation}
    lists = book["下拉选项"]
    sex_range = validations["E3"].split("!")[1].replace("$", "")
    assert [c.value for row in lists[sex_range] for c in row] == ["男", "女"]
    assert lists[sex_range.split(":")[0][0] + "1"].value == "性别"  # each list headed in the policy's words
    assert lists["A1"].value == "是/否"
    guide = [r for r in _sheet_rows(book["填表说明"]) if r and r[0] == "劳动力"]
    assert ["劳动力", "出生日期", "birth_date", "必填", "日期：YYYY-MM-DD"] in [r[:5] for r in guide]


def test_the_unfilled_template_reads_as_no_facts_yet(tmp_path):
    out = tmp_path / "t.xlsx"
    run("template", POLICY, "-o", out)
    result = run("evaluate", POLICY, out)
    assert result.exit_code == 1
    assert "error[roster.period_rows] 工作表“期间”只填一行：期间的开始和结束日期" in result.output


def test_a_forks_template_has_the_forks_codes(tmp_path):
    run("template", FORK, "-o", tmp_path / "fork.xlsx")
    run("template", POLICY, "-o", tmp_path / "parent.xlsx")
    fork = [c for col in openpyxl.load_workbook(tmp_path / "fork.xlsx")["下拉选项"].iter_cols(values_only=True) for c in col]
    parent = [c for col in openpyxl.load_workbook(tmp_path / "parent.xlsx")["下拉选项"].iter_cols(values_only=True)
              for c in col]
    assert "农村低收入人口" in fork and "农村低收入人口" not in parent
    run("template", FORK, "-o", tmp_path / "fork_csv", "--format", "csv")
    text = (tmp_path / "fork_csv" / "填表说明.csv").read_text(encoding="utf-8-sig")
    assert "农村低收入人口 (low_income)" in text


def test_a_csv_template_is_a_folder_of_utf8_files(tmp_path):
    run("template", POLICY, "-o", tmp_path / "t", "--format", "csv")
    names = sorted(os.listdir(tmp_path / "t"))
    assert names == sorted(["填表说明.csv", "期间.csv", "车间.csv", "劳动力.csv", "月度收入与社保.csv", "贷款.csv"])
    raw = (tmp_path / "t" / "劳动力.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel opens it as UTF-8
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[1][:3] == ["workshop_id", "id", "categories"] and rows[2][0].startswith("#")


# --- the round trip: a clerk fills the template ----------------------------------------------------------------------

def _fill_like_a_clerk(template_path, facts_yaml, out_path):
    """Fill the template's sheets as a clerk types: labels from the drop-down lists, Excel dates, amounts as text with
    thousands separators, blank optional cells; the example rows overwritten."""
    policy = subsidy_rules.load_policy(POLICY)
    data = subsidy_rules.load_facts(facts_yaml, policy)
    book = openpyxl.load_workbook(template_path)
    codes = {name: [c.value for c in book[name][2] if c.value] for name in ("期间", "车间", "劳动力", "月度收入与社保", "贷款")}
    labels = {}
    for vocab in policy.vocabularies.values():
        for code, label in vocab.codes.items():
            labels[code] = label

    def put(sheet, record, links=None):
        ws = book[sheet]
        row = ws.max_row + 1
        for col, code in enumerate(codes[sheet], 1):
            if code.endswith("_id") and links is not None:
                value = links[code]
            else:
                value = record
                for part in code.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, bool):
                value = "是" if value else "否"
            elif isinstance(value, list):
                value = "、".join(labels.get(v, v) for v in value)
            elif isinstance(value, str) and value in labels and code not in ("id",):
                value = labels[value]
            elif code == "wage_area":
                value = labels[str(value)]
            elif code in ("income",) and value is not None and value >= 1000:
                value = f"{value:,}"  # text with a thousands separator
            elif hasattr(value, "as_tuple"):
                value = float(value)
            ws.cell(row=row, column=col, value=value)

    for sheet in ("期间", "车间", "劳动力", "月度收入与社保", "贷款"):
        book[sheet].delete_rows(3)  # the example row (and its note)
    put("期间", {"start": data.period_start, "end": data.period_end})
    for ws in data.workshops:
        put("车间", {k: v for k, v in ws.items() if k not in ("headcount", "workers", "loans")} |
            ({"headcount": ws["headcount"]} if "headcount" in ws else {}), {})
        for w in ws["workers"]:
            put("劳动力", w, {"workshop_id": ws["id"]})
            for m in w["months"]:
                put("月度收入与社保", m, {"workshop_id": ws["id"], "worker_id": w["id"]})
        for loan in ws["loans"]:
            put("贷款", loan, {"workshop_id": ws["id"]})
    book.save(out_path)


@pytest.mark.parametrize("facts", [EXAMPLE, COUNTY])
def test_a_filled_template_gives_the_decisions_of_the_yaml_example(tmp_path, facts):
    run("template", POLICY, "-o", tmp_path / "t.xlsx")
    _fill_like_a_clerk(tmp_path / "t.xlsx", facts, tmp_path / "filled.xlsx")
    assert decisions(POLICY, str(tmp_path / "filled.xlsx")) == decisions(POLICY, facts)


@pytest.mark.parametrize("facts", [EXAMPLE, COUNTY])
def test_convert_round_trips_through_every_format(tmp_path, facts):
    expected = decisions(POLICY, facts)
    policy = subsidy_rules.load_policy(POLICY)
    original = subsidy_rules.load_facts(facts, policy)
    current = facts
    for target in ("a.xlsx", "b", "c.json", "d.yaml", "e.xlsx"):
        result = run("facts", "convert", current, "-o", tmp_path / target, "--policy", POLICY)
        assert result.exit_code == 0, result.output
        current = tmp_path / target
        assert decisions(POLICY, str(current)) == expected, target
        again = subsidy_rules.load_facts(str(current), policy)
        assert _without_nulls(again.workshops) == _without_nulls(original.workshops), target
        assert (again.period_start, again.period_end) == (original.period_start, original.period_end)


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_nulls(v) for v in value]
    return value


def test_the_bundled_county_workbook_is_the_yaml_month(tmp_path):
    workbook = ROOT / "examples" / "county" / "2022-07.xlsx"
    assert decisions(POLICY, str(workbook)) == decisions(POLICY, COUNTY)


def test_verify_and_explain_take_a_workbook(tmp_path):
    book = tmp_path / "m.xlsx"
    run("facts", "convert", COUNTY, "-o", book, "--policy", POLICY)
    out = tmp_path / "d.json"
    assert run("evaluate", POLICY, book, "-o", out).exit_code == 0
    result = run("verify", out, book)
    assert result.exit_code == 0 and "核验通过" in result.output
    result = run("explain", POLICY, book, "--workshop", "WS-L01", "--worker", "E-01")
    label = subsidy_rules.load_policy(POLICY).rule("social_insurance_subsidy").label
    assert result.exit_code == 0 and f"E-01 · 3.8 {label}：发放" in result.output  # the worker's 3.8 grant, explained


def test_ledger_carry_in_takes_a_csv_folder(tmp_path):
    folder = tmp_path / "csv"
    run("facts", "convert", COUNTY, "-o", folder, "--policy", POLICY)
    url = tmp_path / "ledger.db"
    assert run("ledger", "init", url).exit_code == 0
    result = run("ledger", "carry-in", url, POLICY, folder, "--reason", "county records")
    assert result.exit_code == 0, result.output
    assert "个历史条目作为批次 1（" in result.output


# --- slips, in a workbook, a CSV folder and YAML: one message each, at the cell, saying what to type ---------------

def _county_workbook(tmp_path, edit):
    """The county month as a workbook, with ``edit(book)`` applied."""
    path = tmp_path / "m.xlsx"
    run("facts", "convert", COUNTY, "-o", path, "--policy", POLICY)
    book = openpyxl.load_workbook(path)
    edit(book)
    book.save(path)
    return path


def _county_csv(tmp_path, sheet, row, column, value, encoding="utf-8-sig"):
    folder = tmp_path / "csv"
    run("facts", "convert", COUNTY, "-o", folder, "--policy", POLICY)
    path = folder / f"{sheet}.csv"
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    rows[row - 1][column] = value
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return folder


def _set(sheet, ref, value):
    def edit(book):
        book[sheet][ref] = value
    return edit


WORKBOOK_SLIPS = {
    "slash date": (_set("劳动力", "F3", "1988/05/17"),
                   "m.xlsx 劳动力!F3 出生日期: error[facts.invalid_value] 车间 WS-L01，劳动力 B-01：'1988/05/17' 不是日期; 请写成 1988-05-17"),
    "dotted date": (_set("劳动力", "H4", "2022.01.10"),
                    "m.xlsx 劳动力!H4 入职日期: error[facts.invalid_value] 车间 WS-L01，劳动力 B-02：'2022.01.10' 不是日期; 请写成 2022-01-10"),
    "full-width digits": (_set("月度收入与社保", "D3", "２６００"),
                          "m.xlsx 月度收入与社保!D3 月收入（元）: error[facts.invalid_value] 车间 WS-L01，劳动力 B-01，月份 2022-07："
                          "'２６００' 不是金额：应为 0 或正数（小于 10^15，最多 10 位小数）; “２６００”含全角字符：请用半角输入“2600”"),
    "misspelt code": (_set("劳动力", "E3", "femal"),
                      "m.xlsx 劳动力!E3 性别: error[facts.unknown_code] “femal”不是“性别”的代码或名称; 是否应为“女”（代码 female）？"),
    "misspelt column": (_set("劳动力", "J2", "contract_month"),
                        "m.xlsx 劳动力!J2 contract_month: error[roster.unknown_column] “contract_month”不是工作表“劳动力”的列; "
                        "是否应为“contract_months”？"),
    "unknown workshop": (_set("劳动力", "A5", "WS-L0l"),
                         "m.xlsx 劳动力!A5 帮扶车间编号: error[roster.unknown_link] 工作表“车间”中没有编号为“WS-L0l”的车间; "
                         "是否应为“WS-L01”？ 此行其他单元格在编号更正后再检查"),
    "blank required": (_set("劳动力", "E4", None),
                       "m.xlsx 劳动力!E4 性别: error[facts.missing] 车间 WS-L01，劳动力 B-02：必填项 sex 未填写"),
    "formula without a value": (_set("车间", "E3", "=1+2"),
                                "m.xlsx 车间!E3 最低工资标准地区类别: error[roster.formula] 公式 =1+2 没有保存的计算结果："
                                "请在 Excel 中打开并保存，或直接填写数值"),
}


@pytest.mark.parametrize("name", sorted(WORKBOOK_SLIPS))
def test_a_slip_in_a_workbook_is_named_at_its_cell(tmp_path, name):
    edit, expected = WORKBOOK_SLIPS[name]
    path = _county_workbook(tmp_path, edit)
    result = run("evaluate", POLICY, path)
    assert result.exit_code == 1
    lines = [line.replace(str(tmp_path) + os.sep, "") for line in result.output.splitlines() if "error[" in line]
    assert lines == [expected]


def test_every_slip_in_a_workbook_at_once_sorted(tmp_path):
    def edit(book):
        for _, (change, _) in WORKBOOK_SLIPS.items():
            if change is not WORKBOOK_SLIPS["formula without a value"][0]:
                change(book)
    result = run("evaluate", POLICY, _county_workbook(tmp_path, edit))
    lines = [line for line in result.output.splitlines() if "error[" in line]
    assert len(lines) == len(WORKBOOK_SLIPS) - 1 and result.output.splitlines()[-1] == "7 个错误"
    order = ["期间", "车间", "劳动力", "月度收入与社保", "贷款"]  # the roster's sheets, in the template's order
    cells = [(order.index(line.split(" ")[1].split("!")[0]),
              int(line.split("!")[1].split()[0].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")),
              line.split("!")[1].split()[0].rstrip("0123456789")) for line in lines]
    assert cells == sorted(cells) and len({c[0] for c in cells}) == 2  # sheet by sheet, then by row and column


def test_a_required_column_misspelt_is_said_once_not_on_every_row(tmp_path):
    """Both header rows of 性别 misspelt: the column is unknown and the required one missing, said once each; the
    rows' missing values of a column the sheet lacks are not listed again (a new user's roster gave 383 of them)."""
    def edit(book):
        book["劳动力"]["E1"] = "姓别"
        book["劳动力"]["E2"] = "sexx"
    result = run("evaluate", POLICY, _county_workbook(tmp_path, edit))
    assert result.exit_code == 1
    codes = sorted(line.split("error[")[1].split("]")[0] for line in result.output.splitlines() if "error[" in line)
    assert codes == ["roster.missing_column", "roster.unknown_column"], result.output
    # a blank cell of a column that is there is still named at its cell
    def blank(book):
        edit(book)
        book["劳动力"]["F4"] = None
    also = run("evaluate", POLICY, _county_workbook(tmp_path, blank))
    assert "劳动力!F4" in also.output and "facts.missing" in also.output


def test_amounts_with_separators_excel_dates_and_labels_are_read(tmp_path):
    def edit(book):
        book["月度收入与社保"]["D3"] = "2,600.00"
        book["劳动力"]["F3"] = dt.datetime(1988, 5, 17)
        book["劳动力"]["C3"] = "脱贫户"
        book["车间"]["E3"] = "三类地区"
        book["车间"]["J3"] = "是"
    path = _county_workbook(tmp_path, edit)
    assert decisions(POLICY, str(path)) == decisions(POLICY, COUNTY)


def test_a_formula_is_read_by_its_saved_value(tmp_path):
    path = tmp_path / "m.xlsx"
    run("facts", "convert", COUNTY, "-o", path, "--policy", POLICY)
    # write the formula with a cached value, as Excel saves it
    import zipfile
    src = zipfile.ZipFile(path)
    out = tmp_path / "f.xlsx"
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet4.xml":  # 车间
                data = re.sub(rb'<c r="E3"([^>]*)><v>3</v></c>', rb'<c r="E3"\1><f>1+2</f><v>3</v></c>', data)
                assert b"<f>1+2</f>" in data
            dst.writestr(item, data)
    assert decisions(POLICY, str(out)) == decisions(POLICY, COUNTY)


CSV_SLIPS = {
    "slash date": ("劳动力", 3, 5, "1988/05/17",
                   "csv/劳动力.csv:3:40 劳动力!F3 出生日期: error[facts.invalid_value] 车间 WS-L01，劳动力 B-01：'1988/05/17' 不是日期; 请写成 1988-05-17"),
    "thousands separator and full-width comma": (
        "月度收入与社保", 3, 3, "2，600",
        "csv/月度收入与社保.csv:3:21 月度收入与社保!D3 月收入（元）: error[facts.invalid_value] 车间 WS-L01，劳动力 B-01，月份 2022-07："
        "'2，600' 不是金额：应为 0 或正数（小于 10^15，最多 10 位小数）; "
        "“2，600”含全角字符：请用半角输入“2600”"),
    "misspelt code": ("劳动力", 3, 3, "female",  # a code in the role column: did you mean
                      "csv/劳动力.csv:3:32 劳动力!D3 岗位: error[facts.unknown_code] “female”不是“岗位”的代码或名称; "
                      "可填：生产人员 (production), 管理人员 (management), 技术人员 (technical)"),
}


@pytest.mark.parametrize("name", sorted(CSV_SLIPS))
def test_a_slip_in_a_csv_folder_is_named_at_its_line_and_cell(tmp_path, name):
    sheet, row, column, value, expected = CSV_SLIPS[name]
    folder = _county_csv(tmp_path, sheet, row, column, value)
    result = run("evaluate", POLICY, folder)
    assert result.exit_code == 1
    lines = [line.replace(str(tmp_path) + os.sep, "") for line in result.output.splitlines() if "error[" in line]
    assert lines == [expected]


def test_a_gb18030_csv_folder_needs_its_encoding_named(tmp_path):
    folder = _county_csv(tmp_path, "车间", 3, 1, "临县帮扶车间", encoding="gb18030")
    result = run("evaluate", POLICY, folder)
    assert result.exit_code == 1
    assert ("车间.csv:1:1: error[file.encoding] 不是 UTF-8 编码的文本（第 0 字节）; 文件像是 GBK/GB18030 编码（中文 Windows）："
            "请另存为 UTF-8，或加上 --encoding gb18030") in result.output.replace(str(folder) + os.sep, "")
    # every file of the folder is read in the encoding named: convert the others too
    for name in os.listdir(folder):
        text = (folder / name).read_text(encoding="utf-8-sig") if name != "车间.csv" else None
        if text is not None:
            (folder / name).write_text(text, encoding="gb18030")
    assert decisions_cli(folder, "--encoding", "gb18030") == decisions(POLICY, COUNTY)[0]


def decisions_cli(facts, *options):
    result = run("evaluate", POLICY, facts, *options)
    assert result.exit_code == 0, result.output
    return [(d["id"], d["outcome"], d.get("amount")) for d in json.loads(result.output)["decisions"]]


GOOD_WORKSHOP = """  - id: WS-1
    wage_area: 3
    entity_type: cooperative
    workers:
"""
PERIOD = "period: {start: 2022-07-01, end: 2022-12-31}\nworkshops:\n"
WORKER = ("      - {id: W1, categories: [poverty_alleviated], sex: male, birth_date: 1980-01-01, hired_on: 2022-07-01, "
          "months: [{month: 2022-07, income: 700}]}\n")

YAML_SLIPS = {
    "thousands separator in { }": (
        WORKER.replace("income: 700", "income: 1,500"),
        'facts.yaml:7:148: error[facts.unknown_field] 车间 WS-1，劳动力 W1，月份 2022-07：没有名为 500 的字段 (at /workshops/0'
        '/workers/0/months/0/500); 在 { } 中逗号分隔各项，income: 1,500 被读成了两项；请写成 income: 1500（不要千分位逗号）'),
    "full-width colon": (
        "      - id: W1\n        categories: [poverty_alleviated]\n        sex: male\n        birth_date：1975-04-02\n"
        "        hired_on: 2022-07-01\n",
        "facts.yaml:10:19: error[yaml.syntax] 不是有效的 YAML：找不到这一行应有的冒号“:”; "
        "“：”是全角字符：此处应为半角“:”（冒号后加一个空格）"),
    "full-width digits": (
        WORKER.replace("income: 700", "income: ７００"),
        "facts.yaml:7:143: error[facts.invalid_value] 车间 WS-1，劳动力 W1，月份 2022-07：'７００' 不是金额：应为 0 或正数（小于 10^15，"
        '最多 10 位小数） (at /workshops/0/workers/0/months/0/income); “７００”含全角字符：请用半角输入“700”'),
    "slash date": (
        WORKER.replace("birth_date: 1980-01-01", "birth_date: 1980/01/01"),
        "facts.yaml:7:75: error[facts.invalid_value] 车间 WS-1，劳动力 W1：'1980/01/01' 不是日期 (at /workshops/0/worker"
        's/0/birth_date); 请写成 1980-01-01'),
    "dotted date": (
        WORKER.replace("hired_on: 2022-07-01", "hired_on: 2022.7.1"),
        "facts.yaml:7:97: error[facts.invalid_value] 车间 WS-1，劳动力 W1：'2022.7.1' 不是日期 (at /workshops/0/workers/"
        '0/hired_on); 请写成 2022-07-01'),
    "slash month": (
        WORKER.replace("month: 2022-07", "month: 2022/7"),
        "facts.yaml:7:126: error[facts.invalid_value] 车间 WS-1，劳动力 W1，月份 2022/7：'2022/7' 不是 1900-01 至 2200-12 "
        '之间的月份 (at /workshops/0/workers/0/months/0/month); 请写成 2022-07'),
    "misspelt field": (
        WORKER.replace("hired_on: 2022-07-01,", "hired_on: 2022-07-01, contract_month: 6,"),
        'facts.yaml:7:125: error[facts.unknown_field] 车间 WS-1，劳动力 W1：没有名为 contract_month 的字段 (at /workshops/0'
        '/workers/0/contract_month); 是否应为“contract_months”？'),
    "misspelt code": (
        WORKER.replace("sex: male", "sex: mal"),
        "facts.yaml:7:57: error[facts.unknown_code] 车间 WS-1，劳动力 W1：'mal' 不是“性别”的代码或名称 (at /workshops/0/worker"
        's/0/sex); 是否应为“男”（代码 male）？'),
    "comma in text in { }": (
        WORKER.replace("{id: W1,", "{id: W1, role: production, 临时,"),
        'facts.yaml:7:38: error[facts.unknown_field] 车间 WS-1，劳动力 W1：没有名为 临时 的字段 (at /workshops/0/workers/0/临时'
        '); 在 { } 中逗号分隔各项，role: production, 临时 被截成了两段；请给文字加引号：role: "production, 临时"'),
}


@pytest.mark.parametrize("name", sorted(YAML_SLIPS))
def test_a_slip_in_yaml_gets_one_message_saying_what_to_type(write, name):
    worker, expected = YAML_SLIPS[name]
    path = write("facts.yaml", PERIOD + GOOD_WORKSHOP + worker)
    result = run("evaluate", POLICY, path)
    assert result.exit_code == 1
    lines = [line.replace(str(Path(path).parent) + os.sep, "") for line in result.output.splitlines() if "error[" in line]
    assert lines == [expected]


def test_a_gbk_yaml_file_says_so(tmp_path):
    path = tmp_path / "facts.yaml"
    path.write_bytes((PERIOD + "  - {id: WS-1, name: 临县, wage_area: 3, entity_type: cooperative}\n").encode("gbk"))
    result = run("evaluate", POLICY, path)
    assert result.exit_code == 1
    assert "facts.yaml:3:22: error[file.encoding] 不是 UTF-8 编码的文本（第 77 字节）; 文件像是 GBK/GB18030 编码（中文 Windows）：" \
           "请另存为 UTF-8，或加上 --encoding gb18030" in result.output
    assert run("evaluate", POLICY, path, "--encoding", "gb18030").exit_code == 0


def test_policy_and_facts_swapped_is_one_problem():
    result = run("evaluate", EXAMPLE, POLICY)
    assert result.exit_code == 1
    assert result.output.count("error[") == 1
    assert (f"error[input.swapped] {EXAMPLE} 是数据文件而不是政策文件，{POLICY} 才是政策文件：POLICY 和 FACTS 的顺序写反了; "
            f"先写政策文件，再写数据文件：在 subsidy evaluate 中把 {POLICY} 写在 {EXAMPLE} 之前") in result.output
    # a subcommand is named whole (the hint used to say `subsidy carry-in`, which does not exist)
    nested = run("ledger", "carry-in", "sqlite:///unused.db", EXAMPLE, POLICY, "--reason", "x")
    assert nested.exit_code == 1 and "在 subsidy ledger carry-in 中把" in nested.output


def test_a_long_json_line_is_cut_around_the_column(write):
    data = json.loads(json.dumps({"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [
        {"id": f"WS-{i}", "wage_area": 3, "entity_type": "cooperative"} for i in range(800)]}))
    data["workshops"][400]["wage_area"] = "three"
    path = write("facts.json", json.dumps(data))
    assert len(Path(path).read_text()) > 30000
    result = run("evaluate", POLICY, path)
    assert result.exit_code == 1
    assert max(len(line) for line in result.output.splitlines()) < 300
    assert "'three'" in result.output


ROSTER_PROBLEMS = {
    "a row naming no workshop": (_set("劳动力", "A3", None),
                                 "m.xlsx 劳动力!A3 帮扶车间编号: error[roster.blank_link] 此行未填所属工作表“车间”中的编号：请填写"),
    "two periods": (lambda book: book["期间"].append(["2022-08-01", "2022-08-31"]),
                    "m.xlsx 期间!A4: error[roster.period_rows] 工作表“期间”只填一行：期间的开始和结束日期"),
    "no column to link by": (lambda book: book["月度收入与社保"].delete_cols(1),
                             "m.xlsx 月度收入与社保!A2: error[roster.missing_column] 工作表“月度收入与社保”缺少必填列“帮扶车间编号”"
                             "（workshop_id）"),
    "a sheet the roster has not": (lambda book: book.create_sheet("工资表").append(["姓名", "工资"]),
                                   "m.xlsx: error[roster.unknown_sheet] 工作表“工资表”不属于花名册; 工作表有：期间, 车间, 劳动力, "
                                   "月度收入与社保, 贷款"),
    "a misspelt sheet": (lambda book: setattr(book["贷款"], "title", "贷款表"),
                         "m.xlsx: error[roster.unknown_sheet] 工作表“贷款表”不属于花名册; 是否应为“贷款”？"),
}


@pytest.mark.parametrize("name", sorted(ROSTER_PROBLEMS))
def test_a_roster_that_cannot_be_linked_says_where(tmp_path, name):
    edit, expected = ROSTER_PROBLEMS[name]
    result = run("evaluate", POLICY, _county_workbook(tmp_path, edit))
    assert result.exit_code == 1
    lines = [line.replace(str(tmp_path) + os.sep, "") for line in result.output.splitlines() if "error[" in line]
    assert lines == [expected]


def test_an_xls_workbook_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    result = run("evaluate", POLICY, path)
    assert result.exit_code == 1
    assert "error[roster.format] .xls 格式（Excel 97-2003）的工作簿无法读取; 请在 Excel 中另存为 .xlsx 格式后再使用" in result.output


def test_a_csv_folder_with_one_header_row_of_names_or_codes_is_read(tmp_path):
    folder = tmp_path / "csv"
    run("facts", "convert", COUNTY, "-o", folder, "--policy", POLICY)
    for name, drop in (("劳动力.csv", 1), ("车间.csv", 0)):  # names only; codes only
        lines = (folder / name).read_text(encoding="utf-8-sig").splitlines(keepends=True)
        del lines[drop]
        (folder / name).write_text("".join(lines), encoding="utf-8")
    assert decisions(POLICY, str(folder)) == decisions(POLICY, COUNTY)


def test_the_message_catalogs_say_the_same_things():
    import string
    import yaml
    root = ROOT / "engine" / "locale"
    en = yaml.safe_load((root / "en.yaml").read_text(encoding="utf-8"))["messages"]
    zh = yaml.safe_load((root / "zh.yaml").read_text(encoding="utf-8"))["messages"]
    assert set(en) == set(zh)
    fields = {lang: {key: {f[1] for f in string.Formatter().parse(text) if f[1]} for key, text in catalog.items()}
              for lang, catalog in (("en", en), ("zh", zh))}
    for key in en:
        assert {f.split("!")[0] for f in fields["en"][key]} == {f.split("!")[0] for f in fields["zh"][key]}, key


def test_every_pattern_of_a_catalog_fills_its_text_from_what_it_matches():
    """A pattern's text names only the groups its English form captures (and braces it means as text are doubled),
    so translating a matching sentence can never fail."""
    import re
    import string
    import yaml
    for lang in ("zh",):
        patterns = yaml.safe_load((ROOT / "engine" / "locale" / f"{lang}.yaml").read_text(encoding="utf-8"))["patterns"]
        for entry in patterns:
            groups = set(re.compile(entry["en"], re.S).groupindex)
            named = {f[1] for f in string.Formatter().parse(entry["text"]) if f[1] is not None}
            assert named <= groups, (entry["en"], named - groups)
            entry["text"].format(**{g: "x" for g in groups})


def test_a_workbook_row_is_read_into_the_document_a_yaml_file_gives(tmp_path):
    """The reader, by itself: the county workbook is the YAML month's document, value for value."""
    from subsidy_rules.facts.workbook import read_roster
    from subsidy_rules.source import read_file
    policy = subsidy_rules.load_policy(POLICY)
    doc, problems, gaps = read_roster(str(ROOT / "examples" / "county" / "2022-07.xlsx"), policy)
    assert problems == [] and gaps == frozenset()
    original = read_file(COUNTY).data
    assert _amounts(doc.data) == _amounts(original)
    cell = doc.locate("/workshops/0/workers/29/history/si_subsidy_months")
    assert (cell.sheet, cell.ref, cell.header) == ("劳动力", "P32", "此前已领社保补贴月数")


def _amounts(value):
    """A document with every amount as its number (640, 640.0 and "640.00" alike) and no nulls."""
    from decimal import Decimal, InvalidOperation
    if isinstance(value, dict):
        return {k: _amounts(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_amounts(v) for v in value]
    if isinstance(value, (int, Decimal, str)) and not isinstance(value, bool):
        try:
            return Decimal(str(value)).normalize()
        except InvalidOperation:
            return value
    return value


def test_a_workbook_kept_under_another_name_is_read_as_a_workbook(tmp_path):
    """An upload saved without its extension (the web app's case) is still a workbook."""
    import shutil
    upload = tmp_path / "upload-0001"
    shutil.copy(ROOT / "examples" / "county" / "2022-07.xlsx", upload)
    assert decisions(POLICY, str(upload)) == decisions(POLICY, COUNTY)


def test_yaml_and_json_convert_without_a_policy_but_a_roster_needs_one(tmp_path):
    assert run("facts", "convert", EXAMPLE, "-o", tmp_path / "f.json").exit_code == 0
    assert run("facts", "convert", tmp_path / "f.json", "-o", tmp_path / "f.yaml").exit_code == 0
    assert decisions(POLICY, str(tmp_path / "f.yaml")) == decisions(POLICY, EXAMPLE)
    result = run("facts", "convert", tmp_path / "f.json", "-o", tmp_path / "f.xlsx")
    assert result.exit_code == 2 and "give --policy POLICY" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("period: {start: 2022/07/01, end: 2022-07-31}\n", encoding="utf-8")
    result = run("facts", "convert", bad, "-o", tmp_path / "bad.json")
    assert result.exit_code == 1 and not (tmp_path / "bad.json").exists()
    assert "'2022/07/01' must be a date written YYYY-MM-DD (at /period/start); write 2022-07-01" in result.output


def test_an_empty_extra_sheet_is_left_alone(tmp_path):
    path = _county_workbook(tmp_path, lambda book: book.create_sheet("Sheet1"))
    assert decisions(POLICY, str(path)) == decisions(POLICY, COUNTY)


# --- any cell is answered: read, or refused at its place; never a crash ------------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_CELLS = st.one_of(
    st.none(), st.booleans(), st.integers(-10 ** 20, 10 ** 20),
    st.floats(allow_nan=True, allow_infinity=True), st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)),
    st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2200, 12, 31)),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
    st.sampled_from(["1,500", "２６００", "1988/05/17", "2022.7", "是", "否", "男", "脱贫户、监测户", "=1+2", "#x", "WS-L0l"]),
)


@pytest.mark.fuzz
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sheet=st.sampled_from(["期间", "车间", "劳动力", "月度收入与社保"]), row=st.integers(1, 5),
       column=st.integers(1, 22), value=_CELLS)
def test_any_cell_is_read_or_refused_where_it_stands(tmp_path, sheet, row, column, value):
    policy = subsidy_rules.load_policy(POLICY)
    book = openpyxl.load_workbook(ROOT / "examples" / "county" / "2022-07.xlsx")
    try:
        book[sheet].cell(row=row, column=column, value=value)
    except (ValueError, TypeError):  # openpyxl itself refuses the value: nothing to read
        return
    path = tmp_path / "m.xlsx"
    book.save(path)
    try:
        subsidy_rules.load_facts(str(path), policy)
    except subsidy_rules.InvalidInput as exc:
        assert exc.problems and all(str(p) for p in exc.problems)
        assert all(p.location.file == str(path) for p in exc.problems)


def test_a_machines_report_of_a_roster_problem_names_its_sheet_cell_and_header(tmp_path):
    """Problem.to_dict (the API's and --format json's problems) keeps where the clerk typed it, not only line and col."""
    path = _county_workbook(tmp_path, _set("劳动力", "F3", "1988/05/17"))
    policy = subsidy_rules.load_policy(POLICY)
    with pytest.raises(subsidy_rules.InvalidInput) as caught:
        subsidy_rules.load_facts(path, policy)  # a pathlib.Path, as a library user passes it
    [problem] = [p.to_dict() for p in caught.value.problems]
    assert (problem["code"], problem["sheet"], problem["cell"], problem["header"]) == (
        "facts.invalid_value", "劳动力", "F3", "出生日期")
    assert problem["pointer"] == "/workshops/0/workers/0/birth_date"
