"""One formatter per concept, for every view: money, and the width-aware table of the terminal views."""
from __future__ import annotations

import decimal
import unicodedata
from decimal import Decimal
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, overload

if TYPE_CHECKING:
    from ..policy.model import Policy
    from ..runtime.decisions import Decision


MARK = {True: "✓", False: "✗"}
#: What a mark becomes on a console whose encoding lacks it (GBK has √ and ×), before any other fallback.
_FALLBACK = {"✓": "√", "✗": "×", "→": "->", "−": "-", "≥": ">=", "≤": "<=", "…": "...", "·": "-"}


_MONEY = decimal.Context(prec=80)
_CENT = Decimal("0.01")


@overload
def money(amount: Decimal, grouped: bool = False) -> str: ...
@overload
def money(amount: None, grouped: bool = False) -> None: ...
@overload
def money(amount: Optional[Decimal], grouped: bool = False) -> Optional[str]: ...
def money(amount: Optional[Decimal], grouped: bool = False) -> Optional[str]:
    """An amount as the spec writes it: a string with two decimals (or None). Exact whatever its size (the
    default decimal context would refuse to quantize an amount of more than 26 integer digits).

    ``grouped``: as people read it, thousands separated (``1,500.00``): every view for people uses this, the
    machine-facing JSON and CSV the plain form."""
    if amount is None:
        return None
    if not grouped and not amount.is_signed():  # the JSON's form, written hundreds of thousands of times for a few
        # hundred amounts (a negative one, or -0, which equals 0 but writes apart, is worked out each time)
        text = _PLAIN.get(amount)
        if text is None:
            if len(_PLAIN) > 4_096:  # small: a long-lived cache is walked by every full garbage collection
                _PLAIN.clear()
            text = _PLAIN[amount] = format(amount.quantize(_CENT, context=_MONEY), "f")
        return text
    return format(amount.quantize(_CENT, context=_MONEY), ",f" if grouped else "f")


#: Amounts already written in the plain form, by value (equal amounts, such as 200 and 200.00, write the same).
_PLAIN: Dict[Decimal, str] = {}


def encodable(text: str, encoding: Optional[str]) -> str:
    """``text`` as a stream of ``encoding`` can carry it: each character it lacks becomes its fallback (✓ → √,
    ✗ → ×, then ``?``), never an encoding error. UTF-8 and unknown encodings keep the text as it is."""
    if not encoding or encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
        return text
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        pass
    out = []
    for c in text:
        try:
            c.encode(encoding)
            out.append(c)
        except UnicodeEncodeError:
            fallback = _FALLBACK.get(c, "?")
            try:
                fallback.encode(encoding)
            except UnicodeEncodeError:
                fallback = "?"
            out.append(fallback)
        except LookupError:
            return text
    return "".join(out)


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


def table(rows: List[List[str]], right: Iterable[int] = ()) -> List[str]:
    right = set(right)
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(_pad(c, widths[i], i in right) for i, c in enumerate(r)).rstrip() for r in rows]


def subject_label(d: "Decision", policy: Optional["Policy"] = None) -> str:
    def word(kind: str) -> str:
        return policy.label(f"subject.{kind}", kind) if policy is not None else kind
    return f"{word('worker')} {d.worker}" if d.worker else f"{word('loan')} {d.loan}" if d.loan else word("workshop")



def outcome_label(policy: "Policy", d: "Decision") -> str:
    """The word for a decision's outcome: a rule that did not fire reads as its kind says (``denied.certified``:
    not certified; ``denied.revoked``: not revoked), else the policy's ``denied``."""
    if d.outcome == "denied":
        try:
            decides = policy.rule(d.rule).decides
        except KeyError:
            decides = ""
        return policy.label(f"denied.{decides}", policy.label("denied"))
    return policy.label(d.outcome)


def amount_text(policy: "Policy", amount: Optional[Decimal]) -> str:
    """An amount as people read it, with the policy's unit of money (``money.unit``), e.g. "1,500.00 yuan"."""
    if amount is None:
        return ""
    unit = policy.label("money.unit", "")
    return f"{money(amount, grouped=True)} {unit}".rstrip()


#: Punctuation that does not begin a line (closing brackets, commas, stops), whatever the script.
_NO_LINE_START = set(")]}>,.;:!?%\u3001\u3002\uff0c\uff1b\uff1a\uff09\u300b\u300d\u3011\uff01\uff1f")


#: Punctuation that does not end a line (opening brackets).
_NO_LINE_END = set("([{<\u3014\uff08\u300a\u300c\u3010")


def _cut(text: str, width: int) -> int:
    """How many characters of ``text`` fit in ``width`` columns, preferring to break after a space or a wide
    character (never inside a run of narrow letters and digits when there is another place)."""
    used, fit, last_break = 0, 0, 0
    for i, c in enumerate(text):
        w = 2 if unicodedata.east_asian_width(c) in "WF" else 1
        if used + w > width:
            break
        used += w
        fit = i + 1
        closing = i + 1 < len(text) and text[i + 1] in _NO_LINE_START
        if (c == " " or w == 2 or c in ",;:)]") and not closing and c not in _NO_LINE_END:
            last_break = i + 1
    if fit < len(text) and last_break > fit // 3:
        return last_break
    return max(fit, 1)


def wrap(lines: Iterable[str], width: Optional[int]) -> List[str]:
    """Each line cut to ``width`` display columns (a Chinese character takes two), continuation lines indented
    two more than the line they continue. ``width`` None or too small to help: the lines as they are."""
    out: List[str] = []
    for line in lines:
        if not width or width < 30 or display_width(line) <= width:
            out.append(line)
            continue
        indent = len(line) - len(line.lstrip(" "))
        first, rest = True, line
        while rest:
            pad = " " * (indent if first else indent + 2)
            body = rest if first else rest.lstrip(" ")
            if not first and display_width(pad + body) <= width:
                out.append(pad + body)
                break
            room = width - display_width(pad)
            cut = _cut(body[indent:] if first else body, room)
            taken = (body[indent:] if first else body)[:cut]
            out.append((pad + taken).rstrip())
            rest = (body[indent:] if first else body)[cut:]
            first = False
            if not rest.strip():
                break
    return out
