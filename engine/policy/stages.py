"""Building a policy: a named list of stages (:data:`STAGES`) over one explicit state (:class:`_Build`), as OPA's
compiler passes its state from stage to stage. A stage that finds what the later ones cannot work on stops the
build; every problem found up to there is reported at once.
"""
from __future__ import annotations

import dataclasses
import hashlib
from decimal import Decimal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Tuple

from .. import schemas

from ..lang.codegen import CodegenInfo
from ..lang.compiled import CompiledRule
from ..lang.compiler import Compiler
from ..lang.strata import stratify
from .history import build_settings as build_ledger_settings
from ..facts.model import NUMBER, record_kinds
from .labels import label_problems
from .parameters import Parameter
from .model import Clause, ComputedValue, ExclusivityGroup, FactsCheck, Policy, Status, Vocabulary
from ..problems import WARNING, Problem
from ..source import Document
from ..validation import schema_problems

from .parts import (Builder, Kinds, build_facts_checks, build_statuses, compile_rule, never_fires, parse_date,
                    with_code)

if TYPE_CHECKING:
    from .history import LedgerSettings


@dataclass
class _Build:
    """What the stages of :func:`build_policy` share, each filling in its part (as OPA's compiler passes its state
    from stage to stage): the document, the problems found so far, and what each stage built."""

    doc: Document
    files: Tuple[Tuple[str, str], ...]
    problems: List[Problem] = dataclasses.field(default_factory=list)
    stopped: bool = False  # a stage found what the stages after it cannot work on
    # the Builder that files the problems of the checks (made by the stage pieces)
    b: Builder = dataclasses.field(init=False, repr=False)
    kinds: Kinds = dataclasses.field(default_factory=dict)  # the facts' record kinds and fields
    clauses: Dict[str, Clause] = dataclasses.field(default_factory=dict)
    vocabs: Dict[str, Vocabulary] = dataclasses.field(default_factory=dict)
    by_field: Dict[Tuple[str, str], Vocabulary] = dataclasses.field(default_factory=dict)
    sets: Dict[str, frozenset] = dataclasses.field(default_factory=dict)
    parameters: Dict[str, Parameter] = dataclasses.field(default_factory=dict)
    ids: Dict[str, int] = dataclasses.field(default_factory=dict)  # rule id -> its index in the file
    producers: Dict[Tuple[str, str], List[str]] = dataclasses.field(default_factory=dict)  # (kind, flag) -> rules
    computed: Dict[str, Dict[str, dict]] = dataclasses.field(default_factory=dict)  # kind -> name -> definition
    compiler: Compiler = dataclasses.field(init=False, repr=False)  # made by the stage computed
    statuses: List[Status] = dataclasses.field(default_factory=list)
    parts: List[Dict[str, Any]] = dataclasses.field(default_factory=list)  # each rule compiled, in file order
    groups: List[ExclusivityGroup] = dataclasses.field(default_factory=list)
    facts_checks: List[FactsCheck] = dataclasses.field(default_factory=list)
    ledger: Optional[LedgerSettings] = None
    strata: Dict[str, int] = dataclasses.field(default_factory=dict)
    rules: Tuple[CompiledRule, ...] = ()
    origins: Dict[str, str] = dataclasses.field(default_factory=dict)
    policy: Optional[Policy] = None

    @property
    def data(self) -> dict:
        return self.doc.data

    @property
    def rules_raw(self) -> List[dict]:
        return self.data["rules"]


def _schema(st: _Build) -> None:
    """The file against the policy schema: nothing else is checked on a file of the wrong shape."""
    st.problems = schema_problems(st.doc, schemas.load("policy"), "policy")
    st.stopped = bool(st.problems)


def _pieces(st: _Build) -> None:
    """The clauses, vocabularies, sets and parameters, each checked against the facts' fields and each other."""
    st.b = Builder(st.doc)
    st.kinds = record_kinds(schemas.load("facts"))
    st.clauses = st.b.clauses()
    st.vocabs, st.by_field = st.b.vocabularies(st.kinds)
    st.sets = st.b.sets(st.vocabs)
    st.parameters = st.b.parameters(st.kinds, st.by_field, st.clauses)


def _rule_index(st: _Build) -> None:
    """Each rule's id, clause and fund, and who asserts which derived fact; every clause of kind rules cited."""
    b, clauses, data = st.b, st.clauses, st.data
    for i, r in enumerate(st.rules_raw):
        pointer = f"/rules/{i}"
        if r["id"] in st.ids:
            b.error("policy.duplicate_id", f"rule {r['id']!r} is defined twice", pointer + "/id")
        st.ids.setdefault(r["id"], i)
        if r["clause"] not in clauses:
            b._unknown("clause", r["clause"], clauses, pointer + "/clause")
        elif clauses[r["clause"]].kind == "guidance":
            b.error("policy.guidance_rule", f"clause {r['clause']} is kind guidance, so it cannot carry rules", pointer + "/clause",
                    "make the clause kind: rules")
        if r.get("fund") is not None and r["fund"] not in data["funds"]:
            b._unknown("fund", r["fund"], data["funds"], pointer + "/fund")
        if r.get("asserts"):
            st.producers.setdefault((r["subject"], r["asserts"]), []).append(r["id"])
    ruled = {r["clause"] for r in st.rules_raw}
    for c in clauses.values():
        if c.kind == "rules" and c.id not in ruled:
            b.error("policy.clause_without_rules", f"clause {c.id} is kind rules but no rule cites it", c.pointer,
                    "add its rules, or make it kind: guidance")


def _computed(st: _Build) -> None:
    """The computed values, compiled (a name of the facts may not be shadowed); the compiler the rules use."""
    for kind, defs in (st.data.get("computed") or {}).items():
        st.computed[kind] = {}
        for name, d in defs.items():
            pointer = f"/computed/{kind}/{name}/expr"
            if name in st.kinds[kind]:
                st.b.error("policy.shadowed_name", f"{kind}.{name} is already a field of the facts",
                           f"/computed/{kind}/{name}")
                continue
            st.computed[kind][name] = {"expr": d["expr"], "pointer": pointer, "label": d.get("label")}
    st.compiler = Compiler(st.doc, st.kinds, st.parameters, st.sets, st.computed, st.producers,
                           field_codes={key: vocab.codes for key, vocab in st.by_field.items()})
    for kind, defs in st.computed.items():
        for name in defs:
            st.compiler.computed_fn(kind, name)


def _statuses_stage(st: _Build) -> None:
    """The statuses a workshop holds over time, checked against the rules that grant and end them."""
    st.statuses = build_statuses(st.b, st.data, st.ids, st.rules_raw, st.kinds)


def _rules(st: _Build) -> None:
    """Every rule compiled: requirements, conditions, lets, per-item loop, amount."""
    opened = {(s.subject, s.flag): s for s in st.statuses}
    st.parts = [compile_rule(st.compiler, st.b, r, i, st.producers, opened) for i, r in enumerate(st.rules_raw)]


def _exclusivity(st: _Build) -> None:
    """The exclusivity groups, checked against their members."""
    b, ids, rules_raw, compiler = st.b, st.ids, st.rules_raw, st.compiler
    for i, g in enumerate(st.data.get("exclusivity") or ()):
        pointer = f"/exclusivity/{i}"
        for j, member in enumerate(g["members"]):
            if member not in ids:
                b._unknown("rule", member, ids, f"{pointer}/members/{j}")
            elif rules_raw[ids[member]]["decides"] != "granted":
                b.error("policy.exclusivity_member", f"rule {member!r} grants no money, so it cannot be in an exclusivity group",
                        f"{pointer}/members/{j}")
        if g["clause"] not in st.clauses:
            b._unknown("clause", g["clause"], st.clauses, pointer + "/clause")
        if g["scope"] == "worker":
            for j, member in enumerate(g["members"]):
                if member in ids and rules_raw[ids[member]]["subject"] != "worker":
                    b.error("policy.exclusivity_scope", f"group {g['id']} is scoped to a worker, but rule {member!r} "
                            f"decides about a {rules_raw[ids[member]]['subject']}", f"{pointer}/members/{j}")
        paid_before = []
        for member, text in (g.get("paid_before") or {}).items():
            at = f"{pointer}/paid_before/{member}"
            if member not in g["members"]:
                b.error("policy.exclusivity_member", f"{member!r} is not a member of group {g['id']}", at)
                continue
            compiled = compiler.compile(text, at, compiler.scope_for(g["scope"]), NUMBER, "amount paid before")
            if compiled is not None:
                paid_before.append((member, compiled))
        if g["strategy"] == "top_up" and (len(g["members"]) != 2 or g["scope"] != "workshop"):
            b.error("policy.exclusivity_strategy", "strategy top_up weighs two members of one workshop: an entitlement "
                    "paid as top-ups (listed first) and the payments it excludes", pointer + "/strategy")
        elif g.get("paid_before") and g["strategy"] != "top_up":
            b.error("policy.exclusivity_strategy", "paid_before is read only by strategy top_up", pointer + "/paid_before")
        st.groups.append(ExclusivityGroup(g["id"], g["clause"], g["scope"], tuple(g["members"]), g["strategy"],
                                          g.get("reading"), tuple(paid_before)))


def _checks_and_ledger(st: _Build) -> None:
    """The facts checks and the ledger section."""
    st.facts_checks = build_facts_checks(st.b, st.compiler, st.data)
    st.ledger = build_ledger_settings(st.data.get("ledger"), st.compiler, st.b.error, st.rules_raw, st.ids, st.clauses)


def _errors(st: _Build) -> None:
    """Stop here if anything so far is an error: what follows works on a policy that holds together."""
    st.problems = st.b.problems + st.compiler.problems
    st.stopped = any(p.severity != WARNING for p in st.problems)


def _warnings(st: _Build) -> None:
    """What is allowed but probably wrong: an unused parameter, a label that misquotes, a rule that never fires."""
    doc = st.doc
    for name in st.parameters:
        if name not in st.compiler.used_parameters:
            st.problems.append(Problem("policy.unused_parameter", f"parameter {name!r} is not used by any rule or "
                                       "computed value", f"/parameters/{name}", doc.locate(f"/parameters/{name}"),
                                       WARNING, "remove it, or retire it in a fork"))
    st.problems.extend(label_problems(doc, st.parts, st.compiler, st.parameters, st.data))
    for part in st.parts:
        contradiction = never_fires([c.expr.ast for c in part["when"]])
        if contradiction:
            pointer = f"{part['pointer']}/when"
            st.problems.append(Problem("policy.never_fires", f"rule {part['id']!r} can never fire: {contradiction}",
                                       pointer, doc.locate(pointer), WARNING))


def _strata(st: _Build) -> None:
    """The order the rules run in: a rule after the rules whose facts it reads (a cycle is an error)."""
    st.strata, cycle = stratify([{"id": part["id"], "reads": part["reads"]} for part in st.parts], st.producers)
    if cycle:
        i = st.ids[cycle[0]]
        st.problems.append(Problem("policy.cycle", "rules depend on each other's facts in a cycle: " + " -> ".join(cycle),
                                   f"/rules/{i}", st.doc.locate(f"/rules/{i}")))
        st.stopped = True


def _generate(st: _Build) -> None:
    """Each rule compiled to Python (:mod:`subsidy_rules.lang.codegen`), in agenda order: stratum, then file order."""
    rounding = _rounding(st.data)
    st.origins = {name: st.doc.locate(p.pointer).file for name, p in st.parameters.items()}
    compiler = st.compiler
    codegen = CodegenInfo(compiler.name_steps, st.sets, st.parameters, compiler.computed_asts,
                          {key: (fn, compiler.computed_shown.get(key)) for key, fn in compiler.computed_fns.items()},
                          st.origins)
    st.rules = tuple(sorted((with_code(CompiledRule(stratum=st.strata[part["id"]], **part), codegen, rounding)
                             for part in st.parts), key=lambda r: (r.stratum, r.index)))


def _assemble(st: _Build) -> None:
    """The policy, from what the stages built."""
    data, files = st.data, st.files
    settings = data.get("settings") or {}
    rounding = _rounding(data)
    st.policy = Policy(
        id=data["policy"]["id"], title=data["policy"]["title"], document=data["policy"].get("document", ""),
        path=st.doc.path, sha256=files[0][1] if len(files) == 1 else hashlib.sha256(
            "\n".join(sha for _, sha in files).encode("ascii")).hexdigest(),
        clauses=st.clauses, vocabularies=st.vocabs, field_codes=st.by_field,
        funds={k: v["label"] for k, v in data["funds"].items()}, parameters=st.parameters, sets=st.sets,
        rules=st.rules, exclusivity=tuple(st.groups), quantum=Decimal(rounding["quantum"]), rounding=rounding["mode"],
        firing_limit=settings.get("firing_limit", 100000), labels=dict(settings.get("labels") or {}),
        sources=files, ledger=st.ledger, statuses=tuple(st.statuses), facts_checks=tuple(st.facts_checks),
        in_force=parse_date(data["policy"].get("in_force")),
        computed=tuple(ComputedValue(f"{kind}.{name}", " ".join(str(d["expr"]).split()), d.get("label"), d.get("clause"))
                       for kind, defs in (data.get("computed") or {}).items() for name, d in (defs or {}).items()),
        origins=st.origins,
    )


def _rounding(data: dict) -> dict:
    return (data.get("settings") or {}).get("rounding") or {"quantum": "0.01", "mode": "ROUND_HALF_UP"}


#: The stages of building a policy, in order, each named for what it builds or checks. A stage that finds what the
#: later ones cannot work on stops the build; every problem found up to there is reported at once.
STAGES: Tuple[Tuple[str, Callable[[_Build], None]], ...] = (
    ("schema", _schema),
    ("pieces", _pieces),
    ("rule_index", _rule_index),
    ("computed", _computed),
    ("statuses", _statuses_stage),
    ("rules", _rules),
    ("exclusivity", _exclusivity),
    ("checks_and_ledger", _checks_and_ledger),
    ("errors", _errors),
    ("warnings", _warnings),
    ("strata", _strata),
    ("generate", _generate),
    ("assemble", _assemble),
)


def build_policy(doc: Document, files: Optional[Iterable[Tuple[str, str]]] = None
                 ) -> Tuple[Optional[Policy], List[Problem]]:
    """(Policy or None, problems) for a parsed (and, for a fork, merged) policy document: the :data:`STAGES` run in
    order over one shared state, until one stops the build."""
    st = _Build(doc, tuple(files or ((doc.path, hashlib.sha256(doc.text.encode("utf-8")).hexdigest()),)))
    for _name, stage in STAGES:
        stage(st)
        if st.stopped:
            return None, st.problems
    return st.policy, st.problems
