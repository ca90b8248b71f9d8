"""A policy's targets, counted on a decided workshop: which workshops and workers each target counts.

A target (``ledger.targets`` in the policy) counts workshops or workers for
which its ``where`` condition holds once the rules have run (so it can read
derived facts such as ``workshop.certified``). An evaluation made with
``tally=True`` counts them as it decides each workshop; the ledger stores the
tally of each recorded run and its report counts distinct subjects against the
target.
"""
from __future__ import annotations

from typing import List, Tuple

from ..lang.compiled import EvalError, truth as _truth
from ..facts.model import Record
from ..policy.history import Target
from ..policy.model import Policy
from ..problems import InputFault

#: (target id, workshop id, subject id)
Tally = Tuple[str, str, str]


class TargetError(InputFault):
    """A target's condition could not be read for a subject; carries both."""

    def __init__(self, error: EvalError, target: Target, subject: Record) -> None:
        super().__init__(error.message)
        self.error, self.target, self.subject = error, target, subject


def count(policy: Policy, shop: Record) -> List[Tally]:
    """What each of ``policy``'s targets counts in ``shop``, a workshop's record tree after its rules have run."""
    out: List[Tally] = []
    for target in policy.ledger.targets if policy.ledger else ():
        subjects = (shop,) if target.counts == "workshop" else shop.children["workers"]
        for subject in subjects:
            try:
                counted = _truth(target.where.fn(dict(subject.env)), target.where.ast)
            except EvalError as exc:
                raise TargetError(exc, target, subject) from None
            if counted:
                out.append((target.id, shop.id, subject.id))
    return out
