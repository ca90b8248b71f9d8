"""Every guarantee chained: each run states its claims (the workshops and months it took, the runs it replaced for
each workshop, the rules it paid once per person) and a chain hash linking it, its claims and its last entry to the
run before it; the head keeps the last chain hash.

Existing runs keep their own hashes (nothing recorded is rewritten): their claims are adopted from what the serving
tables hold at the time of the upgrade, and their chain hashes are computed over them, so from then on every
difference between those tables and the record is named by ``ledger verify``.

Revision ID: 0003
Revises: 0002
"""
import datetime as dt
from typing import Dict, List, Optional, Set

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("claims", sa.Text, nullable=True))
        batch.add_column(sa.Column("chain", sa.String(64), nullable=True))
    with op.batch_alter_table("ledger_head") as batch:
        batch.add_column(sa.Column("chain", sa.String(64), nullable=True))
    _adopt(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("ledger_head") as batch:
        batch.drop_column("chain")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("chain")
        batch.drop_column("claims")


def _months(start: str, end: str) -> List[str]:
    """The calendar months a period touches (as the ledger has always claimed them)."""
    first, last = dt.date.fromisoformat(start).replace(day=1), dt.date.fromisoformat(end)
    out = []
    while first <= last:
        out.append(first.strftime("%Y-%m"))
        first = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return out


def _adopt(conn: Connection) -> None:
    from subsidy_rules.ledger import chain

    runs = sa.table("runs", *(sa.column(c) for c in chain.RUN_FIELDS + ("hash", "claims", "chain")))
    entries = sa.table("entries", sa.column("seq"), sa.column("run_id"), sa.column("kind"), sa.column("workshop"),
                       sa.column("hash"))
    coverage = sa.table("coverage", sa.column("workshop"), sa.column("run_id"))
    supersessions = sa.table("supersessions", sa.column("old_run"), sa.column("workshop"), sa.column("new_run"))
    once_paid = sa.table("once_paid", sa.column("rule"))
    head = sa.table("ledger_head", sa.column("id"), sa.column("chain"))

    once = sorted({r for (r,) in conn.execute(sa.select(once_paid.c.rule).distinct())})
    shops: Dict[str, Set[str]] = {}  # run id -> the workshops it holds
    for shop, run_id in conn.execute(sa.select(coverage.c.workshop, coverage.c.run_id)):
        shops.setdefault(run_id, set()).add(shop)
    replaced: Dict[str, Dict[str, Set[str]]] = {}  # new run id -> workshop -> the runs it replaced there
    for old, shop, new in conn.execute(sa.select(supersessions.c.old_run, supersessions.c.workshop,
                                                 supersessions.c.new_run)):
        shops.setdefault(old, set()).add(shop)
        replaced.setdefault(new, {}).setdefault(shop, set()).add(old)
    for run_id, shop in conn.execute(sa.select(entries.c.run_id, entries.c.workshop).distinct()
                                     .where(entries.c.kind == "decision")):
        shops.setdefault(run_id, set()).add(shop)

    prev_chain = GENESIS
    entry_end: Optional[str] = GENESIS
    for row in conn.execute(sa.select(runs).order_by(runs.c.seq)).mappings().all():
        if row["kind"] == "carry_in":
            workshops, months = [], []
        else:
            workshops, months = sorted(shops.get(row["id"], ())), _months(row["period_start"], row["period_end"])
        claims = chain.claims_text({
            "workshops": workshops, "months": months,
            "supersedes": {w: sorted(o) for w, o in sorted(replaced.get(row["id"], {}).items())},
            "once_per_person": once})
        if row["entry_count"]:
            entry_end = conn.execute(sa.select(entries.c.hash).where(
                entries.c.seq == row["first_entry"] + row["entry_count"] - 1)).scalar()
        link = chain.run_link(prev_chain, row, claims, entry_end)
        conn.execute(sa.update(runs).where(runs.c.id == row["id"]).values(claims=claims, chain=link))
        prev_chain = link
    conn.execute(sa.update(head).where(head.c.id == 1).values(chain=prev_chain))
