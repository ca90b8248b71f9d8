"""A roster cell's value as the facts document holds it: an Excel date, a number, a vocabulary's label or code, a
list, yes or no in the policy's words; what cannot be read without guessing is kept as the text typed, for the facts
checks to refuse with a hint, and a label no vocabulary has is reported at its cell."""
from __future__ import annotations

import datetime as _dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import List, Optional

from ..locale import language, say
from ..policy.model import Policy
from ..problems import Location, Problem
from .cells import Row
from .layout import Column

#: Separators of the codes in a list cell: comma, semicolon and their full-width forms, and the enumeration comma.
_LIST_SEP = re.compile("[,;\uff0c\uff1b\u3001]")
_GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
_PLAIN_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")


class CellValues:
    """The values of a roster's cells for one policy (its language and its words for yes and no); a problem found is
    added to ``problems``."""

    def __init__(self, policy: Policy, problems: List[Problem]):
        self.lang = language(policy)
        self.problems = problems
        self.yes = {"true", policy.labels.get("value.true", "true").lower()}
        self.no = {"false", policy.labels.get("value.false", "false").lower()}

    def problem(self, code: str, key: str, loc: Location, pointer: str = "", hint: Optional[str] = None,
                **values: object) -> None:
        self.problems.append(Problem(code, say(key, self.lang, **values), pointer, loc, hint=hint))

    def value(self, column: Column, value: object, row: Row, index: int) -> object:
        """A cell's value as the facts document holds it; BLANK for an empty cell. What cannot be read without
        guessing is kept as the text typed, for the checks to refuse with a hint."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return [] if column.kind == "list" and column.required else BLANK
        if isinstance(value, str):
            value = value.strip()
        kind = column.kind
        if isinstance(value, _dt.datetime) and value.time() == _dt.time(0):
            value = value.date()
        if kind == "list":
            if not isinstance(value, str):
                value = _text(value)
            items = [item.strip() for item in _LIST_SEP.split(value) if item.strip()]
            if not items:
                return []
            return [self.code(column, item, row, index) for item in items]
        if kind in ("link", "id") or (kind == "text" and column.vocab is None):
            return _text(value)
        if column.vocab is not None:
            code = self.code(column, _text(value), row, index)
            if kind in ("integer", "count") and isinstance(code, str) and code.isdigit() and code.isascii():
                return int(code)
            return code
        if kind == "date":
            if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
                return value.isoformat()
            return _text(value)
        if kind == "month":
            if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime) and value.day == 1:
                return value.strftime("%Y-%m")
            return _text(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = _text(value).lower()
            if text in self.yes:
                return True
            if text in self.no:
                return False
            return _text(value)
        if kind == "decimal":
            if isinstance(value, bool):
                return value
            if isinstance(value, int):
                return value
            if isinstance(value, float):
                return Decimal(repr(value)) if math.isfinite(value) else str(value)  # an Excel number is a double
            if isinstance(value, str) and (_PLAIN_NUMBER.match(value) or _GROUPED.match(value)):
                try:
                    return Decimal(value.replace(",", ""))
                except InvalidOperation:  # pragma: no cover - the patterns admit only numbers
                    return value
            return _text(value)
        if kind in ("integer", "count"):
            if isinstance(value, bool):
                return value
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str) and value.isdigit() and value.isascii():
                return int(value)
            return _text(value) if not isinstance(value, float) else Decimal(repr(value))
        return value

    def code(self, column: Column, text: str, row: Row, index: int) -> str:
        """The code a cell names, by its code or its label; a cell naming neither is reported here, where the
        schema's checks of other cells do not hide it, and kept as typed."""
        vocab = column.vocab
        if vocab is None or text in vocab.codes:
            return text
        named = vocab.code_named(text)
        if named is not None:
            return named
        nearest = vocab.nearest(text)  # the nearest name or code, said both ways
        hint = say("hint.did_you_mean_code", self.lang, name=vocab.codes[nearest], code=nearest) if nearest else \
            say("hint.codes", self.lang, codes=", ".join(f"{label} ({code})" for code, label in vocab.codes.items()))
        self.problem("facts.unknown_code", "roster.unknown_code", row.cell(index), hint=hint, value=text,
                     vocab=vocab.label)
        return text


class _Blank:
    def __repr__(self) -> str:
        return "<blank>"


BLANK = _Blank()


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value).strip()
