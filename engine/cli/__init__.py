"""subsidy: evaluate subsidy policies written as YAML rules, with a trace behind every decision.

A thin layer over the ``engine`` package: each command parses its options,
calls the library and prints what it returns. Exit codes: 0 done, 1 the
policy or facts have problems (all of them are printed, sorted), 2 usage.
"""
from __future__ import annotations

import click

import subsidy_rules

from ._common import _Group
from .facts import facts, template
from .ledger import ledger
from .policy import diff, test_cases, validate
from .run import evaluate, explain, verify
from .serve import serve, users


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(subsidy_rules.__version__, prog_name="subsidy")
def main() -> None:
    """Evaluate a subsidy policy written as YAML rules against facts about
    workshops and workers; every decision cites its clause and shows its trace.

    \b
    POLICY is a policy file: a clone bundles one in policies/, with facts for
    it in examples/ (from the clone's folder, these examples run as they are):
      subsidy evaluate policy.yaml examples/facts_2022.yaml --format text
      subsidy explain policy.yaml examples/facts_2022.yaml --workshop WS-001 --worker W-0001
      subsidy validate policy.yaml

    \b
    A county's roster in Excel (a template from the policy, filled, then evaluated like YAML):
      subsidy template policy.yaml -o roster.xlsx
      subsidy evaluate policy.yaml roster.xlsx --format text

    \b
    A county's months with the payout ledger (history from earlier months, nothing paid twice):
      subsidy ledger init ledger.db        # once, then the records kept before it, once:
      subsidy ledger carry-in ledger.db policy.yaml examples/county/2022-07.yaml --reason "paper records"
      subsidy evaluate policy.yaml examples/county/2022-07.yaml --ledger ledger.db --record --format text
      subsidy evaluate policy.yaml examples/county/2022-08.yaml --ledger ledger.db --record --format text
      subsidy ledger report ledger.db policy.yaml

    Exit codes: 0 done; 1 the policy or facts have problems (each printed with
    file:line:col, sorted); 2 the command line is wrong. A decision that waits
    for a parameter value the policy does not have yet is pending: the run
    still exits 0 and says so on standard error (evaluate --strict: exit 1).
    """


for _command in (validate, evaluate, verify, explain, diff, ledger, test_cases, template, facts, serve, users):
    main.add_command(_command)
