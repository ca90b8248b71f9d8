"""How much a policy, a facts file or an expression may hold before it is refused.

Each limit is refused with its own code and the location of the value that
crossed it, before it can cost memory or stack: a file larger than it may be,
or one that is not a regular file (``/dev/zero``, a pipe), nesting deeper than
any policy or facts file needs, numbers too long to round, text too long to be
a name, an expression too long or too deeply nested to be a condition, a date
outside the years a policy can mean.

The defaults are generous for real data (a province's facts are tens of MB;
a policy nests about ten levels; an expression is a few hundred characters).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 2 * 1024 ** 3  # a facts file (the province at 10x is about 600 MB)
    max_policy_bytes: int = 16 * 1024 ** 2
    max_depth: int = 64  # objects and lists inside each other (a facts file needs 7, a policy about 10)
    max_number_digits: int = 34  # significant digits of a number (an amount is far below 10^15 yuan)
    max_number_exponent: int = 30  # 1e30 is read; 1e31 and 1E+999999 are refused
    max_text_chars: int = 100_000  # one string (a clause's original text is a few thousand)
    max_expression_chars: int = 2_000
    max_expression_depth: int = 24  # parentheses, calls and lists inside each other
    max_expression_terms: int = 200  # operators and calls in one expression
    first_year: int = 1900  # the years a date may name
    last_year: int = 2200


LIMITS = Limits()
