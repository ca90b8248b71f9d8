"""The decisions document: each trace as data that names the policy's texts by id (written once, in the
dictionary), the schema that describes it, the writer, and `verify` reading it a decision at a time."""
import json
import sys
from decimal import Decimal

import jsonschema
import pytest
from click.testing import CliRunner

import subsidy_rules
from subsidy_rules import schemas
from subsidy_rules.cli import main
from subsidy_rules.facts.model import Derived
from subsidy_rules.lang import expr as E
from subsidy_rules.lang.printing import unparse, written
from subsidy_rules.runtime import trace as T
from subsidy_rules.views import trace_data as TD
from subsidy_rules.views.document import document_text
from conftest import EXAMPLE, POLICY, ROOT

sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402

FORK = str(ROOT / "policies" / "examples" / "neighbour_province.yaml")


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def town(tmp_path_factory) -> str:
    """A small generated facts file (JSON, so `evaluate` and `verify` stream it): held and revoked titles, pending
    months, limits, tiers."""
    path = tmp_path_factory.mktemp("town") / "facts.json"
    with open(path, "w", encoding="utf-8") as fh:
        generate.write(fh, 16, 240, 5)
    return str(path)


# --- every text a trace refers to is the dictionary's ------------------------------------------------------------


class _Check:
    """Walk a decision's events beside its trace data, and check each entry says what its event says, reading
    every text from the dictionary."""

    def __init__(self, dictionary: dict):
        self.dic = dictionary
        self.kinds = set()

    def decision(self, d, data):
        assert len(data) == len(d.events)
        self.shown, self.rule = set(), None
        for event, entry in zip(d.events, data):
            self.kinds.add(type(event))
            getattr(self, type(event).__name__)(event, entry, d)

    # what a use lists, and the values once per decision
    def uses(self, params, listed):
        expected = []
        for p in params:
            key = (p.name,) if isinstance(p, Derived) else (p.name, p.key, p.since, p.at)
            if key not in self.shown:
                self.shown.add(key)
                expected.append(p)
        assert len(listed) == len(expected)
        for p, use in zip(expected, listed):
            if isinstance(p, Derived):
                computed = self.dic["computed"][use["computed"]]
                assert (p.name, p.formula, p.label) == (use["computed"], computed["formula"], computed.get("label"))
                assert (use.get("values", {}), use["value"]) == (_read(p), TD.value(p.value))
                assert _carries(p.formula, p)
                continue
            parameter = self.dic["parameters"][use["parameter"]]
            assert (p.name, p.at.isoformat(), p.key) == (use["parameter"], use["on"], use.get("key"))
            [value] = [v for v in parameter["values"] if v["from"] == (p.since.isoformat() if p.since else None)]
            stated = value["value"][p.key] if p.key is not None else value["value"]
            assert stated == TD.value(p.value)
            assert (p.label, p.origin, p.source, p.unconfirmed) == (parameter["label"], parameter["origin"], value["source"],
                                                                   value["unconfirmed"])
            assert value["until"] == (p.until.isoformat() if p.until else None)

    def condition(self, c, entry):
        text = self.dic["conditions"][entry["condition"]]
        assert (c.text, c.label, c.reading) == (text["text"], text.get("label"), text.get("reading"))
        assert (c.holds, _read(c)) == (entry["holds"], entry.get("values", {}))
        assert _carries(text["text"], c)  # every value its text with values in place shows
        self.uses(c.params, entry.get("uses", []))

    def arithmetic(self, a, entry):
        assert self.dic["formulas"][entry["formula"]] == a.formula
        assert (entry.get("values", {}), entry["exact"], entry["rounded"]) == (_read(a), TD.value(a.exact), f"{a.rounded:.2f}")
        assert _carries(self.dic["formulas"][entry["formula"]], a)
        lets = entry.get("lets", [])
        assert [(let.name, let.formula, _read(let), TD.value(let.value)) for let in a.lets] == \
            [(x["name"], self.dic["formulas"][x["formula"]], x.get("values", {}), x["value"]) for x in lets]
        for let, x in zip(a.lets, lets):
            assert _carries(self.dic["formulas"][x["formula"]], let)
        self.uses(a.params, entry.get("uses", []))

    def group(self, e):
        group = self.dic["exclusivity"][e.group]
        assert (e.clause, e.reading) == (group["clause"], group.get("reading"))
        return group

    def RuleApplied(self, e, entry, d):
        self.rule = rule = self.dic["rules"][entry["rule"]]
        clause = self.dic["clauses"][rule["clause"]]
        assert (entry["event"], e.rule, e.subject_id) == ("rule", entry["rule"], entry["subject_id"])
        assert (e.label, e.clause, e.subject, e.origin) == (rule["label"], rule["clause"], rule["subject"], rule["origin"])
        assert (e.heading, e.clause_text) == (clause["heading"], clause["text"])

    def Required(self, e, entry, d):
        assert (entry["event"], e.fact, e.holder_id, e.holds) == ("requires", entry["fact"], entry["holder"], entry["holds"])
        assert list(e.asserted_by) == [(r, self.dic["rules"][r]["clause"]) for r in entry["asserted_by"]]
        assert (e.routes, e.route) == (tuple(entry["routes"]) if "routes" in entry else None, entry.get("route"))

    def Held(self, e, entry, d):
        status = self.dic["statuses"][self.rule["grants"]["status"]]
        assert (entry["event"], e.status, e.route) == ("held", status["label"], entry["route"])
        assert (e.since.isoformat(), e.source) == (entry["since"], entry["source"])
        assert (e.ended_on.isoformat() if e.ended_on else None) == entry.get("ended_on")

    def Pending(self, e, entry, d):
        assert [(n, day.isoformat(), key) for n, day, key in e.missing] == \
            [(m["parameter"], m["date"], m["key"]) for m in entry["missing"]]

    def TopUp(self, e, entry, d):
        self.group(e)
        assert (e.won, e.lump, e.other, e.lump_wins, e.why) == tuple(entry[k] for k in ("won", "lump", "other", "lump_wins", "why"))
        for k in ("reached", "lump_paid", "other_paid", "other_now", "net"):
            assert Decimal(entry[k]) == getattr(e, k)

    def Condition(self, e, entry, d):
        assert entry["event"] == "condition"
        self.condition(e, entry)

    def Limit(self, e, entry, d):
        assert (self.dic["formulas"][entry["formula"]], _read(e), e.value) == (e.text, entry.get("values", {}), entry["value"])
        assert _carries(e.text, e)
        self.uses(e.params, entry.get("uses", []))

    def Item(self, e, entry, d):
        assert (e.item, e.counted, e.beyond_limit) == (entry["item"], entry["counted"], entry.get("beyond_limit", False))
        assert len(e.conditions) == len(entry.get("where", []))
        for c, x in zip(e.conditions, entry.get("where", [])):
            self.condition(c, x)
        assert (e.reason is None) == ("failed" not in entry)
        if e.reason is not None:
            self.condition(e.reason, entry["failed"])
        assert (e.arithmetic is None) == ("arithmetic" not in entry)
        if e.arithmetic is not None:
            self.arithmetic(e.arithmetic, entry["arithmetic"])

    def Arithmetic(self, e, entry, d):
        assert entry["event"] == "arithmetic"
        self.arithmetic(e, entry)

    def Total(self, e, entry, d):
        assert [Decimal(p) for p in entry["parts"]] == list(e.parts) and Decimal(entry["total"]) == e.total

    def NotReached(self, e, entry, d):
        assert entry.get("reason", d.reason) == e.reason

    def Exclusive(self, e, entry, d):
        assert self.group(e)["strategy"] == e.strategy
        assert (e.won, e.winner, e.other) == (entry["won"], entry["winner"], entry["other"])
        assert (Decimal(entry["winner_amount"]), Decimal(entry["other_amount"])) == (e.winner_amount, e.other_amount)

    def Outcome(self, e, entry, d):
        assert (e.outcome, e.fund) == (entry["outcome"], entry["fund"])
        assert (Decimal(entry["amount"]) if entry["amount"] is not None else None) == e.amount


def _read(e) -> dict:
    """What an event's expression read, as its trace data writes it."""
    return {name: TD.value(v) for name, v in e.shown}


def _carries(text: str, e) -> bool:
    """Every value the event's expression printed with its values shows (each node of ``text``, the dictionary's,
    that it substitutes) is in its trace data: a name or a count in ``values``, under the name it is written as; a
    parameter's value among the parameter values the expression used (which the data lists by parameter, date and
    key, their values in the dictionary)."""
    printed = e._substituted  # the Substituted the event's text is printed from
    assert unparse(printed.ast) == unparse(E.parse(text))
    values, read = printed.capture.values(), _read(e)
    used = [(u.name, TD.value(u.value)) for u in printed.capture.params if not isinstance(u, Derived)]
    holes = [n for n in E.walk(printed.ast) if id(n) in values and n is not printed.without and not isinstance(n, E.Literal)]
    assert holes or unparse(printed.ast) == e.substituted  # printed with no values in place: nothing to show
    for n in holes:
        if isinstance(n, E.Call):
            assert n.func == "param" and (n.args[0].value, TD.value(values[id(n)])) in used, written(n)
        else:
            assert read[written(n)] == TD.value(values[id(n)]), written(n)
    return True


def test_every_trace_entry_says_what_its_event_says_with_its_texts_read_from_the_dictionary(town):
    kinds = set()
    for policy_path, facts_path in ((POLICY, EXAMPLE), (FORK, EXAMPLE), (POLICY, town)):
        policy = subsidy_rules.load_policy(policy_path)
        evaluation = subsidy_rules.evaluate(policy, subsidy_rules.load_facts(facts_path, policy), why_not=True)
        doc = json.loads(document_text(subsidy_rules.to_json(evaluation)))
        check = _Check(doc["dictionary"])
        for d, entry in zip(evaluation.decisions, doc["decisions"]):
            check.decision(d, entry["trace"])
        kinds |= check.kinds
    missing = set(TD.ENCODERS) - kinds - {T.Exclusive}  # the Shanxi policy judges its one group over time
    assert not missing, missing


def test_every_event_class_has_an_encoder_and_every_encoder_an_event_kind_of_the_schema():
    classes = {c for name, c in vars(T).items()
               if isinstance(c, type) and c.__module__ == T.__name__ and not name.startswith("_")}  # _Event: their base
    assert classes == set(TD.ENCODERS) | set(TD.PARTS)
    kinds = schemas.load("decisions")["$defs"]["event"]["properties"]["event"]["enum"]
    assert len(kinds) == len(TD.ENCODERS)


def test_a_decision_lists_each_value_it_used_once_and_writes_numbers_as_exact_text():
    doc = json.loads(run("evaluate", POLICY, EXAMPLE).stdout)
    top_up = [d for d in doc["decisions"] if d["worker"] == "W-0001" and d["clause"] == "3.4"][0]
    uses = [u for e in top_up["trace"] for u in _all_uses(e)]
    assert len({json.dumps(u, sort_keys=True) for u in uses}) == len(uses)
    july = [e for e in top_up["trace"] if e["event"] == "item" and e["item"] == "2022-07"][0]
    assert july["arithmetic"]["values"] == {"floor": "815", "month.income": "700"}  # as in its text: 815 - 700
    # floor = param("minimum_wage_floor_ratio", month.start) * param("minimum_monthly_wage", month.start,
    # workshop.wage_area): the parameters by name, date and key in the uses, their values in the dictionary
    assert july["arithmetic"]["lets"][0]["values"] == {"month.start": "2022-07-01", "workshop.wage_area": "3"}
    assert (july["arithmetic"]["exact"], july["arithmetic"]["rounded"]) == ("115", "115.00")
    assert july["arithmetic"]["lets"][0]["value"] == "815"
    # what the values mean in words, from the document alone: the reason code's label, the set the condition reads,
    # the wage area's code, the fund and the rounding
    words = doc["dictionary"]
    reason = [c for c in july["where"] if "month.shortfall_reason" in c.get("values", {})][0]
    assert words["conditions"][reason["condition"]]["text"] == "month.shortfall_reason in sets.listed_shortfall_reasons"
    assert reason["values"]["month.shortfall_reason"] in words["sets"]["listed_shortfall_reasons"]
    vocab = words["facts"]["month.shortfall_reason"]["codes"]
    assert words["codes"][vocab]["codes"][reason["values"]["month.shortfall_reason"]] == "岗前培训"
    assert words["facts"]["month.income"] == {"label": "当月收入", "unit": "元"}
    assert words["funds"][top_up["funding_source"]] == "县级财政"
    assert words["rounding"] == {"quantum": "0.01", "mode": "ROUND_HALF_UP"}
    wage = doc["dictionary"]["parameters"]["minimum_monthly_wage"]
    [value] = [v for v in wage["values"] if v["from"] == "2021-10-01"]
    assert value["value"]["3"] == "1630" and value["unconfirmed"] is True
    ratio = [u for u in uses if u.get("parameter") == "minimum_wage_floor_ratio"][0]
    [used] = [v for v in doc["dictionary"]["parameters"]["minimum_wage_floor_ratio"]["values"] if v["from"] == ratio["from"]]
    assert used["value"] == "0.5"


def _all_uses(entry):
    for key, value in entry.items():
        if key == "uses":
            yield from value
        elif isinstance(value, dict):
            yield from _all_uses(value)
        elif isinstance(value, list):
            for x in value:
                if isinstance(x, dict):
                    yield from _all_uses(x)


def test_the_texts_are_written_once_not_in_every_decision():
    text = run("evaluate", POLICY, EXAMPLE, "--why-not").stdout
    clause = subsidy_rules.load_policy(POLICY).clauses["3.2"].text
    assert text.count(clause) == 1
    lines = run("evaluate", POLICY, EXAMPLE, "--why-not", "--trace", "lines").stdout
    assert lines.count(clause) > 100
    assert len(text.encode("utf-8")) < 0.7 * len(lines.encode("utf-8"))


# --- the schema describes every document the options make ------------------------------------------------------


def _validator():
    return jsonschema.Draft202012Validator(schemas.load("decisions"))


@pytest.mark.parametrize("options", [(), ("--why-not",), ("--trace", "lines"), ("--trace", "lines", "--why-not"),
                                     ("--no-trace",), ("--no-trace", "--why-not"), ("--trace", "data", "--why-not")])
def test_the_schema_validates_documents_of_every_option(options, town):
    validator = _validator()
    for facts in (EXAMPLE, town):  # YAML decided in memory, JSON streamed (with pending decisions)
        result = run("evaluate", POLICY, facts, *options)
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert not errors, errors[:5]
        mode = "data" if "--no-trace" not in options and "lines" not in options else False if "--no-trace" in options else "lines"
        assert doc["run"]["trace"] == mode and ("dictionary" in doc) == (mode == "data")
        if facts == town:
            assert any(d["outcome"] == "pending" for d in doc["decisions"])


def test_the_schema_holds_a_trace_to_its_form():
    validator = _validator()
    doc = json.loads(run("evaluate", POLICY, EXAMPLE).stdout)
    assert validator.is_valid(doc)

    def broken(change):
        copy = json.loads(json.dumps(doc))
        change(copy)
        return validator.is_valid(copy)

    first = doc["decisions"][0]["trace"]
    assert not broken(lambda d: d["decisions"][0].update(trace=["clause 3.1 …"]))  # lines in a data document
    assert not broken(lambda d: d.pop("dictionary"))
    assert not broken(lambda d: d["decisions"][0]["trace"].append({"event": "guess"}))
    assert not broken(lambda d: d["decisions"][0]["trace"][1].pop("holds"))
    assert not broken(lambda d: d["decisions"][0]["trace"][1].update(condition="no such id"))
    assert not broken(lambda d: d["decisions"][0]["trace"][-1].update(amount=1500.0))  # a float is never money
    assert not broken(lambda d: d["decisions"][0]["trace"][0].update(label="a text written again"))
    assert first[0]["event"] == "rule" and first[-1]["event"] == "outcome"
    lines = json.loads(run("evaluate", POLICY, EXAMPLE, "--trace", "lines").stdout)
    assert validator.is_valid(lines)
    lines["decisions"][0]["trace"] = first
    assert not validator.is_valid(lines)  # data in a lines document


# --- the writer --------------------------------------------------------------------------------------------------


def test_streamed_and_in_memory_documents_are_the_same_text_in_either_form(town, tmp_path):
    policy = subsidy_rules.load_policy(POLICY)
    evaluation = subsidy_rules.evaluate(policy, subsidy_rules.load_facts(town, policy), why_not=True)
    for mode in ("data", "lines"):
        out = tmp_path / f"{mode}.json"
        assert run("evaluate", POLICY, town, "--why-not", "--trace", mode, "-o", out).exit_code == 0
        whole = document_text(subsidy_rules.to_json(evaluation, with_trace=mode))
        streamed = out.read_text(encoding="utf-8")
        assert _no_time(streamed) == _no_time(whole)
        assert json.loads(_no_time(streamed)) == json.loads(_no_time(whole))
    # a document without data traces is the text json.dumps writes
    lines = subsidy_rules.to_json(evaluation, with_trace="lines")
    assert document_text(lines) == json.dumps(lines, ensure_ascii=False, indent=2) + "\n"


def _no_time(text):
    import re
    return re.sub(r'"ran_at": "[^"]*"', '"ran_at": ""', text)


def test_no_number_in_a_data_trace_is_a_json_number(town):
    doc = json.loads(run("evaluate", POLICY, town, "--why-not").stdout, parse_float=lambda s: pytest.fail(f"float {s}"))

    def walk(value, where):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, where + "/" + k)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}/{i}")
        else:
            assert not isinstance(value, int) or isinstance(value, bool) or where.endswith("/value"), where

    walk(doc["decisions"], "")


# --- verify ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [(), ("--why-not",), ("--trace", "lines"), ("--no-trace",)])
def test_verify_passes_an_untouched_file_of_every_form(options, town, tmp_path):
    for facts in (EXAMPLE, town):
        out = tmp_path / "decisions.json"
        assert run("evaluate", POLICY, facts, *options, "-o", out).exit_code == 0
        result = run("verify", out, facts)
        assert result.exit_code == 0, result.output
        assert "重新测算后完全一致" in result.stdout  # in the language of the policy the run used


def test_verify_names_each_edited_decision_where_it_stands(town, tmp_path):
    out = tmp_path / "decisions.json"
    assert run("evaluate", POLICY, town, "-o", out).exit_code == 0
    text = out.read_text(encoding="utf-8")
    doc = json.loads(text)
    granted = [d for d in doc["decisions"] if d["outcome"] == "granted"]
    target, other = granted[len(granted) // 2], granted[-1]
    # edit two decisions in place, as a person would, and keep every other byte
    start = text.index(f'"id": "{target["id"]}"')
    amount_at = text.index('"amount": ', start)
    edited = text[:amount_at] + '"amount": "99999.00"' + text[text.index(",", amount_at):]
    fund_at = edited.index('"funding_source": ', edited.index(f'"id": "{other["id"]}"'))
    edited = edited[:fund_at] + '"funding_source": "elsewhere"' + edited[edited.index(",", fund_at):]
    out.write_text(edited, encoding="utf-8")
    result = run("verify", out, town)
    assert result.exit_code == 1
    line = edited[:amount_at].count("\n") + 1
    col = amount_at - edited.rfind("\n", 0, amount_at) + len('"amount": ')  # the value's column
    assert f"{out}:{line}:{col}: error[verify.changed] 决定 {target['id']}" in result.stderr  # the policy's language
    assert f"amount 记录为 '99999.00'，重新测算为 '{target['amount']}'" in result.stderr
    assert f"决定 {other['id']}" in result.stderr and "funding_source 记录为 'elsewhere'" in result.stderr
    assert result.stderr.splitlines()[-1] == "2 个错误"


def test_verify_finds_a_deleted_a_doubled_and_an_unknown_decision_and_a_changed_dictionary(town, tmp_path):
    out = tmp_path / "decisions.json"
    assert run("evaluate", POLICY, town, "-o", out).exit_code == 0
    base = json.loads(out.read_text(encoding="utf-8"))

    def verify_edited(change):
        doc = json.loads(json.dumps(base))
        change(doc)
        out.write_text(document_text(doc), encoding="utf-8")
        return run("verify", out, town)

    n = len(base["decisions"])
    gone = base["decisions"][n // 2]
    result = verify_edited(lambda d: d["decisions"].pop(n // 2))
    assert f"error[verify.missing] 文件中缺少决定 {gone['id']}" in result.stderr and result.stderr.endswith("\n1 个错误\n")
    result = verify_edited(lambda d: d["decisions"].insert(3, d["decisions"][2]))
    assert f"error[verify.duplicate] decision {base['decisions'][2]['id']} is listed twice" in result.stderr
    result = verify_edited(lambda d: d["decisions"][5].update(id="f" * 20))
    assert "error[verify.unknown]" in result.stderr and "verify.missing" not in result.stderr
    clause = base["decisions"][0]["clause"]
    result = verify_edited(lambda d: d["dictionary"]["clauses"][clause].update(text="another text"))
    assert f"error[verify.changed] dictionary clauses {clause} differs" in result.stderr
    assert result.stderr.endswith("\n1 个错误\n")
    result = verify_edited(lambda d: d["decisions"][7]["trace"].append({"event": "total", "parts": [], "total": "0.00"}))
    assert "测算过程（trace）与重新测算的不同" in result.stderr


def test_verify_reads_a_file_whose_header_stands_after_its_decisions(town, tmp_path):
    out = tmp_path / "decisions.json"
    assert run("evaluate", POLICY, town, "--no-trace", "-o", out).exit_code == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    out.write_text(json.dumps(doc, sort_keys=True, indent=1), encoding="utf-8")  # as jq -S would write it
    assert run("verify", out, town).exit_code == 0
    doc["decisions"][1]["outcome"] = "granted"
    doc["decisions"][1]["amount"] = "0.01"
    out.write_text(json.dumps(doc, sort_keys=True, indent=1), encoding="utf-8")
    result = run("verify", out, town)
    # the policy is named after the decisions here, so the lines are in the language of --lang (else English)
    assert result.exit_code == 1 and "error[verify.changed] decision " + doc["decisions"][1]["id"] in result.stderr


def test_verify_reports_a_cut_file_where_it_stops(tmp_path):
    out = tmp_path / "decisions.json"
    assert run("evaluate", POLICY, EXAMPLE, "-o", out).exit_code == 0
    text = out.read_text(encoding="utf-8")
    out.write_text(text[: len(text) // 2], encoding="utf-8")
    result = run("verify", out, EXAMPLE)
    assert result.exit_code == 1 and "error[json.syntax]" in result.stderr


@pytest.mark.parametrize("trace", [
    [{"event": "rule", "rule": "r", "subject_id": "W-1"},
     {"event": "not_reached", "code": "c", "reason": 'a reason that quotes {"event":"x"}, and a comma'},
     {"event": "outcome", "outcome": "granted", "amount": "1.00", "fund": None}],
    [{"event": "item", "item": "2022-07", "counted": True, "where": [{"event": "a nested object with the key"}]},
     {"event": "total", "parts": ["1.00"], "total": "1.00"}],
    [{"event": "outcome", "outcome": "granted", "amount": "1.00", "fund": None}],
    [],
])
@pytest.mark.parametrize("decision", [
    {"id": "x", "rule": "r"},
    {"id": "x", "worker": None, "reason": "理由：\"引号\"\n换行", "amount": "1.00", "waits_for": [{"p": "q"}]},
])
@pytest.mark.parametrize("last", [True, False])
def test_a_decision_written_alone_lays_out_its_trace_as_the_document_does(trace, decision, last):
    """decision_bytes joins a trace's entries in after laying out the rest of the decision; it must read exactly as
    orjson lays out each entry on its own line (and a trace that is not the decision's last key is laid out so)."""
    from subsidy_rules.views.document import _dumps, _laid_out, decision_bytes
    decision = dict(decision, trace=trace) if last else dict(trace=trace, **decision)
    assert decision_bytes(decision) == _dumps(_laid_out(decision)).replace(b"\n", b"\n    ")
    assert json.loads(decision_bytes(decision)) == decision


def test_minus_zero_is_written_as_it_is_whatever_was_written_before():
    """A trace writes the decimals it read once each (a cache): -0 equals 0 but is written apart, the same before and
    after 0 has been written (else one job's and --jobs 2's documents could differ)."""
    from subsidy_rules.views.trace_data import recorded_values, value
    before = value(Decimal("-0"))
    assert [value(Decimal("0")), value(Decimal("-0")), value(Decimal("0.00"))] == ["0", before, "0"]
    assert before == "-0" and recorded_values({"x": Decimal("-0.0")}) == {"x": "-0"}
