"""The faster arithmetic and rounding behind an exam variant's "draw and solve" give
exactly what the plain computation gives (issue 16).

- numeric.total / product add and multiply Fractions on their integers, normalised once:
  compared with Fraction's own + and x (written out here), value and type (always a
  plain Fraction, never a Given), on teacher-like, random and hostile values;
- numeric.is_exact / all_exact and rounding.is_rounded answer per type: compared with
  isinstance on every kind of number derive meets;
- rounding.in_full dispatches on the type and keeps a Given's decimal: compared with
  the rule written out here (the decimal as the spec writes it, or the whole number);
- rounding.rounded keeps each (type, value, digits): compared with the same rounding
  done by hand (hand-derived strings, ties half away from zero) and with the uncached
  computation, values of equal value but another type or another writing included.
"""
from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import mpmath
import pytest

from derive import numeric, rounding
from derive.numeric import all_exact, exact_product, exact_total, is_exact, product, total
from derive.rounding import Given, Rounded, in_full, is_rounded, rounded, terminating


def teacher_values(rng: random.Random, count: int) -> list[Fraction]:
    """One or two decimals, exact zeros and repeats, as a spec writes them."""
    pool = [Given.of(x) for x in ("0", "0.5", "-0.5", "0.1", "0.2", "-0.3", "1", "2", "0.25",
                                  "-1.75", "0.05", "3")]
    values = []
    for _ in range(count):
        if rng.random() < 0.5:
            values.append(rng.choice(pool))
        else:
            values.append(Given.of(round(rng.uniform(-2, 2), rng.choice((1, 2)))))
    return values


def hostile_values(rng: random.Random, count: int) -> list[Fraction]:
    """Huge, tiny, long denominators, and pairs that cancel."""
    values: list[Fraction] = []
    for _ in range(count):
        pick = rng.randrange(5)
        if pick == 0:
            values.append(Fraction(rng.randrange(1, 10**6), 1) * 10**rng.randrange(100, 400))
        elif pick == 1:
            values.append(Fraction(rng.randrange(-10**6, 10**6), 10**rng.randrange(100, 400)))
        elif pick == 2:
            values.append(Fraction(rng.randrange(-10**9, 10**9), rng.randrange(1, 10**9)))
        elif pick == 3 and values:
            values.append(-values[-1])  # cancels its neighbour exactly
        else:
            values.append(Fraction(rng.choice((3, 7, 11, 13)), rng.choice((3, 7, 9, 49))))
    return values


def plain_sum(parts: list[Fraction]) -> Fraction:
    result = Fraction(0)
    for part in parts:
        result = result + part
    return result


def plain_product(parts: list[Fraction]) -> Fraction:
    result = Fraction(1)
    for part in parts:
        result = result * part
    return result


def test_sum_and_product_of_fractions_are_fractions_own() -> None:
    rng = random.Random(16)
    cases: list[list[Fraction]] = [[], [Given.of("0.5")], [Fraction(0)], [Given.of("0.1")] * 3,
                                   [Given.of("0.1"), Given.of("0.2"), Given.of("-0.3")],
                                   [Fraction(10**400), Fraction(-10**400), Fraction(1, 10**400)]]
    for _ in range(400):
        maker = rng.choice((teacher_values, hostile_values))
        cases.append(maker(rng, rng.randrange(1, 9)))
    for parts in cases:
        for fast, plain in ((total, plain_sum), (product, plain_product),
                            (exact_total, plain_sum), (exact_product, plain_product)):
            got, expected = fast(list(parts)), plain(list(parts))
            assert got == expected, (fast.__name__, parts)
            assert type(got) is Fraction, (fast.__name__, parts)  # never a Given carried on
            assert (got.numerator, got.denominator) == (expected.numerator, expected.denominator)
    # hand-derived: 0.1 + 0.2 - 0.3 is exactly 0; 0.5 x 0.2 x -3 is -0.3
    assert total([Given.of("0.1"), Given.of("0.2"), Given.of("-0.3")]) == 0
    assert product([Given.of("0.5"), Given.of("0.2"), Given.of("-3")]) == Fraction(-3, 10)


def test_inexact_parts_still_go_through_mpmath() -> None:
    with mpmath.workprec(96):
        half = mpmath.mpf(1) / 3
        assert total([Fraction(1, 2), half]) == mpmath.fsum([mpmath.mpf(1) / 2, half])
        assert product([Given.of("0.5"), half]) == mpmath.fprod([mpmath.mpf(1) / 2, half])
        dead = product([Given.of("0"), mpmath.mpf("1e100000")])  # an exact 0 zeroes the product
        assert dead == 0 and type(dead) is Fraction
        assert numeric.inexact(Given.of("0.25")) == mpmath.mpf("0.25")
        assert numeric.inexact(half) is half


class Odd(Fraction):
    """A Fraction subclass derive does not know."""


NUMBERS = [Fraction(1, 3), Given.of("0.5"), Rounded(Decimal("0.500"), False), Odd(1, 2), 3, True,
           0.5, -0.0, mpmath.mpf("0.5"), Decimal("0.5"), "0.5", None]


@pytest.mark.parametrize("value", NUMBERS, ids=repr)
def test_type_questions_are_isinstance(value: object) -> None:
    for _ in range(2):  # the first answer is worked out, the second remembered
        assert is_exact(value) == isinstance(value, Fraction)
        assert is_rounded(value) == isinstance(value, Rounded)
        assert all_exact([value, Fraction(1)]) == isinstance(value, Fraction)
    assert all_exact([]) is True


def in_full_by_rule(value: object) -> Decimal | None:
    """docs/spec.md, "Numbers": a whole number (not a bool) or a Fraction equal to one is
    shown as the integer; a Given as the decimal the spec writes; anything else by the rule."""
    if isinstance(value, bool) or not isinstance(value, (int, Fraction)) or isinstance(value, Rounded):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if value.denominator == 1:
        return Decimal(value.numerator)
    if not isinstance(value, Given):
        return None
    digits = Decimal(value.numerator) / Decimal(value.denominator)  # exact below 28 digits here
    return digits.normalize()


def test_in_full_is_the_rule() -> None:
    rng = random.Random(3)
    values: list[object] = NUMBERS + teacher_values(rng, 300) + [Fraction(5), Odd(4, 2), 0, -7]
    values += [Fraction(x) for x in teacher_values(rng, 50)]  # the same numbers computed: by the rule
    for value in values:
        for digits in (2, 4):
            assert in_full(value, digits) == in_full_by_rule(value), value
            if in_full_by_rule(value) is not None:  # the same digits, not just the same value
                assert str(in_full(value, digits)) == str(in_full_by_rule(value)), value
    assert str(in_full(Given.of("0.50"), 4)) == "0.5" and str(in_full(Given.of("-1.20"), 4)) == "-1.2"
    assert in_full(Given.of("1e-40"), 4) == Decimal("1e-40")  # tiny: kept as computed


def test_terminating_counts_twos_and_fives() -> None:
    for twos in range(0, 70, 7):
        for fives in range(0, 30, 3):
            for odd in (1, 3, 7, 15):
                value = Fraction(123, 2**twos * 5**fives * odd)
                rest, a, b = value.denominator, 0, 0
                while rest % 2 == 0:
                    rest, a = rest // 2, a + 1
                while rest % 5 == 0:
                    rest, b = rest // 5, b + 1
                got = terminating(value)
                if rest != 1:
                    assert got is None, value
                else:
                    assert Fraction(got) == value and -got.as_tuple().exponent == max(a, b), value


def half_away(value: Fraction, places: int) -> str:
    """value rounded half away from zero to `places` decimals, by integers."""
    scaled = abs(value) * 10**places
    whole = int(scaled)
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    sign = "-" if value < 0 else ""
    text = str(whole).rjust(places + 1, "0")
    return f"{sign}{text[:-places]}.{text[-places:]}" if places else f"{sign}{text}"


def test_rounded_ties_round_half_away_from_zero() -> None:
    # hand-derived: four decimals, at least three significant figures
    cases = {Fraction("2.00005"): "2.0001", Fraction("-2.00005"): "-2.0001",
             Fraction("0.12345"): "0.1235", Fraction("-0.12345"): "-0.1235",
             Fraction("0.0012345"): "0.00123", Fraction("5.02"): "5.0200", Fraction(1, 3): "0.3333",
             Fraction("0.0099995"): "0.0100", 0.5: "0.5000", 2.675: "2.6750", 0.00125: "0.00125"}
    for _ in range(3):  # first computed, then remembered: the same answer
        for value, text in cases.items():
            assert str(rounded(value, 4)[0]) == text, value
            assert rounded(value, 4)[1] is False
    for value in (Fraction(k, 200) for k in range(-4000, 4001)):  # every tie of 0.005 steps
        if abs(value) >= 1 and value.denominator != 1:  # two places from 1 up (whole: in full)
            assert str(rounded(value, 2)[0]) == half_away(value, 2), value


def test_rounded_remembers_by_type_value_and_digits() -> None:
    """Values equal in value but of another type, or a Rounded written another way, are
    not confused; every answer is the uncached computation's."""
    plain = rounding.rounded_value.__wrapped__
    given, computed = Given.of("0.5"), Fraction(1, 2)
    assert str(rounded(given, 4)[0]) == "0.5" and str(rounded(computed, 4)[0]) == "0.5000"
    assert str(rounded(0.5, 4)[0]) == "0.5000" and str(rounded(mpmath.mpf("0.5"), 4)[0]) == "0.5000"
    short, long_ = Rounded(Decimal("5.02"), False), Rounded(Decimal("5.0200"), False)
    assert short == long_ and str(rounded(short, 4)[0]) == "5.02" and str(rounded(long_, 4)[0]) == "5.0200"
    assert rounded(-0.0, 4) == rounded(0.0, 4) == (Decimal(0), False)
    rng = random.Random(7)
    values: list[object] = teacher_values(rng, 100) + hostile_values(rng, 100)
    values += [rng.uniform(-5, 5) * 10.0**rng.randrange(-320, 300) for _ in range(200)]
    values += [mpmath.mpf(2)**rng.randrange(-10**6, 10**6) for _ in range(20)]
    values += [Fraction(x) for x in teacher_values(rng, 50)] + [1e-300, 9.99995e9, 1e10, 0.0]
    for _ in range(2):
        for value in values:
            for digits in (2, 4, 7):
                with mpmath.workprec(53):  # the answer must not depend on the caller's precision
                    got = rounded(value, digits)
                expected = plain(value, digits)
                assert got == expected and str(got[0]) == str(expected[0]), (value, digits)


def test_rounded_against_quantize() -> None:
    """Fractions that terminate, rounded by Decimal's own quantize (fixed form, values
    from 10^-2 to 10^6): the same digits."""
    rng = random.Random(11)
    for _ in range(2000):
        value = Fraction(rng.randrange(-10**9, 10**9), 10**rng.randrange(0, 8)) + \
            rng.choice((0, Fraction(1, 2 * 10**5)))  # some exact ties at the fifth place
        if value == 0 or not Fraction(1, 100) <= abs(value) < 10**6:
            continue
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        places = max(4, 3 - 1 - exact.adjusted())
        expected = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if expected.adjusted() > exact.adjusted():
            places = max(4, 3 - 2 - exact.adjusted())
            expected = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        assert str(rounded(value, 4)[0]) == str(expected), value


# --- the line checker's path products and their sum, screened in doubles ----------------

def computed_value(rng: random.Random, hostile: bool) -> object:
    """A value the exact policy carries: a double, now and then an mpf, a 1/3, a tiny or
    huge magnitude."""
    if hostile and rng.random() < 0.3:
        return rng.choice([1e-200, -3.7e-160, 1.5e300, 7.1e-310, mpmath.mpf("1e-2000"),
                           1 - 1e-15, Fraction(1, 3), Fraction(-2, 7)])
    value = rng.uniform(-1, 1) * (10.0 ** rng.uniform(-5, 1) if rng.random() < 0.5 else 1.0)
    return mpmath.mpf(value) if rng.random() < 0.2 else value


def gradient_rows(seed: int, count: int) -> list[tuple]:
    """(paths, path values, gradient) as a key's gradient block has them: weights given
    with one or two decimals (zeros and repeats), sigma' values computed, products and
    their sum nearly (not always exactly) the shown results; some sums cancel."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        hostile = rng.random() < 0.2
        paths = []
        for _ in range(rng.randint(1, 5)):
            path = [rng.choice(teacher_values(rng, 3)) if rng.random() < 0.4 else computed_value(rng, hostile)
                    for _ in range(rng.randint(1, 5))]
            if paths and rng.random() < 0.2:
                path = list(paths[-1])  # an equal path: exact ties
            paths.append(tuple(path))
        with mpmath.workprec(160):
            values = [product([v if isinstance(v, Fraction) else mpmath.mpf(v) for v in path]) for path in paths]
            if len(values) > 1 and rng.random() < 0.2 and isinstance(values[0], Fraction):
                values[-1] = -values[0] * (1 + Fraction(1, 10**9))  # the sum nearly cancels
            gradient = total(values)
        wobble = 1 + 1e-7 * rng.random() if rng.random() < 0.3 else 1
        shown_values = tuple(v if isinstance(v, Fraction) else float(v) * wobble for v in values)
        rows.append((tuple(paths), shown_values, gradient if isinstance(gradient, Fraction)
                     else float(gradient), rng.choice((2, 3, 4))))
    return rows


@pytest.mark.parametrize("seed", range(3))
def test_paths_blocks_are_the_same_with_and_without_screening(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from derive import checkable

    rows = gradient_rows(seed, 250)
    settled = []
    real = checkable.screened_sum

    def counted(*args):  # type: ignore[no-untyped-def]
        verdict = real(*args)
        settled.append(verdict)
        return verdict
    monkeypatch.setattr(checkable, "screened_sum", counted)

    def worked() -> list[object]:
        out = []
        for paths, values, gradient, digits in rows:
            if all(isinstance(v, float) and not (abs(v) < float("inf")) for v in values):
                continue
            out.append(checkable.paths_block(paths, values, gradient, digits))
        return out
    fast = worked()
    assert settled.count(True) > 50 and settled.count(None) + settled.count(False) > 0
    monkeypatch.setattr(checkable, "float_line", lambda source: None)  # every redo exact
    settled.clear()
    plain = worked()
    assert all(verdict is None for verdict in settled)
    assert plain == fast
    assert sum(isinstance(x, checkable.Operand) for block in fast for path in block for x in path) > 20


def paths_spec(rng: random.Random) -> str:
    """q2's shape (ReLU then sigmoid layers) with teacher-like values."""
    choices = [-0.9, -0.5, -0.3, -0.1, 0.0, 0.1, 0.2, 0.4, 0.5, 0.8, 0.25, -0.75]
    lines = ["title: paths", "inputs: {x1: %s, x2: %s, x3: %s}" % tuple(rng.choice(choices[4:]) for _ in range(3)),
             "layers:"]
    sources = ["x1", "x2", "x3"]
    for layer, (activation, width) in enumerate((("relu", 2), ("sigmoid", 2), ("sigmoid", 1)), 1):
        lines += [f"  - activation: {activation}", "    neurons:"]
        names = [f"n{layer}_{j}" for j in range(1, width + 1)]
        for name in names:
            weights = ", ".join(f"{s}: {rng.choice(choices)}" for s in sources)
            lines.append(f"      {name}: {{bias: {rng.choice(choices)}, weights: {{{weights}}}}}")
        sources = names
    lines += [f"targets: {{n3_1: {rng.randint(0, 1)}}}", "loss: half_squared_error",
              f"learning_rate: {rng.choice((0.1, 0.5))}"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(4))
def test_paths_keys_are_the_same_with_and_without_screening(seed: int, tmp_path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from derive import checkable
    from derive.api import document

    specs = []
    rng = random.Random(seed)
    for k in range(5):
        spec = tmp_path / f"p{k}.yaml"
        spec.write_text(paths_spec(rng))
        specs.append(spec)
    fast = [document(spec, "md") for spec in specs]
    monkeypatch.setattr(checkable, "float_line", lambda source: None)
    assert [document(spec, "md") for spec in specs] == fast
