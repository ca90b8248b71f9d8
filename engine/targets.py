"""A policy's targets, tallied on facts: which workshops and workers each target counts.

A target (``ledger.targets`` in the policy) counts workshops or workers for
which its ``where`` condition holds once the rules have run (so it can read
derived facts such as ``workshop.certified``). The ledger stores the tally of
each recorded run; its report counts distinct subjects against the target.
"""
from __future__ import annotations

import decimal
from typing import Dict, List, Tuple

from .backends.core import CoreBackend
from .compiler import EvalError, _truth
from .evaluate import PRECISION
from .facts import Facts, build_records
from .policy import Policy
from .problems import InvalidInput, Problem

#: target id -> ((workshop id, subject id), ...)
Tally = Dict[str, Tuple[Tuple[str, str], ...]]


def tally(policy: Policy, facts: Facts) -> Tally:
    """For each target of ``policy``, the subjects of ``facts`` it counts; InvalidInput if a target cannot be read."""
    targets = policy.ledger.targets if policy.ledger else ()
    out: Dict[str, List[Tuple[str, str]]] = {t.id: [] for t in targets}
    if not targets:
        return {}
    problems: List[Problem] = []
    runner = CoreBackend()
    with decimal.localcontext() as ctx:
        ctx.prec = PRECISION
        for index in range(len(facts.workshops)):
            shop = build_records(facts, index, tracing=False)
            runner.run(policy, shop)
            for target in targets:
                subjects = (shop,) if target.counts == "workshop" else shop.children["workers"]
                for subject in subjects:
                    try:
                        counted = _truth(target.where.fn(dict(subject.env)), target.where.ast)
                    except EvalError as exc:
                        problems.append(Problem(exc.code, f"{subject.kind} {subject.id}: target {target.id} cannot be "
                                                f"counted: {exc.message}", subject.pointer,
                                                facts.doc.locate(subject.pointer),
                                                hint=f"in `{target.where.text}` at {target.where.location}"))
                        continue
                    if counted:
                        out[target.id].append((shop.id, subject.id))
    if problems:
        raise InvalidInput(problems)
    return {k: tuple(v) for k, v in out.items()}
