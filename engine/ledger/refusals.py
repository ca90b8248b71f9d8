"""Why a run may not be recorded, each a problem at its place in the facts file: a value no column can hold, months
already recorded (or recorded later), a history that changed since the run was decided, a person paid once already."""
from __future__ import annotations

import datetime as _dt
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from sqlalchemy import Table, func, select, tuple_
from sqlalchemy.engine import Connection

from ..policy.history import LedgerSettings
from ..problems import Location, Problem, pointer_join
from .database import Database
from .held import held_before, payers_since, redecided
from .model import PAID_BY, PreparedRun
from .queries import chunks, column_length, once_only, shorten, span, unstorable_why
from .tables import coverage, entries, once_paid, runs, tallies


def unstorable(db: Database, run: PreparedRun, reason: str, tool_version: str) -> List[Problem]:
    """A problem, at its place in the facts file, for every value the ledger's columns cannot hold as it is (a
    NUL, a lone surrogate, more characters than the column has room for): refused before anything is written,
    so no database's own message stands in for it."""
    found: Dict[Tuple[str, str, str], Problem] = {}

    def check(table: Table, column: str, value: object, key: Optional[Tuple[str, ...]], name: str = "id",
              what: str = "") -> None:
        if not isinstance(value, str):
            return
        why = unstorable_why(value, column_length(table.c[column]), f"{table.name}.{column}")
        if why is None:
            return
        code, message = why
        if key is not None and key in run.pointers:
            pointer = pointer_join(run.pointers[key], name)
            where = run.locate(pointer) if run.locate else Location(run.facts_path)
        else:
            pointer, where = "", Location(run.policy_path or run.facts_path)
        label = what or f"{name} {shorten(value)}"
        found.setdefault((pointer, code, "" if pointer else label), db.problem(
            code, f"{label} {message}; nothing was recorded", pointer, location=where,
            hint="correct it in the file: the ledger stores it as it is, in every database"))

    for e in run.entries:
        shop = e["workshop"]
        check(entries, "workshop", shop, (shop,))
        check(entries, "worker", e["worker"], (shop, e["worker"]))
        check(entries, "loan", e["loan"], (shop, "#loan", e["loan"]))
        if e["worker"] is not None:
            check(entries, "person", e["person"], (shop, e["worker"]), what=f"person {shorten(e['person'])}")
        check(entries, "city", e["city"], (shop,), "city")
        check(entries, "county", e["county"], (shop,), "county")
        for column in ("decision_id", "period_start", "period_end", "clause", "rule", "outcome", "amount", "fund",
                       "items", "details"):
            check(entries, column, e[column], None, what=f"{column} {shorten(e[column])}")
    for shop in run.workshops:
        check(coverage, "workshop", shop, (shop,))
    for target, shop, subject in run.tally:
        check(tallies, "target", target, None, what=f"target {shorten(target)}")
        check(tallies, "workshop", shop, (shop,))
        check(tallies, "subject", subject, (shop, subject) if (shop, subject) in run.pointers else (shop,))
    check(runs, "policy_id", run.policy_id, None, what=f"policy id {shorten(run.policy_id)}")
    check(runs, "facts_path", run.facts_path, None, what=f"facts path {shorten(run.facts_path)}")
    check(runs, "tool_version", tool_version, None, what=f"tool version {shorten(tool_version)}")
    check(runs, "reason", reason, None, what=f"reason {shorten(reason)}")
    return list(found.values())


def check_order(db: Database, conn: Connection, run: PreparedRun, superseded: Mapping[str, Sequence[str]],
                overlapping: Set[str], problems: List[Problem]) -> None:
    """A period recorded after a later one of the same workshop is refused: the later run was decided on a
    history without this period's payments (an award paid now would be paid again there). A workshop whose
    months are already recorded is refused as an overlap instead."""
    if not run.months:
        return
    for chunk in chunks([shop for shop in run.workshops if shop not in overlapping]):
        rows = conn.execute(select(coverage.c.workshop, func.min(coverage.c.month))
                            .where(coverage.c.workshop.in_(chunk), coverage.c.month > max(run.months))
                            .group_by(coverage.c.workshop)).all()
        for shop, first in rows:
            later = conn.execute(select(coverage.c.run_id).distinct().where(
                coverage.c.workshop == shop, coverage.c.month > max(run.months))).scalars().all()
            if all(r in superseded.get(shop, ()) for r in later):
                continue
            pointer, where = _here(run, shop)
            problems.append(db.problem(
                "ledger.out_of_order", f"workshop {shop}: months from {first} on are already recorded, decided "
                f"on a history without {span(list(run.months))}; recording it now would leave them wrong "
                "(an award or a limit counted twice)", pointer,
                hint=f"evaluate {run.months[0]} to the last recorded month as one period and record it with "
                     "--supersede --reason \"…\"", location=where))


def check_carry_in_order(db: Database, conn: Connection, run: PreparedRun, problems: List[Problem]) -> None:
    """History is carried in before the months it precedes are recorded: a workshop with a recorded month after
    the carry-in's date was decided without it (a limit or an award would be counted wrong)."""
    shops = sorted({e["workshop"] for e in run.entries})
    for chunk in chunks(shops):
        rows = conn.execute(select(coverage.c.workshop, func.min(coverage.c.month))
                            .where(coverage.c.workshop.in_(chunk), coverage.c.month > run.period_start[:7])
                            .group_by(coverage.c.workshop)).all()
        for shop, first in rows:
            pointer, where = _here(run, shop)
            problems.append(db.problem(
                "ledger.out_of_order", f"workshop {shop}: months from {first} on are already recorded, decided "
                f"without the history carried in as of {run.period_start}", pointer,
                hint="carry history in before recording the months after it; to correct recorded months, "
                     "record them again with --supersede once the history is in", location=where))


def _what_differs(conn: Connection, old_id: str, run: PreparedRun) -> str:
    """How a recorded run differs from ``run`` for the same months: its facts, else its policy, else the history it
    was decided on (the same facts and policy give the same run, which is recorded once)."""
    old = conn.execute(select(runs.c.facts_sha256, runs.c.facts_path, runs.c.policy_sha256)
                       .where(runs.c.id == old_id)).first()
    if old is None:
        return ""
    if old.facts_sha256 != run.facts_sha256:
        return (f": it was decided from facts {os.path.basename(old.facts_path) or '-'} with sha256 {old.facts_sha256[:12]}…, "
                f"these facts have sha256 {run.facts_sha256[:12]}…")
    if old.policy_sha256 != run.policy_sha256:
        return (f": it was decided under policy sha256 {old.policy_sha256[:12]}…, this policy has sha256 "
                f"{run.policy_sha256[:12]}…")
    return ": it was decided from the same facts and policy, on the history recorded before it"


def check_overlap(db: Database, conn: Connection, run: PreparedRun, claimed: Sequence[Tuple[str, str, str]],
                  supersede: bool, problems: List[Problem]) -> Dict[str, List[str]]:
    """The runs this one replaces, by workshop; a problem for each claim it may not take (saying what differs)."""
    by_shop: Dict[str, Dict[str, List[str]]] = {}
    for shop, month, run_id in claimed:
        by_shop.setdefault(shop, {}).setdefault(run_id, []).append(month)
    out: Dict[str, List[str]] = {}
    for shop, olds in sorted(by_shop.items()):
        pointer, where = _here(run, shop)
        for old_id, months in sorted(olds.items()):
            inside = [m for m in months if m in run.months]
            if not supersede:
                problems.append(db.problem(
                    "ledger.overlap", f"workshop {shop}: {span(inside)} is already recorded by run {old_id[:12]}…; "
                    f"a different run for the same months is refused{_what_differs(conn, old_id, run)}", pointer,
                    hint="to correct it, record with --supersede --reason \"…\" (the old entries are reversed, not "
                         "edited)", location=where))
            elif len(inside) < len(months):
                outside = [m for m in months if m not in run.months]
                problems.append(db.problem(
                    "ledger.partial_supersede", f"workshop {shop}: run {old_id[:12]}… also covers {span(outside)}, "
                    f"outside this run's period {run.period_start}..{run.period_end}", pointer,
                    hint="a superseding run covers every month of the run it replaces", location=where))
            else:
                out.setdefault(shop, []).append(old_id)
    if supersede and not claimed:
        problems.append(db.problem("ledger.nothing_to_supersede", f"no recorded run covers these workshops in "
                                   f"{run.period_start}..{run.period_end}, so --supersede has nothing to replace",
                                   hint="record without --supersede"))
    return out


def check_history(db: Database, conn: Connection, run: PreparedRun, settings: LedgerSettings, problems: List[Problem]
                  ) -> None:
    persons = {key for kind, key in run.held if kind == "worker"}
    shops = {key for kind, key in run.held if kind == "workshop"}
    start = _dt.date.fromisoformat(run.period_start)
    if run.kind == "carry_in":  # opening entries count from the day after them: nothing may be held by then
        start += _dt.timedelta(days=1)
    now = held_before(conn, settings, start, persons, shops)
    markers = {(key, name[len(PAID_BY):]) for (kind, key), values in run.held.items() if kind == "worker"
               for name in values if name.startswith(PAID_BY)}
    if markers:
        payers = payers_since(conn, start, {p for p, _ in markers}, sorted({r for _, r in markers}),
                              redecided(conn, run.workshops, run.months))
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
                problems.append(db.problem(
                    "ledger.stale_history", f"{kind} {key}: {name[len(PAID_BY):]} was not paid by this run because "
                    f"entry {value} paid it; " + (f"entry {gone} pays it now" if gone else "that payment has "
                                                  "since been reversed") + " (another run was recorded meanwhile)",
                    hint="evaluate again", location=Location(run.facts_path)))
            elif run.kind == "carry_in":
                problems.append(db.problem(
                    "ledger.carry_in_conflict", f"{kind} {key}: the ledger already holds history.{name} = "
                    f"{current.get(name)}; history is carried in only where the ledger holds none",
                    location=Location(run.facts_path)))
            else:
                problems.append(db.problem(
                    "ledger.stale_history", f"{kind} {key}: history.{name} was {value} when this run was decided "
                    f"and is now {current.get(name)} (another run was recorded meanwhile)", hint="evaluate again",
                    location=Location(run.facts_path)))


def check_once(db: Database, conn: Connection, run: PreparedRun, settings: LedgerSettings,
               superseded: Mapping[str, Sequence[str]], problems: List[Problem],
               overlapped: Optional[Set[Tuple[str, str]]] = None) -> None:
    """A once-per-person payment this run makes that another run already made is refused. A payment made by a run
    whose months this one overlaps (``overlapped``: (workshop, run id)) is not said again: the overlap is the problem,
    said once, and superseding that run settles both."""
    wanted: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for e in once_only(run.entries, settings):
        key = (e["person"], e["rule"])
        if key in wanted:  # the same person twice in this run (two workshops of one facts file)
            pointer, where = _here(run, e["workshop"], e["worker"])
            problems.append(db.problem(
                "ledger.already_paid", f"worker {e['worker']}: {e['clause']} {e['rule']} is granted in both "
                f"workshop {wanted[key]['workshop']} and workshop {e['workshop']}; it is paid once per person",
                pointer, hint="evaluate with --ledger: the later workshop's decision then says the earlier one "
                              "paid it", location=where))
        wanted.setdefault(key, e)
    for chunk in chunks(sorted(wanted)):
        rows = conn.execute(
            select(once_paid.c.person, once_paid.c.rule, entries.c.workshop, entries.c.period_start,
                   entries.c.period_end, entries.c.run_id, runs.c.seq.label("run_seq"))
            .join(entries, entries.c.seq == once_paid.c.entry_seq)
            .join(runs, runs.c.id == entries.c.run_id)
            .where(tuple_(once_paid.c.person, once_paid.c.rule).in_(chunk))).all()
        for row in rows:
            if row.run_id in superseded.get(row.workshop, ()):
                continue  # this run reverses that payment before it makes its own
            if overlapped and (row.workshop, row.run_id) in overlapped:
                continue  # the same months recorded by that run: refused as an overlap already
            e = wanted[(row.person, row.rule)]
            pointer, where = _here(run, e["workshop"], e["worker"])
            problems.append(db.problem(
                "ledger.already_paid", f"worker {e['worker']}: {e['clause']} {e['rule']} was already paid to this "
                f"person by run {row.run_seq} ({row.run_id[:12]}…, workshop {row.workshop}, "
                f"{row.period_start}..{row.period_end}); it is paid once per person", pointer,
                hint="that run was recorded after this one was decided: evaluate again with --ledger, and this "
                     "workshop's decision says it was already paid, naming that run", location=where))


def _here(run: PreparedRun, *key: str) -> Tuple[str, Location]:
    pointer = run.pointers.get(tuple(key), "")
    return pointer, (run.locate(pointer) if run.locate and pointer else Location(run.facts_path))
