"""The ledger checked against its hash chain: all of it (``ledger verify``, with signed checkpoints), or, before a
recording, the part the run touches (the head, and the serving tables for its persons and workshops, against what the
chained record implies)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Iterator, List, Sequence, Set, Tuple

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, RowMapping

from ..policy.history import LedgerSettings
from . import chain, derived
from .database import Database
from .derived import PAID as _PAID
from .model import Head, LedgerDamage, PreparedRun, Verification
from .queries import chunks, load_claims, sound
from .tables import coverage, entries, head, once_paid, runs, supersessions, tallies

if TYPE_CHECKING:
    from .checkpoint import Checkpoint


def verify(db: Database, checkpoints: Sequence[Checkpoint] = ()) -> Verification:
    """Every break in the hash chain and every difference between the serving tables and what the chained
    record implies, the first first; and, for each signed checkpoint given, whether the ledger still holds what
    it signed."""
    breaks: List[chain.Break] = []
    with db.reading() as conn:
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


def check_integrity(conn: Connection, run: PreparedRun, settings: LedgerSettings) -> None:
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
    claims, seqs = load_claims(conn, breaks)
    shops = set(run.workshops) | {e["workshop"] for e in run.entries}
    expected_cover = {k: v for k, v in derived.coverage_from(claims).items() if k[0] in shops}
    expected_super = {t for t in derived.supersessions_from(claims) if t[1] in shops}
    actual_cover: Dict[Tuple[str, str], str] = {}
    actual_super: Set[Tuple[str, str, str]] = set()
    for chunk in chunks(sorted(shops)):
        actual_cover.update({(r.workshop, r.month): r.run_id for r in conn.execute(
            select(coverage).where(coverage.c.workshop.in_(chunk)))})
        actual_super.update((r.old_run, r.workshop, r.new_run) for r in conn.execute(
            select(supersessions).where(supersessions.c.workshop.in_(chunk))))
    persons = {e["person"] for e in run.entries if e["person"] is not None}
    persons |= {key for kind, key in run.held if kind == "worker"}
    payments: List[derived.Payment] = []
    reversed_seqs: Set[int] = set()
    actual_once: Dict[Tuple[str, str], int] = {}
    for chunk in chunks(sorted(persons)):
        for row in conn.execute(select(entries).where(entries.c.person.in_(chunk), entries.c.kind != "reversal",
                                                      entries.c.outcome.in_(_PAID))):
            if sound(row._mapping, breaks):
                payments.append(derived.Payment(row.seq, row.run_id, row.person, row.rule))
        actual_once.update({(r.person, r.rule): r.entry_seq for r in conn.execute(
            select(once_paid).where(once_paid.c.person.in_(chunk)))})
    for seq_chunk in chunks(sorted(p.seq for p in payments)):
        for row in conn.execute(select(entries).where(entries.c.reverses.in_(seq_chunk))):
            if sound(row._mapping, breaks) and row.kind == "reversal":
                reversed_seqs.add(row.reverses)
    expected_once, twice = derived.once_paid_from(payments, {c.run_id: c.once for c in claims}, reversed_seqs)
    breaks += derived.compare(expected_once, twice, actual_once, expected_cover, actual_cover, expected_super,
                              actual_super, seqs)
    if breaks:
        raise LedgerDamage(breaks)

