"""The one display rule: what a value shows as, and what a student carries on with.

Three kinds of number reach the page (docs/spec.md, "Numbers"):

* `Given`: a number as the spec writes it (0.42, 6, -0.3). Exact, shown in full.
* an exact whole number (ReLU' = 1, a dead unit's 0): shown as the integer.
* anything else (a float, an mpmath value, or an exact Fraction computed from the
  given numbers by +, -, x and ReLU, such as z = 5.02): rounded half away from zero to
  `digits` decimal places, but to at least SIGNIFICANT significant figures, trailing
  zeros kept (5.0200, 0.0500, 0.000168), so each number shows its precision. A value below 10^-digits, or of 10^10 or more, is shown in scientific
  form with max(SIGNIFICANT, digits) significant figures (1.707 x 10^-5).

Rounding starts from the exact decimal of the value (for a double, the shortest
decimal that reads back as it, i.e. what the user typed), not its binary expansion,
so it rounds the way a hand calculation does. The by-hand policy carries exactly the
shown decimal on (`Rounded`), as a student does on paper.
"""
from __future__ import annotations

from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_UP, Context, Decimal, localcontext
from fractions import Fraction
from functools import lru_cache
from typing import Union

import mpmath

ROUNDING_RULE = "half away from zero"  # as the documents name the rule of rule() below
LARGE = Decimal("1e10")
SIGNIFICANT = 3  # the fewest significant figures a rounded value shows
# Saturated units give factors such as e^-(10^9): far outside the default decimal
# context's exponent range, but still a value to show.
WIDE = Context(prec=60, Emax=MAX_EMAX, Emin=MIN_EMIN)


class Given(Fraction):
    """A number as the spec writes it: exact, and always shown in full.

    Arithmetic on it gives a plain Fraction, so only the spec's own numbers carry this type.
    """

    __slots__ = ()

    @classmethod
    def of(cls, value: float | int | str | Decimal | Fraction) -> Given:
        """The decimal the user typed: a double's shortest representation (the spec
        refuses numbers with more digits than a double holds)."""
        if isinstance(value, Fraction):
            return cls(value)
        return cls(Decimal(repr(value)) if isinstance(value, float) else Decimal(value))


class Rounded(Fraction):
    """A value carried on by hand: exactly the shown decimal, which it remembers (with
    its trailing zeros and its form) so that it prints as it was written down."""

    __slots__ = ("shown", "scientific")

    shown: Decimal
    scientific: bool

    def __new__(cls, shown: Decimal, scientific: bool) -> Rounded:
        self = super().__new__(cls, shown)
        self.shown, self.scientific = shown, scientific
        return self

    def __reduce__(self) -> tuple:
        return (Rounded, (self.shown, self.scientific))


Number = Union[Fraction, float, mpmath.mpf]


def terminating(value: Fraction) -> Decimal | None:
    """The exact decimal of `value`, or None if its expansion does not end (1/3).

    A fraction n/d in lowest terms terminates when d = 2^a 5^b; it then has max(a, b)
    places, and its digits are n * 10^places / d, a whole number (read as a string,
    which Decimal takes exactly, whatever its context's precision)."""
    denominator, fives = value.denominator, 0
    twos = (denominator & -denominator).bit_length() - 1  # the trailing zero bits
    denominator >>= twos
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        return None
    places = max(twos, fives)
    digits = value.numerator * 10**places // value.denominator
    return Decimal(f"{digits}E-{places}")


def as_decimal(value: Number) -> Decimal:
    """A value's decimal: exact for a Fraction that terminates, else to 40 digits."""
    if isinstance(value, Fraction):
        exact = terminating(value)
        if exact is not None:
            return exact
        with localcontext(WIDE):
            return Decimal(value.numerator) / Decimal(value.denominator)
    if isinstance(value, (float, int)):
        return Decimal(repr(float(value)))
    # an mpmath value, possibly beyond a double's range
    return Decimal(mpmath.nstr(value, 17, min_fixed=1, max_fixed=0))


# What in_full does with a value, by its type (isinstance on Fraction, an ABC, costs a
# Python-level call for a Given, a Rounded, a float or an mpf, and the line checker
# asks in_full about every operand many times): filled in as types are met.
WHOLE, FRACTION, GIVEN, NEVER = "whole", "fraction", "given", "never"
KINDS: dict[type, str] = {}


def kind_of(kind: type) -> str:
    if issubclass(kind, int) and not issubclass(kind, bool):
        return WHOLE
    if not issubclass(kind, Fraction) or issubclass(kind, Rounded):
        return NEVER
    return GIVEN if issubclass(kind, Given) else FRACTION


def is_rounded(value: object) -> bool:
    """isinstance(value, Rounded), asked once per type."""
    kind = type(value)
    answer = ROUNDED_TYPES.get(kind)
    if answer is None:
        answer = ROUNDED_TYPES[kind] = issubclass(kind, Rounded)
    return answer


ROUNDED_TYPES: dict[type, bool] = {}


def in_full(value: Number, digits: int) -> Decimal | None:
    """The exact decimal of a value shown in full: a Given, or an exact whole number (a
    ReLU' of 1, a dead unit's 0); None for a value shown by the rule."""
    kind = KINDS.get(type(value))
    if kind is None:
        kind = KINDS[type(value)] = kind_of(type(value))
    if kind is NEVER:
        return None
    if kind is WHOLE:
        return Decimal(value)  # type: ignore[arg-type]
    if value.denominator == 1:  # type: ignore[union-attr]
        return Decimal(value.numerator)  # type: ignore[union-attr]
    if kind is FRACTION:
        return None
    return given_decimal(value.numerator, value.denominator)  # type: ignore[union-attr]


@lru_cache(maxsize=4096)  # a spec's numbers appear on many lines
def given_decimal(numerator: int, denominator: int) -> Decimal | None:
    """A Given's decimal, as written: without trailing zeros (unless it is tiny)."""
    exact = terminating(Fraction(numerator, denominator))
    return exact.normalize() if exact is not None and exact.adjusted() > -30 else exact


def rounded(value: Number, digits: int) -> tuple[Decimal, bool]:
    """(the displayed decimal, whether it is in scientific form), by the rule above."""
    if is_rounded(value):  # (its value alone does not say how it was written)
        return value.shown, value.scientific  # type: ignore[union-attr]
    try:
        return rounded_value(value, digits)
    except TypeError:  # unhashable: not a number derive makes, but the rule still applies
        return rounded_value.__wrapped__(value, digits)


# Every number of a key is rounded several times (its own line, each line it is an
# operand of, each document), so each (type, value, digits) is rounded once: what a
# value shows depends on nothing else (Rounded, which remembers its writing, is
# answered above). Decimals are immutable, so a shared answer is safe.
@lru_cache(maxsize=32768, typed=True)
def rounded_value(value: Number, digits: int) -> tuple[Decimal, bool]:
    full = in_full(value, digits)
    if full is not None:
        return full, False
    with localcontext(WIDE):
        return rule(as_decimal(value), digits)


def rule(exact: Decimal, digits: int) -> tuple[Decimal, bool]:
    if exact == 0:
        return Decimal(0), False
    exponent = exact.adjusted()
    if abs(exact) >= LARGE or exponent < -digits:
        figures = max(SIGNIFICANT, digits)
        mantissa = exact.scaleb(-exponent).quantize(Decimal(1).scaleb(1 - figures), rounding=ROUND_HALF_UP)
        if abs(mantissa) >= 10:  # 9.9996 -> 10.00: one place to the left
            exponent += 1
            mantissa = exact.scaleb(-exponent).quantize(Decimal(1).scaleb(1 - figures),
                                                        rounding=ROUND_HALF_UP)
        return mantissa.scaleb(exponent), True
    places = max(digits, SIGNIFICANT - 1 - exponent)
    fixed = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if fixed.adjusted() > exponent:  # 0.00099996 -> 0.00100: the figures count from the new digit
        places = max(digits, SIGNIFICANT - 2 - exponent)
        fixed = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return fixed, False


def last_place(shown: Decimal) -> Decimal:
    """One unit of the last digit shown: 0.0500 -> 0.0001, 1.707E-5 -> 1E-8, 6 -> 1."""
    with localcontext(WIDE):
        return Decimal(1).scaleb(shown.as_tuple().exponent)  # type: ignore[arg-type]


def by_hand(value: Number, digits: int) -> Fraction:
    """The value a student carries on with after writing it down: the shown decimal,
    exactly. A value that the rounding leaves as it is (a given number, 5.02 shown as
    5.0200) is carried as it is."""
    if is_rounded(value) or in_full(value, digits) is not None:
        return value  # type: ignore[return-value]
    shown, scientific = rounded(value, digits)
    if isinstance(value, Fraction) and Fraction(shown) == value:
        return value
    return Rounded(shown, scientific)
