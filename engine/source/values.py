"""The limits every value read from a file is held to (text length, digits, size, depth), checked on the values
themselves: a scalar, or the whole of what a JSON parser gave."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import List, Optional, Tuple

from ..limits import LIMITS, Limits
from ..problems import pointer_join


def scalar_problem(value: object, limits: Limits = LIMITS) -> Optional[Tuple[str, str]]:
    """(code, message) if a scalar read from a file crosses a limit, else None."""
    if isinstance(value, str):
        if len(value) > limits.max_text_chars:
            return "input.text_too_long", f"text of {len(value):,} characters (at most {limits.max_text_chars:,})"
        if _SURROGATE.search(value):
            return "input.surrogate", "text holds a lone surrogate (an escape such as \\ud800 that is no character)"
        return None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        digits = len(str(abs(value))) if abs(value) < 10 ** limits.max_number_digits else limits.max_number_digits + 1
        if digits > limits.max_number_digits:
            return "input.number_too_long", f"a number of more than {limits.max_number_digits} digits"
        return None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return "input.number", f"{value} is not a number"
        _sign, figures, exponent = value.as_tuple()
        if len(figures) > limits.max_number_digits:
            return "input.number_too_long", f"a number of {len(figures)} digits (at most {limits.max_number_digits})"
        if value != 0 and value.adjusted() > limits.max_number_exponent:
            return "input.number_too_large", f"{value:.6g} is larger than 1e{limits.max_number_exponent}"
        if isinstance(exponent, int) and exponent < -limits.max_number_digits:  # an int: the value is finite
            return "input.number_too_long", f"a number with more than {limits.max_number_digits} decimals"
    return None

_SURROGATE = re.compile("[\ud800-\udfff]")


def value_problems(data: object, path: str, limits: Limits) -> List[Tuple[str, str, str]]:
    """Every value of parsed JSON that crosses a limit (depth, numbers, text), as (code, message, pointer)."""
    out: List[Tuple[str, str, str]] = []
    stack: List[Tuple[object, str, int]] = [(data, "", 0)]
    while stack:
        value, pointer, depth = stack.pop()
        if isinstance(value, dict):
            if depth >= limits.max_depth:
                out.append(("input.too_deep", f"nested more than {limits.max_depth} levels deep", pointer))
                continue
            for key, child in value.items():
                found = scalar_problem(key, limits)
                if found:
                    out.append((*found, pointer))
                stack.append((child, pointer_join(pointer, key), depth + 1))
        elif isinstance(value, list):
            if depth >= limits.max_depth:
                out.append(("input.too_deep", f"nested more than {limits.max_depth} levels deep", pointer))
                continue
            stack.extend((child, pointer_join(pointer, i), depth + 1) for i, child in enumerate(value))
        else:
            found = scalar_problem(value, limits)
            if found:
                out.append((*found, pointer))
    return out
