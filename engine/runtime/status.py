"""Statuses held over time: a title granted once and kept until a rule ends it.

A policy's ``statuses:`` section names a derived fact (``workshop.certified``)
that is a standing, not a test re-run every period. At the start of a period a
subject's standing comes from the grant and end its facts state (or, with a
payout ledger, that the ledger recorded before the period):

- ``held``: a grant dated on or before the period end and no end dated after
  it. The flag holds for the whole period by the grant's route; the route's
  rule is not tested again, and its decision cites the grant instead.
- ``ended``: the latest end is after the latest grant. The flag does not hold;
  with ``after_end: stated`` no route's rule grants it again.
- ``none``: the routes' rules decide in this evaluation, in the order the
  routes are listed: a route applies only if no earlier route's rule holds.

The rules that end a status (``ended_by``) apply only to a standing held
before the period; their decision takes effect the day after the period ends.
This module decides which of those rules may be applied and makes the
decision of a held standing; the backends call it, so both agree.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, List, Optional, Tuple, cast

from . import trace as T
from ..facts.model import Record
from ..policy.model import Policy, Status
from ..problems import InputFault

if TYPE_CHECKING:
    from .firing import Result
    from ..lang.compiled import CompiledRule

#: The key under which the facts reader or the ledger notes where a stated grant or end was read from.
SOURCE = "$source"


@dataclass(frozen=True)
class Standing:
    state: str  # held / ended / none
    route: Optional[str] = None
    since: Optional[_dt.date] = None  # the grant's date
    source: str = ""  # where the grant was read from
    ended_on: Optional[_dt.date] = None
    end_source: str = ""


def standing(status: Status, subject: Record) -> Standing:
    """The standing of ``subject`` under ``status`` at the start of the evaluated period."""
    granted = subject.data.get(status.granted_field) or None
    ended = subject.data.get(status.ended_field) or None
    end_on = ended["on"] if ended else None
    end_source = ended.get(SOURCE, "") if ended else ""
    if granted and (end_on is None or end_on <= granted["on"]):  # an end on the grant's own day does not undo it
        return Standing("held", granted["route"], granted["on"], granted.get(SOURCE, ""), end_on, end_source)
    if ended:
        return Standing("ended", None, granted["on"] if granted else None, granted.get(SOURCE, "") if granted else "",
                        end_on, end_source)
    return Standing("none")


class StatusError(InputFault):
    """A status is held by a route this policy does not have (recorded under another policy)."""

    def __init__(self, subject: Record, status: Status, held: Standing) -> None:
        super().__init__(f"{subject.kind} {subject.id} holds {status.label} by route {held.route!r} ({held.source}), "
                         "which this policy does not have")
        self.subject, self.status, self.held = subject, status, held


def _holder(subject: Record, kind: str) -> Record:
    return subject if subject.kind == kind else subject.workshop()


@dataclass(frozen=True)
class Bar:
    """Why a status bars a rule for a subject: a :data:`~subsidy_rules.runtime.trace.NOT_REACHED` code, what it
    names (status, dates, route) and the engine's own line."""

    code: str
    reason: str
    details: Tuple[Tuple[str, Any], ...] = ()


def gate(policy: Policy, rule: CompiledRule, subject: Record) -> Optional[Bar]:
    """Why ``rule`` must not be applied to ``subject`` because of a status, or None if it may be."""
    found = policy.status_of_rule(rule.id)
    if found is None:
        return None
    status, route = found
    held = standing(status, _holder(subject, status.subject))
    label = subject.ctx.label(status.label)
    named: Tuple[Tuple[str, Any], ...] = (("status", status.id),)
    if route is None:  # a rule that ends the status
        if held.state == "held":
            return None
        if held.state == "ended":
            assert held.ended_on is not None  # an ended standing has its end's date
            return Bar("ended", f"{rule.clause} {rule.label}: {label} already ended on {held.ended_on.isoformat()}",
                       named + (("on", held.ended_on),))
        return Bar("not_held", f"{rule.clause} {rule.label}: applies only to a {status.subject} holding {label} from "
                   "before this period", named)
    if held.state == "held":
        assert held.since is not None  # a held standing has its grant's date
        return Bar("held", f"{rule.clause} {rule.label}: {label} is held since {held.since.isoformat()} by route "
                   f"{held.route} ({held.source}); it is not tested again",
                   named + (("since", held.since), ("route", held.route), ("source", held.source)))
    if held.state == "ended" and status.after_end == "stated":
        assert held.ended_on is not None
        return Bar("ended_stated", f"{rule.clause} {rule.label}: {label} ended on {held.ended_on.isoformat()} "
                   f"({held.end_source}); only a grant stated after that date restores it",
                   named + (("on", held.ended_on), ("source", held.end_source)))
    from .firing import verdicts
    for earlier in status.routes:
        if earlier is route:
            break
        other = policy.rule(earlier.rule)
        if all(verdicts(other, subject)):
            return Bar("other_route", f"{rule.clause} {rule.label}: granted by route {earlier.route} ({other.clause} "
                       f"{other.label}) instead", named + (("route", earlier.route), ("rule", other.id)))
    return None


def held_results(policy: Policy, shop: Record) -> List[Result]:
    """The decision of every standing held before the period, its flag asserted with its route (before any rule
    runs). Returns firing results, one per held status and subject."""
    from .backends import subjects_of
    from .firing import Result
    out: List[Result] = []
    for status in policy.statuses:
        for subject in subjects_of(shop, status.subject):
            held = standing(status, subject)
            if held.state != "held":
                continue
            assert held.route is not None and held.since is not None  # a held standing has its grant's route and date
            route = status.route(held.route)
            if route is None:  # a route recorded under a policy that had it (facts naming one are refused earlier)
                raise StatusError(subject, status, held)
            rule = policy.rule(route.rule)
            subject.assert_flag(status.flag, rule.id, rule.clause)
            subject.routes[status.flag] = held.route
            details = (("route", held.route), ("basis", "held"), ("since", held.since), ("source", held.source))
            out.append(Result(rule, subject, True, None, (), None, details=details,
                              trace=partial(_held_trace, policy, status, rule, subject, held, details)))
    return out


def _held_trace(policy: Policy, status: Status, rule: CompiledRule, subject: Record, held: Standing,
                details: Tuple[Tuple[str, Any], ...]) -> Result:
    from .firing import Result, opening_events
    events = tuple(opening_events(rule, subject, policy)) + (
        # a status's label is text, so is its filled form; a held standing has its grant's route and date
        T.Held(cast(str, subject.ctx.label(status.label)), cast(str, held.route), cast(_dt.date, held.since),
               held.source, held.ended_on),
        T.Outcome(rule.decides, None, None))
    return Result(rule, subject, True, None, events, None, details=details)


def decided_details(policy: Policy, rule: CompiledRule, subject: Record) -> Tuple[Tuple[str, Any], ...]:
    """What a decision of a status rule made in this evaluation states: the route and date of a grant, or the day
    an end takes effect."""
    found = policy.status_of_rule(rule.id)
    if found is None:
        return ()
    status, route = found
    period = subject.ctx.period.data
    if route is not None:
        return (("route", route.route), ("basis", "decided"), ("since", period["start"]))
    return (("effective", period["end"] + _dt.timedelta(days=1)),)


def assert_route(policy: Policy, rule: CompiledRule, subject: Record) -> None:
    """After a route's rule fired: the flag it asserted is held by its route."""
    found = policy.status_of_rule(rule.id)
    if found is not None and found[1] is not None:
        subject.routes[found[0].flag] = found[1].route
