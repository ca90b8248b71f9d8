"""The facts contract as sheets: one sheet per record kind, one column per field, made from the facts schema.

A roster workbook (or a folder of CSV files) holds the same facts a YAML or JSON file does, flattened: a
sheet for the period, one for the workshops, one for the workers, one for their months and one for the
loans. A nested object becomes dotted columns (``site.government_invested``, ``certification.route``); a
list of codes is one cell (codes or labels separated by commas); a child row names its parent by the ids
the sheets share (``workshop_id``, ``worker_id``). Headers and sheet names are the policy's words
(``sheet.<key>`` and ``field.<kind>.<code>`` labels), with the field code kept beside them, so a fork
that adds a label or a vocabulary gets its own template without touching code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from .. import schemas
from ..policy.model import Policy, Vocabulary
from ..validation import nullable

#: Sheets in workbook order: (key, record kind, the parent kinds a row names by id).
_SHEETS = (
    ("period", "period", ()),
    ("workshops", "workshop", ()),
    ("workers", "worker", ("workshop",)),
    ("months", "month", ("workshop", "worker")),
    ("loans", "loan", ("workshop",)),
)
#: Where a child kind's rows go in the document: kind -> (parent kind, list name).
CHILD_LIST = {"worker": ("workshop", "workers"), "month": ("worker", "months"), "loan": ("workshop", "loans")}
#: The field that names a record of a kind (a month is named by its month).
KEY_FIELD = {"workshop": "id", "worker": "id", "loan": "id", "month": "month"}

INSTRUCTIONS = "instructions"
VOCABULARIES = "vocabularies"  # the (hidden) sheet a template's drop-down lists read
COMMENT = "#"  # a row whose first cell starts with this is a note or an example, never read


@dataclass(frozen=True)
class Column:
    code: str  # as the second header row writes it: birth_date, site.government_invested, workshop_id
    path: Tuple[str, ...]  # where the value goes in the record; () for a link to a parent
    kind: str  # id, text, date, month, decimal, count, integer, bool, list, link
    required: bool
    label: str  # the header a clerk reads
    vocab: Optional[Vocabulary] = None
    parent: Optional[str] = None  # for a link column: the parent kind it names
    default: object = None


@dataclass(frozen=True)
class Sheet:
    key: str  # period, workshops, workers, months, loans
    kind: str
    title: str  # the sheet's name, from the policy's labels
    columns: Tuple[Column, ...]
    parents: Tuple[str, ...]

    def column(self, code: str) -> Optional[Column]:
        return next((c for c in self.columns if c.code == code), None)


def _resolve(node: dict, root: dict) -> dict:
    node = nullable(node) or node
    while "$ref" in node:
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = dict(root["$defs"][node["$ref"].rsplit("/", 1)[-1]], **siblings)
        node = nullable(node) or node
    return node


def _kind_of(node: dict, ref: str) -> str:
    if ref == "id":
        return "id"
    if node.get("x-decimal"):
        return "decimal"
    kind = node.get("type")
    if kind == "boolean":
        return "bool"
    if kind == "integer":
        return "count" if node.get("minimum") == 0 else "integer"
    if kind == "array":
        return "list"
    if kind == "string":
        if node.get("format") == "date":
            return "date"
        pattern = node.get("pattern")
        if pattern and re.search(pattern, "2000-01") and not re.search(pattern, "2000-01-01"):
            return "month"  # a month written YYYY-MM
        return "text"
    return "text"


def _ref_name(node: dict) -> str:
    node = nullable(node) or node
    return node.get("$ref", "").rsplit("/", 1)[-1]


def _fields(props: dict, required: List[str], root: dict, prefix: Tuple[str, ...], must: bool
            ) -> Iterator[Tuple[Tuple[str, ...], str, bool, object]]:
    for name, sub in props.items():
        if (prefix == () and name in ("workers", "loans", "months")):
            continue
        node = _resolve(sub, root)
        path = prefix + (name,)
        needed = must and name in required
        if node.get("type") == "object" and "properties" in node:
            yield from _fields(node["properties"], node.get("required", []), root, path, needed)
            continue
        yield path, _kind_of(node, _ref_name(sub)), needed, node.get("default", sub.get("default"))


def sheets(policy: Policy) -> Tuple[Sheet, ...]:
    """The sheets of a roster for ``policy``: the facts schema's fields with the policy's labels and vocabularies."""
    root = schemas.load("facts")
    out = []
    for key, kind, parents in _SHEETS:
        node = root["properties"]["period"] if kind == "period" else root["$defs"][kind]
        columns = [Column(f"{p}_id", (), "link", True, _label(policy, f"column.{p}", f"field.{kind}.{p}_id",
                                                               default=f"{p}_id"), parent=p)
                   for p in parents]
        for path, ckind, needed, default in _fields(node["properties"], node.get("required", []), root, (), True):
            code = ".".join(path)
            vocab = policy.field_codes.get((".".join((kind,) + path[:-1]), path[-1]))
            columns.append(Column(code, path, ckind, needed, _label(policy, f"field.{kind}.{code}", default=code),
                                  vocab, default=default))
        out.append(Sheet(key, kind, policy.labels.get(f"sheet.{key}", key), tuple(columns), parents))
    return tuple(out)


def instructions_title(policy: Policy) -> str:
    return policy.labels.get(f"sheet.{INSTRUCTIONS}", INSTRUCTIONS)


def _label(policy: Policy, *keys: str, default: str) -> str:
    for key in keys:
        if key in policy.labels:
            return policy.labels[key]
    return default


def by_title(layout: Iterable[Sheet]) -> Dict[str, Sheet]:
    """Each sheet by the names it may be found under: its title and its key."""
    found: Dict[str, Sheet] = {}
    for sheet in layout:
        found.setdefault(sheet.title, sheet)
        found.setdefault(sheet.key, sheet)
    return found
