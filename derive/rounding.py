"""The one rounding rule: what a value shows as, and what a student carries on with.

A value is rounded half away from zero to `digits` decimal places, starting from the
shortest decimal that reads back as the double (what the user typed, e.g. 2.675), not
its binary expansion, so it rounds the way a hand calculation does. A value that is
not zero but would round to 0, or is 10^10 or more, keeps `digits` significant digits
instead (shown in scientific form), since "0.0000" would be misleading and integer
digits beyond ten are noise. The renderer shows exactly this decimal; the by-hand
policy computes each next step from it.
"""
from __future__ import annotations

from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_UP, Context, Decimal, localcontext

import mpmath

LARGE = Decimal("1e10")


def as_decimal(value: float | mpmath.mpf) -> Decimal:
    if isinstance(value, (float, int)):
        return Decimal(repr(float(value)))
    # an mpmath value, possibly beyond a double's range
    return Decimal(mpmath.nstr(value, 17, min_fixed=1, max_fixed=0))


# Saturated units give factors such as e^-(10^9): far outside the default decimal
# context's exponent range, but still a value to show.
WIDE = Context(prec=40, Emax=MAX_EMAX, Emin=MIN_EMIN)


def rounded(value: float | mpmath.mpf, digits: int) -> tuple[Decimal, bool]:
    """(the displayed decimal, whether it is in scientific form)."""
    with localcontext(WIDE):
        return _rounded(value, digits)


def _rounded(value: float | mpmath.mpf, digits: int) -> tuple[Decimal, bool]:
    exact = as_decimal(value)
    if exact == 0:
        return Decimal(0), False
    if abs(exact) < LARGE:
        fixed = exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
        if fixed != 0:
            return fixed, False
    with localcontext() as context:
        context.prec = digits + 30
        exponent = exact.adjusted()
        mantissa = exact.scaleb(-exponent).quantize(Decimal(1).scaleb(-(digits - 1)),
                                                    rounding=ROUND_HALF_UP)
        return mantissa.scaleb(exponent), True


def by_hand(value: mpmath.mpf, digits: int) -> mpmath.mpf:
    """The value a student carries on with after writing it down rounded."""
    decimal, _ = rounded(value, digits)
    return mpmath.mpf(str(decimal))
