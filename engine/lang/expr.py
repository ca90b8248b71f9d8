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
from typing import Any, Iterator, List, Optional, Tuple

from lark import Lark, Token, Transformer, v_args
from lark.tree import Meta
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

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
