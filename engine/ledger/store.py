"""The ledger: runs and their entries in a database, history read back from them.

One class, :class:`Ledger`, over SQLAlchemy Core: SQLite by default (a file,
nothing to install) or PostgreSQL, chosen by URL. A ledger is created on
purpose (:meth:`Ledger.init`, ``subsidy ledger init URL``); every other use
refuses a URL that holds no ledger (``ledger.missing``). Every write happens
in one transaction that first takes the ledger's write lock (``BEGIN
IMMEDIATE`` on SQLite, an advisory transaction lock on PostgreSQL), so the hash
chain has one writer at a time and a killed process leaves the whole run or
nothing. Every entry the ledger reads to decide is checked against its hash,
and before it writes, a recording recomputes from the chained record what the
serving tables must hold for the persons and workshops it touches.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Mapping, NoReturn, Optional, Sequence,
                    Set, Tuple, TypeVar)

from sqlalchemy import (Column, String, Table, and_, create_engine, delete, event, func, inspect, select, text, tuple_,
                        update)
from sqlalchemy.engine import Connection, Engine, RowMapping, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.sql.selectable import Join, NamedFromClause

from ..lang.calendar import months_in
from ..policy.history import EMPTY, LedgerHistory, LedgerSettings, stated_histories
from ..problems import InvalidInput, LedgerFault, Location, Problem, pointer_join
from ..runtime.decisions import decision_id, period_key
from ..views.document import details_dict
from . import chain, derived
from .derived import PAID as _PAID
from .tables import coverage, entries, head, once_paid, runs, supersessions, tallies

if TYPE_CHECKING:
    from alembic.config import Config

    from ..facts.reading import Facts
    from ..policy.model import Policy
    from ..runtime.evaluate import Evaluation
    from .checkpoint import Checkpoint

_T = TypeVar("_T")
#: What the ledger holds for each subject, keyed (kind, key): history field -> value (see policy.history.fill)
Held = Dict[Tuple[str, str], Dict[str, object]]

#: The advisory lock every PostgreSQL writer of a ledger takes (any fixed number would do).
_PG_LOCK = 0x5B51D1E5
_CHUNK = 500  # keys per IN list
VERSION_TABLE = "ledger_schema_version"  # Alembic's record of the schema's revision
#: The name, in a run's recorded history, of the marker saying which entry paid a once-per-person rule that this
#: run therefore did not pay (``paid_by:<rule>`` -> entry seq)
PAID_BY = "paid_by:"


class LedgerUnavailable(LedgerFault):
    """The ledger URL names a database this machine cannot reach or a driver it does not have."""


class LedgerDamage(LedgerFault):
    """What the ledger holds does not bear out its chain; turned into ``ledger.tampered`` / ``ledger.damaged``
    problems by the ledger's transactions."""

    def __init__(self, breaks: List[chain.Break]):
        self.breaks = breaks
        super().__init__("; ".join(b.message for b in breaks))


def normalise_url(url: str) -> str:
    """A SQLAlchemy URL from what a user typed: a plain path is a SQLite file; postgresql:// uses psycopg."""
    if "://" not in url:
        return "sqlite:///" + url
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@dataclass(frozen=True)
class Head:
    """The ledger's head: the last run and entry, the last entry's hash and the last run's chain hash (which stands
    for everything recorded; write it down, or sign it with ``subsidy ledger checkpoint``)."""

    runs: int
    entries: int
    entry_hash: str
    chain: str

    def __str__(self) -> str:
        return f"run {self.runs}, entry {self.entries}, hash {self.chain}"


@dataclass(frozen=True)
class Payer:
    """A once-per-person payment the ledger holds from the period evaluated or later, made by a run this one does
    not replace: the entry, its run and workshop."""

    seq: int
    run_seq: int
    run_id: str
    workshop: str
    period_start: str
    period_end: str


@dataclass(frozen=True)
class RecordOutcome:
    run_id: str
    seq: int
    entries: int
    reversals: int
    granted: Decimal
    already: bool  # the same run was recorded before: nothing changed
    later: Tuple[Tuple[str, str], ...] = ()  # (workshop, first month) of recorded runs after a superseded period
    head: Optional[Head] = None  # the ledger's head once recorded


@dataclass(frozen=True)
class PreparedRun:
    """A run ready to record: its id, its entries (without seq and hash yet) and what it was decided from."""

    run_id: str
    policy_id: str
    policy_sha256: str
    facts_sha256: str
    facts_path: str
    period_start: str
    period_end: str
    months: Tuple[str, ...]
    workshops: Tuple[str, ...]
    entries: Tuple[Dict[str, Any], ...]
    held: Mapping[Tuple[str, str], Mapping[str, object]]  # the history the run was decided on
    tally: Tuple[Tuple[str, str, str], ...]  # (target, workshop, subject)
    pointers: Mapping[Tuple[str, ...], str] = field(default_factory=dict)  # (workshop[, worker]) -> facts pointer
    locate: Optional[Callable[[str], Location]] = None  # pointer -> Location in the facts file
    kind: str = "evaluation"  # evaluation / carry_in
    policy_path: str = ""


@dataclass(frozen=True)
class Verification:
    """What ``ledger verify`` found: every break (none when intact) and what the walk along the chain saw."""

    breaks: List[chain.Break]
    walk: chain.Walk
    head: Optional[Head]


class Ledger:
    """A payout ledger at ``url``; :func:`subsidy_rules.ledger.open_ledger` checks that one is there and migrates it."""

    def __init__(self, url: str):
        self.given = url
        self.url = normalise_url(url)
        try:
            parsed = make_url(self.url)
        except ArgumentError as exc:
            raise LedgerUnavailable(f"not a database URL: {url!r} ({exc})") from None
        self.display = parsed.render_as_string(hide_password=True)
        self.dialect = parsed.get_backend_name()
        self._database = parsed.database
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

    # --- transactions ---------------------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
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
            self._raise_unavailable(exc)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except LedgerDamage as exc:
            raise InvalidInput(self.damage(exc.breaks)) from None
        except DBAPIError as exc:
            self._raise_unavailable(exc)

    def _raise_unavailable(self, exc: DBAPIError) -> NoReturn:
        # PostgreSQL: the database does not exist (a failed connection carries no SQLSTATE, only libpq's message)
        if getattr(exc.orig, "sqlstate", None) == "3D000" or (
                self.dialect == "postgresql" and f'database "{self._database}" does not exist' in str(exc.orig)):
            raise self._missing(f"the database {self._database!r} does not exist", create_database=True) from None
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

    def _missing(self, why: str, create_database: bool = False) -> InvalidInput:
        first = (f"create the database ({self._database}), then run `subsidy ledger init {self._shown()}`"
                 if create_database else f"run `subsidy ledger init {self._shown()}`")
        return InvalidInput([self.problem(
            "ledger.missing", f"no ledger at {self.display}: {why}",
            hint=f"a ledger is created on purpose: check the URL, or {first} to start a new, empty one")])

    # --- the schema -------------------------------------------------------------------------------------------------

    def _config(self) -> Config:
        from alembic.config import Config
        cfg = Config()
        cfg.set_main_option("script_location", os.path.join(os.path.dirname(__file__), "migrations"))
        return cfg

    def revision(self) -> Set[str]:
        """The schema revisions the ledger is at (empty: no ledger schema there). Opens no SQLite file that is not
        there (opening it would create it)."""
        from alembic.runtime.migration import MigrationContext
        if self.dialect == "sqlite" and not self.exists():
            return set()
        with self.reading() as conn:
            current = set(MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_heads())
            if current:
                return current
            names = set(inspect(conn).get_table_names())
        if names & {"runs", "entries", "ledger_head"}:
            raise InvalidInput([self.problem(
                "ledger.damaged", f"{self.display} holds ledger tables but no schema version (the table "
                f"{VERSION_TABLE} was removed or emptied)", hint="restore the ledger from a backup")])
        return set()

    def require(self) -> "Ledger":
        """InvalidInput (``ledger.missing``) unless a ledger is at this URL."""
        if self.dialect == "sqlite" and (not self._database or self._database == ":memory:"):
            raise self._missing("an in-memory database holds no ledger")
        if not self.exists():
            raise self._missing(f"the file {self._database} does not exist")
        if not self.revision():
            raise self._missing("the database holds no ledger tables")
        return self

    def migrate(self) -> "Ledger":
        """Create the schema, or bring it up to this version of the tool (Alembic, under the write lock)."""
        from alembic import command
        from alembic.script import ScriptDirectory
        from alembic.util.exc import CommandError

        cfg = self._config()
        heads = set(ScriptDirectory.from_config(cfg).get_heads())
        if self.revision() == heads:
            return self
        with self._write() as conn:
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except CommandError as exc:
                raise InvalidInput([self.problem("ledger.schema", f"the ledger's schema is not one this tool knows: "
                                                 f"{exc}", hint="upgrade subsidy-rules")]) from None
        return self

    def init(self) -> bool:
        """Create the ledger here (the schema at its newest revision); False if one was here already (then it is
        brought up to date, nothing else changes)."""
        if self.dialect == "sqlite":
            if not self._database or self._database == ":memory:":
                raise self._missing("an in-memory database holds no ledger")
            folder = os.path.dirname(os.path.abspath(self._database))
            if not os.path.isdir(folder):
                raise LedgerUnavailable(f"{self.display}: the folder {folder} does not exist")
        existed = bool(self.revision())
        self.migrate()
        return not existed

    def exists(self) -> bool:
        """False for a SQLite ledger whose file is not there (opening it would create it)."""
        return self.dialect != "sqlite" or not self._database or os.path.exists(self._database)

    def close(self) -> None:
        self.engine.dispose()

    def head(self) -> Head:
        with self.reading() as conn:
            return _head_of(conn)

    # --- history ----------------------------------------------------------------------------------------------------

    def history(self, settings: LedgerSettings, facts: Facts) -> Held:
        """What the ledger holds, from before the facts' period, for every worker and workshop of ``facts``."""
        persons = {settings.person_key(ws["id"], w["id"]) for ws in facts.workshops for w in ws.get("workers") or ()}
        shops = {ws["id"] for ws in facts.workshops}
        with self.reading() as conn:
            return _held(conn, settings, facts.period_start, persons, shops)

    def paid_elsewhere(self, settings: LedgerSettings, facts: Facts) -> Dict[Tuple[str, str], Payer]:
        """(person, rule) -> the entry that paid it, for each once-per-person rule a history field of the facts
        reads, paid to a person of ``facts`` in the period evaluated or later by a run this one does not replace
        (another workshop's run for the same month, or a later month's). :meth:`history` holds what was paid
        before the period."""
        rules = flag_rules(settings)
        if not rules:
            return {}
        persons = {settings.person_key(ws["id"], w["id"]) for ws in facts.workshops for w in ws.get("workers") or ()}
        shops = [ws["id"] for ws in facts.workshops]
        with self.reading() as conn:
            replaced = _redecided(conn, shops, _touched_months(facts.period_start, facts.period_end))
            return _payers(conn, facts.period_start, persons, rules, replaced)

    def statuses(self, policy: Policy, facts: Facts) -> Dict[Tuple[str, str], Dict[str, dict]]:
        """For every workshop of ``facts`` and status of ``policy``: the latest grant and end the ledger recorded
        before the facts' period, as {"granted": {on, route, $source}, "ended": {on, $source}} (each if any).

        A recorded grant is a decision of one of the status's routes (dated as it says: the period start when it
        was decided then, the earlier grant's date when it was held); a recorded end is a decision of a rule that
        ends it, effective the day after its period."""
        from ..runtime.status import SOURCE
        out: Dict[Tuple[str, str], Dict[str, dict]] = {}
        statuses = [s for s in policy.statuses if s.subject == "workshop"]
        if not statuses:
            return out
        route_rules = {r.rule: (s, r.route) for s in statuses for r in s.routes}
        end_rules = {rid: s for s in statuses for rid in s.ended_by}
        outcome = {rid: policy.rule(rid).decides for rid in set(route_rules) | set(end_rules)}
        before = facts.period_start.isoformat()
        joined, rev = _active_entries()
        joined = joined.join(runs, runs.c.id == entries.c.run_id)
        breaks: List[chain.Break] = []
        with self.reading() as conn:
            for chunk in _chunks(sorted(_keys({ws["id"] for ws in facts.workshops}, entries.c.workshop))):
                q = (select(entries, runs.c.seq.label("run_seq"))
                     .select_from(joined)
                     .where(entries.c.workshop.in_(chunk), entries.c.worker.is_(None), entries.c.kind == "decision",
                            entries.c.rule.in_(sorted(set(route_rules) | set(end_rules))),
                            entries.c.outcome.in_(sorted(set(outcome.values()))), entries.c.period_start < before,
                            rev.c.seq.is_(None)))
                for row in conn.execute(q):
                    m = row._mapping
                    if not _sound(m, breaks) or row.outcome != outcome[row.rule]:
                        continue
                    where = f"the ledger's run {row.run_seq}, period {row.period_start}..{row.period_end}"
                    try:
                        details = json.loads(row.details) if row.details else {}
                        details = details if isinstance(details, dict) else {}
                        if row.rule in route_rules:
                            status, route = route_rules[row.rule]
                            on = _dt.date.fromisoformat(details.get("since") or row.period_start)
                            event: Tuple[str, Dict[str, Any]] = (
                                "granted", {"on": on, "route": details.get("route") or route, SOURCE: where})
                        else:
                            status = end_rules[row.rule]
                            effective = details.get("effective")
                            on = (_dt.date.fromisoformat(effective) if effective else
                                  _dt.date.fromisoformat(row.period_end) + _dt.timedelta(days=1))
                            event = ("ended", {"on": on, SOURCE: where})
                    except (TypeError, ValueError, OverflowError):
                        breaks.append(chain.Break("entry", row.seq, f"entry {row.seq} is damaged: its dates or details "
                                                  "cannot be read", chain.DAMAGED))
                        continue
                    kind, value = event
                    if kind == "ended" and value["on"] > facts.period_start:
                        continue  # an end that takes effect inside or after this period is not yet in force
                    held = out.setdefault((row.workshop, status.id), {})
                    if kind not in held or value["on"] > held[kind]["on"]:
                        held[kind] = value
            if breaks:
                raise LedgerDamage(breaks)
        return out

    # --- recording --------------------------------------------------------------------------------------------------

    def prepare(self, evaluation: Evaluation, settings: LedgerSettings, held: LedgerHistory) -> PreparedRun:
        """The entries of ``evaluation`` (every decision but denied ones, made with ``tally=True``) and the run's
        identity."""
        policy, facts = evaluation.policy, evaluation.facts
        start, end = facts.period_start.isoformat(), facts.period_end.isoformat()
        period = period_key(facts.period_start, facts.period_end)
        shops = {ws["id"]: ws for ws in facts.workshops}
        rows = []
        for d in evaluation.decisions:
            if d.outcome == "denied":
                continue
            ws = shops[d.workshop]
            rows.append({
                "kind": "decision", "reverses": None, "decision_id": decision_id(policy.sha256, period, d),
                "period_start": start, "period_end": end, "workshop": d.workshop, "worker": d.worker, "loan": d.loan,
                "person": settings.person_key(d.workshop, d.worker) if d.worker else None,
                "city": ws.get("city"), "county": ws.get("county"), "clause": d.clause, "rule": d.rule,
                "outcome": d.outcome, "amount": None if d.amount is None else str(d.amount), "fund": d.fund,
                "items": " ".join(d.items), "quantity": None, "policy_sha256": policy.sha256,
                "facts_sha256": facts.sha256,
                "details": json.dumps(details_dict(d), ensure_ascii=False, sort_keys=True) if d.details else None,
            })
        tally_rows = tuple(sorted(evaluation.tallies))
        keys = [(r["decision_id"], r["outcome"], r["amount"], r["items"], r["details"]) for r in rows]
        run_id = chain.digest([policy.sha256, facts.sha256, start, end, sorted(shops), keys, tally_rows])
        months = _touched_months(facts.period_start, facts.period_end)
        used = {key: dict(values) for key, values in held.items()}
        return PreparedRun(run_id, policy.id, policy.sha256, facts.sha256, facts.path, start, end, months,
                           tuple(shops), tuple(rows), used, tally_rows, _pointers(facts), facts.doc.locate,
                           policy_path=policy.path)

    def prepare_carry_in(self, policy: Policy, settings: LedgerSettings, facts: Facts) -> PreparedRun:
        """Opening entries for the history ``facts`` states (paid before the ledger was kept), as of the day
        before the facts' period: what a county brings in from its earlier records, once."""
        as_of = (facts.period_start - _dt.timedelta(days=1)).isoformat()
        clause_of = {r.id: r.clause for r in policy.rules}
        rows: List[Dict[str, Any]] = []
        held: Held = {}
        for s in stated_histories(facts, settings):
            worker = s.worker["id"] if s.worker is not None else None
            for f in settings.fields_of(s.kind):
                if f.field not in s.values:
                    continue
                held.setdefault((s.kind, s.key), {})[f.field] = EMPTY[f.measure]
                value = s.values[f.field]
                if value in (None, False) or (f.measure != "paid" and Decimal(str(value)) <= 0):
                    continue
                rows.append({
                    "kind": "opening", "reverses": None,
                    "decision_id": chain.digest(["carry_in", policy.sha256, s.kind, s.key, f.rule])[:20],
                    "period_start": as_of, "period_end": as_of, "workshop": s.shop["id"], "worker": worker,
                    "loan": None, "person": s.key if worker else None, "city": s.shop.get("city"),
                    "county": s.shop.get("county"), "clause": clause_of[f.rule], "rule": f.rule, "outcome": "carried_in",
                    "amount": str(Decimal(str(value))) if f.measure == "amount" else None, "fund": None, "items": "",
                    "quantity": int(Decimal(str(value))) if f.measure == "items" else None,
                    "policy_sha256": policy.sha256, "facts_sha256": facts.sha256, "details": None})
        keys = [(r["decision_id"], r["amount"], r["quantity"]) for r in rows]
        run_id = chain.digest(["carry_in", policy.sha256, facts.sha256, as_of, keys])
        return PreparedRun(run_id, policy.id, policy.sha256, facts.sha256, facts.path, as_of, as_of, (), (),
                           tuple(rows), held, (), _pointers(facts), facts.doc.locate, "carry_in", policy.path)

    def record(self, run: PreparedRun, settings: LedgerSettings, *, supersede: bool = False, reason: str = "",
               tool_version: str = "") -> RecordOutcome:
        """Store ``run`` in one transaction; InvalidInput naming every reason it cannot be recorded."""
        problems = self._unstorable(run, reason, tool_version)
        if problems:
            raise InvalidInput(problems)
        with self._write() as conn:
            old = conn.execute(select(runs.c.seq, runs.c.entry_count).where(runs.c.id == run.run_id)).first()
            if old is not None:
                return RecordOutcome(run.run_id, old.seq, old.entry_count, 0, _granted(run.entries), True,
                                     head=_head_of(conn))
            self._check_integrity(conn, run, settings)
            problems = []
            claimed = _claims(conn, run) if run.kind == "evaluation" else []
            superseded = self._check_overlap(run, claimed, supersede, problems) if run.kind == "evaluation" else {}
            if run.kind == "evaluation" and not supersede:  # a superseding run is told which later months to redo
                self._check_order(conn, run, superseded, {shop for shop, _, _ in claimed}, problems)
            if run.kind == "carry_in":
                self._check_carry_in_order(conn, run, problems)
            self._check_history(conn, run, settings, problems)
            self._check_once(conn, run, settings, superseded, problems)
            if problems:
                raise InvalidInput(problems)
            return self._append(conn, run, settings, superseded, reason, tool_version)

    def _here(self, run: PreparedRun, *key: str) -> Tuple[str, Location]:
        pointer = run.pointers.get(tuple(key), "")
        return pointer, (run.locate(pointer) if run.locate and pointer else Location(run.facts_path))

    def _unstorable(self, run: PreparedRun, reason: str, tool_version: str) -> List[Problem]:
        """A problem, at its place in the facts file, for every value the ledger's columns cannot hold as it is (a
        NUL, a lone surrogate, more characters than the column has room for): refused before anything is written,
        so no database's own message stands in for it."""
        found: Dict[Tuple[str, str, str], Problem] = {}

        def check(table: Table, column: str, value: object, key: Optional[Tuple[str, ...]], name: str = "id",
                  what: str = "") -> None:
            if not isinstance(value, str):
                return
            why = _unstorable_why(value, _length(table.c[column]), f"{table.name}.{column}")
            if why is None:
                return
            code, message = why
            if key is not None and key in run.pointers:
                pointer = pointer_join(run.pointers[key], name)
                where = run.locate(pointer) if run.locate else Location(run.facts_path)
            else:
                pointer, where = "", Location(run.policy_path or run.facts_path)
            label = what or f"{name} {_shorten(value)}"
            found.setdefault((pointer, code, "" if pointer else label), self.problem(
                code, f"{label} {message}; nothing was recorded", pointer, location=where,
                hint="correct it in the file: the ledger stores it as it is, in every database"))

        for e in run.entries:
            shop = e["workshop"]
            check(entries, "workshop", shop, (shop,))
            check(entries, "worker", e["worker"], (shop, e["worker"]))
            check(entries, "loan", e["loan"], (shop, "#loan", e["loan"]))
            if e["worker"] is not None:
                check(entries, "person", e["person"], (shop, e["worker"]), what=f"person {_shorten(e['person'])}")
            check(entries, "city", e["city"], (shop,), "city")
            check(entries, "county", e["county"], (shop,), "county")
            for column in ("decision_id", "period_start", "period_end", "clause", "rule", "outcome", "amount", "fund",
                           "items", "details"):
                check(entries, column, e[column], None, what=f"{column} {_shorten(e[column])}")
        for shop in run.workshops:
            check(coverage, "workshop", shop, (shop,))
        for target, shop, subject in run.tally:
            check(tallies, "target", target, None, what=f"target {_shorten(target)}")
            check(tallies, "workshop", shop, (shop,))
            check(tallies, "subject", subject, (shop, subject) if (shop, subject) in run.pointers else (shop,))
        check(runs, "policy_id", run.policy_id, None, what=f"policy id {_shorten(run.policy_id)}")
        check(runs, "facts_path", run.facts_path, None, what=f"facts path {_shorten(run.facts_path)}")
        check(runs, "tool_version", tool_version, None, what=f"tool version {_shorten(tool_version)}")
        check(runs, "reason", reason, None, what=f"reason {_shorten(reason)}")
        return list(found.values())

    def _check_integrity(self, conn: Connection, run: PreparedRun, settings: LedgerSettings) -> None:
        """Before writing: the head agrees with the tables, and for every person and workshop this run touches the
        serving tables hold exactly what the chained record implies (so a deleted or edited constraint row cannot
        let a second payment or a second run for a month through). LedgerDamage naming every difference."""
        breaks: List[chain.Break] = []
        top = conn.execute(select(head).where(head.c.id == 1)).first()
        count, last = conn.execute(select(func.count(), func.max(entries.c.seq)).select_from(entries)).one()
        run_count, last_run = conn.execute(select(func.count(), func.max(runs.c.seq)).select_from(runs)).one()
        last_hash = conn.execute(select(entries.c.hash).where(entries.c.seq == last)).scalar() if last else chain.GENESIS
        last_chain = conn.execute(select(runs.c.chain).where(runs.c.seq == last_run)).scalar() if last_run else chain.GENESIS
        if top is None:
            breaks.append(chain.Break("head", 0, "the ledger's head row is missing: it was deleted"))
        else:
            at = top.entries + 1 if isinstance(top.entries, int) else 0
            if not (top.entries == count == (last or 0)) or top.hash != last_hash:
                breaks.append(chain.Break("head", at, f"the ledger's head says {top.entries} entries "
                                          f"ending in {str(top.hash)[:12]}…; the table holds {count} entries, the last "
                                          f"numbered {last or 0}: entries were removed or the head rewound"))
            if not (top.runs == run_count == (last_run or 0)) or top.chain != last_chain:
                breaks.append(chain.Break("head", at, f"the ledger's head says {top.runs} runs; the table "
                                          f"holds {run_count}, the last numbered {last_run or 0}, whose chain hash is "
                                          "not the head's: runs were removed or the head rewound"))
        claims, seqs = _load_claims(conn, breaks)
        shops = set(run.workshops) | {e["workshop"] for e in run.entries}
        expected_cover = {k: v for k, v in derived.coverage_from(claims).items() if k[0] in shops}
        expected_super = {t for t in derived.supersessions_from(claims) if t[1] in shops}
        actual_cover: Dict[Tuple[str, str], str] = {}
        actual_super: Set[Tuple[str, str, str]] = set()
        for chunk in _chunks(sorted(shops)):
            actual_cover.update({(r.workshop, r.month): r.run_id for r in conn.execute(
                select(coverage).where(coverage.c.workshop.in_(chunk)))})
            actual_super.update((r.old_run, r.workshop, r.new_run) for r in conn.execute(
                select(supersessions).where(supersessions.c.workshop.in_(chunk))))
        persons = {e["person"] for e in run.entries if e["person"] is not None}
        persons |= {key for kind, key in run.held if kind == "worker"}
        payments: List[derived.Payment] = []
        reversed_seqs: Set[int] = set()
        actual_once: Dict[Tuple[str, str], int] = {}
        for chunk in _chunks(sorted(persons)):
            for row in conn.execute(select(entries).where(entries.c.person.in_(chunk), entries.c.kind != "reversal",
                                                          entries.c.outcome.in_(_PAID))):
                if _sound(row._mapping, breaks):
                    payments.append(derived.Payment(row.seq, row.run_id, row.person, row.rule))
            actual_once.update({(r.person, r.rule): r.entry_seq for r in conn.execute(
                select(once_paid).where(once_paid.c.person.in_(chunk)))})
        for seq_chunk in _chunks(sorted(p.seq for p in payments)):
            for row in conn.execute(select(entries).where(entries.c.reverses.in_(seq_chunk))):
                if _sound(row._mapping, breaks) and row.kind == "reversal":
                    reversed_seqs.add(row.reverses)
        expected_once, twice = derived.once_paid_from(payments, {c.run_id: c.once for c in claims}, reversed_seqs)
        breaks += derived.compare(expected_once, twice, actual_once, expected_cover, actual_cover, expected_super,
                                  actual_super, seqs)
        if breaks:
            raise LedgerDamage(breaks)

    def _check_order(self, conn: Connection, run: PreparedRun, superseded: Mapping[str, Sequence[str]],
                     overlapping: Set[str], problems: List[Problem]) -> None:
        """A period recorded after a later one of the same workshop is refused: the later run was decided on a
        history without this period's payments (an award paid now would be paid again there). A workshop whose
        months are already recorded is refused as an overlap instead."""
        if not run.months:
            return
        for chunk in _chunks([shop for shop in run.workshops if shop not in overlapping]):
            rows = conn.execute(select(coverage.c.workshop, func.min(coverage.c.month))
                                .where(coverage.c.workshop.in_(chunk), coverage.c.month > max(run.months))
                                .group_by(coverage.c.workshop)).all()
            for shop, first in rows:
                later = conn.execute(select(coverage.c.run_id).distinct().where(
                    coverage.c.workshop == shop, coverage.c.month > max(run.months))).scalars().all()
                if all(r in superseded.get(shop, ()) for r in later):
                    continue
                pointer, where = self._here(run, shop)
                problems.append(self.problem(
                    "ledger.out_of_order", f"workshop {shop}: months from {first} on are already recorded, decided "
                    f"on a history without {_span(list(run.months))}; recording it now would leave them wrong "
                    "(an award or a limit counted twice)", pointer,
                    hint=f"evaluate {run.months[0]} to the last recorded month as one period and record it with "
                         "--supersede --reason \"…\"", location=where))

    def _check_carry_in_order(self, conn: Connection, run: PreparedRun, problems: List[Problem]) -> None:
        """History is carried in before the months it precedes are recorded: a workshop with a recorded month after
        the carry-in's date was decided without it (a limit or an award would be counted wrong)."""
        shops = sorted({e["workshop"] for e in run.entries})
        for chunk in _chunks(shops):
            rows = conn.execute(select(coverage.c.workshop, func.min(coverage.c.month))
                                .where(coverage.c.workshop.in_(chunk), coverage.c.month > run.period_start[:7])
                                .group_by(coverage.c.workshop)).all()
            for shop, first in rows:
                pointer, where = self._here(run, shop)
                problems.append(self.problem(
                    "ledger.out_of_order", f"workshop {shop}: months from {first} on are already recorded, decided "
                    f"without the history carried in as of {run.period_start}", pointer,
                    hint="carry history in before recording the months after it; to correct recorded months, "
                         "record them again with --supersede once the history is in", location=where))

    def _check_overlap(self, run: PreparedRun, claimed: Sequence[Tuple[str, str, str]], supersede: bool,
                       problems: List[Problem]) -> Dict[str, List[str]]:
        """The runs this one replaces, by workshop; a problem for each claim it may not take."""
        by_shop: Dict[str, Dict[str, List[str]]] = {}
        for shop, month, run_id in claimed:
            by_shop.setdefault(shop, {}).setdefault(run_id, []).append(month)
        out: Dict[str, List[str]] = {}
        for shop, olds in sorted(by_shop.items()):
            pointer, where = self._here(run, shop)
            for old_id, months in sorted(olds.items()):
                inside = [m for m in months if m in run.months]
                if not supersede:
                    problems.append(self.problem(
                        "ledger.overlap", f"workshop {shop}: {_span(inside)} is already recorded by run {old_id[:12]}…; "
                        "a different run for the same months is refused", pointer,
                        hint="to correct it, record with --supersede --reason \"…\" (the old entries are reversed, not "
                             "edited)", location=where))
                elif len(inside) < len(months):
                    outside = [m for m in months if m not in run.months]
                    problems.append(self.problem(
                        "ledger.partial_supersede", f"workshop {shop}: run {old_id[:12]}… also covers {_span(outside)}, "
                        f"outside this run's period {run.period_start}..{run.period_end}", pointer,
                        hint="a superseding run covers every month of the run it replaces", location=where))
                else:
                    out.setdefault(shop, []).append(old_id)
        if supersede and not claimed:
            problems.append(self.problem("ledger.nothing_to_supersede", f"no recorded run covers these workshops in "
                                         f"{run.period_start}..{run.period_end}, so --supersede has nothing to replace",
                                         hint="record without --supersede"))
        return out

    def _check_history(self, conn: Connection, run: PreparedRun, settings: LedgerSettings, problems: List[Problem]
                       ) -> None:
        persons = {key for kind, key in run.held if kind == "worker"}
        shops = {key for kind, key in run.held if kind == "workshop"}
        start = _dt.date.fromisoformat(run.period_start)
        if run.kind == "carry_in":  # opening entries count from the day after them: nothing may be held by then
            start += _dt.timedelta(days=1)
        now = _held(conn, settings, start, persons, shops)
        markers = {(key, name[len(PAID_BY):]) for (kind, key), values in run.held.items() if kind == "worker"
                   for name in values if name.startswith(PAID_BY)}
        if markers:
            payers = _payers(conn, start, {p for p, _ in markers}, sorted({r for _, r in markers}),
                             _redecided(conn, run.workshops, run.months))
            for key, rule in markers:
                payer = payers.get((key, rule))
                now.setdefault(("worker", key), {})[PAID_BY + rule] = payer.seq if payer else None
        for (kind, key), values in sorted(run.held.items()):
            current = now.get((kind, key), {})
            for name, value in sorted(values.items()):
                if current.get(name) == value:
                    continue
                if name.startswith(PAID_BY):
                    gone = current.get(name)
                    problems.append(self.problem(
                        "ledger.stale_history", f"{kind} {key}: {name[len(PAID_BY):]} was not paid by this run because "
                        f"entry {value} paid it; " + (f"entry {gone} pays it now" if gone else "that payment has "
                                                      "since been reversed") + " (another run was recorded meanwhile)",
                        hint="evaluate again", location=Location(run.facts_path)))
                elif run.kind == "carry_in":
                    problems.append(self.problem(
                        "ledger.carry_in_conflict", f"{kind} {key}: the ledger already holds history.{name} = "
                        f"{current.get(name)}; history is carried in only where the ledger holds none",
                        location=Location(run.facts_path)))
                else:
                    problems.append(self.problem(
                        "ledger.stale_history", f"{kind} {key}: history.{name} was {value} when this run was decided "
                        f"and is now {current.get(name)} (another run was recorded meanwhile)", hint="evaluate again",
                        location=Location(run.facts_path)))

    def _check_once(self, conn: Connection, run: PreparedRun, settings: LedgerSettings,
                    superseded: Mapping[str, Sequence[str]], problems: List[Problem]) -> None:
        wanted: Dict[Tuple[str, str], Dict[str, Any]] = {}
        for e in _once_only(run.entries, settings):
            key = (e["person"], e["rule"])
            if key in wanted:  # the same person twice in this run (two workshops of one facts file)
                pointer, where = self._here(run, e["workshop"], e["worker"])
                problems.append(self.problem(
                    "ledger.already_paid", f"worker {e['worker']}: {e['clause']} {e['rule']} is granted in both "
                    f"workshop {wanted[key]['workshop']} and workshop {e['workshop']}; it is paid once per person",
                    pointer, hint="evaluate with --ledger: the later workshop's decision then says the earlier one "
                                  "paid it", location=where))
            wanted.setdefault(key, e)
        for chunk in _chunks(sorted(wanted)):
            rows = conn.execute(
                select(once_paid.c.person, once_paid.c.rule, entries.c.workshop, entries.c.period_start,
                       entries.c.period_end, entries.c.run_id, runs.c.seq.label("run_seq"))
                .join(entries, entries.c.seq == once_paid.c.entry_seq)
                .join(runs, runs.c.id == entries.c.run_id)
                .where(tuple_(once_paid.c.person, once_paid.c.rule).in_(chunk))).all()
            for row in rows:
                if row.run_id in superseded.get(row.workshop, ()):
                    continue  # this run reverses that payment before it makes its own
                e = wanted[(row.person, row.rule)]
                pointer, where = self._here(run, e["workshop"], e["worker"])
                problems.append(self.problem(
                    "ledger.already_paid", f"worker {e['worker']}: {e['clause']} {e['rule']} was already paid to this "
                    f"person by run {row.run_seq} ({row.run_id[:12]}…, workshop {row.workshop}, "
                    f"{row.period_start}..{row.period_end}); it is paid once per person", pointer,
                    hint="that run was recorded after this one was decided: evaluate again with --ledger, and this "
                         "workshop's decision says it was already paid, naming that run", location=where))

    def _append(self, conn: Connection, run: PreparedRun, settings: LedgerSettings, superseded: Dict[str, List[str]],
                reason: str, tool_version: str) -> RecordOutcome:
        top = conn.execute(select(head).where(head.c.id == 1)).one()
        seq, prev = top.entries, top.hash
        reversals = _reversals(conn, superseded) if superseded else []
        rows: List[Dict[str, Any]] = []
        for row in reversals + [dict(e) for e in run.entries]:
            seq += 1
            row = dict(row, seq=seq, run_id=run.run_id, prev_hash=prev)
            row["hash"] = prev = chain.entry_hash(row)
            rows.append(row)
        count = len(rows)
        record = {
            "id": run.run_id, "seq": top.runs + 1, "kind": run.kind,
            "recorded_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
            "policy_id": run.policy_id, "policy_sha256": run.policy_sha256, "facts_sha256": run.facts_sha256,
            "facts_path": run.facts_path, "period_start": run.period_start, "period_end": run.period_end,
            "tool_version": tool_version, "supersedes": " ".join(sorted({i for ids in superseded.values() for i in ids})),
            "reason": reason, "first_entry": top.entries + 1 if count else None, "entry_count": count,
            "tally_sha256": chain.digest([list(t) for t in run.tally]),
        }
        record["hash"] = chain.run_hash(record)
        record["claims"] = chain.claims_text(derived.make_claims(run.workshops, run.months, superseded,
                                                                 settings.once_per_person))
        record["chain"] = chain.run_link(top.chain or chain.GENESIS, record, record["claims"], prev)
        conn.execute(runs.insert(), [record])
        for shop, olds in superseded.items():
            conn.execute(supersessions.insert(), [{"old_run": o, "workshop": shop, "new_run": run.run_id} for o in olds])
            conn.execute(delete(coverage).where(coverage.c.workshop == shop, coverage.c.run_id.in_(olds)))
        reversed_seqs = [r["reverses"] for r in reversals]
        for chunk in _chunks(reversed_seqs):
            conn.execute(delete(once_paid).where(once_paid.c.entry_seq.in_(chunk)))
        if rows:
            conn.execute(entries.insert(), rows)
        once = [{"person": r["person"], "rule": r["rule"], "entry_seq": r["seq"]} for r in _once_only(rows, settings)]
        if once:
            conn.execute(once_paid.insert(), once)
        claims = [{"workshop": shop, "month": m, "run_id": run.run_id} for shop in run.workshops for m in run.months]
        if claims:
            conn.execute(coverage.insert(), claims)
        if run.tally:
            conn.execute(tallies.insert(), [{"run_id": run.run_id, "target": t, "workshop": w, "subject": s}
                                            for t, w, s in run.tally])
        conn.execute(update(head).where(head.c.id == 1).values(entries=seq, hash=prev, runs=top.runs + 1,
                                                               chain=record["chain"]))
        later: List[Tuple[str, str]] = []
        for shop in sorted(superseded):  # they were decided on the history this run replaces
            first = conn.execute(select(coverage.c.month).where(coverage.c.workshop == shop,
                                                                coverage.c.month > max(run.months))
                                 .order_by(coverage.c.month).limit(1)).scalar()
            if first:
                later.append((shop, first))
        return RecordOutcome(run.run_id, top.runs + 1, len(run.entries), len(reversals), _granted(run.entries), False,
                             tuple(later), Head(top.runs + 1, seq, prev, record["chain"]))

    # --- reading ----------------------------------------------------------------------------------------------------

    def runs(self) -> List[Dict[str, Any]]:
        with self.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(select(runs).order_by(runs.c.seq))]

    def verify(self, checkpoints: Sequence[Checkpoint] = ()) -> Verification:
        """Every break in the hash chain and every difference between the serving tables and what the chained
        record implies, the first first; and, for each signed checkpoint given, whether the ledger still holds what
        it signed."""
        breaks: List[chain.Break] = []
        with self.reading() as conn:
            row = conn.execute(select(head).where(head.c.id == 1)).first()
            top = dict(row._mapping) if row is not None else None
            digests: Dict[str, List[List[str]]] = {}
            for t in conn.execute(select(tallies).order_by(tallies.c.run_id, tallies.c.target, tallies.c.workshop,
                                                           tallies.c.subject)):
                digests.setdefault(t.run_id, []).append([t.target, t.workshop, t.subject])
            tally_sha = {k: chain.digest(v) for k, v in digests.items()}
            run_rows = [dict(r._mapping) for r in conn.execute(select(runs).order_by(runs.c.seq))]
            payments: List[derived.Payment] = []
            reversed_seqs: Set[int] = set()

            def entry_rows() -> Iterator[RowMapping]:
                for e in conn.execute(select(entries).order_by(entries.c.seq)):
                    m = e._mapping
                    if m["kind"] == "reversal":
                        if m["reverses"] is not None:
                            reversed_seqs.add(m["reverses"])
                    elif m["outcome"] in _PAID and m["person"] is not None:
                        payments.append(derived.Payment(m["seq"], m["run_id"], m["person"], m["rule"]))
                    yield m
            found, walk = chain.verify(entry_rows(), run_rows, top, tally_sha,
                                       want_ends=[c.entries for c in checkpoints if c.entries])
            breaks += found
            claims: List[derived.Claims] = []
            seqs: Dict[str, int] = {}
            for r in run_rows:
                parsed = derived.parse_claims(r)
                if isinstance(parsed, chain.Break):
                    breaks.append(parsed)
                else:
                    claims.append(parsed)
                if isinstance(r.get("seq"), int):
                    seqs[r["id"]] = r["seq"]
            expected_once, twice = derived.once_paid_from(payments, {c.run_id: c.once for c in claims}, reversed_seqs)
            actual_once = {(r.person, r.rule): r.entry_seq for r in conn.execute(select(once_paid))}
            actual_cover = {(r.workshop, r.month): r.run_id for r in conn.execute(select(coverage))}
            actual_super = {(r.old_run, r.workshop, r.new_run) for r in conn.execute(select(supersessions))}
            breaks += derived.compare(expected_once, twice, actual_once, derived.coverage_from(claims), actual_cover,
                                      derived.supersessions_from(claims), actual_super, seqs)
        for c in checkpoints:
            breaks += c.compare(walk)
        shown = (Head(top["runs"], top["entries"], top["hash"], top.get("chain") or chain.GENESIS)
                 if top is not None else None)
        return Verification(chain.sort_breaks(breaks), walk, shown)


# --- helpers ------------------------------------------------------------------------------------------------------

def flag_rules(settings: LedgerSettings) -> List[str]:
    """The once-per-person rules a worker history field reads as paid / not paid."""
    return sorted({f.rule for f in settings.fields_of("worker") if f.measure == "paid"}
                  & set(settings.once_per_person))


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, begin transactions: writers take the lock at BEGIN IMMEDIATE."""
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ledger_write") else "BEGIN")


def _head_of(conn: Connection) -> Head:
    row = conn.execute(select(head).where(head.c.id == 1)).first()
    if row is None:
        raise LedgerDamage([chain.Break("head", 0, "the ledger's head row is missing: it was deleted")])
    return Head(row.runs, row.entries, row.hash, row.chain or chain.GENESIS)


def _touched_months(start: _dt.date, end: _dt.date) -> Tuple[str, ...]:
    """Every calendar month the period touches: a run claims a workshop's months, whole or in part."""
    return tuple(d.strftime("%Y-%m") for d in months_in(start.replace(day=1), end))


def _pointers(facts: Facts) -> Dict[Tuple[str, ...], str]:
    """(workshop[, worker]) or (workshop, "#loan", loan) -> the JSON pointer of that record in the facts file."""
    out: Dict[Tuple[str, ...], str] = {}
    for i, ws in enumerate(facts.workshops):
        out[(ws["id"],)] = facts.pointers[i]
        for j, w in enumerate(ws.get("workers") or ()):
            out[(ws["id"], w["id"])] = pointer_join(pointer_join(facts.pointers[i], "workers"), j)
        for j, loan in enumerate(ws.get("loans") or ()):
            out[(ws["id"], "#loan", loan["id"])] = pointer_join(pointer_join(facts.pointers[i], "loans"), j)
    return out


def _once_only(rows: Iterable[Dict[str, Any]], settings: LedgerSettings) -> Iterator[Dict[str, Any]]:
    """The entries that pay a once-per-person rule (grants and carried-in payments, not reversals)."""
    return (r for r in rows if r["kind"] != "reversal" and r["outcome"] in _PAID and r["rule"] in settings.once_per_person
            and r["person"] is not None)


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)


def _chunks(items: Iterable[_T], size: int = _CHUNK) -> Iterator[List[_T]]:
    listed = list(items)
    for i in range(0, len(listed), size):
        yield listed[i:i + size]


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _unstorable_why(value: str, length: Optional[int], column: str) -> Optional[Tuple[str, str]]:
    if "\x00" in value:
        return "ledger.bad_character", "contains a NUL character (U+0000), which a database text column cannot hold"
    if not _encodable(value):
        return "ledger.bad_character", "contains a lone surrogate (half of a UTF-16 pair), which is not a character"
    if length is not None and len(value) > length:
        return "ledger.too_long", (f"is {len(value)} characters long; the ledger's column {column} holds at most "
                                   f"{length}")
    return None


def _shorten(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 48 else f"{text[:40]}…{text[-4:]}"


def _length(column: Column[Any]) -> Optional[int]:
    """How many characters a text column holds (None: as many as the database allows)."""
    return column.type.length if isinstance(column.type, String) else None


def _keys(values: Iterable[str], column: Column[Any]) -> List[str]:
    """The keys a column can hold (others are in no ledger, and some would make a database refuse the query)."""
    return [v for v in values if isinstance(v, str) and _unstorable_why(v, _length(column), "") is None]


def _sound(row: chain.Fields, breaks: List[chain.Break]) -> bool:
    """Whether an entry read to decide still gives its hash and holds values the ledger wrote; a break if not."""
    if chain.entry_hash(row) != row["hash"]:
        breaks.append(chain.Break("entry", row["seq"], f"entry {row['seq']} was altered: its fields no longer give its "
                                  "hash"))
        return False
    problem = chain.value_problem(row)
    if problem:
        breaks.append(chain.Break("entry", row["seq"], f"entry {row['seq']} is damaged: {problem}", chain.DAMAGED))
        return False
    return True


def _granted(rows: Iterable[Mapping[str, Any]]) -> Decimal:
    return sum((Decimal(r["amount"]) for r in rows if r["outcome"] == "granted" and r["amount"]), Decimal("0.00"))


def _span(months: List[str]) -> str:
    months = sorted(months)
    return months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"


def _load_claims(conn: Connection, breaks: List[chain.Break]) -> Tuple[List[derived.Claims], Dict[str, int]]:
    """Every run's chained claims, and each run's seq by id; a break for each run whose claims cannot be read."""
    out: List[derived.Claims] = []
    seqs: Dict[str, int] = {}
    for r in conn.execute(select(runs.c.id, runs.c.seq, runs.c.kind, runs.c.claims).order_by(runs.c.seq)):
        parsed = derived.parse_claims(r._mapping)
        seqs[r.id] = r.seq
        if isinstance(parsed, chain.Break):
            breaks.append(parsed)
        else:
            out.append(parsed)
    return out, seqs


def _redecided(conn: Connection, shops: Iterable[str], months: Iterable[str]) -> Set[Tuple[str, str]]:
    """(run id, workshop) of every recorded run that holds one of these workshops' months: a run for them is the
    same run again, a superseding one, or refused."""
    breaks: List[chain.Break] = []
    claims, _ = _load_claims(conn, breaks)
    if breaks:
        raise LedgerDamage(breaks)
    wanted_shops, wanted_months = set(shops), set(months)
    return {(run_id, shop) for (shop, month), run_id in derived.coverage_from(claims).items()
            if shop in wanted_shops and month in wanted_months}


def _payers(conn: Connection, period_start: _dt.date, persons: Iterable[str], rules: Sequence[str],
            replaced: Set[Tuple[str, str]]) -> Dict[Tuple[str, str], Payer]:
    """(person, rule) -> the first active payment of a once-per-person rule made in the period or later by a run
    (and workshop) not in ``replaced``."""
    before = period_start.isoformat()
    joined, rev = _active_entries()
    joined = joined.join(runs, runs.c.id == entries.c.run_id)
    out: Dict[Tuple[str, str], Payer] = {}
    breaks: List[chain.Break] = []
    for chunk in _chunks(sorted(_keys(persons, entries.c.person))):
        q = (select(entries, runs.c.seq.label("run_seq")).select_from(joined)
             .where(entries.c.person.in_(chunk), entries.c.rule.in_(list(rules)), entries.c.kind != "reversal",
                    entries.c.outcome.in_(_PAID), entries.c.period_start >= before, rev.c.seq.is_(None))
             .order_by(entries.c.seq))
        for row in conn.execute(q):
            if not _sound(row._mapping, breaks) or (row.run_id, row.workshop) in replaced:
                continue
            out.setdefault((row.person, row.rule), Payer(row.seq, row.run_seq, row.run_id, row.workshop,
                                                         row.period_start, row.period_end))
    if breaks:
        raise LedgerDamage(breaks)
    return out


def _claims(conn: Connection, run: PreparedRun) -> List[Tuple[str, str, str]]:
    """(workshop, month, run id) of every recorded claim on this run's workshops that shares a month with it or
    belongs to a run that does."""
    out: List[Tuple[str, str, str]] = []
    for chunk in _chunks(run.workshops):
        hits = conn.execute(select(coverage.c.workshop, coverage.c.run_id).distinct()
                            .where(coverage.c.workshop.in_(chunk), coverage.c.month.in_(run.months))).all()
        for shop, run_id in hits:
            out.extend((shop, m, run_id) for (m,) in conn.execute(
                select(coverage.c.month).where(coverage.c.workshop == shop, coverage.c.run_id == run_id)))
    return out


def _active_entries() -> Tuple[Join, NamedFromClause]:
    """Entries joined to the reversal of each (``rev``); ``rev.c.seq IS NULL`` keeps those not reversed."""
    rev = entries.alias("rev")
    return entries.outerjoin(rev, rev.c.reverses == entries.c.seq), rev


def _reversals(conn: Connection, superseded: Mapping[str, Sequence[str]]) -> List[Dict[str, Any]]:
    joined, rev = _active_entries()
    out: List[Dict[str, Any]] = []
    breaks: List[chain.Break] = []
    for shop, olds in sorted(superseded.items()):
        rows = conn.execute(select(entries).select_from(joined)
                            .where(entries.c.workshop == shop, entries.c.run_id.in_(olds), entries.c.kind == "decision",
                                   rev.c.seq.is_(None)).order_by(entries.c.seq))
        for r in rows:
            if not _sound(r._mapping, breaks):
                continue
            row = {k: v for k, v in r._mapping.items() if k not in ("seq", "run_id", "prev_hash", "hash")}
            row.update(kind="reversal", reverses=r.seq,
                       amount=None if r.amount is None else str(-Decimal(r.amount)))
            out.append(row)
    if breaks:
        raise LedgerDamage(breaks)
    return out


def _held(conn: Connection, settings: LedgerSettings, period_start: _dt.date, persons: Iterable[str],
          shops: Iterable[str]) -> Held:
    """The history of each person and workshop (every one asked for) from the active granted entries that began
    before ``period_start``: ``paid`` false, ``items`` 0 and ``amount`` 0 where the ledger holds nothing. Every entry
    read is checked against its hash (LedgerDamage if one does not give it)."""
    before = period_start.isoformat()
    first_month = before[:7]
    out: Held = {}
    joined, rev = _active_entries()
    breaks: List[chain.Break] = []
    for kind, subjects, column in (("worker", persons, entries.c.person), ("workshop", shops, entries.c.workshop)):
        fields = settings.fields_of(kind)
        if not fields:
            continue
        keys = set(subjects)
        for key in keys:
            out[(kind, key)] = {f.field: EMPTY[f.measure] for f in fields}
        rules = sorted({f.rule for f in fields})
        per_key: Dict[str, Dict[str, list]] = {}
        for chunk in _chunks(sorted(_keys(keys, column))):
            cond = [column.in_(chunk), entries.c.rule.in_(rules), entries.c.kind != "reversal",
                    entries.c.outcome.in_(_PAID), entries.c.period_start < before, rev.c.seq.is_(None)]
            for row in conn.execute(select(entries).select_from(joined).where(and_(*cond))):
                if _sound(row._mapping, breaks):
                    per_key.setdefault(row._mapping[column.name], {}).setdefault(row.rule, []).append(row)
        for key, by_rule in per_key.items():
            values = out[(kind, key)]
            for f in fields:
                got = by_rule.get(f.rule, [])
                if not got:
                    continue
                if f.measure == "paid":
                    values[f.field] = True
                elif f.measure == "items":
                    values[f.field] = (len({m for r in got for m in r._mapping["items"].split() if m < first_month})
                                       + sum(r.quantity or 0 for r in got))
                else:
                    values[f.field] = sum((Decimal(r.amount) for r in got if r.amount), Decimal(0))
    if breaks:
        raise LedgerDamage(breaks)
    return out
