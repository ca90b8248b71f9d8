"""The hash chain: each entry's hash covers its fields and the hash of the entry before it.

Altering any field of an entry changes its hash; removing an entry breaks the
link of the one after it; removing the last entries leaves the head behind.
:func:`verify` walks the chain and names the first entry that does not hold.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable, List, Mapping, Optional

GENESIS = "0" * 64

#: The fields an entry's hash covers, in order (all but the hash itself).
ENTRY_FIELDS = ("seq", "run_id", "kind", "reverses", "decision_id", "period_start", "period_end", "workshop", "worker",
                "loan", "person", "city", "county", "clause", "rule", "outcome", "amount", "fund", "items",
                "quantity", "policy_sha256", "facts_sha256", "prev_hash")

#: The fields a run's hash covers.
RUN_FIELDS = ("id", "seq", "kind", "recorded_at", "policy_id", "policy_sha256", "facts_sha256", "facts_path", "period_start",
              "period_end", "tool_version", "supersedes", "reason", "first_entry", "entry_count", "tally_sha256")


def digest(values: Iterable) -> str:
    """sha256 of a canonical JSON array of ``values`` (strings, integers and nulls only)."""
    text = json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_hash(entry: Mapping) -> str:
    """The hash of an entry's fields; its ``details`` count when it has any (entries recorded before details were
    kept hash as they always did)."""
    values = [entry[f] for f in ENTRY_FIELDS]
    if entry.get("details") is not None:
        values.append(entry["details"])
    return digest(values)


def run_hash(run: Mapping) -> str:
    return digest(run[f] for f in RUN_FIELDS)


@dataclass(frozen=True)
class Break:
    """Where the chain does not hold: the entry (or run) and what is wrong with it."""

    what: str  # entry / run / head
    seq: int
    message: str


def verify(entry_rows: Iterable[Mapping], run_rows: Iterable[Mapping], head: Mapping,
           tally_sha256: Mapping[str, str]) -> List[Break]:
    """Every break in the chain, the first first; an empty list when the ledger is intact."""
    breaks: List[Break] = []
    prev_hash, expected = GENESIS, 1
    counts: dict = {}
    first: dict = {}
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
        prev_hash, expected = row["hash"], seq + 1
        counts[row["run_id"]] = counts.get(row["run_id"], 0) + 1
        first.setdefault(row["run_id"], seq)
    last = expected - 1
    if head["entries"] != last or head["hash"] != prev_hash:
        breaks.append(Break("head", last + 1, f"the ledger's head says {head['entries']} entries ending in "
                            f"{head['hash'][:12]}…, the table ends at entry {last}: the last entries were removed or "
                            "altered"))
    for run in run_rows:
        problem: Optional[str] = None
        if run_hash(run) != run["hash"]:
            problem = "its fields no longer give its hash"
        elif counts.get(run["id"], 0) != run["entry_count"] or first.get(run["id"]) != run["first_entry"]:
            problem = (f"it recorded {run['entry_count']} entries from {run['first_entry']}, the ledger holds "
                       f"{counts.get(run['id'], 0)} from {first.get(run['id'])}")
        elif tally_sha256.get(run["id"], digest([])) != run["tally_sha256"]:
            problem = "its target tallies were altered"
        if problem:
            breaks.append(Break("run", run["seq"], f"run {run['seq']} ({run['id'][:12]}…) was altered: {problem}"))
    breaks.sort(key=lambda b: ({"entry": 0, "head": 0, "run": 1}[b.what], b.seq))
    return breaks
