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

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Dict, Optional

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from .problems import InvalidInput, Location, Problem, pointer_join

#: Aliases a document may hold, and how many values they may add when expanded.
MAX_ALIASES = 256
MAX_ALIAS_EXPANSION = 100_000

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_ALLOWED_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL, _MAP, _SEQ}


class _Resolver(BaseResolver):
    """JSON-like core schema: no timestamps, no yes/no, no sexagesimals."""


_Resolver.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Resolver.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Resolver.add_implicit_resolver(_INT, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))
_Resolver.add_implicit_resolver(
    _FLOAT, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)?(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$"), list("-+0123456789.")
)


class _Composer(Reader, Scanner, Parser, Composer, _Resolver):
    def __init__(self, stream):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Resolver.__init__(self)


try:  # libyaml's C parser composes the same node tree (with marks) many times faster
    from yaml.cyaml import CParser as _CParser

    class _FastComposer(_CParser, _Resolver):
        def __init__(self, stream):
            _CParser.__init__(self, stream)
            _Resolver.__init__(self)
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _FastComposer = None


def _alias_problems(root, path: str) -> list:
    """Refuse documents whose aliases are too many, or expand to too much (an "alias bomb")."""
    distinct, shared = _count_nodes(root)
    if not shared:
        return []
    where = _mark_location(path, root.start_mark)
    if shared > MAX_ALIASES:
        return [Problem("yaml.aliases", f"too many aliases ({shared} > {MAX_ALIASES})", "", where)]
    bound = distinct + MAX_ALIAS_EXPANSION
    if _expanded_size(root, {}, bound + 1) > bound:
        return [Problem("yaml.alias_bomb", f"aliases would expand this document by more than {MAX_ALIAS_EXPANSION} values",
                        "", where)]
    return []


def _count_nodes(root):
    """(distinct nodes, times a node is reached again): each re-reach is an alias."""
    seen, shared, stack = set(), 0, [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            shared += 1
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                stack.extend((k, v))
    return len(seen), shared


@dataclass(frozen=True)
class Document:
    """A parsed file: its data, where each value came from, and its text."""

    path: str
    text: str
    data: Any
    positions: Optional[Dict[str, Location]]  # None: worked out from the text when first asked for
    sources: Optional[Dict[str, str]] = None  # path -> text, for a document merged from several files

    def locate(self, pointer: str) -> Location:
        """The location of ``pointer``, or of its nearest located ancestor."""
        if self.positions is None:  # read fast without positions; find them now that someone asks
            object.__setattr__(self, "positions", read_text(self.path, self.text).positions)
        p = pointer
        while True:
            loc = self.positions.get(p)
            if loc is not None:
                return loc
            if not p:
                return Location(self.path, 1, 1)
            p = p.rsplit("/", 1)[0]

    def line(self, n: int, file: Optional[str] = None) -> str:
        """Line ``n`` of this document's file, or of ``file`` if the document was merged from several."""
        text = self.text if file in (None, self.path) else (self.sources or {}).get(file, "")
        lines = text.splitlines()
        return lines[n - 1] if 0 < n <= len(lines) else ""


def _mark_location(path: str, mark) -> Location:
    if mark is None:
        return Location(path, 0, 0)
    return Location(path, mark.line + 1, mark.column + 1)


def read_text(path: str, text: str) -> Document:
    """Parse YAML (or JSON, its subset) text; raise InvalidInput on any problem."""
    try:
        loader = (_FastComposer or _Composer)(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(s for s in (exc.context, exc.problem) if s) or "not valid YAML"
        raise InvalidInput([Problem("yaml.syntax", f"not valid YAML: {msg}", "", _mark_location(path, mark))])
    except yaml.YAMLError as exc:  # reader errors: bad bytes, control characters
        mark = getattr(exc, "problem_mark", None)
        raise InvalidInput([Problem("yaml.syntax", f"not valid YAML: {exc}", "", _mark_location(path, mark))])
    if root is None:
        raise InvalidInput([Problem("yaml.empty", "the file is empty", "", Location(path, 1, 1))])
    problems = _alias_problems(root, path)
    if problems:
        raise InvalidInput(problems)
    positions: Dict[str, Location] = {}
    data = _build(root, "", path, positions, problems)
    if problems:
        raise InvalidInput(problems)
    return Document(path, text, data, positions)


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _no_constant(name):
    raise ValueError(name)


def read_json_fast(path: str, text: str) -> Document:
    """JSON through the C parser, numbers from their text (never float), duplicate keys refused.

    Positions are worked out only if a problem needs one. Anything the fast
    parser will not take is read again by :func:`read_text`, which reports
    it with its location.
    """
    try:
        data = json.loads(text, parse_float=Decimal, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, _Duplicate, RecursionError):
        return read_text(path, text)
    return Document(path, text, data, None)


def read_file(path: str) -> Document:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InvalidInput([Problem("file.unreadable", f"cannot read file: {exc.strerror}", "", Location(path))])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput([Problem("file.encoding", f"not UTF-8 text (byte {exc.start})", "", Location(path))])
    if path.endswith(".json"):
        return read_json_fast(path, text)
    return read_text(path, text)


def _expanded_size(node, memo: dict, limit: int) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = limit  # a recursive alias counts as unbounded
    if isinstance(node, ScalarNode):
        size = 1
    elif isinstance(node, SequenceNode):
        size = 1
        for child in node.value:
            size += _expanded_size(child, memo, limit)
            if size >= limit:
                break
    else:
        size = 1
        for k, v in node.value:
            size += _expanded_size(k, memo, limit) + _expanded_size(v, memo, limit)
            if size >= limit:
                break
    memo[key] = min(size, limit)
    return memo[key]


def _scalar(node: ScalarNode, pointer: str, path: str, problems: list) -> Any:
    tag, text = node.tag, node.value
    if tag == _STR:
        return text
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return text.lower() == "true"
    if tag == _INT:
        try:
            return int(text)
        except ValueError:
            pass
    if tag == _FLOAT:
        if text in ("", ".", "+", "-") or not any(c.isdigit() for c in text):
            return text
        try:
            return Decimal(text)
        except ArithmeticError:
            pass
    problems.append(Problem("yaml.bad_scalar", f"cannot read {text!r} as {tag.rsplit(':', 1)[-1]}",
                            pointer, _mark_location(path, node.start_mark)))
    return None


def _build(node, pointer: str, path: str, positions: Dict[str, Location], problems: list) -> Any:
    positions.setdefault(pointer, _mark_location(path, node.start_mark))
    if node.tag not in _ALLOWED_TAGS:
        problems.append(Problem("yaml.tag", f"tag {node.tag!r} is not allowed: a policy or facts file holds data only",
                                pointer, _mark_location(path, node.start_mark)))
        return None
    if isinstance(node, ScalarNode):
        return _scalar(node, pointer, path, problems)
    if isinstance(node, SequenceNode):
        return [_build(child, pointer_join(pointer, i), path, positions, problems)
                for i, child in enumerate(node.value)]
    out: Dict[str, Any] = {}
    first_seen: Dict[str, Any] = {}
    for knode, vnode in node.value:
        if knode.tag == "tag:yaml.org,2002:merge":
            problems.append(Problem("yaml.merge_key", "merge keys (<<) are not allowed", pointer,
                                    _mark_location(path, knode.start_mark)))
            continue
        if not isinstance(knode, ScalarNode):
            problems.append(Problem("yaml.key", "a mapping key must be a plain value", pointer,
                                    _mark_location(path, knode.start_mark)))
            continue
        key = knode.value
        child_pointer = pointer_join(pointer, key)
        if key in first_seen:
            first = _mark_location(path, first_seen[key])
            problems.append(Problem("yaml.duplicate_key",
                                    f"duplicate key {key!r} (first at line {first.line}, column {first.col})",
                                    child_pointer, _mark_location(path, knode.start_mark)))
            continue
        first_seen[key] = knode.start_mark
        # a scalar is located at its value, a collection at its key
        anchor = vnode if isinstance(vnode, ScalarNode) else knode
        positions[child_pointer] = _mark_location(path, anchor.start_mark)
        out[key] = _build(vnode, child_pointer, path, positions, problems)
    return out


def expression_location(doc: Optional[Document], pointer: str, offset: int, line_in_expr: int = 1) -> Location:
    """Best location of character ``offset`` (0-based) on line ``line_in_expr`` of the expression at ``pointer``.

    Exact for plain and quoted one-line scalars and for block scalars.
    """
    if doc is None:
        return Location()
    loc = doc.locate(pointer)
    first = doc.line(loc.line, loc.file)[loc.col - 1:loc.col] if loc.col else ""
    if first in ("|", ">"):
        body = doc.line(loc.line + line_in_expr, loc.file)
        indent = len(body) - len(body.lstrip(" "))
        return Location(loc.file, loc.line + line_in_expr, indent + offset + 1)
    if first in ("'", '"'):
        offset += 1
    if line_in_expr > 1:
        return Location(loc.file, loc.line + line_in_expr - 1, offset + 1)
    return Location(loc.file, loc.line, loc.col + offset)
