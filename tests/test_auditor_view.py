"""The auditor's view: one-line reasons, verify, and exports whose sums equal the JSON totals to the fen."""
import csv
import io
import json
from decimal import Decimal
from html.parser import HTMLParser

from click.testing import CliRunner
from openpyxl import load_workbook

from subsidy_rules.cli import main
from conftest import EXAMPLE, POLICY


def run(*args):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def _json(*extra):
    result = run("evaluate", POLICY, EXAMPLE, *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_every_rule_that_did_not_fire_has_a_one_line_reason():
    doc = _json("--why-not")
    denied = [d for d in doc["decisions"] if d["outcome"] == "denied"]
    assert len(denied) > 100
    for d in denied:
        assert d["reason"].startswith(d["clause"] + " ") and "\n" not in d["reason"] and len(d["reason"]) < 240, d["reason"]
    cert = next(d for d in denied if d["workshop"] == "WS-005" and d["rule"] == "certification")
    assert cert["reason"] == "3.1 认定为就业帮扶车间 not certified: 公共投入场地的车间吸纳比例不低于60%: not true or 5 / 10 >= 0.6 is false"
    training = [d for d in doc["decisions"] if d["outcome"] == "denied" and d["rule"] == "pre_job_training_subsidy"
                and "按需开展职业技能岗前培训" in d["reason"]]
    assert training and all(d["reason"].endswith(": worker.training.pre_job is false") for d in training)  # not "false is false"


def test_the_run_is_recorded():
    doc = _json()
    assert doc["run"]["tool"] == "subsidy-rules" and doc["run"]["version"]
    assert doc["run"]["ran_at"].endswith("+00:00")
    assert doc["policy"]["files"] == [{"path": POLICY, "sha256": doc["policy"]["sha256"]}]
    assert len(doc["facts_sha256"]) == 64


def test_verify_passes_on_an_untouched_file_and_names_an_edited_decision(tmp_path):
    path = tmp_path / "decisions.json"
    assert run("evaluate", POLICY, EXAMPLE, "--why-not", "-o", str(path)).exit_code == 0
    ok = run("verify", str(path), EXAMPLE)
    assert ok.exit_code == 0 and "核验通过：" in ok.output and "中全部 2332 项决定重新测算后完全一致" in ok.output, ok.output

    doc = json.loads(path.read_text(encoding="utf-8"))
    target = next(d for d in doc["decisions"] if d["worker"] == "W-0002" and d["clause"] == "3.8")
    target["amount"] = "2340.00"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    line = next(n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if '"2340.00"' in text)
    bad = run("verify", str(path), EXAMPLE)
    assert bad.exit_code == 1
    assert f"decisions.json:{line}:" in bad.output
    assert f"决定 {target['id']}（WS-001 worker W-0002, clause 3.8 social_insurance_subsidy）：amount 记录为 '2340.00'，重新测算为 " \
        "'2240.00'" in bad.output  # in the policy's language; the decision named by id, subject, clause and rule


def test_verify_refuses_other_facts(tmp_path, write):
    path = tmp_path / "decisions.json"
    run("evaluate", POLICY, EXAMPLE, "-o", str(path))
    other = write("facts.yaml", open(EXAMPLE, encoding="utf-8").read().replace("income: 700", "income: 701"))
    result = run("verify", str(path), other)
    assert result.exit_code == 1 and "verify.facts_changed" in result.output


def test_csv_has_a_row_per_decision_and_sums_to_the_json_total():
    doc = _json("--why-not")
    result = run("evaluate", POLICY, EXAMPLE, "--why-not", "--format", "csv")
    assert result.output.startswith("\ufeff")  # the byte-order mark Excel needs to read UTF-8 (--no-bom: none)
    rows = list(csv.DictReader(io.StringIO(result.output[1:])))
    assert len(rows) == len(doc["decisions"])
    assert [r["decision_id"] for r in rows] == [d["id"] for d in doc["decisions"]]
    granted = sum(Decimal(r["amount"]) for r in rows if r["outcome"] == "granted")
    assert granted == Decimal(doc["totals"]["granted"])
    assert rows[0].keys() >= {"workshop", "city", "county", "worker", "clause", "outcome", "amount", "fund", "decision_id"}


def test_the_xlsx_workbook_sums_equal_the_json_totals(tmp_path):
    doc = _json()
    path = tmp_path / "payouts.xlsx"
    result = run("evaluate", POLICY, EXAMPLE, "--format", "xlsx", "-o", str(path))
    assert result.exit_code == 0, result.output
    book = load_workbook(path, data_only=True)  # as pandas reads it: cached values, never a formula's None
    assert book.sheetnames == ["运行信息", "发放明细", "按资金来源汇总", "按条款汇总", "按县汇总", "按车间汇总",
                               "由各地结合实际确定事项", "预警", "待定决定", "取消称号", "未享受及原因"]
    lost = [r for r in book["未享受及原因"].iter_rows(min_row=2, values_only=True)]  # without why-not: only what lost
    assert len(lost) == sum(1 for d in doc["decisions"] if d["outcome"] == "suppressed") > 0  # to its exclusive partner
    payouts = book["发放明细"]
    header = [c.value for c in payouts[1]]
    assert header[:4] == ["帮扶车间编号", "帮扶车间名称", "市", "县（市、区）"]
    amount_col = header.index("金额（元）")
    amounts = [row[amount_col] for row in payouts.iter_rows(min_row=2, values_only=True) if row[0] != "合计"]
    assert all(isinstance(a, (int, float, Decimal)) for a in amounts)
    assert Decimal(str(sum(Decimal(str(a)) for a in amounts))) == Decimal(doc["totals"]["granted"])
    by_fund = {row[1]: Decimal(str(row[2])) for row in book["按资金来源汇总"].iter_rows(min_row=2, values_only=True) if row[1]}
    assert {k: str(v.quantize(Decimal("0.01"))) for k, v in by_fund.items()} == doc["totals"]["by_funding_source"]
    counties = [row for row in book["按县汇总"].iter_rows(min_row=2, values_only=True)]
    assert sum(Decimal(str(r[2])) for r in counties if r[0] != "合计") == Decimal(doc["totals"]["granted"])
    assert any(r[:2] == ("吕梁市", "临县") for r in counties)


def test_a_why_not_workbook_and_csv_say_why_each_rule_did_not_grant(tmp_path):
    """With --why-not the workbook has a sheet of what was not granted, each with the line the text view gives (in
    the policy's words, the failed condition said as what is the case); the CSV gives the same line as `reason`."""
    path = tmp_path / "why.xlsx"
    assert run("evaluate", POLICY, EXAMPLE, "--why-not", "--format", "xlsx", "-o", str(path)).exit_code == 0
    book = load_workbook(path)
    assert book.sheetnames[-1] == "未享受及原因"
    rows = list(book["未享受及原因"].iter_rows(values_only=True))
    header, rows = rows[0], rows[1:]
    detail = header.index("说明")
    doc = _json("--why-not")
    assert len(rows) == sum(1 for d in doc["decisions"] if d["outcome"] in ("denied", "suppressed"))
    said = {(r[0], r[4], r[5], r[detail]) for r in rows}
    assert ("WS-001", "劳动力 W-0004", "3.3",
            "✗ 签订半年以上劳动合同：劳动合同期限 0 个月 低于 稳岗补贴劳动合同期限下限（半年以上，含半年） 6 个月") in said
    assert ("WS-001", "本车间", "4.4", "仅适用于本期之前已持有就业帮扶车间称号的车间") in said
    assert any(r[header.index("结果")] == "未取消称号" for r in rows)  # a revocation that did not happen, as the text view
    csv_rows = list(csv.DictReader(io.StringIO(run("evaluate", POLICY, EXAMPLE, "--why-not", "--format",
                                                   "csv").output[1:])))
    reasons = {(r["workshop"], r["worker"], r["clause"]): r["reason"] for r in csv_rows}
    assert reasons[("WS-001", "W-0004", "3.3")].startswith("✗ 签订半年以上劳动合同：劳动合同期限 0 个月 低于")
    assert all(r["reason"] == "" for r in csv_rows if r["outcome"] == "granted")
    assert all(r["reason"] for r in csv_rows if r["outcome"] in ("denied", "suppressed"))
    lost = [r for r in csv_rows if r["outcome"] == "suppressed"]
    assert lost and all(r["amount"] == "" and r["fund"] == "" for r in lost)  # a column summed pays only what is paid
    assert all(d["amount"] for d in doc["decisions"] if d["outcome"] == "suppressed")  # the JSON: what it would have been


def test_xlsx_needs_an_output_file():
    assert run("evaluate", POLICY, EXAMPLE, "--format", "xlsx").exit_code == 2


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids, self.text = [], set(), []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") or (tag == "link"):
                self.links.append((tag, name, value))
            if name == "id":
                self.ids.add(value)

    def handle_data(self, data):
        self.text.append(data)


def test_the_html_report_renders_every_decision_with_its_trace_and_clause_and_fetches_nothing():
    doc = _json()
    result = run("evaluate", POLICY, EXAMPLE, "--format", "html")
    assert result.exit_code == 0
    page = _Collect()
    page.feed(result.output)
    fetched = [link for link in page.links if not (link[1] == "href" and link[2].startswith("#"))]
    assert fetched == []  # only links within the page (the index), each to an element there
    assert {link[2][1:] for link in page.links} <= page.ids and len(page.links) == 2 * 6  # index and back links
    assert {f"d-{d['id']}" for d in doc["decisions"]} <= page.ids
    text = "".join(page.text)
    assert "一次性吸纳就业补助标准从每人1200元提高到1500元" in text
    assert "金额 = 815 − 700 = 115 → 115.00" in text  # the trace in the policy's language
    assert "147,211.61" in text


def test_a_one_workshop_report():
    result = run("evaluate", POLICY, EXAMPLE, "--format", "html", "--workshop", "WS-004")
    assert result.exit_code == 0
    assert "WS-004" in result.output and "WS-001" not in result.output and "取消称号" in result.output
