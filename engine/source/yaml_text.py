"""Safe YAML (and JSON, its subset) into plain values with source positions.

Nothing here runs code: only the standard scalar kinds are built, every explicit tag outside them is refused, duplicate
keys are refused, and aliases are bounded by the size of what they would expand to. Numbers are built from their text:
integers as ``int``, everything else as ``Decimal`` (never through ``float``). Dates stay strings.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Dict, List, Optional, Set, Tuple, Type, Union

import yaml
from yaml.composer import Composer
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from ..limits import LIMITS
from ..problems import InvalidInput, Location, Problem, pointer_join
from .document import Document, mark_location
from .values import scalar_problem

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
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Resolver.__init__(self)


try:  # libyaml's C parser composes the same node tree (with marks) many times faster
    # the stubs import CParser into yaml.cyaml from yaml._yaml without exporting it; at run time it is the same class
    from yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]

    class _FastComposer(_CParser, _Resolver):
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            _Resolver.__init__(self)

    _COMPOSER: Union[Type[_FastComposer], Type[_Composer]] = _FastComposer
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _COMPOSER = _Composer


def _alias_problems(root: Node, path: str) -> List[Problem]:
    """Refuse documents whose aliases are too many, or expand to too much (an "alias bomb")."""
    distinct, shared = _count_nodes(root)
    if not shared:
        return []
    where = mark_location(path, root.start_mark)
    if shared > MAX_ALIASES:
        return [Problem("yaml.aliases", f"too many aliases ({shared} > {MAX_ALIASES})", "", where)]
    bound = distinct + MAX_ALIAS_EXPANSION
    if _expanded_size(root, {}, bound + 1) > bound:
        return [Problem("yaml.alias_bomb", f"aliases would expand this document by more than {MAX_ALIAS_EXPANSION} values",
                        "", where)]
    return []


def _count_nodes(root: Node) -> Tuple[int, int]:
    """(distinct nodes, times a node is reached again): each re-reach is an alias."""
    seen: Set[int] = set()
    shared, stack = 0, [root]
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


def _too_deep_node(root: Node, limit: int) -> Optional[Node]:
    """The first node nested deeper than ``limit``, or None (walked without recursion)."""
    stack = [(root, 0)]
    seen: Set[int] = set()
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return node
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, MappingNode):
            stack.extend((v, depth + 1) for _, v in node.value)
    return None


#: What PyYAML says when a line is indented more or less than its mapping or list allows.
_INDENTATION = re.compile(r"did not find expected (key|'-' indicator)|mapping values are not allowed|"
                          r"expected <block end>")


def read_text(path: str, text: str) -> Document:
    """Parse YAML (or JSON, its subset) text; raise InvalidInput on any problem."""
    try:
        loader = _COMPOSER(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(s for s in (exc.context, exc.problem) if s) or "not valid YAML"
        where, hint = _full_width_near(path, text, mark)
        if hint is None and _INDENTATION.search(msg):
            hint = ("look at the indentation of this line and of the line above it: keys of one mapping line up, "
                    "a list's items start with '- ' at one indentation, with spaces (not tabs)")
        raise InvalidInput([Problem("yaml.syntax", f"not valid YAML: {msg}", "", where or mark_location(path, mark),
                                    hint=hint)])
    except yaml.YAMLError as exc:  # reader errors: bad bytes, control characters
        mark = getattr(exc, "problem_mark", None)
        raise InvalidInput([Problem("yaml.syntax", f"not valid YAML: {exc}", "", mark_location(path, mark))])
    if root is None:
        raise InvalidInput([Problem("yaml.empty", "the file is empty", "", Location(path, 1, 1))])
    deep = _too_deep_node(root, LIMITS.max_depth)
    if deep is not None:
        raise InvalidInput([Problem("input.too_deep", f"nested more than {LIMITS.max_depth} levels deep", "",
                                    mark_location(path, deep.start_mark))])
    problems = _alias_problems(root, path)
    if problems:
        raise InvalidInput(problems)
    positions: Dict[str, Location] = {}
    data = _build(root, "", path, positions, problems)
    if problems:
        raise InvalidInput(problems, positions)
    return Document(path, text, data, positions)


#: Full-width punctuation a YAML or JSON file needs half-width, and what to type instead.
FULL_WIDTH_SYNTAX = {"\uff1a": ":", "\uff0c": ",", "\uff5b": "{", "\uff5d": "}", "\uff3b": "[", "\uff3d": "]",
                     "\uff02": '"', "\u201c": '"', "\u201d": '"', "\uff07": "'", "\u2018": "'", "\u2019": "'"}


def _full_width_near(path: str, text: str, mark: Optional[Mark]) -> Tuple[Optional[Location], Optional[str]]:
    """The place of a full-width colon, comma or bracket on the line of a syntax error or the two before it (where
    a parser that met it stops later), and a hint naming it; (None, None) if there is none."""
    if mark is None:
        return None, None
    from ..locale import say
    lines = text.splitlines()
    for n in range(mark.line, max(-1, mark.line - 3), -1):
        line = lines[n] if 0 <= n < len(lines) else ""
        for col, char in enumerate(line):
            if char in FULL_WIDTH_SYNTAX and not _in_quotes(line, col) and line.lstrip()[:1] != "#":
                return Location(path, n + 1, col + 1), say("hint.yaml_full_width", "en", char=char,
                                                           write=FULL_WIDTH_SYNTAX[char])
    return None, None


def _in_quotes(line: str, col: int) -> bool:
    before = line[:col]
    return before.count('"') % 2 == 1 or before.count("'") % 2 == 1


def _expanded_size(node: Node, memo: Dict[int, int], limit: int) -> int:
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


def _scalar(node: ScalarNode, pointer: str, path: str, problems: List[Problem]) -> Any:
    tag, text = node.tag, node.value
    if tag == _STR:
        if len(text) > LIMITS.max_text_chars:
            problems.append(Problem("input.text_too_long", f"text of {len(text):,} characters (at most "
                                    f"{LIMITS.max_text_chars:,})", pointer, mark_location(path, node.start_mark)))
            return None
        return text
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return text.lower() == "true"
    if tag in (_INT, _FLOAT) and sum(c.isdigit() for c in text) > LIMITS.max_number_digits:
        problems.append(Problem("input.number_too_long", f"a number of more than {LIMITS.max_number_digits} digits",
                                pointer, mark_location(path, node.start_mark)))
        return None
    if tag == _INT:
        try:
            return int(text)
        except ValueError:
            pass
    if tag == _FLOAT:
        if text in ("", ".", "+", "-") or not any(c.isdigit() for c in text):
            return text
        try:
            value = Decimal(text)
        except ArithmeticError:
            pass
        else:
            found = scalar_problem(value)
            if found is None:
                return value
            problems.append(Problem(found[0], found[1], pointer, mark_location(path, node.start_mark)))
            return None
    problems.append(Problem("yaml.bad_scalar", f"cannot read {text!r} as {tag.rsplit(':', 1)[-1]}",
                            pointer, mark_location(path, node.start_mark)))
    return None


def _build(node: Node, pointer: str, path: str, positions: Dict[str, Location], problems: List[Problem]) -> Any:
    positions.setdefault(pointer, mark_location(path, node.start_mark))
    if node.tag not in _ALLOWED_TAGS:
        problems.append(Problem("yaml.tag", f"tag {node.tag!r} is not allowed: a policy or facts file holds data only",
                                pointer, mark_location(path, node.start_mark)))
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
                                    mark_location(path, knode.start_mark)))
            continue
        if not isinstance(knode, ScalarNode):
            problems.append(Problem("yaml.key", "a mapping key must be a plain value", pointer,
                                    mark_location(path, knode.start_mark)))
            continue
        key = knode.value
        child_pointer = pointer_join(pointer, key)
        if key in first_seen:
            first = mark_location(path, first_seen[key])
            problems.append(Problem("yaml.duplicate_key",
                                    f"duplicate key {key!r} (first at line {first.line}, column {first.col})",
                                    child_pointer, mark_location(path, knode.start_mark)))
            continue
        first_seen[key] = knode.start_mark
        # a scalar is located at its value, a collection at its key
        anchor = vnode if isinstance(vnode, ScalarNode) else knode
        positions[child_pointer] = mark_location(path, anchor.start_mark)
        out[key] = _build(vnode, child_pointer, path, positions, problems)
    return out
