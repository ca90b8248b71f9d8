"""The ledger's schema in its database: which revision it is at, created on purpose, migrated by Alembic."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Set

from sqlalchemy import inspect

from ..problems import InvalidInput
from .database import Database
from .model import LedgerUnavailable

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "ledger_schema_version"  # Alembic's record of the schema's revision


def revision(db: Database) -> Set[str]:
    """The schema revisions the ledger is at (empty: no ledger schema there). Opens no SQLite file that is not
    there (opening it would create it)."""
    from alembic.runtime.migration import MigrationContext
    if db.dialect == "sqlite" and not db.exists():
        return set()
    with db.reading() as conn:
        current = set(MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_heads())
        if current:
            return current
        names = set(inspect(conn).get_table_names())
    if names & {"runs", "entries", "ledger_head"}:
        raise InvalidInput([db.problem(
            "ledger.damaged", f"{db.display} holds ledger tables but no schema version (the table "
            f"{VERSION_TABLE} was removed or emptied)", hint="restore the ledger from a backup")])
    return set()


def require(db: Database) -> None:
    """InvalidInput (``ledger.missing``) unless a ledger is at this URL."""
    if db.dialect == "sqlite" and (not db.database_name or db.database_name == ":memory:"):
        raise db.missing("an in-memory database holds no ledger")
    if not db.exists():
        raise db.missing(f"the file {db.database_name} does not exist")
    if not revision(db):
        raise db.missing("the database holds no ledger tables")


def migrate(db: Database) -> None:
    """Create the schema, or bring it up to this version of the tool (Alembic, under the write lock)."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    cfg = _config()
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    if revision(db) == heads:
        return
    with db.writing() as conn:
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, "head")
        except CommandError as exc:
            raise InvalidInput([db.problem("ledger.schema", f"the ledger's schema is not one this tool knows: "
                                           f"{exc}", hint="upgrade subsidy-rules")]) from None


def init(db: Database) -> bool:
    """Create the ledger here (the schema at its newest revision); False if one was here already (then it is
    brought up to date, nothing else changes)."""
    if db.dialect == "sqlite":
        if not db.database_name or db.database_name == ":memory:":
            raise db.missing("an in-memory database holds no ledger")
        folder = os.path.dirname(os.path.abspath(db.database_name))
        if not os.path.isdir(folder):
            raise LedgerUnavailable(f"{db.display}: the folder {folder} does not exist")
    existed = bool(revision(db))
    migrate(db)
    return not existed


def _config() -> Config:
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(os.path.dirname(__file__), "migrations"))
    return cfg
