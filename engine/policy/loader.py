"""Load a policy file: read it safely, check it against the schema, check its
references, compile its expressions (:mod:`.stages`, one stage after another, over
the parts of :mod:`.parts`). Every problem found is reported at once, sorted, with
its ``file:line:col``; nothing half-loaded is ever returned.
"""
from __future__ import annotations

from typing import List, Tuple

from .model import Policy
from .overlay import read_policy_document
from .parts import never_fires
from .stages import STAGES, build_policy
from ..problems import WARNING, InvalidInput, Problem

__all__ = ["STAGES", "build_policy", "check_policy", "load_policy", "never_fires"]


def load_policy(path: str) -> Policy:
    """Read, check and compile the policy at ``path`` (and any file it extends); raise InvalidInput with every problem."""
    return check_policy(path)[0]


def check_policy(path: str) -> Tuple[Policy, List[Problem]]:
    """Like :func:`load_policy`, but also returns the warnings; raises only on errors."""
    doc, files = read_policy_document(path)
    policy, problems = build_policy(doc, files)
    if policy is None or any(p.severity != WARNING for p in problems):
        raise InvalidInput(problems)
    return policy, problems
