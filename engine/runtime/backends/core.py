"""The core backend: an agenda-based forward chainer over compiled closures.

Working memory is the workshop's record tree plus the flags rules assert.
A rule is activated for a subject when every flag it requires holds; rules
without requirements are activated at the start. The agenda runs activations
in a fixed order (stratum, rule position in the file, subject position), so a
rule never reads a flag before every rule that may assert it has run. An
asserted flag activates the rules that require it. Firings are counted; a
policy that exceeds its firing limit stops with an error, not a hang.
"""
from __future__ import annotations

import heapq
from functools import partial
from typing import Dict, List, Set, Tuple

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
        rules = policy.rules
        order = {r.id: n for n, r in enumerate(rules)}
        by_flag: Dict[Tuple[str, str], List[CompiledRule]] = {}
        for rule in rules:
            for req in rule.requires:
                by_flag.setdefault((req.holder, req.flag), []).append(rule)
        agenda: List[Tuple[int, int, int, int]] = []
        queued: Set[Tuple[int, int]] = set()
        subjects: Dict[int, Record] = {}

        def push(rule: CompiledRule, subject: Record) -> None:
            key = (order[rule.id], id(subject))
            if key in queued:
                return
            if all(req.met(holder(subject, req.holder)) for req in rule.requires):
                queued.add(key)
                subjects[id(subject)] = subject
                heapq.heappush(agenda, (rule.stratum, order[rule.id], subject.position, id(subject)))

        results = held_results(policy, workshop)  # statuses held from before the period: decided, not tested
        for held in results:
            queued.add((order[held.rule.id], id(held.subject)))
        for rule in rules:
            for subject in subjects_of(workshop, rule.subject):
                push(rule, subject)

        firings = 0
        recording = workshop.ctx.data_only  # traces wanted as data only: a rule whose conditions hold is recorded at once
        while agenda:
            _, n, _, sid = heapq.heappop(agenda)
            rule, subject = rules[n], subjects[sid]
            barred = gate(policy, rule, subject)
            if barred is not None:
                results.append(not_applied(rule, subject, policy, barred))
                continue
            result = (apply_recorded if recording else apply)(rule, subject, policy)
            results.append(result)
            if not result.fired:
                continue
            firings += 1
            if firings > policy.firing_limit:
                raise FiringLimitExceeded(policy.firing_limit, workshop.id)
            if rule.asserts:
                subject.assert_flag(rule.asserts, rule.id, rule.clause)
                assert_route(policy, rule, subject)
                for dependent in by_flag.get((subject.kind, rule.asserts), ()):
                    for target in subjects_of(workshop, dependent.subject):
                        if holder(target, subject.kind) is subject:
                            push(dependent, target)

        not_activated = tuple((rule, subject) for rule in rules for subject in subjects_of(workshop, rule.subject)
                              if (order[rule.id], id(subject)) not in queued)
        return WorkshopRun(tuple(results), not_activated)
