"""Exact numbers: a quotient of two decimals worked out in integers is the one the fractions give, written the same."""
from decimal import Decimal, localcontext
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_rules.lang import exact
from subsidy_rules.runtime.evaluate import PRECISION

_DECIMALS = st.builds(lambda n, e: Decimal(n).scaleb(e), st.integers(-10**12, 10**12), st.integers(-12, 12))


@settings(max_examples=2000, deadline=None)
@given(a=_DECIMALS, b=_DECIMALS.filter(lambda d: d != 0))
def test_a_quotient_of_decimals_is_what_the_fraction_gives(a, b):
    with localcontext() as ctx:
        ctx.prec = PRECISION
        got, want = exact.div(a, b), exact.normal(Fraction(a) / Fraction(b))
    assert (type(got), got) == (type(want), want)
    if isinstance(want, Decimal):
        assert got.as_tuple() == want.as_tuple()  # the same digits and exponent: the trace prints them


def test_quotients_that_terminate_or_not():
    assert exact.div(Decimal("1021.20") * Decimal("4246.9"), Decimal("6808")) == Decimal("637.035")
    assert exact.div(Decimal("84938"), Decimal("12")) == Fraction(42469, 6)
    assert repr(exact.div(Decimal("300"), Decimal("1.0"))) == "Decimal('300')"
    assert repr(exact.div(Decimal("-7"), Decimal("2"))) == "Decimal('-3.5')"
    assert exact.div(Decimal("5"), Decimal("-3")) == Fraction(-5, 3)
