"""The ledger: runs and their entries in a database, history read back from them.

One class, :class:`Ledger`, over SQLAlchemy Core: SQLite by default (a file,
nothing to install) or PostgreSQL, chosen by URL. Every write happens in one
transaction that first takes the ledger's write lock (``BEGIN IMMEDIATE`` on
SQLite, an advisory transaction lock on PostgreSQL), so the hash chain has one
writer at a time and a killed process leaves the whole run or nothing.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from sqlalchemy import and_, create_engine, delete, event, select, text, tuple_, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from ..calendar import months_in
from ..history import EMPTY, stated_histories
from ..problems import InvalidInput, Location, Problem, pointer_join
from ..render import decision_id, details_dict
from . import chain
from .tables import coverage, entries, head, once_paid, runs, supersessions, tallies

#: The advisory lock every PostgreSQL writer of a ledger takes (any fixed number would do).
_PG_LOCK = 0x5B51D1E5
_CHUNK = 500  # keys per IN list
VERSION_TABLE = "ledger_schema_version"  # Alembic's record of the schema's revision
_PAID = ("granted", "carried_in")  # outcomes that count as paid: granted, or paid before the ledger was kept


class LedgerUnavailable(Exception):
    """The ledger URL names a database this machine cannot reach or a driver it does not have."""


def normalise_url(url: str) -> str:
    """A SQLAlchemy URL from what a user typed: a plain path is a SQLite file; postgresql:// uses psycopg."""
    if "://" not in url:
        return "sqlite:///" + url
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@dataclass(frozen=True)
class RecordOutcome:
    run_id: str
    seq: int
    entries: int
    reversals: int
    granted: Decimal
    already: bool  # the same run was recorded before: nothing changed
    later: Tuple[Tuple[str, str], ...] = ()  # (workshop, first month) of recorded runs after a superseded period


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
    entries: Tuple[dict, ...]
    held: Mapping[Tuple[str, str], Mapping[str, object]]  # the history the run was decided on
    tally: Tuple[Tuple[str, str, str], ...]  # (target, workshop, subject)
    pointers: Mapping[Tuple[str, ...], str] = field(default_factory=dict)  # (workshop[, worker]) -> facts pointer
    locate: object = None  # pointer -> Location in the facts file
    kind: str = "evaluation"  # evaluation / carry_in


class Ledger:
    """A payout ledger at ``url``; the schema is created or migrated when it is opened."""

    def __init__(self, url: str):
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
        except DBAPIError as exc:
            raise LedgerUnavailable(f"{self.display}: {_first_line(exc)}") from None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise LedgerUnavailable(f"{self.display}: {_first_line(exc)}") from None

    def problem(self, code: str, message: str, pointer: str = "", hint: Optional[str] = None,
                location: Optional[Location] = None) -> Problem:
        return Problem(code, message, pointer, location or Location(self.display), hint=hint)

    def migrate(self) -> "Ledger":
        """Create the schema, or bring it up to this version of the tool (Alembic, under the write lock)."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory
        from alembic.util.exc import CommandError

        cfg = Config()
        cfg.set_main_option("script_location", os.path.join(os.path.dirname(__file__), "migrations"))
        heads = set(ScriptDirectory.from_config(cfg).get_heads())
        with self.reading() as conn:
            current = set(MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_heads())
        if current == heads:
            return self
        with self._write() as conn:
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except CommandError as exc:
                raise InvalidInput([self.problem("ledger.schema", f"the ledger's schema is not one this tool knows: "
                                                 f"{exc}", hint="upgrade subsidy-rules")]) from None
        return self

    def exists(self) -> bool:
        """False for a SQLite ledger whose file is not there yet (opening it would create it)."""
        return self.dialect != "sqlite" or not self._database or os.path.exists(self._database)

    def close(self) -> None:
        self.engine.dispose()

    # --- history ----------------------------------------------------------------------------------------------------

    def history(self, settings, facts) -> Dict[Tuple[str, str], Dict[str, object]]:
        """What the ledger holds, from before the facts' period, for every worker and workshop of ``facts``."""
        persons = {settings.person_key(ws["id"], w["id"]) for ws in facts.workshops for w in ws.get("workers") or ()}
        shops = {ws["id"] for ws in facts.workshops}
        with self.reading() as conn:
            return _held(conn, settings, facts.period_start, persons, shops)

    def statuses(self, policy, facts) -> Dict[Tuple[str, str], Dict[str, dict]]:
        """For every workshop of ``facts`` and status of ``policy``: the latest grant and end the ledger recorded
        before the facts' period, as {"granted": {on, route, $source}, "ended": {on, $source}} (each if any).

        A recorded grant is a decision of one of the status's routes (dated as it says: the period start when it
        was decided then, the earlier grant's date when it was held); a recorded end is a decision of a rule that
        ends it, effective the day after its period."""
        from ..status import SOURCE
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
        with self.reading() as conn:
            for chunk in _chunks(sorted({ws["id"] for ws in facts.workshops})):
                q = (select(entries.c.workshop, entries.c.rule, entries.c.outcome, entries.c.period_start,
                            entries.c.period_end, entries.c.details, runs.c.seq.label("run_seq"))
                     .select_from(joined)
                     .where(entries.c.workshop.in_(chunk), entries.c.worker.is_(None), entries.c.kind == "decision",
                            entries.c.rule.in_(sorted(set(route_rules) | set(end_rules))),
                            entries.c.outcome.in_(sorted(set(outcome.values()))), entries.c.period_start < before,
                            rev.c.seq.is_(None)))
                for row in conn.execute(q):
                    if row.outcome != outcome[row.rule]:
                        continue
                    details = json.loads(row.details) if row.details else {}
                    where = f"ledger {self.display}, run {row.run_seq}, period {row.period_start}..{row.period_end}"
                    if row.rule in route_rules:
                        status, route = route_rules[row.rule]
                        on = _dt.date.fromisoformat(details.get("since") or row.period_start)
                        event = ("granted", {"on": on, "route": details.get("route") or route, SOURCE: where})
                    else:
                        status = end_rules[row.rule]
                        effective = details.get("effective")
                        on = (_dt.date.fromisoformat(effective) if effective else
                              _dt.date.fromisoformat(row.period_end) + _dt.timedelta(days=1))
                        event = ("ended", {"on": on, SOURCE: where})
                    held = out.setdefault((row.workshop, status.id), {})
                    kind, value = event
                    if kind not in held or value["on"] > held[kind]["on"]:
                        held[kind] = value
        return out

    # --- recording --------------------------------------------------------------------------------------------------

    def prepare(self, evaluation, settings, held) -> PreparedRun:
        """The entries of ``evaluation`` (every decision but denied ones, made with ``tally=True``) and the run's
        identity."""
        policy, facts = evaluation.policy, evaluation.facts
        start, end = facts.period_start.isoformat(), facts.period_end.isoformat()
        period = f"{start}/{end}"
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
                           tuple(shops), tuple(rows), used, tally_rows, _pointers(facts), facts.doc.locate)

    def prepare_carry_in(self, policy, settings, facts) -> PreparedRun:
        """Opening entries for the history ``facts`` states (paid before the ledger was kept), as of the day
        before the facts' period: what a county brings in from its earlier records, once."""
        as_of = (facts.period_start - _dt.timedelta(days=1)).isoformat()
        clause_of = {r.id: r.clause for r in policy.rules}
        rows, held = [], {}
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
                    "quantity": int(value) if f.measure == "items" else None, "policy_sha256": policy.sha256,
                    "facts_sha256": facts.sha256, "details": None})
        keys = [(r["decision_id"], r["amount"], r["quantity"]) for r in rows]
        run_id = chain.digest(["carry_in", policy.sha256, facts.sha256, as_of, keys])
        return PreparedRun(run_id, policy.id, policy.sha256, facts.sha256, facts.path, as_of, as_of, (), (),
                           tuple(rows), held, (), _pointers(facts), facts.doc.locate, "carry_in")

    def record(self, run: PreparedRun, settings, *, supersede: bool = False, reason: str = "",
               tool_version: str = "") -> RecordOutcome:
        """Store ``run`` in one transaction; InvalidInput naming every reason it cannot be recorded."""
        with self._write() as conn:
            old = conn.execute(select(runs.c.seq, runs.c.entry_count).where(runs.c.id == run.run_id)).first()
            if old is not None:
                return RecordOutcome(run.run_id, old.seq, old.entry_count, 0, _granted(run.entries), True)
            problems: List[Problem] = []
            claimed = _claims(conn, run) if run.kind == "evaluation" else []
            superseded = self._check_overlap(run, claimed, supersede, problems) if run.kind == "evaluation" else {}
            self._check_history(conn, run, settings, problems)
            self._check_once(conn, run, settings, superseded, problems)
            if problems:
                raise InvalidInput(problems)
            return self._append(conn, run, settings, superseded, reason, tool_version)

    def _here(self, run: PreparedRun, *key: str) -> Tuple[str, Location]:
        pointer = run.pointers.get(tuple(key), "")
        return pointer, (run.locate(pointer) if run.locate and pointer else Location(run.facts_path))

    def _check_overlap(self, run, claimed, supersede, problems) -> Dict[str, List[str]]:
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

    def _check_history(self, conn, run, settings, problems) -> None:
        persons = {key for kind, key in run.held if kind == "worker"}
        shops = {key for kind, key in run.held if kind == "workshop"}
        start = _dt.date.fromisoformat(run.period_start)
        if run.kind == "carry_in":  # opening entries count from the day after them: nothing may be held by then
            start += _dt.timedelta(days=1)
        now = _held(conn, settings, start, persons, shops)
        for (kind, key), values in sorted(run.held.items()):
            current = now.get((kind, key), {})
            for name, value in sorted(values.items()):
                if current.get(name) == value:
                    continue
                if run.kind == "carry_in":
                    problems.append(self.problem(
                        "ledger.carry_in_conflict", f"{kind} {key}: the ledger already holds history.{name} = "
                        f"{current.get(name)}; history is carried in only where the ledger holds none",
                        location=Location(run.facts_path)))
                else:
                    problems.append(self.problem(
                        "ledger.stale_history", f"{kind} {key}: history.{name} was {value} when this run was decided "
                        f"and is now {current.get(name)} (another run was recorded meanwhile)", hint="evaluate again",
                        location=Location(run.facts_path)))

    def _check_once(self, conn, run, settings, superseded, problems) -> None:
        wanted: Dict[Tuple[str, str], dict] = {}
        for e in _once_only(run.entries, settings):
            key = (e["person"], e["rule"])
            if key in wanted:  # the same person twice in this run (two workshops of one facts file)
                pointer, where = self._here(run, e["workshop"], e["worker"])
                problems.append(self.problem(
                    "ledger.already_paid", f"worker {e['worker']}: {e['clause']} {e['rule']} is granted in both "
                    f"workshop {wanted[key]['workshop']} and workshop {e['workshop']}; it is paid once per person",
                    pointer, location=where))
            wanted.setdefault(key, e)
        for chunk in _chunks(sorted(wanted)):
            rows = conn.execute(
                select(once_paid.c.person, once_paid.c.rule, entries.c.workshop, entries.c.period_start,
                       entries.c.period_end, entries.c.run_id)
                .join(entries, entries.c.seq == once_paid.c.entry_seq)
                .where(tuple_(once_paid.c.person, once_paid.c.rule).in_(chunk))).all()
            for row in rows:
                if row.run_id in superseded.get(row.workshop, ()):
                    continue  # this run reverses that payment before it makes its own
                e = wanted[(row.person, row.rule)]
                pointer, where = self._here(run, e["workshop"], e["worker"])
                problems.append(self.problem(
                    "ledger.already_paid", f"worker {e['worker']}: {e['clause']} {e['rule']} was already paid to this "
                    f"person by run {row.run_id[:12]}… (workshop {row.workshop}, {row.period_start}..{row.period_end}); "
                    "it is paid once per person", pointer, hint="evaluate again with --ledger: the history then says so",
                    location=where))

    def _append(self, conn, run, settings, superseded, reason, tool_version) -> RecordOutcome:
        top = conn.execute(select(head).where(head.c.id == 1)).one()
        seq, prev = top.entries, top.hash
        reversals = _reversals(conn, superseded) if superseded else []
        rows = []
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
        conn.execute(update(head).where(head.c.id == 1).values(entries=seq, hash=prev, runs=top.runs + 1))
        later = []
        for shop in sorted(superseded):  # they were decided on the history this run replaces
            first = conn.execute(select(coverage.c.month).where(coverage.c.workshop == shop,
                                                                coverage.c.month > max(run.months))
                                 .order_by(coverage.c.month).limit(1)).scalar()
            if first:
                later.append((shop, first))
        return RecordOutcome(run.run_id, top.runs + 1, len(run.entries), len(reversals), _granted(run.entries), False,
                             tuple(later))

    # --- reading ----------------------------------------------------------------------------------------------------

    def runs(self) -> List[dict]:
        with self.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(select(runs).order_by(runs.c.seq))]

    def verify(self) -> List[chain.Break]:
        """Every break in the hash chain, the first first."""
        with self.reading() as conn:
            top = conn.execute(select(head).where(head.c.id == 1)).one()._mapping
            digests: Dict[str, list] = {}
            for r in conn.execute(select(tallies).order_by(tallies.c.run_id, tallies.c.target, tallies.c.workshop,
                                                           tallies.c.subject)):
                digests.setdefault(r.run_id, []).append([r.target, r.workshop, r.subject])
            tally_sha = {k: chain.digest(v) for k, v in digests.items()}
            run_rows = [dict(r._mapping) for r in conn.execute(select(runs).order_by(runs.c.seq))]
            entry_rows = (dict(r._mapping) for r in conn.execute(select(entries).order_by(entries.c.seq)))
            return chain.verify(entry_rows, run_rows, top, tally_sha)


# --- helpers ------------------------------------------------------------------------------------------------------

def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, begin transactions: writers take the lock at BEGIN IMMEDIATE."""
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ledger_write") else "BEGIN")


def _touched_months(start: _dt.date, end: _dt.date) -> Tuple[str, ...]:
    """Every calendar month the period touches: a run claims a workshop's months, whole or in part."""
    return tuple(d.strftime("%Y-%m") for d in months_in(start.replace(day=1), end))


def _pointers(facts) -> Dict[Tuple[str, ...], str]:
    """(workshop[, worker]) -> the JSON pointer of that record in the facts file."""
    out: Dict[Tuple[str, ...], str] = {}
    for i, ws in enumerate(facts.workshops):
        out[(ws["id"],)] = facts.pointers[i]
        for j, w in enumerate(ws.get("workers") or ()):
            out[(ws["id"], w["id"])] = pointer_join(pointer_join(facts.pointers[i], "workers"), j)
    return out


def _once_only(rows: Iterable[dict], settings) -> Iterator[dict]:
    """The entries that pay a once-per-person rule (grants and carried-in payments, not reversals)."""
    return (r for r in rows if r["kind"] != "reversal" and r["outcome"] in _PAID and r["rule"] in settings.once_per_person
            and r["person"] is not None)


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterator[list]:
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _granted(rows: Iterable[dict]) -> Decimal:
    return sum((Decimal(r["amount"]) for r in rows if r["outcome"] == "granted" and r["amount"]), Decimal("0.00"))


def _span(months: List[str]) -> str:
    months = sorted(months)
    return months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"


def _claims(conn, run: PreparedRun) -> List[Tuple[str, str, str]]:
    """(workshop, month, run id) of every recorded claim on this run's workshops that shares a month with it or
    belongs to a run that does."""
    out = []
    for chunk in _chunks(run.workshops):
        hits = conn.execute(select(coverage.c.workshop, coverage.c.run_id).distinct()
                            .where(coverage.c.workshop.in_(chunk), coverage.c.month.in_(run.months))).all()
        for shop, run_id in hits:
            out.extend((shop, m, run_id) for (m,) in conn.execute(
                select(coverage.c.month).where(coverage.c.workshop == shop, coverage.c.run_id == run_id)))
    return out


def _active_entries():
    """Entries joined to the reversal of each (``rev``); ``rev.c.seq IS NULL`` keeps those not reversed."""
    rev = entries.alias("rev")
    return entries.outerjoin(rev, rev.c.reverses == entries.c.seq), rev


def _reversals(conn, superseded: Dict[str, List[str]]) -> List[dict]:
    joined, rev = _active_entries()
    out = []
    for shop, olds in sorted(superseded.items()):
        rows = conn.execute(select(entries).select_from(joined)
                            .where(entries.c.workshop == shop, entries.c.run_id.in_(olds), entries.c.kind == "decision",
                                   rev.c.seq.is_(None)).order_by(entries.c.seq))
        for r in rows:
            row = {k: v for k, v in r._mapping.items() if k not in ("seq", "run_id", "prev_hash", "hash")}
            row.update(kind="reversal", reverses=r.seq,
                       amount=None if r.amount is None else str(-Decimal(r.amount)))
            out.append(row)
    return out


def _held(conn, settings, period_start: _dt.date, persons: Iterable[str], shops: Iterable[str]) -> Dict[Tuple[str, str], Dict[str, object]]:
    """The history of each person and workshop (every one asked for) from the active granted entries that began
    before ``period_start``: ``paid`` false, ``items`` 0 and ``amount`` 0 where the ledger holds nothing."""
    before = period_start.isoformat()
    first_month = before[:7]
    out: Dict[Tuple[str, str], Dict[str, object]] = {}
    joined, rev = _active_entries()
    for kind, keys, column in (("worker", persons, entries.c.person), ("workshop", shops, entries.c.workshop)):
        fields = settings.fields_of(kind)
        if not fields:
            continue
        for key in keys:
            out[(kind, key)] = {f.field: EMPTY[f.measure] for f in fields}
        rules = sorted({f.rule for f in fields})
        per_key: Dict[str, Dict[str, list]] = {}
        for chunk in _chunks(sorted(keys)):
            cond = [column.in_(chunk), entries.c.rule.in_(rules), entries.c.kind != "reversal",
                    entries.c.outcome.in_(_PAID), entries.c.period_start < before, rev.c.seq.is_(None)]
            for row in conn.execute(select(column.label("key"), entries.c.rule, entries.c.amount,
                                           entries.c["items"].label("months"), entries.c.quantity)
                                    .select_from(joined).where(and_(*cond))):
                per_key.setdefault(row.key, {}).setdefault(row.rule, []).append(row)
        for key, by_rule in per_key.items():
            values = out[(kind, key)]
            for f in fields:
                got = by_rule.get(f.rule, [])
                if not got:
                    continue
                if f.measure == "paid":
                    values[f.field] = True
                elif f.measure == "items":
                    values[f.field] = (len({m for r in got for m in r.months.split() if m < first_month})
                                       + sum(r.quantity or 0 for r in got))
                else:
                    values[f.field] = sum((Decimal(r.amount) for r in got if r.amount), Decimal(0))
    return out
