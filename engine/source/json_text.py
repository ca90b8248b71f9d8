"""Strict JSON (RFC 8259) read by the C parser: numbers from their text (never float), duplicate keys and NaN refused,
every limit checked; a problem at its line and column, positions worked out only when one is needed."""
from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Dict, Iterable, List, NoReturn, Optional, Tuple

from ..limits import LIMITS, Limits
from ..problems import InputFault, InvalidInput, Location, Problem
from .document import Document
from .values import value_problems
from .yaml_text import FULL_WIDTH_SYNTAX, read_text


class DuplicateKey(InputFault):
    """A JSON object names one key twice."""


def _no_duplicates(pairs: Iterable[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> NoReturn:
    raise ValueError(name)


def json_decoder() -> json.JSONDecoder:
    """Strict JSON (RFC 8259): numbers from their text (never float), duplicate keys and NaN refused."""
    return json.JSONDecoder(parse_float=Decimal, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def parse_json(text: str) -> Any:
    """A whole JSON text, by :func:`json_decoder`."""
    return json_decoder().decode(text)


def read_json_fast(path: str, text: str, limits: Limits = LIMITS) -> Document:
    """A ``.json`` file, read as strict JSON only (the C parser), with every limit checked.

    Positions are worked out only if a problem needs one. A problem is reported at its line and column:
    a syntax error where the parser stopped, a duplicate key where it stands, a value over a limit where
    it was read.
    """
    try:
        data = parse_json(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput([Problem("json.syntax", f"not valid JSON: {exc.msg}", "", Location(path, exc.lineno, exc.colno),
                                    hint=_json_hint(text, exc.pos))]) from None
    except DuplicateKey as exc:
        located = _located_duplicates(path, text)
        raise InvalidInput(located or [Problem("json.duplicate_key", f"duplicate key {exc.args[0]!r}", "",
                                               Location(path, 1, 1))]) from None
    except RecursionError:
        raise InvalidInput([Problem("input.too_deep", f"nested more than {limits.max_depth} levels deep", "",
                                    _deep_location(path, text, limits.max_depth))]) from None
    except ValueError as exc:  # an integer too long for Python to convert, or NaN/Infinity
        raise InvalidInput([_long_number(path, text, exc, limits)]) from None
    doc = Document(path, text, data, None)
    found = value_problems(data, path, limits)
    if found:
        raise InvalidInput([Problem(code, message, pointer, doc.locate(pointer)) for code, message, pointer in found])
    return doc


def _json_hint(text: str, pos: int) -> Optional[str]:
    """What a person probably meant, for the JSON slips YAML would have taken."""
    if text[pos:pos + 1] in FULL_WIDTH_SYNTAX:
        from ..locale import say
        return say("hint.yaml_full_width", "en", char=text[pos], write=FULL_WIDTH_SYNTAX[text[pos]])
    before = text[:pos].rstrip()
    if before.endswith(",") and text[pos:pos + 1] in "}]":
        return "a comma stands before this closing bracket: JSON takes no comma after the last item"
    near = text[max(0, pos - 1):pos + 1]
    if "+" in near:
        return "JSON numbers have no leading +: write 1, not +1"
    if text[pos:pos + 1].isdigit():
        return "a date or other text is written in double quotes in JSON: \"2022-07-01\""
    return None


def _located_duplicates(path: str, text: str) -> List[Problem]:
    try:
        read_text(path, text)
    except InvalidInput as exc:
        return [Problem("json.duplicate_key", p.message, p.pointer, p.location, hint="a key is given once per object")
                for p in exc.problems if p.code == "yaml.duplicate_key"]
    return []


def _deep_location(path: str, text: str, limit: int) -> Location:
    depth, line, col, in_string, escaped = 0, 1, 0, False, False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return Location(path, line, col)
        elif ch in "]}":
            depth -= 1
    return Location(path, 1, 1)


def _long_number(path: str, text: str, exc: ValueError, limits: Limits) -> Problem:
    match = re.search(r"[0-9]{%d,}" % (limits.max_number_digits + 1), text)
    if match is None:
        return Problem("json.syntax", f"not valid JSON: {exc}", "", Location(path, 1, 1))
    line = text.count("\n", 0, match.start()) + 1
    col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
    return Problem("input.number_too_long", f"a number of more than {limits.max_number_digits} digits", "",
                   Location(path, line, col))
