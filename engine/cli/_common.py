"""What every command shares: reading the policy and facts, printing problems, writing -o files, opening a ledger."""
from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, NoReturn, Optional, Tuple, TypeVar

import click

import subsidy_rules

if TYPE_CHECKING:
    import datetime as dt

    from click._termui_impl import ProgressBar

    from ..facts.reading import Facts
    from ..ledger import Head, Ledger
    from ..policy.model import Policy

#: a command function, as click's decorators take and return it
_F = TypeVar("_F", bound=Callable[..., Any])
#: an -o value: a file name, or None for standard output
_Output = Optional[str]


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
        for line in subsidy_rules.problem_lines(exc.problems, _source_line):
            click.echo(line, err=True)
        errors = len(exc.errors)
        warnings = len(exc.problems) - errors
        click.echo(f"{errors} error{'s' * (errors != 1)}" + (f", {warnings} warning{'s' * (warnings != 1)}" if warnings else ""),
                   err=True)
    sys.exit(1)


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
        click.echo(f"wrote {output}" + (f" ({what})" if what else ""), err=True)


def _to_stdout(output: Optional[str]) -> _Output:
    """The -o value a command writes to: None for standard output (-o - or no -o), else the file."""
    return None if output in (None, "-") else output


def _unwritable(output: str, exc: OSError) -> NoReturn:
    click.echo(f"{output}: error[file.unwritable] cannot write: {exc.strerror or exc}", err=True)
    sys.exit(1)


class _OutputFile(click.Path):
    """-o FILE: a regular file, created or replaced; never a folder, a device or a pipe (which replacing a file
    beside it, as a finished run does, would destroy). ``-o -`` is standard output (the command gets ``-``: see
    :func:`_to_stdout`)."""

    def __init__(self, dash: bool = True) -> None:
        super().__init__(dir_okay=False, writable=True, allow_dash=dash)
        self.dash = dash

    def convert(self, value: "str | os.PathLike[str]", param: Optional[click.Parameter],
                ctx: Optional[click.Context]) -> "str | bytes | os.PathLike[str]":
        if value == "-" and self.dash:
            return "-"
        path = super().convert(value, param, ctx)
        if os.path.exists(path) and not os.path.isfile(path):
            self.fail(f"{path!s} is not a regular file", param, ctx)
        return path


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
    for nothing to do. Used as a context manager; 'wrote FILE' is said after it has finished, on a line of its own."""
    if quiet or length <= 0 or not _interactive():
        return None
    return click.progressbar(length=length, label=label, file=sys.stderr)


def _load(policy_path: str, facts_path: str, fmt: str = "text", encoding: Optional[str] = None,
          quiet: bool = False) -> "Tuple[Policy, Facts]":
    _stdin_facts(facts_path)
    try:
        policy = subsidy_rules.load_policy(policy_path)
    except subsidy_rules.InvalidInput as exc:
        from ..facts.swapped import swapped
        command = " ".join(click.get_current_context().command_path.split()[1:])  # "ledger carry-in", not "carry-in"
        _fail(swapped(policy_path, facts_path, command) or exc, fmt)
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

#: -q: nothing on standard error but problems (no progress bar, no 'wrote FILE', no summary of pending decisions).
_QUIET = click.option("-q", "--quiet", is_flag=True,
                      help="Nothing on standard error but problems: no progress bar, no 'wrote FILE', no summary.")
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
    """The ledger's head, to write down or compare with a signed checkpoint."""
    return f"ledger head of {led.display}: {head}"


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
