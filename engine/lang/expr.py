"""The policy expression language: a small, closed grammar parsed to an AST.

Policy staff write conditions and formulas such as::

    worker.contract_months >= param("stabilisation_min_contract_months", period.end)
    count(w in workshop.workers where w.target and w.role == "production")
    min(loan.principal, param("loan_principal_cap", month.start)) * loan.annual_rate / 12

The grammar has literals, dotted names, arithmetic, comparisons, membership,
``and``/``or``/``not``, function calls from a fixed list, and two
comprehensions (``count`` and ``sum``). Nothing else parses, so nothing else
can run. Every node keeps its offset in the expression text, so later errors
point at the exact spot.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from lark import Lark, Token, Transformer, v_args
from lark.tree import Meta
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .exact import show as show_fraction
from ..limits import LIMITS, Limits
from ..problems import InputFault

_GRAMMAR = r"""
?start: expr
?expr: or_expr
?or_expr: and_expr (_OR and_expr)*          -> or_
?and_expr: not_expr (_AND not_expr)*        -> and_
?not_expr: _NOT not_expr                    -> not_
         | comparison
?comparison: sum COMP_OP sum                -> compare
           | sum _NOT _IN sum               -> not_in
           | sum _IN sum                    -> in_
           | sum
?sum: sum ADD_OP product                    -> arith
    | product
?product: product MUL_OP unary              -> arith
        | unary
?unary: SUB unary                           -> neg
      | atom
?atom: NUMBER                               -> number
     | STRING                               -> string
     | TRUE                                 -> true
     | FALSE                                -> false
     | NULL                                 -> null
     | LSQB [expr ("," expr)*] "]"          -> list_
     | COUNT "(" NAME _IN expr [_WHERE expr] ")"              -> count
     | SUM "(" expr _FOR NAME _IN expr [_WHERE expr] ")"      -> sum_
     | NAME "(" [expr ("," expr)*] ")"      -> call
     | NAME ("." NAME)*                     -> name
     | "(" expr ")"

_OR: "or"
_AND: "and"
_NOT: "not"
_IN: "in"
_WHERE: "where"
_FOR: "for"
TRUE: "true"
FALSE: "false"
NULL: "null"
COUNT: "count"
SUM: "sum"
LSQB: "["
SUB: "-"
COMP_OP: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/"
NAME: /[A-Za-z_][A-Za-z_0-9]*/
NUMBER: /[0-9]+(\.[0-9]+)?/
STRING: /"[^"\\\n]*"/ | /'[^'\\\n]*'/
%ignore /[ \t\r\n]+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)


@dataclass(frozen=True)
class Node:
    """Base of every AST node: ``pos`` is the 0-based offset, ``line`` the 1-based line in the text."""

    pos: int
    line: int


@dataclass(frozen=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True)
class Name(Node):
    parts: Tuple[str, ...]

    @cached_property
    def dotted(self) -> str:
        """The name as written (``worker.contract_months``): kept once made, a trace asks for it thousands of times."""
        return ".".join(self.parts)


@dataclass(frozen=True)
class ListOf(Node):
    items: Tuple[Node, ...]


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-" or "not"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # + - * / == != < <= > >= in "not in"
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # "and" / "or"
    operands: Tuple[Node, ...]


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: Tuple[Node, ...]


@dataclass(frozen=True)
class Comprehension(Node):
    kind: str  # "count" / "sum"
    var: str
    source: Node
    where: Optional[Node]
    value: Optional[Node]  # the summed expression, for "sum"


COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
ARITHMETIC = ("+", "-", "*", "/")


class ExpressionSyntaxError(InputFault):
    """The text is not an expression; ``pos``/``line`` say where it stopped making sense."""

    def __init__(self, message: str, pos: int, line: int, column: int, code: str = "expr.syntax"):
        super().__init__(message)
        self.message, self.pos, self.line, self.column, self.code = message, pos, line, column, code


def _at(meta_or_token: Any) -> Tuple[int, int]:
    if isinstance(meta_or_token, Token):
        return meta_or_token.start_pos or 0, meta_or_token.line or 1
    return getattr(meta_or_token, "start_pos", 0) or 0, getattr(meta_or_token, "line", 1) or 1


@v_args(meta=True)
class _ToAst(Transformer[Token, Node]):
    def number(self, meta: Meta, c: List[Any]) -> Node:
        return Literal(*_at(c[0]), Decimal(str(c[0])) if "." in c[0] else int(c[0]))

    def string(self, meta: Meta, c: List[Any]) -> Node:
        return Literal(*_at(c[0]), str(c[0])[1:-1])

    def true(self, meta: Meta, c: List[Any]) -> Node:
        return Literal(*_at(c[0]), True)

    def false(self, meta: Meta, c: List[Any]) -> Node:
        return Literal(*_at(c[0]), False)

    def null(self, meta: Meta, c: List[Any]) -> Node:
        return Literal(*_at(c[0]), None)

    def list_(self, meta: Meta, c: List[Any]) -> Node:
        return ListOf(*_at(c[0]), tuple(x for x in c[1:] if x is not None))

    def name(self, meta: Meta, c: List[Any]) -> Node:
        return Name(*_at(c[0]), tuple(str(t) for t in c))

    def call(self, meta: Meta, c: List[Any]) -> Node:
        return Call(*_at(c[0]), str(c[0]), tuple(x for x in c[1:] if x is not None))

    def count(self, meta: Meta, c: List[Any]) -> Node:
        _, var, source, where = c
        return Comprehension(*_at(c[0]), "count", str(var), source, where, None)

    def sum_(self, meta: Meta, c: List[Any]) -> Node:
        _, value, var, source, where = c
        return Comprehension(*_at(c[0]), "sum", str(var), source, where, value)

    def neg(self, meta: Meta, c: List[Any]) -> Node:
        operand = c[1]
        if isinstance(operand, Literal) and isinstance(operand.value, (int, Decimal)) and not isinstance(operand.value, bool):
            return Literal(*_at(c[0]), -operand.value)
        return Unary(*_at(c[0]), "-", operand)

    def not_(self, meta: Meta, c: List[Any]) -> Node:
        return Unary(*_at(meta), "not", c[0])

    def arith(self, meta: Meta, c: List[Any]) -> Node:
        return Binary(*_at(c[1]), str(c[1]), c[0], c[2])

    def compare(self, meta: Meta, c: List[Any]) -> Node:
        return Binary(*_at(c[1]), str(c[1]), c[0], c[2])

    def in_(self, meta: Meta, c: List[Any]) -> Node:
        return Binary(c[0].pos, c[0].line, "in", c[0], c[1])

    def not_in(self, meta: Meta, c: List[Any]) -> Node:
        return Binary(c[0].pos, c[0].line, "not in", c[0], c[1])

    def and_(self, meta: Meta, c: List[Any]) -> Node:
        return c[0] if len(c) == 1 else BoolOp(c[0].pos, c[0].line, "and", tuple(c))

    def or_(self, meta: Meta, c: List[Any]) -> Node:
        return c[0] if len(c) == 1 else BoolOp(c[0].pos, c[0].line, "or", tuple(c))


_TO_AST = _ToAst()

_EXPECTED_WORDS = {
    "COMP_OP": "a comparison", "ADD_OP": "+ or -", "MUL_OP": "* or /", "NAME": "a name",
    "NUMBER": "a number", "STRING": "a string", "RPAR": ")", "LPAR": "(", "COMMA": ",",
    "RSQB": "]", "DOT": ".", "$END": "the end", "_IN": "'in'", "_AND": "'and'", "_OR": "'or'",
}


def _check_size(text: str, limits: Limits) -> None:
    """Refuse, before parsing, an expression too long, too deeply nested or with too many terms to be a condition or
    a formula (the parser and the compiler then never recurse deeper than the limits)."""
    def refuse(code: str, message: str, pos: int) -> None:
        line = text.count("\n", 0, pos) + 1
        raise ExpressionSyntaxError(message, pos, line, pos - (text.rfind("\n", 0, pos) + 1) + 1, code)

    if len(text) > limits.max_expression_chars:
        refuse("expr.too_long", f"the expression has {len(text):,} characters (at most {limits.max_expression_chars:,})",
               limits.max_expression_chars)
    bare = _QUOTED.sub(lambda m: " " * len(m.group(0)), text)  # text inside quotes holds no operators
    depth = 0
    for pos, ch in enumerate(bare):
        if ch in "([":
            depth += 1
            if depth > limits.max_expression_depth:
                refuse("expr.too_deep", f"more than {limits.max_expression_depth} parentheses, calls or lists "
                       "inside each other", pos)
        elif ch in ")]":
            depth -= 1
    operators = list(_OPERATOR.finditer(bare))
    if len(operators) > limits.max_expression_terms:
        refuse("expr.too_long", f"{len(operators)} operators and arguments in one expression (at most "
               f"{limits.max_expression_terms}): split it into lets or computed values",
               operators[limits.max_expression_terms].start())
    for match in _LONG_NUMBER.finditer(text):
        if sum(c.isdigit() for c in match.group(0)) > limits.max_number_digits:
            refuse("expr.number_too_long", f"a number of more than {limits.max_number_digits} digits", match.start())


_LONG_NUMBER = re.compile(r"[0-9][0-9.]{34,}")
_QUOTED = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'")
_OPERATOR = re.compile(r"==|!=|<=|>=|[-+*/<>,]|\b(?:and|or|not|in)\b")


def parse(text: str, limits: Limits = LIMITS) -> Node:
    """Parse one expression, or raise :class:`ExpressionSyntaxError` with its position."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionSyntaxError("empty expression", 0, 1, 1)
    _check_size(text, limits)
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        pos = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
        line = getattr(exc, "line", 1) or 1
        column = getattr(exc, "column", pos + 1) or pos + 1
        if isinstance(exc, UnexpectedCharacters):
            msg = f"unexpected character {text[pos]!r}"
        elif isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
            msg = "the expression ends too early"
            pos, line = len(text), text.count("\n") + 1
            column = len(text.rsplit("\n", 1)[-1]) + 1
        else:
            expected = sorted({_EXPECTED_WORDS.get(t, t.lower()) for t in getattr(exc, "expected", ()) or ()})
            token = exc.token  # type: ignore[attr-defined]  # an UnexpectedToken: the LALR parser raises no other kind
            msg = f"unexpected {token!s}" + (f"; expected {', '.join(expected[:6])}" if expected else "")
        raise ExpressionSyntaxError(msg, pos, line, column) from None
    return _TO_AST.transform(tree)


# --- printing --------------------------------------------------------------

_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
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
        prec = _PRECEDENCE["not"] if node.op == "not" else 7
        sep = " " if node.op == "not" else ""
        text = f"{node.op}{sep}{unparse(node.operand, values, prec)}"
    elif isinstance(node, Binary):
        prec = _PRECEDENCE[node.op]
        text = f"{unparse(node.left, values, prec)} {node.op} {unparse(node.right, values, prec + 1)}"
    elif isinstance(node, BoolOp):
        prec = _PRECEDENCE[node.op]
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
        prec = _PRECEDENCE["not"] if node.op == "not" else 7
    else:
        prec = _PRECEDENCE[node.op]
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


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents first."""
    yield node
    if isinstance(node, ListOf):
        children = node.items
    elif isinstance(node, Call):
        children = node.args
    elif isinstance(node, Comprehension):
        children = tuple(c for c in (node.source, node.where, node.value) if c is not None)
    elif isinstance(node, Unary):
        children = (node.operand,)
    elif isinstance(node, Binary):
        children = (node.left, node.right)
    elif isinstance(node, BoolOp):
        children = node.operands
    else:
        children = ()
    for child in children:
        yield from walk(child)
