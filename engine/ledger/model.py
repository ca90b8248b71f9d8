"""What the ledger takes and gives: a run ready to record, what recording it did, the head, a payer, a verification;
and its two faults (unreachable, damaged)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..problems import LedgerFault, Location
from . import chain

#: What the ledger holds for each subject, keyed (kind, key): history field -> value (see policy.history.fill)
Held = Dict[Tuple[str, str], Dict[str, object]]

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

