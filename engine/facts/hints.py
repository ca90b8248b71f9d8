"""Hints for a clerk's ordinary slips in facts, whatever the format: what to type instead, at the value.

Each problem the facts checks report is looked at with the value it points to (the text as typed): a
thousands separator, full-width digits or punctuation, a date written with slashes or dots, a misspelt
field (did you mean), a number cut in two by a comma inside ``{ }``. The problem keeps its code and place;
its hint says what to write. Two reports of one slip at one value (a date that fails its pattern and its
format) become one. Nothing is corrected: the hint says, the clerk types.
"""
from __future__ import annotations

import difflib
import datetime
import re
import unicodedata
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from .. import schemas
from ..locale import say
from ..problems import Location, Problem

#: The line of the file a problem stands on (for a hint that depends on how the value was written)
SourceLine = Callable[[Problem], Optional[str]]

_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000\u3001\u3002]")
_GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
_SLASH_DATE = re.compile(r"^([0-9]{4})\s*[/.\-\u5e74]\s*([0-9]{1,2})\s*[/.\-\u6708]\s*([0-9]{1,2})\s*\u65e5?$")
_SLASH_MONTH = re.compile(r"^([0-9]{4})\s*[/.\-\u5e74]\s*([0-9]{1,2})\s*\u6708?$")
_DAY_FIRST = re.compile(r"^([0-9]{1,2})[/.]([0-9]{1,2})[/.]([0-9]{4})$")
#: an amount as a clerk may type it: digits (thousands separated or not), then perhaps a unit (yuan, a currency sign)
_AMOUNT = re.compile(r"^[¥$]?\s*([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(\.[0-9]+)?\s*([^\s0-9.,]{1,4})?$")


def value_at(data: Any, pointer: str) -> Any:
    """The value at a JSON pointer of ``data`` (None if there is none)."""
    node = data
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                return None
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def text_hint(value: object, lang: str, wants: str = "") -> Optional[str]:
    """What to type instead of ``value`` (text as typed), or None. ``wants``: date, month, number or empty."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _FULL_WIDTH.search(text):
        half = unicodedata.normalize("NFKC", text)
        if half != text:
            amount = _amount(half) if wants == "number" else None
            if amount is not None:  # what the reader takes: the number alone, half-width, without separator or unit
                return say("hint.full_width", lang, typed=text, write=amount)
            better = text_hint(half, lang, wants)
            return say("hint.full_width", lang, typed=text, write=half) + (f"; {better}" if better else "")
    if _GROUPED.match(text):
        return say("hint.thousands", lang, typed=text, write=text.replace(",", ""))
    amount = _amount(text) if wants == "number" else None
    if amount is not None and amount != text:
        return say("hint.amount", lang, typed=text, write=amount)
    match = _SLASH_DATE.match(text)
    if match and wants != "month":
        y, m, d = (int(g) for g in match.groups())
        write = f"{y:04d}-{m:02d}-{d:02d}"
        # only a date that exists, written otherwise: '2022-02-30' typed right is no slip, and has nothing to suggest
        return say("hint.date", lang, typed=text, write=write) if write != text and _is_date(y, m, d) else None
    match = _DAY_FIRST.match(text)
    if match:
        return say("hint.date_order", lang, typed=text)
    match = _SLASH_MONTH.match(text)
    if match:
        y, m = (int(g) for g in match.groups())
        write = f"{y:04d}-{m:02d}"
        return say("hint.month", lang, typed=text, write=write) if write != text and 1 <= m <= 12 else None
    return None


def _amount(text: str) -> Optional[str]:
    """The number an amount typed with separators or a unit stands for, as the reader takes it ('2,600 yuan' -> '2600'),
    or None if ``text`` is not such an amount."""
    match = _AMOUNT.match(text.strip())
    if not match:
        return None
    return match.group(1).replace(",", "") + (match.group(2) or "")


def _is_date(y: int, m: int, d: int) -> bool:
    try:
        datetime.date(y, m, d)
    except ValueError:
        return False
    return True


def _wants(message: str) -> str:
    if "YYYY-MM-DD" in message or "calendar date" in message:
        return "date"
    if "YYYY-MM" in message:
        return "month"
    if re.search(r"decimal number|whole number|of type '?(number|integer)", message):
        return "number"
    return ""


def _allowed_fields(pointer: str) -> List[str]:
    """The field names the facts schema allows in the object holding ``pointer``'s last key."""
    root = schemas.load("facts")
    node = root
    for part in pointer.split("/")[1:-1]:
        node = _resolve(node, root)
        if part.isdigit() and "items" in node:
            node = node["items"]
        elif "properties" in node and part in node["properties"]:
            node = node["properties"][part]
        else:
            return []
    node = _resolve(node, root)
    return list(node.get("properties", {}))


def _resolve(node: dict, root: dict) -> dict:
    for _ in range(10):
        if "$ref" in node:
            node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node and not node.get("x-decimal"):
            objects = [b for b in node["anyOf"] if b != {"type": "null"}]
            if len(objects) != 1:
                return node
            node = objects[0]
        else:
            return node
    return node


def _unknown_field_hint(problem: Problem, data: Any, lang: str, source_line: Optional[SourceLine]) -> Optional[str]:
    parent_ptr, _, key = problem.pointer.rpartition("/")
    key = key.replace("~1", "/").replace("~0", "~")
    parent = value_at(data, parent_ptr)
    previous = None
    if isinstance(parent, dict):
        keys = list(parent)
        if key in keys and keys.index(key) > 0:
            prev_key = keys[keys.index(key) - 1]
            previous = (prev_key, parent[prev_key])
    in_flow = "{" in (source_line(problem) or "") if source_line else False
    if previous is not None and re.fullmatch(r"[0-9]{3}(\.[0-9]+)?", key) and isinstance(previous[1], int) \
            and not isinstance(previous[1], bool):
        return say("hint.flow_thousands", lang, field=previous[0], typed=f"{previous[1]},{key}",
                   write=f"{previous[1]}{key}")
    if "\uff1a" in key or ":" in key:
        name, _, rest = key.replace("\uff1a", ":").partition(":")
        return say("hint.colon", lang, typed=key, write=f"{name.strip()}: {rest.strip()}")
    near = difflib.get_close_matches(key, _allowed_fields(problem.pointer), n=1, cutoff=0.6)
    if near:
        return say("hint.did_you_mean", lang, name=near[0])
    if in_flow and previous is not None and parent.get(key) is None and isinstance(previous[1], str):
        return say("hint.flow_comma", lang, field=previous[0], typed=f"{previous[1]}, {key}")
    return None


def enrich(problems: Iterable[Problem], data: Any, lang: str = "en", source_line: Optional[SourceLine] = None
           ) -> List[Problem]:
    """The problems with a hint for each slip found at its value, and one report per value for a date or number that
    fails two checks."""
    problems = list(problems)
    # a value that fails two checks (a date's pattern and its calendar) is reported once, by the sentence that says
    # how to write it
    best: Dict[Tuple[str, Location], Problem] = {}
    for p in problems:
        if p.code == "facts.invalid_value":
            key = (p.pointer, p.location)
            if key not in best or ("written" in p.message and "written" not in best[key].message):
                best[key] = p
    out: List[Problem] = []
    for p in problems:
        hint = None
        if p.code == "facts.invalid_value" and best[(p.pointer, p.location)] is not p:
            continue
        if p.code in ("facts.invalid_value", "facts.type", "facts.unknown_code", "facts.out_of_range"):
            hint = text_hint(value_at(data, p.pointer), lang, _wants(p.message))
            if hint is None and p.code == "facts.type" and "boolean" in p.message:
                hint = say("hint.boolean", lang)
        elif p.code == "facts.unknown_field":
            hint = _unknown_field_hint(p, data, lang, source_line)
        if hint:
            p = Problem(p.code, p.message, p.pointer, p.location, p.severity, hint)
        out.append(p)
    return out
