"""What the ledger pages ask of the payout ledger: the confirmation before recording, the recording, the runs,
the report and the verification. Each opens the ledger, does one thing and closes it (called in a worker thread);
two clerks recording at once are two transactions, and the ledger's lock decides between them as between two
``subsidy evaluate --record`` processes."""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from sqlalchemy import select

from ..ledger import build_report, open_ledger, record_run, settings_of
from ..ledger.tables import coverage, runs as runs_table

if TYPE_CHECKING:
    import datetime as _dt

    from ..ledger import LedgerReport, RecordOutcome, Verification
    from ..policy.history import LedgerHistory
    from ..policy.model import Policy
    from ..runtime.evaluate import Evaluation


@dataclasses.dataclass(frozen=True)
class Preview:
    """What recording a run would do, as the ledger stands now."""

    run_id: str
    already: Optional[int]  # the run's seq if this very run is recorded already
    new: Tuple[Tuple[str, int, Decimal], ...]  # (outcome, entries, amount) of the entries it adds
    supersedes: Tuple[Tuple[str, str, int, str], ...]  # (workshop, month, run seq, run id) recorded now
    pending: int
    workshops: Tuple[Tuple[str, Optional[str]], ...]  # (workshop, county)


def preview(url: str, run: Evaluation, held: Optional[LedgerHistory]) -> Preview:
    assert held is not None  # a server with a ledger decides every job on the ledger's history
    ledger = open_ledger(url)
    try:
        settings = settings_of(run.policy)
        prepared = ledger.prepare(run, settings, held)
        counts: Dict[str, List] = {}
        for e in prepared.entries:
            c = counts.setdefault(e["outcome"], [0, Decimal("0.00")])
            c[0] += 1
            if e["amount"] is not None and e["outcome"] == "granted":
                c[1] += Decimal(e["amount"])
        with ledger.reading() as conn:
            seq_of = {r.id: r.seq for r in conn.execute(select(runs_table.c.id, runs_table.c.seq))}
            covered = []
            for shop in prepared.workshops:
                for r in conn.execute(select(coverage).where(coverage.c.workshop == shop)):
                    if r.month in prepared.months and r.run_id != prepared.run_id:
                        covered.append((shop, r.month, seq_of.get(r.run_id, 0), r.run_id))
        shops = tuple((ws["id"], ws.get("county")) for ws in run.facts.workshops)
        return Preview(prepared.run_id, seq_of.get(prepared.run_id),
                       tuple((k, v[0], v[1]) for k, v in sorted(counts.items())), tuple(sorted(covered)),
                       run.totals.counts.get("pending", 0), shops)
    finally:
        ledger.close()


def record(url: str, run: Evaluation, held: Optional[LedgerHistory], supersede: bool, reason: str, version: str
           ) -> RecordOutcome:
    """Record ``run``; InvalidInput naming why not (another recording got there first, the months are recorded…)."""
    assert held is not None  # a server with a ledger decides every job on the ledger's history
    ledger = open_ledger(url)
    try:
        return record_run(ledger, run, held, supersede=supersede, reason=reason, tool_version=version)
    finally:
        ledger.close()


def runs(url: str) -> List[Dict[str, Any]]:
    ledger = open_ledger(url)
    try:
        return ledger.runs()
    finally:
        ledger.close()


def report(url: str, policy: Policy, start: Optional[_dt.date] = None, end: Optional[_dt.date] = None
           ) -> LedgerReport:
    ledger = open_ledger(url)
    try:
        return build_report(ledger, policy, start, end)
    finally:
        ledger.close()


def verify(url: str) -> Tuple[Verification, str]:
    ledger = open_ledger(url)
    try:
        return ledger.verify(), ledger.display
    finally:
        ledger.close()
