"""Entries state what a decision says besides its amount: a certification's route and date, the day a revocation
takes effect, the parameter values a pending decision waits for (JSON text; null for entries without any).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("details", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("details")
