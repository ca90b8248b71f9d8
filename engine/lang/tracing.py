"""The tracer: how an evaluation tells what it read, passed explicitly to the code that evaluates.

An expression evaluated for a trace reports each value it read (a name, a parameter, a count) to a
:class:`Tracer`; a let or a computed value is captured on its own (:meth:`Tracer.open` /
:meth:`Tracer.close`) and replayed into every expression that uses it. When no trace is wanted the
tracer is :data:`NULL`, whose methods do nothing, and the rule's generated function (which reports
nothing at all) is what runs; a rule is evaluated again with a :class:`Recorder` only when its result
becomes a decision (evaluation is deterministic), so events are built for decisions only.

The set of methods is closed, as OPA's ``topdown`` tracer is: ``enabled``, ``value``, ``param``,
``open``, ``close``, ``replay``.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Protocol, Sequence, Tuple

from .expr import Comprehension, Name, Node
from .printing import names_within, substitute, unparse


class Capture:
    """What one expression (or a let, or a computed value) read: (node, value) pairs and parameter uses, as told.
    What a trace shows of them (each node's value, the names read, each use once) is worked out when first asked:
    most captures are written as data, and some never are."""

    __slots__ = ("seen", "params", "_values", "_named", "_uses")

    def __init__(self, seen: Optional[Sequence[Any]], params: Sequence[Any]) -> None:
        self.seen = seen  # None: values are not kept here (inside a count or a sum)
        self.params = params  # ParamUse and Derived records, repeats included
        self._values: Optional[Dict[int, Any]] = None
        self._named: Optional[Tuple[Tuple[str, Any], ...]] = None
        self._uses: Optional[tuple] = None

    def values(self) -> Dict[int, Any]:
        """The value each node evaluated to, first seen first, keyed by the node's identity (hashing a tree node
        would hash its subtree)."""
        if self._values is None:
            self._values = {id(node): value for node, value in reversed(self.seen or ())}
        return self._values

    def named(self) -> Tuple[Tuple[str, Any], ...]:
        """(name or count as written, value) for each name and count read, once each, in the order read."""
        if self._named is None:
            out: Dict[str, Any] = {}
            for node, value in self.seen or ():
                cls = node.__class__
                if cls is Name:
                    text = node.dotted
                elif cls is Comprehension:
                    text = unparse(node)
                else:
                    continue
                if text not in out:
                    out[text] = value
            self._named = tuple(out.items())
        return self._named

    def shown(self, tree: Any, without: Any = None) -> Tuple[Tuple[str, Any], ...]:
        """(name or count as written, value) for each name and count of ``tree`` it read (less the node ``without``),
        once each, in the order read (the first value seen of each): with the parameter values it used
        (:meth:`uses`), what ``tree`` printed with its values shows, as data. A let or a computed value ``tree``
        reads is shown by its name: what the let read is its own."""
        seen = self.seen
        if not seen:
            return ()
        texts = names_within(tree).get
        out: Dict[str, Any] = {}
        for node, value in seen:
            text = texts(id(node))
            if text is not None and text not in out and node is not without:
                out[text] = value
        return tuple(out.items())

    def uses(self) -> tuple:
        """Each parameter value and computed value it built on, once, in the order used."""
        if self._uses is None:
            out, keys = [], set()
            for use in self.params:
                key = use.identity
                if key not in keys:
                    keys.add(key)
                    out.append(use)
            self._uses = tuple(out)
        return self._uses


_EMPTY = Capture((), ())


class Tracer(Protocol):
    enabled: bool

    def value(self, node: Any, value: Any) -> Any:
        """An expression node evaluated to ``value``; returns ``value`` (generated code reads a name through it)."""

    def param(self, use: Any) -> None:
        """A parameter consulted (a ParamUse), or a computed value built on (a Derived)."""

    def open(self, values: Optional[bool] = None) -> None:
        """Start capturing apart: a let (``values=None``: values are kept if they are kept outside), a computed value
        (``True``: always kept, for its own line), the inside of a count or a sum (``False``: only the parameters
        consulted are kept)."""

    def close(self) -> Capture:
        """End the capture :meth:`open` started and return it."""

    def replay(self, capture: Capture) -> None:
        """Report again, into the current capture, what an earlier capture read."""


class NullTracer:
    """The tracer when no trace is wanted: reports go nowhere."""

    __slots__ = ()
    enabled = False

    def value(self, node: Any, value: Any) -> Any:
        return value

    def param(self, use: Any) -> None:
        pass

    def open(self, values: Optional[bool] = None) -> None:
        pass

    def close(self) -> Capture:
        return _EMPTY

    def replay(self, capture: Capture) -> None:
        pass


NULL = NullTracer()


class Recorder:
    """A tracer that keeps what it is told, one capture per open expression."""

    __slots__ = ("_stack", "_seen", "_params")
    enabled = True

    def __init__(self) -> None:
        self._stack: List[Tuple[Optional[list], list]] = []
        self._seen: Optional[list] = []
        self._params: list = []

    def value(self, node: Any, value: Any) -> Any:
        if self._seen is not None:
            self._seen.append((node, value))
        return value

    def param(self, use: Any) -> None:
        self._params.append(use)

    def open(self, values: Optional[bool] = None) -> None:
        self._stack.append((self._seen, self._params))
        keep = self._seen is not None if values is None else values
        self._seen = [] if keep else None
        self._params = []

    def close(self) -> Capture:
        captured = Capture(self._seen, self._params)
        self._seen, self._params = self._stack.pop()
        return captured

    def replay(self, capture: Capture) -> None:
        if self._seen is not None and capture.seen:
            self._seen.extend(capture.seen)
        self._params.extend(capture.params)

    def take(self) -> Capture:
        """What the top-level expression read since the last take (and start afresh)."""
        captured = Capture(self._seen or [], self._params)
        self._seen, self._params = [], []
        return captured


class Substituted:
    """An expression printed with the values it saw (a :class:`Capture`'s, less the node ``without`` itself: a let
    prints with its parts in place, not as its own value), worked out once, when a view first asks for it."""

    __slots__ = ("ast", "capture", "without", "_text")

    def __init__(self, ast: Node, capture: Capture, without: Optional[Node] = None) -> None:
        self.ast, self.capture, self.without = ast, capture, without
        self._text: Optional[str] = None

    def __str__(self) -> str:
        if self._text is None:
            values = self.capture.values()
            if self.without is not None and id(self.without) in values:
                values = dict(values)
                del values[id(self.without)]
            self._text = substitute(self.ast, values)
        return self._text

    def shown(self) -> Tuple[Tuple[str, Any], ...]:
        """The values the text shows, as data (:meth:`Capture.shown`)."""
        return self.capture.shown(self.ast, self.without)


class Seen:
    """What a recording variant kept of an expression (:mod:`.expression_code`): each name and count as written,
    with the first value read (lets' marks aside); shown as :meth:`Substituted.shown` shows a traced one."""

    __slots__ = ("values",)

    def __init__(self, values: Dict[Any, Any]) -> None:
        self.values = values

    def shown(self) -> Tuple[Tuple[str, Any], ...]:
        return tuple((text, value) for text, value in self.values.items() if text.__class__ is str)

    def __str__(self) -> str:
        return ", ".join(f"{text} = {value}" for text, value in self.shown())


class ShowsValues:
    """A trace record that shows an expression with the values it saw: ``substituted``, kept as text or as a
    :class:`Substituted` printed on first read."""

    __slots__ = ()
    _substituted: Any

    @property
    def substituted(self) -> str:
        """The expression with the values it saw in place of the names and calls that gave them."""
        text = self._substituted
        return text if text.__class__ is str else str(text)  # a Substituted prints once, and keeps what it read

    @property
    def shown(self) -> Tuple[Tuple[str, Any], ...]:
        """(node as written, value) for each value the expression read: what ``substituted`` shows, as data (none
        for a record that was given its text only)."""
        text = self._substituted
        return () if text.__class__ is str else text.shown()  # a Substituted, or a recording variant's Seen


class Reads:
    """A trace record of an expression's evaluation: the names it read and the parameter and computed values it
    built on, from its :class:`Capture` (``_capture``) when a view asks."""

    __slots__ = ()
    _capture: Capture

    @property
    def seen(self) -> Tuple[Tuple[str, Any], ...]:
        """(name as written, value) for each name and count read, once each."""
        return self._capture.named()

    @property
    def params(self) -> tuple:
        """Each parameter value (ParamUse) and computed value (Derived) it built on, once each."""
        return self._capture.uses()

    @property
    def told(self) -> Sequence[Any]:
        """The same, repeats included, as they were told (for a view that lists each once per decision anyway)."""
        return self._capture.params
