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

from .limits import LIMITS, Limits
from .problems import InputFault, InvalidInput, Location, Problem, pointer_join

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


def _too_deep_node(root, limit: int):
    """The first node nested deeper than ``limit``, or None (walked without recursion)."""
    stack = [(root, 0)]
    seen = set()
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


def scalar_problem(value, limits: Limits = LIMITS):
    """(code, message) if a scalar read from a file crosses a limit, else None."""
    if isinstance(value, str):
        if len(value) > limits.max_text_chars:
            return "input.text_too_long", f"text of {len(value):,} characters (at most {limits.max_text_chars:,})"
        if _SURROGATE.search(value):
            return "input.surrogate", "text holds a lone surrogate (an escape such as \\ud800 that is no character)"
        return None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        digits = len(str(abs(value))) if abs(value) < 10 ** limits.max_number_digits else limits.max_number_digits + 1
        if digits > limits.max_number_digits:
            return "input.number_too_long", f"a number of more than {limits.max_number_digits} digits"
        return None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return "input.number", f"{value} is not a number"
        sign, digits, exponent = value.as_tuple()
        if len(digits) > limits.max_number_digits:
            return "input.number_too_long", f"a number of {len(digits)} digits (at most {limits.max_number_digits})"
        if value != 0 and value.adjusted() > limits.max_number_exponent:
            return "input.number_too_large", f"{value:.6g} is larger than 1e{limits.max_number_exponent}"
        if exponent < -limits.max_number_digits:
            return "input.number_too_long", f"a number with more than {limits.max_number_digits} decimals"
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def value_problems(data, path: str, limits: Limits) -> list:
    """Every value of parsed JSON that crosses a limit (depth, numbers, text), as (code, message, pointer)."""
    out = []
    stack = [(data, "", 0)]
    while stack:
        value, pointer, depth = stack.pop()
        if isinstance(value, dict):
            if depth >= limits.max_depth:
                out.append(("input.too_deep", f"nested more than {limits.max_depth} levels deep", pointer))
                continue
            for key, child in value.items():
                found = scalar_problem(key, limits)
                if found:
                    out.append((*found, pointer))
                stack.append((child, pointer_join(pointer, key), depth + 1))
        elif isinstance(value, list):
            if depth >= limits.max_depth:
                out.append(("input.too_deep", f"nested more than {limits.max_depth} levels deep", pointer))
                continue
            stack.extend((child, pointer_join(pointer, i), depth + 1) for i, child in enumerate(value))
        else:
            found = scalar_problem(value, limits)
            if found:
                out.append((*found, pointer))
    return out


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
            try:
                positions = read_text(self.path, self.text).positions
            except InvalidInput as exc:  # still located, unless YAML cannot read it at all (a \\u escape it refuses)
                positions = exc.positions or {}
            object.__setattr__(self, "positions", positions)
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
        where, hint = _full_width_near(path, text, mark)
        raise InvalidInput([Problem("yaml.syntax", f"not valid YAML: {msg}", "", where or _mark_location(path, mark),
                                    hint=hint)])
    except yaml.YAMLError as exc:  # reader errors: bad bytes, control characters
        mark = getattr(exc, "problem_mark", None)
        raise InvalidInput([Problem("yaml.syntax", f"not valid YAML: {exc}", "", _mark_location(path, mark))])
    if root is None:
        raise InvalidInput([Problem("yaml.empty", "the file is empty", "", Location(path, 1, 1))])
    deep = _too_deep_node(root, LIMITS.max_depth)
    if deep is not None:
        raise InvalidInput([Problem("input.too_deep", f"nested more than {LIMITS.max_depth} levels deep", "",
                                    _mark_location(path, deep.start_mark))])
    problems = _alias_problems(root, path)
    if problems:
        raise InvalidInput(problems)
    positions: Dict[str, Location] = {}
    data = _build(root, "", path, positions, problems)
    if problems:
        raise InvalidInput(problems, positions)
    return Document(path, text, data, positions)


#: Full-width punctuation a YAML or JSON file needs half-width, and what to type instead.
_FULL_WIDTH_SYNTAX = {"\uff1a": ":", "\uff0c": ",", "\uff5b": "{", "\uff5d": "}", "\uff3b": "[", "\uff3d": "]",
                      "\uff02": '"', "\u201c": '"', "\u201d": '"', "\uff07": "'", "\u2018": "'", "\u2019": "'"}


def _full_width_near(path: str, text: str, mark):
    """The place of a full-width colon, comma or bracket on the line of a syntax error or the two before it (where
    a parser that met it stops later), and a hint naming it; (None, None) if there is none."""
    if mark is None:
        return None, None
    from .locale import say
    lines = text.splitlines()
    for n in range(mark.line, max(-1, mark.line - 3), -1):
        line = lines[n] if 0 <= n < len(lines) else ""
        for col, char in enumerate(line):
            if char in _FULL_WIDTH_SYNTAX and not _in_quotes(line, col) and line.lstrip()[:1] != "#":
                return Location(path, n + 1, col + 1), say("hint.yaml_full_width", "en", char=char,
                                                           write=_FULL_WIDTH_SYNTAX[char])
    return None, None


def _in_quotes(line: str, col: int) -> bool:
    before = line[:col]
    return before.count('"') % 2 == 1 or before.count("'") % 2 == 1


class DuplicateKey(InputFault):
    """A JSON object names one key twice."""


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name):
    raise ValueError(name)


def json_decoder() -> json.JSONDecoder:
    """Strict JSON (RFC 8259): numbers from their text (never float), duplicate keys and NaN refused."""
    return json.JSONDecoder(parse_float=Decimal, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def parse_json(text: str):
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


def _json_hint(text: str, pos: int):
    """What a person probably meant, for the JSON slips YAML would have taken."""
    if text[pos:pos + 1] in _FULL_WIDTH_SYNTAX:
        from .locale import say
        return say("hint.yaml_full_width", "en", char=text[pos], write=_FULL_WIDTH_SYNTAX[text[pos]])
    before = text[:pos].rstrip()
    if before.endswith(",") and text[pos:pos + 1] in "}]":
        return "a comma stands before this closing bracket: JSON takes no comma after the last item"
    near = text[max(0, pos - 1):pos + 1]
    if "+" in near:
        return "JSON numbers have no leading +: write 1, not +1"
    if text[pos:pos + 1].isdigit():
        return "a date or other text is written in double quotes in JSON: \"2022-07-01\""
    return None


def _located_duplicates(path: str, text: str) -> list:
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


def read_file(path: str, max_bytes: int = LIMITS.max_file_bytes, encoding: Optional[str] = None) -> Document:
    """A policy or facts file: a regular file of at most ``max_bytes``, UTF-8 (or ``encoding``); ``.json`` is strict
    JSON, anything else YAML."""
    import os
    import stat
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput([Problem("file.not_regular", "not a regular file (a device, pipe or folder cannot be "
                                        "read as a policy or facts file)", "", Location(path))])
        if info.st_size > max_bytes:
            raise InvalidInput([Problem("input.too_large", f"the file has {info.st_size:,} bytes (at most {max_bytes:,})",
                                        "", Location(path))])
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidInput([Problem("file.unreadable", f"cannot read file: {exc.strerror}", "", Location(path))])
    if len(raw) > max_bytes:
        raise InvalidInput([Problem("input.too_large", f"the file has more than {max_bytes:,} bytes", "", Location(path))])
    if encoding:
        try:
            text = raw.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise InvalidInput([Problem("file.encoding", f"cannot read the file as {encoding}: {exc}", "",
                                        Location(path))]) from None
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput([encoding_problem(path, raw, exc)]) from None
    if path.endswith(".json"):
        return read_json_fast(path, text)
    return read_text(path, text)


def encoding_problem(path: str, raw: bytes, exc: UnicodeDecodeError) -> Problem:
    """Not UTF-8: with a hint to save as UTF-8 or name the encoding when the bytes read as GB18030 (GBK)."""
    line = raw.count(b"\n", 0, exc.start) + 1
    col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    hint = None
    try:
        raw.decode("gb18030")
        from .locale import say
        hint = say("hint.gbk", "en")
    except UnicodeDecodeError:
        pass
    return Problem("file.encoding", f"not UTF-8 text (byte {exc.start})", "", Location(path, line, col), hint=hint)


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
        if len(text) > LIMITS.max_text_chars:
            problems.append(Problem("input.text_too_long", f"text of {len(text):,} characters (at most "
                                    f"{LIMITS.max_text_chars:,})", pointer, _mark_location(path, node.start_mark)))
            return None
        return text
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return text.lower() == "true"
    if tag in (_INT, _FLOAT) and sum(c.isdigit() for c in text) > LIMITS.max_number_digits:
        problems.append(Problem("input.number_too_long", f"a number of more than {LIMITS.max_number_digits} digits",
                                pointer, _mark_location(path, node.start_mark)))
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
            problems.append(Problem(found[0], found[1], pointer, _mark_location(path, node.start_mark)))
            return None
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
