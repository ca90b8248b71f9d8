"""What the ledger's serving tables must hold, recomputed from the chained record, and every difference named.

``once_paid``, ``coverage`` and ``supersessions`` decide whether a payment
may be made (the database's constraints on them refuse a second once-only
payment and a second claim on a workshop's month). They are not the record:
each is recomputed here from the chained entries and the runs' chained claims
(the workshops and months each run took, the runs it superseded for each
workshop, the rules it paid once per person), and ``ledger verify`` and every
recording compare them with what the tables hold.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Set, Tuple, Union

from .chain import Break, Fields

PAID = ("granted", "carried_in")  # outcomes that count as paid: granted, or paid before the ledger was kept


@dataclass(frozen=True)
class Claims:
    """What one run took: read from its chained ``claims``."""

    run_id: str
    seq: int
    kind: str
    workshops: Tuple[str, ...]
    months: Tuple[str, ...]
    supersedes: Mapping[str, Tuple[str, ...]]  # workshop -> the runs this one replaced for it
    once: FrozenSet[str]  # the rules paid once per person when it was recorded


def make_claims(workshops: Iterable[str], months: Iterable[str], supersedes: Mapping[str, Iterable[str]],
                once: Iterable[str]) -> Dict[str, Any]:
    return {"workshops": sorted(set(workshops)), "months": sorted(set(months)),
            "supersedes": {w: sorted(set(o)) for w, o in sorted(supersedes.items())}, "once_per_person": sorted(set(once))}


def parse_claims(run: Fields) -> Union[Claims, Break]:
    """The claims of a run row, or a break saying why they cannot be read."""
    text = run.get("claims")
    stored = run.get("seq")
    seq = stored if isinstance(stored, int) else 0
    if text is None:
        return Break("run", seq, f"run {seq} ({str(run.get('id'))[:12]}…) has no claims (the workshops and months "
                           "it took): they were removed", "ledger.damaged")
    try:
        data = json.loads(text)
        claims = Claims(str(run["id"]), seq, str(run.get("kind")), tuple(_strings(data["workshops"])),
                        tuple(_strings(data["months"])),
                        {str(w): tuple(_strings(o)) for w, o in dict(data["supersedes"]).items()},
                        frozenset(_strings(data["once_per_person"])))
    except (TypeError, ValueError, KeyError, AttributeError):
        return Break("run", seq, f"run {seq} ({str(run.get('id'))[:12]}…) is damaged: its claims are not the "
                           "JSON the ledger writes", "ledger.damaged")
    return claims


def _strings(values: object) -> List[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError("not a list of strings")
    return values


def coverage_from(claims: Iterable[Claims]) -> Dict[Tuple[str, str], str]:
    """(workshop, month) -> the run that holds it: each run's claims in order, a superseded run's released first."""
    out: Dict[Tuple[str, str], str] = {}
    held: Dict[str, Set[Tuple[str, str]]] = {}  # run -> the keys it holds now
    for c in sorted(claims, key=lambda c: c.seq):
        for shop, olds in c.supersedes.items():
            for old in olds:
                for key in [k for k in held.get(old, ()) if k[0] == shop]:
                    del out[key]
                    held[old].discard(key)
        for shop in c.workshops:
            for month in c.months:
                key = (shop, month)
                if key in out:
                    held[out[key]].discard(key)
                out[key] = c.run_id
                held.setdefault(c.run_id, set()).add(key)
    return out


def supersessions_from(claims: Iterable[Claims]) -> Set[Tuple[str, str, str]]:
    """(old run, workshop, new run) of every supersession the runs claim."""
    return {(old, shop, c.run_id) for c in claims for shop, olds in c.supersedes.items() for old in olds}


@dataclass(frozen=True)
class Payment:
    """An entry that pays a person: its seq, run, person, rule (kind is never reversal; outcome is paid)."""

    seq: int
    run_id: str
    person: str
    rule: str


def once_paid_from(payments: Iterable[Payment], once_by_run: Mapping[str, FrozenSet[str]], reversed_seqs: Set[int]
                   ) -> Tuple[Dict[Tuple[str, str], int], List[Tuple[str, str, int, int]]]:
    """(person, rule) -> the entry that paid it once, from the payments not reversed whose run paid the rule once per
    person; and every second active payment (person, rule, first seq, second seq)."""
    out: Dict[Tuple[str, str], int] = {}
    twice: List[Tuple[str, str, int, int]] = []
    for p in sorted(payments, key=lambda p: p.seq):
        if p.seq in reversed_seqs or p.rule not in once_by_run.get(p.run_id, ()):
            continue
        key = (p.person, p.rule)
        if key in out:
            twice.append((p.person, p.rule, out[key], p.seq))
        else:
            out[key] = p.seq
    return out, twice


def compare(expected_once: Mapping[Tuple[str, str], int], twice: Iterable[Tuple[str, str, int, int]],
            actual_once: Mapping[Tuple[str, str], int],
            expected_cover: Mapping[Tuple[str, str], str], actual_cover: Mapping[Tuple[str, str], str],
            expected_super: Set[Tuple[str, str, str]], actual_super: Set[Tuple[str, str, str]],
            run_seq: Mapping[str, int]) -> List[Break]:
    """Every difference between what the chained record implies and what the serving tables hold."""
    def run(run_id: str) -> str:
        seq = run_seq.get(run_id)
        return f"run {seq} ({run_id[:12]}…)" if seq else f"run {run_id[:12]}… (not in the ledger)"

    out: List[Break] = []
    for person, rule, first, second in twice:
        out.append(Break("once_paid", second, f"person {person} is paid {rule} by entries {first} and {second}: a "
                         "once-per-person payment was made twice"))
    for (person, rule), seq in sorted(expected_once.items()):
        got = actual_once.get((person, rule))
        if got is None:
            out.append(Break("once_paid", seq, f"once_paid has no row for person {person}, rule {rule}: entry {seq} "
                             "pays it once per person (the row was deleted, so the database would not refuse a "
                             "second payment)"))
        elif got != seq:
            out.append(Break("once_paid", seq, f"once_paid's row for person {person}, rule {rule} names entry {got}; "
                             f"the chained payment is entry {seq}"))
    for (person, rule), seq in sorted(actual_once.items()):
        if (person, rule) not in expected_once:
            out.append(Break("once_paid", seq if isinstance(seq, int) else 0,
                             f"once_paid holds person {person}, rule {rule} (entry {seq}), but no chained entry pays "
                             "it (or its payment was reversed): the row was added or edited"))
    for (shop, month), run_id in sorted(expected_cover.items()):
        holder = actual_cover.get((shop, month))
        if holder is None:
            out.append(Break("coverage", run_seq.get(run_id, 0), f"coverage has no row for workshop {shop}, month "
                             f"{month}: {run(run_id)} claims it (the row was deleted, so a second run for that month "
                             "would not be refused)"))
        elif holder != run_id:
            out.append(Break("coverage", run_seq.get(run_id, 0), f"coverage gives workshop {shop}, month {month} to "
                             f"{run(holder)}; the chained claims give it to {run(run_id)}"))
    for (shop, month), run_id in sorted(actual_cover.items()):
        if (shop, month) not in expected_cover:
            out.append(Break("coverage", run_seq.get(run_id, 0), f"coverage gives workshop {shop}, month {month} to "
                             f"{run(run_id)}, which no chained claim holds: the row was added or edited"))
    for old, shop, new in sorted(expected_super - actual_super):
        out.append(Break("supersessions", run_seq.get(new, 0), f"supersessions has no row for {run(new)} replacing "
                         f"{run(old)} for workshop {shop}: the row was deleted"))
    for old, shop, new in sorted(actual_super - expected_super):
        out.append(Break("supersessions", run_seq.get(new, 0), f"supersessions says {run(new)} replaced {run(old)} for "
                         f"workshop {shop}, which no chained run claims: the row was added or edited"))
    return out
