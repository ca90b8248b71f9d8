"""Safe reading of YAML and JSON text into plain values with source positions.

Nothing here runs code: only the standard scalar kinds are built, every
explicit tag outside them is refused, duplicate keys are refused, and aliases
are bounded by the size of what they would expand to. Numbers are built from
their text: integers as ``int``, everything else as ``Decimal`` (never through
``float``). Dates stay strings; the schema and the facts model check them.

Every value's JSON pointer maps to the :class:`Location` it was read from, so
later stages can report ``file:line:col`` for any value.
"""
from __future__ import annotations

# What callers import, from where it is made: ``document`` (a file read, and its positions), ``yaml_text`` (safe YAML),
# ``json_text`` (strict JSON), ``values`` (the limits a value is held to), ``files`` (a file from disk).
from .document import Document, expression_location
from .files import encoding_problem, read_file
from .json_text import DuplicateKey, json_decoder, parse_json, read_json_fast
from .values import scalar_problem, value_problems
from .yaml_text import MAX_ALIAS_EXPANSION, MAX_ALIASES, _Resolver, read_text

__all__ = ["MAX_ALIASES", "MAX_ALIAS_EXPANSION", "Document", "DuplicateKey", "_Resolver", "encoding_problem",
           "expression_location", "json_decoder", "parse_json", "read_file", "read_json_fast", "read_text",
           "scalar_problem", "value_problems"]
