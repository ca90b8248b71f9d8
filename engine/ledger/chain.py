"""The hash chain: each entry's hash covers its fields and the hash of the entry before it; each run's chain hash
covers the run, what it claims and the chain before it, so the last run's chain hash — the ledger's *head* —
stands for everything recorded.

Altering any field of an entry changes its hash; removing an entry breaks the
link of the one after it; removing the last entries leaves the head behind.
A run's ``chain`` hash covers its own fields (its hash), its claims (the
workshops and months it took, the runs it superseded for each workshop, the
rules it paid once per person) and the hash of the last entry recorded by
then: the derived tables (``once_paid``, ``coverage``, ``supersessions``) are
recomputed from these and compared. Someone with write access can still
recompute every hash; a signed checkpoint of the head, kept outside the
database, is what shows that (:mod:`subsidy_rules.ledger.checkpoint`).
:func:`verify` walks the chain and names every entry or run that does not hold.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, Iterable, List, Mapping, Optional, Protocol, Sequence, Tuple

GENESIS = "0" * 64

#: The fields an entry's hash covers, in order (all but the hash itself).
ENTRY_FIELDS = ("seq", "run_id", "kind", "reverses", "decision_id", "period_start", "period_end", "workshop", "worker",
                "loan", "person", "city", "county", "clause", "rule", "outcome", "amount", "fund", "items",
                "quantity", "policy_sha256", "facts_sha256", "prev_hash")

#: The fields a run's hash covers.
RUN_FIELDS = ("id", "seq", "kind", "recorded_at", "policy_id", "policy_sha256", "facts_sha256", "facts_path", "period_start",
              "period_end", "tool_version", "supersedes", "reason", "first_entry", "entry_count", "tally_sha256")

TAMPERED = "ledger.tampered"
DAMAGED = "ledger.damaged"


class Fields(Protocol):
    """An entry or run read by field name: a dict the ledger builds, or a database row's mapping."""

    def __getitem__(self, name: str, /) -> Any: ...

    def get(self, name: str, /) -> Any: ...


def digest(values: Iterable[object]) -> str:
    """sha256 of a canonical JSON array of ``values`` (strings, integers and nulls only)."""
    text = json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def entry_hash(entry: Fields) -> str:
    """The hash of an entry's fields; its ``details`` count when it has any (entries recorded before details were
    kept hash as they always did)."""
    values = [entry[f] for f in ENTRY_FIELDS]
    if entry.get("details") is not None:
        values.append(entry["details"])
    return digest(values)


def run_hash(run: Fields) -> str:
    return digest(run[f] for f in RUN_FIELDS)


def claims_text(claims: Mapping[str, Any]) -> str:
    """A run's claims as the canonical JSON the chain hashes and the ledger stores."""
    return json.dumps(claims, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def run_link(prev_chain: str, run: Fields, claims: Optional[str], end_hash: Optional[str]) -> str:
    """The chain hash of ``run``: the chain hash of the run before it, the run's own hash (recomputed from its
    fields), its claims and the hash of the last entry recorded by the end of it."""
    return digest(["run", prev_chain, run_hash(run), claims, end_hash])


@dataclass(frozen=True)
class Break:
    """Where the ledger does not hold: the entry, run or table and what is wrong with it."""

    what: str  # entry / run / head / once_paid / coverage / supersessions / checkpoint
    seq: int
    message: str
    code: str = TAMPERED


_ORDER = {"entry": 0, "head": 0, "run": 1, "once_paid": 2, "coverage": 3, "supersessions": 4, "checkpoint": 5}


def sort_breaks(breaks: List[Break]) -> List[Break]:
    return sorted(breaks, key=lambda b: (_ORDER.get(b.what, 9), b.seq, b.message))


@dataclass
class Walk:
    """What a walk along the chain saw, besides its breaks: the stored hash of each entry that ends a run, and the
    stored chain hash of each run (for a checkpoint to be compared with)."""

    entries: int = 0
    entry_hash: str = GENESIS
    runs: int = 0
    chain: str = GENESIS
    ends: Dict[int, str] = field(default_factory=dict)  # entry seq -> its stored hash, for the seqs asked for
    chains: Dict[int, Optional[str]] = field(default_factory=dict)  # run seq -> its stored chain hash


def value_problem(row: Fields) -> Optional[str]:
    """Why an entry's stored values cannot be read as the ledger wrote them, if they cannot."""
    amount = row.get("amount")
    if amount is not None:
        try:
            if not isinstance(amount, str) or not Decimal(amount).is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            return f"its amount {amount!r} is not a decimal number"
    for name in ("period_start", "period_end"):
        value = row.get(name)
        if not isinstance(value, str) or len(value) != 10:
            return f"its {name} {value!r} is not a date"
    if row.get("details") is not None:
        try:
            json.loads(row["details"])
        except (TypeError, ValueError):
            return "its details are not JSON"
    if not isinstance(row.get("items"), str):
        return f"its items {row.get('items')!r} are not text"
    for name in ("quantity", "reverses"):
        if row.get(name) is not None and not isinstance(row.get(name), int):
            return f"its {name} {row.get(name)!r} is not a whole number"
    return None


def verify(entry_rows: Iterable[Fields], run_rows: Sequence[Fields], head: Optional[Fields],
           tally_sha256: Mapping[str, str], want_ends: Iterable[int] = ()) -> Tuple[List[Break], Walk]:
    """Every break in the chain, the first first, and what the walk saw; no break when the ledger is intact."""
    breaks: List[Break] = []
    walk = Walk()
    prev_hash, expected = GENESIS, 1
    counts: Dict[str, int] = {}  # run id -> its entries in the table
    first: Dict[str, int] = {}  # run id -> its first entry's seq
    ends = {r["first_entry"] + r["entry_count"] - 1 for r in run_rows
            if isinstance(r.get("first_entry"), int) and isinstance(r.get("entry_count"), int) and r["entry_count"]}
    ends.update(want_ends)
    for row in entry_rows:  # in seq order
        seq = row["seq"]
        if seq != expected:
            breaks.append(Break("entry", expected, f"entry {expected} is missing (the next entry is {seq}): "
                                f"entries {expected}..{seq - 1} were removed"))
        elif row["prev_hash"] != prev_hash:
            breaks.append(Break("entry", seq, f"entry {seq} does not follow from entry {seq - 1}: the entry before it "
                                "was altered or replaced"))
        if entry_hash(row) != row["hash"]:
            breaks.append(Break("entry", seq, f"entry {seq} was altered: its fields no longer give its hash"))
        problem = value_problem(row)
        if problem:
            breaks.append(Break("entry", seq, f"entry {seq} is damaged: {problem}", DAMAGED))
        if seq in ends:
            walk.ends[seq] = row["hash"]
        prev_hash, expected = row["hash"], seq + 1
        counts[row["run_id"]] = counts.get(row["run_id"], 0) + 1
        first.setdefault(row["run_id"], seq)
    last = expected - 1
    walk.entries, walk.entry_hash = last, prev_hash
    if head is None:
        breaks.append(Break("head", 0, "the ledger's head row is missing: it was deleted"))
    elif head.get("entries") != last or head.get("hash") != prev_hash:
        breaks.append(Break("head", last + 1, f"the ledger's head says {head['entries']} entries ending in "
                            f"{str(head['hash'])[:12]}…, the table ends at entry {last}: the last entries were removed or "
                            "altered"))
    known = set()
    chain_prev, expected_run = GENESIS, 1
    entry_end: Optional[str] = GENESIS
    for run in run_rows:  # in seq order
        known.add(run["id"])
        seq = run["seq"]
        if not isinstance(seq, int):
            breaks.append(Break("run", expected_run, f"run {expected_run} is damaged: its number {seq!r} is not a "
                                "number", DAMAGED))
            seq = expected_run
        elif seq != expected_run:
            breaks.append(Break("run", expected_run, f"run {expected_run} is missing (the next run is {seq}): "
                                f"runs {expected_run}..{seq - 1} were removed"))
        expected_run = seq + 1
        problem = None
        if run_hash(run) != run["hash"]:
            problem = "its fields no longer give its hash"
        elif counts.get(run["id"], 0) != run["entry_count"] or first.get(run["id"]) != run["first_entry"]:
            problem = (f"it recorded {run['entry_count']} entries from {run['first_entry']}, the ledger holds "
                       f"{counts.get(run['id'], 0)} from {first.get(run['id'])}")
        elif tally_sha256.get(run["id"], digest([])) != run["tally_sha256"]:
            problem = "its target tallies were altered"
        if problem:
            breaks.append(Break("run", seq, f"run {seq} ({str(run['id'])[:12]}…) was altered: {problem}"))
        if isinstance(run["entry_count"], int) and run["entry_count"] and isinstance(run["first_entry"], int):
            entry_end = walk.ends.get(run["first_entry"] + run["entry_count"] - 1)
        link = run_link(chain_prev, run, run.get("claims"), entry_end)
        stored = run.get("chain")
        if stored != link:
            why = ("it has no chain hash" if stored is None else
                   "its chain hash does not follow from its fields, its claims, its entries and the run before it")
            breaks.append(Break("run", seq, f"run {seq} ({str(run['id'])[:12]}…) was altered: {why}"))
        walk.chains[seq] = stored
        chain_prev = stored if stored is not None else link
    walk.runs, walk.chain = expected_run - 1, chain_prev
    stray = sorted(r for r in counts if r not in known)
    for run_id in stray:
        breaks.append(Break("run", 0, f"entries {first[run_id]}.. belong to run {str(run_id)[:12]}…, which the ledger "
                            "no longer holds: the run was deleted"))
    if head is not None and (head.get("runs") != walk.runs or head.get("chain") != walk.chain):
        breaks.append(Break("head", walk.entries + 1, f"the ledger's head says {head.get('runs')} runs ending in "
                            f"{str(head.get('chain'))[:12]}…, the runs end at run {walk.runs} "
                            f"({walk.chain[:12]}…): the last runs were removed or altered"))
    return sort_breaks(breaks), walk
