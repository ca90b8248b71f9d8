"""What the compiler produces: checked expressions, conditions, per-item loops, requirements and rules.

Backend-neutral data: every backend runs a :class:`CompiledRule` (its generated function first, its
reference closures for a trace or a failure). Also the error an expression raises on facts
(:class:`EvalError`) and the checks the reference evaluation makes on the values it meets.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple

from . import expr as X
from .printing import format_value, unparse
from .tracing import NULL, Tracer
from .types import T
from ..problems import InputFault, Location

if TYPE_CHECKING:
    from .codegen import RuleCode
    from ..facts.model import Record

TracedFn = Callable[[dict, Tracer], Any]
Fn = TracedFn


class EvalError(InputFault):
    """An expression could not be evaluated on these facts (a null, a division by zero, a missing parameter).

    ``missing`` is (parameter, date, key) when a parameter has no value on the date it was looked up for: the
    decision that needs it is pending, not an error.
    """

    def __init__(self, message: str, node: Optional[X.Node] = None, code: str = "eval.error",
                 missing: Optional[Tuple[str, _dt.date, Optional[str]]] = None):
        super().__init__(message)
        self.message, self.node, self.code, self.missing = message, node, code, missing


@dataclass(frozen=True)
class CompiledExpr:
    """A checked expression: its text and AST, and ``traced(env, tracer)``, the reference evaluation that reports
    what it reads to the tracer passed to it."""

    text: str
    ast: X.Node
    traced: TracedFn
    type: T
    pointer: str
    location: Location

    def fn(self, env: dict) -> Any:
        """The value on ``env``, with no trace kept."""
        return self.traced(env, NULL)


@dataclass(frozen=True)
class CompiledCondition:
    expr: CompiledExpr
    label: Optional[str]
    reading: Optional[str]

    @property
    def text(self) -> str:
        return self.expr.text


@dataclass(frozen=True)
class CompiledEach:
    source: CompiledExpr
    var: str
    where: Tuple[CompiledCondition, ...]
    limit: Optional[CompiledExpr]


@dataclass(frozen=True)
class Requirement:
    holder: str  # the subject kind holding the flag: "workshop" for workshop.certified
    flag: str
    text: str
    routes: Optional[frozenset] = None  # a status flag: the routes that open the rule (None: any route)

    def met(self, holder: Record) -> bool:
        """Whether ``holder`` (the record holding the flag) meets this requirement."""
        if not holder.flags.get(self.flag):
            return False
        return self.routes is None or holder.routes.get(self.flag) in self.routes


@dataclass(frozen=True)
class CompiledRule:
    index: int
    id: str
    clause: str
    label: str
    subject: str
    decides: str
    asserts: Optional[str]
    requires: Tuple[Requirement, ...]
    when: Tuple[CompiledCondition, ...]
    lets: Tuple[Tuple[str, CompiledExpr], ...]
    each: Optional[CompiledEach]
    amount: Optional[CompiledExpr]
    fund: Optional[str]
    reads: frozenset  # (holder kind, flag) pairs read anywhere, requires included
    stratum: int
    pointer: str
    origin: str
    note: Optional[str] = None
    reading: Optional[str] = None
    code: Optional[RuleCode] = field(default=None, compare=False, repr=False)  # the rule compiled to Python


def num(value: Any, node: X.Node) -> Any:
    if value is None:
        raise EvalError(f"{unparse(node)} is null where a number is needed", node, "eval.null")
    if isinstance(value, bool):
        raise EvalError(f"{unparse(node)} is true/false where a number is needed", node, "eval.type")
    return value


def truth(value: Any, node: X.Node) -> bool:
    if value is True or value is False:
        return value
    raise EvalError(f"{unparse(node)} is {format_value(value)} where true or false is needed", node,
                    "eval.null" if value is None else "eval.type")


def whole(value: Any, node: X.Node) -> int:
    value = num(value, node)
    if value != int(value):
        raise EvalError(f"{unparse(node)} is {value}, not a whole number", node, "eval.type")
    return int(value)
