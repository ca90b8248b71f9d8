"""A policy or facts file from disk: a regular file within the size limit, its text in UTF-8 (or the encoding named),
read as strict JSON (``.json``) or safe YAML."""
from __future__ import annotations

from typing import Optional

from ..limits import LIMITS
from ..problems import InvalidInput, Location, Problem
from .document import Document
from .json_text import read_json_fast
from .yaml_text import read_text


def read_file(path: str, max_bytes: int = LIMITS.max_file_bytes, encoding: Optional[str] = None) -> Document:
    """A policy or facts file: a regular file of at most ``max_bytes``, UTF-8 (or ``encoding``); ``.json`` is strict
    JSON, anything else YAML."""
    import os
    import stat
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput([Problem("file.not_regular", "not a regular file (a device, pipe or folder cannot be "
                                        "read as a policy or facts file)", "", Location(path))])
        if info.st_size > max_bytes:
            raise InvalidInput([Problem("input.too_large", f"the file has {info.st_size:,} bytes (at most {max_bytes:,})",
                                        "", Location(path))])
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidInput([Problem("file.unreadable", f"cannot read file: {exc.strerror}", "", Location(path))])
    if len(raw) > max_bytes:
        raise InvalidInput([Problem("input.too_large", f"the file has more than {max_bytes:,} bytes", "", Location(path))])
    if encoding:
        try:
            text = raw.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise InvalidInput([Problem("file.encoding", f"cannot read the file as {encoding}: {exc}", "",
                                        Location(path))]) from None
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput([encoding_problem(path, raw, exc)]) from None
    if path.endswith(".json"):
        return read_json_fast(path, text)
    return read_text(path, text)


def encoding_problem(path: str, raw: bytes, exc: UnicodeDecodeError) -> Problem:
    """Not UTF-8: with a hint to save as UTF-8 or name the encoding when the bytes read as GB18030 (GBK)."""
    line = raw.count(b"\n", 0, exc.start) + 1
    col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    hint = None
    try:
        raw.decode("gb18030")
        from ..locale import say
        hint = say("hint.gbk", "en")
    except UnicodeDecodeError:
        pass
    return Problem("file.encoding", f"not UTF-8 text (byte {exc.start})", "", Location(path, line, col), hint=hint)
