"""derive.rounding.terminating: the exact decimal of a fraction, or None.

Checked against Fraction's own arithmetic: the decimal reads back as the same fraction,
it has no more places than it needs, and a fraction whose denominator has a prime
factor other than 2 and 5 has none.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, strategies as st

from derive.rounding import terminating


def places_needed(value: Fraction) -> int:
    """The fewest decimal places that write `value`, by trying them in turn."""
    places = 0
    while (value * 10**places).denominator != 1:
        places += 1
    return places


@given(st.integers(-10**40, 10**40), st.integers(0, 80), st.integers(0, 80))
def test_terminating_fraction_reads_back_exactly(numerator: int, twos: int, fives: int) -> None:
    value = Fraction(numerator, 2**twos * 5**fives)
    shown = terminating(value)
    assert shown is not None
    assert Fraction(str(shown)) == value  # exact, whatever the context's precision
    assert -shown.as_tuple().exponent == places_needed(value)


@given(st.integers(-10**12, 10**12).filter(bool), st.sampled_from([3, 7, 11, 3 * 2**5, 7 * 5**3]))
def test_non_terminating_fraction_has_no_decimal(numerator: int, denominator: int) -> None:
    value = Fraction(numerator, denominator)
    if value.denominator in (1,) or all(p in (2, 5) for p in prime_factors(value.denominator)):
        return  # the factor cancelled: a terminating value, covered above
    assert terminating(value) is None


def prime_factors(n: int) -> set[int]:
    found, p = set(), 2
    while p * p <= n:
        while n % p == 0:
            found.add(p)
            n //= p
        p += 1
    if n > 1:
        found.add(n)
    return found


def test_teacher_values() -> None:
    assert str(terminating(Fraction("5.02"))) == "5.02"
    assert str(terminating(Fraction(0))) == "0"
    assert str(terminating(Fraction("-0.0056"))) == "-0.0056"
    assert terminating(Fraction(1, 3)) is None
    assert terminating(Fraction("6")) == Decimal(6)
