"""Hostile and broken input (issue 12): every file is refused with a coded, located error or read correctly; no
traceback, no crash, no unbounded memory, and a run that stops writes nothing to standard output.

Each case is a file a person or a program could hand the tool; the JSON cases go through the streaming path
(`--format json`, no `--workshop`) and must get the same verdict as the whole-file path.
"""
import copy
import json

import pytest
from click.testing import CliRunner

from subsidy_rules.cli import main
from conftest import POLICY

WORKSHOP = {"id": "WS-1", "name": "n", "wage_area": 3, "entity_type": "cooperative",
            "workers": [{"id": f"W{i}", "categories": ["poverty_alleviated"], "sex": "male", "birth_date": "1980-01-02",
                         "hired_on": "2022-07-05", "contract_months": 12,
                         "months": [{"month": "2022-07", "income": 700, "shortfall_reason": "training"}]}
                        for i in range(5)],
            "loans": [{"id": "L1", "type": "startup_guarantee", "principal": 1000, "annual_rate": "0.04",
                       "start": "2022-07-01"}]}
BASE = {"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [WORKSHOP]}


def _json(change=None, text=None) -> str:
    data = copy.deepcopy(BASE)
    if change:
        change(data)
    out = json.dumps(data, ensure_ascii=False)
    for old, new in (text or {}).items():
        assert old in out, old
        out = out.replace(old, new, 1)
    return out


def _ws(**fields):
    return lambda d: d["workshops"][0].update(fields)


def _w0(**fields):
    return lambda d: d["workshops"][0]["workers"][0].update(fields)


#: name -> (facts text, the code it must be refused with, a piece of the location: file:line:col or pointer)
JSON_CASES = {
    "period in December 9999": (_json(lambda d: d["period"].update(start="9999-12-01", end="9999-12-31")),
                                "facts.invalid_value", "/period/start"),
    "a month 0000-01": (_json(lambda d: d["workshops"][0]["workers"][0]["months"].append({"month": "0000-01"})),
                        "facts.invalid_value", "/workshops/0/workers/0/months/1/month"),
    "hired on 9999-01-01": (_json(_w0(hired_on="9999-01-01")), "facts.invalid_value", "/workshops/0/workers/0/hired_on"),
    "an annual rate of 1e60": (_json(text={'"annual_rate": "0.04"': '"annual_rate": 1e60'}),
                               "input.number_too_large", "/workshops/0/loans/0/annual_rate"),
    "a 33-digit loan rate (far past any amount the tool can round)": (
        _json(text={'"annual_rate": "0.04"': '"annual_rate": "' + "9" * 33 + '"'}), "facts.invalid_value",
        "/workshops/0/loans/0/annual_rate"),
    "an award paid before of 10^15": (_json(_ws(history={"award_paid": 10 ** 15})), "facts.invalid_value",
                                      "/workshops/0/history/award_paid"),
    "a 4,301-digit integer": (_json(text={'"principal": 1000': '"principal": ' + "9" * 4301}),
                              "input.number_too_long", ":1:"),
    "100,000 nested brackets": ('{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": '
                                + "[" * 100000 + "]" * 100000 + "}", "input.too_deep", ":1:"),
    "a list as a workshop id": (_json(_ws(id=["a"])), "facts.type", "/workshops/0/id"),
    "a duplicate key inside a workshop": (_json(text={'"name": "n"': '"name": "n", "name": "m"'}),
                                          "json.duplicate_key", "/workshops/0/name"),
    "a duplicate top-level key": (_json(text={'"workshops": [': '"workshops": [], "workshops": ['}),
                                  "json.duplicate_key", "/workshops"),
    "an unknown top-level key": (_json(lambda d: d.update(extra=1)), "facts.unknown_field", "/extra"),
    "a lone surrogate in an id": (_json(text={'"WS-1"': '"WS-\\ud800"'}), "input.surrogate", "/workshops/0/id"),
    "a YAML-only number (+3) in a .json file": (_json(text={'"wage_area": 3': '"wage_area": +3'}), "json.syntax", ":1:"),
    "an unquoted date in a .json file": (_json(text={'"2022-07-01"': '2022-07-01'}), "json.syntax", ":1:"),
    "NaN": (_json(text={'"principal": 1000': '"principal": NaN'}), "json.syntax", ":1:"),
    "text after the document": (_json() + " {}", "json.syntax", ":1:"),
    "a cut-off document": (_json()[:-40], "json.syntax", ":1:"),
}


def _run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit), \
        result.output
    return result


@pytest.mark.parametrize("name", sorted(JSON_CASES))
def test_bad_json_facts_are_refused_with_a_code_and_a_location_on_every_path(name, tmp_path):
    text, code, where = JSON_CASES[name]
    path = tmp_path / "facts.json"
    path.write_text(text, encoding="utf-8")
    streamed = _run("evaluate", POLICY, path)  # the streaming path (JSON out, JSON in)
    whole = _run("evaluate", POLICY, path, "--format", "text")  # the whole-file path
    for result in (streamed, whole):
        assert result.exit_code == 1, (name, result.output)
        assert f"error[{code}]" in result.stderr, (name, result.stderr[:600])
        assert where in result.stderr, (name, result.stderr[:600])
        assert result.stdout == ""  # a run that stops writes nothing but its problems
    assert len(streamed.stderr) < 20_000  # a long one-line file is cut around the column, not echoed whole


def test_a_long_one_line_file_is_quoted_around_the_error_only(tmp_path):
    text = _json(lambda d: d["workshops"].extend(dict(copy.deepcopy(WORKSHOP), id=f"X{i}") for i in range(300)))
    text = text.replace('"annual_rate": "0.04"', '"annual_rate": -1', 1)
    path = tmp_path / "one_line.json"
    path.write_text(text, encoding="utf-8")
    assert len(text) > 300_000
    result = _run("evaluate", POLICY, path, "--format", "text")
    assert result.exit_code == 1 and "/workshops/0/loans/0/annual_rate" in result.stderr
    quoted = [line for line in result.stderr.splitlines() if line.lstrip().startswith("1 |")]
    assert quoted and all(len(line) < 200 for line in quoted) and "…" in quoted[0]


#: policy edits (old text -> new text) and the code each must be refused with
AMOUNT = 'amount: param("training_subsidy_per_person", worker.training.completed_on)'
POLICY_CASES = {
    "an amount of 600 added terms": ({AMOUNT: "amount: " + " + ".join(["1"] * 600)}, "expr.too_long"),
    "202 terms in a short expression": ({AMOUNT: "amount: " + "+".join(["1"] * 202)}, "expr.too_long"),
    "250 nested parentheses": ({AMOUNT: "amount: " + "(" * 250 + "1" + ")" * 250}, "expr.too_deep"),
    "a 4,301-digit number in an expression": ({AMOUNT: 'amount: 1 + ' + "9" * 4301}, "expr.too_long"),
    "a 40-digit number in an expression": ({AMOUNT: 'amount: 1 + ' + "9" * 40}, "expr.number_too_long"),
    "a 4,301-digit parameter": ({"value: 1000, source: 晋巩固衔接办〔2022〕1号 三（七）": "value: " + "9" * 4301 + ", source: x"},
                                "input.number_too_long"),
    "records compared with <": ({"- {test: worker.training.pre_job, label: 按需开展职业技能岗前培训}":
                                 "- {test: worker.training < worker.training, label: x}"}, "expr.type"),
    "a rounding quantum of 52 decimals": ({'rounding: {quantum: "0.01"': 'rounding: {quantum: "0.' + "0" * 51 + '1"'},
                                          "policy.invalid_value"),
    "a parameter of 1E+999999": ({"value: 1000, source: 晋巩固衔接办〔2022〕1号 三（七）": "value: 1E+999999, source: x"},
                                 "input.number_too_large"),
    "a tier threshold NaN": ({'value: {"30": 50000, "50": 100000, "100": 250000}':
                              'value: {"NaN": 50000, "50": 100000, "100": 250000}'}, "policy.parameter_value"),
    "YAML nested 500 deep": ({"format: 1\n": "format: 1\ndeep: " + "[" * 500 + "]" * 500 + "\n"}, "input.too_deep"),
    "a sheet label a/b": ({"sheet.payouts: 发放明细": "sheet.payouts: a/b"}, "policy.sheet_label"),
    "an empty sheet label": ({"sheet.payouts: 发放明细": 'sheet.payouts: ""'}, "policy.sheet_label"),
}


@pytest.mark.parametrize("name", sorted(POLICY_CASES))
def test_a_policy_that_could_exhaust_the_parser_or_the_arithmetic_is_refused_at_its_place(name, write):
    edits, code = POLICY_CASES[name]
    text = open(POLICY, encoding="utf-8").read()
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    result = _run("validate", write("p.yaml", text))
    assert result.exit_code == 1 and f"error[{code}]" in result.stderr, (name, result.stderr[:800])
    assert "p.yaml:" in result.stderr


@pytest.mark.parametrize("parent", ["/etc/passwd", "/dev/zero", "/dev/stdin", "/tmp", "missing.yaml"])
def test_extends_of_something_that_is_not_a_policy_file_is_an_error(parent, write):
    result = _run("validate", write("fork.yaml", f"format: 1\nextends: {parent}\npolicy: {{id: f, title: t}}\n"))
    assert result.exit_code == 1
    assert "error[policy.extends]" in result.stderr or "error[file.not_regular]" in result.stderr, result.stderr


@pytest.mark.parametrize("change, code", [
    (lambda d: d.update(engine=["core"]), "verify.not_allowed"),
    (lambda d: d["decisions"][0].update(amount={"a": 1}), "verify.type"),
    (lambda d: d.update(decisions=5), "verify.shape"),
])
def test_verify_refuses_a_decisions_file_of_the_wrong_shape(change, code, tmp_path):
    from conftest import EXAMPLE
    out = tmp_path / "d.json"
    assert _run("evaluate", POLICY, EXAMPLE, "-o", out).exit_code == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    change(doc)
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    result = _run("verify", out, EXAMPLE)
    assert result.exit_code == 1 and f"error[{code}]" in result.stderr, result.stderr[:500]


def test_the_streaming_and_whole_file_paths_decide_a_valid_file_alike(tmp_path):
    path = tmp_path / "facts.json"
    path.write_text(_json(), encoding="utf-8")
    streamed = json.loads(_run("evaluate", POLICY, path).stdout)
    whole = json.loads(_run("evaluate", POLICY, path, "--workshop", "WS-1").stdout)
    strip = [{k: v for k, v in d.items() if k != "trace"} for d in streamed["decisions"]]
    assert strip == [{k: v for k, v in d.items() if k != "trace"} for d in whole["decisions"]]
    assert streamed["totals"] == whole["totals"]


@pytest.mark.parametrize("fmt", ["json", "text", "xlsx"])
def test_output_to_a_device_is_refused_and_an_unwritable_place_is_an_error(fmt, tmp_path):
    from conftest import EXAMPLE
    json_facts = tmp_path / "facts.json"
    json_facts.write_text(_json(), encoding="utf-8")
    for facts in (EXAMPLE, json_facts):  # the whole-file and the streaming paths
        device = _run("evaluate", POLICY, facts, "--format", fmt, "-o", "/dev/full")
        assert device.exit_code == 2 and "/dev/full is not a regular file" in device.output
        missing = _run("evaluate", POLICY, facts, "--format", fmt, "-o", tmp_path / "no" / "such" / "out")
        assert missing.exit_code in (1, 2), missing.output
        assert "error[file.unwritable]" in missing.output or "does not exist" in missing.output
    import stat
    assert stat.S_ISCHR(__import__("os").stat("/dev/full").st_mode)  # the device is still a device
