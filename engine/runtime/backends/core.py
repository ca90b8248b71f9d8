"""The core backend: a forward chainer over compiled closures, run as a stratified sweep.

Working memory is the workshop's record tree plus the flags rules assert (only ever asserted, never withdrawn).
Rules run in agenda order: stratum, then position in the file, each over its subjects in their order. The strata
put every rule after every rule that may assert a flag it reads (lang.strata), so by a rule's turn each flag it
requires has been asserted, or never will be in this workshop: the rule is activated for a subject exactly when
every flag it requires holds then, and the sweep yields the activations, in the order, that an agenda woken by
each assertion would (the durable-rules backend, which is such an agenda, is held to the same decisions).
Firings are counted; a policy that exceeds its firing limit stops with an error, not a hang.
"""
from __future__ import annotations

from functools import partial
from typing import List, Tuple

from .. import trace as T
from ..firing import Result, apply, opening_events
from ..recording import apply_recorded
from ...facts.model import Record
from ...lang.compiled import CompiledRule
from ...policy.model import Policy
from ...problems import InputFault
from ..status import Bar, assert_route, gate, held_results
from . import WorkshopRun, holder, subjects_of


class FiringLimitExceeded(InputFault):
    def __init__(self, limit: int, workshop: str) -> None:
        super().__init__(f"more than {limit} rule firings for workshop {workshop}: the policy does not settle")
        self.limit, self.workshop = limit, workshop


def not_applied(rule: CompiledRule, subject: Record, policy: Policy, bar: Bar) -> Result:
    """The result of a rule a status bars for this subject (a :class:`~subsidy_rules.runtime.status.Bar`: held,
    ended, or granted by another route); its trace is built only if it becomes a decision."""
    return Result(rule, subject, False, None, (), bar.reason, trace=partial(_barred, rule, subject, policy, bar))


def _barred(rule: CompiledRule, subject: Record, policy: Policy, bar: Bar) -> Result:
    events = tuple(opening_events(rule, subject, policy)) + (T.NotReached(bar.reason, bar.code, bar.details),)
    return Result(rule, subject, False, None, events, bar.reason)


class CoreBackend:
    name = "core"

    def run(self, policy: Policy, workshop: Record) -> WorkshopRun:
        results = held_results(policy, workshop)  # statuses held from before the period: decided, not tested
        held = {(id(r.rule), id(r.subject)) for r in results}
        not_activated: List[Tuple[CompiledRule, Record]] = []
        firings = 0
        # traces wanted as data only: a rule whose conditions hold is recorded at once
        decide = apply_recorded if workshop.ctx.data_only else apply
        for rule in policy.rules:  # in agenda order
            requires = rule.requires
            gated = policy.status_of_rule(rule.id) is not None  # a rule that grants or ends a status
            for subject in subjects_of(workshop, rule.subject):
                if held and (id(rule), id(subject)) in held:
                    continue
                if requires and not all(req.met(holder(subject, req.holder)) for req in requires):
                    not_activated.append((rule, subject))
                    continue
                barred = gate(policy, rule, subject) if gated else None
                if barred is not None:
                    results.append(not_applied(rule, subject, policy, barred))
                    continue
                result = decide(rule, subject, policy)
                results.append(result)
                if not result.fired:
                    continue
                firings += 1
                if firings > policy.firing_limit:
                    raise FiringLimitExceeded(policy.firing_limit, workshop.id)
                if rule.asserts:
                    subject.assert_flag(rule.asserts, rule.id, rule.clause)
                    assert_route(policy, rule, subject)
        return WorkshopRun(tuple(results), tuple(not_activated))
