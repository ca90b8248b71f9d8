"""The parts of a policy file, each built from its section and checked: clauses, vocabularies, sets and
parameters (:class:`Builder`), statuses, facts checks and rules; a rule compiled, and given its generated code.
The stages of :mod:`subsidy_rules.policy.stages` call them in order.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Iterable, Iterator, List, Optional, Set, Tuple, Union


from ..lang import expr as X
from ..lang.codegen import CodegenInfo, generate_rule
from ..lang.compiled import CompiledCondition, CompiledEach, CompiledRule, Requirement
from ..lang.compiler import Compiler
from ..facts.model import ANY, BOOL, NUMBER, SUBJECT_SCOPE
from .parameters import Parameter, ParameterValue, with_ends
from .model import Clause, FactsCheck, Route, Status, Vocabulary
from ..problems import WARNING, Problem
from ..source import Document

if TYPE_CHECKING:
    from ..lang.compiled import CompiledExpr
    from ..lang.compiler import _Scope
    from ..lang.types import Field, T


#: the facts' record kinds, each with its fields (:func:`subsidy_rules.facts.model.record_kinds`)
Kinds = Dict[str, Dict[str, "Field"]]
#: a `when` or `where` list as the policy file writes it: each a text, or a mapping with test, label and reading
ConditionItems = Optional[Iterable[Union[str, Dict[str, Any]]]]


def parse_date(text: Optional[str]) -> Optional[_dt.date]:
    return _dt.date.fromisoformat(text) if text else None


def _num(value: object) -> Optional[Decimal]:
    if isinstance(value, Decimal):
        return value
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def _date_value(value: object) -> Optional[_dt.date]:
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError:
        return None


class Builder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.data = doc.data
        self.problems: List[Problem] = []

    def error(self, code: str, message: str, pointer: str, hint: Optional[str] = None, severity: str = "error") -> None:
        self.problems.append(Problem(code, message, pointer, self.doc.locate(pointer), severity, hint))

    def warn(self, code: str, message: str, pointer: str, hint: Optional[str] = None) -> None:
        self.error(code, message, pointer, hint, WARNING)

    # --- pieces ----------------------------------------------------------------

    def clauses(self) -> Dict[str, Clause]:
        out: Dict[str, Clause] = {}
        for i, c in enumerate(self.data["clauses"]):
            pointer = f"/clauses/{i}"
            if c["id"] in out:
                self.error("policy.duplicate_id", f"clause {c['id']} is defined twice", pointer + "/id")
                continue
            out[c["id"]] = Clause(c["id"], c.get("section", ""), c["heading"], c["kind"], c["text"], pointer)
        return out

    def vocabularies(self, kinds: Kinds) -> Tuple[Dict[str, Vocabulary], Dict[Tuple[str, str], Vocabulary]]:
        vocabs: Dict[str, Vocabulary] = {}
        by_field: Dict[Tuple[str, str], Vocabulary] = {}
        for name, v in self.data["vocabularies"].items():
            vocab = Vocabulary(name, v.get("label", name), tuple(v["fields"]), dict(v["codes"]))
            vocabs[name] = vocab
            for j, path in enumerate(v["fields"]):
                kind, fld = path.rsplit(".", 1)
                pointer = f"/vocabularies/{name}/fields/{j}"
                if kind not in kinds or fld not in kinds[kind]:
                    self.error("policy.unknown_field", f"{path} is not a field of the facts", pointer)
                elif (kind, fld) in by_field:
                    self.error("policy.duplicate_id", f"{path} already takes its codes from {by_field[(kind, fld)].name}", pointer)
                else:
                    by_field[(kind, fld)] = vocab
        return vocabs, by_field

    def sets(self, vocabs: Dict[str, Vocabulary]) -> Dict[str, frozenset]:
        out: Dict[str, frozenset] = {}
        for name, s in (self.data.get("sets") or {}).items():
            pointer = f"/sets/{name}"
            vocab = vocabs.get(s["vocabulary"])
            if vocab is None:
                self._unknown("vocabulary", s["vocabulary"], vocabs, pointer + "/vocabulary")
                continue
            for j, member in enumerate(s["members"]):
                if str(member) not in vocab.codes:
                    self._unknown(f"code of {vocab.name}", str(member), vocab.codes, f"{pointer}/members/{j}")
            out[name] = frozenset(s["members"])
        return out

    def _unknown(self, what: str, name: object, known: Iterable[object], pointer: str) -> None:
        near = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
        self.error(f"policy.unknown_{what.split()[0]}", f"unknown {what} {name!r}", pointer,
                   f"did you mean {near[0]!r}?" if near else None)

    def parameters(self, kinds: Kinds, by_field: Dict[Tuple[str, str], Vocabulary], clauses: Dict[str, Clause]
                   ) -> Dict[str, Parameter]:
        out: Dict[str, Parameter] = {}
        for name, p in self.data["parameters"].items():
            pointer = f"/parameters/{name}"
            keyed_by = p.get("keyed_by")
            if keyed_by:
                kind, fld = keyed_by.split(".", 1)
                computed = (self.data.get("computed") or {}).get(kind) or {}
                if (kind not in kinds or fld not in kinds[kind]) and fld not in computed:
                    self.error("policy.unknown_field", f"{keyed_by} is neither a field of the facts nor a computed value",
                               pointer + "/keyed_by")
            convert = _date_value if p.get("type") == "date" else _num
            if p.get("clause") and p["clause"] not in clauses:
                self._unknown("clause", p["clause"], clauses, pointer + "/clause")
            values: List[ParameterValue] = []
            previous: Optional[ParameterValue] = None
            for j, v in enumerate(p["values"]):
                vp = f"{pointer}/values/{j}"
                since, until = parse_date(v.get("from")), parse_date(v.get("until"))
                if since is None and j > 0:
                    self.error("policy.parameter_dates", "only the first value may leave out `from`", vp)
                if previous is not None and since is not None:
                    if previous.since is not None and since <= previous.since:
                        self.error("policy.parameter_dates", f"values are out of date order: {since} is not after {previous.since}", vp + "/from")
                    elif previous.until is not None and since <= previous.until:
                        self.error("policy.parameter_dates", f"this value from {since} overlaps the one before, in force until {previous.until}", vp + "/from")
                if since and until and until < since:
                    self.error("policy.parameter_dates", f"`until` {until} is before `from` {since}", vp + "/until")
                raw = v["value"]
                value: object  # a number, a date, {key: either}, or a table ((threshold, amount), ...); None if unreadable
                is_map = isinstance(raw, dict)
                if p.get("table"):
                    if not is_map:
                        self.error("policy.parameter_value", "a table parameter's value maps thresholds to amounts", vp + "/value")
                        continue
                    value = tuple(sorted((_num(k), _num(a)) for k, a in raw.items() if _is_number(k) and _is_number(a)))
                    for k, a in raw.items():
                        if not _is_number(k):
                            self.error("policy.parameter_value", f"table threshold {k!r} is not a number", f"{vp}/value/{k}")
                        elif not _is_number(a):
                            self.error("policy.parameter_value", f"the amount {a!r} is not a number", f"{vp}/value/{k}")
                elif keyed_by:
                    if not is_map:
                        self.error("policy.parameter_value", f"parameter keyed by {keyed_by} needs a value for each code", vp + "/value")
                        continue
                    value = {str(k): convert(a) for k, a in raw.items()}
                    vocab = by_field.get(tuple(keyed_by.split(".", 1)))
                    if vocab is not None:
                        for k in value:
                            if k not in vocab.codes:
                                self._unknown(f"code of {vocab.name}", k, vocab.codes, f"{vp}/value/{k}")
                        missing = [c for c in vocab.codes if c not in value]
                        if missing:
                            self.warn("policy.parameter_key_missing", f"no value for {', '.join(missing)} of {vocab.name}", vp + "/value")
                else:
                    if is_map:
                        self.error("policy.parameter_value", "this parameter is neither keyed nor a table; its value is one number", vp + "/value")
                        continue
                    value = convert(raw)
                wanted = ("a date written YYYY-MM-DD (a calendar date)" if p.get("type") == "date" else
                          "a number (a parameter of type: date takes dates)")
                if value is None:
                    self.error("policy.parameter_value", f"this value must be {wanted}", vp + "/value")
                    continue
                if isinstance(value, dict) and None in value.values():
                    bad = next(k for k, a in value.items() if a is None)
                    self.error("policy.parameter_value", f"this value must be {wanted}", f"{vp}/value/{bad}")
                    continue
                pv = ParameterValue(since, until, value, v["source"], bool(v.get("unconfirmed")), vp)
                values.append(pv)
                previous = pv
            if p.get("type") == "date" and p.get("table"):
                self.error("policy.parameter_value", "a table parameter maps thresholds to amounts; it cannot be of "
                           "type date", pointer + "/type")
            out[name] = Parameter(name, p["label"], p.get("unit", ""), p.get("clause"), keyed_by,
                                  bool(p.get("table")), with_ends(values), pointer, p.get("type", "number"))
        return out


def never_fires(conditions: Iterable[X.Node]) -> str:
    """A reason the conjunction of ``conditions`` is false on constants alone, or ''."""
    atoms: List[X.Node] = []

    def collect(node: X.Node) -> None:
        if isinstance(node, X.BoolOp) and node.op == "and":
            for o in node.operands:
                collect(o)
        else:
            atoms.append(node)

    for c in conditions:
        collect(c)
    lows: Dict[str, Tuple[Union[int, Decimal], bool]] = {}  # name -> (bound, strict)
    highs: Dict[str, Tuple[Union[int, Decimal], bool]] = {}
    equal: Dict[str, Set[object]] = {}
    unequal: Dict[str, Set[object]] = {}
    truth: Dict[str, Set[bool]] = {}
    flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
    for a in atoms:
        if isinstance(a, X.Name):
            truth.setdefault(a.dotted, set()).add(True)
        elif isinstance(a, X.Unary) and a.op == "not" and isinstance(a.operand, X.Name):
            truth.setdefault(a.operand.dotted, set()).add(False)
        elif isinstance(a, X.Binary) and a.op in flip:
            name, lit, op = a.left, a.right, a.op
            if isinstance(name, X.Literal) and isinstance(lit, X.Name):
                name, lit, op = lit, name, flip[op]
            if not (isinstance(name, X.Name) and isinstance(lit, X.Literal)) or lit.value is None:
                continue
            key, value = name.dotted, lit.value
            if op == "==":
                equal.setdefault(key, set()).add(value)
            elif op == "!=":
                unequal.setdefault(key, set()).add(value)
            elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                if op in (">", ">="):
                    best = lows.get(key)
                    if best is None or value > best[0] or (value == best[0] and op == ">"):
                        lows[key] = (value, op == ">")
                else:
                    best = highs.get(key)
                    if best is None or value < best[0] or (value == best[0] and op == "<"):
                        highs[key] = (value, op == "<")
    for key, truths in truth.items():
        if len(truths) > 1:
            return f"{key} must be both true and false"
    for key, values in equal.items():
        if len(values) > 1:
            return f"{key} must equal {' and '.join(sorted(map(str, values)))} at once"
        if values & unequal.get(key, set()):
            return f"{key} must both equal and differ from {next(iter(values))}"
    for key in set(lows) & set(highs):
        (lo, lo_strict), (hi, hi_strict) = lows[key], highs[key]
        if lo > hi or (lo == hi and (lo_strict or hi_strict)):
            return f"{key} must be {'>' if lo_strict else '>='} {lo} and {'<' if hi_strict else '<='} {hi}"
    return ""


def _is_number(text: object) -> bool:
    try:
        return Decimal(str(text)).is_finite()
    except ArithmeticError:
        return False


def _condition_list(items: ConditionItems, pointer: str
                    ) -> Iterator[Tuple[str, str, Optional[str], Optional[str]]]:
    for j, item in enumerate(items or ()):
        if isinstance(item, str):
            yield item, f"{pointer}/{j}", None, None
        else:
            yield item["test"], f"{pointer}/{j}/test", item.get("label"), item.get("reading")


def _conditions(compiler: Compiler, items: ConditionItems, pointer: str, scope: "_Scope") -> List[CompiledCondition]:
    """A `when` or `where` list compiled to conditions (each a true/false expression)."""
    out: List[CompiledCondition] = []
    for text, cp, label, reading in _condition_list(items, pointer):
        compiled = compiler.compile(text, cp, scope, BOOL, "condition")
        if compiled is not None:
            out.append(CompiledCondition(compiled, label, reading))
    return out


def with_code(rule: CompiledRule, codegen: CodegenInfo, rounding: dict) -> CompiledRule:
    """The rule with its generated Python functions (what every backend runs first)."""
    return dataclasses.replace(rule, code=generate_rule(rule, codegen, Decimal(rounding["quantum"]), rounding["mode"]))


def build_statuses(b: Builder, data: dict, ids: Dict[str, int], rules_raw: List[dict], kinds: Kinds) -> List[Status]:
    """The policy's `statuses:`, each checked against the rules and the facts it reads."""
    out: List[Status] = []
    for i, raw in enumerate(data.get("statuses") or ()):
        pointer = f"/statuses/{i}"
        subject, flag = raw["subject"], raw["flag"]
        if subject != "workshop":
            b.error("policy.status_subject", "statuses are kept for workshops (the facts state a workshop's grant "
                    "and end, and the ledger reads them back per workshop)", f"{pointer}/subject")
            continue
        for field, shape in ((raw["stated"]["granted"], ("on", "route")), (raw["stated"]["ended"], ("on",))):
            held = kinds.get(f"{subject}.{field}", {})
            if not all(name in held for name in shape):
                b.error("policy.status_field", f"the facts have no field {subject}.{field} with "
                        f"{' and '.join(shape)}", f"{pointer}/stated")
        routes: List[Route] = []
        vocab = next((v for v in data.get("vocabularies", {}).values()
                      if f"{subject}.{raw['stated']['granted']}.route" in v.get("fields", ())), None)
        for j, r in enumerate(raw["routes"]):
            at = f"{pointer}/routes/{j}"
            if r["route"] in [x.route for x in routes]:
                b.error("policy.status_route", f"route {r['route']!r} is listed twice", at + "/route")
            if r["rule"] in [x.rule for x in routes]:
                b.error("policy.status_route", f"rule {r['rule']!r} already grants another route", at + "/rule")
            if vocab is not None and r["route"] not in vocab["codes"]:
                b._unknown(f"code of the vocabulary of {subject}.{raw['stated']['granted']}.route", r["route"],
                           vocab["codes"], at + "/route")
            rule = rules_raw[ids[r["rule"]]] if r["rule"] in ids else None
            if rule is None:
                b._unknown("rule", r["rule"], ids, at + "/rule")
            elif rule["subject"] != subject or rule.get("asserts") != flag:
                b.error("policy.status_route", f"rule {r['rule']!r} must be a {subject} rule that asserts {flag} to "
                        f"grant the status", at + "/rule")
            for k, opened in enumerate(r.get("opens") or ()):
                if opened not in ids:
                    b._unknown("rule", opened, ids, f"{at}/opens/{k}")
                elif f"{subject}.{flag}" not in (rules_raw[ids[opened]].get("requires") or ()):
                    b.error("policy.status_route", f"rule {opened!r} does not require {subject}.{flag}, so no route "
                            "needs to open it", f"{at}/opens/{k}")
            routes.append(Route(r["route"], r["rule"], tuple(r["opens"]) if "opens" in r else None, r.get("reading")))
        granting = {x.rule for x in routes}
        for k, rule in enumerate(rules_raw):
            if rule.get("asserts") == flag and rule["subject"] == subject and rule["id"] not in granting:
                b.error("policy.status_route", f"rule {rule['id']!r} asserts {subject}.{flag}, the flag of status "
                        f"{raw['id']}, but is none of its routes: name it as a route, or let it assert another flag",
                        f"/rules/{k}/asserts")
        for j, rid in enumerate(raw.get("ended_by") or ()):
            if rid not in ids:
                b._unknown("rule", rid, ids, f"{pointer}/ended_by/{j}")
            elif rules_raw[ids[rid]]["decides"] != "revoked" or rules_raw[ids[rid]]["subject"] != subject:
                b.error("policy.status_end", f"rule {rid!r} must be a {subject} rule that decides revoked to end the "
                        "status", f"{pointer}/ended_by/{j}")
        out.append(Status(raw["id"], flag, subject, raw.get("label", flag), raw["stated"]["granted"], raw["stated"]["ended"],
                          tuple(routes), tuple(raw.get("ended_by") or ()), raw.get("after_end", "stated"),
                          raw.get("reading")))
    return out


def build_facts_checks(b: Builder, compiler: Compiler, data: dict) -> List[FactsCheck]:
    out: List[FactsCheck] = []
    for i, raw in enumerate(data.get("facts_checks") or ()):
        pointer = f"/facts_checks/{i}"
        compiled = compiler.compile(raw["test"], pointer + "/test", compiler.scope_for(raw["subject"]), BOOL, "condition")
        if raw["field"] not in compiler.kinds[raw["subject"]]:
            b.error("policy.unknown_field", f"{raw['subject']}.{raw['field']} is not a field of the facts",
                    pointer + "/field")
        if compiled is not None:
            out.append(FactsCheck(raw["id"], raw["subject"], compiled, raw["field"], raw["message"], raw.get("hint")))
    return out


def compile_rule(compiler: Compiler, b: Builder, r: dict, i: int, producers: Dict[Tuple[str, str], List[str]],
                  opened: Optional[Dict[Tuple[str, str], Status]] = None) -> Dict[str, Any]:
    with compiler.reading() as reads:
        part = _rule_parts(compiler, b, r, i, producers, opened, reads)
    part["reads"] = frozenset(reads)
    return part


def _rule_parts(compiler: Compiler, b: Builder, r: dict, i: int, producers: Dict[Tuple[str, str], List[str]],
                opened: Optional[Dict[Tuple[str, str], Status]], reads: set) -> Dict[str, Any]:
    pointer = f"/rules/{i}"
    subject = r["subject"]
    scope = compiler.scope_for(subject)

    requires: List[Requirement] = []
    for j, text in enumerate(r.get("requires") or ()):
        holder, flag = text.split(".", 1)
        rp = f"{pointer}/requires/{j}"
        if holder not in SUBJECT_SCOPE[subject]:
            b.error("policy.requires", f"a {subject} rule can require facts of {' or '.join(SUBJECT_SCOPE[subject])}, not {holder}", rp)
        elif (holder, flag) not in producers:
            known = [f"{k}.{f}" for (k, f) in producers]
            near = difflib.get_close_matches(text, known, n=1)
            b.error("policy.requires", f"no rule asserts {text}", rp, f"did you mean {near[0]!r}?" if near else None)
        else:
            status = (opened or {}).get((holder, flag))
            routes: Optional[FrozenSet[str]] = None
            if status is not None:
                open_to = frozenset(x.route for x in status.routes if x.opens is None or r["id"] in x.opens)
                routes = None if len(open_to) == len(status.routes) else open_to
            requires.append(Requirement(holder, flag, text, routes))
            reads.add((holder, flag))
    if r.get("asserts") and r["decides"] not in ("certified", "revoked"):
        b.warn("policy.asserts", f"rule asserts {r['asserts']} though it decides {r['decides']}", pointer + "/asserts")

    each = r.get("each")
    item_type: Optional[T] = None
    source: Optional[CompiledExpr] = None
    if each:
        source = compiler.compile(each["in"], f"{pointer}/each/in", scope, what="`each: in`")
        if source is not None:
            if source.type.name != "list":
                compiler.error("expr.type", f"`each: in` must give a list, got {source.type}", f"{pointer}/each/in",
                               source.ast, each["in"])
            else:
                item_type = source.type.arg
    item_var = each["as"] if each else None
    if item_var and item_var in scope.names:
        b.error("policy.shadowed_name", f"`as: {item_var}` hides the name {item_var} of the rule's subject", f"{pointer}/each/as")
    item_scope = scope.child(**({each["as"]: item_type or ANY} if each else {}))
    item_scope.item_var = item_var

    lets: List[Tuple[str, CompiledExpr]] = []
    for name, text in (r.get("let") or {}).items():
        lp = f"{pointer}/let/{name}"
        if name in item_scope.names:
            b.error("policy.shadowed_name", f"let {name} hides a name already in use", lp)
            continue
        compiled = compiler.compile(text, lp, item_scope, what="let")
        # a let that did not compile is kept as None (a name that reads it gives None, not a second error)
        scope.lets[name] = compiled
        if compiled is not None:
            uses = any(isinstance(n, X.Name) and (n.parts[0] == item_var or scope.let_uses_item.get(n.parts[0]))
                       for n in X.walk(compiled.ast))
            scope.let_uses_item[name] = bool(each) and uses
            lets.append((name, compiled))

    when = _conditions(compiler, r.get("when"), f"{pointer}/when", scope)
    compiled_each = None
    if each:
        where = _conditions(compiler, each.get("where"), f"{pointer}/each/where", item_scope)
        limit = None
        if each.get("limit"):
            limit = compiler.compile(each["limit"], f"{pointer}/each/limit", scope, NUMBER, "limit")
        if source is not None:
            compiled_each = CompiledEach(source, each["as"], tuple(where), limit)
    amount = None
    if r.get("amount"):
        amount = compiler.compile(r["amount"], f"{pointer}/amount", item_scope if each else scope, NUMBER, "amount")
    return dict(
        index=i, id=r["id"], clause=r["clause"], label=r.get("label", r["id"]), subject=subject,
        decides=r["decides"], asserts=r.get("asserts"), requires=tuple(requires), when=tuple(when),
        lets=tuple(lets), each=compiled_each, amount=amount, fund=r.get("fund"),
        pointer=pointer, origin=b.doc.locate(pointer).file, note=r.get("note"), reading=r.get("reading"),
    )
