"""Working on a policy: ``validate`` it, ``diff`` two versions, run its YAML ``test`` cases."""
from __future__ import annotations

import difflib
import json
import sys
from decimal import Decimal
from typing import TYPE_CHECKING, List, Optional

import click

import subsidy_rules
from ._common import _Command, _fail, _PATH, _FACTS, _ENCODING, _QUIET, _format_option, _output_option, _stdin_facts, \
    _to_stdout, _write, _load_policy, _policy_problems, _speak, _say, _count, _swapped, _problem_lines, _tell

if TYPE_CHECKING:
    from ..policy.model import Policy


def _show_code(loaded: "Policy", rule_id: str) -> None:
    ids = [r.id for r in loaded.rules]
    if rule_id not in ids:
        near = difflib.get_close_matches(rule_id, ids, n=1)
        raise click.UsageError(f"the policy has no rule {rule_id!r}" + (f"; did you mean {near[0]!r}?" if near else
                                                                       f"; its rules: {', '.join(ids)}"))
    rule = loaded.rule(rule_id)
    assert rule.code is not None  # the loader compiles every rule of a loaded policy to Python
    click.echo(f"# rule {rule.id} (clause {rule.clause}) of {rule.origin}, compiled to Python")
    click.echo(rule.code.source(), nl=False)


@click.command(cls=_Command)
@click.argument("policy", type=_PATH)
@_format_option(("text", "json"), "text")
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
@click.option("--show-code", "show_code", metavar="RULE",
              help="Print the Python the rule RULE was compiled to (and the computed values it reads).")
@_QUIET
def validate(policy: str, fmt: str, strict: bool, show_code: Optional[str], quiet: bool) -> None:
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
        _fail(_swapped(policy) or _policy_problems(policy, exc), fmt)
    if fmt == "json":
        click.echo(json.dumps({"policy": loaded.id, "sha256": loaded.sha256,
                               "problems": [p.to_dict() for p in warnings]}, ensure_ascii=False, indent=2))
        if strict and warnings:
            sys.exit(1)
        return
    from ..locale import localize
    lang = _speak(loaded)
    _problem_lines(localize(warnings, lang))  # the linter's warnings, in the policy's language where the catalog has it
    if strict and warnings:
        _tell(_say("cli.strict_warnings", warnings=_count("cli.warnings", len(warnings))))
        sys.exit(1)
    if show_code is not None:
        _show_code(loaded, show_code)
        return
    if not quiet:
        said = dict(policy=policy, id=loaded.id, clauses=len(loaded.clauses), rules=len(loaded.rules),
                    parameters=len(loaded.parameters))
        _tell(_say("cli.valid_warnings", warnings=_count("cli.warnings", len(warnings)), **said) if warnings else
              _say("cli.valid", **said), err=False)


@click.command(cls=_Command)
@click.argument("old", type=_PATH)
@click.argument("new", type=_PATH)
@click.option("--facts", type=_FACTS, metavar="FACTS",
              help="Also evaluate these facts (as FACTS of evaluate: a file, a roster, or - for standard input) under "
                   "both policies and show the payout impact.")
@_ENCODING
@_format_option(("text", "json"), "text")
@_output_option()
@_QUIET
def diff(old: str, new: str, facts: Optional[str], encoding: Optional[str], fmt: str, output: Optional[str],
         quiet: bool) -> None:
    """What changed from OLD to NEW: parameters (values and dates), rules, clauses, funds, sets.

    With --facts, the payout impact: totals by fund and by clause before and
    after, and every workshop, worker and loan whose payout changes.

    \b
    Example:
      subsidy diff policy.yaml my_draft.yaml --facts examples/facts_2022.yaml
    """
    from ..tools.diff import payout_impact, policy_changes
    from ..views.document import totals_dict
    from ..views.formats import money, table
    try:
        before_policy, after_policy = subsidy_rules.load_policy(old), subsidy_rules.load_policy(new)
        _speak(after_policy)
        changes = policy_changes(before_policy, after_policy)
        impact = None
        if facts:
            _stdin_facts(facts)
            impact = payout_impact(
                subsidy_rules.evaluate(before_policy, subsidy_rules.load_facts(facts, before_policy, encoding), trace=False),
                subsidy_rules.evaluate(after_policy, subsidy_rules.load_facts(facts, after_policy, encoding), trace=False))
    except subsidy_rules.InvalidInput as exc:
        _fail(exc, fmt)
    lines: List[str] = []
    echo = lines.append
    if fmt == "json":
        doc = {"old": {"path": old, "sha256": before_policy.sha256}, "new": {"path": new, "sha256": after_policy.sha256},
               "changes": [{"kind": c.kind, "id": c.id, "change": c.change, "details": list(c.details)} for c in changes]}
        if impact is not None:
            doc["impact"] = {
                "facts": facts,
                "before": totals_dict(impact.before.totals),
                "after": totals_dict(impact.after.totals),
                "subjects": [{"workshop": w, "worker": k, "loan": l, "before": money(a), "after": money(b),
                              "change": money(b - a)} for w, k, l, a, b in impact.subjects]}
        echo(json.dumps(doc, ensure_ascii=False, indent=2))
        _write("\n".join(lines) + "\n", _to_stdout(output), quiet)
        return
    echo(_say("cli.diff.changes", old=old, new=new, n=len(changes) or _say("cli.diff.none")))
    for c in changes:
        echo(f"  {_word('cli.diff.kind', c.kind)} {c.id} {_word('cli.diff.change', c.change)}")
        for detail in c.details:
            echo(f"      {detail}")
    if impact is None:
        _write("\n".join(lines) + "\n", _to_stdout(output), quiet)
        return
    echo("\n" + _say("cli.diff.impact", facts=facts))
    for title, attr, word in (("cli.diff.by_fund", "by_funding_source", after_policy.label),
                              ("cli.diff.by_clause", "by_clause", str)):
        a, b = getattr(impact.before.totals, attr), getattr(impact.after.totals, attr)
        rows = [[_say(title), _say("cli.diff.before"), _say("cli.diff.after"), _say("cli.diff.change")]]
        for key in sorted(set(a) | set(b)):
            x, y = a.get(key, Decimal("0.00")), b.get(key, Decimal("0.00"))
            rows.append([f"{key} {word(key)}" if word is not str else key, money(x, grouped=True), money(y, grouped=True), _signed(y - x)])
        echo("\n".join("  " + line for line in table(rows, right={1, 2, 3})))
    ta, tb = impact.before.totals.granted, impact.after.totals.granted
    echo("  " + _say("cli.diff.total", before=money(ta, grouped=True), after=money(tb, grouped=True),
                     change=_signed(tb - ta)))
    echo("  " + _say("cli.diff.subjects", n=len(impact.subjects)))
    for w, k, l, a, b in impact.subjects:
        who = _say("cli.diff.worker", id=k) if k else _say("cli.diff.loan", id=l) if l else _say("cli.diff.workshop")
        echo("    " + _say("cli.diff.subject", workshop=w, who=who, before=money(a, grouped=True),
                             after=money(b, grouped=True), change=_signed(b - a)))
    _write("\n".join(lines) + "\n", _to_stdout(output), quiet)


def _word(prefix: str, code: str) -> str:
    """A code (a kind of change, what changed) in the command's language, or as it is if the catalog has no word."""
    from ..locale import catalog
    return _say(f"{prefix}.{code}") if f"{prefix}.{code}" in catalog("en")["messages"] else code


def _signed(amount: Decimal) -> str:
    from ..views.formats import money
    return ("+" if amount > 0 else "") + money(amount, grouped=True)


@click.command(name="test", cls=_Command)
@click.argument("policy", type=_PATH)
@click.argument("cases", type=_PATH, required=False)
@click.option("-k", "select", help="Only cases whose name contains this text.")
@_QUIET
def test_cases(policy: str, cases: Optional[str], select: Optional[str], quiet: bool) -> None:
    """Run the policy's YAML cases (facts in, expected decisions out).

    CASES defaults to the file beside POLICY named *.tests.yaml. Prints one line
    per case and a summary; exits 1 if any case fails.

    \b
    Example:
      subsidy test policy.yaml
    """
    from ..tools.cases import load_cases, run_case
    given = cases
    if cases is None:
        cases = policy[:-5] + ".tests.yaml" if policy.endswith(".yaml") else policy + ".tests.yaml"
    loaded = _load_policy(policy, other=given)
    try:
        found = load_cases(cases)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    chosen = [c for c in found if not select or select in c.name]
    failed = 0
    for case in chosen:
        result = run_case(loaded, case)
        if not (quiet and result.passed):
            mark = _say("cli.case.passed" if result.passed else "cli.case.failed")
            _tell(f"{case.location} [{case.clause or '-'}] {case.name} {mark}", err=False)
        for failure in result.failures:
            _tell(f"    {failure}", err=False)
        failed += not result.passed
    if not quiet or failed:
        _tell(_say("cli.cases", passed=len(chosen) - failed, failed=failed), err=False)
    if failed:
        sys.exit(1)
