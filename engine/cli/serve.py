"""The web application: ``subsidy serve`` runs it; ``subsidy users add`` makes the users file it reads."""
from __future__ import annotations

import os
import sys
from typing import Optional, Tuple

import click

import subsidy_rules
from ._common import _Command, _Group, _fail, _PATH, _ledger_option, _say, _speak, _tell

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command(cls=_Command)
@click.argument("policy", type=_PATH)
@_ledger_option("history comes from it, and clerks record into it.")
@click.option("--users", "users_path", type=_PATH, metavar="FILE",
              help="The users file (subsidy users add). Without it the server is read-only: anyone who reaches it "
                   "may read and evaluate, nobody may record.")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default="subsidy-data", show_default=True,
              help="The server's data folder: its session secret and the uploads; the only place it writes.")
@click.option("--max-upload", type=click.IntRange(1024), default=20 * 1024 * 1024, show_default=True, metavar="BYTES",
              help="The largest request body accepted (an upload over it is refused with 413).")
@click.option("--secure-cookies/--no-secure-cookies", default=None,
              help="Mark the session cookie Secure (send it over HTTPS only). Default: on unless the host is a "
                   "loopback address; behind a TLS proxy, keep it on.")
def serve(policy: str, ledger_url: Optional[str], users_path: Optional[str], host: str, port: int, data_dir: str,
          max_upload: int, secure_cookies: Optional[bool]) -> None:
    """Serve POLICY as a web application and an HTTP API.

    Pages (in the policy's language): the policy, evaluating an uploaded facts
    file, the ledger (record a period after a confirmation page; runs, report,
    verification) and a draft policy's changes and payout impact. The API:
    POST /api/v1/evaluate, /api/v1/explain, /api/v1/validate, GET
    /api/v1/policy; its OpenAPI document at /api/v1/openapi.json.

    \b
    Example (the bundled example, read-only, at http://127.0.0.1:8000):
      subsidy serve policy.yaml
    \b
    A county office (users who log in; clerks record for their counties):
      subsidy users add users.json clerk1 --role clerk --county COUNTY
      subsidy ledger init ledger.db
      subsidy serve policy.yaml --ledger ledger.db --users users.json
    """
    import tempfile

    import uvicorn

    from ..web import WebConfig, create_app
    from ..web.users import UsersFileError
    from ..ledger import LedgerUnavailable, open_ledger

    if ledger_url:
        try:
            open_ledger(ledger_url).close()  # refused now, not on the first page, if there is no ledger there
        except LedgerUnavailable as exc:
            click.echo(f"error[ledger.unavailable] {exc}", err=True)
            sys.exit(1)
        except subsidy_rules.InvalidInput as exc:
            _fail(exc)
    secure = secure_cookies if secure_cookies is not None else host not in _LOOPBACK
    hosts = ("127.0.0.1", "localhost", "::1", "[::1]") if host in _LOOPBACK else ("*",)
    config = WebConfig(policy=policy, data=os.path.abspath(data_dir), ledger=ledger_url,
                       users=users_path, max_upload=max_upload, https_only=secure, allowed_hosts=hosts)
    try:
        app = create_app(config)
    except subsidy_rules.InvalidInput as exc:
        _fail(exc)
    except (UsersFileError, OSError, ValueError) as exc:
        click.echo(f"error[serve.config] {exc}", err=True)
        sys.exit(1)
    tempfile.tempdir = config.tmp  # form parsing spools large uploads to temporary files: inside the data folder
    _speak(app.state.policy)
    if host not in _LOOPBACK and not secure:
        _tell(_say("cli.serve.insecure"))
    _tell(_say("cli.serve.read_only" if not users_path else "cli.serve.serving", policy=policy,
               url=f"http://{host}:{port}/", data=config.data))
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)


@click.group(cls=_Group)
def users() -> None:
    """The users file of subsidy serve: names, Argon2 password hashes, roles and counties."""


@users.command(name="add")
@click.argument("file", type=_PATH)
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "clerk", "admin"]), required=True,
              help="viewer reads; clerk also evaluates and records for its counties; admin, for every county.")
@click.option("--county", "counties", multiple=True, help="A county a clerk may record for (repeat for more).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line) instead of "
                                                     "asking for it.")
def users_add(file: str, name: str, role: str, counties: Tuple[str, ...], password_stdin: bool) -> None:
    """Add NAME to the users FILE (created if missing, readable by its owner only), or replace its entry.

    \b
    Example:
      subsidy users add users.json clerk1 --role clerk --county COUNTY
    """
    from ..web.users import UsersFileError, add_user
    if role == "clerk" and not counties:
        raise click.UsageError("a clerk records for counties: give at least one --county")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.UsageError("a password has at least 8 characters")
    try:
        new = add_user(file, name, password, role, tuple(counties))
    except UsersFileError as exc:
        click.echo(f"error[users.file] {exc}", err=True)
        sys.exit(1)
    click.echo(f"{'added' if new else 'replaced'} {name} ({role}{': ' + ', '.join(counties) if counties else ''}) in {file}")
