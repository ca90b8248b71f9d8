"""The loaded policy: clauses, vocabularies, funds, parameters, sets and compiled rules."""
from __future__ import annotations

import datetime as _dt
import difflib
from dataclasses import dataclass, field
from functools import cached_property
from decimal import Decimal
from typing import Dict, Optional, Tuple

from ..lang.compiled import CompiledExpr, CompiledRule
from .history import LedgerSettings
from .parameters import Parameter


@dataclass(frozen=True)
class Clause:
    id: str
    section: str
    heading: str
    kind: str  # rules / guidance
    text: str
    pointer: str


@dataclass(frozen=True)
class Vocabulary:
    name: str
    label: str
    fields: Tuple[str, ...]
    codes: Dict[str, str]  # code -> label

    def code_named(self, text: str) -> Optional[str]:
        """The code ``text`` names by its label (what a roster's drop-down offers), or None."""
        for code, label in self.codes.items():
            if text == label:
                return code
        return None

    def nearest(self, text: str) -> Optional[str]:
        """The code whose code or label is nearest to ``text`` (a slip's likely meaning), or None."""
        labels = {label: code for code, label in self.codes.items()}
        near = difflib.get_close_matches(text, list(self.codes) + list(labels), n=1)
        return labels.get(near[0], near[0]) if near else None


@dataclass(frozen=True)
class ExclusivityGroup:
    id: str
    clause: str
    scope: str
    members: Tuple[str, ...]
    strategy: str  # max / priority / top_up
    reading: Optional[str]
    paid_before: Tuple[Tuple[str, CompiledExpr], ...] = ()  # member -> what earlier periods paid it (top_up)


@dataclass(frozen=True)
class Route:
    route: str
    rule: str  # the rule that grants the status by this route in an evaluation
    opens: Optional[Tuple[str, ...]]  # the rules requiring the flag this route opens; None: all of them
    reading: Optional[str] = None


@dataclass(frozen=True)
class Status:
    """A standing held over time (a title): granted by a route's rule or stated in the facts, ended by rules."""

    id: str
    flag: str
    subject: str
    label: str
    granted_field: str  # facts field {on, route}: a grant made before the period
    ended_field: str  # facts field {on}: an end
    routes: Tuple[Route, ...]
    ended_by: Tuple[str, ...]
    after_end: str  # stated / rules
    reading: Optional[str] = None

    def route(self, name: str) -> Optional[Route]:
        return next((r for r in self.routes if r.route == name), None)

    def route_of_rule(self, rule_id: str) -> Optional[Route]:
        return next((r for r in self.routes if r.rule == rule_id), None)


@dataclass(frozen=True)
class FactsCheck:
    id: str
    subject: str
    test: CompiledExpr
    field: str
    message: str
    hint: Optional[str]


@dataclass(frozen=True)
class ComputedValue:
    """A computed value as the policy defines it (``computed:``): its formula as written, label and clause."""

    name: str  # kind.field, e.g. worker.retirement_date
    formula: str
    label: Optional[str] = None
    clause: Optional[str] = None


@dataclass(frozen=True)
class Policy:
    """A policy ready to evaluate. Build it with :func:`subsidy_rules.load_policy`."""

    id: str
    title: str
    document: str
    path: str
    sha256: str
    clauses: Dict[str, Clause]
    vocabularies: Dict[str, Vocabulary]
    field_codes: Dict[Tuple[str, str], Vocabulary]  # (kind, field) -> vocabulary
    funds: Dict[str, str]  # code -> label
    parameters: Dict[str, Parameter]
    sets: Dict[str, frozenset]
    rules: Tuple[CompiledRule, ...]  # in agenda order: stratum, then file order
    exclusivity: Tuple[ExclusivityGroup, ...]
    quantum: Decimal
    rounding: str
    firing_limit: int
    labels: Dict[str, str]
    sources: Tuple[Tuple[str, str], ...] = ()  # (path, sha256) of the policy file and every file it extends
    ledger: Optional[LedgerSettings] = None  # what the payout ledger remembers (the `ledger:` section)
    statuses: Tuple[Status, ...] = ()
    facts_checks: Tuple[FactsCheck, ...] = ()
    in_force: Optional[_dt.date] = None  # the first day the measures apply
    computed: Tuple[ComputedValue, ...] = ()  # in file order
    origins: Dict[str, str] = field(default_factory=dict)  # parameter -> the policy file its values come from

    def status_of_rule(self, rule_id: str) -> Optional[Tuple[Status, Optional[Route]]]:
        """The status a rule grants (with its route) or ends (route None), if any: asked for every activation, so
        looked up in a map made once per policy."""
        return self._status_rules.get(rule_id)

    @cached_property
    def _status_rules(self) -> Dict[str, Tuple[Status, Optional[Route]]]:
        found: Dict[str, Tuple[Status, Optional[Route]]] = {}
        for status in self.statuses:
            for rule_id in status.ended_by:
                found.setdefault(rule_id, (status, None))
            for route in status.routes:
                found.setdefault(route.rule, (status, route))
        return found

    def rule(self, rule_id: str) -> CompiledRule:
        return self._rules_by_id[rule_id]

    @cached_property
    def _rules_by_id(self) -> Dict[str, CompiledRule]:
        return {r.id: r for r in self.rules}

    def label(self, code: str, default: Optional[str] = None) -> str:
        """The people-facing word for an outcome, fund, column or code, as the policy file gives it."""
        if code in self.labels:
            return self.labels[code]
        if code in self.funds:
            return self.funds[code]
        return code if default is None else default
