"""A prepared run recorded: in one write transaction, the ledger checked against its chain where the run touches it,
every reason to refuse the run found (all of them, or nothing is written), then the superseded entries reversed, the
run's entries chained and appended, and the serving tables (once paid, coverage, supersessions, tallies) and the head
brought along."""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from ..policy.history import LedgerSettings
from ..problems import InvalidInput
from . import chain, derived, refusals
from .database import Database
from .model import Head, LedgerDamage, PreparedRun, RecordOutcome
from .queries import active_entries, chunks, granted, head_of, once_only, sound
from .tables import coverage, entries, head, once_paid, runs, supersessions, tallies
from .verification import check_integrity


def record(db: Database, run: PreparedRun, settings: LedgerSettings, *, supersede: bool = False, reason: str = "",
           tool_version: str = "") -> RecordOutcome:
    """Store ``run`` in one transaction; InvalidInput naming every reason it cannot be recorded."""
    problems = refusals.unstorable(db, run, reason, tool_version)
    if problems:
        raise InvalidInput(problems)
    with db.writing() as conn:
        old = conn.execute(select(runs.c.seq, runs.c.entry_count).where(runs.c.id == run.run_id)).first()
        if old is not None:
            return RecordOutcome(run.run_id, old.seq, old.entry_count, 0, granted(run.entries), True,
                                 head=head_of(conn))
        check_integrity(conn, run, settings)
        problems = []
        claimed = _claims(conn, run) if run.kind == "evaluation" else []
        superseded = refusals.check_overlap(db, conn, run, claimed, supersede, problems) if run.kind == "evaluation" else {}
        if run.kind == "evaluation" and not supersede:  # a superseding run is told which later months to redo
            refusals.check_order(db, conn, run, superseded, {shop for shop, _, _ in claimed}, problems)
        if run.kind == "carry_in":
            refusals.check_carry_in_order(db, conn, run, problems)
        refusals.check_history(db, conn, run, settings, problems)
        overlapped = set() if supersede else {(shop, run_id) for shop, _, run_id in claimed}
        refusals.check_once(db, conn, run, settings, superseded, problems, overlapped)
        if problems:
            raise InvalidInput(problems)
        return _append(conn, run, settings, superseded, reason, tool_version)


def _append(conn: Connection, run: PreparedRun, settings: LedgerSettings, superseded: Dict[str, List[str]],
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
    for chunk in chunks(reversed_seqs):
        conn.execute(delete(once_paid).where(once_paid.c.entry_seq.in_(chunk)))
    if rows:
        conn.execute(entries.insert(), rows)
    once = [{"person": r["person"], "rule": r["rule"], "entry_seq": r["seq"]} for r in once_only(rows, settings)]
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
    return RecordOutcome(run.run_id, top.runs + 1, len(run.entries), len(reversals), granted(run.entries), False,
                         tuple(later), Head(top.runs + 1, seq, prev, record["chain"]))


def _claims(conn: Connection, run: PreparedRun) -> List[Tuple[str, str, str]]:
    """(workshop, month, run id) of every recorded claim on this run's workshops that shares a month with it or
    belongs to a run that does."""
    out: List[Tuple[str, str, str]] = []
    for chunk in chunks(run.workshops):
        hits = conn.execute(select(coverage.c.workshop, coverage.c.run_id).distinct()
                            .where(coverage.c.workshop.in_(chunk), coverage.c.month.in_(run.months))).all()
        for shop, run_id in hits:
            out.extend((shop, m, run_id) for (m,) in conn.execute(
                select(coverage.c.month).where(coverage.c.workshop == shop, coverage.c.run_id == run_id)))
    return out


def _reversals(conn: Connection, superseded: Mapping[str, Sequence[str]]) -> List[Dict[str, Any]]:
    joined, rev = active_entries()
    out: List[Dict[str, Any]] = []
    breaks: List[chain.Break] = []
    for shop, olds in sorted(superseded.items()):
        rows = conn.execute(select(entries).select_from(joined)
                            .where(entries.c.workshop == shop, entries.c.run_id.in_(olds), entries.c.kind == "decision",
                                   rev.c.seq.is_(None)).order_by(entries.c.seq))
        for r in rows:
            if not sound(r._mapping, breaks):
                continue
            row = {k: v for k, v in r._mapping.items() if k not in ("seq", "run_id", "prev_hash", "hash")}
            row.update(kind="reversal", reverses=r.seq,
                       amount=None if r.amount is None else str(-Decimal(r.amount)))
            out.append(row)
    if breaks:
        raise LedgerDamage(breaks)
    return out
