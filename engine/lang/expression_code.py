"""A policy's expression as Python: the visitor that turns the project's checked AST into ``ast`` nodes.

As Jinja2's compiler and fastjsonschema do, :class:`Module` walks the project's own checked expression AST
(:mod:`subsidy_rules.lang.expr`) and builds Python :mod:`ast` nodes, collecting what the generated module binds in
``make`` (constants, parameters, sets, computed values; :mod:`.codegen` makes the functions and compiles them).
Nothing is ever built from policy text: a name, a string or a number of the policy reaches the generated code only
as an ``ast.Constant`` (a string key, a number's digits) or as the index of a value handed to the generated module,
and every Python identifier in it is made here (``P_<name>`` only when the name is a plain ASCII identifier, else
``P<n>``). Constants are folded; a parameter is looked up once per date
(:class:`~subsidy_rules.lang.support.ParameterLookup`). With ``traced=True`` the same walk builds an expression's
traced variant, which tells the tracer ``tr`` what it reads, as the reference closures do. With ``data=True`` as well
it builds its *recording* variant, which writes what a decision's trace as data shows straight into two collections
it is handed: ``V`` (each name and count as written, with the first value read) and ``U`` (each parameter value and
computed value used, in order), with no tracer and no node in between.
"""
from __future__ import annotations

import ast
import datetime as _dt
import decimal
import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set, Tuple, cast

from . import exact, support
from . import expr as X
from .printing import written

if TYPE_CHECKING:
    from .codegen import CodegenInfo

#: Exceptions after which the reference evaluation decides (and explains) the case.
FALLBACK = (support.Fallback, TypeError, ArithmeticError, ValueError, OverflowError)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ALWAYS_BOOL_CALLS = ("has_any", "in_period")


def _name(prefix: str, text: str, index: int) -> str:
    """An identifier for a policy name: ``prefix + text`` when ``text`` is a plain ASCII identifier, else
    ``prefix + index``. Prefixes never start with ``_`` (the helpers' mark), so no policy name meets a helper."""
    return f"{prefix}{text}" if _IDENT.match(text) else f"{prefix}{index}"


def _load(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def _store(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Store())


def _call(func: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_load(func), args=list(args), keywords=[])


def _method(obj: ast.expr, name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Attribute(value=obj, attr=name, ctx=ast.Load()), args=list(args), keywords=[])


def _attr(obj: ast.expr, name: str) -> ast.Attribute:
    return ast.Attribute(value=obj, attr=name, ctx=ast.Load())


def _const(value: object) -> ast.Constant:
    assert value is None or isinstance(value, (bool, int, str)), value
    return ast.Constant(value=value)


def _subscript(obj: ast.expr, key: ast.expr) -> ast.Subscript:
    return ast.Subscript(value=obj, slice=key, ctx=ast.Load())


@dataclass
class Frame:
    """What names mean where an expression is generated (passed explicitly, as Jinja2's compiler passes its frame):
    scope names bound to locals, the rule's lets and their slots, comprehension variables."""

    records: Dict[str, str]  # scope name (workshop, month, w…) -> local variable holding the record
    lets: Dict[str, int]  # let name -> its slot in _L
    let_asts: Dict[str, X.Node]
    let_traced: Dict[str, ast.expr] = field(default_factory=dict)  # traced variant: let name -> its function

    def inner(self, var: str, local: str) -> "Frame":
        records = dict(self.records)
        records[var] = local
        return Frame(records, self.lets, self.let_asts, self.let_traced)


class Module:
    """One generated module: the constants, parameters, sets and computed values it binds, and its functions."""

    def __init__(self, info: "CodegenInfo", traced: bool = False, data: bool = False) -> None:
        self.info = info
        self.traced = traced or data  # the variant that tells the tracer `tr` what it reads, as the reference does
        self.data = data  # ... or that writes it into `V` and `U` (the recording variant)
        self._quiet = 0  # inside a count or a sum: only the parameters and computed values used are kept
        self.tables: Dict[str, Dict[str, Any]] = {}  # what `make` is handed: table -> key -> value
        self.prologue: List[ast.stmt] = []  # statements of `make` before the functions
        self.uses_period = False
        self._consts: Dict[Tuple[type, Any], str] = {}
        self._names: Dict[Tuple[str, str], str] = {}
        self._taken: Set[str] = set()
        self._node_keys: Dict[int, str] = {}
        self.computed: Dict[Tuple[str, str], None] = {}  # the computed values read directly, in order

    # --- bindings ----------------------------------------------------------------------------------------------

    def constant(self, value: object) -> ast.expr:
        """A literal or folded value: an ast.Constant when it is one, else a name bound once in `make`."""
        if value is None or isinstance(value, (bool, int, str)):
            return _const(value)
        key = (type(value), value)
        name = self._consts.get(key)
        if name is None:
            name = self._consts[key] = f"K{len(self._consts)}"
            if isinstance(value, Decimal):
                made: ast.expr = _call("_D", _const(str(value)))
            elif isinstance(value, Fraction):
                made = _call("_Fraction", _const(value.numerator), _const(value.denominator))
            elif isinstance(value, _dt.date):
                made = _call("_date", _const(value.year), _const(value.month), _const(value.day))
            else:  # pragma: no cover - literals are closed
                raise TypeError(value)
            self.prologue.append(ast.Assign(targets=[_store(name)], value=made))
        return _load(name)

    def parameter(self, pname: str) -> ast.expr:
        return self._bind("P_", "_parameters", pname, lambda: self.info.lookups[pname])

    def set(self, sname: str) -> ast.expr:
        return self._bind("S_", "_sets", sname, lambda: self.info.sets[sname])

    def node(self, node: X.Node) -> ast.expr:
        """An AST node of the policy's expression, handed to the traced variant to name what it read."""
        key = self._node_keys.setdefault(id(node), str(len(self._node_keys)))
        return self._bind("N", "_nodes", key, lambda: node, key)

    def reference(self, kind: str, field: str) -> ast.expr:
        """The traced variant of a computed value (and how its trace shows it), for the traced variant."""
        return self._bind("R_", "_references", f"{kind}.{field}", lambda: self.info.computed_traced(kind, field),
                          f"{kind}_{field}")

    def recorder(self, kind: str, field: str) -> ast.expr:
        """The recording variant of a computed value (and how its trace shows it), for the recording variant."""
        return self._bind("D_", "_recorders", f"{kind}.{field}", lambda: self.info.computed_recording(kind, field),
                          f"{kind}_{field}")

    def _shown(self, text: str, code: ast.expr) -> ast.expr:
        """The recording variant's ``code``, its first value kept in ``V`` under ``text`` (unless inside a count).
        ``V.setdefault`` gives back the value kept first: a name read again in the same expression reads the same
        record (a count's variable, which may not, is inside a count), so it is the value just read."""
        return code if self._quiet else _method(_load("V"), "setdefault", _const(text), code)

    def computed_fn(self, kind: str, field: str) -> ast.expr:
        self.computed.setdefault((kind, field), None)
        return self._bind("C_", "_computed", f"{kind}.{field}", lambda: self.info.computed_fast(kind, field),
                          f"{kind}_{field}")

    def _bind(self, prefix: str, table: str, key: str, value: Callable[[], Any],
              shown: Optional[str] = None) -> ast.Name:
        """The identifier bound, in `make`, to ``table[key]`` (a parameter, a set, a computed value's function)."""
        values = self.tables.setdefault(table, {})
        name = self._names.get((table, key))
        if name is None:
            name = _name(prefix, shown or key, len(self._names))
            if name in self._taken:
                name = f"{prefix}{len(self._names)}"
            self._names[(table, key)] = name
            self._taken.add(name)
            values[key] = value()
            self.prologue.append(ast.Assign(targets=[_store(name)], value=_subscript(_load(table), _const(key))))
        return _load(name)

    # --- expressions -------------------------------------------------------------------------------------------

    def expr(self, node: X.Node, frame: Frame) -> ast.expr:
        folded = self.fold(node)
        if folded is not _NOT_CONSTANT:
            return self.constant(folded)
        made: ast.expr = getattr(self, f"_e_{type(node).__name__}")(node, frame)
        return made

    def fold(self, node: X.Node) -> Any:
        """The value of ``node`` if it is made of literals only (worked out as the runtime would), else a marker."""
        if isinstance(node, X.Literal):
            return node.value
        try:
            with decimal.localcontext() as ctx:
                ctx.prec = exact.PRECISION
                ctx.traps[decimal.InvalidOperation] = True
                if isinstance(node, X.Binary) and node.op in X.ARITHMETIC:
                    a, b = self.fold(node.left), self.fold(node.right)
                    if a is _NOT_CONSTANT or b is _NOT_CONSTANT:
                        return _NOT_CONSTANT
                    return {"+": support.add, "-": support.sub, "*": support.mul, "/": support.div}[node.op](a, b)
                if isinstance(node, X.Unary) and node.op == "-":
                    a = self.fold(node.operand)
                    return _NOT_CONSTANT if a is _NOT_CONSTANT else support.neg(a)
        except FALLBACK:
            return _NOT_CONSTANT  # the runtime reports it, with its place
        return _NOT_CONSTANT

    def truth(self, node: X.Node, frame: Frame) -> ast.expr:
        """``node`` as a true/false Python value, checked unless the node can only give true or false."""
        code = self.expr(node, frame)
        if _always_bool(node):
            return code
        return _call("_truth", code)

    def _e_Literal(self, node: X.Literal, frame: Frame) -> ast.expr:
        return self.constant(node.value)

    def _e_ListOf(self, node: X.ListOf, frame: Frame) -> ast.expr:
        literals = [i for i in node.items if isinstance(i, X.Literal)]
        if len(literals) == len(node.items):
            key = (frozenset, frozenset(i.value for i in literals))
            name = self._consts.get(key)
            if name is None:  # a list written twice is bound once (a name given twice would be taken by the next)
                name = self._consts[key] = f"K{len(self._consts)}"
                self.prologue.append(ast.Assign(targets=[_store(name)], value=_call(
                    "frozenset", ast.Tuple(elts=[self.constant(i.value) for i in literals], ctx=ast.Load()))))
            return _load(name)
        return ast.Tuple(elts=[self.expr(i, frame) for i in node.items], ctx=ast.Load())

    def _e_Name(self, node: X.Name, frame: Frame) -> ast.expr:
        first = node.parts[0]
        if self.data and first in frame.lets and len(node.parts) == 1:
            return _call("_dlet", _load("env"), _const(None) if self._quiet else _load("V"), _load("U"),
                         _const(f"$data:{first}"), frame.let_traced[first], _const(first))
        if self.traced and first in frame.lets and len(node.parts) == 1:
            return _call("_tlet", _load("env"), _load("tr"), _const(f"$let:{first}"), frame.let_traced[first],
                         self.node(frame.let_asts[first]), self.node(node))
        if first in frame.lets and len(node.parts) == 1:
            slot = _const(frame.lets[first])
            cached = _subscript(_load("L"), slot)
            compute = _call("_setlet", _load("L"), slot, self.expr(frame.let_asts[first], frame))
            # worked out on first use only (a let no evaluated expression reads never runs, as in the reference)
            return ast.IfExp(test=ast.Compare(left=cached, ops=[ast.IsNot()], comparators=[_load("_U")]),
                             body=_subscript(_load("L"), slot), orelse=compute)
        steps = self.info.name_steps[id(node)]
        if first == "sets":
            return self.set(steps[0][1])
        if first == "period":
            self.uses_period = True
        code: ast.expr = _load(frame.records[first])
        nullable = False
        for origin, part, nested, kind in steps:
            key = _const(part)
            if origin == "computed" and self.data:
                code = _call("_dcomputed", code, key, self.recorder(kind, part), _load("U"))
            elif origin == "computed" and self.traced:
                code = _call("_tcomputed", code, key, self.reference(kind, part), _load("tr"))
            elif origin == "computed":
                values = _attr(code, "values")
                code = ast.IfExp(test=ast.Compare(left=key, ops=[ast.In()], comparators=[values]),
                                 body=_subscript(_attr(code, "values"), key),
                                 orelse=_call("_compute", code, key, self.computed_fn(kind, part)))
            elif origin == "flag":
                code = _method(_attr(code, "flags"), "get", key, _const(False))
            elif origin == "child":
                code = _subscript(_attr(code, "children"), key)
            elif nested:
                # a part of a plain mapping inside a record (worker.training.pre_job): null when the mapping is null
                read = _method(code, "get", key)
                code = ast.IfExp(test=ast.Compare(left=code, ops=[ast.Is()], comparators=[_const(None)]),
                                 body=_const(None), orelse=read) if nullable else read
            else:
                code = _method(_attr(code, "data"), "get", key)
            nullable = origin not in ("child", "flag")
        if self.data:
            return self._shown(node.dotted, code)
        return _method(_load("tr"), "value", self.node(node), code) if self.traced else code

    def _e_Unary(self, node: X.Unary, frame: Frame) -> ast.expr:
        if node.op == "not":
            return ast.UnaryOp(op=ast.Not(), operand=self.truth(node.operand, frame))
        return _call("_neg", self.expr(node.operand, frame))

    def _e_BoolOp(self, node: X.BoolOp, frame: Frame) -> ast.expr:
        op = ast.And() if node.op == "and" else ast.Or()
        return ast.BoolOp(op=op, values=[self.truth(o, frame) for o in node.operands])

    def _e_Binary(self, node: X.Binary, frame: Frame) -> ast.expr:
        left, right = self.expr(node.left, frame), self.expr(node.right, frame)
        if node.op in X.ARITHMETIC:
            return _call({"+": "_add", "-": "_sub", "*": "_mul", "/": "_div"}[node.op], left, right)
        if node.op == "in":
            return _call("_member", left, right)
        if node.op == "not in":
            return ast.UnaryOp(op=ast.Not(), operand=_call("_member", left, right))
        ops = {"==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE}
        if node.op in ("<", "<=", ">", ">="):  # null is never ordered: Python refuses it (TypeError), as it should
            return ast.Compare(left=left, ops=[ops[node.op]()], comparators=[right])
        return ast.Compare(left=left, ops=[ops[node.op]()], comparators=[right])

    def _e_Comprehension(self, node: X.Comprehension, frame: Frame) -> ast.expr:
        if self.data:
            return self._recorded_comprehension(node, frame)
        if self.traced:
            return self._traced_comprehension(node, frame)
        source = self.expr(node.source, frame)
        if node.kind == "count" and node.where is None:
            return _call("_count", source)
        var = _name("for_", node.var, 0)
        inner = frame.inner(node.var, var)
        conditions = [self.truth(node.where, inner)] if node.where is not None else []
        element = _const(1) if node.kind == "count" else self.expr(_summed(node), inner)
        generator = ast.GeneratorExp(elt=element, generators=[ast.comprehension(
            target=_store(var), iter=ast.BoolOp(op=ast.Or(), values=[source, ast.Tuple(elts=[], ctx=ast.Load())]),
            ifs=conditions, is_async=0)])
        return _call("_sum" if node.kind == "count" else "_total", generator)

    def _traced_comprehension(self, node: X.Comprehension, frame: Frame) -> ast.expr:
        """As the reference: inside a count or a sum (its source too) only parameters are kept, then its total."""
        var = _name("for_", node.var, 0)
        inner = frame.inner(node.var, var)
        source = self.expr(node.source, frame)
        conditions = [self.truth(node.where, inner)] if node.where is not None else []
        element = _const(1) if node.kind == "count" else self.expr(_summed(node), inner)
        generator = ast.GeneratorExp(elt=element, generators=[ast.comprehension(
            target=_store(var), iter=ast.BoolOp(op=ast.Or(), values=[source, ast.Tuple(elts=[], ctx=ast.Load())]),
            ifs=conditions, is_async=0)])
        total = _call("_sum" if node.kind == "count" else "_total", generator)
        return _call("_tcomprehension", _load("tr"), self.node(node), ast.Lambda(args=_no_args(), body=total))

    def _recorded_comprehension(self, node: X.Comprehension, frame: Frame) -> ast.expr:
        """As the traced variant: inside a count or a sum only parameters and computed values used are kept; then
        its total, under the count as written."""
        var = _name("for_", node.var, 0)
        inner = frame.inner(node.var, var)
        self._quiet += 1
        try:
            source = self.expr(node.source, frame)
            conditions = [self.truth(node.where, inner)] if node.where is not None else []
            element = _const(1) if node.kind == "count" else self.expr(_summed(node), inner)
        finally:
            self._quiet -= 1
        generator = ast.GeneratorExp(elt=element, generators=[ast.comprehension(
            target=_store(var), iter=ast.BoolOp(op=ast.Or(), values=[source, ast.Tuple(elts=[], ctx=ast.Load())]),
            ifs=conditions, is_async=0)])
        return self._shown(written(node), _call("_sum" if node.kind == "count" else "_total", generator))

    def _e_Call(self, node: X.Call, frame: Frame) -> ast.expr:
        made: ast.expr = getattr(self, f"_f_{node.func}")(node, frame)
        return made

    def _args(self, node: X.Call, frame: Frame) -> List[ast.expr]:
        return [self.expr(a, frame) for a in node.args]

    def _f_param(self, node: X.Call, frame: Frame) -> ast.expr:
        if self.traced:
            pname = _text(node.args[0])
            reader = self._bind("T_", "_traced_parameters", pname, lambda: self.info.traced_parameters[pname])
            if self.data:
                args = [_load("U"), self.expr(node.args[1], frame)]
            else:
                args = [_load("tr"), self.node(node), self.expr(node.args[1], frame)]
            if len(node.args) >= 3:
                args.append(self.expr(node.args[2], frame))
            if len(node.args) == 4:
                args.append(ast.Lambda(args=_no_args(), body=self.expr(node.args[3], frame)))
            return _method(reader, "record" if self.data else "read", *args)
        lookup = self.parameter(_text(node.args[0]))
        day = self.expr(node.args[1], frame)
        if len(node.args) == 2:
            return _method(lookup, "at", day)
        args = [day, self.expr(node.args[2], frame)]
        if len(node.args) == 4:
            args.append(ast.Lambda(args=_no_args(), body=self.expr(node.args[3], frame)))
        return _method(lookup, "keyed", *args)

    def _f_min(self, node: X.Call, frame: Frame) -> ast.expr:
        return _call("_min", *self._args(node, frame))

    def _f_max(self, node: X.Call, frame: Frame) -> ast.expr:
        return _call("_max", *self._args(node, frame))

    def _f_floor(self, node: X.Call, frame: Frame) -> ast.expr:
        return _call("_floor", *self._args(node, frame))

    def _f_if(self, node: X.Call, frame: Frame) -> ast.expr:
        cond, a, b = node.args
        return ast.IfExp(test=self.truth(cond, frame), body=self.expr(a, frame), orelse=self.expr(b, frame))

    def _f_coalesce(self, node: X.Call, frame: Frame) -> ast.expr:
        first, *rest = node.args
        return _call("_coalesce", self.expr(first, frame),
                     *[ast.Lambda(args=_no_args(), body=self.expr(r, frame)) for r in rest])

    def _f_has_any(self, node: X.Call, frame: Frame) -> ast.expr:
        return _call("_has_any", *self._args(node, frame))

    def _f_in_period(self, node: X.Call, frame: Frame) -> ast.expr:
        self.uses_period = True
        return _call("_in_period", self.expr(node.args[0], frame), _load("period"))

    def _f_add_years(self, node: X.Call, frame: Frame) -> ast.expr:
        return _call("_add_years", *self._args(node, frame))

    def _f_add_months(self, node: X.Call, frame: Frame) -> ast.expr:
        return _call("_add_months", *self._args(node, frame))

    def _f_add_days(self, node: X.Call, frame: Frame) -> ast.expr:
        return _call("_add_days", *self._args(node, frame))

    def _f_months_between(self, node: X.Call, frame: Frame) -> ast.expr:
        return _call("_months_between", *self._args(node, frame))

    def _f_tier(self, node: X.Call, frame: Frame) -> ast.expr:
        return _call("_tier", *self._args(node, frame))

    def _f_date(self, node: X.Call, frame: Frame) -> ast.expr:
        return self.constant(_dt.date.fromisoformat(_text(node.args[0])))


_NOT_CONSTANT = object()


def _text(node: X.Node) -> str:
    """The text of a string literal argument (a parameter's name, a date): the checker made sure it is one."""
    return cast(str, cast(X.Literal, node).value)


def _summed(node: X.Comprehension) -> X.Node:
    """The summed expression of a ``sum`` (the parser gives one to every sum)."""
    assert node.value is not None
    return node.value


def _no_args() -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                         defaults=[])


def _always_bool(node: X.Node) -> bool:
    """Whether ``node`` can only give true or false (so its truth needs no check)."""
    if isinstance(node, X.Literal):
        return isinstance(node.value, bool)
    if isinstance(node, X.Binary):
        return node.op not in X.ARITHMETIC
    if isinstance(node, (X.BoolOp, X.Unary)):
        return isinstance(node, X.BoolOp) or node.op == "not"
    return isinstance(node, X.Call) and node.func in _ALWAYS_BOOL_CALLS
