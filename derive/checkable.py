"""Every line can be redone: how many digits a line's operands show.

In the exact policy every value is carried in full precision and shown rounded, so a
line redone from its shown operands can miss its shown result: seven factors each
rounded to four figures drift by more than the result's last digit. Rather than show
every value everywhere with more digits, each line is checked here as a student would
redo it, from the operands as they will print; where the result does not follow to
within one unit of its last shown digit, the operand whose rounding moves the result
most is shown with one more digit (the same value, rounded less), until it follows.

By hand (the by-hand policy) every result is computed from the shown operands in the
first place (derive.evaluate), so no line needs this.
"""
from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Callable, NamedTuple, Sequence

import mpmath
import sympy

from .floatcheck import FloatLine, Polynomial, contenders, float_line, landing
from .numeric import Value, compile_numeric, inexact, product, total
from .rounding import in_full, is_rounded, last_place, rounded

MAX_EXTRA = 12  # digits beyond --digits; enough for any line a double's precision supports
CHECK_BITS = 160  # the recomputation's working precision for exp, log, tanh
Compute = Callable[[list[Value]], Value]


class Operand(NamedTuple):
    """A number shown with `extra` more digits than the page's rule gives it, because a
    line it is an operand of needs them to be redone."""

    value: object
    extra: int


class Check(NamedTuple):
    """One result that must follow from the operands: `compute` of them lands within one
    unit of the last digit of `result` as shown (a number, or an Operand). `source`, what
    `compute` evaluates ((expression, symbols), or a floatcheck.Polynomial), lets the
    search settle most of its questions in doubles (derive.floatcheck); without it every
    redo is exact."""

    compute: Compute
    result: object
    source: object = None


# A shown decimal beyond 10^+-EXTREME (a saturated unit's e^-1000000) is redone in
# mpmath: as a Fraction its power of ten alone would be an integer of a million digits.
EXTREME = 1000


def shown_value(value: object, digits: int) -> Value:
    """The value exactly as it prints at `digits` (an Operand: with its extra digits)."""
    if isinstance(value, Operand):
        return shown_value(value.value, digits + value.extra)
    if is_rounded(value) and abs(value.shown.adjusted()) <= EXTREME:  # type: ignore[attr-defined]
        return value
    return _shown_value(value, digits)


@lru_cache(maxsize=65536, typed=True)
def _shown_value(value: object, digits: int) -> Value:
    return exactly(rounded(value, digits)[0])  # type: ignore[arg-type]


def exactly(shown: Decimal) -> Value:
    """A shown decimal as a number to compute with: a Fraction, or (beyond EXTREME) an
    mpf at the check's working precision."""
    if abs(shown.adjusted()) > EXTREME:
        with mpmath.workprec(CHECK_BITS):
            return mpmath.mpf(str(shown))
    return Fraction(shown)


def target(result: object, digits: int) -> tuple[Value, Value]:
    """(the result as shown, one unit of its last shown digit)."""
    shown = shown_result(result, digits)
    return exactly(shown), exactly(last_place(shown))


def shown_result(result: object, digits: int) -> Decimal:
    """The result as it prints (an Operand: with its extra digits)."""
    if isinstance(result, Operand):
        return shown_result(result.value, digits + result.extra)
    return rounded(result, digits)[0]  # type: ignore[arg-type]


NEAR = 300  # a shown decimal within 10^+-NEAR is a normal double, and so is its last unit
NOT_YET = object()  # a redo not made: the doubles settled the check without it


class Goal:
    """A check's result as shown, exactly (target) and as the nearest doubles, each
    made when first needed: most checks are settled in doubles."""

    def __init__(self, result: object, digits: int) -> None:
        self.shown = shown_result(result, digits)
        self._exact: tuple[Value, Value] | None = None
        self._doubles: object = NOT_YET

    @property
    def exact(self) -> tuple[Value, Value]:
        if self._exact is None:
            self._exact = exactly(self.shown), exactly(last_place(self.shown))
        return self._exact

    @property
    def doubles(self) -> tuple[float, float] | None:
        """(the shown result, its last unit) as the nearest doubles (a Decimal's float is
        correctly rounded); None beyond NEAR."""
        if self._doubles is NOT_YET:
            place = self.shown.as_tuple().exponent
            if abs(self.shown.adjusted()) > NEAR or not -NEAR <= place <= NEAR:  # type: ignore[operator]
                self._doubles = None
            else:
                self._doubles = float(self.shown), unit_double(place)  # type: ignore[arg-type]
        return self._doubles  # type: ignore[return-value]


@lru_cache(maxsize=None)  # at most 2 NEAR + 1 places
def unit_double(place: int) -> float:
    """10^place as the nearest double."""
    return float(Decimal(1).scaleb(place))


def extra_digits(checks: Sequence[Check], operands: Sequence[object], digits: int,
                 start: Sequence[int] | None = None) -> tuple[int, ...]:
    """Extra digits per operand, as few as needed for every check to hold.

    Greedy: while a check fails, the operand whose rounding moves that check's result
    most gets one more digit. Usually one operand carries the error (a sigma' of
    0.000169 among four-figure factors), and only it shows more digits.
    """
    extras = list(start) if start is not None else [0] * len(operands)
    open_ = [i for i, v in enumerate(operands) if in_full(v, digits) is None]
    if not open_:
        return tuple(extras)
    goals = [Goal(check.result, digits) for check in checks]
    lines = [float_line(check.source) for check in checks]
    shown = Shown(operands, digits)
    with mpmath.workprec(CHECK_BITS):
        for _ in range(len(open_) * MAX_EXTRA + 1):
            failing, now = first_failing(checks, lines, goals, shown, extras)
            candidates = [i for i in open_ if extras[i] < MAX_EXTRA]
            if failing is None or not candidates:
                break
            check, line = checks[failing], lines[failing]
            extras[most_moving(check, line, now, shown, extras, candidates)] += 1
    return tuple(extras)


# Where a check's line is a polynomial in exact operands (derive.floatcheck), the search
# below settles what it can in doubles, with an error bound that makes each answer
# certain, and redoes the line exactly only where the doubles cannot tell: whether it
# lands, and which operand's rounding moves it most, are always what the exact redo says.

def first_failing(checks: Sequence[Check], lines: Sequence[FloatLine | None], goals: Sequence[Goal],
                  shown: Shown, extras: Sequence[int]) -> tuple[int | None, object]:
    """The first check that does not land, with its exact redo (NOT_YET where the doubles
    settled that it misses); (None, None) when all land. The search goes on from that
    redo: it is not done twice."""
    for k, (check, line, goal) in enumerate(zip(checks, lines, goals)):
        verdict = screened_landing(line, goal, shown, extras)
        if verdict is True:
            continue
        if verdict is False:
            return k, NOT_YET
        redone = shown.redo(check.compute, extras)
        if not lands(redone, *goal.exact):
            return k, redone
    return None, None


def screened_landing(line: FloatLine | None, goal: Goal, shown: Shown, extras: Sequence[int]) -> bool | None:
    if line is None:
        return None
    doubles = goal.doubles
    current = shown.values(extras)
    if doubles is None or not shown.exact:
        return None
    return landing(line, current, *doubles)  # type: ignore[arg-type]


def most_moving(check: Check, line: FloatLine | None, now: object, shown: Shown, extras: list[int],
                candidates: list[int]) -> int:
    """The candidate whose rounding moves the check's result most, the first of equal
    ones: screened in doubles first, and only those the doubles cannot rank are
    compared exactly."""
    if line is not None:
        current = shown.values(extras)
        full = {i: shown.value(i, MAX_EXTRA) for i in candidates}
        if shown.exact:
            candidates = contenders(line, current, full, candidates)  # type: ignore[arg-type]
            if len(candidates) == 1:
                return candidates[0]
    if now is NOT_YET:
        now = shown.redo(check.compute, extras)
    return max(candidates, key=lambda i: shown.impact(check.compute, now, extras, i))  # type: ignore[arg-type]


def lands(redone: Value | None, goal: Value, unit: Value) -> bool:
    if redone is None:
        return False
    if isinstance(redone, Fraction) and isinstance(goal, Fraction) and isinstance(unit, Fraction):
        return abs(redone - goal) <= unit
    return abs(inexact(redone) - inexact(goal)) <= inexact(unit)


class Shown:
    """The operands of one line as they print, at each number of extra digits (each
    rounding done once: the greedy search redoes the line many times)."""

    def __init__(self, operands: Sequence[object], digits: int) -> None:
        self.operands, self.digits = operands, digits
        self.cache: dict[int, Value] = {}
        self.exact = True  # every value shown so far is a Fraction (none beyond EXTREME)

    def value(self, i: int, extra: int) -> Value:
        key = i * (MAX_EXTRA + 1) + extra
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = shown_value(self.operands[i], self.digits + extra)
            self.exact = self.exact and isinstance(found, Fraction)
        return found

    def values(self, extras: Sequence[int]) -> list[Value]:
        return [self.value(i, e) for i, e in enumerate(extras)]

    def redo(self, compute: Compute, extras: Sequence[int]) -> Value | None:
        """The line redone from its shown operands; None where they cannot be computed
        with (log(1 - a) with a shown as 1.00)."""
        try:
            redone = compute(self.values(extras))
        except (ArithmeticError, ValueError):
            return None
        if not isinstance(redone, Fraction) and (isinstance(redone, mpmath.mpc)
                                                 or not mpmath.isfinite(redone)):
            return None
        return redone

    def impact(self, compute: Compute, now: Value | None, extras: list[int], i: int) -> mpmath.mpf:
        """How far the result moves when operand i is shown in (nearly) full precision:
        the error its rounding brings into the line (ties to the first operand)."""
        kept, extras[i] = extras[i], MAX_EXTRA
        full = self.redo(compute, extras)
        extras[i] = kept
        if now is None or full is None:  # an operand shown too coarsely to compute with at all
            return mpmath.inf if full is not None else mpmath.mpf(0)
        return abs(inexact(now) - inexact(full))


def marked(operands: Sequence[object], extras: Sequence[int]) -> tuple[object, ...]:
    """The operands as they print: each with its extra digits, if any."""
    return tuple(Operand(v, e) if e else v for v, e in zip(operands, extras))


# --- the kinds of line -------------------------------------------------------------------

def sum_line(numbers: Sequence[object], result: object, digits: int,
             scale: Fraction = Fraction(1)) -> tuple[object, ...]:
    """Values (path values, terms) added up, and multiplied by `scale` (a batch's 1/m)."""
    def compute(v: list[Value]) -> Value:
        return product((scale, total(v)))
    tree = ("mul", (("const", scale), ("add", tuple(("in", i) for i in range(len(numbers))))))
    return marked(numbers, extra_digits([Check(compute, result, Polynomial(tree))], numbers, digits))


def paths_block(paths: Sequence[Sequence[object]], values: Sequence[object], result: object,
                digits: int) -> tuple[tuple[object, ...], ...]:
    """A gradient's chain-rule paths: each product lands on its path value as shown (an
    Operand where the sum line after them needs it), and, with several paths, the
    products added up land on the gradient too (a student may add them without writing
    each path value down).

    Paths share no printed factor, so each is settled on its own first: the cost grows
    with the paths, not with their square. Where the products' sum still misses, the
    path whose rounding errs most gets one more digit on its most erring factor, until
    the sum lands.
    """
    extras = [list(product_extras(path, value, digits)) for path, value in zip(paths, values)]
    if len(paths) > 1:
        changed = settle_sum(paths, extras, result, digits)
        for k in changed:  # a digit more can undo a lucky cancellation: each path again
            extras[k] = list(extra_digits([product_check(values[k], len(paths[k]))], paths[k], digits,
                                          extras[k]))
    return tuple(marked(path, e) for path, e in zip(paths, extras))


def path_product(v: list[Value]) -> Value:
    return product(v)


def product_check(value: object, count: int) -> Check:
    """A path's product of `count` factors landing on `value` (screened in doubles)."""
    return Check(path_product, value, product_polynomial(count) if count else None)


@lru_cache(maxsize=64)
def product_polynomial(count: int) -> Polynomial:
    return Polynomial(("mul", tuple(("in", i) for i in range(count))))


@lru_cache(maxsize=256)
def sum_of_products(lengths: tuple[int, ...]) -> Polynomial:
    """Products of consecutive operands (paths of these lengths), added up."""
    starts = [sum(lengths[:k]) for k in range(len(lengths))]
    return Polynomial(("add", tuple(("mul", tuple(("in", start + i) for i in range(length)))
                                    for start, length in zip(starts, lengths))))


def product_extras(factors: Sequence[object], value: object, digits: int) -> tuple[int, ...]:
    """extra_digits for one product line, searched in doubles (a path has a handful of
    factors and the search redoes it many times) and confirmed exactly once; where the
    doubles cannot decide, or the confirmation fails, the exact search takes over."""
    goal, unit = (double(x) for x in target(value, digits))
    shown = Shown(factors, digits)
    open_ = [i for i, v in enumerate(factors) if in_full(v, digits) is None]
    extras = [0] * len(factors)

    floats: dict[tuple[int, int], float] = {}  # each factor's double, at each number of digits

    def factor(i: int, extra: int) -> float:
        found = floats.get((i, extra))
        if found is None:
            found = floats[(i, extra)] = double(shown.value(i, extra))
        return found

    def redo(e: Sequence[int]) -> float:
        return math.prod(factor(i, x) for i, x in enumerate(e))

    for _ in range(len(open_) * MAX_EXTRA + 1):
        now = redo(extras)
        if not (math.isfinite(now) and math.isfinite(goal)) or unit <= 1e-9 * abs(now):
            break  # beyond what a double can decide: the exact search
        if abs(now - goal) <= unit:
            break
        candidates = [i for i in open_ if extras[i] < MAX_EXTRA]
        if not candidates:
            break

        def impact(i: int) -> float:
            trial = list(extras)
            trial[i] = MAX_EXTRA
            return abs(redo(trial) - now)
        extras[max(candidates, key=impact)] += 1

    now = redo(extras)
    if math.isfinite(now) and abs(now - goal) + 1e-12 * abs(now) < unit:
        return tuple(extras)  # lands with room to spare for the doubles' rounding
    return extra_digits([product_check(value, len(factors))], factors, digits, extras)


def double(value: Value) -> float:
    """A value as a double; beyond a double's range, infinite (the doubles then give up
    and the exact search decides)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def settle_sum(paths: Sequence[Sequence[object]], extras: list[list[int]], result: object,
               digits: int) -> set[int]:
    """More digits (in `extras`) until the paths' products add up to `result` as shown;
    the paths that got some."""
    changed: set[int] = set()
    goal = Goal(result, digits)
    shown = [Shown(path, digits) for path in paths]
    full = [[MAX_EXTRA] * len(path) for path in paths]
    lengths = tuple(len(path) for path in paths)
    line = float_line(sum_of_products(lengths)) if all(lengths) else None
    exact: list[Value | None] | None = None  # the products in full, when first needed
    with mpmath.workprec(CHECK_BITS):
        for _ in range(sum(len(path) for path in paths) * MAX_EXTRA):
            verdict = screened_sum(line, goal, shown, extras)
            if verdict is True:  # (exact operands: no redo below could be None)
                return changed
            if exact is None:
                exact = [s.redo(product, f) for s, f in zip(shown, full)]
            now = [s.redo(product, e) for s, e in zip(shown, extras)]
            if any(n is None for n in now) or any(x is None for x in exact):
                return changed
            if verdict is None and lands(total(now), *goal.exact):  # type: ignore[arg-type]
                return changed
            errors = [abs(inexact(n) - inexact(x)) for n, x in zip(now, exact)]  # type: ignore[arg-type]
            worst = max(range(len(paths)), key=lambda k: errors[k])
            candidates = [i for i in range(len(paths[worst])) if extras[worst][i] < MAX_EXTRA
                          and in_full(paths[worst][i], digits) is None]
            if not candidates:
                return changed
            pick = max(candidates, key=lambda i: shown[worst].impact(product, now[worst], extras[worst], i))
            extras[worst][pick] += 1
            changed.add(worst)
    return changed


def screened_sum(line: FloatLine | None, goal: Goal, shown: list[Shown], extras: list[list[int]]) -> bool | None:
    """Whether the paths' products as shown add up to the goal, where the doubles settle
    it (every operand shown exactly, as a Fraction); None where only the exact sum can."""
    current = [value for s, e in zip(shown, extras) for value in s.values(e)]
    doubles = goal.doubles
    if line is None or doubles is None or not all(s.exact for s in shown):
        return None
    return landing(line, current, *doubles)  # type: ignore[arg-type]


UPDATE = Polynomial(("add", (("in", 0), ("mul", (("const", Fraction(-1)), ("in", 1), ("in", 2))))))


def update_line(old: object, eta: object, gradient: object, new: object,
                digits: int) -> tuple[object, object]:
    """theta - eta * gradient: (old, gradient) as they print (eta is given, in full)."""
    def compute(v: list[Value]) -> Value:
        return total((v[0], -product((v[1], v[2]))))
    extras = extra_digits([Check(compute, new, UPDATE)], (old, eta, gradient), digits)
    old_shown, _, gradient_shown = marked((old, eta, gradient), extras)
    return old_shown, gradient_shown


def formula_line(expr: object, values: dict[sympy.Symbol, object], result: object,
                 digits: int) -> dict[sympy.Symbol, object]:
    """A formula with numbers substituted (`values` by symbol): the values as they print."""
    symbols = tuple(values)
    numbers = [values[s] for s in symbols]
    if any(isinstance(n, sympy.Symbol) for n in numbers):
        return values
    source = (expr, symbols)
    # a polynomial line is mostly settled in doubles: its exact evaluator is made only if
    # needed (any other is made now, so that a formula it cannot evaluate fails here)
    compute = Lazily(expr, symbols) if float_line(source) is not None else evaluator(expr, symbols)
    extras = extra_digits([Check(compute, result, source)], numbers, digits)
    return dict(zip(symbols, marked(numbers, extras)))


class Lazily:
    """evaluator(expr, symbols), made when first called."""

    __slots__ = ("expr", "symbols", "made")

    def __init__(self, expr: object, symbols: tuple[sympy.Symbol, ...]) -> None:
        self.expr, self.symbols, self.made = expr, symbols, None

    def __call__(self, values: list[Value]) -> Value:
        if self.made is None:
            self.made = evaluator(self.expr, self.symbols)
        return self.made(values)


@lru_cache(maxsize=4096)
def evaluator(expr: object, symbols: tuple[sympy.Symbol, ...]) -> Compute:
    """`expr` (a SymPy expression, or anything with `terms` and `bias`: a LinearSum) as a
    function of the values of `symbols`, in order."""
    if hasattr(expr, "terms") and hasattr(expr, "bias"):
        position = {s: i for i, s in enumerate(symbols)}
        pairs = [(position[w], position[a]) for w, a in expr.terms]  # type: ignore[attr-defined]
        bias = position[expr.bias]  # type: ignore[attr-defined]
        return lambda v: total([product((v[w], v[a])) for w, a in pairs] + [v[bias]])
    function = compile_numeric(symbols, expr)  # type: ignore[arg-type]
    return lambda v: function(*v)
