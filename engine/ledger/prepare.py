"""A run made ready to record: the entries of an evaluation (or of the history a facts file carries in), the run's
identity (a digest of what it was decided from and what it decided) and where each subject is in the facts file."""
from __future__ import annotations

import datetime as _dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from ..policy.history import EMPTY, LedgerHistory, LedgerSettings, stated_histories
from ..problems import pointer_join
from ..runtime.decisions import decision_id, period_key
from ..views.document import details_dict
from . import chain
from .model import Held, PreparedRun
from .queries import touched_months

if TYPE_CHECKING:
    from ..facts.reading import Facts
    from ..policy.model import Policy
    from ..runtime.evaluate import Evaluation


def prepare(evaluation: Evaluation, settings: LedgerSettings, held: LedgerHistory) -> PreparedRun:
    """The entries of ``evaluation`` (every decision but denied ones, made with ``tally=True``) and the run's
    identity."""
    policy, facts = evaluation.policy, evaluation.facts
    start, end = facts.period_start.isoformat(), facts.period_end.isoformat()
    period = period_key(facts.period_start, facts.period_end)
    shops = {ws["id"]: ws for ws in facts.workshops}
    rows = []
    for d in evaluation.decisions:
        if d.outcome == "denied":
            continue
        ws = shops[d.workshop]
        rows.append({
            "kind": "decision", "reverses": None, "decision_id": decision_id(policy.sha256, period, d),
            "period_start": start, "period_end": end, "workshop": d.workshop, "worker": d.worker, "loan": d.loan,
            "person": settings.person_key(d.workshop, d.worker) if d.worker else None,
            "city": ws.get("city"), "county": ws.get("county"), "clause": d.clause, "rule": d.rule,
            "outcome": d.outcome, "amount": None if d.amount is None else str(d.amount), "fund": d.fund,
            "items": " ".join(d.items), "quantity": None, "policy_sha256": policy.sha256,
            "facts_sha256": facts.sha256,
            "details": json.dumps(details_dict(d), ensure_ascii=False, sort_keys=True) if d.details else None,
        })
    tally_rows = tuple(sorted(evaluation.tallies))
    keys = [(r["decision_id"], r["outcome"], r["amount"], r["items"], r["details"]) for r in rows]
    run_id = chain.digest([policy.sha256, facts.sha256, start, end, sorted(shops), keys, tally_rows])
    months = touched_months(facts.period_start, facts.period_end)
    used = {key: dict(values) for key, values in held.items()}
    return PreparedRun(run_id, policy.id, policy.sha256, facts.sha256, facts.path, start, end, months,
                       tuple(shops), tuple(rows), used, tally_rows, _pointers(facts), facts.doc.locate,
                       policy_path=policy.path)


def prepare_carry_in(policy: Policy, settings: LedgerSettings, facts: Facts) -> PreparedRun:
    """Opening entries for the history ``facts`` states (paid before the ledger was kept), as of the day
    before the facts' period: what a county brings in from its earlier records, once."""
    as_of = (facts.period_start - _dt.timedelta(days=1)).isoformat()
    clause_of = {r.id: r.clause for r in policy.rules}
    rows: List[Dict[str, Any]] = []
    held: Held = {}
    for s in stated_histories(facts, settings):
        worker = s.worker["id"] if s.worker is not None else None
        for f in settings.fields_of(s.kind):
            if f.field not in s.values:
                continue
            held.setdefault((s.kind, s.key), {})[f.field] = EMPTY[f.measure]
            value = s.values[f.field]
            if value in (None, False) or (f.measure != "paid" and Decimal(str(value)) <= 0):
                continue
            rows.append({
                "kind": "opening", "reverses": None,
                "decision_id": chain.digest(["carry_in", policy.sha256, s.kind, s.key, f.rule])[:20],
                "period_start": as_of, "period_end": as_of, "workshop": s.shop["id"], "worker": worker,
                "loan": None, "person": s.key if worker else None, "city": s.shop.get("city"),
                "county": s.shop.get("county"), "clause": clause_of[f.rule], "rule": f.rule, "outcome": "carried_in",
                "amount": str(Decimal(str(value))) if f.measure == "amount" else None, "fund": None, "items": "",
                "quantity": int(Decimal(str(value))) if f.measure == "items" else None,
                "policy_sha256": policy.sha256, "facts_sha256": facts.sha256, "details": None})
    keys = [(r["decision_id"], r["amount"], r["quantity"]) for r in rows]
    run_id = chain.digest(["carry_in", policy.sha256, facts.sha256, as_of, keys])
    return PreparedRun(run_id, policy.id, policy.sha256, facts.sha256, facts.path, as_of, as_of, (), (),
                       tuple(rows), held, (), _pointers(facts), facts.doc.locate, "carry_in", policy.path)


def _pointers(facts: Facts) -> Dict[Tuple[str, ...], str]:
    """(workshop[, worker]) or (workshop, "#loan", loan) -> the JSON pointer of that record in the facts file."""
    out: Dict[Tuple[str, ...], str] = {}
    for i, ws in enumerate(facts.workshops):
        out[(ws["id"],)] = facts.pointers[i]
        for j, w in enumerate(ws.get("workers") or ()):
            out[(ws["id"], w["id"])] = pointer_join(pointer_join(facts.pointers[i], "workers"), j)
        for j, loan in enumerate(ws.get("loans") or ()):
            out[(ws["id"], "#loan", loan["id"])] = pointer_join(pointer_join(facts.pointers[i], "loans"), j)
    return out

