"""What every command shares: reading the policy and facts, printing problems, writing -o files, opening a ledger,
and the language its lines for people are in.

Every line a person reads (a count of problems, 'wrote FILE', what was recorded or verified, a progress bar's label)
is a sentence of the message catalog (``engine/locale``), said with :func:`_say` in the command's language: the
policy's (its ``report.lang``) once the command has loaded one (:func:`_speak`); before that, or for a command that
takes no policy (``ledger init|verify|runs|keygen|checkpoint``), the language ``--lang`` or the environment variable
``SUBSIDY_LANG`` names; else English. What programs read (JSON, codes) is never translated."""
from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, List, NoReturn, Optional, Tuple, TypeVar

import click

import subsidy_rules

if TYPE_CHECKING:
    import datetime as dt

    from click._termui_impl import ProgressBar

    from ..facts.reading import Facts
    from ..ledger import Head, Ledger
    from ..policy.model import Policy
    from ..problems import Problem

#: a command function, as click's decorators take and return it
_F = TypeVar("_F", bound=Callable[..., Any])
#: an -o value: a file name, or None for standard output
_Output = Optional[str]

#: where a command keeps the language its lines are said in (the click context's meta, shared by its subcontexts)
_LANG_KEY = "subsidy.lang"
#: the environment variable naming the language of a command that has no policy to take it from
LANG_ENV = "SUBSIDY_LANG"


def _speak(policy: "Policy") -> str:
    """From here on, the command's lines for people are in ``policy``'s language; that language."""
    from ..locale import language
    return _set_lang(language(policy))


def _set_lang(lang: str) -> str:
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_LANG_KEY] = lang
    return lang


def _lang() -> str:
    """The language the command speaks now: its policy's, else --lang or $SUBSIDY_LANG, else English."""
    from ..locale import language_of
    ctx = click.get_current_context(silent=True)
    if ctx is not None and _LANG_KEY in ctx.meta:
        return str(ctx.meta[_LANG_KEY])
    return language_of(os.environ.get(LANG_ENV))


def _say(key: str, /, **values: object) -> str:
    """The catalog's sentence ``key`` in the command's language, filled with ``values``."""
    from ..locale import say
    return say(key, _lang(), **values)


def _count(key: str, n: int) -> str:
    """``n`` errors, warnings…, in the command's language (``key``: ``cli.errors``, ``cli.warnings``)."""
    from ..locale import count
    return count(key, n, _lang())


def _set_lang_option(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> None:
    if value:
        from ..locale import language_of
        _set_lang(language_of(value))


#: --lang, for a command with no policy to take its language from (the ledger's commands): the language of its lines
#: for people (a policy's language wins wherever there is a policy).
_LANG = click.option("--lang", metavar="LANG", envvar=LANG_ENV, expose_value=False, callback=_set_lang_option,
                     help="The language of the lines printed for people, e.g. zh-CN or en (default: the environment "
                          f"variable {LANG_ENV}, else English). Codes and JSON are the same in every language.")


@lru_cache(maxsize=16)
def _lines(path: str) -> List[str]:
    try:
        with open(path, encoding="utf-8-sig") as fh:
            return fh.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def _source_line(path: str, n: int) -> str:
    from ..facts.reading import STDIN_NAME, stdin_line
    if path == STDIN_NAME:
        return stdin_line(n)
    lines = _lines(path)
    return lines[n - 1] if 0 < n <= len(lines) else ""


def _fail(exc: subsidy_rules.InvalidInput, fmt: str = "text") -> NoReturn:
    if fmt == "json":
        click.echo(json.dumps({"problems": [p.to_dict() for p in exc.problems]}, ensure_ascii=False, indent=2))
    else:
        from ..locale import localize
        _problem_lines(localize(exc.problems, _lang()))  # in the command's language where the catalog has them
        errors = len(exc.errors)
        warnings = len(exc.problems) - errors
        said = _count("cli.errors", errors)
        _tell(_say("cli.counts", errors=said, warnings=_count("cli.warnings", warnings)) if warnings else said)
    sys.exit(1)


def _problem_lines(problems: "Iterable[Problem]") -> None:
    """Each problem on standard error, as a compiler prints it (its line and a caret)."""
    for line in subsidy_rules.problem_lines(problems, _source_line):
        _tell(line)


def _tell(line: str, err: bool = True) -> None:
    """A line for a person, on standard error (``err``) or output, each character the console cannot show replaced by
    its fallback (a console in a legacy encoding gets no encoding error)."""
    from ..views.formats import encodable
    stream = sys.stderr if err else sys.stdout
    click.echo(encodable(line, getattr(stream, "encoding", None)), err=err)


def _write(text: str, output: _Output, quiet: bool = False) -> None:
    """``text`` to the file ``output`` (saying so on standard error unless ``quiet``), or to standard output."""
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            _unwritable(output, exc)
        _wrote(output, quiet)
    else:
        click.echo(text, nl=False)


def _write_csv(text: str, output: _Output, quiet: bool = False, bom: bool = True) -> None:
    """CSV ``text`` as UTF-8 bytes to the file ``output`` or to standard output, with a byte-order mark first (which
    Excel needs to open UTF-8 as UTF-8) unless ``bom`` is false (--no-bom)."""
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    _write_bytes(data, output, quiet)


def _write_bytes(data: bytes, output: _Output, quiet: bool = False) -> None:
    """``data`` to the file ``output`` (saying so unless ``quiet``), or, as they are, to standard output."""
    try:
        if output:
            with open(output, "wb") as fh:
                fh.write(data)
        else:
            out = getattr(sys.stdout, "buffer", None)
            if out is None:
                raise click.UsageError("standard output takes no bytes here: give -o FILE")
            sys.stdout.flush()
            out.write(data)
            out.flush()
    except OSError as exc:
        _unwritable(output or "standard output", exc)
    if output:
        _wrote(output, quiet)


def _wrote(output: str, quiet: bool = False, what: str = "") -> None:
    """'wrote FILE' on a line of its own on standard error (after any progress bar has finished), unless ``quiet``."""
    if not quiet:
        _tell(_say("cli.wrote_what", file=output, what=what) if what else _say("cli.wrote", file=output))


def _to_stdout(output: Optional[str]) -> _Output:
    """The -o value a command writes to: None for standard output (-o - or no -o), else the file."""
    return None if output in (None, "-") else output


def _unwritable(output: str, exc: OSError) -> NoReturn:
    _tell(f"{output}: error[file.unwritable] {_say('cli.unwritable', reason=exc.strerror or exc)}")
    sys.exit(1)


class _OutputFile(click.Path):
    """-o FILE: a regular file, created or replaced; never a folder, a device or a pipe (which replacing a file
    beside it, as a finished run does, would destroy). ``-o -`` is standard output (the command gets ``-``: see
    :func:`_to_stdout`), and so is ``-o /dev/stdout``: written to as it is, never replaced."""

    def __init__(self, dash: bool = True) -> None:
        super().__init__(dir_okay=False, writable=True, allow_dash=dash)
        self.dash = dash

    def convert(self, value: "str | os.PathLike[str]", param: Optional[click.Parameter],
                ctx: Optional[click.Context]) -> "str | bytes | os.PathLike[str]":
        if self.dash and (value == "-" or _is_stdout(value)):
            return "-"
        if _is_stdout(value):
            self.fail(f"{os.fspath(value)} is standard output: give a file", param, ctx)
        path = super().convert(value, param, ctx)
        if os.path.exists(path) and not os.path.isfile(path):
            self.fail(f"{path!s} is not a regular file", param, ctx)
        return path


def _is_stdout(value: "str | os.PathLike[str]") -> bool:
    """Whether ``value`` names standard output (``/dev/stdout``, ``/dev/fd/1``): written as ``-`` is, never replaced."""
    return os.fspath(value) in ("/dev/stdout", "/dev/fd/1", "/proc/self/fd/1")


def _stdout_or_path(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[str]:
    """An -o that may be a folder: ``/dev/stdout`` is ``-``, standard output."""
    return "-" if value is not None and _is_stdout(value) else value


_OUTPUT = _OutputFile()
#: -o FILE where only a file will do (a checkpoint, a key).
_OUTPUT_FILE = _OutputFile(dash=False)


def _stdin_facts(facts_path: str) -> bool:
    """Whether FACTS is ``-``, standard input: YAML or JSON text; a roster (a workbook, a folder of CSV files) is read
    from its path only, so a workbook piped in is a usage error (exit 2)."""
    if facts_path != "-":
        return False
    from ..facts.reading import stdin_is_workbook
    if stdin_is_workbook():
        raise click.UsageError("FACTS - reads YAML or JSON facts from standard input; a roster (a workbook or a "
                               "folder of CSV files) is read from its path: give the file name instead of -")
    return True


def _interactive() -> bool:
    """Whether a person watches standard error (a terminal): only then is a progress bar drawn."""
    return sys.stderr.isatty()


def _bar(length: int, label: str, quiet: bool = False) -> "Optional[ProgressBar[int]]":
    """A progress bar on standard error for a long path, or None: with -q, when standard error is not a terminal, or
    for nothing to do. ``label``: what it does (``reading``, ``deciding``), said in the command's language. Used as a
    context manager; 'wrote FILE' is said after it has finished, on a line of its own."""
    if quiet or length <= 0 or not _interactive():
        return None
    from ..views.formats import encodable
    return click.progressbar(length=length, label=encodable(_say(f"cli.bar.{label}"), getattr(sys.stderr, "encoding", None)),
                             file=sys.stderr)


def _load(policy_path: str, facts_path: str, fmt: str = "text", encoding: Optional[str] = None,
          quiet: bool = False) -> "Tuple[Policy, Facts]":
    _stdin_facts(facts_path)
    policy = _load_policy(policy_path, fmt, facts_path)
    try:
        from ..facts.workbook import is_roster, roster_size
        bar = _bar(roster_size(facts_path, policy), "reading", quiet) if is_roster(facts_path) and not quiet \
            and _interactive() else None
        if bar is not None:
            with bar:
                return policy, subsidy_rules.load_facts(facts_path, policy, encoding, bar.update)
        return policy, subsidy_rules.load_facts(facts_path, policy, encoding)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc, fmt)


def _command() -> str:
    """The command's name as typed after ``subsidy``: "ledger carry-in", not "carry-in"."""
    return " ".join(click.get_current_context().command_path.split()[1:])


def _load_policy(policy_path: str, fmt: str = "text", other: Optional[str] = None) -> "Policy":
    """The policy at ``policy_path``, the command speaking its language from here on; its problems exit 1. A facts file
    given where the policy goes is one problem that says so (``input.swapped``), as is POLICY and FACTS (``other``, the
    command's next argument) given in the wrong order."""
    try:
        policy = subsidy_rules.load_policy(policy_path)
    except subsidy_rules.InvalidInput as exc:
        _fail(_swapped(policy_path, other) or _policy_problems(policy_path, exc), fmt)
    _speak(policy)
    return policy


def _policy_problems(policy_path: str, exc: subsidy_rules.InvalidInput) -> subsidy_rules.InvalidInput:
    """The problems of a policy that did not load, in the language it declares (else --lang, $SUBSIDY_LANG or
    English), where the catalog has their sentences; the command speaks that language from here on."""
    from ..locale import declared_language, localize
    lang = _set_lang(declared_language(policy_path) or _lang())
    return subsidy_rules.InvalidInput(localize(exc.problems, lang))


def _swapped(policy_path: str, other: Optional[str] = None) -> "Optional[subsidy_rules.InvalidInput]":
    """The problem of a facts file at ``policy_path`` (and a policy at ``other``, if given), or None."""
    from ..facts.swapped import swapped
    from ..problems import Location, Problem
    if other is not None and other != "-":
        found = swapped(policy_path, other, _command())
        if found is not None:
            from ..locale import declared_language
            _set_lang(declared_language(other) or _lang())  # said, and counted, in the language of the policy given
            return found
    if not _holds_facts(policy_path):
        return None
    rest = f" {other}" if other is not None else ""
    return subsidy_rules.InvalidInput([Problem("input.swapped", _say("swapped.alone", given=policy_path), "",
                                               Location(policy_path),
                                               hint=_say("hint.swapped_alone", command=_command(), rest=rest))])


def _holds_facts(path: str) -> bool:
    """Whether ``path`` holds facts (a roster, or a YAML or JSON document with a period and no rules)."""
    from ..facts.workbook import is_roster
    from ..source import read_file
    if is_roster(path):
        return True
    try:
        data = read_file(path).data
    except (subsidy_rules.InvalidInput, OSError):
        return False
    return isinstance(data, dict) and "period" in data and "rules" not in data


#: what a command's examples write for the policy file; shown as the policy a clone bundles when run from its folder
_EXAMPLE_POLICY = "policy.yaml"


def _bundled_policy() -> Optional[str]:
    """The policy a clone bundles, as a command run from the clone's folder names it (``policies/NAME.yaml``, the
    first by name, its cases file aside), or None elsewhere."""
    try:
        names = sorted(n for n in os.listdir("policies") if n.endswith(".yaml") and not n.endswith(".tests.yaml")
                       and os.path.isfile(os.path.join("policies", n)))
    except OSError:
        return None
    return f"policies/{names[0]}" if names and os.path.isdir("examples") else None


class _Command(click.Command):
    """A command whose help's examples, run from a clone's folder, name the policy it bundles (so they can be copied
    and run as they are) instead of ``policy.yaml``."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        bundled, written = _bundled_policy(), self.help
        if bundled and written:
            self.help = written.replace(_EXAMPLE_POLICY, bundled)
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = written


class _Group(_Command, click.Group):
    """A group of commands, each a :class:`_Command` (its subgroups too). A usage error (click's own, or a command's)
    is said in the command's language (:mod:`._usage`)."""

    command_class = _Command
    group_class = type

    def make_context(self, info_name: Optional[str], args: List[str], parent: Optional[click.Context] = None,
                     **extra: Any) -> click.Context:
        from ._usage import ARGS_KEY, said
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise said(exc, args) from None
        ctx.meta.setdefault(ARGS_KEY, list(args))
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        from ._usage import ARGS_KEY, said
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise said(exc, ctx.meta.get(ARGS_KEY, ())) from None


_PATH = click.Path(dir_okay=False)
#: --no-bom: CSV without the byte-order mark Excel needs (for a tool that does not expect one).
_NO_BOM = click.option("--no-bom", is_flag=True,
                       help="CSV without the UTF-8 byte-order mark (written by default, so Excel reads the file as UTF-8).")
#: What each --format means, the same on every command: (choice, what it is) for the help text.
_FORMATS = {
    "json": "json: for other programs (codes, exact numbers)",
    "text": "text: for people, in the policy's language",
    "csv": "csv: a table for a spreadsheet (UTF-8 with a byte-order mark unless --no-bom)",
    "xlsx": "xlsx: an Excel workbook (needs -o FILE, or -o - for a pipe)",
    "html": "html: a printable report (self-contained)",
    "yaml": "yaml: facts as YAML",
}


def _format_option(choices: Tuple[str, ...], default: Optional[str] = None, **what: str) -> Callable[[_F], _F]:
    """--format, with the same choices spelled the same and meaning the same on every command (``what``: a command's
    own words for a choice)."""
    parts = [f"{c}: {what[c]}" if c in what else _FORMATS[c] for c in choices]
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default,
                        show_default=default is not None, help="; ".join(parts) + ".")


#: -o/--output, the same on every command that writes a file: a file, or - for standard output.
def _output_option(what: str = "Write here instead of standard output (-o - is standard output).",
                   **kw: Any) -> Callable[[_F], _F]:
    return click.option("-o", "--output", type=kw.pop("type", _OUTPUT), metavar=kw.pop("metavar", "FILE"), help=what, **kw)

#: -q: nothing on standard error but problems (no progress bar, no 'wrote FILE', no summary of pending decisions); a
#: command whose only output is what it did (validate, verify, ledger init…) prints nothing then when all is well.
_QUIET = click.option("-q", "--quiet", is_flag=True,
                      help="Nothing but problems: no progress bar, no 'wrote FILE', no summary of what was done (the "
                           "exit code says it).")
#: A facts argument: a file, a folder of CSV files, or - for YAML or JSON on standard input.
_FACTS = click.Path(allow_dash=True)
#: --encoding, for a CSV folder (or a YAML file) that is not UTF-8.
_ENCODING = click.option("--encoding", metavar="NAME",
                         help="The encoding of CSV (or YAML) facts that are not UTF-8, e.g. gb18030.")


def _why_not(default: bool) -> Callable[[_F], _F]:
    """--why-not/--granted-only, one name and one meaning on evaluate and explain (only the default differs)."""
    return click.option("--why-not/--granted-only", "why_not", default=default, show_default=True,
                        help="--why-not: also every rule that did not fire (outcome denied), with the first condition "
                             "that failed; --granted-only: only the decisions made.")


def _ledger_option(what: str) -> Callable[[_F], _F]:
    """--ledger URL, the payout ledger, the same on every command that takes one (``what``: what it does there)."""
    return click.option("--ledger", "ledger_url", metavar="URL",
                        help="The payout ledger (sqlite:///ledger.db, a plain path, or postgresql://…; made by "
                             f"subsidy ledger init): {what}")


@contextmanager
def _ledger(url: str, open_with: "Optional[Callable[[str], Ledger]]" = None) -> "Iterator[Ledger]":
    """The ledger at ``url``, closed afterwards. A URL with no ledger there is refused (``ledger.missing``, exit 1):
    a ledger is created on purpose, by ``subsidy ledger init URL``, so a mistyped path never starts an empty ledger
    that pays everything again. A ledger that cannot be reached exits 1 with its reason; the problems of a policy,
    facts file, run or damaged ledger exit 1 listed, as everywhere."""
    from ..ledger import LedgerUnavailable, open_ledger
    opened: "Optional[Ledger]" = None
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


def _head_line(led: "Ledger", head: "Optional[Head]") -> str:
    """The ledger's head, to write down or compare with a signed checkpoint, in the command's language (none yet:
    run 0, entry 0)."""
    if head is None:
        return _say("cli.head", ledger=led.display, runs=0, entries=0, chain="-")
    return _say("cli.head", ledger=led.display, runs=head.runs, entries=head.entries, chain=head.chain)


def _workshop_index(facts: "Facts", workshop: str, path: str) -> int:
    ids = [ws["id"] for ws in facts.workshops]
    if workshop not in ids:
        more = ", …" if len(ids) > 20 else ""
        raise click.BadParameter(f"no workshop {workshop!r} in {path}; workshops: {', '.join(ids[:20])}{more}",
                                 param_hint="--workshop")
    return ids.index(workshop)


def _only(facts: "Facts", index: int) -> "Facts":
    import dataclasses
    return dataclasses.replace(facts, workshops=(facts.workshops[index],), pointers=(facts.pointers[index],))


def _date_option(value: Optional[str]) -> "Optional[dt.date]":
    import datetime as dt
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date written YYYY-MM-DD") from None
