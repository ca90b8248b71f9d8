"""What reading and recording share: keys asked for in chunks, entries not reversed, entries checked against their
hash as they are read, values a column can hold, the months a period touches."""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, TypeVar

from sqlalchemy import Column, String, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.selectable import Join, NamedFromClause

from ..lang.calendar import months_in
from ..policy.history import LedgerSettings
from . import chain, derived
from .derived import PAID as _PAID
from .model import Head, LedgerDamage
from .tables import entries, head, runs

_T = TypeVar("_T")
_CHUNK = 500  # keys per IN list


def head_of(conn: Connection) -> Head:
    row = conn.execute(select(head).where(head.c.id == 1)).first()
    if row is None:
        raise LedgerDamage([chain.Break("head", 0, "the ledger's head row is missing: it was deleted")])
    return Head(row.runs, row.entries, row.hash, row.chain or chain.GENESIS)


def touched_months(start: _dt.date, end: _dt.date) -> Tuple[str, ...]:
    """Every calendar month the period touches: a run claims a workshop's months, whole or in part."""
    return tuple(d.strftime("%Y-%m") for d in months_in(start.replace(day=1), end))


def once_only(rows: Iterable[Dict[str, Any]], settings: LedgerSettings) -> Iterator[Dict[str, Any]]:
    """The entries that pay a once-per-person rule (grants and carried-in payments, not reversals)."""
    return (r for r in rows if r["kind"] != "reversal" and r["outcome"] in _PAID and r["rule"] in settings.once_per_person
            and r["person"] is not None)


def chunks(items: Iterable[_T], size: int = _CHUNK) -> Iterator[List[_T]]:
    listed = list(items)
    for i in range(0, len(listed), size):
        yield listed[i:i + size]


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def unstorable_why(value: str, length: Optional[int], column: str) -> Optional[Tuple[str, str]]:
    if "\x00" in value:
        return "ledger.bad_character", "contains a NUL character (U+0000), which a database text column cannot hold"
    if not _encodable(value):
        return "ledger.bad_character", "contains a lone surrogate (half of a UTF-16 pair), which is not a character"
    if length is not None and len(value) > length:
        return "ledger.too_long", (f"is {len(value)} characters long; the ledger's column {column} holds at most "
                                   f"{length}")
    return None


def shorten(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 48 else f"{text[:40]}…{text[-4:]}"


def column_length(column: Column[Any]) -> Optional[int]:
    """How many characters a text column holds (None: as many as the database allows)."""
    return column.type.length if isinstance(column.type, String) else None


def storable_keys(values: Iterable[str], column: Column[Any]) -> List[str]:
    """The keys a column can hold (others are in no ledger, and some would make a database refuse the query)."""
    return [v for v in values if isinstance(v, str) and unstorable_why(v, column_length(column), "") is None]


def sound(row: chain.Fields, breaks: List[chain.Break]) -> bool:
    """Whether an entry read to decide still gives its hash and holds values the ledger wrote; a break if not."""
    if chain.entry_hash(row) != row["hash"]:
        breaks.append(chain.Break("entry", row["seq"], f"entry {row['seq']} was altered: its fields no longer give its "
                                  "hash"))
        return False
    problem = chain.value_problem(row)
    if problem:
        breaks.append(chain.Break("entry", row["seq"], f"entry {row['seq']} is damaged: {problem}", chain.DAMAGED))
        return False
    return True


def granted(rows: Iterable[Mapping[str, Any]]) -> Decimal:
    return sum((Decimal(r["amount"]) for r in rows if r["outcome"] == "granted" and r["amount"]), Decimal("0.00"))


def span(months: List[str]) -> str:
    months = sorted(months)
    return months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"


def load_claims(conn: Connection, breaks: List[chain.Break]) -> Tuple[List[derived.Claims], Dict[str, int]]:
    """Every run's chained claims, and each run's seq by id; a break for each run whose claims cannot be read."""
    out: List[derived.Claims] = []
    seqs: Dict[str, int] = {}
    for r in conn.execute(select(runs.c.id, runs.c.seq, runs.c.kind, runs.c.claims).order_by(runs.c.seq)):
        parsed = derived.parse_claims(r._mapping)
        seqs[r.id] = r.seq
        if isinstance(parsed, chain.Break):
            breaks.append(parsed)
        else:
            out.append(parsed)
    return out, seqs


def active_entries() -> Tuple[Join, NamedFromClause]:
    """Entries joined to the reversal of each (``rev``); ``rev.c.seq IS NULL`` keeps those not reversed."""
    rev = entries.alias("rev")
    return entries.outerjoin(rev, rev.c.reverses == entries.c.seq), rev
