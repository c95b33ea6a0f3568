"""Turn a SymPy expression into a fast numeric function, once; and the arithmetic it uses.

lambdify would do, but it generates and execs source for every expression, which
costs milliseconds each; this walks the tree once into nested closures instead.

Values are exact where they can be: a `Fraction` stays a Fraction through +, -, x,
integer powers, comparisons, |x| and Piecewise, so that z = 0.1 * 3 - 0.3 is exactly 0
and a ReLU takes the branch a person would. Where a transcendental function enters
(exp, log, tanh, ...) the value becomes an mpmath float, whose exponent cannot
overflow and whose precision the caller sets (mpmath.workprec), so sigmoid(-1000) or
exp(800) give correct finite values, and 1 - sigmoid(30) keeps its digits.
"""
from __future__ import annotations

import math
import operator
from decimal import Decimal
from fractions import Fraction
from functools import partial
from typing import Callable, Iterable, Union

import mpmath
import sympy

from .errors import DeriveError, NumericError

Value = Union[Fraction, mpmath.mpf]
Closure = Callable[[list], object]

FUNCTIONS: dict[type, Callable] = {
    sympy.exp: mpmath.exp,
    sympy.log: mpmath.log,
    sympy.tanh: mpmath.tanh,
    sympy.sinh: mpmath.sinh,
    sympy.cosh: mpmath.cosh,
    sympy.sin: mpmath.sin,
    sympy.cos: mpmath.cos,
    sympy.atan: mpmath.atan,
    sympy.Abs: abs,
    sympy.erf: mpmath.erf,
    sympy.sign: mpmath.sign,  # |z|' for a formula activation (derive.formula)
}
EXACT_FUNCTIONS: dict[type, Callable[[Fraction], Fraction]] = {
    sympy.Abs: abs,
    sympy.sign: lambda x: Fraction((x > 0) - (x < 0)),
}
RELATIONS: dict[type, Callable[[object, object], bool]] = {
    sympy.LessThan: operator.le,
    sympy.StrictLessThan: operator.lt,
    sympy.GreaterThan: operator.ge,
    sympy.StrictGreaterThan: operator.gt,
}


def value_of(number: object) -> Value:
    """A number as derive computes with it: exact for ints, Fractions and Decimals (the
    decimal as written), an mpmath float for a float or mpf (already inexact)."""
    if isinstance(number, Fraction):
        return number
    if isinstance(number, (int, Decimal)) and not isinstance(number, bool):
        return Fraction(number)
    return number if isinstance(number, mpmath.mpf) else mpmath.mpf(number)  # type: ignore[arg-type]


def greater(a: Value, b: Value) -> bool:
    """a > b, exactly while both are exact (a max-pool tie must be a tie)."""
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a > b
    return bool(inexact(a) > inexact(b))


def inexact(number: Value) -> mpmath.mpf:
    """At the working precision: a Fraction divided out, an mpf as it is."""
    return mpmath.mpf(number.numerator) / number.denominator if is_exact(number) else number


def total(parts: Iterable[Value]) -> Value:
    """The sum, exact while every part is."""
    parts = list(parts)
    if all_exact(parts):
        return exact_total(parts)  # type: ignore[arg-type]
    return mpmath.fsum(inexact(p) for p in parts)


def product(parts: Iterable[Value]) -> Value:
    """The product, exact while every factor is (or as soon as one is an exact 0)."""
    parts = list(parts)
    if all_exact(parts):
        return exact_product(parts)  # type: ignore[arg-type]
    if any(is_exact(p) and p == 0 for p in parts):
        return Fraction(0)  # a dead ReLU unit zeroes the path whatever else it holds
    return mpmath.fprod(inexact(p) for p in parts)


# Exact sums and products are most of the arithmetic of a key (an exam solves each
# variant twice), so they are done on the integers directly: the numerators and
# denominators combined, then one gcd, instead of a Fraction (and its gcds) per step.
# The value is the same exact rational; the result is always a plain Fraction (never
# a Given or a Rounded), as Fraction's own + and x give.

def _lowest_terms_maker() -> Callable[[int, int], Fraction]:
    """Fraction(n, d) for n, d already coprime with d > 0, skipping the gcd where this
    Python allows it (3.12: _from_coprime_ints; 3.10-3.11: _normalize=False)."""
    if hasattr(Fraction, "_from_coprime_ints"):
        return Fraction._from_coprime_ints  # type: ignore[attr-defined]
    try:
        Fraction(1, 1, _normalize=False)  # type: ignore[call-arg]
    except TypeError:
        return Fraction
    return partial(Fraction, _normalize=False)


in_lowest_terms = _lowest_terms_maker()
EXACT_TYPES: dict[type, bool] = {Fraction: True}  # type -> whether it is a Fraction


def is_exact(value: object) -> bool:
    """isinstance(value, Fraction), asked once per type: isinstance on an ABC costs a
    Python-level call for anything but a plain Fraction (a Given, a Rounded, an mpf)."""
    kind = type(value)
    exact = EXACT_TYPES.get(kind)
    if exact is None:
        exact = EXACT_TYPES[kind] = issubclass(kind, Fraction)
    return exact


def all_exact(parts: list) -> bool:
    """Whether every part is a Fraction (each type of part asked once)."""
    for kind in set(map(type, parts)):
        exact = EXACT_TYPES.get(kind)
        if exact is None:
            exact = EXACT_TYPES[kind] = issubclass(kind, Fraction)
        if not exact:
            return False
    return True


def exact_product(parts: list[Fraction]) -> Fraction:
    """The product of Fractions, normalised once."""
    numerator, denominator = 1, 1
    for part in parts:
        numerator *= part.numerator
        denominator *= part.denominator
    common = math.gcd(numerator, denominator)
    return in_lowest_terms(numerator // common, denominator // common)


def exact_total(parts: list[Fraction]) -> Fraction:
    """The sum of Fractions over their least common denominator, normalised once."""
    denominator = math.lcm(*(part.denominator for part in parts)) if parts else 1
    numerator = sum(part.numerator * (denominator // part.denominator) for part in parts)
    common = math.gcd(numerator, denominator)
    return in_lowest_terms(numerator // common, denominator // common)


def power(base: Value, exponent: Value) -> Value:
    if isinstance(base, Fraction) and isinstance(exponent, Fraction) and exponent.denominator == 1 \
            and (base != 0 or exponent >= 0):
        return base ** int(exponent)  # type: ignore[return-value]
    return inexact(base) ** inexact(exponent)


def compile_numeric(args: tuple[sympy.Symbol, ...], expr: sympy.Basic) -> Callable[..., Value]:
    """A function of `args` that evaluates `expr`: exactly while it can, else at the
    working precision."""
    closure = build(expr, {symbol: i for i, symbol in enumerate(args)})

    def evaluate(*values: object) -> Value:
        result = closure([value_of(v) for v in values])
        if isinstance(result, mpmath.mpc):
            raise NumericError(f"{expr} has no real value at {', '.join(map(str, args))} = "
                               f"{', '.join(mpmath.nstr(mpmath.mpmathify(v), 6) for v in values)}")
        return result  # type: ignore[return-value]
    return evaluate


def constant(expr: sympy.Basic) -> Value | None:
    """A number in a formula: a Rational exactly, a Float as the decimal it was written as
    (a leaky ReLU's slope 0.01 is 1/100); None for a number with no exact form here."""
    if expr.is_Rational:
        return Fraction(int(expr.p), int(expr.q))  # type: ignore[attr-defined]
    if expr.is_Float:
        return Fraction(Decimal(repr(float(expr))))
    return None


def build(expr: sympy.Basic, index: dict[sympy.Symbol, int]) -> Closure:
    if expr.is_Symbol:
        position = index[expr]
        return lambda v: v[position]
    if expr.is_Number:
        fixed = constant(expr)
        if fixed is None:
            raise DeriveError(f"cannot evaluate the number {expr}")
        return lambda v: fixed
    if expr in (sympy.true, sympy.false):
        truth = bool(expr)
        return lambda v: truth
    if expr.is_Piecewise:
        pairs = [(build(e, index), build(c, index)) for e, c in expr.args]
        return lambda v: next(value(v) for value, condition in pairs if condition(v))
    parts = [build(arg, index) for arg in expr.args]
    if expr.is_Add:
        return lambda v: total(part(v) for part in parts)
    if expr.is_Mul:
        return lambda v: product(part(v) for part in parts)
    if expr.is_Pow:
        base, exponent = parts
        return lambda v: power(base(v), exponent(v))
    if type(expr) in RELATIONS:
        return relation(RELATIONS[type(expr)], *parts)
    if isinstance(expr, sympy.And):  # a max-pool unit's "first maximum" condition
        return lambda v: all(part(v) for part in parts)
    if type(expr) in (sympy.Max, sympy.Min):  # ReLU as a teacher writes it: max(0, z)
        return extremum(max if type(expr) is sympy.Max else min, parts)
    if type(expr) in FUNCTIONS:
        return function(type(expr), *parts)
    raise DeriveError(f"cannot evaluate {type(expr).__name__} in {expr}")


def relation(compare: Callable[[object, object], bool], left: Closure, right: Closure) -> Closure:
    def decide(v: list) -> bool:
        a, b = left(v), right(v)
        if isinstance(a, Fraction) and isinstance(b, Fraction):
            return compare(a, b)
        return compare(inexact(a), inexact(b))  # type: ignore[arg-type]
    return decide


def extremum(pick: Callable, parts: list[Closure]) -> Closure:
    def apply(v: list) -> object:
        values = [part(v) for part in parts]
        if all(isinstance(x, Fraction) for x in values):
            return pick(values)
        return pick(inexact(x) for x in values)
    return apply


def function(kind: type, inner: Closure) -> Closure:
    approximate, exact = FUNCTIONS[kind], EXACT_FUNCTIONS.get(kind)

    def apply(v: list) -> object:
        x = inner(v)
        if exact is not None and isinstance(x, Fraction):
            return exact(x)
        return approximate(inexact(x))
    return apply
