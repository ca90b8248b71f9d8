"""Where the period and each workshop stand in a JSON facts file, found without decoding them.

A facts document is ``{"period": {…}, "workshops": [{…}, …]}``. The scanner reads the file a block at a
time and finds the byte range of the period and of each workshop, so that each can be decoded on its own
(:mod:`subsidy_rules.facts.typed`), here or in a worker process that reads its own ranges of the file.
Memory is bounded by the largest workshop, not by the file.

The end of a value is found by msgspec, in C: asked to read the buffer from the value's first byte as one
JSON value, it reads that value and then says where the next one starts ("trailing characters (byte N)")
or that the buffer ends inside it (then a larger block is read). Its word is only a hint: the value is
then decoded from exactly that range, which succeeds only if the range holds exactly one value.

Anything but the expected shape (another top-level key, the period after the workshops, a key written
with an escape, text after the document, bytes that are not JSON) raises :class:`ScanStopped`: the
thorough path then reads the file whole and reports what is wrong with its location.
"""
from __future__ import annotations

import re
from typing import Callable, Iterator, Optional, Tuple

from ..problems import InputFault

_SPACE = re.compile(rb"[ \t\r\n]*")
_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)$")
_BOM = b"\xef\xbb\xbf"


class ScanStopped(InputFault):
    """The file is not a facts document of the expected shape; the thorough path says what is wrong."""


class FactsScan:
    """The byte ranges of a JSON facts file's period and workshops, read in order, once."""

    BLOCK = 1 << 20
    MAX_VALUE = 256 * 1024 * 1024  # one workshop larger than this is left to the whole-file path

    def __init__(self, path: str, progress: Optional[Callable[[int], None]] = None,
                 on_block: Optional[Callable[[bytes], None]] = None):
        """``progress`` is told how many bytes each block read holds; ``on_block`` is given each block (to hash it)."""
        import msgspec

        self._raw = msgspec.json.Decoder(msgspec.Raw).decode
        self._decode_error = msgspec.DecodeError
        self.fh = open(path, "rb")
        self.progress = progress
        self.on_block = on_block
        self.buf = b""
        self.base = 0  # the file offset of buf[0]
        self.pos = 0
        self.eof = False
        self._members = self._top()

    def close(self) -> None:
        self.fh.close()

    def __enter__(self) -> "FactsScan":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------------------
    def _more(self, at_least: int = 0) -> bool:
        if self.eof:
            return False
        block = self.fh.read(max(self.BLOCK, at_least))
        if self.progress is not None and block:
            self.progress(len(block))
        if self.on_block is not None and block:
            self.on_block(block)
        self.eof = not block
        self.base += self.pos
        self.buf = self.buf[self.pos:] + block
        self.pos = 0
        return bool(block)

    def _peek(self) -> bytes:
        """The next byte that is not white space (b"" at the end), not consumed."""
        while True:
            # the pattern matches the empty string, so it always matches
            self.pos = _SPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos:self.pos + 1]
            if not self._more():
                return b""

    def _expect(self, allowed: bytes) -> bytes:
        found = self._peek()
        if not found or found not in allowed:
            raise ScanStopped(f"expected one of {allowed!r}, found {found!r}")
        self.pos += 1
        return found

    def _key(self) -> str:
        self._expect(b'"')
        while True:
            end = self.buf.find(b'"', self.pos)
            if end >= 0:
                break
            if not self._more():
                raise ScanStopped("the file ends inside a key")
        key = self.buf[self.pos:end]
        if b"\\" in key:
            raise ScanStopped("a top-level key written with an escape")
        self.pos = end + 1
        self._expect(b":")
        try:
            return key.decode("utf-8")
        except UnicodeDecodeError:
            raise ScanStopped("not UTF-8") from None

    def _object(self) -> Tuple[int, bytes]:
        """(file offset, bytes) of the JSON object that starts at the next byte that is not white space."""
        if self._peek() != b"{":
            raise ScanStopped("expected an object")
        while True:
            view = memoryview(self.buf)[self.pos:]
            try:
                self._raw(view)
                end = len(self.buf)  # the object and white space fill the buffer
            except self._decode_error as exc:
                found = _TRAILING.search(str(exc))
                if found is None:
                    if str(exc) == "Input data was truncated" and len(view) <= self.MAX_VALUE and \
                            self._more(len(view)):
                        continue
                    raise ScanStopped(f"not a JSON object: {exc}") from None
                end = self.pos + int(found.group(1)) - 1  # the byte after the object (and its white space)
            except (RecursionError, ValueError) as exc:
                raise ScanStopped(f"not a JSON object: {exc}") from None
            finally:
                view.release()
            while self.buf[end - 1:end] in (b" ", b"\t", b"\r", b"\n"):
                end -= 1
            start, self.pos = self.pos, end
            return self.base + start, self.buf[start:end]

    # -- the document ---------------------------------------------------------------------------------------
    def _top(self) -> Iterator[str]:
        """The top-level keys, in order, each once: the period first, then (if any) the workshops."""
        if not self._more():
            raise ScanStopped("the file is empty")
        if self.buf.startswith(_BOM):
            self.pos = len(_BOM)
        self._expect(b"{")
        if self._peek() == b"}":
            raise ScanStopped("no period")
        expected = iter(("period", "workshops"))
        while True:
            key = self._key()
            if key != next(expected, None):
                raise ScanStopped(f"top-level key {key!r} where the period, then the workshops, are expected")
            yield key
            if self._expect(b",}") == b"}":
                if self._peek():
                    raise ScanStopped("text after the document")
                return

    def period(self) -> Tuple[int, bytes]:
        """(file offset, bytes) of the period; call first."""
        if next(self._members, None) != "period":
            raise ScanStopped("the period does not come first")
        return self._object()

    def workshops(self) -> Iterator[Tuple[int, int, bytes]]:
        """(index, file offset, bytes) of each workshop, in order, after :meth:`period`; ScanStopped on a problem,
        raised only once the document's shape is wrong (a file cut short, or with text after it, never passes)."""
        if next(self._members, None) is None:
            return
        self._expect(b"[")
        if self._peek() == b"]":
            self.pos += 1
        else:
            index = 0
            while True:
                offset, raw = self._object()
                yield index, offset, raw
                index += 1
                if self._expect(b",]") == b"]":
                    break
        if next(self._members, None) is not None:
            raise ScanStopped("a top-level key after the workshops")
