"""durable-rules as a second backend: the same compiled rules, another forward-chaining engine.

What durable-rules decides here, in its own Rete network: which rule is
activated for which subject (the join of a subject with the flags it requires
and the stratum being run), whether all of a rule's conditions hold (a join
on the verdict of each condition, in order), and the chaining of asserted
flags (``certified``, ``revoked``) to the rules that require them. What it
shares with the core: the compiled closures that evaluate one condition and
the code that works out an amount (:mod:`subsidy_rules.runtime.firing`). A disagreement
between the two backends therefore points at activation, chaining,
stratification or exclusivity.

Kept to what durable-rules 2.0.28 was measured to do safely (see the
project's evidence): a private ``Host``, never ``durable.lang``'s global one;
one session per workshop, deleted in ``finally``; only equality tests on
strings and whole numbers (no existence tests, no ``$in``, no floats, no
writes to session state); facts asserted one at a time, each guarded for
``MessageNotHandledException`` and ``MessageObservedException``; exceptions
inside actions caught by the action itself and re-raised after the assert,
and the session's ``exception`` checked after every workshop; a firing limit
inside the generic action. A changed policy gets a ruleset of its own name,
so reloading works in one process (durable-rules cannot unregister a
ruleset; each one loaded stays in memory for the life of the process).
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

try:
    from durable.engine import Host, MessageNotHandledException, MessageObservedException
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("durable-rules is not installed; install the extra: pip install '.[durable]'") from exc

from ..firing import Result, RuleError, apply, verdicts
from ...facts.model import Record
from ...policy.model import Policy
from ...problems import EngineFault
from ..status import assert_route, gate, held_results
from . import WorkshopRun, subjects_of
from .core import FiringLimitExceeded, not_applied

_LOCK = threading.Lock()
_HOST: Optional[Host] = None
_NAMES = itertools.count()
_RULESETS: Dict[int, str] = {}  # id(policy) -> ruleset name
_POLICIES: Dict[str, Policy] = {}  # ruleset name -> policy
_SESSIONS: Dict[str, "_Session"] = {}  # sid -> the workshop being run


class DurableError(EngineFault):
    """durable-rules refused or lost something; the run cannot be trusted."""


@dataclass
class _Session:
    policy: Policy
    subjects: Dict[int, Record]
    results: List[Result] = field(default_factory=list)
    activated: Set[Tuple[int, int]] = field(default_factory=set)  # (rule index, subject key)
    held: Set[Tuple[int, int]] = field(default_factory=set)  # (rule index, subject key) decided by a status held from before
    errors: List[BaseException] = field(default_factory=list)
    firings: int = 0


class _SynchronousHost(Host):
    """A private Host without durable-rules' background dispatcher.

    ``Host()`` starts a thread that polls every ruleset for pending actions
    every 0.2 s. Here every action runs synchronously inside ``assert_fact``;
    the poller starting actions on the same session at the same time made
    durable-rules fail ("Could not complete and start action, error code 307")
    and once crashed the process. No timers or asynchronous actions are used,
    so nothing needs the poller.
    """

    def _run(self) -> None:
        pass


def _host() -> Host:
    global _HOST
    if _HOST is None:
        _HOST = _SynchronousHost()
    return _HOST


def _ruleset_for(policy: Policy) -> str:
    with _LOCK:
        name = _RULESETS.get(id(policy))
        if name is not None and _POLICIES.get(name) is policy:
            return name
        name = f"policy_{policy.id}_{policy.sha256[:12]}_{next(_NAMES)}"
        _host().set_rulesets({name: _definition(policy)})
        _RULESETS[id(policy)] = name
        _POLICIES[name] = policy
        return name


def _definition(policy: Policy) -> dict:
    """The policy's compiled rules as a durable-rules ruleset (its dict form), with generic actions."""
    rules = {}
    for n, rule in enumerate(policy.rules):
        join = [{"lvl": {"$and": [{"t": "stratum"}, {"level": rule.stratum}]}},
                {"subj": {"$and": [{"t": "subject"}, {"kind": rule.subject}]}}]
        # a status flag opens the rule only on some routes: one activation per route (durable-rules has no $in)
        choices: List[List[dict]] = [[]]
        for j, req in enumerate(rule.requires):
            tests = [{"t": "flag"}, {"flag": req.flag}, {"holder": {"subj": f"{req.holder}_key"}}]
            routes = sorted(req.routes) if req.routes is not None else [None]
            choices = [c + [{f"req{j}": {"$and": tests + ([{"route": r}] if r is not None else [])}}]
                       for c in choices for r in routes]
        for k, extra in enumerate(choices):
            rules[f"r{n}_activate_{k}"] = {"all": join + extra, "run": _activate(n)}
        holds = [{"t": "verdict"}, {"rule": n}] + [{f"c{j}": 1} for j in range(len(rule.when))]
        rules[f"r{n}_fire"] = {"all": [{"v": {"$and": holds}}], "run": _fire(n)}
    return rules


#: What an action of the ruleset does, given durable-rules' context (untyped) and the workshop's session.
_Action = Callable[[Any, _Session], None]


def _guarded(action: _Action) -> Callable[[Any], None]:
    def run(c: Any) -> None:
        session = _SESSIONS.get(c._m and next(iter(c._m.values())).get("sid"))
        if session is None or session.errors:
            return
        try:
            action(c, session)
        except BaseException as exc:  # never let durable-rules swallow it
            session.errors.append(exc)
    return run


def _assert(c_or_host: Any, fact: dict, ruleset: Optional[str] = None) -> None:
    try:
        if ruleset is None:
            c_or_host.assert_fact(fact)
        else:
            c_or_host.assert_fact(ruleset, fact)
    except MessageNotHandledException:
        pass  # a fact no rule waits for (a failed verdict): nothing to do
    except MessageObservedException:
        raise DurableError(f"durable-rules says it has already seen fact {fact.get('id')!r} "
                           "(its 32-bit fact hash collided); the run cannot be trusted") from None


def _activate(n: int) -> Callable[[Any], None]:
    @_guarded
    def action(c: Any, session: _Session) -> None:
        rule = session.policy.rules[n]
        key = c.subj.key
        subject = session.subjects[key]
        if (n, key) in session.held or (n, key) in session.activated:
            return
        session.activated.add((n, key))
        barred = gate(session.policy, rule, subject)
        if barred is not None:
            session.results.append(not_applied(rule, subject, session.policy, barred))
            return
        found = verdicts(rule, subject)
        fact = {"sid": c.subj.sid, "id": f"v{n}:{key}", "t": "verdict", "rule": n, "key": key}
        fact.update({f"c{j}": int(v) for j, v in enumerate(found)})
        if not all(found):
            session.results.append(apply(rule, subject, session.policy))  # the denied result, with its reason
        _assert(c, fact)
    return action


def _fire(n: int) -> Callable[[Any], None]:
    @_guarded
    def action(c: Any, session: _Session) -> None:
        policy = session.policy
        rule = policy.rules[n]
        key = c.v.key
        subject = session.subjects[key]
        result = apply(rule, subject, policy)
        session.results.append(result)
        if not result.fired:
            return
        session.firings += 1
        if session.firings > policy.firing_limit:
            raise FiringLimitExceeded(policy.firing_limit, subject.workshop().id)
        if rule.asserts:
            first = subject.assert_flag(rule.asserts, rule.id, rule.clause)
            assert_route(policy, rule, subject)
            if first:
                _assert(c, _flag_fact(c.v.sid, subject, rule.asserts, key))
    return action


def _flag_fact(sid: str, subject: Record, flag: str, key: int) -> dict:
    fact = {"sid": sid, "id": f"f{flag}:{key}", "t": "flag", "flag": flag, "holder": key}
    if flag in subject.routes:
        fact["route"] = subject.routes[flag]
    return fact


class DurableBackend:
    name = "durable"

    def run(self, policy: Policy, workshop: Record) -> WorkshopRun:
        ruleset = _ruleset_for(policy)
        host = _host()
        subjects: Dict[int, Record] = {}
        for kind in ("workshop", "worker", "loan"):
            for subject in subjects_of(workshop, kind):
                subjects[subject.position] = subject
        sid = f"ws{next(_NAMES)}"
        session = _Session(policy, subjects)
        _SESSIONS[sid] = session
        index = {rule.id: n for n, rule in enumerate(policy.rules)}
        try:
            for key, subject in subjects.items():
                fact = {"sid": sid, "id": f"s{key}", "t": "subject", "kind": subject.kind, "key": key,
                        "workshop_key": 0, f"{subject.kind}_key": key}
                _assert(host, fact, ruleset)
            for held in held_results(policy, workshop):  # statuses held from before the period
                session.results.append(held)
                session.held.add((index[held.rule.id], held.subject.position))
                found = policy.status_of_rule(held.rule.id)
                assert found is not None  # a held standing's rule is a route of its status
                flag = found[0].flag
                _assert(host, _flag_fact(sid, held.subject, flag, held.subject.position), ruleset)
            for level in sorted({r.stratum for r in policy.rules}):
                _assert(host, {"sid": sid, "id": f"L{level}", "t": "stratum", "level": level}, ruleset)
                if session.errors:
                    break
            state = host.get_state(ruleset, sid)
            if state and state.get("exception"):
                raise DurableError(f"durable-rules reported: {state['exception']}")
        finally:
            _SESSIONS.pop(sid, None)
            try:
                host.delete_state(ruleset, sid)
            except Exception:  # pragma: no cover - a session that was never created
                pass
        if session.errors:
            error = session.errors[0]
            if isinstance(error, (RuleError, FiringLimitExceeded, DurableError)):
                raise error
            raise DurableError(f"an action failed inside durable-rules: {error!r}") from error
        rules = policy.rules
        not_activated = tuple((rule, subject) for n, rule in enumerate(rules)
                              for subject in subjects_of(workshop, rule.subject)
                              if (n, subject.position) not in session.activated | session.held)
        return WorkshopRun(tuple(session.results), not_activated)
