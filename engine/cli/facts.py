"""The county's rosters: ``template`` (the workbook to fill, from the policy) and ``facts convert``."""
from __future__ import annotations

import os
from typing import Callable, Optional

import click

import subsidy_rules
from ._common import _Command, _Group, _fail, _PATH, _ENCODING, _NO_BOM, _QUIET, _format_option, _output_option, _unwritable, \
    _write_bytes, _wrote, _load_policy, _speak, _stdout_or_path


@click.command(cls=_Command)
@click.argument("policy", type=_PATH)
@_output_option("The workbook to write (roster.xlsx; -o - writes it to standard output), or the folder for --format "
                "csv.", type=click.Path(allow_dash=True), required=True, metavar="FILE|FOLDER", callback=_stdout_or_path)
@_format_option(("xlsx", "csv"), "xlsx", xlsx="one workbook", csv="a folder with one CSV file per sheet (UTF-8 with "
                                                                 "a byte-order mark unless --no-bom)")
@_NO_BOM
@_QUIET
def template(policy: str, output: str, fmt: str, no_bom: bool, quiet: bool) -> None:
    """Write the roster a county fills for POLICY: one sheet per kind of record (the period, workshops,
    workers, their months, loans), the policy's column names with the field codes beneath, required
    columns marked, drop-down lists of the policy's labels, date and number formats, an instructions
    sheet and an example row (rows starting with # are never read).

    \b
    Example:
      subsidy template policy.yaml -o roster.xlsx
      subsidy evaluate policy.yaml roster.xlsx --format text      # once it is filled
    """
    from ..facts.template import template as write_template
    loaded = _load_policy(policy)
    if output == "-":
        if fmt == "csv":
            raise click.BadParameter("--format csv writes a folder of files: give the folder, not -", param_hint="-o")
        _write_bytes(_made_in_temp(lambda path: write_template(loaded, path, fmt), ".xlsx"), None)
        return
    if fmt == "xlsx" and os.path.isdir(output):
        raise click.BadParameter(f"{output} is a folder: give a file name, or --format csv", param_hint="-o")
    if fmt == "csv" and os.path.exists(output) and not os.path.isdir(output):
        raise click.BadParameter(f"{output} is a file: --format csv writes a folder", param_hint="-o")
    try:
        write_template(loaded, output, fmt, bom=not no_bom)
    except OSError as exc:
        _unwritable(output, exc)
    _wrote(output, quiet)


def _made_in_temp(write: Callable[[str], object], suffix: str) -> bytes:
    """The bytes of a file ``write(path)`` makes (for -o -: a workbook to standard output)."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="subsidy-") as folder:
        path = os.path.join(folder, "out" + suffix)
        write(path)
        with open(path, "rb") as fh:
            return fh.read()


@click.group(cls=_Group)
def facts() -> None:
    """Facts files: convert between a workbook, a folder of CSV files, YAML and JSON."""


@facts.command("convert")
@click.argument("source", type=click.Path())
@_output_option("Where to write: a .xlsx, .yaml or .json file, or a folder (CSV files); -o - is standard output "
                "(with --format yaml, json or xlsx).", type=click.Path(allow_dash=True), required=True,
                metavar="FILE|FOLDER", callback=_stdout_or_path)
@click.option("--policy", "policy", type=_PATH,
              help="The policy whose sheets, labels and codes a roster uses, and whose codes the facts are checked "
                   "against (needed when either side is a workbook or CSV folder).")
@_format_option(("xlsx", "csv", "yaml", "json"), None, xlsx="a roster workbook",
                csv="a roster as a folder of CSV files (UTF-8 with a byte-order mark)",
                json="facts as JSON (default: from the output's extension; a folder is csv)")
@_ENCODING
@_QUIET
def convert(source: str, output: str, policy: Optional[str], fmt: Optional[str], encoding: Optional[str],
            quiet: bool) -> None:
    """Convert the facts in SOURCE (a workbook, a folder of CSV files, YAML or JSON) to OUTPUT, losslessly:
    the facts are checked first (every problem is reported, nothing is written), and a round trip gives
    equal facts and equal decisions.

    \b
    Examples:
      subsidy facts convert examples/county/2022-07.yaml -o 2022-07.xlsx --policy policy.yaml
      subsidy facts convert roster.xlsx -o archive/2022-07.json --policy policy.yaml
      subsidy facts convert examples/facts_2022.yaml -o facts.json
    """
    from ..facts.convert import convert as run_convert, needs_policy
    if not os.path.exists(source):
        raise click.BadParameter(f"{source} does not exist", param_hint="SOURCE")
    if output == "-" and fmt not in ("yaml", "json", "xlsx"):
        raise click.UsageError("-o - writes to standard output: say what to write with --format yaml, json or xlsx "
                               "(a folder of CSV files needs a folder)")
    if output != "-" and os.path.abspath(source) == os.path.abspath(output):
        raise click.BadParameter("the output would replace the source", param_hint="-o")
    if policy is None and needs_policy(source, output if output != "-" else f"-.{fmt}", fmt):
        raise click.UsageError("a workbook or CSV folder is made from the policy's sheets and labels: give --policy POLICY")
    try:
        loaded = subsidy_rules.load_policy(policy) if policy else None
        if loaded is not None:
            _speak(loaded)
        if output == "-":
            _write_bytes(_made_in_temp(lambda path: run_convert(source, path, loaded, fmt, encoding), f".{fmt}"), None)
            return
        written = run_convert(source, output, loaded, fmt, encoding)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    except OSError as exc:
        _unwritable(output, exc)
    _wrote(output, quiet, written)
