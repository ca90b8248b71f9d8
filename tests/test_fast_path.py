"""The fast path and the thorough path agree.

A JSON facts file decided to JSON is read one workshop at a time by the typed reader (msgspec structs made
from the facts schema), streamed, and with --jobs decided in worker processes that read their own byte
ranges. The thorough path (the whole file, the JSON Schema report, every problem located) runs only when
the fast path cannot vouch for the input. So: on valid facts both give the same data and the same
decisions; on anything else the fast path stands aside, and the problems the user sees are exactly the
thorough path's.
"""
import copy
import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import subsidy_rules
from subsidy_rules.views.document import document_text
from conftest import POLICY
from random_facts import random_facts
from subsidy_rules.cli import main
from subsidy_rules.facts.reading import note_sources, source_of
from subsidy_rules.facts.typed import NotVouched, workshop_reader
from subsidy_rules.problems import InvalidInput
from subsidy_rules.runtime import stream
from subsidy_rules.source import read_file
from subsidy_rules.views.problems_text import problem_lines

_POLICY = []


def _policy():
    if not _POLICY:
        _POLICY.append(subsidy_rules.load_policy(POLICY))
    return _POLICY[0]


# -- writing facts as JSON text in many layouts --------------------------------------------------------------

LAYOUTS = ["compact", "spaced", "indented", "odd"]


def dump(value, layout: str = "compact", numbers: bool = False, repeat=frozenset(), bom: bool = False) -> str:
    """JSON text for ``value`` (dates as text, decimals as text or, with ``numbers``, as JSON numbers) in one of
    LAYOUTS; an object whose id() is in ``repeat`` names its first key twice (an earlier, different value)."""
    comma, colon, newline = {"compact": (",", ":", ""), "spaced": (", ", ": ", ""), "indented": (",", ": ", "\n"),
                             "odd": (" ,\r\n", " :\t", "\r\n")}[layout]

    def scalar(v):
        if isinstance(v, Decimal):
            return str(v) if numbers else json.dumps(str(v))
        if isinstance(v, dt.date):
            return json.dumps(v.isoformat())
        return json.dumps(v, ensure_ascii=False)

    def write(v, depth):
        pad = newline + "  " * (depth + 1) if newline else ""
        end = newline + "  " * depth if newline else ""
        if isinstance(v, dict):
            items = [json.dumps(k, ensure_ascii=False) + colon + write(x, depth + 1) for k, x in v.items()]
            if id(v) in repeat and v:
                first = next(iter(v))
                items.insert(0, json.dumps(first) + colon + json.dumps("an earlier value"))
            return "{" + comma.join(pad + i for i in items) + (end if items else "") + "}"
        if isinstance(v, list):
            return "[" + comma.join(pad + write(x, depth + 1) for x in v) + (end if v else "") + "]"
        return scalar(v)

    return ("\ufeff" if bom else "") + write(value, 0) + "\n"


def _thorough(path: str):
    """The facts as the thorough path reads them (its problems in the policy's language, as a user reads them), or
    its InvalidInput."""
    try:
        return subsidy_rules.load_facts(path, _policy())
    except InvalidInput as exc:
        return exc


def _fast(path: str) -> list:
    """The workshops as the fast path reads them (sources noted, as the thorough path notes them); raises
    StreamStopped or NotVouched where it stands aside."""
    header = stream.open_json(path)
    stream.check_period(_policy(), header)
    out = []
    for index, raw in stream.read_workshops(path):
        ws = workshop_reader().workshop(raw)
        note_sources(_policy(), ws, f"/workshops/{index}", source_of)
        stream.checked_records(_policy(), header.period_start, header.period_end, index, raw, False)
        out.append(ws)
    return out


def _strip(text: str) -> str:
    return re.sub(r'"ran_at": "[^"]*"', '"ran_at": ""', text)


# -- valid facts: the same data, the same decisions ------------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10 ** 6), layout=st.sampled_from(LAYOUTS), numbers=st.booleans(), bom=st.booleans())
def test_valid_facts_are_read_the_same_on_both_paths(seed, layout, numbers, bom, tmp_path):
    path = tmp_path / "facts.json"
    path.write_text(dump(random_facts(seed, 3), layout, numbers, bom=bom), encoding="utf-8")
    thorough = _thorough(str(path))
    assert not isinstance(thorough, InvalidInput), thorough.problems
    fast = _fast(str(path))
    # equal as data, and written the same: keys in the same order, each Decimal with the same digits
    assert repr(fast) == repr(list(thorough.workshops))


def test_every_example_and_generated_workshop_is_read_the_same(tmp_path):
    import sys
    from conftest import ROOT
    sys.path.insert(0, str(ROOT / "bench"))
    import generate

    facts = {"period": {"start": "2022-07-01", "end": "2023-06-30"}, "workshops": list(generate.generate(40, 600, 7))}
    facts["workshops"] += read_file(str(ROOT / "examples" / "facts_2022.yaml")).data["workshops"]
    for layout in LAYOUTS:
        path = tmp_path / f"{layout}.json"
        path.write_text(dump(facts, layout), encoding="utf-8")
        assert repr(_fast(str(path))) == repr(list(_thorough(str(path)).workshops))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10 ** 6), layout=st.sampled_from(LAYOUTS), numbers=st.booleans())
def test_valid_facts_get_the_same_decisions_streamed_with_any_jobs_as_in_memory(seed, layout, numbers, tmp_path):
    path = tmp_path / "facts.json"
    path.write_text(dump(random_facts(seed, 4), layout, numbers), encoding="utf-8")
    policy = _policy()
    memory = subsidy_rules.evaluate(policy, subsidy_rules.load_facts(str(path), policy), why_not=True)
    expected = _strip(document_text(subsidy_rules.to_json(memory)))  # the document as written, traces as data
    for jobs in ("1", "2"):
        out = tmp_path / f"d{jobs}.json"
        result = CliRunner().invoke(main, ["evaluate", POLICY, str(path), "-o", str(out), "--why-not", "--jobs", jobs])
        assert result.exit_code == 0, result.output
        assert _strip(out.read_text(encoding="utf-8")) == expected


def test_many_small_batches_on_two_jobs_write_what_one_job_writes(tmp_path, monkeypatch):
    import sys
    from conftest import ROOT
    sys.path.insert(0, str(ROOT / "bench"))
    import generate

    path = tmp_path / "facts.json"
    with open(path, "w", encoding="utf-8") as fh:
        generate.write(fh, 60, 700, 11, months=6)
    monkeypatch.setattr(stream, "BATCH_BYTES", 2000)  # a part for every workshop or two
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"d{jobs}.json"
        result = CliRunner().invoke(main, ["evaluate", POLICY, str(path), "-o", str(out), "--jobs", jobs])
        assert result.exit_code == 0, result.output
        outputs.append(_strip(out.read_text(encoding="utf-8")))
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["decisions"]


# -- anything else: the fast path stands aside ---------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10 ** 40, max_value=10 ** 40)
    | st.decimals(allow_nan=False, allow_infinity=False, places=12, min_value=-10 ** 16, max_value=10 ** 16)
    | st.text(max_size=12) | st.sampled_from(["2022-07-01", "1899-12-31", "2201-01-01", "2022-02-29", "2022-07",
                                               "0.5", "01", "1e3", "999999999999999.9", "2022-07-01\n", "WS 1", ":x",
                                               "training", "monitored", "poverty_alleviated", "micro", "enterprise"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)


def _places(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _places(child, path + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _places(child, path + (i,))


def _objects(value):
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _objects(child)
    elif isinstance(value, list):
        for child in value:
            yield from _objects(child)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 50), data=st.data(), layout=st.sampled_from(LAYOUTS), numbers=st.booleans())
def test_the_fast_path_vouches_only_for_what_the_thorough_path_accepts(seed, data, layout, numbers, tmp_path):
    facts = random_facts(seed, 2)
    places = [p for p in _places(facts) if p]
    for _ in range(data.draw(st.integers(0, 3))):
        where = data.draw(st.sampled_from(places))
        node = facts
        for part in where[:-1]:
            node = node[part]
        if data.draw(st.booleans()) and isinstance(node, dict):
            del node[where[-1]]  # a field left out
        else:
            node[where[-1]] = data.draw(json_values)
        places = [p for p in _places(facts) if p]
    objects = list(_objects(facts))
    repeat = {id(o) for o in data.draw(st.lists(st.sampled_from(objects), max_size=1))} if objects else set()
    path = tmp_path / "facts.json"
    path.write_text(dump(facts, layout, numbers, repeat), encoding="utf-8")
    thorough = _thorough(str(path))
    try:
        fast = _fast(str(path))
    except (stream.StreamStopped, NotVouched):
        return  # it stood aside: the thorough path decides (a valid file it doubts is merely slower)
    assert not isinstance(thorough, InvalidInput), f"the fast path took what the thorough path refuses: {thorough.problems}"
    assert repr(fast) == repr(list(thorough.workshops))


@pytest.mark.parametrize("text", [
    '{"period": {"start": "2022-07-01", "end": "2022-12-31", "end": "2022-11-30"}, "workshops": []}',
    '{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [{"id": "WS-1", "id": "WS-2", '
    '"wage_area": 3, "entity_type": "cooperative"}]}',
    '{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [{"id": "WS-1", "wage_area": 3, '
    '"entity_type": "cooperative", "workers": [{"id": "W1", "categories": [], "sex": "male", "birth_date": '
    '"1980-01-01", "hired_on": "2021-01-01", "months": [{"month": "2022-07", "income": "1", "income" : "2"}]}]}]}',
    '{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [{"id": "WS-1", "wage_area": 3, '
    '"entity_type": "cooperative", "name": "a\\"b", "name": "c"}]}',
    '{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [{"id": "WS-1", "wage_area": 3, '
    '"entity_type": "cooperative", "name": ":x", "na\\u006de": "c"}]}',
    '{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [], "workshops": []}',
])
def test_a_key_given_twice_is_refused_with_the_thorough_paths_problem(text, tmp_path):
    path = tmp_path / "dup.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises((stream.StreamStopped, NotVouched)):
        _fast(str(path))
    result = CliRunner().invoke(main, ["evaluate", POLICY, str(path)])
    assert result.exit_code == 1 and "json.duplicate_key" in result.output


WORKSHOP = ('{"id": "WS-1", "wage_area": 3, "entity_type": "enterprise", "enterprise_size": "micro", '
            '"history": {"award_paid": %s}, "loans": [{"id": "L1", "type": "startup_guarantee", "principal": %s, '
            '"annual_rate": %s, "start": "2022-07-01"}], "workers": [{"id": "W1", "categories": ["monitored"], '
            '"sex": "male", "birth_date": "1980-01-01", "hired_on": "2021-01-01", "months": [{"month": "2022-07", '
            '"income": %s, "social_insurance": {"base": %s, "employer_paid": %s, "fully_paid": true}}]}]}')


@pytest.mark.parametrize("day", ["2024-02-29", "2023-02-29", "2022-02-30", "2022-13-01", "0000-01-01", "1899-12-31",
                                 "9999-12-31", "2022-1-01", "2022-01-01T00:00", " 2022-01-01", "２０２２-01-01"])
def test_a_date_the_fast_path_reads_is_one_the_thorough_path_reads_the_same(day, tmp_path):
    """The fast path reads a date as msgspec does (exactly YYYY-MM-DD, a real day); any text the schema's pattern
    takes but msgspec does not is left to the thorough path, which says what is wrong with it."""
    text = (WORKSHOP % ("0", "1000000", '"0.0385"', '"700"', "3000", '"840.00"')).replace("1980-01-01", day)
    path = tmp_path / "f.json"
    path.write_text('{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [%s]}' % text,
                    encoding="utf-8")
    thorough = _thorough(str(path))
    if isinstance(thorough, InvalidInput):
        with pytest.raises(NotVouched):
            workshop_reader().workshop(text.encode())
        return
    fast = workshop_reader().workshop(text.encode())  # a valid date is read by the fast path, not left aside
    assert repr(fast) == repr(list(thorough.workshops)[0])
    assert fast["workers"][0]["birth_date"] == dt.date.fromisoformat(day)


@pytest.mark.parametrize("numbers", [
    ("0", "1000000", '"0.0385"', '"700"', "3000", '"840.00"'),
    ("0.0", "1E+6", "0.0385", "700.50", "4246.9", "1021.20"),  # with a fraction or an exponent: read exactly
    ("50000.000000000000000000001", "1e-30", "0.0435", "null", "0", "0.00"),
])
def test_decimals_written_as_numbers_are_read_exactly_from_their_text(numbers, tmp_path):
    text = WORKSHOP % numbers
    path = tmp_path / "f.json"
    path.write_text('{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [%s]}' % text,
                    encoding="utf-8")
    fast = workshop_reader().workshop(text.encode())
    assert repr(fast) == repr(list(_thorough(str(path)).workshops)[0])
    written = [n.strip('"') for n in numbers]
    month = fast["workers"][0]["months"][0]
    read = [fast["history"]["award_paid"], fast["loans"][0]["principal"], fast["loans"][0]["annual_rate"],
            month["income"], month["social_insurance"]["base"], month["social_insurance"]["employer_paid"]]
    assert [str(v) if v is not None else "null" for v in read] == [str(Decimal(w)) if w != "null" else "null"
                                                                   for w in written]


@pytest.mark.parametrize("number", ["1e-35", "1000000000000000", "999999999999999.0000000001", "-0.5", "1E+31",
                                    "1.00000000000000000000000000000000001"])
def test_a_number_the_schema_or_the_limits_refuse_is_never_vouched_for(number, tmp_path):
    text = WORKSHOP % ("0", number, "0.04", "1", "1", "1")
    with pytest.raises(NotVouched):
        workshop_reader().workshop(text.encode())
    path = tmp_path / "f.json"
    path.write_text('{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [%s]}' % text,
                    encoding="utf-8")
    assert isinstance(_thorough(str(path)), InvalidInput)


@pytest.mark.parametrize("edit, code", [
    (lambda t: t.replace('"categories":["monitored"]', '"categories":["monitored","monitored"]', 1), "facts.duplicate"),
    (lambda t: t.replace('"hired_on":"20', '"hired_on":"18', 1), "facts.invalid_value"),
    (lambda t: re.sub(r'"base":\d+,("employer_paid":"[0-9.]+","fully_paid":true)', r"\1", t, count=1),
     "facts.missing"),
    (lambda t: re.sub(r'"headcount":\d+', '"headcount":30000000000000000000000', t, count=1), None),  # thorough only
    (lambda t: t.replace('"income":"', '"income":"00', 1), None),  # valid, on both paths
    (lambda t: t.replace('"sex":"female"', '"sex":"female","sex":"male"', 1), "json.duplicate_key"),
    (lambda t: t.replace('"month":"2022-08"', '"month":"2022-07"', 1), "facts.duplicate_month"),
    (lambda t: t[:-3] + " x", "json.syntax"),
])
def test_a_stream_that_stands_aside_reports_exactly_the_thorough_paths_problems(edit, code, tmp_path):
    import sys
    from conftest import ROOT
    sys.path.insert(0, str(ROOT / "bench"))
    import generate

    path = tmp_path / "facts.json"
    with open(path, "w", encoding="utf-8") as fh:
        generate.write(fh, 30, 300, 5, months=6)
    text = path.read_text(encoding="utf-8")
    assert edit(text) != text
    path.write_text(edit(text), encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", POLICY, str(path), "-o", str(tmp_path / "d.json")])
    thorough = _thorough(str(path))
    if code is None:
        assert not isinstance(thorough, InvalidInput)
        assert result.exit_code == 0, result.output
        memory = subsidy_rules.evaluate(_policy(), thorough)
        text = document_text(subsidy_rules.to_json(memory))
        assert _strip((tmp_path / "d.json").read_text(encoding="utf-8")) == _strip(text)
        return
    assert isinstance(thorough, InvalidInput) and code in {p.code for p in thorough.problems}
    source = path.read_text(encoding="utf-8").splitlines()
    lines = problem_lines(thorough.problems, lambda file, n: source[n - 1] if file == str(path) else "")
    assert result.exit_code == 1
    assert "\n".join(lines) in result.output


@pytest.mark.parametrize("text", [
    '{"period": {"start": "2022-07-01", "end": "2022-12-31"}}',
    '{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": []}',
    '\ufeff{"period" : {"start": "2022-07-01", "end": "2022-12-31"} ,\r\n "workshops" :\t[ ] }\r\n',
])
def test_documents_without_workshops_stream(text, tmp_path):
    path = tmp_path / "f.json"
    path.write_text(text, encoding="utf-8")
    assert _fast(str(path)) == []
    out = tmp_path / "d.json"
    result = CliRunner().invoke(main, ["evaluate", POLICY, str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["decisions"] == []
    # the facts' hash is the thorough path's (of the text, a byte order mark left out), so verify finds the same file
    assert document["facts_sha256"] == stream.open_json(str(path)).sha256 == _thorough(str(path)).sha256
    assert CliRunner().invoke(main, ["verify", str(out), str(path)]).exit_code == 0


@pytest.mark.parametrize("text", [
    '{"workshops": [], "period": {"start": "2022-07-01", "end": "2022-12-31"}}',  # the period after the workshops
    '{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [], "other": 1}',
    '{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [}',
    '{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": []} []',
    '{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "workshops": [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}',
    '{"period": {"start": "2022-07-01", "end": "2022-12-31"}, "work\\u0073hops": []}',
])
def test_a_document_of_another_shape_is_left_to_the_thorough_path(text, tmp_path):
    path = tmp_path / "f.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises((stream.StreamStopped, NotVouched)):
        _fast(str(path))
    thorough = _thorough(str(path))
    result = CliRunner().invoke(main, ["evaluate", POLICY, str(path), "-o", str(tmp_path / "d.json")])
    assert result.exit_code == (1 if isinstance(thorough, InvalidInput) else 0), result.output


def test_the_typed_reader_knows_every_keyword_of_the_facts_schema():
    # made from schemas/facts.schema.json; a keyword it does not know raises Untranslatable here, not in a run
    reader = workshop_reader()
    assert reader.period(b'{"start": "2022-07-01", "end": "2022-12-31"}') == {
        "start": dt.date(2022, 7, 1), "end": dt.date(2022, 12, 31)}
    data = copy.deepcopy(reader.workshop(b'{"id": "WS-1", "wage_area": 3, "entity_type": "cooperative"}'))
    assert data["history"] == {"award_paid": Decimal("0"), "hiring_subsidies_paid": Decimal("0")}
    assert data["workers"] == [] and data["site"] == {"government_invested": False, "collective_free_use": False,
                                                      "integrated_agri_funds": False}
