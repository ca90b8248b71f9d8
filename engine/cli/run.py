"""Running a policy on facts: ``evaluate`` (with the ledger: ``--record``), ``explain`` and ``verify``."""
from __future__ import annotations

import os
import shutil
import sys
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, TypedDict

import click

import subsidy_rules
from ..runtime.backends import NAMES as ENGINE_NAMES
from ._common import _Command, _fail, _to_stdout, _write, _wrote, _unwritable, _QUIET, _load, _PATH, _FACTS, _ENCODING, _ledger, _head_line, _workshop_index, _only, _stdin_facts, _why_not, _ledger_option, \
    _format_option, _output_option, _NO_BOM, _write_bytes, _write_csv, _bar, _load_policy, _say, _set_lang, _tell

if TYPE_CHECKING:
    from ..facts.reading import Facts
    from ..policy.model import Policy
    from ..runtime.decisions import Totals
    from ..runtime.evaluate import Evaluation
    from ..runtime.stream import StreamHeader
    from ..views.document import TraceOption


class _Options(TypedDict):
    """How evaluate decides: the keyword arguments of :func:`subsidy_rules.evaluate` the command sets."""

    backend: str
    why_not: bool
    trace: bool


@click.command(cls=_Command)
@click.argument("policy", type=_PATH)
@click.argument("facts", type=_FACTS)
@_ENCODING
@_format_option(("json", "text", "csv", "xlsx", "html"), "json",
                json="the decisions document, with traces (for other programs)",
                text="a table per workshop with totals by fund and clause, in the policy's language",
                csv="one row per decision, codes as they are (UTF-8 with a byte-order mark unless --no-bom)",
                xlsx="the payout workbook a finance office files (needs -o FILE, or -o - for a pipe)",
                html="the printable audit report")
@_NO_BOM
@_why_not(False)
@click.option("--trace", "trace_as", type=click.Choice(["data", "lines"]), default="data", show_default=True,
              help="How the JSON writes each decision's trace: data (objects that refer to the policy's clauses, rules, "
                   "conditions and parameter values by id, whose texts the document's dictionary holds once) or lines "
                   "(the rendered lines `explain` prints).")
@click.option("--no-trace", is_flag=True, help="Leave the traces out of the JSON (faster, smaller).")
@click.option("--engine", "backend", type=click.Choice(ENGINE_NAMES), default="core", show_default=True,
              help="core decides; durable runs the same compiled rules on durable-rules, to cross-check.")
@click.option("--workshop", help="Only this workshop (for a one-workshop report).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes, for a .json facts file decided to --format json (the streaming path), each reading "
                   "and deciding its own batches of workshops; the output "
                   "is the same as with one.")
@_QUIET
@_output_option()
@_ledger_option("every worker's and workshop's history comes from it; a history the facts state differently is an "
                "error.")
@click.option("--record", is_flag=True, help="Also record this run in the ledger, in one transaction (needs --ledger). "
                                            "Recording the same run again changes nothing.")
@click.option("--supersede", is_flag=True, help="With --record: replace the recorded run(s) of these workshops and "
                                               "months; their entries are reversed, not edited (needs --reason).")
@click.option("--reason", help="Why the run is superseded; kept in the ledger.")
@click.option("--strict", is_flag=True, help="Exit 1 if any decision is pending (a parameter has no value yet on a "
                                             "date it is needed); without it the run succeeds and says so on "
                                             "standard error.")
def evaluate(policy: str, facts: str, encoding: Optional[str], fmt: str, no_bom: bool, why_not: bool, trace_as: str,
             no_trace: bool, backend: str, workshop: Optional[str], jobs: int, quiet: bool, output: Optional[str],
             ledger_url: Optional[str], record: bool, supersede: bool, reason: Optional[str], strict: bool) -> None:
    """Decide every workshop in FACTS under POLICY.

    \b
    Examples:
      subsidy evaluate policy.yaml examples/facts_2022.yaml --format text
      subsidy evaluate policy.yaml examples/facts_2022.yaml -o decisions.json
      subsidy evaluate policy.yaml examples/facts_2022.yaml --trace lines -o decisions.json
      subsidy evaluate policy.yaml examples/facts_2022.yaml --format xlsx -o payouts.xlsx
      subsidy evaluate policy.yaml examples/facts_2022.yaml --format html -o report.html

    \b
    With a payout ledger (history from the ledger; --record stores the run):
      subsidy evaluate policy.yaml examples/county/2022-08.yaml \\
          --ledger ledger.db --record --format text
    """
    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx writes a workbook: give the file with -o payouts.xlsx (or -o - for a pipe)")
    output = _to_stdout(output)
    trace: TraceOption = False if no_trace else trace_as  # the JSON's traces: "data", "lines" or none
    if (record or supersede) and not ledger_url:
        raise click.UsageError("--record and --supersede need --ledger URL")
    if supersede and not (record and reason and reason.strip()):
        raise click.UsageError("--supersede needs --record and --reason \"why the recorded run is replaced\"")
    if reason and not supersede:
        raise click.UsageError("--reason goes with --supersede")
    if facts == "-" and jobs > 1:
        raise click.UsageError("--jobs N has N processes each read its own part of a facts file; standard input is "
                               "read once, by one: save the facts to a .json file, or leave out --jobs")
    if ledger_url:
        if jobs > 1:
            raise click.UsageError("--jobs does not combine with --ledger (a ledger run reads and records in one process)")
        if why_not and record:
            raise click.UsageError("--why-not does not combine with --record: record the run, then explain it")
    elif fmt == "json" and facts.endswith(".json") and not workshop:
        loaded = _load_policy(policy, other=facts)
        streamed = _stream(loaded, facts, backend, why_not, trace, jobs, quiet, output)
        if streamed is not None:
            _report_pending(streamed, loaded, strict, quiet)
            return
        # the stream stopped on a problem: the thorough path below reports it with its location
    elif jobs > 1:
        raise click.UsageError("--jobs works on a .json facts file decided to --format json, without --workshop "
                               "(the streaming path)")
    loaded, facts_loaded = _load(policy, facts, encoding=encoding, quiet=quiet)
    if workshop:
        facts_loaded = _only(facts_loaded, _workshop_index(facts_loaded, workshop, facts))
    # the report and the text view say why a workshop is not certified: decided with --why-not, they show the rules
    # that did not fire only when asked
    options: _Options = dict(backend=backend, why_not=why_not or (fmt in ("html", "text") and not record),
                   trace=not no_trace or fmt == "html")
    ledger_info: Optional[Dict[str, Any]] = None
    try:
        if ledger_url:
            run, ledger_info = _ledger_run(ledger_url, loaded, facts_loaded, options, record, supersede, reason, quiet,
                                           strict)
        else:
            run = _decide(loaded, facts_loaded, options, quiet)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    except ImportError as exc:
        raise click.UsageError(f"--engine {backend} is not available here: {exc}") from None
    if fmt == "xlsx":
        import io
        from ..views.exports import workbook
        buffer = io.BytesIO()
        workbook(run).save(buffer)
        _write_bytes(buffer.getvalue(), output, quiet)
        _report_pending(run.totals, loaded, strict, quiet)
        return
    if fmt == "csv":
        from ..views.exports import to_csv
        _write_csv(to_csv(run), output, quiet, bom=not no_bom)
        _report_pending(run.totals, loaded, strict, quiet)
        return
    if fmt == "json":
        from ..views.document import document_text
        doc = subsidy_rules.to_json(run, with_trace=trace)
        if ledger_info:
            doc["ledger"] = ledger_info
        text = document_text(doc)
    elif fmt == "html":
        from ..views.html import html_report
        text = html_report(run, workshop, subsidy_rules.__version__, why_not=why_not)
    else:
        from ..views.formats import encodable
        text = subsidy_rules.to_text(run, why_not=why_not)
        if not output:  # a console whose encoding lacks ✓ gets √ (a file is UTF-8)
            text = encodable(text, getattr(sys.stdout, "encoding", None))
    _write(text, output, quiet)
    _report_pending(run.totals, loaded, strict, quiet)


def _decide(policy: "Policy", facts: "Facts", options: _Options, quiet: bool) -> "Evaluation":
    """Evaluate in memory; on a terminal (not with -q), under a progress bar that moves as each workshop is
    decided, as the streamed path shows one."""
    bar = _bar(len(facts.workshops), "deciding", quiet)
    if bar is None:
        return subsidy_rules.evaluate(policy, facts, **options)
    with bar:
        return subsidy_rules.evaluate(policy, facts, progress=bar.update, **options)


def _report_pending(totals: "Totals", policy: "Policy", strict: bool, quiet: bool = False) -> None:
    """Say on standard error, in the policy's language, what could not be decided yet (not with -q); with --strict,
    that fails the run."""
    from ..views.formats import encodable
    from ..views.reasons import Words
    from ..views.text import pending_lines
    lines = pending_lines(totals, policy) if not (quiet and not strict) else []
    if strict and totals.counts.get("pending"):
        lines.append(Words(policy)("pending.strict"))
    for line in lines:
        click.echo(encodable(line, getattr(sys.stderr, "encoding", None)), err=True)
    if strict and totals.counts.get("pending"):
        sys.exit(1)


def _ledger_run(url: str, policy: "Policy", facts: "Facts", options: _Options, record: bool, supersede: bool,
                reason: Optional[str], quiet: bool, strict: bool = False) -> "Tuple[Evaluation, Dict[str, Any]]":
    """Evaluate with history from the ledger at ``url`` and, with ``record``, store the run (not with --strict while a
    decision is pending: nothing is recorded then)."""
    from ..ledger import evaluate_with_ledger, record_run
    from ..views.formats import money
    with _ledger(url) as ledger:
        info: Dict[str, Any] = {"url": ledger.display, "history": "each history field from the ledger's entries before the period"}
        bar = _bar(len(facts.workshops), "deciding", quiet)
        if bar is None:
            run, held = evaluate_with_ledger(ledger, policy, facts, **options)
        else:
            with bar:
                run, held = evaluate_with_ledger(ledger, policy, facts, progress=bar.update, **options)
        if record and strict and run.totals.counts.get("pending"):
            _report_pending(run.totals, policy, False)
            _tell(_say("cli.nothing_recorded"))
            sys.exit(1)
        if record:
            done = record_run(ledger, run, held, supersede=supersede, reason=(reason or "").strip(),
                              tool_version=subsidy_rules.__version__)
            said = dict(seq=done.seq, run=done.run_id[:12], ledger=ledger.display)
            if done.already:
                _tell(_say("cli.already_recorded", **said))
            elif not quiet:
                _tell(_say("cli.recorded_reversing" if done.reversals else "cli.recorded", entries=done.entries,
                           reversals=done.reversals, granted=money(done.granted, grouped=True), **said))
            assert done.head is not None  # record_run returns the ledger's head once the run is recorded
            _tell(_head_line(ledger, done.head))
            for shop, month in done.later:
                _tell(_say("cli.later_runs", workshop=shop, month=month))
            info["run"] = {"seq": done.seq, "id": done.run_id}
            info["head"] = {"run": done.head.runs, "entry": done.head.entries, "hash": done.head.chain}
    return run, info


def _long_run(loaded: bool) -> None:
    """Set the cyclic garbage collector for a run over a whole facts file (this process, and the workers it forks).

    Each workshop's records, results and trace events (tens of thousands of objects, gone once it is written) are
    not walked again and again by young-generation collections while it is decided (about a tenth of a traced run;
    the run's peak memory grows by a few tens of MiB). Once the policy is ``loaded`` (its compiled rules, parameters,
    labels, which live as long as the run), it is kept out of the collector's way, which otherwise walks it again at
    every full collection (about 15 % of the run's time), and not copied page by page into forked workers as the
    collector touches it."""
    import gc

    gc.set_threshold(100_000, 50, 100)
    if loaded:
        gc.freeze()


def _stream(policy: "Policy", facts: str, backend: str, why_not: bool, trace: "TraceOption", jobs: int, quiet: bool,
            output: Optional[str]) -> "Optional[Totals]":
    """Decide a JSON facts file workshop by workshop, writing as it goes. Its totals, or None if it met a problem."""
    import datetime as dt
    import tempfile

    from ..views.document import json_header
    from ..runtime.stream import StreamStopped, write_document

    _long_run(loaded=True)
    ran_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()

    def header_of(header: "StreamHeader") -> Dict[str, Any]:
        return json_header(policy, header.sha256, facts, header.period_start, header.period_end, backend, why_not,
                           trace, ran_at)

    bar = _bar(os.path.getsize(facts), "deciding", quiet)
    target = None
    try:  # written to a file beside the output (or a temporary one for standard output), kept only when complete
        folder = os.path.dirname(os.path.abspath(output)) if output else None
        fd, target = tempfile.mkstemp(prefix=".decisions-", suffix=".json", dir=folder)
        try:
            _, totals = write_document(policy, facts, fd, header_of, backend=backend, why_not=why_not,
                                       trace=trace,
                                       jobs=jobs, progress=bar.update if bar else None, folder=folder)
        finally:
            os.close(fd)
        if output:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(target, 0o666 & ~umask)  # as an ordinary file would be, not mkstemp's 0600
            os.replace(target, output)
            target = None
            if bar is not None:
                bar.render_finish()
                bar = None
            _wrote(output, quiet)
        else:  # a run that stops writes nothing to standard output but its problems (on standard error)
            sys.stdout.flush()
            with open(target, "rb") as done:
                out = getattr(sys.stdout, "buffer", None)
                for block in iter(lambda: done.read(1 << 20), b""):
                    if out is not None:
                        out.write(block)
                    else:
                        sys.stdout.write(block.decode("utf-8"))
            sys.stdout.flush()
    except StreamStopped:
        return None
    except ImportError as exc:
        raise click.UsageError(f"--engine {backend} is not available here: {exc}") from None
    except OSError as exc:
        _unwritable(output or "standard output", exc)
    finally:
        if bar is not None:
            bar.render_finish()
        if target and os.path.exists(target):
            os.remove(target)
    return totals


@click.command(cls=_Command)
@click.argument("decisions", type=_PATH)
@click.argument("facts", type=_FACTS)
@_ENCODING
@click.option("--policy", type=_PATH, help="The policy file, if not at the path the decisions file records.")
@_ledger_option("the one the run took its history from (evaluate --ledger).")
@_QUIET
def verify(decisions: str, facts: str, encoding: Optional[str], policy: Optional[str], ledger_url: Optional[str],
           quiet: bool) -> None:
    """Re-run a decisions file and confirm every decision is identical.

    Checks that the policy files and FACTS are the ones the run recorded (by
    sha256), evaluates again with the recorded engine and options, and names
    every decision that differs, with its line in DECISIONS. Exits 1 on any
    difference.

    \b
    Example:
      subsidy evaluate policy.yaml examples/facts_2022.yaml -o decisions.json
      subsidy verify decisions.json examples/facts_2022.yaml
    """
    from ..tools.verify import verify as run_verify
    _stdin_facts(facts)
    _speak_as(policy or _recorded_policy(decisions))
    _long_run(loaded=False)
    bar = _bar(os.path.getsize(facts) if os.path.isfile(facts) else 0, "verifying", quiet)
    with _ledger(ledger_url) if ledger_url else nullcontext() as led, bar if bar is not None else nullcontext():
        try:
            result = run_verify(decisions, facts, policy, led, encoding=encoding,
                                progress=bar.update if bar is not None else None)
        except subsidy_rules.InvalidInput as exc:
            if bar is not None:
                bar.render_finish()
            _fail(_swapped_decisions(decisions, facts) or exc)
    if result.ok:
        if not quiet:
            _tell(_say("cli.verified", n=result.decisions, file=decisions), err=False)
        return
    _fail(subsidy_rules.InvalidInput(result.problems))


def _recorded_policy(decisions: str) -> Optional[str]:
    """The path of the policy a decisions file says made it (its header's ``policy.path``), or None."""
    from ..tools._decisions_reader import DecisionsReader, ReadProblem
    try:
        with DecisionsReader(decisions) as reader:
            if reader.peek() != "{":
                return None
            for key, _ in reader.members():
                if key == "decisions":
                    return None
                value, _, _ = reader.value()
                if key == "policy":
                    path = value.get("path") if isinstance(value, dict) else None
                    return path if isinstance(path, str) else None
    except (ReadProblem, OSError, ValueError):
        return None
    return None


def _speak_as(policy_path: Optional[str]) -> None:
    """Speak the language of the policy at ``policy_path`` (that of a decisions file), if it loads."""
    if policy_path:
        from ..locale import language
        try:
            _set_lang(language(subsidy_rules.load_policy(policy_path)))
        except (subsidy_rules.InvalidInput, OSError):
            pass


def _swapped_decisions(decisions: str, facts: str) -> "Optional[subsidy_rules.InvalidInput]":
    """DECISIONS and FACTS given in the wrong order (facts first, then a decisions file): one problem that says so."""
    from ..problems import Location, Problem
    from ._common import _holds_facts
    if facts == "-" or not _holds_facts(decisions):
        return None
    recorded = _recorded_policy(facts)
    if recorded is None:
        return None
    _speak_as(recorded)
    return subsidy_rules.InvalidInput([Problem(
        "input.swapped", _say("swapped.decisions", given=decisions, other=facts), "", Location(decisions),
        hint=_say("hint.swapped_decisions", decisions=facts, facts=decisions))])


@click.command(cls=_Command)
@click.argument("policy", type=_PATH)
@click.argument("facts", type=_FACTS)
@_ENCODING
@click.option("--workshop", required=True, help="The workshop id to explain.")
@click.option("--worker", help="Only this worker's decisions.")
@click.option("--loan", help="Only this loan's decisions.")
@_why_not(True)
@click.option("--all", "all_alias", is_flag=True, hidden=True, help="The old spelling of --why-not (still read).")
@click.option("--raw", is_flag=True, help="The trace in the engine's syntax (expressions, codes, rule ids), for developers.")
@_ledger_option("the one the month was recorded with (evaluate --ledger): its history fills the facts, so the "
                "decisions explained are the ones recorded.")
@click.option("--width", type=click.IntRange(0), metavar="COLUMNS",
              help="Wrap lines to this many columns (default: the terminal's width; 0: never wrap, e.g. for a file "
                   "another program reads).")
def explain(policy: str, facts: str, encoding: Optional[str], workshop: str, worker: Optional[str], loan: Optional[str],
            why_not: bool, all_alias: bool, raw: bool, ledger_url: Optional[str], width: Optional[int]) -> None:
    """Print the trace behind each decision about one workshop (or one of its workers or loans):
    the clause and its text, each condition with the values it saw, each parameter with its
    value and the date it took effect, the derived facts it built on, and the arithmetic.

    \b
    Examples:
      subsidy explain policy.yaml examples/facts_2022.yaml --workshop WS-001 --worker W-0001
      subsidy explain policy.yaml examples/county/2022-08.yaml --workshop WS-L01 --ledger ledger.db
    """
    if all_alias and not why_not:  # the spelling before --why-not was one name on evaluate and explain
        raise click.UsageError("--all (--why-not) and --granted-only say opposite things: give one")
    show_all = why_not
    loaded, facts_loaded = _load(policy, facts, encoding=encoding)
    if all_alias:
        _tell(_say("cli.all_alias"))
    index = _workshop_index(facts_loaded, workshop, facts)
    ws = facts_loaded.workshops[index]
    if worker and worker not in [w["id"] for w in ws.get("workers") or ()]:
        raise click.BadParameter(f"workshop {workshop} has no worker {worker!r}", param_hint="--worker")
    if loan and loan not in [x["id"] for x in ws.get("loans") or ()]:
        raise click.BadParameter(f"workshop {workshop} has no loan {loan!r}", param_hint="--loan")
    try:
        if ledger_url:  # the history the ledger held before the period, as when the month was recorded
            from ..ledger import evaluate_with_ledger
            with _ledger(ledger_url) as led:
                run, _ = evaluate_with_ledger(led, loaded, _only(facts_loaded, index), why_not=show_all)
        else:
            run = subsidy_rules.evaluate(loaded, _only(facts_loaded, index), why_not=show_all)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    chosen = [d for d in run.decisions if not (worker or loan) or (d.worker == worker and d.loan == loan)]
    from ..views.formats import encodable
    text = subsidy_rules.explain_text(run, chosen, raw=raw, width=_columns(width))
    click.echo(encodable(text, getattr(sys.stdout, "encoding", None)), nl=not text.endswith("\n"))


def _columns(width: Optional[int]) -> Optional[int]:
    """The width explain wraps to: the one asked for (0: none), else the terminal's."""
    if width is not None:
        return width or None
    return shutil.get_terminal_size((100, 24)).columns
