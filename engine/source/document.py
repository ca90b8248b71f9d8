"""A file read: its data, where each value came from (a JSON pointer -> file:line:col), and its text."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional

from ..problems import InvalidInput, Location

if TYPE_CHECKING:
    from yaml.error import Mark


@dataclass(frozen=True)
class Document:
    """A parsed file: its data, where each value came from, and its text."""

    path: str
    text: str
    data: Any
    positions: Optional[Dict[str, Location]]  # None: worked out from the text when first asked for
    sources: Optional[Dict[str, str]] = None  # path -> text, for a document merged from several files

    def locate(self, pointer: str) -> Location:
        """The location of ``pointer``, or of its nearest located ancestor."""
        positions: Dict[str, Location]
        if self.positions is None:  # read fast without positions; find them now that someone asks
            try:
                from .yaml_text import read_text
                positions = read_text(self.path, self.text).positions or {}  # read_text always locates
            except InvalidInput as exc:  # still located, unless YAML cannot read it at all (a \\u escape it refuses)
                positions = exc.positions or {}
            object.__setattr__(self, "positions", positions)
        else:
            positions = self.positions
        p = pointer
        while True:
            loc = positions.get(p)
            if loc is not None:
                return loc
            if not p:
                return Location(self.path, 1, 1)
            p = p.rsplit("/", 1)[0]

    def line(self, n: int, file: Optional[str] = None) -> str:
        """Line ``n`` of this document's file, or of ``file`` if the document was merged from several."""
        text = self.text if file in (None, self.path) else (self.sources or {}).get(file, "")
        lines = text.splitlines()
        return lines[n - 1] if 0 < n <= len(lines) else ""


def mark_location(path: str, mark: Optional[Mark]) -> Location:
    if mark is None:
        return Location(path, 0, 0)
    return Location(path, mark.line + 1, mark.column + 1)


def expression_location(doc: Optional[Document], pointer: str, offset: int, line_in_expr: int = 1) -> Location:
    """Best location of character ``offset`` (0-based) on line ``line_in_expr`` of the expression at ``pointer``.

    Exact for plain and quoted one-line scalars and for block scalars.
    """
    if doc is None:
        return Location()
    loc = doc.locate(pointer)
    first = doc.line(loc.line, loc.file)[loc.col - 1:loc.col] if loc.col else ""
    if first in ("|", ">"):
        body = doc.line(loc.line + line_in_expr, loc.file)
        indent = len(body) - len(body.lstrip(" "))
        return Location(loc.file, loc.line + line_in_expr, indent + offset + 1)
    if first in ("'", '"'):
        offset += 1
    if line_in_expr > 1:
        return Location(loc.file, loc.line + line_in_expr - 1, offset + 1)
    return Location(loc.file, loc.line, loc.col + offset)
