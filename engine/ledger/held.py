"""What the ledger holds for a facts file, read to decide it: each subject's history from before the period, the
once-per-person payments made elsewhere, the statuses granted and ended. Every entry read is checked against its hash
(LedgerDamage, and no decision, if one does not give it)."""
from __future__ import annotations

import datetime as _dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Sequence, Set, Tuple

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from ..policy.history import EMPTY, LedgerSettings
from . import chain, derived
from .database import Database
from .derived import PAID as _PAID
from .model import Held, LedgerDamage, Payer
from .queries import active_entries, chunks, load_claims, sound, storable_keys, touched_months
from .tables import entries, runs

if TYPE_CHECKING:
    from ..facts.reading import Facts
    from ..policy.model import Policy


def history(db: Database, settings: LedgerSettings, facts: Facts) -> Held:
    """What the ledger holds, from before the facts' period, for every worker and workshop of ``facts``."""
    persons = {settings.person_key(ws["id"], w["id"]) for ws in facts.workshops for w in ws.get("workers") or ()}
    shops = {ws["id"] for ws in facts.workshops}
    with db.reading() as conn:
        return held_before(conn, settings, facts.period_start, persons, shops)


def paid_elsewhere(db: Database, settings: LedgerSettings, facts: Facts) -> Dict[Tuple[str, str], Payer]:
    """(person, rule) -> the entry that paid it, for each once-per-person rule a history field of the facts
    reads, paid to a person of ``facts`` in the period evaluated or later by a run this one does not replace
    (another workshop's run for the same month, or a later month's). :func:`history` holds what was paid
    before the period."""
    rules = flag_rules(settings)
    if not rules:
        return {}
    persons = {settings.person_key(ws["id"], w["id"]) for ws in facts.workshops for w in ws.get("workers") or ()}
    shops = [ws["id"] for ws in facts.workshops]
    with db.reading() as conn:
        replaced = redecided(conn, shops, touched_months(facts.period_start, facts.period_end))
        return payers_since(conn, facts.period_start, persons, rules, replaced)


def statuses(db: Database, policy: Policy, facts: Facts) -> Dict[Tuple[str, str], Dict[str, dict]]:
    """For every workshop of ``facts`` and status of ``policy``: the latest grant and end the ledger recorded
    before the facts' period, as {"granted": {on, route, $source}, "ended": {on, $source}} (each if any).

    A recorded grant is a decision of one of the status's routes (dated as it says: the period start when it
    was decided then, the earlier grant's date when it was held); a recorded end is a decision of a rule that
    ends it, effective the day after its period."""
    from ..runtime.status import SOURCE
    out: Dict[Tuple[str, str], Dict[str, dict]] = {}
    statuses = [s for s in policy.statuses if s.subject == "workshop"]
    if not statuses:
        return out
    route_rules = {r.rule: (s, r.route) for s in statuses for r in s.routes}
    end_rules = {rid: s for s in statuses for rid in s.ended_by}
    outcome = {rid: policy.rule(rid).decides for rid in set(route_rules) | set(end_rules)}
    before = facts.period_start.isoformat()
    joined, rev = active_entries()
    joined = joined.join(runs, runs.c.id == entries.c.run_id)
    breaks: List[chain.Break] = []
    with db.reading() as conn:
        for chunk in chunks(sorted(storable_keys({ws["id"] for ws in facts.workshops}, entries.c.workshop))):
            q = (select(entries, runs.c.seq.label("run_seq"))
                 .select_from(joined)
                 .where(entries.c.workshop.in_(chunk), entries.c.worker.is_(None), entries.c.kind == "decision",
                        entries.c.rule.in_(sorted(set(route_rules) | set(end_rules))),
                        entries.c.outcome.in_(sorted(set(outcome.values()))), entries.c.period_start < before,
                        rev.c.seq.is_(None)))
            for row in conn.execute(q):
                m = row._mapping
                if not sound(m, breaks) or row.outcome != outcome[row.rule]:
                    continue
                where = f"the ledger's run {row.run_seq}, period {row.period_start}..{row.period_end}"
                try:
                    details = json.loads(row.details) if row.details else {}
                    details = details if isinstance(details, dict) else {}
                    if row.rule in route_rules:
                        status, route = route_rules[row.rule]
                        on = _dt.date.fromisoformat(details.get("since") or row.period_start)
                        event: Tuple[str, Dict[str, Any]] = (
                            "granted", {"on": on, "route": details.get("route") or route, SOURCE: where})
                    else:
                        status = end_rules[row.rule]
                        effective = details.get("effective")
                        on = (_dt.date.fromisoformat(effective) if effective else
                              _dt.date.fromisoformat(row.period_end) + _dt.timedelta(days=1))
                        event = ("ended", {"on": on, SOURCE: where})
                except (TypeError, ValueError, OverflowError):
                    breaks.append(chain.Break("entry", row.seq, f"entry {row.seq} is damaged: its dates or details "
                                              "cannot be read", chain.DAMAGED))
                    continue
                kind, value = event
                if kind == "ended" and value["on"] > facts.period_start:
                    continue  # an end that takes effect inside or after this period is not yet in force
                held = out.setdefault((row.workshop, status.id), {})
                if kind not in held or value["on"] > held[kind]["on"]:
                    held[kind] = value
        if breaks:
            raise LedgerDamage(breaks)
    return out


def flag_rules(settings: LedgerSettings) -> List[str]:
    """The once-per-person rules a worker history field reads as paid / not paid."""
    return sorted({f.rule for f in settings.fields_of("worker") if f.measure == "paid"}
                  & set(settings.once_per_person))


def redecided(conn: Connection, shops: Iterable[str], months: Iterable[str]) -> Set[Tuple[str, str]]:
    """(run id, workshop) of every recorded run that holds one of these workshops' months: a run for them is the
    same run again, a superseding one, or refused."""
    breaks: List[chain.Break] = []
    claims, _ = load_claims(conn, breaks)
    if breaks:
        raise LedgerDamage(breaks)
    wanted_shops, wanted_months = set(shops), set(months)
    return {(run_id, shop) for (shop, month), run_id in derived.coverage_from(claims).items()
            if shop in wanted_shops and month in wanted_months}


def payers_since(conn: Connection, period_start: _dt.date, persons: Iterable[str], rules: Sequence[str],
                 replaced: Set[Tuple[str, str]]) -> Dict[Tuple[str, str], Payer]:
    """(person, rule) -> the first active payment of a once-per-person rule made in the period or later by a run
    (and workshop) not in ``replaced``."""
    before = period_start.isoformat()
    joined, rev = active_entries()
    joined = joined.join(runs, runs.c.id == entries.c.run_id)
    out: Dict[Tuple[str, str], Payer] = {}
    breaks: List[chain.Break] = []
    for chunk in chunks(sorted(storable_keys(persons, entries.c.person))):
        q = (select(entries, runs.c.seq.label("run_seq")).select_from(joined)
             .where(entries.c.person.in_(chunk), entries.c.rule.in_(list(rules)), entries.c.kind != "reversal",
                    entries.c.outcome.in_(_PAID), entries.c.period_start >= before, rev.c.seq.is_(None))
             .order_by(entries.c.seq))
        for row in conn.execute(q):
            if not sound(row._mapping, breaks) or (row.run_id, row.workshop) in replaced:
                continue
            out.setdefault((row.person, row.rule), Payer(row.seq, row.run_seq, row.run_id, row.workshop,
                                                         row.period_start, row.period_end))
    if breaks:
        raise LedgerDamage(breaks)
    return out


def held_before(conn: Connection, settings: LedgerSettings, period_start: _dt.date, persons: Iterable[str],
                shops: Iterable[str]) -> Held:
    """The history of each person and workshop (every one asked for) from the active granted entries that began
    before ``period_start``: ``paid`` false, ``items`` 0 and ``amount`` 0 where the ledger holds nothing. Every entry
    read is checked against its hash (LedgerDamage if one does not give it)."""
    before = period_start.isoformat()
    first_month = before[:7]
    out: Held = {}
    joined, rev = active_entries()
    breaks: List[chain.Break] = []
    for kind, subjects, column in (("worker", persons, entries.c.person), ("workshop", shops, entries.c.workshop)):
        fields = settings.fields_of(kind)
        if not fields:
            continue
        keys = set(subjects)
        for key in keys:
            out[(kind, key)] = {f.field: EMPTY[f.measure] for f in fields}
        rules = sorted({f.rule for f in fields})
        per_key: Dict[str, Dict[str, list]] = {}
        for chunk in chunks(sorted(storable_keys(keys, column))):
            cond = [column.in_(chunk), entries.c.rule.in_(rules), entries.c.kind != "reversal",
                    entries.c.outcome.in_(_PAID), entries.c.period_start < before, rev.c.seq.is_(None)]
            for row in conn.execute(select(entries).select_from(joined).where(and_(*cond))):
                if sound(row._mapping, breaks):
                    per_key.setdefault(row._mapping[column.name], {}).setdefault(row.rule, []).append(row)
        for key, by_rule in per_key.items():
            values = out[(kind, key)]
            for f in fields:
                got = by_rule.get(f.rule, [])
                if not got:
                    continue
                if f.measure == "paid":
                    values[f.field] = True
                elif f.measure == "items":
                    values[f.field] = (len({m for r in got for m in r._mapping["items"].split() if m < first_month})
                                       + sum(r.quantity or 0 for r in got))
                else:
                    values[f.field] = sum((Decimal(r.amount) for r in got if r.amount), Decimal(0))
    if breaks:
        raise LedgerDamage(breaks)
    return out
