"""A decisions file as ``verify`` reads it, a member at a time: the members other than the decisions (each with its
text and place, so a problem is located as the whole-file reading would locate it), the schema's parts a streamed file
is checked against, and the shape of a file whose header is already wrong."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .. import schemas
from ..problems import Location, Problem
from ..validation import fast_valid, schema_problems
from ._decisions_reader import DecisionsReader, locate_in

#: A problem at a pointer of the decisions file: (code, message, pointer) -> the problem, located
ProblemAt = Callable[[str, str, str], Problem]


class Member:
    __slots__ = ("value", "text", "at", "key_at")

    def __init__(self, value: Any, text: str, at: Location, key_at: Location):
        self.value, self.text, self.at, self.key_at = value, text, at, key_at


class Members:
    """The top-level members other than the decisions (each with its text and place), and the decisions' place."""

    def __init__(self, path: str):
        self.path = path
        self.found: Dict[str, Member] = {}
        self.decisions_at: Optional[Location] = None

    def get(self, key: str, default: Any = None) -> Any:
        member = self.found.get(key)
        return default if member is None else member.value

    def data(self) -> dict:
        return {key: m.value for key, m in self.found.items()}

    def locate(self, pointer: str) -> Location:
        """Where ``pointer`` stands in the file, as the whole-file reading would say (a collection at its key)."""
        if not pointer:
            return Location(self.path, 1, 1)
        head, _, rest = pointer[1:].partition("/")
        key = head.replace("~1", "/").replace("~0", "~")
        if key == "decisions":
            return self.decisions_at or Location(self.path, 1, 1)
        member = self.found.get(key)
        if member is None:
            return Location(self.path, 1, 1)
        if not rest:
            return member.key_at if isinstance(member.value, (dict, list)) else member.at
        return locate_in(member.text, member.at, "/" + rest)


class Located:
    """One value of the file, for :func:`subsidy_rules.validation.schema_problems`: its data, and where a pointer
    inside it stands."""

    def __init__(self, data: Any, text: str, at: Location, prefix: str, key_at: Optional[Location] = None):
        self.data, self.text, self.at, self.prefix, self.key_at = data, text, at, prefix, key_at

    def locate(self, pointer: str) -> Location:
        if not pointer and self.key_at is not None:
            return self.key_at
        return locate_in(self.text, self.at, pointer)

    def problems(self, schema: dict) -> List[Problem]:
        return [dataclasses.replace(p, pointer=self.prefix + p.pointer) for p in schema_problems(self, schema, "verify")]


class Header(Located):
    """The members other than the decisions, as one value, located member by member."""

    def __init__(self, members: Members):
        super().__init__(members.data(), "", Location(members.path), "")
        self.members = members

    def locate(self, pointer: str) -> Location:
        return self.members.locate(pointer)


def schema_parts() -> Dict[str, dict]:
    """The schema's parts a streamed file is checked against: its header, a decision (by trace mode), its totals."""
    found = _SCHEMAS.get("root")
    if found is not schemas.load("decisions"):
        root = schemas.load("decisions")
        header = dict(root, required=[k for k in root["required"] if k not in ("decisions", "totals")])
        header["properties"] = {k: v for k, v in root["properties"].items() if k not in ("decisions", "totals")}
        header.pop("allOf", None)
        header["allOf"] = [{"if": {"required": ["run"], "properties": {"run": {"required": ["trace"], "properties": {
            "trace": {"const": "data"}}}}}, "then": {"required": ["dictionary"]}}]
        defs = {"$defs": root["$defs"]}
        trace = {"data": {"properties": {"trace": {"$ref": "#/$defs/trace_data"}}},
                 "lines": {"properties": {"trace": {"$ref": "#/$defs/trace_lines"}}},
                 None: {"not": {"required": ["trace"]}}}
        _SCHEMAS.clear()
        _SCHEMAS.update({"root": root, "header": header, "totals": dict(root["properties"]["totals"], **defs)})
        for mode, constraint in trace.items():
            _SCHEMAS[f"decision:{mode}"] = dict(defs, allOf=[{"$ref": "#/$defs/decision"}, constraint])
    return _SCHEMAS


_SCHEMAS: Dict[Any, dict] = {}


def trace_mode(run_info: dict) -> Optional[str]:
    trace = run_info.get("trace", True)
    if trace is True:
        return "lines"  # written before traces could be data
    return trace if trace in ("data", "lines") else None


def needs_ledger(members: Members, problem: ProblemAt) -> Problem:
    ledger = members.get("ledger")
    url = ledger.get("url") if isinstance(ledger, dict) else None
    return problem("verify.needs_ledger", f"this run took its history from the ledger {url}; verify it with --ledger URL",
                   "/ledger")


def decisions_after(reader: DecisionsReader) -> Iterator[Tuple[str, Location]]:
    """The members up to the decisions are read; yields the members after them, as (key, where)."""
    keys = reader.members()
    for key, key_at in keys:
        if key == "decisions":
            break
        reader.skip()
    return keys


def count_decisions(path: str) -> int:
    with DecisionsReader(path) as reader:
        decisions_after(reader)
        return sum(1 for _ in reader.items())


def shape_only(path: str, parts: dict, mode: Optional[str]) -> List[Problem]:
    """Every shape problem of the decisions and totals of a file whose header is already wrong."""
    out: List[Problem] = []
    with DecisionsReader(path) as reader:
        rest = decisions_after(reader)
        if reader.peek() != "[":
            return out
        for i, (value, text, at) in enumerate(reader.items()):
            if not fast_valid(parts[f"decision:{mode}"], value):
                out.extend(Located(value, text, at, f"/decisions/{i}").problems(parts[f"decision:{mode}"]))
        for key, key_at in rest:
            value, text, at = reader.value()
            if key == "totals" and not fast_valid(parts["totals"], value):
                out.extend(Located(value, text, at, "/totals", key_at).problems(parts["totals"]))
    return out
