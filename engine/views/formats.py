"""One formatter per concept, for every view: money, and the width-aware table of the terminal views."""
from __future__ import annotations

import decimal
import unicodedata
from decimal import Decimal
from typing import TYPE_CHECKING, Iterable, List, Optional

if TYPE_CHECKING:
    from ..runtime.decisions import Decision


MARK = {True: "✓", False: "✗"}


_MONEY = decimal.Context(prec=80)


def money(amount: Optional[Decimal]) -> Optional[str]:
    """An amount as the spec writes it: a string with two decimals (or None). Exact whatever its size (the
    default decimal context would refuse to quantize an amount of more than 26 integer digits)."""
    return None if amount is None else format(amount.quantize(Decimal("0.01"), context=_MONEY), "f")


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


def table(rows: List[List[str]], right: Iterable[int] = ()) -> List[str]:
    right = set(right)
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(_pad(c, widths[i], i in right) for i, c in enumerate(r)).rstrip() for r in rows]


def subject_label(d: Decision, policy=None) -> str:
    def word(kind):
        return policy.label(f"subject.{kind}", kind) if policy is not None else kind
    return f"{word('worker')} {d.worker}" if d.worker else f"{word('loan')} {d.loan}" if d.loan else word("workshop")

