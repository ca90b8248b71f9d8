"""``subsidy facts convert``: facts between a workbook, a folder of CSV files, YAML and JSON, losslessly.

The facts are read and checked as ``evaluate`` reads them (every problem, located, refuses the conversion),
then written as the same document in the other form: what the file states, no default filled in, amounts
with every digit they were given. A round trip gives equal facts and so equal decisions.
"""
from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import IO, Dict, Optional, Tuple

import yaml

from .. import schemas
from ..policy.model import Policy
from ..problems import InvalidInput
from ..validation import fast_valid, schema_problems
from .hints import enrich
from ..source import _Resolver, read_file
from .reading import load_facts
from .template import flatten, write_csv_folder, write_workbook
from .layout import sheets
from .workbook import is_roster, read_roster

FORMATS = ("xlsx", "csv", "yaml", "json")


def format_of(path: str, given: Optional[str] = None) -> str:
    """The form a path is written in: ``given``, or its extension (a folder or a name without one: CSV)."""
    if given:
        return given
    lower = path.lower()
    if lower.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower.endswith(".json"):
        return "json"
    return "csv"


def read_document(path: str, policy: Optional[Policy], encoding: Optional[str] = None) -> dict:
    """The facts document at ``path`` as stated, checked first (InvalidInput with every problem): against the policy,
    or, without one (YAML and JSON only), against the facts schema."""
    if policy is None:
        doc = read_file(path, encoding=encoding)
        schema = schemas.load("facts")
        if not fast_valid(schema, doc.data):
            raise InvalidInput(enrich(schema_problems(doc, schema, "facts"), doc.data))
        return doc.data
    load_facts(path, policy, encoding)
    if is_roster(path):
        return read_roster(path, policy, encoding)[0].data
    return read_file(path, encoding=encoding).data


class _Dumper(yaml.emitter.Emitter, yaml.serializer.Serializer, yaml.representer.SafeRepresenter, _Resolver):
    """Safe YAML, quoting only what the facts reader would read otherwise (so dates stay unquoted, as written)."""

    def __init__(self, stream: IO[str], default_style: Optional[str] = None, default_flow_style: bool = False,
                 canonical: Optional[bool] = None, indent: Optional[int] = None, width: Optional[int] = None,
                 allow_unicode: Optional[bool] = None, line_break: Optional[str] = None, encoding: Optional[str] = None,
                 explicit_start: Optional[bool] = None, explicit_end: Optional[bool] = None,
                 version: Optional[Tuple[int, int]] = None, tags: Optional[Dict[str, str]] = None,
                 sort_keys: bool = True) -> None:
        yaml.emitter.Emitter.__init__(self, stream, canonical=canonical, indent=indent, width=width,
                                      allow_unicode=allow_unicode, line_break=line_break)
        yaml.serializer.Serializer.__init__(self, encoding=encoding, explicit_start=explicit_start,
                                            explicit_end=explicit_end, version=version, tags=tags)
        yaml.representer.SafeRepresenter.__init__(self, default_style=default_style,
                                                  default_flow_style=default_flow_style, sort_keys=sort_keys)
        _Resolver.__init__(self)


def _decimal(dumper: yaml.representer.SafeRepresenter, value: Decimal) -> yaml.nodes.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:float", str(value))


_Dumper.add_representer(Decimal, _decimal)


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def write_document(data: dict, path: str, fmt: str, policy: Policy) -> None:
    """Write a facts document to ``path`` in ``fmt``."""
    if fmt in ("xlsx", "csv"):
        rows = flatten(data, sheets(policy))
        if fmt == "xlsx":
            write_workbook(path, policy, rows)
        else:
            write_csv_folder(path, policy, rows)
        return
    if fmt == "json":
        text = json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n"
    else:
        text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False, width=120)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def needs_policy(source: str, target: str, fmt: Optional[str] = None) -> bool:
    """A roster (workbook or CSV) on either side takes its sheets, headers and codes from a policy."""
    return is_roster(source) or format_of(target, fmt) in ("xlsx", "csv")


def convert(source: str, target: str, policy: Optional[Policy], fmt: Optional[str] = None,
            encoding: Optional[str] = None) -> str:
    """Convert the facts at ``source`` to ``target``; the format written."""
    data = read_document(source, policy, encoding)
    written = format_of(target, fmt)
    # a roster side needs the policy: the caller asks needs_policy() and gives one whenever it is true
    write_document(data, target, written, policy)  # type: ignore[arg-type]
    return written
