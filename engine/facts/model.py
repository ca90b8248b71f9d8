"""The facts contract as the expression language sees it, and its runtime records.

The facts schema describes workshops, their workers and loans, and each
worker's months. This module turns it into record kinds with typed fields,
adds the few fields every policy may read that are not written in the facts
(``month.start``, ``period.months``), and provides :class:`Record`, the
runtime value a compiled expression reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union

from ..lang.tracing import NULL as NO_TRACE, Capture, Seen, ShowsValues, Substituted
from ..lang.types import ANY, BOOL, DATE, NUMBER, STRING, Field, T, list_of, record  # noqa: F401 (the language's types)
from ..validation import nullable

if TYPE_CHECKING:
    from ..lang.tracing import Tracer


#: The subject kinds rules are written for, and the names their expressions can read.
SUBJECTS = ("workshop", "worker", "loan")
SUBJECT_SCOPE = {
    "workshop": ("workshop",),
    "worker": ("worker", "workshop"),
    "loan": ("loan", "workshop"),
}

#: Record kinds that hold lists of other records in the facts.
_CHILD_LISTS = {("workshop", "workers"): "worker", ("workshop", "loans"): "loan", ("worker", "months"): "month"}


def _schema_type(node: dict, root: dict) -> T:
    node = nullable(node) or node
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in ("workshop", "worker", "loan", "month"):
            return record(name)
        node = root["$defs"][name]
    if node.get("x-decimal"):
        return NUMBER
    kind = node.get("type")
    if kind in ("integer", "number"):
        return NUMBER
    if kind == "boolean":
        return BOOL
    if kind == "string":
        return DATE if node.get("format") == "date" else STRING
    if kind == "array":
        return list_of(_schema_type(node.get("items", {}), root))
    if kind == "object":
        return record("?")
    if "anyOf" in node:
        return NUMBER if node.get("x-decimal") else ANY
    return ANY


def record_kinds(facts_schema: dict) -> Dict[str, Dict[str, Field]]:
    """Every record kind the expression language knows, with its fields' types."""
    kinds: Dict[str, Dict[str, Field]] = {}

    def add(kind: str, props: dict, nested: bool) -> None:
        fields = kinds.setdefault(kind, {})
        for name, sub in props.items():
            resolved = nullable(sub) or sub
            while "$ref" in resolved and resolved["$ref"].rsplit("/", 1)[-1] not in ("workshop", "worker", "loan", "month"):
                resolved = facts_schema["$defs"][resolved["$ref"].rsplit("/", 1)[-1]]
            if resolved.get("type") == "object" and "properties" in resolved:
                inner = f"{kind}.{name}"
                add(inner, resolved["properties"], True)
                fields[name] = Field(record(inner), "fact", nested)
            elif (kind, name) in _CHILD_LISTS:
                fields[name] = Field(list_of(record(_CHILD_LISTS[(kind, name)])), "child", nested)
            else:
                fields[name] = Field(_schema_type(resolved, facts_schema), "fact", nested)

    for kind in ("workshop", "worker", "loan", "month"):
        add(kind, facts_schema["$defs"][kind]["properties"], False)
    kinds["month"]["start"] = Field(DATE, "virtual")
    kinds["calendar_month"] = {"month": Field(STRING, "virtual"), "start": Field(DATE, "virtual")}
    kinds["period"] = {
        "start": Field(DATE, "virtual"),
        "end": Field(DATE, "virtual"),
        "months": Field(list_of(record("calendar_month")), "child"),
    }
    return kinds


class Record:
    """One workshop, worker, loan, month or period, as compiled expressions read it.

    ``data`` holds the validated facts, ``children`` the records below it,
    ``flags`` the facts rules asserted about it (``certified``...), ``cache``
    the computed values already worked out for it.
    """

    __slots__ = ("kind", "id", "data", "parent", "children", "flags", "asserted_by", "routes", "cache", "values",
                 "recorded", "pointer", "ctx", "position", "_env")

    def __init__(self, kind: str, rid: str, data: dict, parent: Optional["Record"], pointer: str, position: int = 0):
        self.kind = kind
        self.id = rid
        self.data = data
        self.parent = parent
        self.children: Dict[str, Tuple["Record", ...]] = {}
        self.flags: Dict[str, bool] = {}
        self.asserted_by: Dict[str, Tuple[Tuple[str, str], ...]] = {}  # flag -> ((rule id, clause), ...)
        self.routes: Dict[str, str] = {}  # status flag -> the route it is held by
        self.cache: Dict[str, Tuple[Any, Capture]] = {}  # computed values with what they built on, for traces
        self.values: Dict[str, Any] = {}  # computed values worked out with no trace kept
        self.recorded: Dict[str, Tuple[Any, Tuple[Any, ...]]] = {}  # computed values with their uses, as data
        self.pointer = pointer
        # the evaluation's, set by it before any rule reads the record
        self.ctx: EvalContext = None  # type: ignore[assignment]
        self.position = position
        self._env: Optional[dict] = None

    def __repr__(self) -> str:
        return f"<{self.kind} {self.id}>"

    @property
    def env(self) -> dict:
        """The names this record's rules and computed values read (shared; copy before binding more)."""
        if self._env is None:
            env = {"period": self.ctx.period}
            node: Optional[Record] = self
            while node is not None:
                env.setdefault(node.kind, node)
                node = node.parent
            self._env = env
        return self._env

    def assert_flag(self, flag: str, rule_id: str, clause: str) -> bool:
        """Record that ``rule_id`` asserted ``flag`` about this record; True if the flag is new."""
        first = not self.flags.get(flag)
        self.flags[flag] = True
        self.asserted_by[flag] = self.asserted_by.get(flag, ()) + ((rule_id, clause),)
        return first

    def release(self) -> None:
        """Unlink this record's tree once its decisions are made and written: each record's parent, children,
        names, computed values and evaluation, and the same for the evaluation's period record and its months. A
        tree links to itself both ways, so without this it is freed only by the cyclic garbage collector, which
        walks every tree (and all it holds: computed values, their traces) again at each collection until it does;
        unlinked, it is freed as soon as it is no longer used. Its ids and data stay readable."""
        ctx = self.ctx
        stack = [self] if ctx is None else [self, ctx.period]  # the period record has its calendar months
        while stack:
            rec = stack.pop()
            for kids in rec.children.values():
                stack.extend(kids)
            rec.children, rec.parent, rec._env = {}, None, None
            rec.cache, rec.values, rec.recorded = {}, {}, {}
            rec.ctx = None  # type: ignore[assignment]  # released: no rule reads it again

    def workshop(self) -> "Record":
        node = self
        while node.kind != "workshop":
            node = node.parent  # type: ignore[assignment]  # a worker, loan or month always has its workshop above
        return node

    def computed(self, name: str, fn: Callable[[dict, Tracer], Any], definition: Optional["ComputedDef"] = None,
                 tracer: Optional[Tracer] = None) -> Any:
        """The computed value ``name`` of this record (``fn(env, tracer)``), worked out once. For a ``tracer`` that
        records, what it built on (parameters, and a :class:`Derived` record of its own formula with the values it
        saw) is captured once and reported again to the tracer each time the value is read."""
        if tracer is None or not tracer.enabled:
            value = self.values.get(name, _UNSET)
            if value is _UNSET:
                value = self.values[name] = fn(self.env, NO_TRACE)
            return value
        hit = self.cache.get(name)
        if hit is None:
            tracer.open(True if definition is not None else False)
            try:
                value = fn(self.env, tracer)
            finally:
                captured = tracer.close()
            used = tuple(captured.params)
            if definition is not None:
                used += (Derived(f"{self.kind}.{name}", self.ctx.label(definition.label), definition.text,
                                 Substituted(definition.ast, captured), value),)
            # Capture's params are only read (replayed): the tuple is kept as it is
            hit = (value, Capture(None, used))
            self.cache[name] = hit
            self.values.setdefault(name, value)
        tracer.replay(hit[1])  # what it built on, told again to each trace that reads it
        return hit[0]


    def computed_recorded(self, name: str, fn: Callable[[dict, Dict[Any, Any], List[Any]], Any],
                          definition: Optional["ComputedDef"], uses: List[Any]) -> Any:
        """:meth:`computed` for a recording variant (:mod:`subsidy_rules.lang.expression_code`): what it built on
        (parameters, the uses of the computed values it read, and a :class:`Derived` of its own formula with the names
        it read) is worked out once and appended to ``uses``, as one tuple, each time the value is read: a decision
        lists its uses once (:func:`subsidy_rules.views.trace_data.recorded_uses`)."""
        hit = self.recorded.get(name)
        if hit is None:
            shown: Dict[Any, Any] = {}
            used: List[Any] = []
            value = fn(self.env, shown, used)
            if definition is not None:
                used.append(Derived(f"{self.kind}.{name}", self.ctx.label(definition.label), definition.text,
                                    Seen(shown), value))
            hit = self.recorded[name] = (value, tuple(used))  # told as one block: the same tuple each read
            self.values.setdefault(name, value)
        uses.append(hit[1])
        return hit[0]


_UNSET = object()


@dataclass(frozen=True)
class ComputedDef:
    """A computed value of the policy as its trace shows it."""

    text: str
    ast: Any
    label: Optional[str]


class Derived(ShowsValues):
    """A trace record: a computed value a decision built on, with its formula and the values it saw."""

    __slots__ = ("name", "label", "formula", "_substituted", "value", "identity", "written")

    def __init__(self, name: str, label: Optional[str], formula: str, substituted: Union[str, Substituted, Seen],
                 value: Any):
        self.name = name  # e.g. worker.retirement_date
        self.label = label
        self.formula = formula
        self._substituted = substituted  # text, or a Substituted printed when first read
        self.value = value
        # what makes two uses the same in a trace: the computed value's name (a record works it out once)
        self.identity: Tuple[str] = (name,)
        self.written: Optional[Dict[str, Any]] = None  # its trace entry as data, once written (views.trace_data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Derived) and (self.name, self.label, self.formula, self.substituted, self.value) == (
            other.name, other.label, other.formula, other.substituted, other.value)

    def __hash__(self) -> int:
        return hash((self.name, self.formula))

    def __repr__(self) -> str:
        return f"Derived({self.name!r}, {self.substituted!r}, {self.value!r})"


@dataclass
class EvalContext:
    """What one evaluation shares: the period, and whether decisions carry their trace. What a rule reads is told to
    the tracer passed to it (:mod:`subsidy_rules.lang.tracing`), never kept here."""

    period: Record
    tracing: bool = True
    parameters: Optional[dict] = None  # the policy's parameters, for labels that quote them
    every_trace: bool = False  # every result becomes a decision (--why-not): each rule is evaluated traced at once
    data_only: bool = False  # decisions' traces are wanted as data only: a fired rule's is recorded in one pass

    def label(self, text: Optional[str]) -> Optional[str]:
        """A label with the parameters it quotes filled in, as in force at the period end (filled once per run: each
        workshop's evaluation has its own context, but the same parameters and period)."""
        if not text or "{" not in text or self.parameters is None:
            return text
        end = self.period.data["end"]
        key = (text, id(self.parameters), end)
        hit = _FILLED.get(key)
        if hit is None or hit[0] is not self.parameters:  # the id of parameters that are gone may be reused
            from ..policy.labels import fill_label
            if len(_FILLED) > 1_024:  # small: a long-lived cache is walked by every full garbage collection
                _FILLED.clear()
            hit = _FILLED[key] = (self.parameters, fill_label(text, self.parameters, end))
        return hit[1]


#: Labels filled in, by (label, the parameters' identity, the period end); each with the parameters it was filled from.
_FILLED: Dict[Tuple[str, int, Any], Tuple[dict, str]] = {}
