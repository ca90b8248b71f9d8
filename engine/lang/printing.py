"""Printing the expression language's AST: an expression as the policy writes it (:func:`unparse`), with the
values a trace saw in place (:func:`substitute`, from a template made once per tree), each name as written
(:func:`written`), and values as they read in an expression or a trace (:func:`format_value`)."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable, Dict, Optional, Tuple

from .exact import show as show_fraction
from .expr import Binary, BoolOp, Call, Comprehension, ListOf, Literal, Name, Node, Unary, walk

#: How tightly each operator binds (higher binds tighter): where a printed expression needs parentheses.
PRECEDENCE = {"or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
               "in": 4, "not in": 4, "+": 5, "-": 5, "*": 6, "/": 6}


def format_value(value: Any) -> str:
    """A value as it reads in an expression or a trace."""
    write = _FORMATS.get(value.__class__)
    if write is not None:
        return write(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, Fraction):
        return show_fraction(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def decimal_text(value: Decimal) -> str:
    """A decimal as the policy's language writes it: its exact digits, without trailing zeros or an exponent."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


#: The common kinds of value, looked up by class before the general rules of :func:`format_value` (a trace prints
#: hundreds of thousands of them); each gives what those rules give.
_FORMATS: Dict[type, Callable[[Any], str]] = {
    bool: lambda v: "true" if v else "false", Decimal: decimal_text, str: lambda v: f'"{v}"', int: str,
    type(None): lambda v: "null"}


def unparse(node: Node, values: Optional[dict] = None, parent_prec: int = 0) -> str:
    """Print ``node`` as expression text; with ``values`` (id(node) -> value), substitute what was seen."""
    if values is not None and id(node) in values and not isinstance(node, Literal):
        return format_value(values[id(node)])
    if isinstance(node, Literal):
        return format_value(node.value)
    if isinstance(node, Name):
        return node.dotted
    if isinstance(node, ListOf):
        return "[" + ", ".join(unparse(i, values) for i in node.items) + "]"
    if isinstance(node, Call):
        return f"{node.func}(" + ", ".join(unparse(a, values) for a in node.args) + ")"
    if isinstance(node, Comprehension):
        where = f" where {unparse(node.where)}" if node.where is not None else ""
        if node.kind == "count":
            return f"count({node.var} in {unparse(node.source)}{where})"
        summed = unparse(node.value)  # type: ignore[arg-type]  # a sum always has its value
        return f"sum({summed} for {node.var} in {unparse(node.source)}{where})"
    if isinstance(node, Unary):
        prec = PRECEDENCE["not"] if node.op == "not" else 7
        sep = " " if node.op == "not" else ""
        text = f"{node.op}{sep}{unparse(node.operand, values, prec)}"
    elif isinstance(node, Binary):
        prec = PRECEDENCE[node.op]
        text = f"{unparse(node.left, values, prec)} {node.op} {unparse(node.right, values, prec + 1)}"
    elif isinstance(node, BoolOp):
        prec = PRECEDENCE[node.op]
        text = f" {node.op} ".join(unparse(o, values, prec + 1) for o in node.operands)
    else:  # pragma: no cover - the node set is closed
        raise TypeError(node)
    return f"({text})" if prec < parent_prec else text


def _template(node: Node, holes: frozenset, parent_prec: int, out: list) -> None:
    """``unparse`` as a list of text pieces and holes: a hole is the id of a node whose value is printed in its
    place. The same walk as :func:`unparse`, branch for branch."""
    if id(node) in holes and not isinstance(node, Literal):
        out.append(id(node))
        return
    if isinstance(node, (ListOf, Call)):
        out.append("[" if isinstance(node, ListOf) else f"{node.func}(")
        for i, child in enumerate(node.items if isinstance(node, ListOf) else node.args):
            if i:
                out.append(", ")
            _template(child, holes, 0, out)
        out.append("]" if isinstance(node, ListOf) else ")")
        return
    if not isinstance(node, (Unary, Binary, BoolOp)):  # a literal, a name, a comprehension: printed whole
        out.append(unparse(node))
        return
    if isinstance(node, Unary):
        prec = PRECEDENCE["not"] if node.op == "not" else 7
    else:
        prec = PRECEDENCE[node.op]
    if prec < parent_prec:
        out.append("(")
    if isinstance(node, Unary):
        out.append(node.op + (" " if node.op == "not" else ""))
        _template(node.operand, holes, prec, out)
    elif isinstance(node, Binary):
        _template(node.left, holes, prec, out)
        out.append(f" {node.op} ")
        _template(node.right, holes, prec + 1, out)
    else:
        for i, operand in enumerate(node.operands):
            if i:
                out.append(f" {node.op} ")
            _template(operand, holes, prec + 1, out)
    if prec < parent_prec:
        out.append(")")


def _pieces(node: Node, holes: frozenset) -> Tuple[Any, ...]:
    out: list = []
    _template(node, holes, 0, out)
    merged: list = []
    for piece in out:  # adjacent texts joined: a formula's pieces are its holes and the text between them
        if merged and isinstance(piece, str) and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    return tuple(merged)


class _Template:
    """How one tree prints with one set of nodes seen: its text pieces and holes, and the texts already printed,
    by the values in the holes (with their kinds: 1, 1.0 and true are equal in Python but print apart)."""

    __slots__ = ("pieces", "holes", "texts")

    def __init__(self, pieces: Tuple[Any, ...]):
        self.pieces = pieces
        self.holes = tuple(p for p in pieces if p.__class__ is not str)
        self.texts: Dict[tuple, str] = {}

    def fill(self, values: dict) -> str:
        seen = [values[h] for h in self.holes]
        key = (*seen, *[v.__class__ for v in seen])
        try:
            text = self.texts.get(key)
        except TypeError:  # a list among the values: printed each time
            return self._print(values)
        if text is None:
            if len(self.texts) > 512:  # small, as every cache that lives as long as the run (support.ParameterLookup)
                self.texts.clear()
            text = self.texts[key] = self._print(values)
        return text

    def _print(self, values: dict) -> str:
        return "".join([piece if piece.__class__ is str else format_value(values[piece]) for piece in self.pieces])


_TEMPLATES: Dict[int, Tuple[Node, Dict[frozenset, _Template]]] = {}


def substitute(node: Node, values: dict) -> str:
    """``unparse(node, values)``, from a template made once per tree and set of nodes seen, and a text printed once
    per set of values: a trace prints the same few formulas with the same few values thousands of times."""
    entry = _TEMPLATES.get(id(node))
    if entry is None or entry[0] is not node:  # the id of a tree that is gone may be reused: the entry says whose
        if len(_TEMPLATES) > 10_000:
            _TEMPLATES.clear()
        entry = _TEMPLATES[id(node)] = (node, {})
    holes = frozenset(values)
    template = entry[1].get(holes)
    if template is None:
        if len(entry[1]) > 1_000:
            entry[1].clear()
        template = entry[1][holes] = _Template(_pieces(node, holes))
    return template.fill(values)


_WRITTEN: Dict[int, Tuple[Node, str]] = {}


def written(node: Node) -> str:
    """A node as the policy wrote it (a name's dotted path; a call or a count printed once per node): the key a
    trace files the value it read under."""
    if node.__class__ is Name:
        return node.dotted
    entry = _WRITTEN.get(id(node))
    if entry is None or entry[0] is not node:  # the id of a tree that is gone may be reused: the entry says whose
        if len(_WRITTEN) > 10_000:
            _WRITTEN.clear()
        entry = _WRITTEN[id(node)] = (node, unparse(node))
    return entry[1]


_WITHIN: Dict[int, Tuple[Node, Dict[int, str]]] = {}


def names_within(tree: Node) -> Dict[int, str]:
    """Each name and count of ``tree`` as written (:func:`written`), by the node's identity: worked out once per
    tree."""
    entry = _WITHIN.get(id(tree))
    if entry is None or entry[0] is not tree:
        if len(_WITHIN) > 10_000:
            _WITHIN.clear()
        entry = _WITHIN[id(tree)] = (tree, {id(n): written(n) for n in walk(tree) if isinstance(n, (Name, Comprehension))})
    return entry[1]
