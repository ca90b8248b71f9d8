"""The ledger: runs and their entries in a database, history read back from them.

One class, :class:`Ledger`, over SQLAlchemy Core: SQLite by default (a file,
nothing to install) or PostgreSQL, chosen by URL. A ledger is created on
purpose (:meth:`Ledger.init`, ``subsidy ledger init URL``); every other use
refuses a URL that holds no ledger (``ledger.missing``). What it does is
done in the modules beside it, one job each:

- ``database``: the URL, the engine, one write transaction at a time (the
  ledger's lock), the problems named after the ledger;
- ``schema``: created on purpose, migrated by Alembic;
- ``held``: the history, payments elsewhere and statuses read to decide a
  facts file, every entry checked against its hash;
- ``prepare``: an evaluation (or a carry-in) made a run ready to record;
- ``recording`` and ``refusals``: the run recorded in one transaction, or
  refused with every reason;
- ``verification``: the chain walked, and the serving tables recomputed
  from the chained record (all of them, or those a recording touches);
- ``model``: what they take and give; ``queries``: what they share.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Sequence, Set, Tuple

from sqlalchemy import select

from ..policy.history import LedgerHistory, LedgerSettings
from . import held, prepare, recording, schema, verification
from .database import Database
from .model import Head, Held, Payer, PreparedRun, RecordOutcome, Verification
from .queries import head_of
from .tables import runs

if TYPE_CHECKING:
    from ..facts.reading import Facts
    from ..policy.model import Policy
    from ..runtime.evaluate import Evaluation
    from .checkpoint import Checkpoint


class Ledger(Database):
    """A payout ledger at ``url``; :func:`subsidy_rules.ledger.open_ledger` checks that one is there and migrates it."""

    # --- the schema -------------------------------------------------------------------------------------------------

    def revision(self) -> Set[str]:
        """The schema revisions the ledger is at (empty: no ledger schema there)."""
        return schema.revision(self)

    def require(self) -> "Ledger":
        """InvalidInput (``ledger.missing``) unless a ledger is at this URL."""
        schema.require(self)
        return self

    def migrate(self) -> "Ledger":
        """Create the schema, or bring it up to this version of the tool (Alembic, under the write lock)."""
        schema.migrate(self)
        return self

    def init(self) -> bool:
        """Create the ledger here (the schema at its newest revision); False if one was here already (then it is
        brought up to date, nothing else changes)."""
        return schema.init(self)

    def head(self) -> Head:
        with self.reading() as conn:
            return head_of(conn)

    # --- history ----------------------------------------------------------------------------------------------------

    def history(self, settings: LedgerSettings, facts: Facts) -> Held:
        """What the ledger holds, from before the facts' period, for every worker and workshop of ``facts``."""
        return held.history(self, settings, facts)

    def paid_elsewhere(self, settings: LedgerSettings, facts: Facts) -> Dict[Tuple[str, str], Payer]:
        """(person, rule) -> the entry that paid it, for each once-per-person rule a history field of the facts
        reads, paid in the period evaluated or later by a run this one does not replace (see
        :func:`held.paid_elsewhere`)."""
        return held.paid_elsewhere(self, settings, facts)

    def statuses(self, policy: Policy, facts: Facts) -> Dict[Tuple[str, str], Dict[str, dict]]:
        """For every workshop of ``facts`` and status of ``policy``: the latest grant and end the ledger recorded
        before the facts' period (see :func:`held.statuses`)."""
        return held.statuses(self, policy, facts)

    # --- recording --------------------------------------------------------------------------------------------------

    def prepare(self, evaluation: Evaluation, settings: LedgerSettings, held: LedgerHistory) -> PreparedRun:
        """The entries of ``evaluation`` (every decision but denied ones, made with ``tally=True``) and the run's
        identity."""
        return prepare.prepare(evaluation, settings, held)

    def prepare_carry_in(self, policy: Policy, settings: LedgerSettings, facts: Facts) -> PreparedRun:
        """Opening entries for the history ``facts`` states (paid before the ledger was kept), as of the day
        before the facts' period: what a county brings in from its earlier records, once."""
        return prepare.prepare_carry_in(policy, settings, facts)

    def record(self, run: PreparedRun, settings: LedgerSettings, *, supersede: bool = False, reason: str = "",
               tool_version: str = "") -> RecordOutcome:
        """Store ``run`` in one transaction; InvalidInput naming every reason it cannot be recorded."""
        return recording.record(self, run, settings, supersede=supersede, reason=reason, tool_version=tool_version)

    # --- reading ----------------------------------------------------------------------------------------------------

    def runs(self) -> List[Dict[str, Any]]:
        with self.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(select(runs).order_by(runs.c.seq))]

    def verify(self, checkpoints: Sequence[Checkpoint] = ()) -> Verification:
        """Every break in the hash chain and every difference between the serving tables and what the chained
        record implies, the first first; and, for each signed checkpoint given, whether the ledger still holds what
        it signed."""
        return verification.verify(self, checkpoints)
