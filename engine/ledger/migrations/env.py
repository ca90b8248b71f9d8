"""Alembic's entry point for the ledger's migrations; the ledger passes its open connection."""
from alembic import context

from subsidy_rules.ledger.schema import VERSION_TABLE

context.configure(connection=context.config.attributes["connection"], target_metadata=None,
                  version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
