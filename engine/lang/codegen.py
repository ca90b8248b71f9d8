"""Rules compiled to Python: one generated function per rule, from the checked AST, through ``ast`` nodes.

As Jinja2's compiler and fastjsonschema do, a visitor walks the project's own checked expression AST
(:mod:`subsidy_rules.lang.expr`) and builds Python :mod:`ast` nodes, which :func:`compile` turns into code.
Nothing is ever built from policy text: a name, a string or a number of the policy reaches the generated
code only as an ``ast.Constant`` (a string key, a number's digits) or as the index of a value handed to the
generated module, and every Python identifier in it is made here (``P_<name>`` only when the name is a
plain ASCII identifier, else ``P<n>``). Constants are folded; a parameter is looked up once per date
(:class:`~subsidy_rules.lang.support.ParameterLookup`).

What a rule becomes (``subsidy validate POLICY --show-code RULE`` prints it with :func:`ast.unparse`)::

    def make(...):                      # binds the helpers, constants, parameters and computed values
        def rule_x(subject):            # the conditions, lets, per-item loop and amount of rule x
            ...
            return (status, amount, items, failed)
        def when_x(subject):            # its `when` conditions only: the index of the first that fails
            ...
        return rule_x, when_x

Each expression of a rule also gets a *traced variant* ``fn(env, tr)`` (:func:`_traced_functions`), which tells
the tracer it is passed what it reads, exactly as the reference closures do; it builds a decision's trace.

The generated code explains no failure: a value the happy path does not expect raises
:class:`~subsidy_rules.lang.support.Fallback` (or a ``TypeError`` from Python itself), and the caller
evaluates the rule on the reference path (the checked closures, with a tracer), which decides that case
exactly, as a located error or a pending decision.
"""
from __future__ import annotations

import ast
import datetime as _dt
import decimal
import re
import types
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, cast

from . import exact, support
from . import expr as X

if TYPE_CHECKING:
    from .compiled import CompiledCondition, CompiledExpr, CompiledRule
    from ..policy.parameters import Parameter

#: What ``rule_x`` returns first: why it did not fire, or that it did.
FAILED, NONE_COUNTED, NOTHING_DUE, FIRED = 0, 1, 2, 3

#: Exceptions after which the reference evaluation decides (and explains) the case.
FALLBACK = (support.Fallback, TypeError, ArithmeticError, ValueError, OverflowError)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SCOPE_RECORDS = ("workshop", "worker", "loan", "period")
_ALWAYS_BOOL_CALLS = ("has_any", "in_period")
_HELPERS = {  # helper name in generated code -> support function
    "_num": support.num, "_truth": support.truth, "_add": support.add, "_sub": support.sub, "_mul": support.mul,
    "_div": support.div, "_neg": support.neg, "_floor": support.floor, "_min": support.smallest,
    "_max": support.largest, "_count": support.count, "_total": support.total, "_coalesce": support.coalesce,
    "_has_any": support.has_any, "_in_period": support.in_period, "_add_years": support.add_years,
    "_add_months": support.add_months, "_add_days": support.add_days, "_months_between": support.months_between,
    "_tier": support.tier, "_limit": support.limit, "_member": support.member, "_compute": support.computed,
    "_round": support.round_to, "_Fallback": support.Fallback, "_U": support.UNSET, "_D": Decimal,
    "_Fraction": Fraction, "_date": _dt.date, "_sum": sum, "_setlet": support.setlet,
    "_tlet": support.tlet, "_tcomputed": support.tcomputed, "_tcomprehension": support.tcomprehension,
}


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

    def __init__(self, info: "CodegenInfo", traced: bool = False) -> None:
        self.info = info
        self.traced = traced  # the variant that tells the tracer `tr` what it reads, as the reference closures do
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
            value = frozenset(i.value for i in literals)
            name = f"K{len(self._consts)}"
            self._consts[(frozenset, value)] = name
            self.prologue.append(ast.Assign(targets=[_store(name)], value=_call(
                "frozenset", ast.Tuple(elts=[self.constant(i.value) for i in literals], ctx=ast.Load()))))
            return _load(name)
        return ast.Tuple(elts=[self.expr(i, frame) for i in node.items], ctx=ast.Load())

    def _e_Name(self, node: X.Name, frame: Frame) -> ast.expr:
        first = node.parts[0]
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
            if origin == "computed" and self.traced:
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

    def _e_Call(self, node: X.Call, frame: Frame) -> ast.expr:
        made: ast.expr = getattr(self, f"_f_{node.func}")(node, frame)
        return made

    def _args(self, node: X.Call, frame: Frame) -> List[ast.expr]:
        return [self.expr(a, frame) for a in node.args]

    def _f_param(self, node: X.Call, frame: Frame) -> ast.expr:
        if self.traced:
            pname = _text(node.args[0])
            reader = self._bind("T_", "_traced_parameters", pname, lambda: self.info.traced_parameters[pname])
            args = [_load("tr"), self.node(node), self.expr(node.args[1], frame)]
            if len(node.args) >= 3:
                args.append(self.expr(node.args[2], frame))
            if len(node.args) == 4:
                args.append(ast.Lambda(args=_no_args(), body=self.expr(node.args[3], frame)))
            return _method(reader, "read", *args)
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


class CodegenInfo:
    """What the code generator reads from the checker: how each name resolved, the sets and parameters, and the
    computed values (each generated once, on first use)."""

    def __init__(self, name_steps: Dict[int, tuple], sets: Dict[str, frozenset], parameters: Dict[str, "Parameter"],
                 computed_asts: Dict[Tuple[str, str], X.Node], references: Optional[Dict[Tuple[str, str], tuple]] = None,
                 origins: Optional[Dict[str, str]] = None) -> None:
        self.name_steps = name_steps
        self.sets = sets
        self.lookups = {name: support.ParameterLookup(p) for name, p in parameters.items()}
        self.computed_asts = computed_asts
        self.references = references or {}  # (kind, field) -> (reference closure, how its trace shows it)
        self.traced_parameters = {name: support.TracedParameter(p, (origins or {}).get(name, ""))
                                  for name, p in parameters.items()}
        self._computed: Dict[Tuple[str, str], Callable] = {}
        self._traced: Dict[Tuple[str, str], Tuple[Callable, Any]] = {}
        self.computed_modules: Dict[Tuple[str, str], ast.Module] = {}
        self.computed_reads: Dict[Tuple[str, str], Tuple[Tuple[str, str], ...]] = {}

    def computed_closure(self, keys: Iterable[Tuple[str, str]]) -> Tuple[Tuple[str, ast.Module], ...]:
        """The generated modules of the computed values ``keys`` and of every computed value they read."""
        out: Dict[Tuple[str, str], ast.Module] = {}
        todo = list(keys)
        while todo:
            key = todo.pop(0)
            if key not in out:
                out[key] = self.computed_modules[key]
                todo.extend(self.computed_reads[key])
        return tuple((f"{kind}.{field}", tree) for (kind, field), tree in out.items())

    def computed_traced(self, kind: str, field: str) -> Tuple[Callable, Any]:
        """(``fn(env, tr)``, how its trace shows it): a computed value's traced variant, generated once. What it
        cannot decide (a null, a fraction, a missing parameter) makes the rule's traced evaluation start again with
        the reference closures, as the rule's own traced variants do."""
        key = (kind, field)
        made = self._traced.get(key)
        if made is None:
            module = Module(self, traced=True)
            name = _name("traced_computed_", f"{kind}_{field}", len(self._traced))
            function = _traced_function(module, _frame(kind), self.computed_asts[key], name)
            _tree, fn = _finish(module, [function], name)
            made = self._traced[key] = (fn, self.references[key][1])
        return made

    def computed_fast(self, kind: str, field: str) -> Callable:
        key = (kind, field)
        fn = self._computed.get(key)
        if fn is None:
            module = Module(self)
            body = _prologue(module, kind, [ast.Return(value=module.expr(self.computed_asts[key], _frame(kind)))])
            name = _name("computed_", f"{kind}_{field}", len(self._computed))
            tree, made = _finish(module, [_function(name, body)], name)
            self.computed_modules[key] = tree
            self.computed_reads[key] = tuple(module.computed)
            fn = self._computed[key] = made
        return fn


def _frame(kind: str, lets: Optional[Dict[str, int]] = None, let_asts: Optional[Dict[str, X.Node]] = None) -> Frame:
    from ..facts.model import SUBJECT_SCOPE
    records = {name: name for name in SUBJECT_SCOPE[kind]}
    records["period"] = "period"
    return Frame(records, lets or {}, let_asts or {})


def _prologue(module: Module, kind: str, body: List[ast.stmt], lets: int = 0) -> List[ast.stmt]:
    """``subject`` bound to its kind's name, its workshop and the period (when read), and the lets' slots."""
    from ..facts.model import SUBJECT_SCOPE
    scope = SUBJECT_SCOPE[kind]
    assert scope[0] == kind and all(k in _SCOPE_RECORDS for k in scope)
    head: List[ast.stmt] = [ast.Assign(targets=[_store(kind)], value=_load("subject"))]
    for outer in scope[1:]:  # worker and loan records hang from their workshop
        head.append(ast.Assign(targets=[_store(outer)], value=_attr(_load(kind), "parent")))
    if module.uses_period:
        head.append(ast.Assign(targets=[_store("period")], value=_attr(_attr(_load(kind), "ctx"), "period")))
    if lets:
        head.append(ast.Assign(targets=[_store("L")], value=ast.BinOp(
            left=ast.List(elts=[_load("_U")], ctx=ast.Load()), op=ast.Mult(), right=_const(lets))))
    return head + body


def _function(name: str, body: List[ast.stmt]) -> ast.FunctionDef:
    return ast.FunctionDef(name=name, args=ast.arguments(posonlyargs=[], args=[ast.arg(arg="subject")], vararg=None,
                                                         kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
                           body=body, decorator_list=[], returns=None, **_NO_TYPE_PARAMS)


def _finish(module: Module, functions: List[ast.FunctionDef], *returned: str) -> Tuple[ast.Module, Any]:
    """The module ``def make(_helpers, _parameters, _sets, _computed): …; return <functions>``, compiled, and the
    functions ``make`` returns. Only the helpers the functions use are bound."""
    body = module.prologue + functions
    used = sorted({n.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name) and n.id in _HELPERS})
    helpers = [ast.Assign(targets=[_store(name)], value=_subscript(_load("_helpers"), _const(name))) for name in used]
    result = _load(returned[0]) if len(returned) == 1 else ast.Tuple(elts=[_load(r) for r in returned], ctx=ast.Load())
    arguments = ast.arguments(posonlyargs=[], args=[ast.arg(arg=a) for a in _TABLES], vararg=None, kwonlyargs=[],
                              kw_defaults=[], kwarg=None, defaults=[])
    make = ast.FunctionDef(name="make", args=arguments, body=helpers + body + [ast.Return(value=result)],
                           decorator_list=[], returns=None, **_NO_TYPE_PARAMS)
    tree = ast.Module(body=[make], type_ignores=[])
    ast.fix_missing_locations(tree)
    code = compile(tree, "<generated rule code>", "exec")
    # the module's only statement defines `make`: its code object is taken as it is, not run (no exec)
    make_code = next(c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == "make")
    make_fn = types.FunctionType(make_code, {"__builtins__": _BUILTINS}, "make")
    made = make_fn(_HELPERS, *(module.tables.get(t, {}) for t in _TABLES[1:]))
    return tree, made


_TABLES = ("_helpers", "_parameters", "_sets", "_computed", "_nodes", "_traced_parameters", "_lets", "_references")
_BUILTINS = {"len": len, "tuple": tuple, "frozenset": frozenset}
_NO_TYPE_PARAMS: Dict[str, Any] = {"type_params": []} if "type_params" in ast.FunctionDef._fields else {}


@dataclass(frozen=True)
class RuleCode:
    """A rule compiled to Python: ``run(subject)`` and ``when(subject)``, the module they came from, and the modules
    of the computed values it reads (directly or through another)."""

    run: Callable
    when: Callable
    tree: ast.Module
    computed: Tuple[Tuple[str, ast.Module], ...]  # ("worker.subsidised", its module)
    traced: Dict[int, Callable] = field(default_factory=dict)  # id(expression AST) -> fn(env, tracer)
    traced_tree: Optional[ast.Module] = None

    def source(self) -> str:
        """What the rule became, as Python source (``ast.unparse`` of the generated modules)."""
        parts = [ast.unparse(self.tree)]
        for name, tree in self.computed:
            parts.append(f"# computed {name}\n{ast.unparse(tree)}")
        return "\n\n".join(parts) + "\n"


def generate_rule(rule: "CompiledRule", info: CodegenInfo, quantum: Decimal, rounding: str) -> RuleCode:
    """The generated functions of one compiled rule (a :class:`~subsidy_rules.lang.compiler.CompiledRule`)."""
    module = Module(info)
    lets = {name: n for n, (name, _) in enumerate(rule.lets)}
    let_asts = {name: let.ast for name, let in rule.lets}
    frame = _frame(rule.subject, lets, let_asts)
    ident = _name("", rule.id, rule.index)

    def conditions(conds: Sequence["CompiledCondition"], on_false: Callable[[int], ast.stmt],
                   inner: Frame) -> List[ast.stmt]:
        out: List[ast.stmt] = []
        for k, cond in enumerate(conds):
            code = module.truth(cond.expr.ast, inner)
            out.append(ast.If(test=ast.UnaryOp(op=ast.Not(), operand=code), body=[on_false(k)], orelse=[]))
        return out

    def failed(k: int) -> ast.stmt:
        return ast.Return(value=ast.Tuple(elts=[_const(FAILED), _const(None), ast.Tuple(elts=[], ctx=ast.Load()),
                                                _const(k)], ctx=ast.Load()))

    def outcome(status: int, amount: ast.expr, items: ast.expr) -> ast.stmt:
        return ast.Return(value=ast.Tuple(elts=[_const(status), amount, items, _const(None)], ctx=ast.Load()))

    body: List[ast.stmt] = conditions(rule.when, failed, frame)
    when_body = conditions(rule.when, lambda k: ast.Return(value=_const(k)), frame) + [
        ast.Return(value=_const(len(rule.when)))]
    rounded = (lambda value: _call("_round", value, module.constant(quantum), _const(rounding)))
    empty = ast.Tuple(elts=[], ctx=ast.Load())
    if rule.each is not None:
        each = rule.each
        var = _name("each_", each.var, 0)
        inner = frame.inner(each.var, var)
        if each.limit is not None:
            body.append(ast.Assign(targets=[_store("limit")], value=_call("_limit", module.expr(each.limit.ast, frame))))
        body.append(ast.Assign(targets=[_store("counted")], value=ast.List(elts=[], ctx=ast.Load())))
        if rule.amount is not None:
            body.append(ast.Assign(targets=[_store("parts")], value=ast.List(elts=[], ctx=ast.Load())))
        loop: List[ast.stmt] = []
        for slot in _item_lets(rule.lets, each.var):  # a let that reads the item is worked out for each item
            loop.append(ast.Assign(targets=[_subscript_store("L", slot)], value=_load("_U")))
        loop += conditions(each.where, lambda k: ast.Continue(), inner)
        if each.limit is not None:
            loop.append(ast.If(test=ast.BoolOp(op=ast.And(), values=[
                ast.Compare(left=_load("limit"), ops=[ast.IsNot()], comparators=[_const(None)]),
                ast.Compare(left=_call("len", _load("counted")), ops=[ast.GtE()], comparators=[_load("limit")])]),
                body=[ast.Continue()], orelse=[]))
        loop.append(ast.Expr(value=_method(_load("counted"), "append", _attr(_load(var), "id"))))
        if rule.amount is not None:
            loop.append(ast.Expr(value=_method(_load("parts"), "append", rounded(module.expr(rule.amount.ast, inner)))))
        body.append(ast.For(target=_store(var), iter=ast.BoolOp(op=ast.Or(), values=[
            module.expr(each.source.ast, frame), empty]), body=loop, orelse=[]))
        body.append(ast.If(test=ast.UnaryOp(op=ast.Not(), operand=_load("counted")),
                           body=[outcome(NONE_COUNTED, _const(None), empty)], orelse=[]))
        items: ast.expr = _call("tuple", _load("counted"))
        if rule.amount is not None:
            body.append(ast.Assign(targets=[_store("amount")], value=_method(
                _call("_sum", _load("parts"), module.constant(Decimal(0))), "quantize", module.constant(quantum))))
    else:
        items = empty
        if rule.amount is not None:
            body.append(ast.Assign(targets=[_store("amount")], value=rounded(module.expr(rule.amount.ast, frame))))
    if rule.amount is not None:
        body.append(ast.If(test=ast.Compare(left=_load("amount"), ops=[ast.LtE()], comparators=[_const(0)]),
                           body=[outcome(NOTHING_DUE, _load("amount"), empty)], orelse=[]))
        body.append(outcome(FIRED, _load("amount"), items))
    else:
        body.append(outcome(FIRED, _const(None), items))
    functions = [_function(f"rule_{ident}", _prologue(module, rule.subject, body, len(lets))),
                 _function(f"when_{ident}", _prologue(module, rule.subject, when_body, len(lets)))]
    tree, (run, when) = _finish(module, functions, f"rule_{ident}", f"when_{ident}")
    traced, traced_tree = ({}, None) if not info.references else _traced_functions(rule, info)
    return RuleCode(run, when, tree, info.computed_closure(module.computed), traced, traced_tree)


def _traced_functions(rule: "CompiledRule", info: CodegenInfo) -> Tuple[Dict[int, Callable], ast.Module]:
    """The traced variant of each expression of ``rule``: ``fn(env, tr)``, telling ``tr`` what it reads exactly as
    the reference closures do (so that a decision's trace is built at generated-code speed)."""
    module = Module(info, traced=True)
    scope = _frame(rule.subject)
    item = rule.each.var if rule.each is not None else None
    if item is not None:
        scope = scope.inner(item, _name("each_", item, 0))
    let_asts = {name: let.ast for name, let in rule.lets}
    functions: List[ast.FunctionDef] = []
    names: List[str] = []
    frame = Frame(scope.records, {name: n for n, (name, _) in enumerate(rule.lets)}, let_asts, {})

    def add(node: X.Node, label: str) -> str:
        name = f"{label}_{len(functions)}"
        functions.append(_traced_function(module, frame, node, name, let_asts))
        names.append(name)
        return name

    for let_name, let in rule.lets:  # a let reads only the lets before it
        frame.let_traced[let_name] = _load(add(let.ast, "let"))
    exprs = [c.expr for c in rule.when]
    if rule.each is not None:
        exprs += [rule.each.source] + ([rule.each.limit] if rule.each.limit is not None else [])
        exprs += [c.expr for c in rule.each.where]
    if rule.amount is not None:
        exprs.append(rule.amount)
    keys = []
    for compiled in exprs:
        add(compiled.ast, "traced")
        keys.append(id(compiled.ast))
    tree, made = _finish(module, functions, *names)
    made = made if isinstance(made, tuple) else (made,)
    return dict(zip(keys, made[len(rule.lets):])), tree


def _traced_function(module: Module, frame: Frame, node: X.Node, name: str,
                     lets: Iterable[str] = ()) -> ast.FunctionDef:
    """``def name(env, tr)``: the traced variant of ``node``, its records read from ``env`` (a record's names)."""
    reads = {n.parts[0] for n in X.walk(node) if isinstance(n, X.Name)}
    if any(isinstance(n, X.Call) and n.func == "in_period" for n in X.walk(node)):
        reads.add("period")
    body: List[ast.stmt] = [ast.Assign(targets=[_store(frame.records[r])], value=_subscript(_load("env"), _const(r)))
                            for r in sorted(reads) if r in frame.records and r not in lets]
    body.append(ast.Return(value=module.expr(node, frame)))
    return ast.FunctionDef(name=name, args=ast.arguments(
        posonlyargs=[], args=[ast.arg(arg="env"), ast.arg(arg="tr")], vararg=None, kwonlyargs=[], kw_defaults=[],
        kwarg=None, defaults=[]), body=body, decorator_list=[], returns=None, **_NO_TYPE_PARAMS)


def _subscript_store(name: str, slot: int) -> ast.Subscript:
    return ast.Subscript(value=_load(name), slice=_const(slot), ctx=ast.Store())


def _item_lets(lets: Sequence[Tuple[str, "CompiledExpr"]], var: str) -> List[int]:
    """The slots of the lets that read the item ``var`` (directly, or through another let)."""
    reads = {name: {n.parts[0] for n in X.walk(let.ast) if isinstance(n, X.Name)} for name, let in lets}
    found = {name for name, names in reads.items() if var in names}
    grew = True
    while grew:
        grew = False
        for name, names in reads.items():
            if name not in found and names & found:
                found.add(name)
                grew = True
    return [n for n, (name, _) in enumerate(lets) if name in found]


def generate_expression(node: X.Node, info: CodegenInfo, kind: str, item: Optional[str] = None) -> Any:
    """One checked expression of the scope of ``kind`` as a generated function: ``fn(subject)``, or
    ``fn(subject, item)`` when it reads the item ``item`` of a rule's `each` (for tests and measurements)."""
    module = Module(info)
    frame = _frame(kind)
    if item is not None:
        frame = frame.inner(item, _name("each_", item, 0))
    body = _prologue(module, kind, [ast.Return(value=module.expr(node, frame))])
    function = _function("expression", body)
    if item is not None:
        function.args.args.append(ast.arg(arg=_name("each_", item, 0)))
    tree, made = _finish(module, [function], "expression")
    made.tree = tree
    return made
