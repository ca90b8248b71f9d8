"""Rules compiled to Python: one generated function per rule, from the checked AST, through ``ast`` nodes.

As Jinja2's compiler and fastjsonschema do, a visitor walks the project's own checked expression AST
(:mod:`subsidy_rules.lang.expr`) and builds Python :mod:`ast` nodes (:class:`~.expression_code.Module`, which
says how nothing is ever built from policy text); this module puts a rule's expressions together into functions
and a module, which :func:`compile` turns into code.

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
import types
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from . import support
from . import expr as X
from .expression_code import FALLBACK, Frame, Module, _attr, _call, _const, _load, _method, _name, _store, _subscript

if TYPE_CHECKING:
    from .compiled import CompiledCondition, CompiledExpr, CompiledRule
    from ..policy.parameters import Parameter

#: What ``rule_x`` returns first: why it did not fire, or that it did.
FAILED, NONE_COUNTED, NOTHING_DUE, FIRED = 0, 1, 2, 3

#: What the modules that run generated code import from here (FALLBACK is the visitor's, :mod:`.expression_code`).
__all__ = ["FAILED", "NONE_COUNTED", "NOTHING_DUE", "FIRED", "FALLBACK", "CodegenInfo", "RuleCode", "generate_rule",
           "generate_expression"]

_SCOPE_RECORDS = ("workshop", "worker", "loan", "period")
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
    "_dlet": support.dlet, "_dcomputed": support.dcomputed,
}


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
        self._recording: Dict[Tuple[str, str], Tuple[Callable, Any]] = {}
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
        return self._variant(kind, field, data=False)

    def computed_recording(self, kind: str, field: str) -> Tuple[Callable, Any]:
        """(``fn(env, V, U)``, how its trace shows it): a computed value's recording variant, generated once."""
        return self._variant(kind, field, data=True)

    def _variant(self, kind: str, field: str, data: bool) -> Tuple[Callable, Any]:
        made_already = self._recording if data else self._traced
        key = (kind, field)
        made = made_already.get(key)
        if made is None:
            module = Module(self, traced=True, data=data)
            name = _name("recorded_computed_" if data else "traced_computed_", f"{kind}_{field}", len(made_already))
            function = _traced_function(module, _frame(kind), self.computed_asts[key], name)
            _tree, fn = _finish(module, [function], name)
            made = made_already[key] = (fn, self.references[key][1])
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


_TABLES = ("_helpers", "_parameters", "_sets", "_computed", "_nodes", "_traced_parameters", "_lets", "_references",
           "_recorders")
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
    recording: Dict[int, Callable] = field(default_factory=dict)  # id(expression AST) -> fn(env, V, U)
    recording_tree: Optional[ast.Module] = None
    # in this process, how often the rule's `when` conditions held ([0]) and it then fired ([1]): whether recording it
    # at once is cheaper than deciding it untraced first (runtime.recording.apply_recorded); never part of a result
    held_fired: List[int] = field(default_factory=lambda: [0, 0], compare=False, repr=False)

    def source(self) -> str:
        """What the rule became, as Python source (``ast.unparse`` of the generated modules)."""
        parts = [ast.unparse(self.tree)]
        for name, tree in self.computed:
            parts.append(f"# computed {name}\n{ast.unparse(tree)}")
        if self.recording_tree is not None:
            parts.append("# what writes a decision's trace as data: each expression's recording variant, keeping the "
                         "names it read in V and the parameter and computed values it used in U (runtime.recording)\n"
                         + ast.unparse(self.recording_tree))
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
    recording, recording_tree = ({}, None) if not info.references else _traced_functions(rule, info, data=True)
    return RuleCode(run, when, tree, info.computed_closure(module.computed), traced, traced_tree, recording,
                    recording_tree)


def _traced_functions(rule: "CompiledRule", info: CodegenInfo,
                      data: bool = False) -> Tuple[Dict[int, Callable], ast.Module]:
    """The traced variant of each expression of ``rule``: ``fn(env, tr)``, telling ``tr`` what it reads exactly as
    the reference closures do (so that a decision's trace is built at generated-code speed); with ``data``, its
    recording variant ``fn(env, V, U)``, writing what the trace as data shows of it (:mod:`.expression_code`)."""
    module = Module(info, traced=True, data=data)
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
        add(compiled.ast, "recorded" if data else "traced")
        keys.append(id(compiled.ast))
    tree, made = _finish(module, functions, *names)
    made = made if isinstance(made, tuple) else (made,)
    return dict(zip(keys, made[len(rule.lets):])), tree


def _traced_function(module: Module, frame: Frame, node: X.Node, name: str,
                     lets: Iterable[str] = ()) -> ast.FunctionDef:
    """``def name(env, tr)``: the traced variant of ``node``, its records read from ``env`` (a record's names); for a
    recording module, ``def name(env, V, U)``."""
    reads = {n.parts[0] for n in X.walk(node) if isinstance(n, X.Name)}
    if any(isinstance(n, X.Call) and n.func == "in_period" for n in X.walk(node)):
        reads.add("period")
    body: List[ast.stmt] = [ast.Assign(targets=[_store(frame.records[r])], value=_subscript(_load("env"), _const(r)))
                            for r in sorted(reads) if r in frame.records and r not in lets]
    body.append(ast.Return(value=module.expr(node, frame)))
    params = ("env", "V", "U") if module.data else ("env", "tr")
    return ast.FunctionDef(name=name, args=ast.arguments(
        posonlyargs=[], args=[ast.arg(arg=a) for a in params], vararg=None, kwonlyargs=[], kw_defaults=[],
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
