"""The compiler: each expression of a policy parsed, its names resolved, its types checked, and its reference
evaluation built.

Stages, over explicit state (the :class:`Compiler`'s tables, filled in this order for each expression):

1. **parse** (:func:`subsidy_rules.lang.expr.parse`): text to the project's AST, every node with its position;
2. **resolve and check** (this module, :mod:`.functions` for calls): each name resolved against the facts
   contract, the policy's computed values, sets, lets and flags (``name_steps``), each type checked
   (:mod:`.types`), each code checked against its vocabulary; every problem collected with its exact
   ``file:line:col``;
3. **reference evaluation**: the same walk builds a closure ``fn(env, tracer)`` that reports what it reads
   to the tracer passed to it (:mod:`.tracing`): what explains a decision, and what decides any case the
   generated code leaves to it;
4. **generate** (:mod:`.codegen`, once the policy holds together): each rule becomes one Python function.

What rules read and the order they run in is worked out by :mod:`.strata`; what the compiler produces is
described in :mod:`.compiled`.
"""
from __future__ import annotations

import difflib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple, cast

from . import exact
from . import expr as X
from .printing import format_value, unparse
from .compiled import CompiledExpr, EvalError, Fn, num as _num, truth as _truth
from .functions import FUNCTIONS, Checked, Functions
from .support import tlet
from .tracing import Tracer
from .types import ANY, BOOL, NULL, NUMBER, STRING, Field, T, compatible as _compatible, list_of, record
from ..facts.model import SUBJECT_SCOPE, ComputedDef
from ..policy.parameters import Parameter
from ..problems import Problem
from ..source import Document, expression_location

_FUNCTIONS = FUNCTIONS

#: How one part of a dotted name is read from the record (or mapping) before it, for the reference evaluation.
_Getter = Callable[[Any, Tracer], Any]

#: The compiler, and what modules that read facts import from here (the facts checks: EvalError, _truth).
__all__ = ["Compiler", "EvalError", "_truth"]


@dataclass
class _Scope:
    """Names visible to one expression: binding -> type, plus let definitions."""

    names: Dict[str, T]
    lets: Dict[str, Optional[CompiledExpr]] = field(default_factory=dict)  # None: the let did not compile
    let_uses_item: Dict[str, bool] = field(default_factory=dict)
    item_var: Optional[str] = None

    def child(self, **extra: T) -> "_Scope":
        names = dict(self.names)
        names.update(extra)
        return _Scope(names, self.lets, self.let_uses_item, self.item_var)


_FUNCTIONS = ("param", "min", "max", "floor", "if", "coalesce", "has_any", "in_period", "add_years",
              "add_months", "add_days", "months_between", "tier", "date")


class Compiler(Functions):
    """Resolves, checks and compiles the expressions of one policy."""

    def __init__(self, doc: Document, kinds: Dict[str, dict], parameters: Dict[str, Parameter],
                 sets: Dict[str, frozenset], computed: Dict[str, Dict[str, dict]], flags: Dict[Tuple[str, str], List[str]],
                 field_codes: Optional[Dict[Tuple[str, str], dict]] = None) -> None:
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
        self.computed_fns: Dict[Tuple[str, str], Optional[Fn]] = {}  # None: it did not compile
        self.computed_reads: Dict[Tuple[str, str], frozenset] = {}
        self.computed_asts: Dict[Tuple[str, str], X.Node] = {}
        self.computed_shown: Dict[Tuple[str, str], ComputedDef] = {}
        self._computing: List[Tuple[str, str]] = []
        self._reads: Optional[Set[Tuple[str, str]]] = None
        self.used_parameters: Set[str] = set()
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

    @contextmanager
    def reading(self) -> Iterator[Set[Tuple[str, str]]]:
        """Collect, into the set it yields, the (holder kind, flag) pairs the expressions compiled inside read
        (through the computed values they use too): what orders a rule after the rules asserting those flags."""
        saved = self._reads
        reads: Set[Tuple[str, str]] = set()
        self._reads = reads
        try:
            yield reads
        finally:
            self._reads = saved

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

    def _c(self, node: X.Node, scope: _Scope) -> Checked:
        method = getattr(self, f"_c_{type(node).__name__}")
        checked: Checked = method(node, scope)
        return checked

    def _bad(self, code: str, message: str, node: X.Node, hint: Optional[str] = None) -> Checked:
        self.error(code, message, self._pointer, node, self._text, hint)
        return (lambda env, tr: None), ANY

    def _c_Literal(self, node: X.Literal, scope: _Scope) -> Checked:
        value = node.value
        typ = NULL if value is None else BOOL if isinstance(value, bool) else STRING if isinstance(value, str) else NUMBER
        return (lambda env, tr: value), typ

    def _c_ListOf(self, node: X.ListOf, scope: _Scope) -> Checked:
        parts = [self._c(item, scope) for item in node.items]
        literals = [i for i in node.items if isinstance(i, X.Literal)]
        if len(literals) == len(node.items):
            const = frozenset(i.value for i in literals)
            return (lambda env, tr: const), list_of(parts[0][1] if parts else ANY)
        fns = [p[0] for p in parts]
        return (lambda env, tr: tuple(f(env, tr) for f in fns)), list_of(parts[0][1] if parts else ANY)

    def _c_Name(self, node: X.Name, scope: _Scope) -> Checked:
        first, rest = node.parts[0], node.parts[1:]
        if first in scope.lets and not rest:
            return self._let(node, scope)
        if first not in scope.names:
            candidates = list(scope.names) + list(scope.lets)
            near = difflib.get_close_matches(first, candidates, n=1)
            return self._bad("expr.unknown_name", f"unknown name {first!r}", node,
                             f"did you mean {near[0]!r}?" if near else f"names here: {', '.join(sorted(candidates))}")
        typ = scope.names[first]
        getters: List[_Getter] = []
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
                made = self.computed_fn(kind, part)
                ctyp = self.kinds[kind][part].type
                typ = ctyp if made is not None else ANY
                if self._reads is not None:
                    self._reads |= self.computed_reads.get((kind, part), frozenset())
            else:
                typ = fld.type
            if fld.origin == "flag" and self._reads is not None:
                self._reads.add((kind, part))
            path = f"{path}.{part}"
            self._fields[id(node)] = (kind, part)
        chain = tuple(getters)
        self.name_steps[id(node)] = tuple(steps)

        def fn(env: dict, tr: Tracer) -> Any:
            value = env[first]
            for get in chain:
                if value is None:
                    break
                value = get(value, tr)
            tr.value(node, value)
            return value

        return fn, typ

    def _getter(self, kind: str, name: str, fld: Field) -> _Getter:
        if fld.origin == "computed":
            compiler = self
            key = (kind, name)

            def get(rec: Any, tr: Tracer) -> Any:
                return rec.computed(name, compiler.computed_fns[key], compiler.computed_shown.get(key), tr)

            return get
        if fld.origin == "flag":
            return lambda rec, tr: rec.flags.get(name, False)
        if fld.origin == "child":
            return lambda rec, tr: rec.children[name]
        if fld.nested:
            return lambda d, tr: d.get(name)
        return lambda rec, tr: rec.data.get(name)

    def _let(self, node: X.Name, scope: _Scope) -> Checked:
        name = node.parts[0]
        compiled = scope.lets[name]
        if compiled is None:
            return (lambda env, tr: None), ANY
        if scope.item_var is None and scope.let_uses_item.get(name):
            return self._bad("expr.unknown_name",
                             f"{name!r} reads the item of `each`, so it can be used only in `where` and `amount`", node)
        inner, key, let_ast = compiled.traced, f"$let:{name}", compiled.ast

        # the same helper the generated traced code calls: one place for a let's caching
        def fn(env: dict, tr: Tracer) -> Any:
            return tlet(env, tr, key, inner, let_ast, node)

        return fn, compiled.type

    def _c_Unary(self, node: X.Unary, scope: _Scope) -> Checked:
        fn, typ = self._c(node.operand, scope)
        operand = node.operand
        if node.op == "not":
            if not _compatible(typ, BOOL):
                return self._bad("expr.type", f"'not' needs true/false, got {typ}", node)
            return (lambda env, tr: not _truth(fn(env, tr), operand)), BOOL
        if not _compatible(typ, NUMBER):
            return self._bad("expr.type", f"'-' needs a number, got {typ}", node)
        return (lambda env, tr: exact.sub(0, _num(fn(env, tr), operand))), NUMBER

    def _c_BoolOp(self, node: X.BoolOp, scope: _Scope) -> Checked:
        parts = [self._c(o, scope) for o in node.operands]
        for (fn, typ), operand in zip(parts, node.operands):
            if not _compatible(typ, BOOL):
                return self._bad("expr.type", f"'{node.op}' needs true/false on each side, got {typ}", operand)
        pairs = tuple((fn, operand) for (fn, _), operand in zip(parts, node.operands))
        if node.op == "and":
            def fn(env: dict, tr: Tracer) -> Any:
                for f, o in pairs:
                    if not _truth(f(env, tr), o):
                        return False
                return True
        else:
            def fn(env: dict, tr: Tracer) -> Any:
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
            if not field or not codes:
                continue
            literals = [other] if isinstance(other, X.Literal) else list(other.items) if isinstance(other, X.ListOf) else []
            for lit in literals:
                if isinstance(lit, X.Literal) and lit.value is not None and str(lit.value) not in codes:
                    near = difflib.get_close_matches(str(lit.value), list(codes), n=1)
                    self.error("expr.unknown_code", f"{format_value(lit.value)} is not a code of {field[0]}.{field[1]}",
                               self._pointer, lit, self._text,
                               f"did you mean {near[0]!r}?" if near else f"codes: {', '.join(codes)}")

    def _c_Binary(self, node: X.Binary, scope: _Scope) -> Checked:
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

            def divide(env: dict, tr: Tracer) -> Any:
                a, b = _num(lf(env, tr), left), _num(rf(env, tr), right)
                if b == 0:
                    raise EvalError(f"division by zero: {unparse(right)} is 0", node, "eval.division_by_zero")
                return exact.div(a, b)  # a fraction when it does not terminate: exact until the policy rounds

            return divide, NUMBER
        if op in ("in", "not in"):
            if rt.name != "list" and rt != ANY:
                return self._bad("expr.type", f"'{op}' needs a list on its right, got {rt}", node)
            negate = op == "not in"

            def member(env: dict, tr: Tracer) -> Any:
                value, container = lf(env, tr), rf(env, tr)
                if container is None:
                    raise EvalError(f"{unparse(right)} is null where a list is needed", node, "eval.null")
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

        def ordered(env: dict, tr: Tracer) -> Any:
            a, b = lf(env, tr), rf(env, tr)
            if a is None or b is None:
                which = left if a is None else right
                raise EvalError(f"{unparse(which)} is null and cannot be compared", node, "eval.null")
            try:
                return compare(a, b)
            except TypeError:
                raise EvalError(f"{format_value(a)} and {format_value(b)} cannot be compared", node,
                                "eval.type") from None

        return ordered, BOOL

    def _c_Comprehension(self, node: X.Comprehension, scope: _Scope) -> Checked:
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
        # each node is read only when its part is there (wf, vf)
        var, where_node, value_node = node.var, cast(X.Node, node.where), cast(X.Node, node.value)

        def fn(env: dict, tr: Tracer) -> Any:
            tr.open(False)  # only the parameters read inside are kept, and the count or sum itself
            try:
                local = dict(env)
                total: Any = 0  # a count (int), or a sum (exact.Number)
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

def _field(origin: str, typ: T) -> Field:
    return Field(typ, origin)
