"""Create the ledger: runs, chained entries, once-only payments, coverage, tallies, supersessions.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

HASH = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("hash", HASH, nullable=False),
        sa.Column("runs", sa.Integer, nullable=False),
    )
    op.bulk_insert(sa.table("ledger_head", sa.column("id"), sa.column("entries"), sa.column("hash"), sa.column("runs")),
                   [{"id": 1, "entries": 0, "hash": "0" * 64, "runs": 0}])
    op.create_table(
        "runs",
        sa.Column("id", HASH, primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False, unique=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("policy_id", sa.String(200), nullable=False),
        sa.Column("policy_sha256", HASH, nullable=False),
        sa.Column("facts_sha256", HASH, nullable=False),
        sa.Column("facts_path", sa.Text, nullable=False),
        sa.Column("period_start", sa.String(10), nullable=False),
        sa.Column("period_end", sa.String(10), nullable=False),
        sa.Column("tool_version", sa.String(40), nullable=False),
        sa.Column("supersedes", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("first_entry", sa.Integer, nullable=True),
        sa.Column("entry_count", sa.Integer, nullable=False),
        sa.Column("tally_sha256", HASH, nullable=False),
        sa.Column("hash", HASH, nullable=False),
    )
    op.create_table(
        "entries",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("run_id", HASH, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("reverses", sa.Integer, sa.ForeignKey("entries.seq"), nullable=True, unique=True),
        sa.Column("decision_id", sa.String(40), nullable=False),
        sa.Column("period_start", sa.String(10), nullable=False),
        sa.Column("period_end", sa.String(10), nullable=False),
        sa.Column("workshop", sa.String(200), nullable=False, index=True),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("loan", sa.String(200), nullable=True),
        sa.Column("person", sa.String(401), nullable=True, index=True),
        sa.Column("city", sa.String(200), nullable=True),
        sa.Column("county", sa.String(200), nullable=True),
        sa.Column("clause", sa.String(40), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("amount", sa.String(40), nullable=True),
        sa.Column("fund", sa.String(200), nullable=True),
        sa.Column("items", sa.Text, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=True),
        sa.Column("policy_sha256", HASH, nullable=False),
        sa.Column("facts_sha256", HASH, nullable=False),
        sa.Column("prev_hash", HASH, nullable=False),
        sa.Column("hash", HASH, nullable=False),
    )
    op.create_table(
        "once_paid",
        sa.Column("person", sa.String(401), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("entry_seq", sa.Integer, sa.ForeignKey("entries.seq"), nullable=False),
        sa.PrimaryKeyConstraint("person", "rule", name="once_paid_per_person"),
    )
    op.create_table(
        "coverage",
        sa.Column("workshop", sa.String(200), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("run_id", HASH, sa.ForeignKey("runs.id"), nullable=False),
        sa.PrimaryKeyConstraint("workshop", "month", name="coverage_one_run_per_month"),
    )
    op.create_table(
        "tallies",
        sa.Column("run_id", HASH, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("workshop", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "target", "workshop", "subject", name="tallies_pk"),
    )
    op.create_table(
        "supersessions",
        sa.Column("old_run", HASH, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("workshop", sa.String(200), nullable=False),
        sa.Column("new_run", HASH, sa.ForeignKey("runs.id"), nullable=False),
        sa.UniqueConstraint("old_run", "workshop", name="supersessions_once"),
    )


def downgrade() -> None:
    for table in ("supersessions", "tallies", "coverage", "once_paid", "entries", "runs", "ledger_head"):
        op.drop_table(table)
