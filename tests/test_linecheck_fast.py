"""The line checker's digit search screened in doubles (derive.floatcheck) chooses
exactly what the plain exact search chooses.

Checked four ways, each against something the screening does not use itself:
- a line redone in doubles lies within the error bound the screening relies on, the
  exact value being SymPy's own rational arithmetic;
- a landing the doubles settle is the one |redo - goal| <= unit gives in Fractions,
  goals on and next to the boundary included;
- the candidates kept always include the first largest impact, and every one dropped
  has an impact below it, the impacts being computed here in Fractions;
- the whole search, update and sum lines, and whole answer keys come out the same with
  the screening and without it (the plain search, every redo exact).

The values are teacher-like (one or two decimals, exact zeros, equal weights and equal
deltas, so exact ties), random, and hostile (cancellation, magnitudes near a double's
limits and beyond them, values only mpmath can hold).
"""
from __future__ import annotations

import math
import random
from fractions import Fraction

import mpmath
import pytest
import sympy

from derive import checkable
from derive.api import document
from derive.checkable import MAX_EXTRA, Check, evaluator, extra_digits, shown_value, sum_line, update_line
from derive.floatcheck import UNIT, OutOfRange, contenders, float_line, in_range, landing
from derive.forms import Options
from derive.mathnodes import LinearSum
from derive.numeric import product, total, value_of
from derive.rounding import Given, in_full

A, Z = sympy.symbols("a z")
W = sympy.symbols("w1:21")
D = sympy.symbols("d1:21")
X = sympy.symbols("x1:9")


# --- lines and values -------------------------------------------------------------------

def delta_line(n: int) -> tuple[object, tuple]:
    """sigma'(z) written a (1 - a), times the weighted deltas flowing back: a delta line."""
    expr = sympy.Mul(sympy.Mul(A, 1 - A, evaluate=False),
                     sympy.Add(*[w * d for w, d in zip(W[:n], D[:n])], evaluate=False), evaluate=False)
    return expr, (A,) + tuple(W[:n]) + tuple(D[:n])


def linear_line(n: int) -> tuple[object, tuple]:
    """w1 a1 + ... + b, as the forward pass writes it."""
    return LinearSum(tuple(zip(W[:n], D[:n])), Z), tuple(W[:n]) + tuple(D[:n]) + (Z,)


def random_polynomial(rng: random.Random, symbols: tuple, depth: int = 3) -> sympy.Expr:
    """Sums, products, whole powers and the constants formulas hold (1/2, 0.01, -1, 3)."""
    if depth == 0 or rng.random() < 0.25:
        if rng.random() < 0.8:
            return rng.choice(symbols)
        return rng.choice([sympy.Rational(1, 2), sympy.Float(0.01), sympy.Integer(-1), sympy.Integer(3)])
    kind = rng.choice(["add", "mul", "pow"])
    if kind == "pow":
        return sympy.Pow(random_polynomial(rng, symbols, depth - 1), rng.randint(2, 3), evaluate=False)
    parts = [random_polynomial(rng, symbols, depth - 1) for _ in range(rng.randint(2, 4))]
    return (sympy.Add if kind == "add" else sympy.Mul)(*parts, evaluate=False)


def teacher(rng: random.Random) -> Given:
    return Given.of(round(rng.uniform(-1, 1), rng.choice([1, 2])) + 0.0)


def computed(rng: random.Random, hostile: bool) -> object:
    """A value the rule rounds: a float or an mpf (as derive computes them), now and
    then a Fraction with no end (1/3), or a magnitude near or beyond a double's limits."""
    if hostile and rng.random() < 0.35:
        return rng.choice([1e-200, -3.7e-160, 5e-324, 1.5e300, -2.2e250, 7.1e-310,
                           mpmath.mpf("1e-2000"), mpmath.mpf("-3e1500"), 1 - 1e-15, 0.99999999999,
                           Fraction(1, 3), Fraction(-2, 7)])
    magnitude = 10.0 ** rng.uniform(-6, 3) if rng.random() < 0.5 else 1.0
    value = rng.uniform(-1, 1) * magnitude
    return mpmath.mpf(value) if rng.random() < 0.3 else value


def operand_values(rng: random.Random, symbols: tuple, hostile: bool) -> list[object]:
    """Weights (w...) and the bias given by the teacher; the rest computed. Some deltas
    repeat an earlier one and some weights are equal or 0, so impacts tie exactly."""
    values: list[object] = []
    for s in symbols:
        name = str(s)
        if name.startswith("w") or name == "z" or (name.startswith("x") and rng.random() < 0.3):
            value: object = Given(0) if rng.random() < 0.15 else teacher(rng)
            if values and rng.random() < 0.3:
                value = rng.choice([v for v in values if isinstance(v, Given)] or [value])
        else:
            value = computed(rng, hostile)
            if name.startswith("d") and values and rng.random() < 0.3:
                value = rng.choice(values)
        values.append(value)
    return values


def cancelling(values: list[object], symbols: tuple) -> list[object]:
    """The deltas made to nearly cancel in the weighted sum (d_n offsets the rest)."""
    ws = [i for i, s in enumerate(symbols) if str(s).startswith("w")]
    ds = [i for i, s in enumerate(symbols) if str(s).startswith("d")]
    if len(ds) < 2 or values[ws[-1]] == 0:
        return values
    numbers = [v if isinstance(v, Fraction) else float(v) for v in values]  # type: ignore[arg-type]
    if not all(math.isfinite(v) for v in numbers):
        return values
    rest = sum(Fraction(numbers[w]) * Fraction(numbers[d]) for w, d in zip(ws[:-1], ds[:-1]))
    values[ds[-1]] = float(-rest / Fraction(numbers[ws[-1]])) * (1 + 1e-13)
    return values


def exactly(expr: object, symbols: tuple, values: list[Fraction]) -> Fraction:
    """The line's value by SymPy's rational arithmetic (not derive's evaluator)."""
    if isinstance(expr, LinearSum):
        expr = sympy.Add(*[w * a for w, a in expr.terms], expr.bias)
    expr = sympy.sympify(expr)
    # a 0.01 in a formula is the decimal 1/100 (as derive reads it), not a binary float
    expr = expr.xreplace({f: sympy.Rational(str(f)) for f in expr.atoms(sympy.Float)})
    exact = expr.xreplace({s: sympy.Rational(v.numerator, v.denominator) for s, v in zip(symbols, values)})
    exact = exact.doit()  # powers left unevaluated
    assert exact.is_Rational, exact
    return Fraction(int(exact.p), int(exact.q))


def cases(seed: int, count: int, hostile: bool) -> list[tuple[object, tuple, list[object], int]]:
    """(expression, symbols, operand values, digits) for `count` lines."""
    rng = random.Random(seed)
    out = []
    for k in range(count):
        shape = k % 5
        if shape == 0:
            expr, symbols = delta_line(rng.randint(1, 20))
        elif shape == 1:
            expr, symbols = sympy.Mul(A, D[0], evaluate=False), (A, D[0])  # a gradient line
        elif shape == 2:
            expr, symbols = linear_line(rng.randint(1, 12))
        else:
            symbols = tuple(rng.sample(X, rng.randint(1, 6)))
            expr = random_polynomial(rng, symbols)
            symbols = tuple(s for s in symbols if s in sympy.sympify(expr).free_symbols) or symbols[:1]
            if not sympy.sympify(expr).free_symbols:
                continue
        values = operand_values(rng, symbols, hostile)
        if shape == 0 and rng.random() < 0.3:
            values = cancelling(values, symbols)
        out.append((expr, symbols, values, rng.choice([2, 3, 4])))
    return out


def line_result(expr: object, symbols: tuple, values: list[object]) -> object | None:
    """The line's true result, as derive computes it from the unrounded operands."""
    with mpmath.workprec(checkable.CHECK_BITS):
        try:
            result = evaluator(expr, symbols)(values)
        except Exception:  # noqa: BLE001 - a hostile value the line has no result for
            return None
    if not isinstance(result, Fraction) and not mpmath.isfinite(result):
        return None
    return result


# --- the error bound --------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_a_line_in_doubles_is_within_the_bound_the_screening_uses(seed: int) -> None:
    checked = 0
    for expr, symbols, values, digits in cases(seed, 60, hostile=seed % 2 == 1):
        line = float_line((expr, symbols))
        assert line is not None, expr
        shown = [shown_value(v, digits) for v in values]
        if not all(isinstance(v, Fraction) for v in shown):
            continue  # an mpf operand: the screening is not used (checked below)
        doubles = [v.numerator / v.denominator if abs(v) < 10 ** 300 else math.inf for v in shown]
        sizes = [abs(d) for d in doubles]
        lows = [abs(d) if v else math.inf for d, v in zip(doubles, shown)]
        try:
            size, _ = line.extent(*in_range(sizes, lows))
        except OutOfRange:
            continue
        exact = exactly(expr, symbols, shown)
        n = line.roundings
        bound = n * UNIT / (1 - n * UNIT) * size  # without the screening's safety factor
        assert abs(Fraction(line.value(doubles)) - exact) <= Fraction(bound), (expr, shown)
        checked += 1
    assert checked >= 25


def test_lines_that_are_no_polynomial_are_not_screened() -> None:
    x, y = X[0], X[1]
    for expr in (sympy.exp(x) * y, 1 / (1 + sympy.exp(-x)), x / y, sympy.sqrt(x) + y, x ** 9,
                 sympy.Max(0, x) * y, sympy.Piecewise((x, x > 0), (0, True)) * y, sympy.pi * x):
        assert float_line((expr, (x, y))) is None, expr
    assert float_line((x ** 2 * y - sympy.Rational(1, 3), (x, y))) is not None
    assert float_line((LinearSum(((W[0], D[0]),), Z), (W[0], D[0], Z))) is not None
    assert float_line(None) is None


def test_values_out_of_a_doubles_range_screen_nothing() -> None:
    expr, symbols = delta_line(2)
    line = float_line((expr, symbols))
    for tiny in (Fraction(1, 10 ** 320), Fraction(1, 10 ** 160)):  # a double's 0 / an underflowing product
        current = [Fraction(1, 2), tiny, tiny, tiny, tiny]
        full = {3: tiny * 2, 4: tiny * 3, 0: Fraction(1, 3)}
        assert contenders(line, current, full, [0, 3, 4]) == [0, 3, 4]
    huge = Fraction(10 ** 310)
    assert contenders(line, [Fraction(1, 2), Fraction(1), Fraction(1), huge, Fraction(1)],
                      {3: huge + 1, 0: Fraction(1, 3)}, [0, 3]) == [0, 3]


# --- whether a line lands ---------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_a_landing_settled_in_doubles_is_the_exact_one(seed: int) -> None:
    """Against the exact |redo - goal| <= unit, goals on and next to the boundary too."""
    settled = undecided = 0
    for expr, symbols, values, digits in cases(300 + seed, 50, hostile=seed % 2 == 1):
        line = float_line((expr, symbols))
        shown = [shown_value(v, digits) for v in values]
        if not all(isinstance(v, Fraction) for v in shown):
            continue
        exact = exactly(expr, symbols, shown)
        for places in (1, 4, 9, 14):
            unit = Fraction(1, 10 ** places)
            for goal in (exact, exact + unit, exact - unit, exact + unit * Fraction(1000001, 1000000),
                         exact - unit * Fraction(999999, 1000000), exact + 3 * unit, exact + unit / 3,
                         round(exact / unit) * unit):
                if abs(goal) > 10 ** 300:
                    continue  # derive never asks the doubles about a goal beyond their range
                verdict = landing(line, shown, float(goal), float(unit))  # type: ignore[arg-type]
                if verdict is None:
                    undecided += 1
                    continue
                assert verdict == (abs(exact - goal) <= unit), (expr, shown, goal, unit)
                settled += 1
    assert settled > 400 and undecided  # the doubles settle many; the boundary ones they leave


def test_a_result_exactly_one_unit_off_is_left_to_the_exact_redo() -> None:
    expr, symbols = delta_line(2)
    values = [Fraction(1, 4), Fraction(1, 2), Fraction(1, 2), Fraction(3, 10), Fraction(1, 10)]
    line = float_line((expr, symbols))
    exact = Fraction(3, 16) * (Fraction(3, 20) + Fraction(1, 20))  # 0.0375
    assert landing(line, values, 0.0376, 0.0001) is None  # |0.0375 - 0.0376| = 0.0001: lands, just
    assert landing(line, values, 0.0375, 0.0001) is True and exact == Fraction(375, 10000)
    assert landing(line, values, 0.0378, 0.0001) is False


# --- the candidates kept ----------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_the_first_largest_impact_is_always_kept(seed: int) -> None:
    screened = 0
    for expr, symbols, values, digits in cases(100 + seed, 40, hostile=seed % 2 == 1):
        line = float_line((expr, symbols))
        open_ = [i for i, v in enumerate(values) if in_full(v, digits) is None]
        rng = random.Random(seed)
        extras = [rng.choice([0, 0, 1, 2]) for _ in values]
        current = [shown_value(v, digits + e) for v, e in zip(values, extras)]
        full = {i: shown_value(values[i], digits + MAX_EXTRA) for i in open_}
        if len(open_) < 2 or not all(isinstance(v, Fraction) for v in current + list(full.values())):
            continue
        now = exactly(expr, symbols, current)
        impacts = {}
        for i in open_:
            trial = list(current)
            trial[i] = full[i]
            impacts[i] = abs(exactly(expr, symbols, trial) - now)
        first = max(open_, key=lambda i: impacts[i])
        kept = contenders(line, current, full, open_)
        assert first in kept
        assert kept == [i for i in open_ if i in kept]  # in their order
        assert all(impacts[i] < impacts[first] for i in open_ if i not in kept)
        ties = [i for i in open_ if impacts[i] == impacts[first]]
        assert all(i in kept for i in ties)  # an exact tie is left to the exact impacts
        screened += len(kept) < len(open_)
    assert screened >= 8  # the doubles do decide, often


def test_equal_weights_and_deltas_tie_and_are_decided_exactly() -> None:
    expr, symbols = delta_line(3)
    w = Given.of(0.5)
    delta = Fraction(123457, 1000000)  # shown as 0.1235 at 4 digits: the same error twice
    values = [0.25, w, w, Given.of(0.3), delta, delta, 0.3]
    current = [shown_value(v, 4) for v in values]
    full = {i: shown_value(values[i], 4 + MAX_EXTRA) for i in (0, 4, 5, 6)}
    kept = contenders(float_line((expr, symbols)), current, full, [4, 5])
    assert kept == [4, 5]
    assert extra_digits([Check(evaluator(expr, symbols), Fraction(1, 7), (expr, symbols))], values, 4) \
        == extra_digits([Check(evaluator(expr, symbols), Fraction(1, 7))], values, 4)


# --- the whole search -------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(10))
def test_the_search_chooses_the_same_digits_with_and_without_screening(seed: int,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    real = checkable.contenders

    def counted(line, current, full, candidates):  # type: ignore[no-untyped-def]
        kept = real(line, current, full, candidates)
        calls.append((len(candidates), len(kept)))
        return kept
    monkeypatch.setattr(checkable, "contenders", counted)
    searched = 0
    for expr, symbols, values, digits in cases(200 + seed, 80, hostile=seed % 3 == 2):
        result = line_result(expr, symbols, values)
        if result is None:
            continue
        compute = evaluator(expr, symbols)
        fast = extra_digits([Check(compute, result, (expr, symbols))], values, digits)
        plain = extra_digits([Check(compute, result)], values, digits)
        assert fast == plain, (expr, values, digits)
        searched += sum(fast) > 0
    assert searched >= 10 and any(kept == 1 < total for total, kept in calls)


@pytest.mark.parametrize("seed", range(3))
def test_update_and_sum_lines_are_the_same_with_and_without_screening(seed: int,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    rows = []
    for _ in range(150):
        old = teacher(rng) if rng.random() < 0.5 else computed(rng, hostile=rng.random() < 0.2)
        eta = rng.choice([Given.of(0.5), Given.of(0.1), Given.of(0.01)])
        gradient = computed(rng, hostile=rng.random() < 0.2)
        numbers = [computed(rng, hostile=False) for _ in range(rng.randint(1, 8))]
        numbers += [rng.choice(numbers)] if rng.random() < 0.3 else []  # equal terms
        scale = rng.choice([Fraction(1), Fraction(1, 3), Fraction(1, 4)])
        rows.append((old, eta, gradient, numbers, scale, rng.choice([2, 3, 4])))

    def worked() -> list[object]:
        out: list[object] = []
        for old, eta, gradient, numbers, scale, digits in rows:
            with mpmath.workprec(checkable.CHECK_BITS):
                new = total((value_of(old), -product((value_of(eta), value_of(gradient)))))
                added = product((scale, total([value_of(n) for n in numbers])))
            if not mpmath.isfinite(new) or not mpmath.isfinite(added):
                continue
            # the shown result of a real key is near the line's value, but not always on it
            out.append(update_line(old, eta, gradient, new * (1 + 1e-7 * rng.random()), digits))
            out.append(sum_line(numbers, added, digits, scale))
        return out
    rng = random.Random(seed)
    fast = worked()
    monkeypatch.setattr(checkable, "float_line", lambda source: None)
    rng = random.Random(seed)
    assert worked() == fast
    assert sum(isinstance(x, checkable.Operand) for row in fast for x in row) > 10  # digits were added


def wide_spec(rng: random.Random, widths: tuple[int, ...]) -> str:
    """A sigmoid network with teacher-like weights (one decimal, zeros, repeats)."""
    choices = [-0.9, -0.5, -0.3, -0.1, 0.0, 0.1, 0.2, 0.4, 0.5, 0.8]
    inputs = [f"x{i}" for i in range(1, widths[0] + 1)]
    lines = ["title: wide", "inputs: {" + ", ".join(f"{x}: {rng.choice(choices)}" for x in inputs) + "}",
             "layers:"]
    sources = inputs
    for layer, width in enumerate(widths[1:], 1):
        lines += ["  - activation: sigmoid", "    neurons:"]
        names = [f"n{layer}_{j}" for j in range(1, width + 1)]
        for name in names:
            weights = ", ".join(f"{s}: {rng.choice(choices)}" for s in sources)
            lines.append(f"      {name}: {{bias: {rng.choice(choices)}, weights: {{{weights}}}}}")
        sources = names
    lines += ["targets: {" + ", ".join(f"{s}: {rng.randint(0, 1)}" for s in sources) + "}",
              "loss: half_squared_error", "learning_rate: 0.5"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed, widths", [(1, (4, 8, 8, 3)), (2, (3, 6, 6, 6, 2)), (3, (5, 10, 4))])
def test_delta_keys_are_the_same_with_and_without_screening(seed: int, widths: tuple[int, ...], tmp_path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "wide.yaml"
    spec.write_text(wide_spec(random.Random(seed), widths))
    screened = []
    real = checkable.contenders

    def counted(line, current, full, candidates):  # type: ignore[no-untyped-def]
        screened.append(len(candidates))
        return real(line, current, full, candidates)
    monkeypatch.setattr(checkable, "contenders", counted)
    fast = document(spec, "md", options=Options(form="delta"))
    assert screened  # the screening took part
    monkeypatch.setattr(checkable, "float_line", lambda source: None)
    exact = []
    real_impact = checkable.Shown.impact

    def impact(self, *args):  # type: ignore[no-untyped-def]
        exact.append(args)
        return real_impact(self, *args)
    monkeypatch.setattr(checkable.Shown, "impact", impact)
    plain = document(spec, "md", options=Options(form="delta"))
    assert len(exact) > len(screened)  # every impact computed exactly this time
    assert fast == plain
