"""The line checker's digit search, screened in doubles (derive.checkable).

Each step of the greedy search in `checkable.extra_digits` asks whether a line redone
exactly from its shown operands lands on its shown result, and if not, which operand's
rounding moves the result most (its "impact": the line redone with that operand shown
in full, less the line as shown). On a wide delta line (sigma'(z) times twenty weighted
deltas) that was 23 exact redos in Fractions per step. Here both are answered in doubles
first, with a bound on their rounding error that holds for any values: a landing is
settled only where it holds with room for every error, and only the operands the
doubles cannot tell apart from the largest impact are compared exactly. The answers
are always the exact ones (the first of equal impacts), never a guess. docs/linecheck-speed.md.

Only a line made of +, x, whole powers up to MAX_POWER, operands and exact constants
is screened (a "polynomial" line): its double evaluation has a classical error bound
(each result of n roundings is the exact result with every product term scaled by a
factor within gamma_n = n u / (1 - n u) of 1, u = 2^-53), provided nothing overflows
or underflows on the way, which is checked for the values of each step. Anything else
(exp, Piecewise, a division) is left to the exact search.
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import Callable, NamedTuple, Sequence

from .numeric import constant

UNIT = 2.0 ** -53  # a double's unit roundoff (round to nearest)
MAX_POWER = 8  # x^n for a whole n up to this is n - 1 multiplications
TOP = 2.0 ** 1000  # every intermediate magnitude stays below this: nothing overflows ...
BOTTOM = 2.0 ** -1000  # ... and every nonzero one above this: nothing underflows
NONZERO_SUM = 2.0 ** -54  # a nonzero sum of doubles is at least the least ulp among them
# The exact search's own impacts are mpmath values at 160 bits (checkable.CHECK_BITS);
# this covers their distance from the exact ones, relative to the line's magnitude.
MP_SLACK = 2.0 ** -140
SAFETY = 4  # the error bound is used four times over: the decision never leans on it

Doubles = Callable[[Sequence[float]], float]
Extent = Callable[[Sequence[float], Sequence[float]], "tuple[float, float]"]


class OutOfRange(Exception):
    """A magnitude on the way could overflow or underflow a double."""


class Polynomial(NamedTuple):
    """A line given directly as a tree (see `polynomial`): a `Check.source` for lines
    that have no SymPy expression (an update, a sum)."""

    tree: tuple


class FloatLine(NamedTuple):
    """A polynomial line in doubles: `value` of the operands; `extent` of the operands'
    largest and smallest nonzero magnitudes (checked by `in_range` first) gives (a bound
    on the magnitude of every product term added up, the smallest nonzero magnitude on
    the way), raising OutOfRange where a double could overflow or underflow;
    `roundings` bounds the roundings any product term goes through (see `assemble`)."""

    value: Doubles
    extent: Extent
    roundings: int


# --- compiling a line ----------------------------------------------------------------------

def float_line(source: object) -> FloatLine | None:
    """The line `source`, (expression, symbols) or a Polynomial, in doubles; None if it
    is not a polynomial line (then only the exact search decides)."""
    if source is None:
        return None
    if isinstance(source, Polynomial):
        return assembled(source.tree)
    expr, symbols = source  # type: ignore[misc]
    return _float_line(expr, symbols)


@lru_cache(maxsize=4096)  # an exam's variants and a layer's units share their formulas
def _float_line(expr: object, symbols: tuple) -> FloatLine | None:
    position = {s: i for i, s in enumerate(symbols)}
    try:
        if hasattr(expr, "terms") and hasattr(expr, "bias"):  # a LinearSum: w1 a1 + ... + b
            tree = ("add", tuple(("mul", (("in", position[w]), ("in", position[a])))
                                 for w, a in expr.terms)  # type: ignore[attr-defined]
                    + (("in", position[expr.bias]),))  # type: ignore[attr-defined]
        else:
            tree = polynomial(expr, position)
    except (KeyError, TypeError):
        return None
    return None if tree is None else assembled(tree)


@lru_cache(maxsize=4096)  # a gradient line a_i delta_j has the same tree for every i, j
def assembled(tree: tuple) -> FloatLine:
    value, extent, roundings = assemble(tree)
    return FloatLine(value, extent, roundings)


def polynomial(expr: object, position: dict) -> tuple | None:
    """`expr` as a small tree of ("in", i), ("const", c), ("add", parts), ("mul", parts),
    ("pow", base, n); None for anything else. The exact evaluator (numeric.build)
    gives these nodes exact Fraction arithmetic, so both compute the same number."""
    if getattr(expr, "is_Symbol", False):
        return ("in", position[expr])
    if getattr(expr, "is_Number", False):
        fixed = constant(expr)  # type: ignore[arg-type]
        return None if fixed is None else ("const", fixed)
    if getattr(expr, "is_Add", False) or getattr(expr, "is_Mul", False):
        parts = tuple(polynomial(arg, position) for arg in expr.args)  # type: ignore[attr-defined]
        if any(part is None for part in parts):
            return None
        return ("add" if expr.is_Add else "mul", parts)  # type: ignore[attr-defined]
    if getattr(expr, "is_Pow", False):
        base, exponent = expr.args  # type: ignore[attr-defined]
        inner = polynomial(base, position)
        if inner is None or not getattr(exponent, "is_Integer", False) or not 1 <= int(exponent) <= MAX_POWER:
            return None
        return ("pow", inner, int(exponent))
    return None


def assemble(tree: tuple) -> tuple[Doubles, Extent, int]:
    """(the value closure, the extent closure, the roundings) of a tree. The roundings
    bound how many a product term of the expanded line goes through: an operand's
    conversion 1; a product the sum of its factors' (each term is a product of one term
    of each) and one per multiplication; a sum, at most the sum of its parts' and one
    per addition; a power n times its base's and n - 1."""
    kind = tree[0]
    if kind == "in":  # (the operands' range is checked once, before any extent)
        i = tree[1]
        return (lambda v: v[i]), (lambda top, low: (top[i], low[i])), 1
    if kind == "const":
        c = float(tree[1])  # correctly rounded (int / int): one rounding
        size = abs(c)
        least = size if size else math.inf
        if size > TOP or least < BOTTOM:
            return (lambda v: c), out_of_range, 1
        return (lambda v: c), (lambda top, low: (size, least)), 1
    if kind == "pow":
        value, extent, roundings = assemble(tree[1])
        raised, extent_raised = power_closures(value, extent, tree[2])
        # each product term of b^n holds n of b's terms: their roundings n times over
        return raised, extent_raised, tree[2] * roundings + tree[2] - 1
    parts = [assemble(part) for part in tree[1]]
    values, extents = [p[0] for p in parts], [p[1] for p in parts]
    roundings = sum(p[2] for p in parts) + len(parts) - 1
    if kind == "add":
        dot = dot_terms(tree[1])
        if dot is not None:
            return dot_value(*dot), dot_extent(*dot), roundings
        return add_value(values), add_extent(extents), roundings
    if len(tree[1]) == 2 and all(part[0] == "in" for part in tree[1]):
        return pair_closures(tree[1][0][1], tree[1][1][1]) + (roundings,)
    return mul_value(values), mul_extent(extents), roundings


# The shapes most lines have, without a closure call per operand: a product a_i delta_j,
# and a dot product w1 a1 + ... + b (a forward line, the weighted deltas of a delta line).

def pair_closures(a: int, b: int) -> tuple[Doubles, Extent]:
    def extent(top: Sequence[float], low: Sequence[float]) -> tuple[float, float]:
        if low[a] == math.inf or low[b] == math.inf:  # a factor that is always 0
            return 0.0, math.inf
        return checked(top[a] * top[b], low[a] * low[b] * (1 - 2 * UNIT))
    return (lambda v: v[a] * v[b]), extent


def dot_terms(parts: tuple) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]] | None:
    """(the operand pairs multiplied, the operands added as they are), if the sum is
    made only of these."""
    pairs, singles = [], []
    for part in parts:
        if part[0] == "in":
            singles.append(part[1])
        elif part[0] == "mul" and len(part[1]) == 2 and all(p[0] == "in" for p in part[1]):
            pairs.append((part[1][0][1], part[1][1][1]))
        else:
            return None
    return tuple(pairs), tuple(singles)


def dot_value(pairs: tuple[tuple[int, int], ...], singles: tuple[int, ...]) -> Doubles:
    return lambda v: math.fsum([v[a] * v[b] for a, b in pairs] + [v[i] for i in singles])


def dot_extent(pairs: tuple[tuple[int, int], ...], singles: tuple[int, ...]) -> Extent:
    def extent(top: Sequence[float], low: Sequence[float]) -> tuple[float, float]:
        size, least = 0.0, math.inf
        for a, b in pairs:
            size += top[a] * top[b]
            if low[a] != math.inf and low[b] != math.inf and low[a] * low[b] < least:
                least = low[a] * low[b]
        for i in singles:
            size += top[i]
            least = min(least, low[i])
        # each product's own least is checked too: the sum's is below it
        return checked(size, least * (1 - 2 * UNIT) * NONZERO_SUM)
    return extent


def add_value(values: list[Doubles]) -> Doubles:
    return lambda v: math.fsum([part(v) for part in values])


def mul_value(values: list[Doubles]) -> Doubles:
    if len(values) == 2:
        first, second = values
        return lambda v: first(v) * second(v)
    return lambda v: math.prod([part(v) for part in values])


def power_closures(value: Doubles, extent: Extent, n: int) -> tuple[Doubles, Extent]:
    def raised(v: Sequence[float]) -> float:
        base = result = value(v)
        for _ in range(n - 1):  # multiplications: each one rounding, as counted
            result *= base
        return result

    def extent_raised(top: Sequence[float], low: Sequence[float]) -> tuple[float, float]:
        size, least = extent(top, low)
        try:
            return checked(size ** n, least ** n if least != math.inf else math.inf)
        except OverflowError:  # a float's ** raises where * gives inf
            raise OutOfRange from None
    return raised, extent_raised


def add_extent(extents: list[Extent]) -> Extent:
    def extent(top: Sequence[float], low: Sequence[float]) -> tuple[float, float]:
        sizes = [part(top, low) for part in extents]
        # a nonzero sum of doubles is a multiple of the least ulp among its terms
        return checked(math.fsum(s for s, _ in sizes), min(least for _, least in sizes) * NONZERO_SUM)
    return extent


def mul_extent(extents: list[Extent]) -> Extent:
    def extent(top: Sequence[float], low: Sequence[float]) -> tuple[float, float]:
        sizes = [part(top, low) for part in extents]
        if any(least == math.inf for _, least in sizes):  # a factor that is always 0
            return 0.0, math.inf
        return checked(math.prod(s for s, _ in sizes), math.prod(least for _, least in sizes) * (1 - 2 * UNIT))
    return extent


def in_range(top: list[float], low: list[float]) -> tuple[list[float], list[float]]:
    """The operands' magnitudes, checked once for every extent that reads them."""
    if not max(top, default=0.0) <= TOP or min(low, default=math.inf) < BOTTOM:
        raise OutOfRange
    return top, low


def checked(size: float, least: float) -> tuple[float, float]:
    if not size <= TOP or least < BOTTOM:  # `not <=` also catches nan
        raise OutOfRange
    return size, least


def out_of_range(top: Sequence[float], low: Sequence[float]) -> tuple[float, float]:
    raise OutOfRange


# --- screening the candidates ---------------------------------------------------------

def contenders(line: FloatLine, current: Sequence[Fraction], full: dict[int, Fraction],
               candidates: Sequence[int]) -> list[int]:
    """The candidates that may have the largest impact, in their order: the line's
    operands as shown now (`current`) and candidate i's value in full (`full[i]`).

    A candidate is left out only where its impact is, for certain, below another's; so
    the first largest exact impact among those returned is the first largest of all.
    Where the doubles cannot be trusted (a value out of range), every candidate is
    returned.
    """
    try:
        now = doubles(current)
        fulls = dict(zip(candidates, doubles([full[i] for i in candidates])))
    except OverflowError:
        return list(candidates)
    top, low = magnitudes(now, current)
    for i, x in fulls.items():
        top[i] = max(top[i], abs(x))
        low[i] = min(low[i], abs(x) if x else least_of(full[i]))
    try:
        size, _ = line.extent(*in_range(top, low))
    except OutOfRange:
        return list(candidates)
    # every double redo is within `error` of the exact one (the classical bound, gamma_n)
    n = line.roundings
    error = SAFETY * (n * UNIT / (1 - n * UNIT) * size + MP_SLACK * size)
    base = line.value(now)
    impacts = []
    for i in candidates:
        kept, now[i] = now[i], fulls[i]
        impacts.append(abs(line.value(now) - base))
        now[i] = kept
    spread = [2 * error + SAFETY * UNIT * impact for impact in impacts]  # two redos, then the difference
    floor = max(impact - s for impact, s in zip(impacts, spread))
    return [i for i, impact, s in zip(candidates, impacts, spread) if impact + s >= floor]


def landing(line: FloatLine, current: Sequence[Fraction], goal: float, unit: float) -> bool | None:
    """Whether the line redone exactly from `current` lands within `unit` of `goal` (the
    nearest doubles to the shown result and its last unit): True or False where the
    doubles settle it for certain, None where only the exact redo can."""
    try:
        now = doubles(current)
        size, _ = line.extent(*in_range(*magnitudes(now, current)))
    except (OverflowError, OutOfRange):
        return None
    n = line.roundings
    # the redo's rounding, then the goal's and the unit's (each the nearest double)
    error = SAFETY * (n * UNIT / (1 - n * UNIT) * size + UNIT * (abs(goal) + unit))
    miss = abs(line.value(now) - goal)
    slack = error + SAFETY * UNIT * miss
    if miss + slack < unit * (1 - SAFETY * UNIT):
        return True
    if miss - slack > unit * (1 + SAFETY * UNIT):
        return False
    return None


def doubles(values: Sequence[Fraction]) -> list[float]:
    """Fractions as the nearest doubles (int / int is correctly rounded); OverflowError
    beyond a double's range."""
    return [x.numerator / x.denominator for x in values]


def magnitudes(now: list[float], exact: Sequence[Fraction]) -> tuple[list[float], list[float]]:
    """Each operand's magnitude, and its smallest nonzero one: infinite for an exact 0,
    and 0 for a nonzero value a double rounds to 0 (which in_range refuses)."""
    top = [abs(x) for x in now]
    return top, [size if size else least_of(x) for size, x in zip(top, exact)]


def least_of(value: Fraction) -> float:
    return math.inf if value == 0 else 0.0
