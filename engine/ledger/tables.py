"""The ledger's tables, as SQLAlchemy Core sees them (the migrations create exactly these).

``runs`` and ``entries`` are the record: append-only, each entry chained to the
one before by its hash, each run chained to the one before by its ``chain``
hash (which covers its claims and its entries too). ``once_paid``,
``coverage``, ``tallies`` and ``supersessions`` serve the record: the
database's own constraints on them refuse a second once-only payment and a
second claim on a workshop's month, and each is recomputed from the chained
record and compared (:mod:`subsidy_rules.ledger.derived`) by ``ledger verify`` and
by every recording.
"""
from __future__ import annotations

from sqlalchemy import (Column, ForeignKey, Integer, MetaData, PrimaryKeyConstraint, String, Table, Text,
                        UniqueConstraint)

metadata = MetaData()

HASH = String(64)

head = Table(
    "ledger_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1: the row every writer locks
    Column("entries", Integer, nullable=False),  # the seq of the last entry (0: none yet)
    Column("hash", HASH, nullable=False),  # the hash of the last entry
    Column("runs", Integer, nullable=False),  # the seq of the last run
    Column("chain", HASH, nullable=True),  # the chain hash of the last run: the head printed and checkpointed
)

runs = Table(
    "runs", metadata,
    Column("id", HASH, primary_key=True),  # what the run decided: the same run recorded twice has the same id
    Column("seq", Integer, nullable=False, unique=True),
    Column("kind", String(12), nullable=False),  # evaluation / carry_in
    Column("recorded_at", String(32), nullable=False),
    Column("policy_id", String(200), nullable=False),
    Column("policy_sha256", HASH, nullable=False),
    Column("facts_sha256", HASH, nullable=False),
    Column("facts_path", Text, nullable=False),
    Column("period_start", String(10), nullable=False),
    Column("period_end", String(10), nullable=False),
    Column("tool_version", String(40), nullable=False),
    Column("supersedes", Text, nullable=False),  # the ids of the runs it replaces, space separated
    Column("reason", Text, nullable=False),
    Column("first_entry", Integer, nullable=True),
    Column("entry_count", Integer, nullable=False),
    Column("tally_sha256", HASH, nullable=False),
    Column("hash", HASH, nullable=False),
    # JSON: the workshops and months it took, the runs it replaced for each workshop, the rules it paid once per
    # person; what coverage, supersessions and once_paid are recomputed from
    Column("claims", Text, nullable=True),
    Column("chain", HASH, nullable=True),  # chains the run (its hash, claims, last entry) to the run before it
)

entries = Table(
    "entries", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("run_id", HASH, ForeignKey("runs.id"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),  # decision / reversal / opening (history carried in)
    Column("reverses", Integer, ForeignKey("entries.seq"), nullable=True, unique=True),
    Column("decision_id", String(40), nullable=False),
    Column("period_start", String(10), nullable=False),
    Column("period_end", String(10), nullable=False),
    Column("workshop", String(200), nullable=False, index=True),
    Column("worker", String(200), nullable=True),
    Column("loan", String(200), nullable=True),
    Column("person", String(401), nullable=True, index=True),  # a worker decision's person key
    Column("city", String(200), nullable=True),
    Column("county", String(200), nullable=True),
    Column("clause", String(40), nullable=False),
    Column("rule", String(200), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("amount", String(40), nullable=True),  # exact decimal text; negative on a reversal
    Column("fund", String(200), nullable=True),
    Column("items", Text, nullable=False),  # the months a per-month rule counted, space separated
    Column("quantity", Integer, nullable=True),  # a carried-in count of months (kind opening)
    Column("details", Text, nullable=True),  # JSON: route, basis and since of a certification; effective; waits_for
    Column("policy_sha256", HASH, nullable=False),
    Column("facts_sha256", HASH, nullable=False),
    Column("prev_hash", HASH, nullable=False),
    Column("hash", HASH, nullable=False),
)

once_paid = Table(
    "once_paid", metadata,
    Column("person", String(401), nullable=False),
    Column("rule", String(200), nullable=False),
    Column("entry_seq", Integer, ForeignKey("entries.seq"), nullable=False),
    PrimaryKeyConstraint("person", "rule", name="once_paid_per_person"),
)

coverage = Table(
    "coverage", metadata,
    Column("workshop", String(200), nullable=False),
    Column("month", String(7), nullable=False),
    Column("run_id", HASH, ForeignKey("runs.id"), nullable=False),
    PrimaryKeyConstraint("workshop", "month", name="coverage_one_run_per_month"),
)

tallies = Table(
    "tallies", metadata,
    Column("run_id", HASH, ForeignKey("runs.id"), nullable=False),
    Column("target", String(200), nullable=False),
    Column("workshop", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    PrimaryKeyConstraint("run_id", "target", "workshop", "subject", name="tallies_pk"),
)

supersessions = Table(
    "supersessions", metadata,
    Column("old_run", HASH, ForeignKey("runs.id"), nullable=False),
    Column("workshop", String(200), nullable=False),
    Column("new_run", HASH, ForeignKey("runs.id"), nullable=False),
    UniqueConstraint("old_run", "workshop", name="supersessions_once"),
)
