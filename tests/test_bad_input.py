"""Bad input is refused: exit 1, a message naming where (line and column, or record and field), no traceback.

The bundled policy says report.lang zh-CN, so messages for people are in Chinese; the codes stay as they are."""
import pytest
from click.testing import CliRunner

from subsidy_rules.cli import main
from conftest import EXAMPLE, POLICY

GOOD_WORKSHOP = """  - id: WS-1
    wage_area: 3
    entity_type: cooperative
    workers:
      - {id: W1, categories: [poverty_alleviated], sex: male, birth_date: 1980-01-01, hired_on: 2022-07-01,
         months: [{month: 2022-07, income: 700}]}
"""
PERIOD = "period: {start: 2022-07-01, end: 2022-12-31}\n"


def run(*args):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


FACTS_CASES = {
    "not yaml": ("period: [unclosed\n", ["yaml.syntax", ":1:"]),
    "missing period": ("workshops: []\n", ["facts.missing", "必填项 period 未填写", ":1:1"]),
    "unknown category": (PERIOD + "workshops:\n" + GOOD_WORKSHOP.replace("[poverty_alleviated]", "[poor]"),
                         ["facts.unknown_code", "车间 WS-1，劳动力 W1", "'poor' 不是“户类别”的代码或名称", ":7:31"]),
    "negative income": (PERIOD + "workshops:\n" + GOOD_WORKSHOP.replace("income: 700", "income: -5"),
                        ["facts.invalid_value", "月份 2022-07", "-5 不是金额", ":8:44"]),
    "non-numeric income": (PERIOD + "workshops:\n" + GOOD_WORKSHOP.replace("income: 700", "income: lots"),
                           ["facts.invalid_value", "'lots'", ":8:44"]),
    "month 2022-13": (PERIOD + "workshops:\n" + GOOD_WORKSHOP.replace("month: 2022-07", "month: 2022-13"),
                      ["facts.invalid_value", "'2022-13' 不是 1900-01 至 2200-12 之间的月份", ":8:27"]),
    "date 2022-02-30": (PERIOD + "workshops:\n" + GOOD_WORKSHOP.replace("hired_on: 2022-07-01", "hired_on: 2022-02-30"),
                        ["facts.invalid_value", "'2022-02-30' 不是 1900-01-01 至 2200-12-31 之间的有效日期", "劳动力 W1"]),
    "duplicate worker id": (PERIOD + "workshops:\n" + GOOD_WORKSHOP + "      - {id: W1, categories: [], sex: male, birth_date: 1980-01-01, hired_on: 2022-07-01}\n",
                            ["facts.duplicate_id", "编号 W1 重复", ":9:14"]),
    "headcount below workers listed": (PERIOD + "workshops:\n" + GOOD_WORKSHOP.replace("    workers:", "    headcount: 0\n    workers:"),
                                       ["facts.headcount", "职工总数 0 少于所列劳动力人数 1", "车间 WS-1"]),
    "wage area 7": (PERIOD + "workshops:\n" + GOOD_WORKSHOP.replace("wage_area: 3", "wage_area: 7"),
                    ["facts.unknown_code", "7 不是“最低工资标准地区类别”的代码或名称", ":4:16"]),
    "python tag": ("period: !!python/object/apply:os.system ['echo hacked']\n", ["yaml.tag", ":1:9"]),
    "alias bomb": ("a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join(["*" + chr(97 + i)] * 9) + "]\n" for i in range(8)) + PERIOD,
        ["yaml.alias_bomb"]),
    "unknown field": (PERIOD + "workshops:\n" + GOOD_WORKSHOP.replace("wage_area: 3", "wage_area: 3\n    wage_aera: 3"),
                      ["facts.unknown_field", "没有名为 wage_aera 的字段", "是否应为“wage_area”"]),
    "duplicate key in facts": (PERIOD + PERIOD, ["yaml.duplicate_key", ":2:1"]),
    # a code's name misspelt (what a roster's drop-down offers): the name and the code it stands for
    "name of a code misspelt": (PERIOD + "workshops:\n" + GOOD_WORKSHOP.replace("sex: male", "sex: 男性"),
                                ["facts.unknown_code", "'男性' 不是“性别”的代码或名称", "是否应为“男”（代码 male）？"]),
    # a yearly rate typed as a percentage would pay a hundred times the interest: the policy's facts check refuses it
    "annual rate as a percentage": (PERIOD + "workshops:\n" + GOOD_WORKSHOP + "    loans:\n      - {id: L-1, type: "
                                    "startup_guarantee, principal: 100000, annual_rate: 3.85, start: 2022-08-01}\n",
                                    ["facts.annual_rate_as_fraction", "贷款 L-1", "0.0385", ":10:"]),
}


def test_an_annual_rate_just_under_one_is_still_read():
    """The check's boundary: a rate below 1 (however high) is a fraction and is decided."""
    text = (PERIOD + "workshops:\n" + GOOD_WORKSHOP + "    loans:\n      - {id: L-1, type: startup_guarantee, "
            "principal: 100000, annual_rate: 0.99, start: 2022-08-01}\n")
    result = CliRunner().invoke(main, ["evaluate", POLICY, "-", "-q", "--no-trace"], input=text)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", sorted(FACTS_CASES))
def test_bad_facts_are_refused_with_a_location(name, write):
    text, needles = FACTS_CASES[name]
    result = run("evaluate", POLICY, write("facts.yaml", text))
    assert result.exit_code == 1, result.output
    for needle in needles:
        assert needle in result.output, f"{needle!r} not in:\n{result.output}"


def test_no_file_can_run_code(write, tmp_path):
    marker = tmp_path / "ran"
    text = f"period: !!python/object/apply:os.system ['touch {marker}']\n"
    run("evaluate", POLICY, write("facts.yaml", text))
    policy_text = open(POLICY, encoding="utf-8").read().replace(
        "format: 1", f"format: !!python/object/apply:os.system ['touch {marker}']")
    result = run("validate", write("policy.yaml", policy_text))
    assert result.exit_code == 1 and "yaml.tag" in result.output
    assert not marker.exists()


def _policy_with(write, old, new, count=1):
    text = open(POLICY, encoding="utf-8").read()
    assert old in text
    return write("policy.yaml", text.replace(old, new, count))


def test_a_policy_cut_off_mid_file_is_refused(write):
    text = open(POLICY, encoding="utf-8").read()
    cut = text[: text.index("  - id: stabilisation_subsidy") + 40]
    result = run("validate", write("policy.yaml", cut))
    assert result.exit_code == 1
    assert "policy.yaml:" in result.output


def test_a_duplicate_key_in_the_policy_is_refused(write):
    path = _policy_with(write, "    clause: \"3.2\"\n    label: 一次性吸纳就业补助\n",
                        "    clause: \"3.2\"\n    clause: \"3.3\"\n    label: 一次性吸纳就业补助\n")
    result = run("validate", path)
    assert result.exit_code == 1
    assert "yaml.duplicate_key" in result.output and "duplicate key 'clause'" in result.output


def test_every_problem_is_reported_sorted(write):
    text = PERIOD + "workshops:\n" + GOOD_WORKSHOP.replace("[poverty_alleviated]", "[poor]").replace("wage_area: 3", "wage_area: 9")
    result = run("evaluate", POLICY, write("facts.yaml", text))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "error[" in line]
    assert len(lines) == 2
    positions = [tuple(int(x) for x in line.split(":")[1:3]) for line in lines]
    assert positions == sorted(positions)
    assert result.output.splitlines()[-1] == "2 个错误"  # the count, in the policy's language


def test_the_count_of_problems_is_in_the_language_the_policy_asks_for(write, en_policy):
    text = PERIOD + "workshops:\n" + GOOD_WORKSHOP.replace("[poverty_alleviated]", "[poor]").replace("wage_area: 3", "wage_area: 9")
    facts = write("facts.yaml", text)
    english = run("evaluate", en_policy, facts)
    assert english.exit_code == 1 and english.output.splitlines()[-1] == "2 errors"
    one = run("evaluate", en_policy, write("one.yaml", PERIOD + "workshops:\n" + GOOD_WORKSHOP.replace("wage_area: 3", "wage_area: 9")))
    assert one.exit_code == 1 and one.output.splitlines()[-1] == "1 error"


_RULE = "  - id: one_time_hiring_subsidy\n    clause: \"3.2\"\n    label: 一次性吸纳就业补助\n"
_VALUE = ("      - from: 2022-06-27\n        value: 1500\n        source: 晋巩固衔接办〔2022〕1号 三（二）\n"
          "        # en: Reading: the hire date picks the amount (1500 for hires from the issue date).\n"
          "        note: 解读：按招用日期确定标准（印发之日起招用的，每人1500元）。\n")


@pytest.mark.parametrize("old, new, zh, en", [
    # a key indented one space too far: PyYAML's words, said in the policy's language, with what to look at
    (_RULE, _RULE.replace("    label:", "     label:"),
     ["不是有效的 YAML", "检查这一行和上一行的缩进"], ["not valid YAML", "look at the indentation"]),
    # a misspelled key: the field it most likely means
    (_RULE, _RULE.replace("    label:", "    lable:"), ["没有名为 lable 的字段", "是否应为“label”？"],
     ["unknown field 'lable'", "did you mean 'label'?"]),
    # a thousands separator in a flow mapping: the comma ended the entry
    (_VALUE, "      - {from: 2022-06-27, value: 1,500, source: 晋巩固衔接办〔2022〕1号 三（二）}\n", ["没有名为 500 的字段", "数字不写千位分隔符"],
     ["unknown field '500'", "without thousands separators"]),
])
def test_a_broken_policy_is_answered_in_the_language_it_declares(write, old, new, zh, en):
    """The policy does not load, yet its problems are said in the language its file declares (report.lang), each
    with what to do; the same file declaring English gets the engine's English."""
    path = _policy_with(write, old, new)
    said = run("validate", path)
    assert said.exit_code == 1 and said.output.splitlines()[-1] == "1 个错误", said.output
    assert all(words in said.output for words in zh), said.output
    text = open(path, encoding="utf-8").read().replace("report.lang: zh-CN", "report.lang: en")
    english = run("validate", write("policy_en.yaml", text))
    assert english.exit_code == 1 and english.output.splitlines()[-1] == "1 error", english.output
    assert all(words in english.output for words in en), english.output


def test_problems_are_said_in_the_policys_language_and_a_sentence_the_catalog_lacks_stays_whole(tmp_path, en_policy):
    missing = str(tmp_path / "nope.yaml")
    said = run("evaluate", POLICY, missing)
    assert said.exit_code == 1 and "error[file.unreadable] 无法读取文件：文件不存在" in said.output, said.output
    english = run("evaluate", en_policy, missing)
    assert english.exit_code == 1 and "cannot read file: No such file or directory" in english.output
    ledger = run("evaluate", POLICY, EXAMPLE, "--ledger", f"sqlite:///{tmp_path / 'none.db'}")
    assert ledger.exit_code == 1 and "处没有台账" in ledger.output and "ledger init" in ledger.output, ledger.output
    from subsidy_rules.locale import translate
    # a sentence the catalog does not know is left as the engine said it, its record included: never half translated
    unknown = "workshop WS-1: something the catalog has never seen"
    assert translate(unknown, "zh", "ledger.other") == unknown
    assert translate("workshop WS-1: 2022-07 is already recorded by run abc…; a different run for the same months is "
                     "refused", "zh", "ledger.overlap").startswith("车间 WS-1：2022-07 已由批次 abc… 记账")


def test_a_decisions_file_of_another_version_is_named_as_such(tmp_path):
    import json
    decisions = tmp_path / "decisions.json"
    assert run("evaluate", POLICY, EXAMPLE, "-o", str(decisions), "-q").exit_code == 0
    doc = json.loads(decisions.read_text(encoding="utf-8"))
    doc["run"]["version"] = "0.1.0"  # a document of the earlier format: its dictionary had no rounding
    del doc["dictionary"]["rounding"]
    decisions.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    said = run("verify", str(decisions), EXAMPLE)
    assert said.exit_code == 1
    assert "error[verify.version] 该决定文件由 subsidy-rules 0.1.0 版写成" in said.output, said.output
    assert "请用 0.1.0 版核验，或用本版重新测算" in said.output and "rounding" in said.output
    assert "verify.changed" not in said.output  # not each decision's differences from this version's format


def test_usage_errors_exit_2():
    assert run("evaluate", POLICY).exit_code == 2
    assert run("evaluate", POLICY, EXAMPLE, "--format", "pdf").exit_code == 2
    assert run("explain", POLICY, EXAMPLE, "--workshop", "NOPE").exit_code == 2
    assert run("frobnicate").exit_code == 2


def test_a_missing_file_is_a_located_error_not_a_crash(tmp_path):
    result = run("evaluate", POLICY, str(tmp_path / "absent.yaml"))
    assert result.exit_code == 1
    assert "file.unreadable" in result.output


# --- a policy staffer's slips, said in the policy's language at their place ------------------------------------------

_POLICY_SLIPS = {  # (text as it stands, as mistyped, the problem's code, what the line says)
    "a comparison of a number with a text": (
        'worker.contract_months >= param("stabilisation_min_contract_months", period.end)',
        'worker.contract_months >= "6"', "expr.type", "无法比较数值与文字"),
    "a list where true/false is needed": (
        "- {test: worker.subsidised, label: 脱贫户或监测户劳动力}\n      - test: worker.contract_months >= param(",
        "- {test: worker.months, label: 脱贫户或监测户劳动力}\n      - test: worker.contract_months >= param(",
        "expr.type", "此条件的结果是月份记录列表，此处需要是/否值"),
    "a call missing its date": ('param("stabilisation_subsidy_monthly", month.start)',
                                'param("stabilisation_subsidy_monthly")', "expr.arity",
                                "param() 需要 2 至 4 个参数，此处给了 1 个"),
    "an amount cut short": ('param("stabilisation_subsidy_monthly", month.start)',
                            'param("stabilisation_subsidy_monthly", month.start', "expr.syntax",
                            "无法读取此金额：表达式不完整"),
    "a misspelt fund": ("fund: county_finance", "fund: county_financ", "policy.unknown_fund",
                        ("没有名为“county_financ”的资金来源", "; 是否应为“county_finance”？")),
    "a misspelt clause": ('clause: "3.3"', 'clause: "3.33"', "policy.unknown_clause",
                          ("没有名为“3.33”的条款", "; 是否应为“3.3”？")),
}


@pytest.mark.parametrize("name", list(_POLICY_SLIPS))
def test_a_policy_slip_is_said_in_the_policys_language(name, write):
    """What policy staff meet when they mistype a condition, a formula or a name: the place, the code, and a
    sentence in the policy's language (types said in words: 数值, 文字, 月份记录列表), never the engine's English."""
    before, after, code, said = _POLICY_SLIPS[name]
    text = open(POLICY, encoding="utf-8").read()
    assert before in text, before
    path = write("policy.yaml", text.replace(before, after, 1))
    result = run("validate", path)
    assert result.exit_code == 1, result.output
    [line] = [x for x in result.output.splitlines() if f"error[{code}]" in x]
    assert line.startswith(path + ":") and all(part in line for part in ((said,) if isinstance(said, str) else said)), line
