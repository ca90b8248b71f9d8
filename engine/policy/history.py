"""What a policy asks the ledger to remember, and how that memory fills the facts.

A policy's ``ledger:`` section names, for each ``history`` field of the facts,
the rule whose grants it sums up and how (``paid``: granted at least once;
``items``: how many months it has paid; ``amount``: the sum it has paid); the
rules paid at most once per person; who "the same person" is; and the
policy's targets. This module compiles that section and, given what a ledger
holds, writes each subject's history into the facts, reporting every history
the facts state that the ledger does not bear out.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Container, Dict, Iterator, List, Mapping, Optional, Tuple

from ..lang.compiled import CompiledExpr
from ..facts.model import BOOL, NUMBER
from ..problems import Problem, pointer_join

if TYPE_CHECKING:
    from ..facts.reading import Facts
    from ..lang.compiler import Compiler
    from .model import Policy

MEASURE_TYPES = {"paid": BOOL, "items": NUMBER, "amount": NUMBER}


@dataclass(frozen=True)
class HistoryField:
    kind: str  # worker / workshop
    field: str  # the facts' history field it fills
    rule: str
    measure: str  # paid / items / amount


@dataclass(frozen=True)
class Target:
    id: str
    label: str
    clause: str
    counts: str  # workshop / worker
    where: CompiledExpr
    target: int
    by: Optional[_dt.date]
    source: str


@dataclass(frozen=True)
class LedgerSettings:
    person: str  # worker / worker_and_workshop
    once_per_person: Tuple[str, ...]
    history: Tuple[HistoryField, ...]
    targets: Tuple[Target, ...]
    reading: Optional[str] = None

    def person_key(self, workshop: str, worker: str) -> str:
        """The key that identifies one person for once-only payments and worker history."""
        return worker if self.person == "worker" else f"{workshop}/{worker}"

    def fields_of(self, kind: str) -> Tuple[HistoryField, ...]:
        return tuple(h for h in self.history if h.kind == kind)


def build_settings(section: Optional[Mapping[str, Any]], compiler: Compiler, error: Callable[[str, str, str], object],
                   rules_raw: List[dict], rule_index: Dict[str, int], clauses: Container[str]
                   ) -> Optional[LedgerSettings]:
    """Compile the policy's ``ledger:`` section; ``error(code, message, pointer)`` reports each problem."""
    if section is None:
        return None
    pointer = "/ledger"

    def rule_of(rid: str, at: str) -> Optional[dict]:
        if rid not in rule_index:
            error("policy.unknown_rule", f"no rule {rid!r} in this policy", at)
            return None
        return rules_raw[rule_index[rid]]

    once = tuple(section.get("once_per_person") or ())
    for j, rid in enumerate(once):
        at = f"{pointer}/once_per_person/{j}"
        r = rule_of(rid, at)
        if r is not None and (r["subject"] != "worker" or r["decides"] != "granted"):
            error("policy.ledger_once", f"rule {rid!r} decides {r['decides']} about a {r['subject']}; only a worker "
                  "rule that grants money can be paid once per person", at)

    kinds = compiler.kinds
    history: List[HistoryField] = []
    for kind, fields in (section.get("history") or {}).items():
        held = kinds.get(f"{kind}.history", {})
        for name, spec in fields.items():
            at = f"{pointer}/history/{kind}/{name}"
            if name not in held:
                error("policy.ledger_history", f"the facts have no field {kind}.history.{name}", at)
                continue
            want = MEASURE_TYPES[spec["measure"]]
            if held[name].type != want:
                error("policy.ledger_history", f"{kind}.history.{name} is a {held[name].type}, but measure "
                      f"{spec['measure']} gives a {want}", f"{at}/measure")
            r = rule_of(spec["rule"], f"{at}/rule")
            if r is None:
                continue
            across = kind == "workshop" and r["subject"] == "worker" and spec["measure"] == "amount"
            if (r["subject"] != kind and not across) or r["decides"] != "granted":
                error("policy.ledger_history", f"rule {spec['rule']!r} decides {r['decides']} about a {r['subject']}; "
                      f"{kind} history counts what a {kind} rule granted (or, as an amount, what a worker rule "
                      "granted to the workshop's workers)", f"{at}/rule")
            elif spec["measure"] == "items" and not r.get("each"):
                error("policy.ledger_history", f"rule {spec['rule']!r} pays no months (it has no `each`), so it has "
                      "no items to count", f"{at}/measure")
            history.append(HistoryField(kind, name, spec["rule"], spec["measure"]))

    targets: List[Target] = []
    for j, t in enumerate(section.get("targets") or ()):
        at = f"{pointer}/targets/{j}"
        if t["clause"] not in clauses:
            error("policy.unknown_clause", f"no clause {t['clause']!r} in this policy", f"{at}/clause")
        with compiler.reading():  # what a target reads orders nothing: it is counted after every rule has run
            where = compiler.compile(t["where"], f"{at}/where", compiler.scope_for(t["counts"]), BOOL, "condition")
        if where is not None:
            by = t.get("by")
            targets.append(Target(t["id"], t["label"], t["clause"], t["counts"], where, t["target"],
                                  _dt.date.fromisoformat(by) if by else None, t.get("source", "")))
    ids = [t["id"] for t in section.get("targets") or ()]
    for j, tid in enumerate(ids):
        if tid in ids[:j]:
            error("policy.duplicate_id", f"target {tid!r} is defined twice", f"{pointer}/targets/{j}/id")
    return LedgerSettings(section.get("person", "worker"), once, tuple(history), tuple(targets), section.get("reading"))


# --- filling the facts ------------------------------------------------------------------------------------------

#: What the ledger holds for one subject: history field -> value, keyed by (kind, key)
LedgerHistory = Mapping[Tuple[str, str], Mapping[str, object]]

#: What each measure is when the ledger holds nothing for a subject.
EMPTY = {"paid": False, "items": 0, "amount": Decimal(0)}


@dataclass(frozen=True)
class Stated:
    """One workshop or worker of the facts, with the history its file states (no defaults filled in)."""

    kind: str  # workshop / worker
    key: str  # the workshop id, or the worker's person key
    shop: dict
    worker: Optional[dict]
    pointer: str  # the JSON pointer of its `history` in the facts file
    values: Mapping[str, object]

    @property
    def who(self) -> str:
        return f"workshop {self.shop['id']}" + (f", worker {self.worker['id']}" if self.worker else "")


def stated_histories(facts: Facts, settings: LedgerSettings) -> Iterator[Stated]:
    """Every workshop and worker of ``facts``, each with the history its file states, found by its pointer
    (so facts narrowed to some workshops still read their own records)."""
    for i, shop in enumerate(facts.workshops):
        pointer = facts.pointers[i]
        raw = _at(facts.doc.data, pointer)
        yield Stated("workshop", shop["id"], shop, None, pointer_join(pointer, "history"), _history(raw))
        raw_workers = raw.get("workers") if isinstance(raw, dict) else None
        for j, worker in enumerate(shop.get("workers") or ()):
            raw_worker = raw_workers[j] if isinstance(raw_workers, list) and j < len(raw_workers) else None
            yield Stated("worker", settings.person_key(shop["id"], worker["id"]), shop, worker,
                         pointer_join(pointer_join(pointer_join(pointer, "workers"), j), "history"), _history(raw_worker))


def fill(facts: Facts, settings: LedgerSettings, held: LedgerHistory,
         also: Optional[Mapping[Tuple[str, str], Mapping[str, object]]] = None) -> Tuple[Facts, List[Problem]]:
    """The facts with every history field the ledger keeps taken from ``held``, and a problem for each field the
    facts file states with a value the ledger does not hold (the file is never silently preferred, nor the ledger).

    ``also`` ((workshop id, worker id) -> {field: value}) gives values the ledger bears out for one worker record
    besides ``held``'s: a once-per-person payment made to the person by another workshop in this period, or later.
    Each is filled instead of ``held``'s, and a stated value that agrees with either is no disagreement."""
    problems: List[Problem] = []
    filled: Dict[Tuple[str, Optional[str]], dict] = {}
    for s in stated_histories(facts, settings):
        record = s.worker if s.worker is not None else s.shop
        out = dict(record.get("history") or {})
        extra = (also or {}).get((s.shop["id"], s.worker["id"]), {}) if s.worker is not None else {}
        for f in settings.fields_of(s.kind):
            before = held.get((s.kind, s.key), {}).get(f.field, EMPTY[f.measure])
            value = extra.get(f.field, before)
            if f.field in s.values and not any(_same(f.measure, s.values[f.field], v) for v in (before, value)):
                at = pointer_join(s.pointer, f.field)
                problems.append(Problem(
                    "ledger.history_disagrees",
                    f"{s.who}: the facts say history.{f.field} is {_show(s.values[f.field])}, the ledger holds "
                    f"{_show(before)} (from rule {f.rule}'s entries before this period)", at, facts.doc.locate(at),
                    hint="leave history out of the facts to take the ledger's, or correct the ledger by superseding "
                         "the run that recorded it"))
            out[f.field] = value
        filled[(s.shop["id"], s.worker["id"] if s.worker is not None else None)] = out
    shops = []
    for shop in facts.workshops:
        shop = dict(shop, history=filled[(shop["id"], None)])
        if "workers" in shop:
            shop["workers"] = [dict(w, history=filled[(shop["id"], w["id"])]) for w in shop["workers"]]
        shops.append(shop)
    return dataclasses.replace(facts, workshops=tuple(shops)), problems


def _at(data: Any, pointer: str) -> Any:
    """The raw value at ``pointer`` (RFC 6901), or None."""
    node = data
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, dict):
            node = node.get(token)
        else:
            return None
    return node


def _history(raw: Any) -> Mapping[str, object]:
    stated = raw.get("history") if isinstance(raw, dict) else None
    return stated if isinstance(stated, dict) else {}


def _same(measure: str, stated: object, held: object) -> bool:
    if measure == "paid":
        return bool(stated) == bool(held)
    return Decimal(str(stated)) == Decimal(str(held))


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fill_statuses(facts: Facts, policy: Policy, recorded: Mapping[Tuple[str, str], Mapping[str, dict]]) -> Facts:
    """The facts with each workshop's status grant and end taken as the later of what the facts state and what the
    ledger recorded before the period (``recorded``: (workshop, status id) -> {"granted": …, "ended": …}). A
    grant stated in the facts and one recorded on the same day: the stated one is cited."""
    if not recorded:
        return facts
    shops = []
    for shop in facts.workshops:
        shop = dict(shop)
        for status in policy.statuses:
            held = recorded.get((shop["id"], status.id), {})
            for kind, name in (("granted", status.granted_field), ("ended", status.ended_field)):
                mine, theirs = shop.get(name), held.get(kind)
                if theirs is not None and (mine is None or theirs["on"] > mine["on"]):
                    shop[name] = theirs
        shops.append(shop)
    return dataclasses.replace(facts, workshops=tuple(shops))
