"""The database a ledger lives in: its URL, its engine, one write transaction at a time, and problems named after it.

Every write happens in one transaction that first takes the ledger's write lock (``BEGIN IMMEDIATE`` on SQLite, an
advisory transaction lock on PostgreSQL), so the hash chain has one writer at a time and a killed process leaves the
whole run or nothing.
"""
from __future__ import annotations

import os
import shlex
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, List, NoReturn, Optional

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from ..problems import InvalidInput, Location, Problem
from . import chain
from .model import LedgerDamage, LedgerUnavailable

#: The advisory lock every PostgreSQL writer of a ledger takes (any fixed number would do).
_PG_LOCK = 0x5B51D1E5


def normalise_url(url: str) -> str:
    """A SQLAlchemy URL from what a user typed: a plain path is a SQLite file; postgresql:// uses psycopg."""
    if "://" not in url:
        return "sqlite:///" + url
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """The database at ``url`` a ledger lives in: its engine, its transactions, and the problems it reports."""

    def __init__(self, url: str):
        self.given = url
        self.url = normalise_url(url)
        try:
            parsed = make_url(self.url)
        except ArgumentError as exc:
            raise LedgerUnavailable(f"not a database URL: {url!r} ({exc})") from None
        self.display = parsed.render_as_string(hide_password=True)
        self.dialect = parsed.get_backend_name()
        self.database_name = parsed.database
        try:
            if self.dialect == "sqlite":
                self.engine: Engine = create_engine(self.url, connect_args={"timeout": 120})
                _sqlite_transactions(self.engine)
            else:
                self.engine = create_engine(self.url, pool_pre_ping=True)
        except (NoSuchModuleError, ImportError) as exc:
            hint = " (pip install 'subsidy-rules[postgresql]')" if self.dialect == "postgresql" else ""
            raise LedgerUnavailable(f"no database driver for {self.display}: {exc}{hint}") from None
        self._writer = self.engine.execution_options(ledger_write=True)

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction holding the ledger's lock."""
        try:
            with self._writer.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
                yield conn
        except IntegrityError as exc:
            raise InvalidInput([self.problem("ledger.conflict", "the database refused the run: "
                                             f"{_first_line(exc)}; nothing was recorded",
                                             hint="another recording got there first: evaluate again")]) from None
        except LedgerDamage as exc:
            raise InvalidInput(self.damage(exc.breaks, "nothing was recorded")) from None
        except DBAPIError as exc:
            self._unavailable(exc)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except LedgerDamage as exc:
            raise InvalidInput(self.damage(exc.breaks)) from None
        except DBAPIError as exc:
            self._unavailable(exc)

    def _unavailable(self, exc: DBAPIError) -> NoReturn:
        # PostgreSQL: the database does not exist (a failed connection carries no SQLSTATE, only libpq's message)
        if getattr(exc.orig, "sqlstate", None) == "3D000" or (
                self.dialect == "postgresql" and f'database "{self.database_name}" does not exist' in str(exc.orig)):
            raise self.missing(f"the database {self.database_name!r} does not exist", create_database=True) from None
        raise LedgerUnavailable(f"{self.display}: {_first_line(exc)}") from None

    def problem(self, code: str, message: str, pointer: str = "", hint: Optional[str] = None,
                location: Optional[Location] = None) -> Problem:
        return Problem(code, message, pointer, location or Location(self.display), hint=hint)

    def _shown(self) -> str:
        return shlex.quote(self.given if "://" not in self.given else self.display)

    def damage(self, breaks: Iterable[chain.Break], done: str = "") -> List[Problem]:
        hint = (f"the ledger was altered outside this tool: `subsidy ledger verify {self._shown()}` names every "
                "difference; restore the ledger from a backup and check it against the office's last checkpoint")
        tail = f"; {done}" if done else ""
        problems = [self.problem(b.code, b.message + tail) for b in chain.sort_breaks(list(breaks))]
        if problems:  # the hint once, on the problem printed first
            first = min(range(len(problems)), key=lambda n: problems[n].sort_key())
            problems[first] = self.problem(problems[first].code, problems[first].message, hint=hint)
        return problems

    def missing(self, why: str, create_database: bool = False) -> InvalidInput:
        first = (f"create the database ({self.database_name}), then run `subsidy ledger init {self._shown()}`"
                 if create_database else f"run `subsidy ledger init {self._shown()}`")
        return InvalidInput([self.problem(
            "ledger.missing", f"no ledger at {self.display}: {why}",
            hint=f"a ledger is created on purpose: check the URL, or {first} to start a new, empty one")])

    def exists(self) -> bool:
        """False for a SQLite ledger whose file is not there (opening it would create it)."""
        return self.dialect != "sqlite" or not self.database_name or os.path.exists(self.database_name)

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, begin transactions: writers take the lock at BEGIN IMMEDIATE."""
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ledger_write") else "BEGIN")


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)

