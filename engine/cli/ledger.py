"""The payout ledger: ``subsidy ledger init | carry-in | runs | report | verify | keygen | checkpoint``."""
from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, List, Optional, Tuple

import click

import subsidy_rules
from ._common import _Group, _OUTPUT_FILE, _to_stdout, _fail, _write, _load, _PATH, _FACTS, _ENCODING, _ledger, _head_line, \
    _date_option, _format_option, _output_option, _NO_BOM, _QUIET, _write_csv, _LANG, _load_policy, _say, _tell

if TYPE_CHECKING:
    from ..ledger import Ledger


@click.group(cls=_Group)
def ledger() -> None:
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
@_LANG
@_QUIET
def ledger_init(url: str, quiet: bool) -> None:
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
    created: List[bool] = []

    def create(target: str) -> Ledger:
        opened, new = init_ledger(target)
        created.append(new)
        return opened

    with _ledger(url, create) as led:
        head = led.head()
    if quiet:
        return
    if created[0]:
        _tell(_say("cli.ledger.created", ledger=led.display), err=False)
    else:
        _tell(_say("cli.ledger.exists", ledger=led.display, runs=head.runs), err=False)
    _tell(_head_line(led, head), err=False)


@ledger.command(name="verify")
@click.argument("url")
@click.option("--checkpoint", "checkpoints", multiple=True, type=_PATH, metavar="FILE",
              help="A signed checkpoint (subsidy ledger checkpoint): the ledger must still hold exactly what it "
                   "signed. May be given more than once.")
@click.option("--public-key", type=_PATH, metavar="PUB",
              help="The office's public key (PEM): each checkpoint must be signed by it. Without it, a checkpoint's "
                   "signature is checked with the key the checkpoint carries.")
@_LANG
@_QUIET
def ledger_verify(url: str, checkpoints: Tuple[str, ...], public_key: Optional[str], quiet: bool) -> None:
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
            _tell(f"{led.display}: error[{b.code}] {b.message}")
        first = found.breaks[0]
        _tell(_say("cli.ledger.first_break", what=_say(f"cli.ledger.{first.what}") if first.what in ("entry", "run")
                   else first.what, seq=first.seq))
        sys.exit(1)
    if quiet:
        return
    runs = found.walk.runs
    _tell(_say("cli.ledger.intact_one" if runs == 1 else "cli.ledger.intact", ledger=led.display, runs=runs), err=False)
    _tell(_head_line(led, found.head), err=False)
    for c in loaded:
        since = found.walk.runs - c.runs
        _tell(_say("cli.ledger.matches_one" if since == 1 else "cli.ledger.matches", path=c.path, made_at=c.made_at,
                   runs=c.runs, entries=c.entries, head=c.head[:12], key=c.key, since=since), err=False)
        if not c.pinned:
            _tell(_say("cli.ledger.unpinned", path=c.path, key=c.key))


@ledger.command(name="keygen")
@click.option("--key", "key_path", type=_PATH, required=True, metavar="KEYFILE",
              help="Where to write the new private key (PEM; readable by its owner only). Never overwritten.")
@click.option("--public-key", "public_path", type=_PATH, metavar="PUB",
              help="Where to write its public key (PEM). Default: KEYFILE with .pub for its extension.")
@_LANG
def ledger_keygen(key_path: str, public_path: Optional[str]) -> None:
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
    _tell(_say("cli.ledger.keygen", key=key_path, public=public_path, fingerprint=fp), err=False)


@ledger.command(name="checkpoint")
@click.argument("url")
@click.option("--key", "key_path", type=_PATH, required=True, metavar="KEYFILE",
              help="The office's Ed25519 private key (PEM), as subsidy ledger keygen or openssl genpkey wrote it.")
@click.option("-o", "--output", type=_OUTPUT_FILE, required=True, metavar="CHECKPOINT",
              help="Where to write the signed checkpoint (JSON).")
@_LANG
@_QUIET
def ledger_checkpoint(url: str, key_path: str, output: str, quiet: bool) -> None:
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
            _tell(f"{led.display}: error[{b.code}] {b.message}")
        _tell(_say("cli.ledger.not_signed"))
        sys.exit(1)
    try:
        body = cp.make(found, led.display, key_path, subsidy_rules.__version__)
        cp.write(body, output)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    if not quiet:
        _tell(_say("cli.ledger.checkpoint", file=output, runs=body["runs"], entries=body["entries"], head=body["head"],
                   key=cp.fingerprint(base64.b64decode(body["public_key"]))), err=False)


@ledger.command(name="carry-in")
@click.argument("url")
@click.argument("policy", type=_PATH)
@click.argument("facts", type=_FACTS)
@_ENCODING
@click.option("--reason", required=True, help="Where the history comes from (e.g. the county's records to 2022-06).")
@_QUIET
def ledger_carry_in(url: str, policy: str, facts: str, encoding: str | None, reason: str, quiet: bool) -> None:
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
    loaded, facts_loaded = _load(policy, facts, encoding=encoding, quiet=quiet)
    with _ledger(url) as led:
        done = carry_in(led, loaded, facts_loaded, reason=reason.strip(), tool_version=subsidy_rules.__version__)
    if quiet:
        return
    if done.already:
        _tell(_say("cli.ledger.already_carried", seq=done.seq, run=done.run_id[:12]), err=False)
    else:
        _tell(_say("cli.ledger.carried", entries=done.entries, seq=done.seq, run=done.run_id[:12], ledger=led.display),
              err=False)
    _tell(_head_line(led, done.head), err=False)


@ledger.command(name="runs")
@click.argument("url")
@_LANG
@_QUIET
def ledger_runs(url: str, quiet: bool) -> None:
    """List the recorded runs: when, which period, which policy and facts, superseding what.

    The table is its output (on standard output): -q changes nothing but
    that nothing else is said.

    \b
    Example:
      subsidy ledger runs ledger.db --lang zh-CN
    """
    from ..views import formats
    with _ledger(url) as led:
        rows = led.runs()
    table = [[h.strip() for h in _say("cli.runs.columns").split(",")]]
    for r in rows:
        kind = str(r["kind"])
        table.append([str(r["seq"]), str(r["id"])[:12], _say(f"cli.runs.kind.{kind}") if kind in ("evaluation", "carry_in")
                      else kind.replace("_", "-"), str(r["recorded_at"]),
                      f"{r['period_start']}..{r['period_end']}",
                      str(r["policy_id"]), str(r["facts_path"]), str(r["entry_count"]),
                      " ".join(i[:12] for i in str(r["supersedes"]).split()), str(r["reason"])])
    _tell("\n".join(formats.table(table, right={0, 7})), err=False)


@ledger.command(name="report")
@click.argument("url")
@click.argument("policy", type=_PATH, required=False)
@click.option("--policy", "policy_option", type=_PATH, hidden=True, help="The old spelling of the POLICY argument.")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="Only entries whose period starts on or after this date.")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Only entries whose period ends on or before this date.")
@_format_option(("text", "json", "csv"), "text", csv="one row per total, target and pending decision (UTF-8 with a "
                                                      "byte-order mark unless --no-bom)")
@_NO_BOM
@_output_option()
@_QUIET
def ledger_report(url: str, policy: Optional[str], policy_option: Optional[str], start: Optional[str],
                  end: Optional[str], fmt: str, no_bom: bool, output: Optional[str], quiet: bool) -> None:
    """Totals paid by fund, clause, city and county, and progress against the policy's targets.

    POLICY gives the targets and the words (as the POLICY of every other
    command). Amounts are granted entries net of reversals. A target counts
    what the latest recorded run of each workshop in the range tallied. The
    ledger is verified first (a ledger that does not verify is reported, exit
    1, and no totals are made from it); the report states the head it was
    made from (with -o or a format for programs, also on standard error).

    \b
    Example:
      subsidy ledger report ledger.db policy.yaml --from 2023-01-01 --to 2023-12-31
    """
    from ..ledger import build_report
    from ..ledger.report import to_csv, to_dict
    from ..views.formats import encodable
    from ..views.ledger_text import ledger_text
    if policy and policy_option and policy != policy_option:
        raise click.UsageError("give the policy once: as POLICY (--policy is its old spelling)")
    policy = policy or policy_option
    if not policy:
        raise click.UsageError("missing the POLICY argument: subsidy ledger report URL POLICY")
    first, last = _date_option(start), _date_option(end)
    loaded = _load_policy(policy)
    with _ledger(url) as led:
        report = build_report(led, loaded, first, last)
    output = _to_stdout(output)
    if fmt == "csv":
        _write_csv(to_csv(report), output, quiet, bom=not no_bom)
    else:
        if fmt == "json":
            text = json.dumps(to_dict(report), ensure_ascii=False, indent=2) + "\n"
        else:
            text = ledger_text(report, loaded) + "\n"
            if not output:  # a console whose encoding lacks a character gets its fallback (a file is UTF-8)
                text = encodable(text, getattr(sys.stdout, "encoding", None))
        _write(text, output, quiet)
    if (output or fmt != "text") and not quiet:
        _tell(_head_line(led, report.head))
