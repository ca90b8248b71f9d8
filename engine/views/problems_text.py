"""Problems as lines for people: code, ``file:line:col``, message, and the source line around the column."""
from __future__ import annotations

from typing import Callable, Iterable, List, Tuple

from ..problems import Problem
from .formats import display_width


def _around(text: str, col: int, width: int = 60) -> Tuple[str, int]:
    """A long source line cut to ``width`` characters either side of ``col``, and where ``col`` falls in it."""
    if len(text) <= 2 * width + 20:
        return text, col
    start = max(0, col - width)
    end = min(len(text), col + width)
    head = "…" if start else ""
    return head + text[start:end] + ("…" if end < len(text) else ""), col - start + len(head)


def problem_lines(problems: Iterable[Problem], source_line: Callable[[str, int], str]) -> List[str]:
    """Problems as a compiler prints them: location, code, message, the line and a caret under the spot."""
    out = []
    for p in problems:
        out.append(str(p))
        if p.location.line:
            text = source_line(p.location.file, p.location.line)
            if text:
                shown, col = _around(text, max(0, p.location.col - 1))
                out.append(f"  {p.location.line:>5} | {shown}")
                out.append(f"        | {' ' * display_width(shown[:col])}^")
    return out
