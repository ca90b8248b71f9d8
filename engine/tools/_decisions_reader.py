"""A decisions document read one value at a time, in bounded memory, with the place each value starts.

The top-level object's members are read in the order they stand; the ``decisions`` list one decision at a
time, each with its text exactly as the file has it and its ``line:col``, so a difference is reported at
its place without holding the file. Values are decoded by the project's strict JSON decoder
(:func:`subsidy_rules.source.json_decoder`: numbers from their text, a repeated key refused) and checked
against the input limits. A problem stops the reading with :class:`ReadProblem`, located.
"""
from __future__ import annotations

import codecs
import json
import re
from typing import Any, Iterator, Optional, Tuple

from ..limits import LIMITS
from ..problems import InputFault, Location
from ..source import DuplicateKey, json_decoder, value_problems

_SPACE = re.compile(r"[ \t\n\r]*")


def _after_space(text: str, pos: int) -> int:
    """Where the white space at ``pos`` ends (the pattern matches the empty string: it always matches)."""
    match = _SPACE.match(text, pos)
    assert match is not None
    return match.end()


class ReadProblem(InputFault):
    """The file is not a JSON document this reader can go on with: a code, a message and where."""

    def __init__(self, code: str, message: str, location: Location):
        super().__init__(message)
        self.code, self.message, self.location = code, message, location


class DecisionsReader:
    """``{"policy": …, "decisions": [ … ], "totals": …}`` read a member, and a decision, at a time."""

    CHUNK = 1 << 20
    MAX_VALUE = 64 * 1024 * 1024  # a value still not whole at this size is reported where the decoder stopped

    def __init__(self, path: str):
        self.path = path
        self.fh = open(path, "rb")
        self.text = ""
        self.pos = 0
        self.eof = False
        self.utf8 = codecs.getincrementaldecoder("utf-8-sig")()
        self.decoder = json_decoder()
        # where text[counted] stands in the file: its line, and the offset in text just after that line's start
        self.counted = 0
        self.line = 1
        self.line_start = 0  # offset in text of the current line's first character (may be negative: trimmed)

    def close(self) -> None:
        self.fh.close()

    def __enter__(self) -> "DecisionsReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the buffer ------------------------------------------------------------------------------------------------

    def _more(self) -> bool:
        if self.eof:
            return False
        block = self.fh.read(self.CHUNK)
        try:
            added = self.utf8.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            raise ReadProblem("file.encoding", f"not UTF-8 text ({exc.reason})", self.location(self.pos)) from None
        self.eof = not block
        if not block:  # the end: the buffer stays as it is, so places in it still hold
            self.text += added
            return bool(added)
        self._count(self.pos)
        cut = self.pos
        self.text = self.text[cut:] + added
        self.pos -= cut
        self.counted -= cut
        self.line_start -= cut
        return bool(block)

    def _count(self, upto: int) -> None:
        if upto > self.counted:
            newlines = self.text.count("\n", self.counted, upto)
            if newlines:
                self.line += newlines
                self.line_start = self.text.rfind("\n", self.counted, upto) + 1
            self.counted = upto

    def location(self, pos: int) -> Location:
        """The line and column (from 1, in characters) of offset ``pos`` of the buffer."""
        if pos < self.counted:  # behind what was counted: count back
            line = self.line - self.text.count("\n", pos, self.counted)
            return Location(self.path, line, pos - (self.text.rfind("\n", 0, pos) + 1) + 1)
        self._count(pos)
        return Location(self.path, self.line, pos - self.line_start + 1)

    def _next_char(self) -> str:
        while True:
            self.pos = _after_space(self.text, self.pos)
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._more():
                return ""

    def _syntax(self, message: str) -> ReadProblem:
        return ReadProblem("json.syntax", f"not valid JSON: {message}", self.location(self.pos))

    def expect(self, allowed: str) -> str:
        found = self._next_char()
        if not found or found not in allowed:
            wanted = " or ".join(repr(c) for c in allowed)
            raise self._syntax(f"expecting {wanted}" + (f", found {found!r}" if found else " before the end of the file"))
        self.pos += 1
        return found

    def peek(self) -> str:
        return self._next_char()

    # --- values ----------------------------------------------------------------------------------------------------

    def value(self) -> Tuple[Any, str, Location]:
        """The next value, its text as the file has it, and where it starts."""
        self._next_char()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.text) - self.pos <= self.MAX_VALUE and self._more():
                    continue
                raise ReadProblem("json.syntax", f"not valid JSON: {exc.msg}", self.location(exc.pos)) from None
            except DuplicateKey as exc:
                raise ReadProblem("json.duplicate_key", f"duplicate key {exc.args[0]!r}", self.location(self.pos)) from None
            except RecursionError:
                raise ReadProblem("input.too_deep", f"nested more than {LIMITS.max_depth} levels deep",
                                  self.location(self.pos)) from None
            except ValueError as exc:  # an integer too long to convert, NaN or Infinity
                raise ReadProblem("json.syntax", f"not valid JSON: {exc}", self.location(self.pos)) from None
            if end == len(self.text) and not self.eof and self.text[self.pos] not in "{[\"":
                self._more()  # a number may go on in the next chunk: decode it again whole
                continue
            start = self.pos
            where = self.location(start)
            self.pos = end
            found = value_problems(value, "", LIMITS)
            if found:
                code, message, _pointer = found[0]
                raise ReadProblem(code, message, where)
            return value, self.text[start:end], where

    def take(self, expected: str) -> Optional[Location]:
        """If the next value is exactly the text ``expected`` (followed by a comma or the end of its list), read past
        it without decoding it and return where it starts; else None, and nothing is read."""
        self._next_char()
        while len(self.text) - self.pos < len(expected) + 64 and self._more():
            pass
        start = self.pos
        if not self.text.startswith(expected, start):
            return None
        end = start + len(expected)
        after = _after_space(self.text, end)
        if after >= len(self.text) or self.text[after] not in ",]":
            return None
        where = self.location(start)
        self.pos = end
        return where

    def members(self) -> Iterator[Tuple[str, Location]]:
        """Each key of the top-level object with where it stands, the reader then at its value, which the caller
        reads (:meth:`value` or :meth:`items`) before asking for the next."""
        self.expect("{")
        if self.peek() == "}":
            self.expect("}")
            self.end()
            return
        seen = set()
        while True:
            if self.peek() != '"':
                raise self._syntax("expecting a key in double quotes")
            key, _text, where = self.value()
            if key in seen:
                raise ReadProblem("json.duplicate_key", f"duplicate key {key!r}", where)
            seen.add(key)
            self.expect(":")
            yield key, where
            if self.expect(",}") == "}":
                self.end()
                return

    def items(self) -> Iterator[Tuple[Any, str, Location]]:
        """Each item of the list the reader stands at: (value, its text, where it starts)."""
        self.expect("[")
        if self.peek() == "]":
            self.expect("]")
            return
        while True:
            yield self.value()
            if self.expect(",]") == "]":
                return

    def skip(self) -> None:
        """Read past the value the reader stands at: a list an item at a time."""
        if self.peek() == "[":
            for _ in self.items():
                pass
        else:
            self.value()

    def end(self) -> None:
        if self._next_char():
            raise self._syntax("text after the document")


def locate_in(text: str, start: Location, pointer: str) -> Location:
    """Where ``pointer`` (relative to the value whose ``text`` starts at ``start``) stands in the file: the value
    is parsed again with positions (only when a problem needs one)."""
    from ..problems import InvalidInput
    from ..source import read_text

    try:
        positions = read_text(start.file, text).positions or {}  # read_text always locates
    except InvalidInput as exc:
        positions = exc.positions or {}
    p = pointer
    while True:
        loc = positions.get(p)
        if loc is not None or not p:
            break
        p = p.rsplit("/", 1)[0]
    if loc is None:
        return start
    if loc.line == 1:
        return Location(start.file, start.line, start.col + loc.col - 1)
    return Location(start.file, start.line + loc.line - 1, loc.col)
