"""A formula in words: its text and its text with the values it saw, walked side by side (both parse to the same
tree, the second with values where the first has names); a name becomes its label, value and unit, and a part
never evaluated (the other branch of ``if``, an operand after ``or`` decided the result) is left out.
"""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any, Dict, Iterable, Optional, Tuple

from ..facts.model import Derived
from ..lang import expr as E
from ..problems import SubsidyError
from .words import Words, number

@lru_cache(maxsize=4096)
def parse_formula(text: str) -> Optional[E.Node]:
    """The tree of an expression text (the same texts come back for every subject: parsed once each)."""
    try:
        return E.parse(text)
    except SubsidyError:
        return None


def literal_value(node: Any) -> Tuple[bool, Any]:
    """(True, value) when ``node`` is a value the engine substituted: a literal or a list of literals."""
    if isinstance(node, E.Literal):
        return True, node.value
    if isinstance(node, E.ListOf) and all(isinstance(i, E.Literal) for i in node.items):
        return True, [i.value for i in node.items if isinstance(i, E.Literal)]
    if isinstance(node, E.Unary) and node.op == "-" and isinstance(node.operand, E.Literal) \
            and _is_number(node.operand.value):
        return True, -node.operand.value
    if isinstance(node, E.Binary) and node.op == "/" and isinstance(node.left, E.Literal) \
            and isinstance(node.right, E.Literal) and _is_number(node.left.value) and _is_number(node.right.value) \
            and node.right.value:
        return True, Fraction(node.left.value) / Fraction(node.right.value)  # a fraction the engine carries
    return False, None


#: The comparisons said apart when they compare dates (``op.date.<``: before, not "below").
_DATED = ("<", "<=", ">", ">=")

#: Each comparison's opposite: what is the case when it fails.
_OPPOSITE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<", "in": "not in", "not in": "in"}

_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal, Fraction)) and not isinstance(value, bool)


def substituted_truth(node: Any) -> Tuple[bool, Any]:
    """Whether a condition the engine substituted held: a literal, or a comparison of two numbers it shows."""
    known, value = literal_value(node)
    if known:
        return True, value
    if isinstance(node, E.Binary) and node.op in _COMPARE:
        (lk, left), (rk, right) = literal_value(node.left), literal_value(node.right)
        if lk and rk and _is_number(left) and _is_number(right):
            return True, _COMPARE[node.op](Fraction(left), Fraction(right))
    return False, None


class Speaker:
    """Renders one expression (its text, and its text with values) in words."""

    def __init__(self, words: Words, params: Iterable = (), seen: Iterable = ()):
        self.w = words
        self.seen = dict(seen or ())
        self.params: Dict[str, list] = {}
        self.derived: Dict[str, Derived] = {}
        for p in params or ():
            if isinstance(p, Derived):
                self.derived.setdefault(p.name, p)
            else:
                self.params.setdefault(p.name, []).append(p)

    def say(self, formula: str, substituted: str = "", holds: bool = True) -> Optional[str]:
        """``formula`` in words, with the values the engine saw (``seen``, the parameters): parsed once per text,
        whatever the subject. A condition that did not hold (``holds`` false) is said as what is the case (``contract
        0 months, below 6 months``), never as the claim that failed, which a reader would take for true."""
        f = parse_formula(formula)
        if f is None:
            return None
        if isinstance(f, E.Unary) and f.op == "not" and isinstance(f.operand, E.Name):
            return self.node(f.operand)  # the whole condition is `not x`: x's value says it ("paid before: no")
        if isinstance(f, E.Unary) and f.op == "not" and holds:
            return self.negated(f.operand)  # `not (…)` held: what is the case, as a failed (…) says it
        return self.node(f) if holds else self.negated(f)

    def negated(self, f: Any) -> str:
        """What is the case when ``f`` is false, in words: a comparison by its opposite operator, ``in`` as ``not
        in``, a failed ``and`` by the operand that failed, a failed ``or`` by each operand failing, a call by its
        ``func.not.<name>`` phrase; anything else as ``op.not`` of it. A name's value says it ("trained: no")."""
        if isinstance(f, E.Name) or isinstance(f, E.Literal):
            return self.node(f)
        if isinstance(f, E.Unary) and f.op == "not":
            return self.node(f.operand)
        if isinstance(f, E.Binary) and f.op in _OPPOSITE:
            if f.op in ("==", "!=") and isinstance(f.right, E.Literal) and f.right.value is None:
                return self.node(f)  # "income != null" failed: the value shown ("not given") says it
            return self.node(E.Binary(f.pos, f.line, _OPPOSITE[f.op], f.left, f.right))
        if isinstance(f, E.BoolOp):
            evaluated = [a for a in f.operands if self.evaluated(a)]
            if f.op == "and":  # the first operand that failed stopped it: the last one read, unless a value says which
                failed = [a for a in evaluated if self.value_of(a) == (True, False)] or evaluated[-1:]
                return self.negated(failed[0]) if failed else self.node(f)
            parts = [self.negated(a) for a in evaluated]  # `or`: every operand failed
            return f" {self.w('op.and')} ".join(parts) if parts else self.node(f)
        if isinstance(f, E.Call) and f.func != "if" and \
                self.w.finer(f"func.not.{f.func}", f"func.{f.func}") == f"func.not.{f.func}":
            # a policy that words the call but not its failing is said with its own op.not, never an English default
            other = next((field_of(a) for a in f.args if field_of(a)), None)
            said = self.w.call(f"func.not.{f.func}", *[self.node(a, other) for a in f.args])
            if said is not None:
                return said
        inner = self.node(f)
        return self.w.call("op.not", inner) or inner

    # a name: its label, value and unit
    def name(self, dotted: str) -> str:
        known = dotted in self.seen
        value = self.seen.get(dotted)
        label, unit = self.w.fact(dotted)
        if dotted in self.derived and self.derived[dotted].label:
            label = self.derived[dotted].label
        if dotted.count(".") == 0 and self.w.policy.labels.get(f"let.{dotted}"):
            label = self.w.policy.labels[f"let.{dotted}"]
        shown = self.w.value(value, dotted, unit) if known else ""
        if label is None:
            return shown or dotted
        return f"{label} {shown}".strip()

    def evaluated(self, node: E.Node) -> bool:
        """Whether the engine evaluated ``node``: every name of the facts in it was seen (``or`` and ``if`` stop
        early, leaving the rest unread)."""
        return all(n.dotted in self.seen for n in E.walk(node) if isinstance(n, E.Name) and n.parts[0] != "sets")

    def value_of(self, node: E.Node) -> Tuple[bool, Any]:
        """The value of ``node`` from what the engine saw, when it can be told without evaluating anew."""
        if isinstance(node, E.Literal):
            return True, node.value
        if isinstance(node, E.Name):
            return (True, self.seen[node.dotted]) if node.dotted in self.seen else (False, None)
        if isinstance(node, E.Call) and node.func == "param" and node.args and isinstance(node.args[0], E.Literal):
            uses = self.params.get(node.args[0].value)
            return (True, uses[0].value) if uses and len({u.value for u in uses if not isinstance(u.value, (dict, list))}) <= 1 \
                else (False, None)
        if isinstance(node, E.Unary) and node.op == "not":
            known, value = self.value_of(node.operand)
            return (True, not value) if known and isinstance(value, bool) else (False, None)
        if isinstance(node, E.Binary) and node.op in _COMPARE:
            (lk, left), (rk, right) = self.value_of(node.left), self.value_of(node.right)
            if lk and rk and _is_number(left) and _is_number(right):
                return True, _COMPARE[node.op](Fraction(left), Fraction(right))
        return False, None

    def node(self, f: Any, field: Optional[str] = None) -> str:
        if isinstance(f, E.Name):
            if f.parts[0] == "sets":
                members = self.w.policy.sets.get(f.parts[1], ())
                return self.w.value(frozenset(members), field)
            return self.name(f.dotted)
        if isinstance(f, E.Literal):
            return self.w.value(f.value, field)
        if isinstance(f, E.Call) and f.func == "param":
            return self.param(f, self.value_of(f)[1])
        if isinstance(f, E.ListOf):
            return self.w("list.sep").join(self.node(i, field) for i in f.items)
        if isinstance(f, E.Unary):
            inner = self.node(f.operand, field)
            if f.op == "-":
                return "-" + inner
            return self.w.call("op.not", inner) or inner  # inside `or`/`and` the `not` is said: it changes the sense
        if isinstance(f, E.Binary):
            other = field_of(f.left) or field_of(f.right)
            if f.op in ("==", "!=") and isinstance(f.right, E.Literal) and f.right.value is None:
                return self.node(f.left, other)  # "income != null": the value shown says it
            if f.op == "==" and isinstance(f.right, E.Literal):
                known, value = self.value_of(f.left)
                if known and value == f.right.value and type(value) is type(f.right.value):
                    return self.node(f.left, other)  # "type: enterprise", not "type: enterprise is enterprise"
            return f"{self.node(f.left, other)} {self._operator(f)} {self.node(f.right, other)}"
        if isinstance(f, E.BoolOp):
            parts = [self.node(a) for a in f.operands if self.evaluated(a)]
            return f" {self.w('op.' + f.op)} ".join(parts) if parts else ""
        if isinstance(f, E.Call):
            if f.func == "if" and len(f.args) == 3:
                known, cond = self.value_of(f.args[0])
                if known:
                    return self.node(f.args[1] if cond else f.args[2])
                if self.evaluated(f.args[1]) != self.evaluated(f.args[2]):
                    return self.node(f.args[1] if self.evaluated(f.args[1]) else f.args[2])
            if f.func == "coalesce":
                kept = [self.node(a) for a in f.args if self.evaluated(a) and self.value_of(a) != (True, None)]
                if kept:
                    return kept[0]
            other = next((field_of(a) for a in f.args if field_of(a)), None)
            args = [self.node(a, other) for a in f.args]
            said = self.w.call(f"func.{f.func}", *args)
            return said if said is not None else f"{f.func}(" + self.w("list.sep").join(args) + ")"
        return ""

    def _operator(self, f: E.Binary) -> str:
        """A comparison's words: of two dates, ``op.date.<op>`` (before, on or after…) where the policy words it."""
        if f.op in _DATED and any(isinstance(v, _dt.date) for k, v in (self.value_of(f.left), self.value_of(f.right))
                                  if k):
            return self.w(self.w.finer(f"op.date.{f.op}", f"op.{f.op}"))
        return self.w("op." + f.op)

    def param(self, f: E.Call, value: Any) -> str:
        name = f.args[0].value if f.args and isinstance(f.args[0], E.Literal) else ""
        parameter = self.w.policy.parameters.get(name)
        label = parameter.label if parameter is not None else name
        unit = parameter.unit if parameter is not None else ""
        if value is None and self.params.get(name):
            value = self.params[name][0].value
        if value is None:
            return label
        if isinstance(value, Decimal) and not unit and value < 1 and value > 0:
            return f"{label} {number(value * 100)}%"
        return f"{label} {self.w.value(value, None, unit or '')}".rstrip()


def field_of(node: E.Node) -> Optional[str]:
    return node.dotted if isinstance(node, E.Name) else None


# the trace ---------------------------------------------------------------------------------------------------
