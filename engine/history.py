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
from typing import Dict, List, Mapping, Optional, Tuple

from .compiler import CompiledExpr
from .model import BOOL, NUMBER
from .problems import Problem, pointer_join

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


def build_settings(section: Optional[dict], compiler, error, rules_raw: List[dict], rule_index: Dict[str, int],
                   clauses) -> Optional[LedgerSettings]:
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
            if r["subject"] != kind or r["decides"] != "granted":
                error("policy.ledger_history", f"rule {spec['rule']!r} decides {r['decides']} about a {r['subject']}; "
                      f"{kind} history counts what a {kind} rule granted", f"{at}/rule")
            elif spec["measure"] == "items" and not r.get("each"):
                error("policy.ledger_history", f"rule {spec['rule']!r} pays no months (it has no `each`), so it has "
                      "no items to count", f"{at}/measure")
            history.append(HistoryField(kind, name, spec["rule"], spec["measure"]))

    targets: List[Target] = []
    for j, t in enumerate(section.get("targets") or ()):
        at = f"{pointer}/targets/{j}"
        if t["clause"] not in clauses:
            error("policy.unknown_clause", f"no clause {t['clause']!r} in this policy", f"{at}/clause")
        compiler._reads = set()
        where = compiler.compile(t["where"], f"{at}/where", compiler.scope_for(t["counts"]), BOOL, "condition")
        compiler._reads = None
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


def _default(measure: str):
    return False if measure == "paid" else 0


def _same(measure: str, stated, held) -> bool:
    if measure == "paid":
        return bool(stated) == bool(held)
    return Decimal(str(stated)) == Decimal(str(held))


def fill(facts, settings: LedgerSettings, held: LedgerHistory) -> Tuple[object, List[Problem]]:
    """The facts with every history field the ledger keeps taken from ``held``, and a problem for each field the
    facts file states with a value the ledger does not hold (the file is never silently preferred, nor the ledger)."""
    problems: List[Problem] = []
    raw_shops = (facts.doc.data or {}).get("workshops") or ()
    shops = []
    for i, shop in enumerate(facts.workshops):
        raw = raw_shops[i] if i < len(raw_shops) else {}
        pointer = facts.pointers[i]
        shop = dict(shop)
        shop["history"] = _filled(shop.get("history"), raw.get("history"), settings.fields_of("workshop"),
                                  held.get(("workshop", shop["id"]), {}), pointer_join(pointer, "history"),
                                  f"workshop {shop['id']}", facts, problems)
        raw_workers = raw.get("workers") or ()
        workers = []
        for j, worker in enumerate(shop.get("workers") or ()):
            worker = dict(worker)
            key = settings.person_key(shop["id"], worker["id"])
            worker["history"] = _filled(worker.get("history"), (raw_workers[j] if j < len(raw_workers) else {}).get("history"),
                                        settings.fields_of("worker"), held.get(("worker", key), {}),
                                        pointer_join(pointer_join(pointer_join(pointer, "workers"), j), "history"),
                                        f"workshop {shop['id']}, worker {worker['id']}", facts, problems)
            workers.append(worker)
        if "workers" in shop:
            shop["workers"] = workers
        shops.append(shop)
    return dataclasses.replace(facts, workshops=tuple(shops)), problems


def _filled(history, stated, fields, held, pointer, who, facts, problems) -> dict:
    out = dict(history or {})
    stated = stated or {}
    for f in fields:
        value = held.get(f.field, _default(f.measure))
        if f.field in stated and not _same(f.measure, stated[f.field], value):
            at = pointer_join(pointer, f.field)
            problems.append(Problem(
                "ledger.history_disagrees",
                f"{who}: the facts say history.{f.field} is {_show(stated[f.field])}, the ledger holds "
                f"{_show(value)} (from rule {f.rule}'s entries before this period)", at, facts.doc.locate(at),
                hint="leave history out of the facts to take the ledger's, or correct the ledger by superseding the "
                     "run that recorded it"))
        out[f.field] = value
    return out


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
