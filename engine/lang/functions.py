"""The built-in functions of the expression language: their arity and argument types, and their reference
evaluation (a closure ``fn(env, tracer)``), as a part of :class:`~subsidy_rules.lang.compiler.Compiler`."""
from __future__ import annotations

import datetime as _dt
import difflib
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set, Tuple

from . import exact
from . import expr as X
from .printing import format_value, unparse
from .calendar import add_months, add_years, months_between
from .compiled import EvalError, Fn, num as _num, truth as _truth, whole as _whole
from .support import key_text
from .tracing import Tracer
from .types import ANY, BOOL, DATE, NULL, NUMBER, TABLE, T, compatible as _compatible
from ..policy.parameters import Parameter, ParameterMissing, ParamUse, tier

if TYPE_CHECKING:
    from .compiler import _Scope
    from ..source import Document

#: What checking an expression gives: its reference evaluation ``fn(env, tracer)`` and its type.
Checked = Tuple[Fn, T]

FUNCTIONS = ("param", "min", "max", "floor", "if", "coalesce", "has_any", "in_period", "add_years",
             "add_months", "add_days", "months_between", "tier", "date")


class Functions:
    """Checks and closures of the function calls (a mixin of the compiler, which gives ``_c``, ``_bad`` and its
    tables)."""

    if TYPE_CHECKING:  # what the compiler gives its mixin
        doc: Document
        parameters: Dict[str, Parameter]
        used_parameters: Set[str]

        def _c(self, node: X.Node, scope: _Scope) -> Checked: ...

        def _bad(self, code: str, message: str, node: X.Node, hint: Optional[str] = None) -> Checked: ...

    def _c_Call(self, node: X.Call, scope: _Scope) -> Checked:
        name = node.func
        if name not in FUNCTIONS:
            near = difflib.get_close_matches(name, FUNCTIONS, n=1)
            return self._bad("expr.unknown_function", f"unknown function {name!r}", node,
                             f"did you mean {near[0]!r}?" if near else f"functions: {', '.join(FUNCTIONS)}")
        checked: Checked = getattr(self, f"_f_{name}")(node, scope)
        return checked

    def _args(self, node: X.Call, scope: _Scope, lo: int, hi: Optional[int] = None) -> Optional[List[Checked]]:
        n = len(node.args)
        hi = lo if hi is None else hi
        if n < lo or (hi >= 0 and n > hi):
            want = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi >= 0 else f"at least {lo}"
            self._bad("expr.arity", f"{node.func}() takes {want} arguments, got {n}", node)
            return None
        return [self._c(a, scope) for a in node.args]

    def _f_param(self, node: X.Call, scope: _Scope) -> Checked:
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

        def fn(env: dict, tr: Tracer) -> Any:
            day = af(env, tr)
            if not isinstance(day, _dt.date):
                raise EvalError(f"param({pname!r}) needs a date, got {format_value(day)} from {unparse(at_node)}",
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
                tr.param(ParamUse(pname, parameter.label, day, keytext, value, pv.since, pv.ends, pv.source,
                                  pv.unconfirmed, origin))
                tr.value(node, value)
            return value

        return fn, typ

    def _numbers(self, node: X.Call, scope: _Scope, lo: int = 1,
                 hi: int = -1) -> Optional[Tuple[Tuple[Fn, X.Node], ...]]:
        args = self._args(node, scope, lo, hi)
        if args is None:
            return None
        for (f, t), a in zip(args, node.args):
            if not _compatible(t, NUMBER):
                self._bad("expr.type", f"{node.func}() needs numbers, got {t}", a)
                return None
        return tuple((f, a) for (f, _), a in zip(args, node.args))

    def _f_min(self, node: X.Call, scope: _Scope) -> Checked:
        parts = self._numbers(node, scope)
        if parts is None:
            return (lambda env, tr: None), ANY
        return (lambda env, tr: min(_num(f(env, tr), a) for f, a in parts)), NUMBER

    def _f_max(self, node: X.Call, scope: _Scope) -> Checked:
        parts = self._numbers(node, scope)
        if parts is None:
            return (lambda env, tr: None), ANY
        return (lambda env, tr: max(_num(f(env, tr), a) for f, a in parts)), NUMBER

    def _f_floor(self, node: X.Call, scope: _Scope) -> Checked:
        parts = self._numbers(node, scope, 1, 1)
        if parts is None:
            return (lambda env, tr: None), ANY
        (f, a), = parts
        return (lambda env, tr: exact.floor(_num(f(env, tr), a))), NUMBER

    def _f_if(self, node: X.Call, scope: _Scope) -> Checked:
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

    def _f_coalesce(self, node: X.Call, scope: _Scope) -> Checked:
        args = self._args(node, scope, 2, -1)
        if args is None:
            return (lambda env, tr: None), ANY
        fns = tuple(f for f, _ in args)
        types = [t for _, t in args if t != NULL]
        for t in types[1:]:
            if not _compatible(types[0], t):
                return self._bad("expr.type", f"coalesce() mixes {types[0]} and {t}", node)

        def fn(env: dict, tr: Tracer) -> Any:
            for f in fns:
                value = f(env, tr)
                if value is not None:
                    return value
            return None

        return fn, (types[0] if types else NULL)

    def _f_has_any(self, node: X.Call, scope: _Scope) -> Checked:
        args = self._args(node, scope, 2)
        if args is None:
            return (lambda env, tr: None), ANY
        (af, at), (bf, bt) = args
        for t, a in ((at, node.args[0]), (bt, node.args[1])):
            if t.name != "list" and t != ANY:
                return self._bad("expr.type", f"has_any() needs two lists, got {t}", a)
        return (lambda env, tr: not frozenset(af(env, tr) or ()).isdisjoint(bf(env, tr) or ())), BOOL

    def _f_in_period(self, node: X.Call, scope: _Scope) -> Checked:
        args = self._args(node, scope, 1)
        if args is None:
            return (lambda env, tr: None), ANY
        (df, dt), = args
        if not _compatible(dt, DATE):
            return self._bad("expr.type", f"in_period() needs a date, got {dt}", node.args[0])

        def fn(env: dict, tr: Tracer) -> Any:
            day = df(env, tr)
            period = env["period"].data
            return day is not None and period["start"] <= day <= period["end"]

        return fn, BOOL

    def _date_and_number(self, node: X.Call, scope: _Scope) -> Optional[Tuple[Fn, Fn]]:
        args = self._args(node, scope, 2)
        if args is None:
            return None
        (df, dt), (nf, nt) = args
        if not _compatible(dt, DATE) or not _compatible(nt, NUMBER):
            self._bad("expr.type", f"{node.func}() needs a date and a whole number, got {dt} and {nt}", node)
            return None
        return df, nf

    def _date_shift(self, node: X.Call, scope: _Scope, shift: Callable[[_dt.date, int], _dt.date]) -> Checked:
        """add_years / add_months: a date moved by a whole number of units."""
        parts = self._date_and_number(node, scope)
        if parts is None:
            return (lambda env, tr: None), ANY
        df, nf = parts
        d_node, n_node = node.args

        def fn(env: dict, tr: Tracer) -> Any:
            day = df(env, tr)
            if day is None:
                raise EvalError(f"{unparse(d_node)} is null where a date is needed", node, "eval.null")
            try:
                return shift(day, _whole(nf(env, tr), n_node))
            except (OverflowError, ValueError):
                raise EvalError(f"{unparse(node)} gives a date outside the calendar", node, "eval.date_range") from None

        return fn, DATE

    def _f_add_years(self, node: X.Call, scope: _Scope) -> Checked:
        return self._date_shift(node, scope, add_years)

    def _f_add_months(self, node: X.Call, scope: _Scope) -> Checked:
        return self._date_shift(node, scope, add_months)

    def _f_add_days(self, node: X.Call, scope: _Scope) -> Checked:
        return self._date_shift(node, scope, lambda day, n: day + _dt.timedelta(days=n))

    def _f_months_between(self, node: X.Call, scope: _Scope) -> Checked:
        args = self._args(node, scope, 2)
        if args is None:
            return (lambda env, tr: None), ANY
        (af, at), (bf, bt) = args
        if not _compatible(at, DATE) or not _compatible(bt, DATE):
            return self._bad("expr.type", f"months_between() needs two dates, got {at} and {bt}", node)

        def fn(env: dict, tr: Tracer) -> Any:
            a, b = af(env, tr), bf(env, tr)
            if a is None or b is None:
                raise EvalError("months_between() got a null date", node, "eval.null")
            return months_between(a, b)

        return fn, NUMBER

    def _f_tier(self, node: X.Call, scope: _Scope) -> Checked:
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

    def _f_date(self, node: X.Call, scope: _Scope) -> Checked:
        if len(node.args) != 1 or not (isinstance(node.args[0], X.Literal) and isinstance(node.args[0].value, str)):
            return self._bad("expr.arity", "date() takes one quoted date, such as date(\"2024-01-01\")", node)
        try:
            day = _dt.date.fromisoformat(node.args[0].value)
        except ValueError:
            return self._bad("expr.type", f"{node.args[0].value!r} is not a date written YYYY-MM-DD", node.args[0])
        return (lambda env, tr: day), DATE
