"""The county's rosters: ``template`` (the workbook to fill, from the policy) and ``facts convert``."""
from __future__ import annotations

import os

import click

import subsidy_rules
from ._common import _fail, _PATH


@click.command()
@click.argument("policy", type=_PATH)
@click.option("-o", "--output", required=True, type=click.Path(),
              help="The workbook to write (roster.xlsx), or the folder for --format csv.")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True,
              help="xlsx: one workbook; csv: a folder with one CSV file (UTF-8) per sheet.")
def template(policy, output, fmt):
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
    try:
        loaded = subsidy_rules.load_policy(policy)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    if fmt == "xlsx" and os.path.isdir(output):
        raise click.BadParameter(f"{output} is a folder: give a file name, or --format csv", param_hint="-o")
    if fmt == "csv" and os.path.exists(output) and not os.path.isdir(output):
        raise click.BadParameter(f"{output} is a file: --format csv writes a folder", param_hint="-o")
    try:
        write_template(loaded, output, fmt)
    except OSError as exc:
        click.echo(f"{output}: error[file.unwritable] cannot write: {exc.strerror or exc}", err=True)
        raise SystemExit(1)
    click.echo(f"wrote {output}", err=True)


@click.group()
def facts():
    """Facts files: convert between a workbook, a folder of CSV files, YAML and JSON."""


@facts.command("convert")
@click.argument("source", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Where to write: a .xlsx, .yaml or .json file, or a folder (CSV files).")
@click.option("--policy", "policy", type=_PATH,
              help="The policy whose sheets, labels and codes a roster uses, and whose codes the facts are checked "
                   "against (needed when either side is a workbook or CSV folder).")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "yaml", "json"]),
              help="The form to write (default: from the output's extension; a folder is csv).")
@click.option("--encoding", help="The encoding of a CSV or YAML source that is not UTF-8 (e.g. gb18030).")
def convert(source, output, policy, fmt, encoding):
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
    if os.path.abspath(source) == os.path.abspath(output):
        raise click.BadParameter("the output would replace the source", param_hint="-o")
    if policy is None and needs_policy(source, output, fmt):
        raise click.UsageError("a workbook or CSV folder is made from the policy's sheets and labels: give --policy POLICY")
    try:
        loaded = subsidy_rules.load_policy(policy) if policy else None
        written = run_convert(source, output, loaded, fmt, encoding)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    except OSError as exc:
        click.echo(f"{output}: error[file.unwritable] cannot write: {exc.strerror or exc}", err=True)
        raise SystemExit(1)
    click.echo(f"wrote {output} ({written})", err=True)
