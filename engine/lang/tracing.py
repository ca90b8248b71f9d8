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

from typing import Any, List, Optional, Protocol, Tuple


class Capture:
    """What one expression (or a let, or a computed value) read: (node, value) pairs and parameter uses."""

    __slots__ = ("seen", "params")

    def __init__(self, seen: Optional[list], params: list):
        self.seen = seen  # None: values are not kept here (inside a count or a sum)
        self.params = params


_EMPTY = Capture((), ())


class Tracer(Protocol):
    enabled: bool

    def value(self, node: Any, value: Any) -> None:
        """An expression node evaluated to ``value``."""

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

    def value(self, node, value) -> None:
        pass

    def param(self, use) -> None:
        pass

    def open(self, values: Optional[bool] = None) -> None:
        pass

    def close(self) -> Capture:
        return _EMPTY

    def replay(self, capture) -> None:
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

    def value(self, node, value) -> None:
        if self._seen is not None:
            self._seen.append((node, value))

    def param(self, use) -> None:
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
