"""JSON Schema checks that report located problems, and schema-driven defaults.

Wraps ``jsonschema``: each validation error becomes a :class:`Problem` with a
stable code (from the failing keyword), a plain message, the JSON pointer of
the value and its ``file:line:col``. Where a schema node carries ``x-error``,
that sentence replaces the library's message, so policy staff read
"must be a date written YYYY-MM-DD" rather than a regular expression.
"""
from __future__ import annotations

import copy
import datetime as _dt
import difflib
import re
from decimal import Decimal
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, Tuple, cast

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

from .limits import LIMITS
from .problems import Location, Problem, pointer_join


class Located(Protocol):
    """What a schema check reads: the data, and where a pointer inside it stands (a :class:`~.source.Document`, or one
    value of a file read a value at a time)."""

    @property
    def data(self) -> Any: ...

    def locate(self, pointer: str) -> Location: ...


_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date", raises=ValueError)
def _is_date(instance: Any) -> bool:
    if not isinstance(instance, str):
        return True
    if not _DATE.match(instance):
        return False
    day = _dt.date.fromisoformat(instance)
    if not LIMITS.first_year <= day.year <= LIMITS.last_year:
        raise ValueError(f"{instance} lies outside {LIMITS.first_year}..{LIMITS.last_year}")
    return True


_CODES = {
    "required": "missing", "additionalProperties": "unknown_field", "type": "type",
    "enum": "not_allowed", "const": "not_allowed", "pattern": "invalid_value", "format": "invalid_value",
    "anyOf": "invalid_value", "oneOf": "invalid_value", "minimum": "out_of_range",
    "exclusiveMinimum": "out_of_range", "maximum": "out_of_range", "minItems": "too_few",
    "minProperties": "too_few", "uniqueItems": "duplicate", "minLength": "empty", "maxLength": "too_long",
    "propertyNames": "invalid_name", "not": "not_allowed",
}


_FAST: dict = {}  # id(schema) -> (schema, compiled validator); the schema is kept so its id is never reused


def fast_valid(schema: dict, instance: Any) -> bool:
    """True if ``instance`` is valid, by a validator compiled once from ``schema`` (fastjsonschema).

    The quick yes for large, valid files; a no is then explained in full, with
    locations, by :func:`schema_problems`. The instance is not changed.
    """
    import fastjsonschema

    hit = _FAST.get(id(schema))
    if hit is None or hit[0] is not schema:
        # compile a copy: fastjsonschema rewrites the $refs of the schema it is given
        hit = (schema, fastjsonschema.compile(copy.deepcopy(schema), formats={"date": _calendar_date}, use_default=False))
        _FAST[id(schema)] = hit
    try:
        hit[1](instance)
        return True
    except fastjsonschema.JsonSchemaException:
        return False


def _calendar_date(value: object) -> bool:
    try:
        return _is_date(value)
    except ValueError:
        return False


def validator_for(schema: dict) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=_FORMATS)


def _message(error: jsonschema.ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return f"missing required field {missing[0]!r}" if missing else error.message
    if error.validator == "additionalProperties":
        extra = re.findall(r"'([^']+)'", error.message)
        return f"unknown field {extra[0]!r}" if extra else error.message
    if error.validator == "format" and error.validator_value == "date":
        return (f"{error.instance!r} is not a calendar date from {LIMITS.first_year}-01-01 to "
                f"{LIMITS.last_year}-12-31")
    if "x-error" in schema:
        return f"{_shown(error.instance)} {schema['x-error']}" if not isinstance(error.instance, (dict, list)) \
            else schema["x-error"]
    if error.validator == "enum":
        return f"{_shown(error.instance)} is not one of {', '.join(map(_shown, cast(List[object], error.validator_value)))}"
    if error.validator == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return f"{_shown(error.instance)} is not of type {wanted}"
    return error.message


def _shown(value: object) -> str:
    """A value as the file writes it: null, true, false, numbers as written, text quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value) if isinstance(value, str) else str(value)


def _hint(error: jsonschema.ValidationError) -> Optional[str]:
    instance = error.instance
    if isinstance(instance, dict) and any("(" in k or ")" in k or " " in k for k in instance):
        return ("a comma inside { } ends a flow mapping entry, so an expression with commas was cut in two; "
                "write it in block style (test: on its own line) or quote the expression")
    if error.validator == "additionalProperties" and isinstance(error.schema, dict):
        extra = re.findall(r"'([^']+)'", error.message)
        if extra and extra[0].isdigit():  # {value: 1,234}: the comma ended the entry, and 234 became a key
            return "a comma inside { } ends an entry: write a number without thousands separators (1234, not 1,234)"
        known = [k for k in error.schema.get("properties", {}) if not isinstance(instance, dict) or k not in instance]
        close = difflib.get_close_matches(extra[0], known, 1, 0.7) if extra else []
        if close:
            return f"did you mean {close[0]!r}?"
    return None


def _leaf_errors(error: jsonschema.ValidationError) -> Iterable[jsonschema.ValidationError]:
    """One error per failing spot: descend into anyOf/oneOf unless the schema says x-error."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator in ("anyOf", "oneOf") and error.context and "x-error" not in schema:
        if error.instance is not None and nullable(schema) is not None:  # not null: say what the value lacks
            other = schema[error.validator].index(nullable(schema))
            mine = [e for e in error.context if e.schema_path and e.schema_path[0] == other]
            if mine:
                yield from _leaf_errors(min(mine, key=lambda e: len(e.schema_path)))
                return
        best = jsonschema.exceptions.best_match(error.context)
        yield from _leaf_errors(best)
        return
    if error.validator == "propertyNames" and error.context:
        yield from _leaf_errors(error.context[0])
        return
    yield error


def schema_problems(doc: Located, schema: dict, domain: str, instance: Any = None) -> List[Problem]:
    """Every schema violation in ``doc`` as a located problem with code ``<domain>.<kind>``."""
    data = doc.data if instance is None else instance
    problems = []
    for top in validator_for(schema).iter_errors(data):
        for error in _leaf_errors(top):
            pointer = "".join(pointer_join("", p) for p in error.absolute_path)
            if error.validator == "additionalProperties":
                extra = re.findall(r"'([^']+)'", error.message)
                if extra:
                    pointer = pointer_join(pointer, extra[0])
            if top.validator == "propertyNames" and isinstance(error.instance, str):
                pointer = pointer_join(pointer, error.instance)
            validator = str(error.validator)
            code = f"{domain}.{_CODES.get(validator, validator)}"
            problems.append(Problem(code, _message(error), pointer, doc.locate(pointer), hint=_hint(error)))
    return problems


_RESOLVED: dict = {}


def _resolve(schema: dict, root: dict) -> dict:
    """Follow local ``$ref``s; keywords beside a ``$ref`` (such as ``default``) win over the target's.

    Schemas are loaded once and never changed, so each node is resolved once.
    """
    key = (id(schema), id(root))
    hit = _RESOLVED.get(key)
    if hit is not None and hit[0] is schema:
        return hit[1]
    resolved = _resolve_uncached(schema, root)
    _RESOLVED[key] = (schema, resolved)
    return resolved


def _resolve_uncached(schema: dict, root: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**node, **siblings}
    return schema


def apply_defaults_and_types(instance: Any, schema: dict, root: dict) -> Any:
    """A copy of a valid ``instance`` with schema defaults filled in, dates as
    ``datetime.date`` (``format: date``) and decimals as ``Decimal`` (``x-decimal``)."""
    return _converter(schema, root)(instance)


#: Converts one JSON value of a schema node (defaults filled, dates and decimals made)
Converter = Callable[[object], object]

_CONVERTERS: Dict[Tuple[int, int], Tuple[dict, Converter]] = {}


def _converter(schema: dict, root: dict) -> Converter:
    """A function that converts instances of ``schema``, built once per schema node."""
    key = (id(schema), id(root))
    hit = _CONVERTERS.get(key)
    if hit is not None and hit[0] is schema:
        return hit[1]
    node = _resolve(schema, root)
    props = node.get("properties")
    items = node.get("items")
    other = _nullable(node)  # an optional value that may be written null: its other branch
    if props is not None:
        children = {name: (_Lazy(sub, root), _resolve(sub, root)) for name, sub in props.items()}

        def convert(instance: object) -> object:
            if not isinstance(instance, dict):
                return instance
            out: Dict[str, object] = {}
            for name, (child, resolved) in children.items():
                if name in instance:
                    out[name] = child(instance[name])
                elif "default" in resolved:
                    out[name] = child(copy.deepcopy(resolved["default"]))
            for name, value in instance.items():
                if name not in out:
                    out[name] = value
            return out
    elif items is not None:
        child = _Lazy(items, root)

        def convert(instance: object) -> object:
            return [child(v) for v in instance] if isinstance(instance, list) else instance
    elif other is not None:
        inner = _Lazy(other, root)

        def convert(instance: object) -> object:
            return None if instance is None else inner(instance)
    elif node.get("format") == "date":
        def convert(instance: object) -> object:
            return _dt.date.fromisoformat(instance) if isinstance(instance, str) else instance
    elif node.get("x-decimal"):
        def convert(instance: object) -> object:
            if isinstance(instance, (int, str, Decimal)) and not isinstance(instance, bool):
                return Decimal(str(instance))
            return instance
    else:
        def convert(instance: object) -> object:
            return instance
    _CONVERTERS[key] = (schema, convert)
    return convert


def nullable(node: dict) -> Optional[dict]:
    """The one other branch of ``anyOf: [{type: null}, X]`` (an optional value that may be written null), or None."""
    branches = node.get("anyOf") if isinstance(node, dict) else None
    if not branches or node.get("x-decimal"):
        return None
    others = [b for b in branches if b != {"type": "null"}]
    return others[0] if len(others) == 1 and len(branches) == 2 else None


_nullable = nullable


class _Lazy:
    """A converter for a sub-schema, built on first use (schemas may refer to themselves)."""

    __slots__ = ("schema", "root", "fn")

    def __init__(self, schema: dict, root: dict) -> None:
        self.schema, self.root = schema, root
        self.fn: Optional[Converter] = None

    def __call__(self, instance: object) -> object:
        if self.fn is None:
            self.fn = _converter(self.schema, self.root)
        return self.fn(instance)
