"""Typed reading of JSON facts: one workshop's bytes to checked, converted data, by msgspec, in C.

The fast path for large, valid files. Its types are made from ``schemas/facts.schema.json`` when first
used, twice over:

- *checking* structs, which msgspec decodes while it checks everything JSON Schema says of the workshop
  that a type can: every object a ``msgspec.Struct`` that refuses unknown fields and knows which are
  required, every string a ``str`` with the schema's length and pattern (and the text limit), every
  integer an ``int`` in its range, every decimal either text of its pattern or a whole number in its
  range. What a type cannot say (the years a date may name, ``uniqueItems``, ``if``/``then``) is checked
  on the decoded structs.
- *value* structs, which msgspec decodes from the same bytes into the data the engine reads, turned
  into dicts by ``msgspec.to_builtins``: defaults filled in, keys in the schema's order, ``Decimal``
  read from the JSON text (never through float), dates as ``datetime.date``. This is exactly what the
  thorough path makes of a valid workshop (:func:`subsidy_rules.validation.apply_defaults_and_types`).

A decimal written as a JSON number with a fraction or an exponent (``0.0385``) is not taken by the
checking types; such a workshop is read again with types that take any number there, and each decimal
it holds is then checked exactly, from its ``Decimal``, against the schema's range and the limits on
numbers.

The fast path only ever says yes. Anything it cannot vouch for (a schema violation, a limit crossed, a
duplicate key, ...) raises :class:`NotVouched`, and the caller takes the thorough path, which finds and
locates every problem: the fast path never reports one itself, so errors are exactly the thorough path's.

Duplicate keys: msgspec keeps the last of two equal keys, so they are found by counting. Every key of
the workshop's text stands before a colon; with the text's white space removed, ``":`` occurs once for
each key and once for each string that begins with a colon, and never otherwise (a string holds no
``"`` unless escaped, and text with any escape is checked by the standard library's strict decoder
instead). The checking structs, encoded again (absent fields are left out), hold one key for each
distinct known key of the text and the same strings (or fewer). The two counts are equal only if no key
was given twice and none was unknown.
"""
from __future__ import annotations

import copy
import datetime as _dt
import re
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from .. import schemas
from ..limits import LIMITS
from ..problems import EngineFault, InputFault
from ..source import scalar_problem

_Bounds = Tuple[Optional[int], Optional[int]]  # a decimal's (minimum, maximum), each when the schema gives one

_WHITE_SPACE = b" \t\r\n"
_DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DOLLAR = re.compile(r"(?<!\\)\$")  # as fastjsonschema reads a pattern: $ is the end of the text, not of a line
_INT64 = 2 ** 63 - 1
#: keywords that say nothing a reader must check
_QUIET = {"description", "title", "x-error", "$schema", "$id", "$comment"}


class NotVouched(InputFault):
    """The fast path cannot vouch for this input: take the thorough path, which says what (if anything) is wrong."""


class Untranslatable(EngineFault):
    """The facts schema uses a keyword the typed reader does not know: it must be taught before it is used."""


def _anchored(pattern: str) -> str:
    return _DOLLAR.sub(r"\\Z", pattern)


class _Shape:
    """What one schema node is, for the typed reader: its three annotations and what is checked after decoding.

    ``strict`` and ``lax`` are the checking annotations (``lax`` takes any JSON number as a decimal),
    ``value`` the annotation of the data. ``kind`` is one of str, int, bool, date, decimal, list, object;
    ``nullable`` says null is allowed.
    """

    __slots__ = ("kind", "strict", "lax", "value", "nullable", "item", "unique", "obj", "number")

    # strict, lax and value are type expressions built at run time (for msgspec), which no static type describes
    def __init__(self, kind: str, strict: Any, lax: Any, value: Any, *, item: Optional[_Shape] = None,
                 unique: bool = False, obj: Optional[_Object] = None, number: Optional[_Bounds] = None) -> None:
        self.kind, self.strict, self.lax, self.value = kind, strict, lax, value
        self.nullable, self.item, self.unique, self.obj, self.number = False, item, unique, obj, number


class _Object:
    """A schema object: its structs, and which of its fields hold decimals (checked exactly in the lax reading)."""

    def __init__(self, name: str):
        self.name = name
        self.strict = self.lax = self.value = None
        self.decimals: Tuple[str, ...] = ()
        self.decimal_lists: Tuple[str, ...] = ()
        self.value_children: Tuple[Tuple[str, bool, "_Object"], ...] = ()  # (field, is a list, object) with decimals


class _Translator:
    """Translates the facts schema (a subset of JSON Schema, strictly: an unknown keyword is refused)."""

    def __init__(self, root: dict):
        import msgspec

        self.msgspec = msgspec
        self.root = root

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            target = self.root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def only(self, node: dict, allowed: set, name: str) -> None:
        unknown = set(node) - allowed - _QUIET
        if unknown:
            raise Untranslatable(f"{name}: keywords {sorted(unknown)}")

    def shape(self, node: dict, name: str) -> _Shape:
        from typing import Annotated

        Meta = self.msgspec.Meta
        node = self.resolve(node)
        if node.get("x-decimal"):
            return self.decimal(node, name)
        branches = node.get("anyOf")
        if branches is not None:
            others = [b for b in branches if b != {"type": "null"}]
            self.only(node, {"anyOf", "default"}, name)
            if len(others) != 1 or len(branches) != 2:
                raise Untranslatable(f"{name}: anyOf other than an optional value")
            inner = self.shape(others[0], name)
            out = _Shape(inner.kind, Optional[inner.strict], Optional[inner.lax], Optional[inner.value],
                         item=inner.item, unique=inner.unique, obj=inner.obj, number=inner.number)
            out.nullable = True
            return out
        kind = node.get("type")
        if kind == "object":
            obj = self.object(node, name)
            return _Shape("object", obj.strict, obj.lax, obj.value, obj=obj)
        if kind == "array":
            self.only(node, {"type", "items", "default", "uniqueItems"}, name)
            item = self.shape(node.get("items", {}), name)
            unique = bool(node.get("uniqueItems", False))
            if unique and item.kind not in ("str", "int", "bool", "date"):
                raise Untranslatable(f"{name}: uniqueItems of {item.kind}")
            # types built at run time from the schema's items, for msgspec
            return _Shape("list", List[item.strict], List[item.lax], List[item.value],  # type: ignore[name-defined]
                          item=item, unique=unique)
        if kind == "string":
            self.only(node, {"type", "pattern", "format", "minLength", "maxLength", "default"}, name)
            if node.get("format") == "date":
                # read as a calendar date by msgspec, which takes exactly YYYY-MM-DD (a date of the usual pattern: a
                # text that pattern takes but msgspec does not, such as 2022-02-30, is left to the thorough path);
                # a date of another pattern is checked as text of it first. The years are checked after.
                pattern = node.get("pattern", _DATE_PATTERN)
                if pattern == _DATE_PATTERN:
                    return _Shape("date", _dt.date, _dt.date, _dt.date)
                text: Any = Annotated[str, Meta(pattern=_anchored(pattern))]
                return _Shape("date", text, text, _dt.date)
            if "format" in node:
                raise Untranslatable(f"{name}: format {node['format']}")
            meta = {"max_length": min(node.get("maxLength", LIMITS.max_text_chars), LIMITS.max_text_chars)}
            if "minLength" in node:
                meta["min_length"] = node["minLength"]
            if "pattern" in node:
                meta["pattern"] = _anchored(node["pattern"])
            text = Annotated[str, Meta(**meta)]
            return _Shape("str", text, text, str)
        if kind == "integer":
            self.only(node, {"type", "minimum", "maximum", "default"}, name)
            # within 64 bits: a longer whole number is left to the thorough path (and its limit on digits)
            low, high = max(node.get("minimum", -_INT64), -_INT64), min(node.get("maximum", _INT64), _INT64)
            whole = Annotated[int, Meta(ge=low, le=high)]
            return _Shape("int", whole, whole, int)
        if kind == "boolean":
            self.only(node, {"type", "default"}, name)
            return _Shape("bool", bool, bool, bool)
        raise Untranslatable(f"{name}: {sorted(node)}")

    def decimal(self, node: dict, name: str) -> _Shape:
        """A decimal written as a number in a range or as text of a pattern (``x-decimal``)."""
        from typing import Annotated

        Meta = self.msgspec.Meta
        self.only(node, {"anyOf", "x-decimal", "default"}, name)
        number = [b for b in node["anyOf"] if b.get("type") == "number"]
        text = [b for b in node["anyOf"] if b.get("type") == "string"]
        if len(node["anyOf"]) != 2 or len(number) != 1 or len(text) != 1:
            raise Untranslatable(f"{name}: x-decimal other than a number or a text")
        self.only(number[0], {"type", "minimum", "maximum"}, name)
        self.only(text[0], {"type", "pattern"}, name)
        low, high = number[0].get("minimum"), number[0].get("maximum")
        if any(b is not None and not isinstance(b, int) for b in (low, high)):
            raise Untranslatable(f"{name}: a decimal's bounds are whole numbers")
        bounds = {k: v for k, v in (("ge", low), ("le", high)) if v is not None}
        bounds = {k: max(min(v, _INT64), -_INT64) for k, v in bounds.items()}
        digits = Annotated[str, Meta(pattern=_anchored(text[0]["pattern"]))]
        whole = Annotated[int, Meta(**bounds)] if bounds else int
        # lax: any number in the range as a float, for the type check only; its exact value is checked after
        loose = Annotated[float, Meta(**{k: v for k, v in (("ge", low), ("le", high)) if v is not None})]
        return _Shape("decimal", Union[digits, whole], Union[digits, whole, loose], Decimal, number=(low, high))

    def object(self, node: dict, name: str) -> _Object:
        msgspec = self.msgspec
        self.only(node, {"type", "properties", "required", "additionalProperties", "default", "if", "then"}, name)
        if node.get("additionalProperties", True) is not False:
            raise Untranslatable(f"{name}: an object that takes any field")
        obj = _Object(name)
        required = set(node.get("required", ()))
        # msgspec's field specs: (name, type) or (name, type, default)
        strict: List[tuple] = []
        lax: List[tuple] = []
        value: List[tuple] = []
        dates: List[Tuple[str, bool]] = []
        uniques: List[str] = []
        decimals: List[str] = []
        decimal_lists: List[str] = []
        value_children: List[Tuple[str, bool, _Object]] = []
        for prop, sub in node.get("properties", {}).items():
            shape = self.shape(sub, prop)
            resolved = self.resolve(sub)
            if prop in required:
                strict.append((prop, shape.strict))
                lax.append((prop, shape.lax))
                value.append((prop, shape.value))
            else:
                strict.append((prop, Union[shape.strict, msgspec.UnsetType], msgspec.UNSET))
                lax.append((prop, Union[shape.lax, msgspec.UnsetType], msgspec.UNSET))
                if "default" in resolved:
                    value.append((prop, shape.value, self.default(resolved["default"], sub, shape)))
                else:
                    value.append((prop, Union[shape.value, msgspec.UnsetType], msgspec.UNSET))
            listed = shape.kind == "list"
            inner = shape.item if listed else shape
            assert inner is not None  # a list's shape has its item's
            if inner.kind == "date":
                dates.append((prop, listed))
            if listed and shape.unique:
                uniques.append(prop)
            if inner.kind == "decimal":
                (decimal_lists if listed else decimals).append(prop)
            if inner.kind == "object" and inner.obj is not None and (
                    inner.obj.decimals or inner.obj.decimal_lists or inner.obj.value_children):
                value_children.append((prop, listed, inner.obj))
        obj.decimals, obj.decimal_lists, obj.value_children = tuple(decimals), tuple(decimal_lists), tuple(value_children)
        # gc=False: a struct of facts never refers back to itself; kw_only: the fields keep the schema's order
        options = dict(kw_only=True, forbid_unknown_fields=True, gc=False)
        checks = _post_init(tuple(dates), tuple(uniques), self.condition(node, name), msgspec.UNSET)
        namespace = {"__post_init__": checks} if checks is not None else None
        obj.strict = msgspec.defstruct(f"Check_{name}", strict, namespace=namespace, **options)
        obj.lax = msgspec.defstruct(f"CheckAnyNumber_{name}", lax, namespace=namespace, **options)
        obj.value = msgspec.defstruct(f"Facts_{name}", value, **options)
        return obj

    def default(self, default: Any, schema: dict, shape: _Shape) -> Any:
        """The default of a value field: the schema's default as the thorough path converts it (a new copy each time)."""
        from ..validation import apply_defaults_and_types

        msgspec = self.msgspec
        converted = apply_defaults_and_types(copy.deepcopy(default), schema, self.root)
        if shape.kind == "object":
            return msgspec.field(default_factory=lambda: msgspec.convert(copy.deepcopy(default), shape.value))
        if isinstance(converted, (list, dict)):
            if converted:
                raise Untranslatable("a default list that is not empty")
            return msgspec.field(default_factory=type(converted))
        return converted

    def condition(self, node: dict, name: str) -> Optional[Callable]:
        """``if: {properties: {P: {const: V}}, required: [P]}, then: {required: [...]}``, the one form the facts use."""
        if "if" not in node and "then" not in node:
            return None
        cond, then = node.get("if", {}), node.get("then", {})
        props = cond.get("properties", {})
        if set(cond) != {"properties", "required"} or len(props) != 1 or set(then) != {"required"}:
            raise Untranslatable(f"{name}: an if/then other than 'a field equal to a constant requires others'")
        (prop, test), = props.items()
        if set(test) != {"const"} or cond["required"] != [prop]:
            raise Untranslatable(f"{name}: an if/then other than 'a field equal to a constant requires others'")
        const, needed = test["const"], tuple(then["required"])
        unset = self.msgspec.UNSET

        def check(struct: object) -> None:
            value = getattr(struct, prop)
            if value is not unset and type(value) is type(const) and value == const:
                for field_name in needed:  # a loop, not any(): run on every struct of a province's facts
                    if getattr(struct, field_name) is unset:
                        raise ValueError(f"{name}: {prop} requires {', '.join(needed)}")
        return check


def _post_init(dates: Tuple[Tuple[str, bool], ...], uniques: Tuple[str, ...], condition: Optional[Callable],
               unset: object) -> Optional[Callable]:
    """The checks no type expresses, run by msgspec on each checking struct it decodes (``__post_init__``; a
    ValueError becomes a ValidationError): dates within the years a date may name (the calendar is checked
    where the value struct reads them), items that must not repeat, an ``if``/``then``."""
    if not (dates or uniques or condition):
        return None
    first, last = LIMITS.first_year, LIMITS.last_year

    def check(struct: object) -> None:
        for name, listed in dates:
            value = getattr(struct, name)
            if value is unset or value is None:
                continue
            for text in (value if listed else (value,)):
                if text is None:
                    continue
                # a date, or a text its pattern made YYYY-MM-DD
                year = text.year if text.__class__ is _dt.date else int(text[:4])
                if not first <= year <= last:
                    raise ValueError(f"{name}: {text} lies outside the years a date may name")
        for name in uniques:
            value = getattr(struct, name)
            if value is not unset and value is not None and len(set(value)) != len(value):
                raise ValueError(f"{name}: an item repeats")
        if condition is not None:
            condition(struct)
    return check


def _exact(obj: _Object, struct: object, bounds: Dict[str, _Bounds], unset: object) -> None:
    """Each decimal of a value struct (read with the lax types) within its range and the limits on numbers, exactly."""
    for name in obj.decimals:
        _exact_decimal(getattr(struct, name), bounds[name])
    for name in obj.decimal_lists:
        value = getattr(struct, name)
        for item in (() if value is unset or value is None else value):
            _exact_decimal(item, bounds[name])
    for name, listed, child in obj.value_children:
        value = getattr(struct, name)
        if value is unset or value is None:
            continue
        for item in (value if listed else (value,)):
            if item is not None:
                _exact(child, item, bounds, unset)


def _exact_decimal(value: object, bounds: _Bounds) -> None:
    if not isinstance(value, Decimal):  # absent (UNSET) or null
        return
    low, high = bounds
    if not value.is_finite() or scalar_problem(value) is not None or \
            (low is not None and value < low) or (high is not None and value > high):
        raise NotVouched(f"{value} is not a decimal of the facts schema")


class WorkshopReader:
    """Reads one workshop (or the period) of a JSON facts file from its bytes (see the module's description)."""

    def __init__(self) -> None:
        import msgspec

        schema = schemas.load("facts")
        translator = _Translator(schema)
        workshop = translator.shape({"$ref": "#/$defs/workshop"}, "workshop").obj
        period = translator.shape(schema["properties"]["period"], "period").obj
        assert workshop is not None and period is not None  # both are objects of the facts schema
        self._unset = msgspec.UNSET
        self._workshop, self._period = workshop, period
        self._bounds = _decimal_bounds(translator, schema)
        decoder = msgspec.json.Decoder
        self._strict = decoder(workshop.strict).decode
        self._lax = decoder(workshop.lax).decode
        self._value = decoder(workshop.value).decode
        self._period_strict = decoder(period.strict).decode
        self._period_value = decoder(period.value).decode
        self._encode = msgspec.json.Encoder().encode
        self._builtins = msgspec.to_builtins
        self._kept = (_dt.date, Decimal)
        self._errors = (msgspec.DecodeError, msgspec.ValidationError, ValueError, RecursionError)

    def workshop(self, raw: bytes) -> dict:
        """The workshop whose JSON text is exactly ``raw``, checked and converted; NotVouched otherwise."""
        try:
            try:
                checked, exact = self._strict(raw), False
            except self._errors[1]:  # perhaps a decimal written as a number with a fraction: read with lax types
                checked, exact = self._lax(raw), True
            self._no_repeated_keys(raw, checked)
            value = self._value(raw)
            if exact:
                _exact(self._workshop, value, self._bounds, self._unset)
        except self._errors as exc:
            raise NotVouched(f"{type(exc).__name__}: {exc}") from None
        return self._builtins(value, builtin_types=self._kept)

    def period(self, raw: bytes) -> dict:
        """The period whose JSON text is exactly ``raw``, checked and converted; NotVouched otherwise."""
        try:
            checked = self._period_strict(raw)
            self._no_repeated_keys(raw, checked)
            value = self._period_value(raw)
        except self._errors as exc:
            raise NotVouched(f"{type(exc).__name__}: {exc}") from None
        return self._builtins(value, builtin_types=self._kept)

    def _no_repeated_keys(self, raw: bytes, checked: object) -> None:
        """NotVouched unless no key of the text is repeated or unknown (see the module's description)."""
        if b"\\" in raw:  # an escape: the standard library's strict decoder looks inside (rare, and slower)
            from ..source import DuplicateKey, parse_json
            try:
                parse_json(raw.decode("utf-8"))
            except (DuplicateKey, ValueError, RecursionError) as exc:
                raise NotVouched(f"{type(exc).__name__}: {exc}") from None
            return
        if raw.translate(None, _WHITE_SPACE).count(b'":') != self._encode(checked).count(b'":'):
            raise NotVouched("a key is given twice or is not a field of the facts")


def _decimal_bounds(translator: _Translator, schema: dict) -> Dict[str, _Bounds]:
    """The (minimum, maximum) of each decimal field, by field name (one range per name in the facts schema)."""
    bounds: Dict[str, _Bounds] = {}

    def walk(node: dict, name: str) -> None:
        node = translator.resolve(node)
        if node.get("x-decimal"):
            number = [b for b in node["anyOf"] if b.get("type") == "number"][0]
            found = (number.get("minimum"), number.get("maximum"))
            if bounds.setdefault(name, found) != found:
                raise Untranslatable(f"{name}: two decimal ranges under one name")
            return
        for branch in node.get("anyOf", ()):
            walk(branch, name)
        if "items" in node:
            walk(node["items"], name)
        for prop, sub in (node.get("properties") or {}).items():
            walk(sub, prop)

    walk({"$ref": "#/$defs/workshop"}, "workshop")
    return bounds


_READER: List[WorkshopReader] = []


def workshop_reader() -> WorkshopReader:
    """The reader, made from the facts schema once per process."""
    if not _READER:
        _READER.append(WorkshopReader())
    return _READER[0]
