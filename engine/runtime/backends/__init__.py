"""Backends: what runs the compiled rules of one workshop.

A backend takes a compiled :class:`~subsidy_rules.policy.model.Policy` and the record tree
of one workshop, and returns every activation's :class:`~subsidy_rules.runtime.firing.Result`
plus the (rule, subject) pairs whose requirements never held. What a rule
yields is decided by :mod:`subsidy_rules.runtime.firing`, shared by all backends; a backend
owns only the agenda: which rule runs for which subject, and in what order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Tuple

from ...lang.compiled import CompiledRule
from ..firing import Result
from ...facts.model import Record
from ...policy.model import Policy


@dataclass(frozen=True)
class WorkshopRun:
    results: Tuple[Result, ...]
    not_activated: Tuple[Tuple[CompiledRule, Record], ...]


def subjects_of(workshop: Record, kind: str) -> Tuple[Record, ...]:
    if kind == "workshop":
        return (workshop,)
    return workshop.children["workers" if kind == "worker" else "loans"]


def holder(subject: Record, kind: str) -> Record:
    return subject if subject.kind == kind else subject.workshop()


class Backend(Protocol):
    """What runs the compiled rules of one workshop: every activation's result, and what was never activated."""

    name: str

    def run(self, policy: Policy, workshop: Record) -> WorkshopRun:
        ...


def get(name: str) -> Backend:
    """The backend called ``name`` ("core", or "durable" when durable-rules is installed)."""
    if name == "core":
        from .core import CoreBackend
        return CoreBackend()
    if name == "durable":
        from .durable import DurableBackend
        return DurableBackend()
    raise KeyError(name)


NAMES = ("core", "durable")
