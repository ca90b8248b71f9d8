"""The types of the expression language, and when two of them may meet."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class T:
    """A type of the expression language."""

    name: str  # number, bool, string, date, null, any, table, list, record
    arg: Any = None  # list element type, or record kind

    def __str__(self) -> str:
        if self.name == "list":
            return f"list of {self.arg}"
        if self.name == "record":
            return f"{self.arg} record"
        return self.name


NUMBER, BOOL, STRING, DATE, NULL, ANY, TABLE = (T(n) for n in ("number", "bool", "string", "date", "null", "any", "table"))


def list_of(t: T) -> T:
    return T("list", t)


def record(kind: str) -> T:
    return T("record", kind)


@dataclass(frozen=True)
class Field:
    type: T
    origin: str  # fact, child, virtual, computed, flag, set
    nested: bool = False  # the holder is a plain mapping inside a record (e.g. worker.training)


def compatible(a: T, b: T) -> bool:
    """Whether a value of type ``a`` may stand where ``b`` is wanted (any and null meet everything)."""
    if ANY in (a, b) or NULL in (a, b):
        return True
    if a.name == "list" and b.name == "list":
        return compatible(a.arg, b.arg)
    return a == b
