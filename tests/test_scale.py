"""Province-scale runs: streamed JSON equals the in-memory document; --jobs changes nothing; bad input stops cleanly."""
import json
import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import subsidy_rules
from subsidy_rules.cli import main
from subsidy_rules.views.document import document_text
from conftest import POLICY, ROOT

sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402


def run(*args):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def _strip(text: str) -> str:
    return re.sub(r'"ran_at": "[^"]*"', '"ran_at": ""', text)


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("scale") / "facts.json"
    with open(path, "w", encoding="utf-8") as fh:
        generate.write(fh, 80, 1200, 3)
    return str(path)


def test_the_generator_is_seeded_and_puts_every_clause_in_play(county, tmp_path):
    again = tmp_path / "again.json"
    with open(again, "w", encoding="utf-8") as fh:
        generate.write(fh, 80, 1200, 3)
    assert Path(county).read_text(encoding="utf-8") == again.read_text(encoding="utf-8")
    policy = subsidy_rules.load_policy(POLICY)
    run_ = subsidy_rules.evaluate(policy, subsidy_rules.load_facts(county, policy), trace=False)
    clauses = {d.clause for d in run_.decisions}
    assert {"3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9", "4.3", "4.4"} <= clauses
    workers = sum(len(ws["workers"]) for ws in json.loads(Path(county).read_text(encoding="utf-8"))["workshops"])
    assert workers == 1200


def test_streamed_output_is_the_in_memory_document(county, tmp_path):
    out = tmp_path / "decisions.json"
    assert run("evaluate", POLICY, county, "-o", str(out), "--why-not").exit_code == 0
    policy = subsidy_rules.load_policy(POLICY)
    memory = subsidy_rules.evaluate(policy, subsidy_rules.load_facts(county, policy), why_not=True)
    text = document_text(subsidy_rules.to_json(memory))
    assert _strip(out.read_text(encoding="utf-8")) == _strip(text)
    assert run("verify", str(out), county).exit_code == 0


def test_jobs_give_byte_identical_output_apart_from_the_timestamp(county, tmp_path):
    outputs = []
    for jobs in ("1", "2", "3"):
        out = tmp_path / f"d{jobs}.json"
        result = run("evaluate", POLICY, county, "-o", str(out), "--jobs", jobs)
        assert result.exit_code == 0, result.output
        outputs.append(_strip(out.read_text(encoding="utf-8")))
    assert outputs[0] == outputs[1] == outputs[2]


def test_standard_output_streams_too(county):
    result = run("evaluate", POLICY, county, "--no-trace")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["totals"]["granted"] and "trace" not in doc["decisions"][0]


def test_no_progress_bar_when_standard_error_is_not_a_terminal(county, tmp_path):
    result = CliRunner().invoke(main, ["evaluate", POLICY, county, "-o", str(tmp_path / "d.json")])
    assert "deciding" not in result.output


def test_a_bad_record_in_a_large_file_stops_the_run_with_its_location_and_writes_nothing(county, tmp_path):
    text = Path(county).read_text(encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(text.replace('"categories":["monitored"]', '"categories":["monitord"]', 1), encoding="utf-8")
    out = tmp_path / "decisions.json"
    result = run("evaluate", POLICY, str(bad), "-o", str(out))
    assert result.exit_code == 1
    # in the policy's language (report.lang zh-CN), the code and the place as always
    assert re.search(r"bad\.json:\d+:\d+: error\[facts\.unknown_code\] 车间 WS-\d+，劳动力 [^：]+：'monitord' ", result.output)
    assert "是否应为“监测户”（代码 monitored）？" in result.output
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".decisions-")]


def test_a_duplicate_key_in_json_facts_is_refused(tmp_path):
    bad = tmp_path / "dup.json"
    bad.write_text('{"period": {"start": "2022-07-01", "end": "2022-12-31", "end": "2022-11-30"}, "workshops": []}',
                   encoding="utf-8")
    result = run("evaluate", POLICY, str(bad))
    assert result.exit_code == 1 and "json.duplicate_key" in result.output and "dup.json:1:" in result.output


def test_an_evaluation_problem_in_the_stream_is_reported_in_full(tmp_path):
    # A period starting before the measures (2022-06-27) is invalid input since the facts contract of
    # 2026-11-28 (semantics note 5.3); before, June's missing stabilisation subsidy was param.no_value.
    facts = {"period": {"start": "2022-06-01", "end": "2022-12-31"}, "workshops": [{
        "id": "WS-1", "wage_area": 3, "entity_type": "enterprise", "enterprise_size": "micro",
        "workers": [{"id": f"W{i}", "categories": ["monitored"], "sex": "male", "birth_date": "1980-01-01",
                     "hired_on": "2021-01-01", "contract_months": 12, "months": [{"month": "2022-06"}]} for i in range(5)]}]}
    path = tmp_path / "f.json"
    path.write_text(json.dumps(facts), encoding="utf-8")
    result = run("evaluate", POLICY, str(path), "-o", str(tmp_path / "d.json"))
    assert result.exit_code == 1
    assert "facts.period_before_policy" in result.output
    assert "2022-06-01" in result.output
