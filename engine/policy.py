"""The loaded policy: clauses, vocabularies, funds, parameters, sets and compiled rules."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Dict, Optional, Tuple

from .compiler import CompiledRule
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


@dataclass(frozen=True)
class ExclusivityGroup:
    id: str
    clause: str
    scope: str
    members: Tuple[str, ...]
    strategy: str  # max / priority
    reading: Optional[str]


@dataclass(frozen=True)
class Policy:
    """A policy ready to evaluate. Build it with :func:`engine.load_policy`."""

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

    def rule(self, rule_id: str) -> CompiledRule:
        return next(r for r in self.rules if r.id == rule_id)

    def label(self, code: str, default: Optional[str] = None) -> str:
        """The people-facing word for an outcome, fund, column or code, as the policy file gives it."""
        if code in self.labels:
            return self.labels[code]
        if code in self.funds:
            return self.funds[code]
        return code if default is None else default
