"""Exact numbers: decimals, and fractions where a division does not terminate.

Amounts are read as :class:`~decimal.Decimal` and stay exact: a sum, a
difference or a product of decimals is exact at the working precision, and a
quotient is a decimal only when it terminates (its denominator has no prime
factor but 2 and 5). Otherwise it is carried as a :class:`~fractions.Fraction`
until the policy rounds it, so ``1021.20 × 4246.9 / 6808`` is exactly
``637.035`` and rounds half-up to ``637.04``, never ``637.03`` as a division at
finite precision would give.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from math import gcd
from typing import Union

Number = Union[int, Decimal, Fraction]

#: Working precision of decimal arithmetic in an evaluation (every sum, difference and product of amounts is exact at
#: it); amounts are rounded only where the policy says.
PRECISION = 50


def _terminates(denominator: int) -> bool:
    for p in (2, 5):
        while denominator % p == 0:
            denominator //= p
    return denominator == 1


def normal(value: Fraction) -> Number:
    """A fraction as a decimal when it terminates, else the fraction itself."""
    if value.denominator == 1:
        return Decimal(value.numerator)
    if _terminates(value.denominator):
        return Decimal(value.numerator) / Decimal(value.denominator)
    return value


def add(a: Number, b: Number) -> Number:
    if isinstance(a, Fraction) or isinstance(b, Fraction):
        return normal(Fraction(a) + Fraction(b))
    return a + b


def sub(a: Number, b: Number) -> Number:
    if isinstance(a, Fraction) or isinstance(b, Fraction):
        return normal(Fraction(a) - Fraction(b))
    return a - b


def mul(a: Number, b: Number) -> Number:
    if isinstance(a, Fraction) or isinstance(b, Fraction):
        return normal(Fraction(a) * Fraction(b))
    return a * b


def div(a: Number, b: Number) -> Number:
    """``a / b`` exactly (``b`` is not zero): what :func:`normal` makes of the fraction ``a / b``."""
    if a.__class__ is Decimal and b.__class__ is Decimal:  # the usual case, in integers (a Fraction made from a
        na, da = a.as_integer_ratio()  # Decimal costs several times more)
        nb, db = b.as_integer_ratio()
        n, d = na * db, da * nb
        if d < 0:
            n, d = -n, -d
        common = gcd(n, d)
        if common != 1:
            n, d = n // common, d // common
        if d == 1:
            return Decimal(n)
        if _terminates(d):
            return Decimal(n) / Decimal(d)
        return Fraction(n, d)
    return normal(Fraction(a) / Fraction(b))


def floor(value: Number) -> Decimal:
    """The largest whole number not above ``value``."""
    f = Fraction(value)
    return Decimal(f.numerator // f.denominator)


def round_to(value: Number, quantum: Decimal, mode: str) -> Decimal:
    """``value`` rounded to a multiple of ``quantum`` by the decimal rounding ``mode`` (ROUND_HALF_UP…), exactly."""
    if not isinstance(value, Fraction):
        return Decimal(value).quantize(quantum, rounding=mode)
    steps = value / Fraction(quantum)  # never a whole or a half number: the fraction does not terminate
    low = steps.numerator // steps.denominator
    above_half = steps - low > Fraction(1, 2)
    up = {"ROUND_HALF_UP": above_half, "ROUND_HALF_EVEN": above_half, "ROUND_HALF_DOWN": above_half,
          "ROUND_CEILING": True, "ROUND_FLOOR": False,
          "ROUND_UP": steps > 0, "ROUND_DOWN": steps < 0}[mode]
    return (Decimal(low + up) * quantum).quantize(quantum)


def show(value: Fraction) -> str:
    """A fraction that does not terminate, as a reader sees it: twelve significant digits and an ellipsis."""
    return format(Decimal(value.numerator) / Decimal(value.denominator), ".12g") + "…"
