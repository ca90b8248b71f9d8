"""One CLI grammar (issue 15, item 5): FACTS - is standard input wherever a command takes facts; --why-not is one
option; --format, -o, -q, --ledger URL and POLICY read the same on every command; CSV for Excel has a byte-order
mark unless --no-bom; progress on a terminal on every long path; the summaries people read in the policy's words."""
import hashlib
import io
import json
import os
import re

import openpyxl
import pytest
from click.testing import CliRunner

from subsidy_rules.cli import main
from conftest import EXAMPLE, POLICY, ROOT

COUNTY = ROOT / "examples" / "county"
FORK = str(ROOT / "policies" / "examples" / "neighbour_province.yaml")
EXAMPLE_TEXT = open(EXAMPLE, encoding="utf-8").read()


def run(*args, input=None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def _bytes(path):
    with open(path, "rb") as fh:
        return fh.read()


def _decisions(text):
    doc = json.loads(text)
    return doc["decisions"], doc["totals"]


# --- FACTS - -------------------------------------------------------------------------------------------------------

def test_facts_from_standard_input_decide_as_the_file_does_and_record_the_bytes_hash():
    raw = _bytes(EXAMPLE)
    piped = run("evaluate", POLICY, "-", input=raw)
    assert piped.exit_code == 0, piped.output
    from_file = run("evaluate", POLICY, EXAMPLE)
    assert _decisions(piped.stdout) == _decisions(from_file.stdout)
    doc = json.loads(piped.stdout)
    assert doc["facts_sha256"] == hashlib.sha256(raw).hexdigest() == json.loads(from_file.stdout)["facts_sha256"]
    assert doc["run"]["facts"] == "<stdin>"


def test_json_facts_from_standard_input(tmp_path):
    as_json = tmp_path / "facts.json"
    assert run("facts", "convert", EXAMPLE, "-o", as_json).exit_code == 0
    piped = run("evaluate", POLICY, "-", "--format", "text", input=_bytes(as_json))
    assert piped.exit_code == 0, piped.output
    assert piped.stdout == run("evaluate", POLICY, EXAMPLE, "--format", "text").stdout


def test_problems_in_standard_input_are_located_there():
    bad = b"period: {start: 2022-07-01, end: 2022-07-31}\nworkshops:\n  - id: WS-1\n    headcount: many\n"
    result = run("evaluate", POLICY, "-", input=bad)
    assert result.exit_code == 1
    assert re.search(r"^<stdin>:4:16: error\[", result.stderr, re.M), result.stderr
    assert "headcount: many" in result.stderr  # the line itself, with its caret


def test_a_workbook_or_jobs_on_standard_input_is_a_usage_error(tmp_path):
    book = tmp_path / "roster.xlsx"
    assert run("facts", "convert", EXAMPLE, "-o", book, "--policy", POLICY).exit_code == 0
    refused = run("evaluate", POLICY, "-", input=_bytes(book))
    assert refused.exit_code == 2 and "花名册" in refused.stderr and "标准输入" in refused.stderr  # the policy's language
    jobs = run("evaluate", POLICY, "-", "--jobs", "2", input=_bytes(EXAMPLE))
    assert jobs.exit_code == 2 and "--jobs" in jobs.stderr and "标准输入" in jobs.stderr


@pytest.mark.parametrize("extra", [["--format", "text"], ["--workshop", "WS-001"]])
def test_jobs_outside_the_streaming_path_says_what_it_needs(tmp_path, extra):
    """--jobs decides a .json facts file to the JSON decisions document: asked for another format, or one workshop,
    the error says so (not that the facts must be JSON, which they are)."""
    facts = tmp_path / "f.json"
    assert run("facts", "convert", EXAMPLE, "-o", facts, "--policy", POLICY).exit_code == 0
    result = run("evaluate", POLICY, facts, "--jobs", "2", *extra)
    assert result.exit_code == 2 and "--format json" in result.stderr and "--workshop" in result.stderr
    assert "输出 JSON 决定文件" in result.stderr  # the policy's language


def test_explain_verify_and_diff_take_facts_from_standard_input(tmp_path):
    raw = _bytes(EXAMPLE)
    args = ("explain", POLICY, "{}", "--workshop", "WS-001", "--worker", "W-0001", "--width", "0")
    piped = run(*[a.replace("{}", "-") for a in args], input=raw)
    assert piped.exit_code == 0 and piped.stdout == run(*[a.replace("{}", EXAMPLE) for a in args]).stdout
    decisions = tmp_path / "decisions.json"
    assert run("evaluate", POLICY, EXAMPLE, "-o", decisions).exit_code == 0
    verified = run("verify", decisions, "-", input=raw)
    assert verified.exit_code == 0 and "核验通过" in verified.stdout  # in the language of the policy the run used
    changed = run("verify", decisions, "-", input=raw.replace(b"WS-001", b"WS-0X1"))
    assert changed.exit_code == 1 and "verify.facts_changed" in changed.stderr
    diff = run("diff", POLICY, FORK, "--facts", "-", input=raw)
    assert diff.exit_code == 0
    assert diff.stdout == run("diff", POLICY, FORK, "--facts", EXAMPLE).stdout.replace(f"对 {EXAMPLE} 发放", "对 - 发放")


def test_carry_in_from_standard_input(tmp_path, en_policy):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert run("ledger", "init", url).exit_code == 0
    done = run("ledger", "carry-in", url, POLICY, "-", "--reason", "paper records", input=_bytes(EXAMPLE))
    assert done.exit_code == 0 and "已将 2 个历史条目作为批次 1（" in done.stdout
    english = f"sqlite:///{tmp_path / 'english.db'}"
    assert run("ledger", "init", english).exit_code == 0
    done = run("ledger", "carry-in", english, en_policy, "-", "--reason", "paper records", input=_bytes(EXAMPLE))
    assert done.exit_code == 0 and "carried in 2 history entries as run 1" in done.stdout
    runs = run("ledger", "runs", url).stdout
    assert "<stdin>" in runs


# --- --why-not -----------------------------------------------------------------------------------------------------

def test_why_not_is_one_option_on_evaluate_and_explain():
    base = ("explain", POLICY, EXAMPLE, "--workshop", "WS-001", "--width", "0")
    default = run(*base).stdout
    assert run(*base, "--why-not").stdout == default
    granted_only = run(*base, "--granted-only").stdout
    assert granted_only != default and len(granted_only) < len(default)
    old = run(*base, "--all")  # the old spelling still works, and says so
    assert old.exit_code == 0 and old.stdout == default and "注意：--all 现写作 --why-not" in old.stderr  # policy's language
    assert "--all" not in run("explain", "--help").stdout and "--why-not / --granted-only" in run("explain", "--help").stdout
    assert run(*base, "--all", "--granted-only").exit_code == 2
    ev = json.loads(run("evaluate", POLICY, EXAMPLE, "--why-not", "--no-trace").stdout)["decisions"]
    plain = json.loads(run("evaluate", POLICY, EXAMPLE, "--granted-only", "--no-trace").stdout)["decisions"]
    assert any(d["outcome"] == "denied" for d in ev) and not any(d["outcome"] == "denied" for d in plain)
    assert plain == json.loads(run("evaluate", POLICY, EXAMPLE, "--no-trace").stdout)["decisions"]


# --- the same options mean the same on every command ---------------------------------------------------------------

def _commands(group=main, prefix=()):
    import click
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + (name,))
        else:
            yield prefix + (name,), command


def test_format_output_and_ledger_read_the_same_on_every_command():
    shared = {"json": "json: ", "text": "text: ", "csv": "csv: "}
    seen = set()
    for path, command in _commands():
        for param in command.params:
            if "--format" in getattr(param, "opts", ()):
                choices = list(param.type.choices)
                for choice in choices:  # each choice explained in the help, by its name
                    assert f"{choice}: " in param.help, (path, choice)
                if "csv" in choices and path != ("facts", "convert"):  # for Excel: a byte-order mark unless --no-bom
                    # (facts convert writes a roster's CSV folder with its mark always: engine/facts/convert.py)
                    assert any("--no-bom" in p.opts for p in command.params), path
                seen.update(c for c in choices if c in shared)
            if "--output" in getattr(param, "opts", ()):
                assert param.opts == ["-o", "--output"], path
            if "--ledger" in getattr(param, "opts", ()):
                assert param.metavar == "URL" and param.help.startswith("The payout ledger ("), path
            if param.name == "policy" and param.param_type_name == "argument":
                assert param.human_readable_name == "POLICY", path
    assert seen == set(shared)
    # the policy is an argument wherever it is required, the ledger report too (--policy, its old spelling, hidden)
    report = dict(_commands())[("ledger", "report")]
    assert [p.name for p in report.params if p.param_type_name == "argument"] == ["url", "policy"]


def test_ledger_report_policy_argument_quiet_and_csv(tmp_path, en_policy):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert run("ledger", "init", url).exit_code == 0
    assert run("evaluate", POLICY, COUNTY / "2022-08.yaml", "--ledger", url, "--record", "-q").exit_code in (0, 1)
    text = run("ledger", "report", url, POLICY)
    assert text.exit_code == 0 and text.stdout == run("ledger", "report", url, "--policy", POLICY).stdout
    assert run("ledger", "report", url).exit_code == 2  # no policy
    assert not re.search(r"\b(entries|granted|by fund|targets|head:)\b", text.stdout), text.stdout  # the policy's words
    out = tmp_path / "report.csv"
    quiet = run("ledger", "report", url, POLICY, "--format", "csv", "-o", out, "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert _bytes(out).startswith(b"\xef\xbb\xbftable,key")
    loud = run("ledger", "report", url, POLICY, "--format", "csv", "-o", out, "--no-bom")
    assert _bytes(out).startswith(b"table,key") and f"已写入 {out}\n" in loud.stderr and " 的链头：" in loud.stderr
    english = run("ledger", "report", url, en_policy, "--format", "csv", "-o", out)
    assert f"wrote {out}\n" in english.stderr and "ledger head of " in english.stderr
    assert run("ledger", "report", url, POLICY, "--format", "json", "-o", "-").stdout.startswith("{")


def test_csv_has_a_byte_order_mark_unless_no_bom(tmp_path):
    with_bom = run("evaluate", POLICY, EXAMPLE, "--format", "csv", "-o", tmp_path / "a.csv")
    assert with_bom.exit_code == 0 and _bytes(tmp_path / "a.csv").startswith(b"\xef\xbb\xbfworkshop,")
    assert run("evaluate", POLICY, EXAMPLE, "--format", "csv", "--no-bom").stdout_bytes.startswith(b"workshop,")
    assert run("evaluate", POLICY, EXAMPLE, "--format", "csv").stdout_bytes.startswith(b"\xef\xbb\xbfworkshop,")
    assert run("template", POLICY, "-o", tmp_path / "bom", "--format", "csv").exit_code == 0
    assert run("template", POLICY, "-o", tmp_path / "plain", "--format", "csv", "--no-bom").exit_code == 0
    names = sorted(p.name for p in (tmp_path / "bom").iterdir())
    assert names and names == sorted(p.name for p in (tmp_path / "plain").iterdir())
    for name in names:
        bom, plain = _bytes(tmp_path / "bom" / name), _bytes(tmp_path / "plain" / name)
        assert bom == b"\xef\xbb\xbf" + plain and not plain.startswith(b"\xef\xbb\xbf")


def test_template_and_convert_write_to_standard_output(tmp_path):
    book = run("template", POLICY, "-o", "-")
    assert book.exit_code == 0 and book.stderr == ""
    sheets = openpyxl.load_workbook(io.BytesIO(book.stdout_bytes)).sheetnames
    assert run("template", POLICY, "-o", tmp_path / "t.xlsx", "-q").stderr == ""
    assert sheets == openpyxl.load_workbook(tmp_path / "t.xlsx").sheetnames
    assert run("template", POLICY, "-o", "-", "--format", "csv").exit_code == 2
    piped = run("facts", "convert", EXAMPLE, "-o", "-", "--format", "json")
    written = run("facts", "convert", EXAMPLE, "-o", tmp_path / "f.json")
    assert piped.exit_code == 0 and json.loads(piped.stdout) == json.loads((tmp_path / "f.json").read_text("utf-8"))
    assert f"wrote {tmp_path / 'f.json'}" in written.stderr
    assert run("facts", "convert", EXAMPLE, "-o", "-").exit_code == 2  # which format, on standard output?


def test_diff_writes_to_a_file_like_every_command(tmp_path, en_policy):
    out = tmp_path / "diff.txt"
    done = run("diff", POLICY, FORK, "--facts", EXAMPLE, "-o", out)
    assert done.exit_code == 0 and done.stdout == "" and f"已写入 {out}\n" in done.stderr
    english = run("diff", POLICY, en_policy, "-o", tmp_path / "en.txt")  # in the language of the new policy
    assert english.exit_code == 0 and f"wrote {tmp_path / 'en.txt'}\n" in english.stderr
    assert out.read_text("utf-8") == run("diff", POLICY, FORK, "--facts", EXAMPLE).stdout
    assert "1,500.00 →" in out.read_text("utf-8")  # amounts as people read them, from the one money formatter
    assert run("diff", POLICY, FORK, "-o", out, "-q").stderr == ""


# --- progress on a terminal ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["text", "html", "csv"])
def test_the_in_memory_path_shows_progress_on_a_terminal(monkeypatch, fmt, en_policy):
    quiet_run = run("evaluate", POLICY, EXAMPLE, "--format", fmt, "-q")
    monkeypatch.setattr("subsidy_rules.cli._common._interactive", lambda: True)
    shown = run("evaluate", POLICY, EXAMPLE, "--format", fmt)
    assert shown.exit_code == 0 and "测算中" in shown.stderr  # the bar's label, in the policy's language
    strip = (lambda t: re.sub(r"[0-9T:+-]{20,}", "", t)) if fmt == "html" else (lambda t: t)  # its run time
    assert strip(shown.stdout) == strip(quiet_run.stdout)  # decided a workshop at a time: the same run
    assert "测算中" not in run("evaluate", POLICY, EXAMPLE, "--format", fmt, "-q").stderr
    assert "deciding" in run("evaluate", en_policy, EXAMPLE, "--format", fmt).stderr


def test_a_ledger_run_shows_progress_on_a_terminal_and_records_the_same(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    month = COUNTY / "2022-07.yaml"
    assert run("ledger", "init", url).exit_code == 0
    assert run("ledger", "carry-in", url, POLICY, month, "--reason", "records to 2022-06").exit_code == 0
    quiet_run = run("evaluate", POLICY, month, "--ledger", url, "-q", "--no-trace")
    assert quiet_run.exit_code == 0 and "测算中" not in quiet_run.stderr
    monkeypatch.setattr("subsidy_rules.cli._common._interactive", lambda: True)
    shown = run("evaluate", POLICY, month, "--ledger", url, "--record", "--no-trace")
    assert shown.exit_code == 0, shown.output
    assert "测算中" in shown.stderr
    first, recorded = json.loads(quiet_run.stdout), json.loads(shown.stdout)
    assert recorded["totals"] == first["totals"]


@pytest.mark.parametrize("kind", ["yaml", "json"])
def test_verify_shows_progress_on_a_terminal_on_either_path(monkeypatch, tmp_path, kind):
    facts = EXAMPLE  # YAML: decided again in memory, a workshop at a time
    if kind == "json":  # JSON: decided again as it streams, a workshop's bytes at a time
        facts = tmp_path / "facts.json"
        assert run("facts", "convert", EXAMPLE, "-o", facts).exit_code == 0
    decisions = tmp_path / "decisions.json"
    assert run("evaluate", POLICY, facts, "-o", decisions, "-q").exit_code == 0
    from subsidy_rules.tools.verify import verify
    told = []
    assert verify(str(decisions), str(facts), progress=told.append).ok
    assert told and min(told) >= 0 and sum(told) == os.path.getsize(facts)  # the bar's length: the facts file's size
    monkeypatch.setattr("subsidy_rules.cli._common._interactive", lambda: True)
    shown = run("verify", decisions, facts)
    assert shown.exit_code == 0, shown.output
    assert "重新测算中" in shown.stderr  # the bar's label, in the policy's language
    assert "重新测算中" not in run("verify", decisions, facts, "-q").stderr


def test_no_progress_when_standard_error_is_not_a_terminal(en_policy):
    assert "测算中" not in run("evaluate", POLICY, EXAMPLE, "--format", "text").stderr
    assert "deciding" not in run("evaluate", en_policy, EXAMPLE, "--format", "text").stderr


# --- the words people read -----------------------------------------------------------------------------------------

def test_the_pending_summary_and_a_held_status_read_in_the_policy_words():
    month = COUNTY / "2026-11.yaml"
    result = run("evaluate", POLICY, month, "--format", "text")
    assert result.exit_code == 0
    assert not re.search(r"[A-Za-z]{4,}", result.stderr.replace("--record", "").replace("--supersede", "")), result.stderr
    assert "全省在岗职工年平均工资" in result.stderr  # the parameter by its label, not its id
    explained = run("explain", POLICY, month, "--workshop", "WS-L01", "--width", "0").stdout
    assert "数据文件 /workshops/0/certification" in explained and "the facts at" not in explained
    # the JSON keeps the engine's own words for tools
    doc = json.loads(run("evaluate", POLICY, month, "--no-trace").stdout)
    held = [d for d in doc["decisions"] if d.get("basis") == "held"]
    assert held and held[0]["source"] == "the facts at /workshops/0/certification"


def test_a_fork_brings_its_own_words_for_the_ledger_report(tmp_path):
    fork = tmp_path / "fork.yaml"
    text = (ROOT / "policies" / "shanxi_2022.yaml").read_text(encoding="utf-8")
    assert "    ledger.by_city: 按市合计\n" in text
    fork.write_text(text.replace("    ledger.by_city: 按市合计\n", "    ledger.by_city: CITY TOTALS\n"), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert run("ledger", "init", url).exit_code == 0
    report = run("ledger", "report", url, fork)
    assert report.exit_code == 0, report.output
    assert "CITY TOTALS" in report.stdout and "按县合计" in report.stdout and "按市合计" not in report.stdout


def test_a_grant_barred_by_a_status_already_held_says_so_in_the_policy_words():
    """A route not tried because the title is held from before reads as held (not as granted by another route),
    from the structured reason the engine records; the JSON carries the code and what it names."""
    month = COUNTY / "2026-11.yaml"
    explained = run("explain", POLICY, month, "--workshop", "WS-L01", "--width", "0", "--why-not").stdout
    block = explained.split("劳动密集型企业申请认定为帮扶车间")[1].split("== ")[0]
    assert "本期不再重新认定" in block and "已由其他途径取得" not in block
    doc = json.loads(run("evaluate", POLICY, month, "--why-not", "-q").stdout)
    barred = next(d for d in doc["decisions"]
                  if d["workshop"] == "WS-L01" and d["rule"] == "certification_labour_intensive")
    [entry] = [e for e in barred["trace"] if e["event"] == "not_reached"]
    assert entry["code"] == "held"
    assert entry["details"]["since"] == "2022-07-01" and entry["details"]["route"] == "general"


def test_a_failed_or_is_said_as_what_is_the_case_and_a_whole_not_reads_by_its_value():
    """`not public_site or share >= 60%` failed: the trace says what is the case (public site 是, and the share
    below 60%), not "public site: 是 or … at least 60%", which would read as true; a condition that is only `not x`
    still reads by x's value."""
    explained = run("explain", POLICY, EXAMPLE, "--workshop", "WS-005", "--width", "0").stdout
    [line] = [x for x in explained.splitlines() if "公共投入场地的车间吸纳比例不低于60%：" in x and "✗" in x][:1]
    assert "政府投资建设" in line and " 是 且 " in line and " 低于 " in line and "并非" not in line
    whole = run("explain", POLICY, EXAMPLE, "--workshop", "WS-001", "--worker", "W-0001", "--width", "0").stdout
    assert "此前未领取一次性吸纳就业补助：此前已领取一次性吸纳就业补助 否" in whole


# --- what a person reads on the command line: the policy's language, or English ------------------------------------

@pytest.mark.parametrize("typed", ["１，５００元", "１５００", "１，５００", "1,500元", "1500元", "1,500"])
def test_a_mistyped_amount_is_told_the_number_the_reader_accepts(tmp_path, typed):
    """The hint for an amount typed with full-width digits, a separator or a unit says what to type, and what it says
    is read: one suggestion, never one the reader then refuses."""
    text = EXAMPLE_TEXT.replace("income: 700,", f"income: \"{typed}\",", 1)
    facts = tmp_path / "facts.yaml"
    facts.write_text(text, encoding="utf-8")
    result = run("evaluate", POLICY, facts)
    assert result.exit_code == 1
    [line] = [x for x in result.stderr.splitlines() if "error[facts.invalid_value]" in x]
    suggested = re.findall(r"(?:请用半角输入“([^”]+)”|请写成 (\S+))", line.split("; ", 1)[1])
    assert [a or b for a, b in suggested] == ["1500"], line
    facts.write_text(EXAMPLE_TEXT.replace("income: 700,", "income: 1500,", 1), encoding="utf-8")
    assert run("evaluate", POLICY, facts).exit_code == 0


def test_ledger_commands_with_no_policy_speak_lang_or_english(tmp_path, monkeypatch):
    """ledger init, verify, runs and checkpoint have no policy: --lang, else SUBSIDY_LANG, else English."""
    monkeypatch.delenv("SUBSIDY_LANG", raising=False)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    made = run("ledger", "init", url)
    assert made.exit_code == 0 and made.stdout.startswith(f"created an empty ledger at {url}\nledger head of {url}: run 0")
    again = run("ledger", "init", url, "--lang", "zh-CN")
    assert again.stdout.startswith(f"{url} 已有台账（0 个批次）：未新建\n台账 {url} 的链头：批次 0，条目 0，哈希 ")
    assert run("ledger", "carry-in", url, POLICY, COUNTY / "2022-07.yaml", "--reason", "records", "-q").exit_code == 0
    assert run("ledger", "verify", url).stdout.startswith(f"{url}: intact: 1 run, every entry chained")
    monkeypatch.setenv("SUBSIDY_LANG", "zh_CN.UTF-8")
    assert run("ledger", "verify", url).stdout.startswith(f"{url}：完整：1 个批次，每个条目都与前一条目相链接")
    assert run("ledger", "verify", url, "--lang", "en").stdout.startswith(f"{url}: intact: 1 run,")
    runs = run("ledger", "runs", url).stdout.splitlines()
    assert runs[0].split()[:3] == ["批次", "编号", "类别"] and runs[1].split()[2] == "历史转入"
    monkeypatch.setenv("SUBSIDY_LANG", "fr")  # a language with no catalog: English
    runs = run("ledger", "runs", url).stdout.splitlines()
    assert runs[0].split()[:3] == ["run", "id", "kind"] and runs[1].split()[2] == "carry-in"
    monkeypatch.delenv("SUBSIDY_LANG")
    assert run("ledger", "keygen", "--key", tmp_path / "office.key").exit_code == 0
    signed = run("ledger", "checkpoint", url, "--key", tmp_path / "office.key", "-o", tmp_path / "c.json", "--lang", "zh")
    assert signed.exit_code == 0 and signed.stdout.startswith(f"已写入 {tmp_path / 'c.json'}：批次 1，条目 ")
    checked = run("ledger", "verify", url, "--checkpoint", tmp_path / "c.json")
    assert f"matches the checkpoint {tmp_path / 'c.json'} of " in checked.stdout and "0 runs recorded since" in checked.stdout
    assert "note: " in checked.stderr and "signature was checked with the key it carries" in checked.stderr
    # the JSON, codes and the policy's own words are the same in every language
    assert run("ledger", "report", url, POLICY, "--format", "json").stdout == \
        run("ledger", "report", url, POLICY, "--format", "json", "-q").stdout


def test_the_ledger_lines_of_a_run_are_in_the_policy_language(tmp_path, en_policy):
    """recorded, already recorded and the ledger's head, in Chinese for the bundled policy and in English for the same
    policy asking for English."""
    for policy, said in ((POLICY, ("已记账，批次 2（", "本次测算已记账，批次 2（", "：未作任何改动", " 的链头：批次 2，条目 ")),
                         (en_policy, ("recorded run 2 (", " granted", "already recorded as run 2 (", "ledger head of "))):
        url = f"sqlite:///{tmp_path / (os.path.basename(policy) + '.db')}"
        assert run("ledger", "init", url).exit_code == 0
        assert run("ledger", "carry-in", url, policy, COUNTY / "2022-07.yaml", "--reason", "records").exit_code == 0
        first = run("evaluate", policy, COUNTY / "2022-07.yaml", "--ledger", url, "--record", "-o", tmp_path / "d.json")
        again = run("evaluate", policy, COUNTY / "2022-07.yaml", "--ledger", url, "--record", "-o", tmp_path / "d.json")
        assert first.exit_code == again.exit_code == 0
        assert all(words in first.stderr + again.stderr for words in said), (first.stderr, again.stderr)
    assert "recorded run 2 (" in first.stderr and ": 34 entries, 56,640.00 granted" in first.stderr


def test_quiet_leaves_only_problems(tmp_path):
    """-q on validate, verify and the ledger's commands: nothing printed when all is well, problems still are."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert run("ledger", "init", url, "-q").stdout == "" and os.path.exists(tmp_path / "ledger.db")
    carried = run("ledger", "carry-in", url, POLICY, COUNTY / "2022-07.yaml", "--reason", "records", "-q")
    assert carried.exit_code == 0 and carried.output == ""
    assert "历史转入" in run("ledger", "runs", url, "-q", "--lang", "zh").stdout  # the table is its output
    verified = run("ledger", "verify", url, "-q")
    assert verified.exit_code == 0 and verified.output == ""
    assert run("ledger", "keygen", "--key", tmp_path / "k.key").exit_code == 0
    signed = run("ledger", "checkpoint", url, "--key", tmp_path / "k.key", "-o", tmp_path / "c.json", "-q")
    assert signed.exit_code == 0 and signed.output == "" and (tmp_path / "c.json").exists()
    out = tmp_path / "d.json"
    assert run("evaluate", POLICY, EXAMPLE, "-o", out, "-q").output == ""
    same = run("verify", out, EXAMPLE, "-q")
    assert same.exit_code == 0 and same.output == ""
    out.write_text(out.read_text("utf-8").replace('"amount": "1500.00"', '"amount": "1600.00"', 1), "utf-8")
    changed = run("verify", out, EXAMPLE, "-q")
    assert changed.exit_code == 1 and "error[verify.changed]" in changed.stderr and changed.stdout == ""
    assert run("validate", POLICY, "-q").output == ""
    broken = tmp_path / "broken.yaml"
    broken.write_text(open(POLICY, encoding="utf-8").read() + "\nno_such_section: 1\n", encoding="utf-8")
    refused = run("validate", broken, "-q")
    assert refused.exit_code == 1 and "error[" in refused.stderr


@pytest.mark.parametrize("command", [("validate", "{facts}"), ("test", "{facts}"), ("template", "{facts}", "-o", "{out}"),
                                     ("test", "{facts}", "{policy}"), ("evaluate", "{facts}", "{policy}")])
def test_facts_where_the_policy_goes_is_one_problem_that_says_so(tmp_path, command):
    filled = [a.format(facts=EXAMPLE, policy=POLICY, out=tmp_path / "t.xlsx") for a in command]
    result = run(*filled)
    assert result.exit_code == 1
    [problem] = [x for x in result.stderr.splitlines() if "error[" in x]
    assert problem.startswith(f"{EXAMPLE}: error[input.swapped] {EXAMPLE} ")
    if len(command) == 3 and command[2] == "{policy}":  # the policy came second: said in its language
        assert "是数据文件而不是政策文件" in problem and f"subsidy {command[0]} 中把 {POLICY} 写在 {EXAMPLE} 之前" in problem
    else:  # no policy given at all: English
        assert "holds facts, not a policy: POLICY is a policy file" in problem
        assert f"give the policy file to subsidy {command[0]}, e.g. subsidy {command[0]} POLICY" in problem
    assert not (tmp_path / "t.xlsx").exists()


def test_verify_with_its_arguments_swapped_says_so(tmp_path):
    out = tmp_path / "d.json"
    assert run("evaluate", POLICY, EXAMPLE, "-o", out).exit_code == 0
    result = run("verify", EXAMPLE, out)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{EXAMPLE}: error[input.swapped] {EXAMPLE} 是数据文件而不是决定文件，{out} 才是决定文件：DECISIONS 和 FACTS 的顺序写反了; "
        f"先写决定文件，再写数据文件：在 subsidy verify 中把 {out} 写在 {EXAMPLE} 之前", "1 个错误"]


def test_dev_stdout_is_standard_output(tmp_path):
    """-o /dev/stdout writes to standard output as -o - does: the same bytes, no 'wrote', nothing replaced."""
    piped = run("evaluate", POLICY, EXAMPLE, "--format", "text", "-o", "-")
    named = run("evaluate", POLICY, EXAMPLE, "--format", "text", "-o", "/dev/stdout")
    assert named.exit_code == 0 and named.stdout == piped.stdout and named.stderr == piped.stderr
    assert "已写入" not in named.stderr
    assert run("facts", "convert", EXAMPLE, "-o", tmp_path / "f.json").exit_code == 0
    streamed = run("evaluate", POLICY, tmp_path / "f.json", "-o", "/dev/stdout", "--no-trace")  # the streaming path
    assert streamed.exit_code == 0 and json.loads(streamed.stdout)["totals"]["granted"] == "147211.61"
    diff = run("diff", POLICY, FORK, "-o", "/dev/stdout")
    assert diff.exit_code == 0 and diff.stdout == run("diff", POLICY, FORK).stdout and diff.stderr == ""
    book = run("template", POLICY, "-o", "/dev/stdout")
    assert book.exit_code == 0 and book.stdout_bytes.startswith(b"PK")
    assert run("ledger", "checkpoint", "x.db", "--key", "k", "-o", "/dev/stdout").exit_code == 2  # a file only


def test_serve_says_where_it_serves_in_the_policy_language(tmp_path, monkeypatch, en_policy):
    import uvicorn
    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(kw["port"]))
    zh = run("serve", POLICY, "--data", tmp_path / "zh", "--port", "8123")
    assert zh.exit_code == 0 and served == [8123], zh.output
    assert zh.stderr.startswith(f"正在提供 {POLICY}：http://127.0.0.1:8123/（数据目录 ") and "只读：未给出 --users" in zh.stderr
    en = run("serve", en_policy, "--data", tmp_path / "en", "--port", "8124")
    assert en.exit_code == 0 and en.stderr.startswith(f"serving {en_policy} at http://127.0.0.1:8124/ (data in ")
    assert "read-only: no --users" in en.stderr


# --- usage errors: in the command's language ---------------------------------------------------------------------------

_USAGE = [  # (arguments, the error line in a Chinese policy's command)
    (["evaluate", POLICY], "错误：缺少参数 FACTS。"),
    (["evaluate", POLICY, EXAMPLE, "--fomat", "text"], "错误：没有选项 --fomat。是否应为 --format？"),
    (["evaluate", POLICY, EXAMPLE, "--format", "foo"],
     "错误：--format 的值无效：“foo”不是可选的值；可选：'json', 'text', 'csv', 'xlsx', 'html'。"),
    (["evaluate", POLICY, EXAMPLE, "--jobs", "x"], "错误：-j / --jobs 的值无效：“x”不是整数。"),
    (["evaluate", POLICY, EXAMPLE, "--format", "xlsx"], "错误：--format xlsx 生成工作簿：请用 -o payouts.xlsx 指定文件（管道输出用 -o -）"),
    (["explain", POLICY, EXAMPLE, "--workshop", "WS-999"],
     "错误：--workshop 的值无效：" + EXAMPLE + " 中没有车间“WS-999”；已有车间：WS-001, WS-002, WS-003, WS-004, WS-005, WS-006"),
    (["explain", POLICY, EXAMPLE, "--workshop", "WS-001", "--worker", "X-1"],
     "错误：--worker 的值无效：车间 WS-001 没有编号为“X-1”的劳动力"),
]


@pytest.mark.parametrize("args,said", _USAGE, ids=[" ".join(a[2:] if len(a) > 2 else a[:1]) for a, _ in _USAGE])
def test_a_usage_error_is_said_in_the_policys_language(args, said):
    """A command line that is wrong (click's own errors, and the commands' own) reads in the language of the policy
    it names, with the usage line and where to find help; it still exits 2."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert re.fullmatch(rf"用法：\S+ {args[0]} \[OPTIONS\] .+", lines[0]), lines[0]
    assert re.fullmatch(rf"运行 \S+ {args[0]} --help 查看说明。", lines[1]), lines[1]
    assert lines[-1] == said


def test_a_usage_error_with_no_policy_takes_the_language_from_lang_or_the_environment(en_policy):
    """With no policy among the arguments: $SUBSIDY_LANG (or --lang) says the language; with none, English. A policy
    that declares English is answered in English."""
    said = CliRunner().invoke(main, ["ledger", "report"], env={"SUBSIDY_LANG": "zh-CN"})
    assert said.exit_code == 2 and said.output.strip().splitlines()[-1] == "错误：缺少参数 URL。"
    plain = CliRunner().invoke(main, ["ledger", "report"], env={"SUBSIDY_LANG": ""})
    assert plain.exit_code == 2 and plain.output.strip().splitlines()[-1] == "Error: Missing argument 'URL'."
    typo = CliRunner().invoke(main, ["evalute", "x"], env={"SUBSIDY_LANG": "zh"})
    assert typo.exit_code == 2 and typo.output.strip().splitlines()[-1] == "错误：没有命令 evalute。是否应为 evaluate 或 validate？"
    english = CliRunner().invoke(main, ["evaluate", en_policy, EXAMPLE, "--fomat", "text"], env={"SUBSIDY_LANG": "zh"})
    assert english.exit_code == 2 and english.output.strip().splitlines()[-1] == (
        "Error: No such option '--fomat'. Did you mean '--format'?")
