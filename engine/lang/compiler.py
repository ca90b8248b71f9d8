"""Compile a checked policy into backend-neutral rules over Python closures.

Each expression is parsed (:mod:`subsidy_rules.lang.expr`), its names resolved against the
facts contract, the policy's computed values, sets, lets and flags, its types
checked, and then turned into a closure ``fn(env, tr) -> value``. Every problem is
collected with the exact ``file:line:col`` of the offending spot.

The result, :class:`CompiledPolicy`, is what every backend runs: rules with
their conditions, per-item iteration, amount and the flags they read and
assert, ordered into strata so that a rule reading a flag runs after every
rule that may assert it.
"""
from __future__ import annotations

import datetime as _dt
import difflib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import exact
from . import expr as X
from .calendar import add_months, add_years, months_between
from ..facts.model import (ANY, BOOL, DATE, NULL, NUMBER, STRING, SUBJECT_SCOPE, TABLE, ComputedDef, T, list_of, record)
from ..policy.parameters import Parameter, ParameterMissing, ParamUse, tier
from ..problems import InputFault, Location, Problem
from ..source import Document, expression_location
from .tracing import NULL, Tracer

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


def key_text(value) -> str:
    """A parameter key as the policy file writes it: 3 and 3.0 are both "3"."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value)


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

    def met(self, holder) -> bool:
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
    code: Optional[Any] = field(default=None, compare=False, repr=False)  # the rule compiled to Python (RuleCode)


@dataclass
class _Scope:
    """Names visible to one expression: binding -> type, plus let definitions."""

    names: Dict[str, T]
    lets: Dict[str, "CompiledExpr"] = field(default_factory=dict)
    let_uses_item: Dict[str, bool] = field(default_factory=dict)
    item_var: Optional[str] = None

    def child(self, **extra: T) -> "_Scope":
        names = dict(self.names)
        names.update(extra)
        return _Scope(names, self.lets, self.let_uses_item, self.item_var)


_FUNCTIONS = ("param", "min", "max", "floor", "if", "coalesce", "has_any", "in_period", "add_years",
              "add_months", "add_days", "months_between", "tier", "date")


def _num(value, node):
    if value is None:
        raise EvalError(f"{X.unparse(node)} is null where a number is needed", node, "eval.null")
    if isinstance(value, bool):
        raise EvalError(f"{X.unparse(node)} is true/false where a number is needed", node, "eval.type")
    return value


def _truth(value, node) -> bool:
    if value is True or value is False:
        return value
    raise EvalError(f"{X.unparse(node)} is {X.format_value(value)} where true or false is needed", node,
                    "eval.null" if value is None else "eval.type")


def _whole(value, node) -> int:
    value = _num(value, node)
    if value != int(value):
        raise EvalError(f"{X.unparse(node)} is {value}, not a whole number", node, "eval.type")
    return int(value)


def _compatible(a: T, b: T) -> bool:
    if ANY in (a, b) or NULL in (a, b):
        return True
    if a.name == "list" and b.name == "list":
        return _compatible(a.arg, b.arg)
    return a == b


class Compiler:
    """Resolves, checks and compiles the expressions of one policy."""

    def __init__(self, doc: Document, kinds: Dict[str, dict], parameters: Dict[str, Parameter],
                 sets: Dict[str, frozenset], computed: Dict[str, Dict[str, dict]], flags: Dict[Tuple[str, str], List[str]],
                 field_codes: Optional[Dict[Tuple[str, str], dict]] = None):
        self.doc = doc
        self.field_codes = field_codes or {}
        self._fields: Dict[int, Tuple[str, str]] = {}  # id(Name node) -> (kind, field) it resolved to
        self.name_steps: Dict[int, tuple] = {}  # id(Name node) -> how each of its parts is read (for code generation)
        self.kinds = kinds
        self.parameters = parameters
        self.sets = sets
        self.computed_defs = computed  # kind -> name -> {expr, pointer, ...}
        self.flags = flags  # (kind, flag) -> rule ids asserting it
        self.problems: List[Problem] = []
        self.computed_fns: Dict[Tuple[str, str], Fn] = {}
        self.computed_reads: Dict[Tuple[str, str], frozenset] = {}
        self.computed_asts: Dict[Tuple[str, str], X.Node] = {}
        self.computed_shown: Dict[Tuple[str, str], ComputedDef] = {}
        self._computing: List[Tuple[str, str]] = []
        self._reads: Optional[set] = None
        self.used_parameters: set = set()
        for kind, defs in computed.items():
            for name in defs:
                self.kinds[kind][name] = _field("computed", ANY)
        for (kind, flag) in flags:
            self.kinds[kind].setdefault(flag, _field("flag", BOOL))
        self.kinds["sets"] = {name: _field("set", list_of(ANY)) for name in sets}

    # --- reporting -----------------------------------------------------------

    def error(self, code: str, message: str, pointer: str, node: Optional[X.Node] = None, text: str = "",
              hint: Optional[str] = None) -> None:
        doc = self.doc
        if node is not None:
            line_start = text.rfind("\n", 0, node.pos) + 1 if text else 0
            loc = expression_location(doc, pointer, node.pos - line_start, node.line)
        else:
            loc = doc.locate(pointer)
        self.problems.append(Problem(code, message, pointer, loc, hint=hint))

    # --- entry points ----------------------------------------------------------

    def scope_for(self, subject: str) -> _Scope:
        names = {kind: record(kind) for kind in SUBJECT_SCOPE[subject]}
        names["period"] = record("period")
        names["sets"] = record("sets")
        return _Scope(names)

    def compile(self, text: str, pointer: str, scope: _Scope, want: Optional[T] = None,
                what: str = "expression") -> Optional[CompiledExpr]:
        try:
            ast = X.parse(text)
        except X.ExpressionSyntaxError as exc:
            line_start = 0
            for _ in range(exc.line - 1):
                line_start = text.find("\n", line_start) + 1
            node = X.Literal(exc.pos, exc.line, None)
            self.error(exc.code, f"cannot read this {what}: {exc.message}", pointer, node, text)
            return None
        before = len(self.problems)
        self._text, self._pointer = text, pointer
        fn, typ = self._c(ast, scope)
        if len(self.problems) > before:
            return None
        if want is not None and not _compatible(typ, want):
            self.error("expr.type", f"this {what} gives {typ}, but {want} is needed", pointer, ast, text)
            return None
        return CompiledExpr(text, ast, fn, typ, pointer, expression_location(self.doc, pointer, 0))

    def computed_fn(self, kind: str, name: str) -> Optional[Fn]:
        key = (kind, name)
        if key in self.computed_fns:
            return self.computed_fns[key]
        definition = self.computed_defs[kind][name]
        if key in self._computing:
            cycle = " -> ".join(f"{k}.{n}" for k, n in self._computing[self._computing.index(key):] + [key])
            self.error("policy.cycle", f"computed values depend on each other in a cycle: {cycle}",
                       definition["pointer"])
            return None
        self._computing.append(key)
        saved = (self._reads, getattr(self, "_text", ""), getattr(self, "_pointer", ""))
        self._reads = set()
        try:
            compiled = self.compile(definition["expr"], definition["pointer"], self.scope_for(kind))
            self.computed_reads[key] = frozenset(self._reads)
        finally:
            reads = self._reads
            self._reads, self._text, self._pointer = saved
            if self._reads is not None:
                self._reads |= reads
            self._computing.pop()
        if compiled is None:
            self.computed_fns[key] = None
            return None
        self.kinds[kind][name] = _field("computed", compiled.type)
        self.computed_fns[key] = compiled.traced
        self.computed_asts[key] = compiled.ast
        self.computed_shown[key] = ComputedDef(" ".join(definition["expr"].split()), compiled.ast, definition.get("label"))
        return compiled.traced

    # --- nodes ---------------------------------------------------------------

    def _c(self, node: X.Node, scope: _Scope) -> Tuple[Fn, T]:
        method = getattr(self, f"_c_{type(node).__name__}")
        return method(node, scope)

    def _bad(self, code, message, node, hint=None) -> Tuple[Fn, T]:
        self.error(code, message, self._pointer, node, self._text, hint)
        return (lambda env, tr: None), ANY

    def _c_Literal(self, node: X.Literal, scope):
        value = node.value
        typ = NULL if value is None else BOOL if isinstance(value, bool) else STRING if isinstance(value, str) else NUMBER
        return (lambda env, tr: value), typ

    def _c_ListOf(self, node: X.ListOf, scope):
        parts = [self._c(item, scope) for item in node.items]
        if all(isinstance(i, X.Literal) for i in node.items):
            const = frozenset(i.value for i in node.items)
            return (lambda env, tr: const), list_of(parts[0][1] if parts else ANY)
        fns = [p[0] for p in parts]
        return (lambda env, tr: tuple(f(env, tr) for f in fns)), list_of(parts[0][1] if parts else ANY)

    def _c_Name(self, node: X.Name, scope: _Scope):
        first, rest = node.parts[0], node.parts[1:]
        if first in scope.lets and not rest:
            return self._let(node, scope)
        if first not in scope.names:
            candidates = list(scope.names) + list(scope.lets)
            near = difflib.get_close_matches(first, candidates, n=1)
            return self._bad("expr.unknown_name", f"unknown name {first!r}", node,
                             f"did you mean {near[0]!r}?" if near else f"names here: {', '.join(sorted(candidates))}")
        typ = scope.names[first]
        getters = []
        steps = []  # (origin, field, nested, kind) of each part after the first: what the code generator reads
        path = first
        for depth, part in enumerate(rest):
            if typ.name != "record":
                return self._bad("expr.not_a_record", f"{path} is {typ}; it has no field {part!r}", node)
            kind = typ.arg
            fields = self.kinds.get(kind, {})
            if part not in fields:
                near = difflib.get_close_matches(part, list(fields), n=1)
                return self._bad("expr.unknown_name", f"{kind} has no field {part!r} (in {node.dotted})", node,
                                 f"did you mean {path}.{near[0]}?" if near else None)
            fld = fields[part]
            if fld.origin == "set":
                if depth != len(rest) - 1:
                    return self._bad("expr.not_a_record", f"sets.{part} is a list", node)
                const = self.sets[part]
                self.name_steps[id(node)] = (("set", part, False, kind),)
                return (lambda env, tr: const), list_of(ANY)
            getters.append(self._getter(kind, part, fld))
            steps.append((fld.origin, part, fld.nested, kind))
            if fld.origin == "computed":
                fn = self.computed_fn(kind, part)
                ctyp = self.kinds[kind][part].type
                typ = ctyp if fn is not None else ANY
                if self._reads is not None:
                    self._reads |= self.computed_reads.get((kind, part), frozenset())
            else:
                typ = fld.type
            if fld.origin == "flag" and self._reads is not None:
                self._reads.add((kind, part))
            path = f"{path}.{part}"
            self._fields[id(node)] = (kind, part)
        getters = tuple(getters)
        self.name_steps[id(node)] = tuple(steps)

        def fn(env, tr):
            value = env[first]
            for get in getters:
                if value is None:
                    break
                value = get(value, tr)
            tr.value(node, value)
            return value

        return fn, typ

    def _getter(self, kind: str, name: str, fld) -> Callable[[Any], Any]:
        if fld.origin == "computed":
            compiler = self
            key = (kind, name)

            def get(rec, tr):
                return rec.computed(name, compiler.computed_fns[key], compiler.computed_shown.get(key), tr)

            return get
        if fld.origin == "flag":
            return lambda rec, tr: rec.flags.get(name, False)
        if fld.origin == "child":
            return lambda rec, tr: rec.children[name]
        if fld.nested:
            return lambda d, tr: d.get(name)
        return lambda rec, tr: rec.data.get(name)

    def _let(self, node: X.Name, scope: _Scope):
        name = node.parts[0]
        compiled = scope.lets[name]
        if compiled is None:
            return (lambda env, tr: None), ANY
        if scope.item_var is None and scope.let_uses_item.get(name):
            return self._bad("expr.unknown_name",
                             f"{name!r} reads the item of `each`, so it can be used only in `where` and `amount`", node)
        inner, key, let_ast = compiled.traced, f"$let:{name}", compiled.ast

        def fn(env, tr):
            hit = env.get(key)
            if hit is None:
                tr.open()
                try:
                    value = inner(env, tr)
                finally:
                    captured = tr.close()
                hit = (value, captured)
                env[key] = hit  # evaluated once per item; what it read is replayed into every trace that uses it
            value, captured = hit
            tr.replay(captured)
            tr.value(let_ast, value)
            tr.value(node, value)
            return value

        return fn, compiled.type

    def _c_Unary(self, node: X.Unary, scope):
        fn, typ = self._c(node.operand, scope)
        operand = node.operand
        if node.op == "not":
            if not _compatible(typ, BOOL):
                return self._bad("expr.type", f"'not' needs true/false, got {typ}", node)
            return (lambda env, tr: not _truth(fn(env, tr), operand)), BOOL
        if not _compatible(typ, NUMBER):
            return self._bad("expr.type", f"'-' needs a number, got {typ}", node)
        return (lambda env, tr: exact.sub(0, _num(fn(env, tr), operand))), NUMBER

    def _c_BoolOp(self, node: X.BoolOp, scope):
        parts = [self._c(o, scope) for o in node.operands]
        for (fn, typ), operand in zip(parts, node.operands):
            if not _compatible(typ, BOOL):
                return self._bad("expr.type", f"'{node.op}' needs true/false on each side, got {typ}", operand)
        pairs = tuple((fn, operand) for (fn, _), operand in zip(parts, node.operands))
        if node.op == "and":
            def fn(env, tr):
                for f, o in pairs:
                    if not _truth(f(env, tr), o):
                        return False
                return True
        else:
            def fn(env, tr):
                for f, o in pairs:
                    if _truth(f(env, tr), o):
                        return True
                return False
        return fn, BOOL

    def _check_codes(self, node: X.Binary) -> None:
        """A string compared with a coded field (==, !=, in) must be one of its codes."""
        for name, other in ((node.left, node.right), (node.right, node.left)):
            field = self._fields.get(id(name)) if isinstance(name, X.Name) else None
            codes = self.field_codes.get(field) if field else None
            if not codes:
                continue
            literals = [other] if isinstance(other, X.Literal) else list(other.items) if isinstance(other, X.ListOf) else []
            for lit in literals:
                if isinstance(lit, X.Literal) and lit.value is not None and str(lit.value) not in codes:
                    near = difflib.get_close_matches(str(lit.value), list(codes), n=1)
                    self.error("expr.unknown_code", f"{X.format_value(lit.value)} is not a code of {field[0]}.{field[1]}",
                               self._pointer, lit, self._text,
                               f"did you mean {near[0]!r}?" if near else f"codes: {', '.join(codes)}")

    def _c_Binary(self, node: X.Binary, scope):
        lf, lt = self._c(node.left, scope)
        rf, rt = self._c(node.right, scope)
        op, left, right = node.op, node.left, node.right
        if op in ("==", "!=", "in", "not in"):
            self._check_codes(node)
        if op in X.ARITHMETIC:
            if not (_compatible(lt, NUMBER) and _compatible(rt, NUMBER)):
                return self._bad("expr.type", f"'{op}' needs numbers, got {lt} {op} {rt}", node)
            if op == "+":
                return (lambda env, tr: exact.add(_num(lf(env, tr), left), _num(rf(env, tr), right))), NUMBER
            if op == "-":
                return (lambda env, tr: exact.sub(_num(lf(env, tr), left), _num(rf(env, tr), right))), NUMBER
            if op == "*":
                return (lambda env, tr: exact.mul(_num(lf(env, tr), left), _num(rf(env, tr), right))), NUMBER

            def divide(env, tr):
                a, b = _num(lf(env, tr), left), _num(rf(env, tr), right)
                if b == 0:
                    raise EvalError(f"division by zero: {X.unparse(right)} is 0", node, "eval.division_by_zero")
                return exact.div(a, b)  # a fraction when it does not terminate: exact until the policy rounds

            return divide, NUMBER
        if op in ("in", "not in"):
            if rt.name != "list" and rt != ANY:
                return self._bad("expr.type", f"'{op}' needs a list on its right, got {rt}", node)
            negate = op == "not in"

            def member(env, tr):
                value, container = lf(env, tr), rf(env, tr)
                if container is None:
                    raise EvalError(f"{X.unparse(right)} is null where a list is needed", node, "eval.null")
                return (value not in container) if negate else (value in container)

            return member, BOOL
        if not _compatible(lt, rt):
            return self._bad("expr.type", f"cannot compare {lt} with {rt}", node)
        if op == "==":
            return (lambda env, tr: lf(env, tr) == rf(env, tr)), BOOL
        if op == "!=":
            return (lambda env, tr: lf(env, tr) != rf(env, tr)), BOOL
        if lt in (BOOL,) or rt in (BOOL,):
            return self._bad("expr.type", f"'{op}' does not order true/false", node)
        if lt.name in ("record", "list", "table") or rt.name in ("record", "list", "table"):
            return self._bad("expr.type", f"'{op}' orders numbers, dates or text, not {lt} and {rt}", node)
        compare = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
                   ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]

        def ordered(env, tr):
            a, b = lf(env, tr), rf(env, tr)
            if a is None or b is None:
                which = left if a is None else right
                raise EvalError(f"{X.unparse(which)} is null and cannot be compared", node, "eval.null")
            try:
                return compare(a, b)
            except TypeError:
                raise EvalError(f"{X.format_value(a)} and {X.format_value(b)} cannot be compared", node,
                                "eval.type") from None

        return ordered, BOOL

    def _c_Comprehension(self, node: X.Comprehension, scope):
        sf, st = self._c(node.source, scope)
        if st.name != "list":
            return self._bad("expr.type", f"{node.kind}(... in X) needs a list, got {st}", node.source)
        inner = scope.child(**{node.var: st.arg})
        wf = None
        if node.where is not None:
            wf, wt = self._c(node.where, inner)
            if not _compatible(wt, BOOL):
                return self._bad("expr.type", f"'where' needs true/false, got {wt}", node.where)
        vf = None
        if node.value is not None:
            vf, vt = self._c(node.value, inner)
            if not _compatible(vt, NUMBER):
                return self._bad("expr.type", f"sum(...) needs numbers, got {vt}", node.value)
        var, where_node, value_node = node.var, node.where, node.value

        def fn(env, tr):
            tr.open(False)  # only the parameters read inside are kept, and the count or sum itself
            try:
                local = dict(env)
                total = 0
                for item in sf(env, tr) or ():
                    local[var] = item
                    if wf is not None and not _truth(wf(local, tr), where_node):
                        continue
                    total = total + 1 if vf is None else exact.add(total, _num(vf(local, tr), value_node))
            finally:
                tr.replay(tr.close())
            tr.value(node, total)
            return total

        return fn, NUMBER

    def _c_Call(self, node: X.Call, scope):
        name = node.func
        if name not in _FUNCTIONS:
            near = difflib.get_close_matches(name, _FUNCTIONS, n=1)
            return self._bad("expr.unknown_function", f"unknown function {name!r}", node,
                             f"did you mean {near[0]!r}?" if near else f"functions: {', '.join(_FUNCTIONS)}")
        return getattr(self, f"_f_{name}")(node, scope)

    def _args(self, node, scope, lo, hi=None):
        n = len(node.args)
        hi = lo if hi is None else hi
        if n < lo or (hi >= 0 and n > hi):
            want = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi >= 0 else f"at least {lo}"
            self._bad("expr.arity", f"{node.func}() takes {want} arguments, got {n}", node)
            return None
        return [self._c(a, scope) for a in node.args]

    def _f_param(self, node, scope):
        args = self._args(node, scope, 2, 4)
        if args is None:
            return (lambda env, tr: None), ANY
        first = node.args[0]
        if not (isinstance(first, X.Literal) and isinstance(first.value, str)):
            return self._bad("expr.param_name", "param() needs the parameter's name as a quoted string", first)
        pname = first.value
        if pname not in self.parameters:
            near = difflib.get_close_matches(pname, list(self.parameters), n=1)
            return self._bad("expr.unknown_parameter", f"unknown parameter {pname!r}", first,
                             f"did you mean {near[0]!r}?" if near else None)
        parameter = self.parameters[pname]
        self.used_parameters.add(pname)
        (af, at), key = args[1], (args[2] if len(args) >= 3 else None)
        fallback = args[3] if len(args) == 4 else None
        if not _compatible(at, DATE):
            return self._bad("expr.type", f"param()'s second argument is the date to look up; got {at}", node.args[1])
        if parameter.keyed_by and key is None:
            return self._bad("expr.param_key", f"parameter {pname!r} is keyed by {parameter.keyed_by}; give the key as a third argument", node)
        if not parameter.keyed_by and key is not None:
            return self._bad("expr.param_key", f"parameter {pname!r} has no keys", node.args[2])
        kf = key[0] if key else None
        typ = TABLE if parameter.table else DATE if parameter.type == "date" else NUMBER
        if fallback is not None and not _compatible(fallback[1], typ):
            return self._bad("expr.type", f"param()'s fourth argument is the value for a key the parameter does not "
                             f"list; it must be {typ}, got {fallback[1]}", node.args[3])
        ff = fallback[0] if fallback else None
        at_node = node.args[1]
        origin = self.doc.locate(parameter.pointer).file

        def fn(env, tr):
            day = af(env, tr)
            if not isinstance(day, _dt.date):
                raise EvalError(f"param({pname!r}) needs a date, got {X.format_value(day)} from {X.unparse(at_node)}",
                                node, "eval.null")
            keytext = None if kf is None else key_text(kf(env, tr))
            try:
                pv = parameter.at(day)
            except ParameterMissing as exc:
                raise EvalError(str(exc), node, "param.no_value", missing=(pname, day, keytext)) from None
            value = pv.value
            if kf is not None:
                if keytext not in value:
                    if ff is not None:
                        return ff(env, tr)
                    raise EvalError(f"parameter {pname!r} has no value for key {keytext!r} on {day.isoformat()}",
                                    node, "param.no_key")
                value = value[keytext]
            if tr.enabled:
                tr.param(ParamUse(pname, parameter.label, day, keytext, value, pv.since, pv.until, pv.source,
                                  pv.unconfirmed, origin))
                tr.value(node, value)
            return value

        return fn, typ

    def _numbers(self, node, scope, lo=1, hi=-1):
        args = self._args(node, scope, lo, hi)
        if args is None:
            return None
        for (f, t), a in zip(args, node.args):
            if not _compatible(t, NUMBER):
                self._bad("expr.type", f"{node.func}() needs numbers, got {t}", a)
                return None
        return tuple((f, a) for (f, _), a in zip(args, node.args))

    def _f_min(self, node, scope):
        parts = self._numbers(node, scope)
        if parts is None:
            return (lambda env, tr: None), ANY
        return (lambda env, tr: min(_num(f(env, tr), a) for f, a in parts)), NUMBER

    def _f_max(self, node, scope):
        parts = self._numbers(node, scope)
        if parts is None:
            return (lambda env, tr: None), ANY
        return (lambda env, tr: max(_num(f(env, tr), a) for f, a in parts)), NUMBER

    def _f_floor(self, node, scope):
        parts = self._numbers(node, scope, 1, 1)
        if parts is None:
            return (lambda env, tr: None), ANY
        (f, a), = parts
        return (lambda env, tr: exact.floor(_num(f(env, tr), a))), NUMBER

    def _f_if(self, node, scope):
        args = self._args(node, scope, 3)
        if args is None:
            return (lambda env, tr: None), ANY
        (cf, ct), (af, at), (bf, bt) = args
        if not _compatible(ct, BOOL):
            return self._bad("expr.type", f"if() needs true/false first, got {ct}", node.args[0])
        if not _compatible(at, bt):
            return self._bad("expr.type", f"if() gives {at} on one side and {bt} on the other", node)
        cond = node.args[0]
        return (lambda env, tr: af(env, tr) if _truth(cf(env, tr), cond) else bf(env, tr)), (bt if at == NULL else at)

    def _f_coalesce(self, node, scope):
        args = self._args(node, scope, 2, -1)
        if args is None:
            return (lambda env, tr: None), ANY
        fns = tuple(f for f, _ in args)
        types = [t for _, t in args if t != NULL]
        for t in types[1:]:
            if not _compatible(types[0], t):
                return self._bad("expr.type", f"coalesce() mixes {types[0]} and {t}", node)

        def fn(env, tr):
            for f in fns:
                value = f(env, tr)
                if value is not None:
                    return value
            return None

        return fn, (types[0] if types else NULL)

    def _f_has_any(self, node, scope):
        args = self._args(node, scope, 2)
        if args is None:
            return (lambda env, tr: None), ANY
        (af, at), (bf, bt) = args
        for t, a in ((at, node.args[0]), (bt, node.args[1])):
            if t.name != "list" and t != ANY:
                return self._bad("expr.type", f"has_any() needs two lists, got {t}", a)
        return (lambda env, tr: not frozenset(af(env, tr) or ()).isdisjoint(bf(env, tr) or ())), BOOL

    def _f_in_period(self, node, scope):
        args = self._args(node, scope, 1)
        if args is None:
            return (lambda env, tr: None), ANY
        (df, dt), = args
        if not _compatible(dt, DATE):
            return self._bad("expr.type", f"in_period() needs a date, got {dt}", node.args[0])

        def fn(env, tr):
            day = df(env, tr)
            period = env["period"].data
            return day is not None and period["start"] <= day <= period["end"]

        return fn, BOOL

    def _date_and_number(self, node, scope):
        args = self._args(node, scope, 2)
        if args is None:
            return None
        (df, dt), (nf, nt) = args
        if not _compatible(dt, DATE) or not _compatible(nt, NUMBER):
            self._bad("expr.type", f"{node.func}() needs a date and a whole number, got {dt} and {nt}", node)
            return None
        return df, nf

    def _date_shift(self, node, scope, shift):
        """add_years / add_months: a date moved by a whole number of units."""
        parts = self._date_and_number(node, scope)
        if parts is None:
            return (lambda env, tr: None), ANY
        df, nf = parts
        d_node, n_node = node.args

        def fn(env, tr):
            day = df(env, tr)
            if day is None:
                raise EvalError(f"{X.unparse(d_node)} is null where a date is needed", node, "eval.null")
            try:
                return shift(day, _whole(nf(env, tr), n_node))
            except (OverflowError, ValueError):
                raise EvalError(f"{X.unparse(node)} gives a date outside the calendar", node, "eval.date_range") from None

        return fn, DATE

    def _f_add_years(self, node, scope):
        return self._date_shift(node, scope, add_years)

    def _f_add_months(self, node, scope):
        return self._date_shift(node, scope, add_months)

    def _f_add_days(self, node, scope):
        return self._date_shift(node, scope, lambda day, n: day + _dt.timedelta(days=n))

    def _f_months_between(self, node, scope):
        args = self._args(node, scope, 2)
        if args is None:
            return (lambda env, tr: None), ANY
        (af, at), (bf, bt) = args
        if not _compatible(at, DATE) or not _compatible(bt, DATE):
            return self._bad("expr.type", f"months_between() needs two dates, got {at} and {bt}", node)

        def fn(env, tr):
            a, b = af(env, tr), bf(env, tr)
            if a is None or b is None:
                raise EvalError("months_between() got a null date", node, "eval.null")
            return months_between(a, b)

        return fn, NUMBER

    def _f_tier(self, node, scope):
        args = self._args(node, scope, 2)
        if args is None:
            return (lambda env, tr: None), ANY
        (tf, tt), (xf, xt) = args
        if not _compatible(tt, TABLE):
            return self._bad("expr.type", f"tier() needs a table parameter (table: true) first, got {tt}", node.args[0])
        if not _compatible(xt, NUMBER):
            return self._bad("expr.type", f"tier() needs a number second, got {xt}", node.args[1])
        x_node = node.args[1]
        return (lambda env, tr: tier(tf(env, tr), _num(xf(env, tr), x_node))), NUMBER

    def _f_date(self, node, scope):
        if len(node.args) != 1 or not (isinstance(node.args[0], X.Literal) and isinstance(node.args[0].value, str)):
            return self._bad("expr.arity", "date() takes one quoted date, such as date(\"2024-01-01\")", node)
        try:
            day = _dt.date.fromisoformat(node.args[0].value)
        except ValueError:
            return self._bad("expr.type", f"{node.args[0].value!r} is not a date written YYYY-MM-DD", node.args[0])
        return (lambda env, tr: day), DATE


def _field(origin: str, typ: T):
    from ..facts.model import Field
    return Field(typ, origin)


def stratify(rules: List[dict], producers: Dict[Tuple[str, str], List[str]]) -> Tuple[Dict[str, int], Optional[List[str]]]:
    """Strata for rules: each after every producer of a flag it reads. Returns (strata, cycle or None)."""
    by_id = {r["id"]: r for r in rules}
    strata: Dict[str, int] = {}
    visiting: List[str] = []

    def visit(rid: str) -> Optional[List[str]]:
        if rid in strata:
            return None
        if rid in visiting:
            return visiting[visiting.index(rid):] + [rid]
        visiting.append(rid)
        level = 0
        for flag in sorted(by_id[rid]["reads"]):
            for producer in producers.get(flag, ()):
                cycle = visit(producer)
                if cycle:
                    return cycle
                level = max(level, strata[producer] + 1)
        visiting.pop()
        strata[rid] = level
        return None

    for r in rules:
        cycle = visit(r["id"])
        if cycle:
            return strata, cycle
    return strata, None


def parameters_read(ast: X.Node, computed_asts: Dict[Tuple[str, str], X.Node], lets: Dict[str, X.Node]) -> set:
    """The names of the parameters an expression reads, through the computed values and lets it uses."""
    found: set = set()
    seen: set = set()
    todo = [ast]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for n in X.walk(node):
            if isinstance(n, X.Call) and n.func == "param" and n.args and isinstance(n.args[0], X.Literal):
                found.add(n.args[0].value)
            elif isinstance(n, X.Name):
                if n.parts[0] in lets:
                    todo.append(lets[n.parts[0]])
                todo.extend(a for (kind, name), a in computed_asts.items() if name == n.parts[-1])
    return found
