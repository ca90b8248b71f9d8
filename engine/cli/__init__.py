"""subsidy: evaluate subsidy policies written as YAML rules, with a trace behind every decision.

A thin layer over the ``engine`` package: each command parses its options,
calls the library and prints what it returns. Exit codes: 0 done, 1 the
policy or facts have problems (all of them are printed, sorted), 2 usage.
"""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager, nullcontext
from decimal import Decimal
from functools import lru_cache

import click

import subsidy_rules
from ..runtime.backends import NAMES as ENGINE_NAMES


@lru_cache(maxsize=16)
def _lines(path: str):
    try:
        with open(path, encoding="utf-8-sig") as fh:
            return fh.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def _source_line(path: str, n: int) -> str:
    lines = _lines(path)
    return lines[n - 1] if 0 < n <= len(lines) else ""


def _fail(exc: subsidy_rules.InvalidInput, fmt: str = "text") -> None:
    if fmt == "json":
        click.echo(json.dumps({"problems": [p.to_dict() for p in exc.problems]}, ensure_ascii=False, indent=2))
    else:
        for line in subsidy_rules.problem_lines(exc.problems, _source_line):
            click.echo(line, err=True)
        errors = len(exc.errors)
        warnings = len(exc.problems) - errors
        click.echo(f"{errors} error{'s' * (errors != 1)}" + (f", {warnings} warning{'s' * (warnings != 1)}" if warnings else ""),
                   err=True)
    sys.exit(1)


def _write(text: str, output) -> None:
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            _unwritable(output, exc)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


def _unwritable(output, exc: OSError) -> None:
    click.echo(f"{output}: error[file.unwritable] cannot write: {exc.strerror or exc}", err=True)
    sys.exit(1)


class _OutputFile(click.Path):
    """-o FILE: a regular file, created or replaced; never a folder, a device or a pipe (which replacing a file
    beside it, as a finished run does, would destroy)."""

    def __init__(self):
        super().__init__(dir_okay=False, writable=True)

    def convert(self, value, param, ctx):
        import os
        value = super().convert(value, param, ctx)
        if os.path.exists(value) and not os.path.isfile(value):
            self.fail(f"{value} is not a regular file", param, ctx)
        return value


_OUTPUT = _OutputFile()


def _load(policy_path: str, facts_path: str, fmt: str = "text"):
    try:
        policy = subsidy_rules.load_policy(policy_path)
        return policy, subsidy_rules.load_facts(facts_path, policy)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc, fmt)


_PATH = click.Path(dir_okay=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(subsidy_rules.__version__, prog_name="subsidy")
def main():
    """Evaluate a subsidy policy written as YAML rules against facts about
    workshops and workers; every decision cites its clause and shows its trace.

    \b
    POLICY is a policy file (a clone bundles one in policies/, with facts for
    it in examples/); start with the bundled example, policy.yaml standing for it:
      subsidy evaluate policy.yaml examples/facts_2022.yaml --format text
      subsidy explain policy.yaml examples/facts_2022.yaml --workshop WS-001 --worker W-0001
      subsidy validate policy.yaml

    \b
    A county's months with the payout ledger (history from earlier months, nothing paid twice):
      subsidy ledger init ledger.db        # once, then the records kept before it, once:
      subsidy ledger carry-in ledger.db policy.yaml examples/county/2022-07.yaml --reason "paper records"
      subsidy evaluate policy.yaml examples/county/2022-07.yaml --ledger ledger.db --record --format text
      subsidy evaluate policy.yaml examples/county/2022-08.yaml --ledger ledger.db --record --format text
      subsidy ledger report ledger.db --policy policy.yaml

    Exit codes: 0 done; 1 the policy or facts have problems (each printed with
    file:line:col, sorted); 2 the command line is wrong. A decision that waits
    for a parameter value the policy does not have yet is pending: the run
    still exits 0 and says so on standard error (evaluate --strict: exit 1).
    """


@main.command()
@click.argument("policy", type=_PATH)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools.")
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
def validate(policy, fmt, strict):
    """Check POLICY: YAML, schema, names, types, parameter dates, references.

    Prints every problem with its file:line:col, the line and a caret; exits 1
    if there is any error. Warnings alone exit 0, or 1 with --strict.

    \b
    Codes: yaml.* (the file is not readable YAML), policy.* (schema and
    references), expr.* (an expression: syntax, names, types, codes),
    param.* and eval.* (found while evaluating facts).
    """
    try:
        loaded, warnings = subsidy_rules.check_policy(policy)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc, fmt)
    if fmt == "json":
        click.echo(json.dumps({"policy": loaded.id, "sha256": loaded.sha256,
                               "problems": [p.to_dict() for p in warnings]}, ensure_ascii=False, indent=2))
        if strict and warnings:
            sys.exit(1)
        return
    for line in subsidy_rules.problem_lines(warnings, _source_line):
        click.echo(line, err=True)
    if strict and warnings:
        click.echo(f"{len(warnings)} warnings (--strict)", err=True)
        sys.exit(1)
    click.echo(f"{policy}: policy {loaded.id} is valid: {len(loaded.clauses)} clauses, {len(loaded.rules)} rules, "
               f"{len(loaded.parameters)} parameters" + (f", {len(warnings)} warnings" if warnings else ""))


@main.command()
@click.argument("policy", type=_PATH)
@click.argument("facts", type=_PATH)
@click.option("--format", "fmt", type=click.Choice(["json", "text", "csv", "xlsx", "html"]), default="json", show_default=True,
              help="json: the decisions document, with traces; text: a table per workshop with totals by fund and clause; "
                   "csv: one row per decision; xlsx: a payout workbook (needs -o); html: a printable audit report.")
@click.option("--why-not", is_flag=True, help="Also report, for every rule that did not fire, the first condition that failed (outcome denied).")
@click.option("--no-trace", is_flag=True, help="Leave the traces out of the JSON (faster, smaller).")
@click.option("--engine", "backend", type=click.Choice(ENGINE_NAMES), default="core", show_default=True,
              help="core decides; durable runs the same compiled rules on durable-rules, to cross-check.")
@click.option("--workshop", help="Only this workshop (for a one-workshop report).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes, for a .json facts file decided to --format json (the streaming path); the output "
                   "is the same as with one.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar (it shows only when standard error is a terminal), no 'wrote FILE'.")
@click.option("-o", "--output", type=_OUTPUT, help="Write here instead of standard output.")
@click.option("--ledger", "ledger_url", metavar="URL",
              help="Fill every worker's and workshop's history from this payout ledger (sqlite:///ledger.db, a plain "
                   "path, or postgresql://…); a history the facts state differently is an error.")
@click.option("--record", is_flag=True, help="Also record this run in the ledger, in one transaction (needs --ledger). "
                                            "Recording the same run again changes nothing.")
@click.option("--supersede", is_flag=True, help="With --record: replace the recorded run(s) of these workshops and "
                                               "months; their entries are reversed, not edited (needs --reason).")
@click.option("--reason", help="Why the run is superseded; kept in the ledger.")
@click.option("--strict", is_flag=True, help="Exit 1 if any decision is pending (a parameter has no value yet on a "
                                             "date it is needed); without it the run succeeds and says so on "
                                             "standard error.")
def evaluate(policy, facts, fmt, why_not, no_trace, backend, workshop, jobs, quiet, output, ledger_url, record,
             supersede, reason, strict):
    """Decide every workshop in FACTS under POLICY.

    \b
    Examples:
      subsidy evaluate policy.yaml examples/facts_2022.yaml --format text
      subsidy evaluate policy.yaml examples/facts_2022.yaml -o decisions.json
      subsidy evaluate policy.yaml examples/facts_2022.yaml --format xlsx -o payouts.xlsx
      subsidy evaluate policy.yaml examples/facts_2022.yaml --format html -o report.html

    \b
    With a payout ledger (history from the ledger; --record stores the run):
      subsidy evaluate policy.yaml examples/county/2022-08.yaml \\
          --ledger ledger.db --record --format text
    """
    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx writes a workbook: give the file with -o payouts.xlsx")
    if (record or supersede) and not ledger_url:
        raise click.UsageError("--record and --supersede need --ledger URL")
    if supersede and not (record and reason and reason.strip()):
        raise click.UsageError("--supersede needs --record and --reason \"why the recorded run is replaced\"")
    if reason and not supersede:
        raise click.UsageError("--reason goes with --supersede")
    if ledger_url:
        if jobs > 1:
            raise click.UsageError("--jobs does not combine with --ledger (a ledger run reads and records in one process)")
        if why_not and record:
            raise click.UsageError("--why-not does not combine with --record: record the run, then explain it")
    elif fmt == "json" and facts.endswith(".json") and not workshop:
        try:
            loaded = subsidy_rules.load_policy(policy)
        except subsidy_rules.InvalidInput as exc:
            _fail(exc)
        streamed = _stream(loaded, facts, backend, why_not, not no_trace, jobs, quiet, output)
        if streamed is not None:
            _report_pending(streamed, strict)
            return
        # the stream stopped on a problem: the thorough path below reports it with its location
    elif jobs > 1:
        raise click.UsageError("--jobs works on JSON facts written as JSON (the streaming path)")
    loaded, facts_loaded = _load(policy, facts)
    if workshop:
        facts_loaded = _only(facts_loaded, _workshop_index(facts_loaded, workshop, facts))
    options = dict(backend=backend, why_not=why_not, trace=not no_trace or fmt == "html")
    ledger_info = None
    try:
        if ledger_url:
            run, ledger_info = _ledger_run(ledger_url, loaded, facts_loaded, options, record, supersede, reason, quiet,
                                           strict)
        else:
            run = subsidy_rules.evaluate(loaded, facts_loaded, **options)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    except ImportError as exc:
        raise click.UsageError(f"--engine {backend} is not available here: {exc}") from None
    if fmt == "xlsx":
        from ..views.exports import workbook
        try:
            workbook(run).save(output)
        except OSError as exc:
            _unwritable(output, exc)
        click.echo(f"wrote {output}", err=True)
        _report_pending(run.totals, strict)
        return
    if fmt == "json":
        doc = subsidy_rules.to_json(run, with_trace=not no_trace)
        if ledger_info:
            doc["ledger"] = ledger_info
        text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    elif fmt == "csv":
        from ..views.exports import to_csv
        text = to_csv(run)
    elif fmt == "html":
        from ..views.html import html_report
        text = html_report(run, workshop, subsidy_rules.__version__)
    else:
        text = subsidy_rules.to_text(run)
    _write(text, output)
    _report_pending(run.totals, strict)


def _report_pending(totals, strict: bool) -> None:
    """Say on standard error what could not be decided yet; with --strict, that fails the run."""
    from ..views.render import pending_lines
    for line in pending_lines(totals):
        click.echo(line, err=True)
    if strict and totals.counts.get("pending"):
        click.echo("pending decisions fail the run (--strict)", err=True)
        sys.exit(1)


@contextmanager
def _ledger(url, open_with=None):
    """The ledger at ``url``, closed afterwards. A URL with no ledger there is refused (``ledger.missing``, exit 1):
    a ledger is created on purpose, by ``subsidy ledger init URL``, so a mistyped path never starts an empty ledger
    that pays everything again. A ledger that cannot be reached exits 1 with its reason; the problems of a policy,
    facts file, run or damaged ledger exit 1 listed, as everywhere."""
    from ..ledger import LedgerUnavailable, open_ledger
    opened = None
    try:
        opened = (open_with or open_ledger)(url)
        yield opened
    except LedgerUnavailable as exc:
        click.echo(f"error[ledger.unavailable] {exc}", err=True)
        sys.exit(1)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    finally:
        if opened is not None:
            opened.close()


def _head_line(led, head) -> str:
    """The ledger's head, to write down or compare with a signed checkpoint."""
    return f"ledger head of {led.display}: {head}"


def _ledger_run(url, policy, facts, options, record, supersede, reason, quiet, strict=False):
    """Evaluate with history from the ledger at ``url`` and, with ``record``, store the run (not with --strict while a
    decision is pending: nothing is recorded then)."""
    from ..ledger import evaluate_with_ledger, record_run
    from ..views.render import money
    with _ledger(url) as ledger:
        info = {"url": ledger.display, "history": "each history field from the ledger's entries before the period"}
        run, held = evaluate_with_ledger(ledger, policy, facts, **options)
        if record and strict and run.totals.counts.get("pending"):
            _report_pending(run.totals, False)
            click.echo("nothing recorded: pending decisions fail the run (--strict)", err=True)
            sys.exit(1)
        if record:
            done = record_run(ledger, run, held, supersede=supersede, reason=(reason or "").strip(),
                              tool_version=subsidy_rules.__version__)
            if done.already:
                click.echo(f"already recorded as run {done.seq} ({done.run_id[:12]}…) in {ledger.display}: nothing "
                           "changed", err=True)
            elif not quiet:
                reversed_ = f", reversing {done.reversals} earlier entries" if done.reversals else ""
                click.echo(f"recorded run {done.seq} ({done.run_id[:12]}…) in {ledger.display}: {done.entries} entries"
                           f"{reversed_}, {money(done.granted)} granted", err=True)
            click.echo(_head_line(ledger, done.head), err=True)
            for shop, month in done.later:
                click.echo(f"note: workshop {shop} has runs recorded from {month} on, decided on the history this run "
                           "replaces: evaluate them again, and supersede any that change", err=True)
            info["run"] = {"seq": done.seq, "id": done.run_id}
            info["head"] = {"run": done.head.runs, "entry": done.head.entries, "hash": done.head.chain}
    return run, info


def _stream(policy, facts, backend, why_not, trace, jobs, quiet, output):
    """Decide a JSON facts file workshop by workshop, writing as it goes. Its totals, or None if it met a problem."""
    import datetime as dt
    import os
    import tempfile

    from ..runtime.decisions import Totals
    from ..views.render import json_header, write_json
    from ..runtime.stream import StreamStopped, check_period, decide_stream, open_json, read_workshops

    try:
        header = open_json(facts)
        check_period(policy, header)
    except StreamStopped:
        return None
    except ImportError as exc:
        raise click.UsageError(f"--engine {backend} is not available here: {exc}") from None
    ran_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    doc_header = json_header(policy, header.sha256, facts, header.period_start, header.period_end, backend,
                             why_not, trace, ran_at)
    show = not quiet and sys.stderr.isatty()
    bar = click.progressbar(length=header.size, label="deciding", file=sys.stderr) if show else None
    totals = [Totals(Decimal("0.00"), {}, {}, {})]

    def decisions():
        workshops = read_workshops(facts, bar.update if bar else None)
        for chunk in decide_stream(policy, header, workshops, backend=backend, why_not=why_not, trace=trace, jobs=jobs):
            totals[0] = totals[0].merge(chunk.totals)
            yield from chunk.decisions

    target = None
    try:  # written to a file beside the output (or a temporary one for standard output), kept only when complete
        folder = os.path.dirname(os.path.abspath(output)) if output else None
        fd, target = tempfile.mkstemp(prefix=".decisions-", suffix=".json", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            write_json(out, doc_header, decisions(), lambda: totals[0])
        if output:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(target, 0o666 & ~umask)  # as an ordinary file would be, not mkstemp's 0600
            os.replace(target, output)
            target = None
            if not quiet:
                click.echo(f"wrote {output}", err=True)
        else:  # a run that stops writes nothing to standard output but its problems (on standard error)
            with open(target, encoding="utf-8") as done:
                for block in iter(lambda: done.read(1 << 20), ""):
                    sys.stdout.write(block)
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
    return totals[0]


@main.command()
@click.argument("decisions", type=_PATH)
@click.argument("facts", type=_PATH)
@click.option("--policy", type=_PATH, help="The policy file, if not at the path the decisions file records.")
@click.option("--ledger", "ledger_url", metavar="URL", help="The ledger the run took its history from (evaluate --ledger).")
def verify(decisions, facts, policy, ledger_url):
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
    with _ledger(ledger_url) if ledger_url else nullcontext() as led:
        try:
            result = run_verify(decisions, facts, policy, led)
        except subsidy_rules.InvalidInput as exc:
            _fail(exc)
    if result.ok:
        click.echo(f"verified: all {result.decisions} decisions in {decisions} are identical when re-run")
        return
    _fail(subsidy_rules.InvalidInput(result.problems))


@main.command()
@click.argument("policy", type=_PATH)
@click.argument("facts", type=_PATH)
@click.option("--workshop", required=True, help="The workshop id to explain.")
@click.option("--worker", help="Only this worker's decisions.")
@click.option("--loan", help="Only this loan's decisions.")
@click.option("--all/--granted-only", "show_all", default=True, show_default=True,
              help="Include rules that did not fire, with the first condition that failed.")
def explain(policy, facts, workshop, worker, loan, show_all):
    """Print the trace behind each decision about one workshop (or one of its workers or loans):
    the clause and its text, each condition with the values it saw, each parameter with its
    value and the date it took effect, the derived facts it built on, and the arithmetic.

    \b
    Example:
      subsidy explain policy.yaml examples/facts_2022.yaml --workshop WS-001 --worker W-0001
    """
    loaded, facts_loaded = _load(policy, facts)
    index = _workshop_index(facts_loaded, workshop, facts)
    ws = facts_loaded.workshops[index]
    if worker and worker not in [w["id"] for w in ws.get("workers") or ()]:
        raise click.BadParameter(f"workshop {workshop} has no worker {worker!r}", param_hint="--worker")
    if loan and loan not in [x["id"] for x in ws.get("loans") or ()]:
        raise click.BadParameter(f"workshop {workshop} has no loan {loan!r}", param_hint="--loan")
    try:
        run = subsidy_rules.evaluate(loaded, _only(facts_loaded, index), why_not=show_all)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    chosen = [d for d in run.decisions if not (worker or loan) or (d.worker == worker and d.loan == loan)]
    click.echo(subsidy_rules.explain_text(run, chosen), nl=False)


@main.command()
@click.argument("old", type=_PATH)
@click.argument("new", type=_PATH)
@click.option("--facts", type=_PATH, help="Also evaluate these facts under both policies and show the payout impact.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff(old, new, facts, fmt):
    """What changed from OLD to NEW: parameters (values and dates), rules, clauses, funds, sets.

    With --facts, the payout impact: totals by fund and by clause before and
    after, and every workshop, worker and loan whose payout changes.

    \b
    Example:
      subsidy diff policy.yaml my_draft.yaml --facts examples/facts_2022.yaml
    """
    from ..tools.diff import payout_impact, policy_changes
    from ..views.render import money
    try:
        before_policy, after_policy = subsidy_rules.load_policy(old), subsidy_rules.load_policy(new)
        changes = policy_changes(before_policy, after_policy)
        impact = None
        if facts:
            impact = payout_impact(subsidy_rules.evaluate(before_policy, subsidy_rules.load_facts(facts, before_policy), trace=False),
                                   subsidy_rules.evaluate(after_policy, subsidy_rules.load_facts(facts, after_policy), trace=False))
    except subsidy_rules.InvalidInput as exc:
        _fail(exc, fmt)
    if fmt == "json":
        doc = {"old": {"path": old, "sha256": before_policy.sha256}, "new": {"path": new, "sha256": after_policy.sha256},
               "changes": [{"kind": c.kind, "id": c.id, "change": c.change, "details": list(c.details)} for c in changes]}
        if impact is not None:
            doc["impact"] = {
                "facts": facts,
                "before": subsidy_rules.views.render.totals_dict(impact.before.totals),
                "after": subsidy_rules.views.render.totals_dict(impact.after.totals),
                "subjects": [{"workshop": w, "worker": k, "loan": l, "before": money(a), "after": money(b),
                              "change": money(b - a)} for w, k, l, a, b in impact.subjects]}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    click.echo(f"Changes from {old} to {new}: {len(changes) or 'none'}")
    for c in changes:
        click.echo(f"  {c.kind} {c.id} {c.change}")
        for detail in c.details:
            click.echo(f"      {detail}")
    if impact is None:
        return
    click.echo(f"\nPayout impact on {facts}:")
    for title, attr, word in (("by fund", "by_funding_source", after_policy.label), ("by clause", "by_clause", str)):
        a, b = getattr(impact.before.totals, attr), getattr(impact.after.totals, attr)
        rows = [[title, "before", "after", "change"]]
        for key in sorted(set(a) | set(b)):
            x, y = a.get(key, Decimal("0.00")), b.get(key, Decimal("0.00"))
            rows.append([f"{key} {word(key)}" if word is not str else key, money(x), money(y), _signed(y - x)])
        click.echo("\n".join("  " + line for line in subsidy_rules.views.render.table(rows, right={1, 2, 3})))
    ta, tb = impact.before.totals.granted, impact.after.totals.granted
    click.echo(f"  total granted: {money(ta)} → {money(tb)} ({_signed(tb - ta)})")
    click.echo(f"  workshops, workers and loans whose payout changes: {len(impact.subjects)}")
    for w, k, l, a, b in impact.subjects:
        who = f"worker {k}" if k else f"loan {l}" if l else "workshop"
        click.echo(f"    {w} {who}: {money(a)} → {money(b)} ({_signed(b - a)})")


def _signed(amount) -> str:
    from ..views.render import money
    return ("+" if amount > 0 else "") + money(amount)


@main.group()
def ledger():
    """The payout ledger: what was recorded, whether it is intact, what it paid.

    A ledger is a SQLite file (a plain path or sqlite:///ledger.db; nothing to
    install) or a PostgreSQL database shared between counties
    (postgresql://user@host/db, with pip install 'subsidy-rules[postgresql]').
    It is created on purpose, once: subsidy ledger init URL; every other
    command refuses a URL that holds no ledger (ledger.missing). Fill it with:
    subsidy evaluate POLICY FACTS --ledger URL --record. Anchor it outside the
    database with signed checkpoints (keygen, checkpoint, verify --checkpoint).
    """


@ledger.command(name="init")
@click.argument("url")
def ledger_init(url):
    """Create a new, empty ledger at URL (its schema at the newest revision).

    Every other command refuses a URL that holds no ledger, so a mistyped path
    is an error, never an empty ledger that pays everything again. On a URL
    that holds a ledger already, init changes nothing but bringing its schema
    up to date. A PostgreSQL database must exist first (createdb NAME).

    \b
    Examples:
      subsidy ledger init ledger.db
      subsidy ledger init postgresql://office@db.example/ledger
    """
    from ..ledger import init_ledger
    created = []

    def create(target):
        opened, new = init_ledger(target)
        created.append(new)
        return opened

    with _ledger(url, create) as led:
        head = led.head()
    if created[0]:
        click.echo(f"created an empty ledger at {led.display}")
    else:
        click.echo(f"{led.display} holds a ledger already ({head.runs} runs): nothing was created")
    click.echo(_head_line(led, head))


@ledger.command(name="verify")
@click.argument("url")
@click.option("--checkpoint", "checkpoints", multiple=True, type=_PATH, metavar="FILE",
              help="A signed checkpoint (subsidy ledger checkpoint): the ledger must still hold exactly what it "
                   "signed. May be given more than once.")
@click.option("--public-key", type=_PATH, metavar="PUB",
              help="The office's public key (PEM): each checkpoint must be signed by it. Without it, a checkpoint's "
                   "signature is checked with the key the checkpoint carries.")
def ledger_verify(url, checkpoints, public_key):
    """Walk the ledger's hash chain and recompute what it decides from; name every difference.

    Checks every entry and run against its hash and the one before it, that
    once_paid, coverage and supersessions hold exactly what the chained
    entries and runs imply (a deleted, added or edited row is named), and,
    with --checkpoint, that the ledger still holds what the office signed (a
    chain rewritten with recomputed hashes, runs dropped and the head rewound).
    Exits 0 when intact, 1 otherwise.

    \b
    Examples:
      subsidy ledger verify ledger.db
      subsidy ledger verify ledger.db --checkpoint 2022-08.checkpoint --public-key office.pub
    """
    from ..ledger import checkpoint as cp
    if public_key and not checkpoints:
        raise click.UsageError("--public-key checks checkpoints: give one with --checkpoint FILE")
    try:
        loaded = [cp.load(path, public_key) for path in checkpoints]
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    with _ledger(url) as led:
        found = led.verify(loaded)
    if found.breaks:
        for b in found.breaks:
            click.echo(f"{led.display}: error[{b.code}] {b.message}", err=True)
        click.echo(f"the first break is at {found.breaks[0].what} {found.breaks[0].seq}", err=True)
        sys.exit(1)
    click.echo(f"{led.display}: intact: {found.walk.runs} run{'s' * (found.walk.runs != 1)}, every entry chained to the one before it; once_paid, "
               "coverage and supersessions agree with the chained record")
    click.echo(_head_line(led, found.head))
    for c in loaded:
        since = found.walk.runs - c.runs
        click.echo(f"matches the checkpoint {c.path} of {c.made_at} (run {c.runs}, entry {c.entries}, head "
                   f"{c.head[:12]}…), signed by key {c.key}; {since} run{'s' * (since != 1)} recorded since")
        if not c.pinned:
            click.echo(f"note: {c.path}'s signature was checked with the key it carries ({c.key}); give --public-key "
                       "with the office's public key to know the office signed it", err=True)


@ledger.command(name="keygen")
@click.option("--key", "key_path", type=_PATH, required=True, metavar="KEYFILE",
              help="Where to write the new private key (PEM; readable by its owner only). Never overwritten.")
@click.option("--public-key", "public_path", type=_PATH, metavar="PUB",
              help="Where to write its public key (PEM). Default: KEYFILE with .pub for its extension.")
def ledger_keygen(key_path, public_path):
    """Make the office's Ed25519 signing key for ledger checkpoints.

    Keep KEYFILE where only the office can read it; give the public key to
    whoever verifies the ledger. openssl makes the same kind of key:
    openssl genpkey -algorithm ed25519 -out office.key, then
    openssl pkey -in office.key -pubout -out office.pub.

    \b
    Example:
      subsidy ledger keygen --key office.key        # writes office.key and office.pub
    """
    import os
    from ..ledger import checkpoint as cp
    public_path = public_path or os.path.splitext(key_path)[0] + ".pub"
    try:
        fp = cp.keygen(key_path, public_path)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    click.echo(f"wrote {key_path} (the private key: keep it where only the office can read it) and {public_path} "
               f"(the public key, for whoever verifies); key {fp}")


@ledger.command(name="checkpoint")
@click.argument("url")
@click.option("--key", "key_path", type=_PATH, required=True, metavar="KEYFILE",
              help="The office's Ed25519 private key (PEM), as subsidy ledger keygen or openssl genpkey wrote it.")
@click.option("-o", "--output", type=_OUTPUT, required=True, metavar="CHECKPOINT",
              help="Where to write the signed checkpoint (JSON).")
def ledger_checkpoint(url, key_path, output):
    """Verify the ledger, then write its head signed with the office's key.

    The checkpoint (JSON: how many runs and entries, the head's chain hash, the
    last entry's hash, when, and the public key and signature) is kept outside
    the database, e.g. with each month's payout files. Later, `subsidy ledger
    verify URL --checkpoint FILE --public-key office.pub` shows whether the
    ledger still holds what was signed. Refused for a ledger that does not
    verify.

    \b
    Example:
      subsidy ledger checkpoint ledger.db --key office.key -o 2022-08.checkpoint
    """
    import base64

    from ..ledger import checkpoint as cp
    with _ledger(url) as led:
        found = led.verify()
    if found.breaks:
        for b in found.breaks:
            click.echo(f"{led.display}: error[{b.code}] {b.message}", err=True)
        click.echo("a checkpoint is signed only for a ledger that verifies: nothing was written", err=True)
        sys.exit(1)
    try:
        body = cp.make(found, led.display, key_path, subsidy_rules.__version__)
        cp.write(body, output)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    click.echo(f"wrote {output}: run {body['runs']}, entry {body['entries']}, head {body['head']}, signed by key "
               f"{cp.fingerprint(base64.b64decode(body['public_key']))}")


@ledger.command(name="carry-in")
@click.argument("url")
@click.argument("policy", type=_PATH)
@click.argument("facts", type=_PATH)
@click.option("--reason", required=True, help="Where the history comes from (e.g. the county's records to 2022-06).")
def ledger_carry_in(url, policy, facts, reason):
    """Bring in the history FACTS states: payments made before the ledger was kept.

    Every `history` field the facts give (one-time subsidy paid, months of
    social-insurance subsidy used, award paid…) becomes an opening entry dated
    the day before the facts' period; from then on the ledger keeps it, and
    the facts need no `history`. Refused, naming each one, for a worker or
    workshop the ledger already holds history for. Once only: carrying in the
    same file again changes nothing.

    \b
    Example:
      subsidy ledger carry-in ledger.db policy.yaml examples/facts_2022.yaml \\
          --reason "county records to 2022-06"
    """
    from ..ledger import carry_in
    loaded, facts_loaded = _load(policy, facts)
    with _ledger(url) as led:
        done = carry_in(led, loaded, facts_loaded, reason=reason.strip(), tool_version=subsidy_rules.__version__)
    if done.already:
        click.echo(f"already carried in as run {done.seq} ({done.run_id[:12]}…): nothing changed")
    else:
        click.echo(f"carried in {done.entries} history entries as run {done.seq} ({done.run_id[:12]}…) in {led.display}")
    click.echo(_head_line(led, done.head))


@ledger.command(name="runs")
@click.argument("url")
def ledger_runs(url):
    """List the recorded runs: when, which period, which policy and facts, superseding what."""
    with _ledger(url) as led:
        rows = led.runs()
    table = [["run", "id", "kind", "recorded at (UTC)", "period", "policy", "facts", "entries", "supersedes", "reason"]]
    for r in rows:
        table.append([str(r["seq"]), str(r["id"])[:12], str(r["kind"]).replace("_", "-"), str(r["recorded_at"]),
                      f"{r['period_start']}..{r['period_end']}",
                      str(r["policy_id"]), str(r["facts_path"]), str(r["entry_count"]),
                      " ".join(i[:12] for i in str(r["supersedes"]).split()), str(r["reason"])])
    click.echo("\n".join(subsidy_rules.views.render.table(table, right={0, 7})))


def _date_option(value):
    import datetime as dt
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date written YYYY-MM-DD") from None


@ledger.command(name="report")
@click.argument("url")
@click.option("--policy", "policy_path", type=_PATH, required=True, help="The policy file (for its targets and labels).")
@click.option("--from", "start", help="Only entries whose period starts on or after this date (YYYY-MM-DD).")
@click.option("--to", "end", help="Only entries whose period ends on or before this date (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("-o", "--output", type=_OUTPUT, help="Write here instead of standard output.")
def ledger_report(url, policy_path, start, end, fmt, output):
    """Totals paid by fund, clause, city and county, and progress against the policy's targets.

    Amounts are granted entries net of reversals. A target counts what the
    latest recorded run of each workshop in the range tallied. The ledger is
    verified first (a ledger that does not verify is reported, exit 1, and no
    totals are made from it); the report states the head it was made from.

    \b
    Example:
      subsidy ledger report ledger.db --policy policy.yaml --from 2023-01-01 --to 2023-12-31
    """
    from ..ledger import build_report
    from ..ledger.report import to_csv, to_dict, to_text
    first, last = _date_option(start), _date_option(end)
    try:
        loaded = subsidy_rules.load_policy(policy_path)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    with _ledger(url) as led:
        report = build_report(led, loaded, first, last)
    if fmt == "json":
        text = json.dumps(to_dict(report), ensure_ascii=False, indent=2) + "\n"
    elif fmt == "csv":
        text = to_csv(report)
    else:
        text = to_text(report, loaded) + "\n"
    _write(text, output)
    if output or fmt != "text":
        click.echo(_head_line(led, report.head), err=True)


@main.command(name="test")
@click.argument("policy", type=_PATH)
@click.argument("cases", type=_PATH, required=False)
@click.option("-k", "select", help="Only cases whose name contains this text.")
def test_cases(policy, cases, select):
    """Run the policy's YAML cases (facts in, expected decisions out).

    CASES defaults to the file beside POLICY named *.tests.yaml. Prints one line
    per case and a summary; exits 1 if any case fails.

    \b
    Example:
      subsidy test policy.yaml
    """
    from ..tools.cases import load_cases, run_case
    if cases is None:
        cases = policy[:-5] + ".tests.yaml" if policy.endswith(".yaml") else policy + ".tests.yaml"
    try:
        loaded = subsidy_rules.load_policy(policy)
        found = load_cases(cases)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    chosen = [c for c in found if not select or select in c.name]
    failed = 0
    for case in chosen:
        result = run_case(loaded, case)
        mark = "PASSED" if result.passed else "FAILED"
        click.echo(f"{case.location} [{case.clause or '-'}] {case.name} {mark}")
        for failure in result.failures:
            click.echo(f"    {failure}")
        failed += not result.passed
    click.echo(f"{len(chosen) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)


def _workshop_index(facts, workshop, path) -> int:
    ids = [ws["id"] for ws in facts.workshops]
    if workshop not in ids:
        more = ", …" if len(ids) > 20 else ""
        raise click.BadParameter(f"no workshop {workshop!r} in {path}; workshops: {', '.join(ids[:20])}{more}",
                                 param_hint="--workshop")
    return ids.index(workshop)


def _only(facts, index):
    import dataclasses
    return dataclasses.replace(facts, workshops=(facts.workshops[index],), pointers=(facts.pointers[index],))


if __name__ == "__main__":  # pragma: no cover
    main()
