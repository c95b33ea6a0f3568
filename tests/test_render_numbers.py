"""The numbers as printed: the rounding rule, JSON against Markdown, and the hand-written
derivative forms the working shows.

Expected values are independent of derive's code: decimal arithmetic done here, the
oracle (tests/oracle.py) for full-precision values, and sympy/math for derivatives.
"""
from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import sympy
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from oracle import fd_gradients, forward, loss, parameters, sympy_gradients
from random_specs import random_spec

from derive.api import solve
from derive.derivation import A, Z, activation_rule, derive
from derive.evaluate import evaluate
from derive.network import build_network
from derive.latex import format_number
from derive.render import render
from derive.solution import build_solution
from derive.spec import Activation, parse_spec

PROBLEMS_DIR = Path(__file__).resolve().parent.parent / "problems"
from canonical import DENSE_SINGLE_SAMPLE as PROBLEMS  # noqa: E402  (one sample, given values; CNNs: test_cnn.py)
ORACLE_UNSUPPORTED = (ValueError, KeyError, NotImplementedError)


# --------------------------------------------------------------------------- format_number

# docs/spec.md, "Numbers": `digits` decimal places but at least 3 significant figures,
# half away from zero on the typed decimal, trailing zeros kept; below 10^-digits (or
# from 10^10) scientific with max(3, digits) significant figures. Given numbers and
# exact whole numbers print as they are. Each expected text below is worked by hand.
@pytest.mark.parametrize("value, digits, text", [
    (0.00005, 4, "5.000e-5"),  # below 10^-4: scientific, 4 significant figures
    (-0.00005, 4, "-5.000e-5"),
    (0.0001, 4, "0.000100"),  # at 10^-4: fixed, 3 significant figures
    (2.675, 2, "2.68"),  # the typed decimal, not the binary 2.67499999...
    (0.1245, 2, "0.125"),  # 3 significant figures; half away from zero (banker's: 0.124)
    (-2.675, 1, "-2.68"),
    (1.5, 4, "1.5000"),  # trailing zeros kept: 4 places
    (2.0, 4, "2.0000"),  # a computed 2 shows its precision (an exact integer would not)
    (100.0, 4, "100.0000"),
    (10, 2, "10"),  # an exact whole number
    (0.1 + 0.2, 4, "0.3000"),
    (0.42, 4, "0.4200"),
    (-0.0028708264713444105, 4, "-0.00287"),  # 3 significant figures, not -0.0029
    (0.000168776, 4, "0.000169"),  # sigma' of a saturated unit: not 0.0002
    (0.4220095785299411, 4, "0.4220"),
    (0.99996, 4, "1.0000"),  # carries into the integer part
    (-0.99996, 4, "-1.0000"),
    (0.00099996, 4, "0.00100"),  # carries into a new leading digit: 3 figures from it
    (123456.78915, 4, "123456.7892"),
    (0.00004999, 4, "4.999e-5"),
    (0.00001707, 2, "1.71e-5"),  # scientific with max(3, digits) figures
])
def test_format_number_examples(value: float, digits: int, text: str) -> None:
    assert format_number(value, digits).text == text


def test_given_numbers_show_as_written() -> None:
    from derive.rounding import Given
    for typed in ("0.42", "-0.05", "6", "0.3", "1e-7"):
        shown = format_number(Given.of(Decimal(typed)), 4)
        assert Decimal(shown.text.replace("e", "E")) == Decimal(typed)
    assert format_number(Given.of(Decimal("0.42")), 4).text == "0.42"
    assert format_number(Given.of(Decimal("-0.050")), 2).text == "-0.05"


def test_format_number_zero() -> None:
    for zero in (0, 0.0, -0.0):
        assert format_number(zero, 4).text == "0"
        assert format_number(zero, 4).tex == "0"


def test_format_number_tiny_values_are_scientific() -> None:
    shown = format_number(1.234e-7, 4)
    assert (shown.mantissa, shown.exponent) == ("1.234", -7)
    assert shown.text == "1.234e-7"
    assert shown.tex == r"1.234 \times 10^{-7}"
    shown = format_number(-1.23456e-7, 4)
    assert (shown.mantissa, shown.exponent) == ("-1.235", -7)  # 4 significant digits
    shown = format_number(3.4e-6, 4)
    assert (shown.mantissa, shown.exponent) == ("3.400", -6)  # trailing zeros kept here too
    shown = format_number(9.99996e-6, 4)
    assert (shown.mantissa, shown.exponent) == ("1.000", -5)  # 9.99996 rounds up to 10.000
    shown = format_number(5e-324, 4)  # the smallest subnormal double
    assert (shown.mantissa, shown.exponent) == ("5.000", -324)  # as typed (repr), 4 figures


def test_format_number_plain_from_10_to_the_minus_digits_scientific_below() -> None:
    assert format_number(0.0001, 4).exponent is None
    assert format_number(0.00009999, 4).exponent == -5
    assert format_number(0.01, 2).exponent is None
    assert format_number(0.00999, 2).exponent == -3


def shown_value(shown: Any) -> tuple[Decimal, Decimal]:
    """(displayed value, half a unit of its last place), parsed from the text alone."""
    mantissa = Decimal(shown.mantissa)
    places = len(shown.mantissa.split(".")[1]) if "." in shown.mantissa else 0
    scale = Decimal(1).scaleb(shown.exponent or 0)
    return mantissa * scale, Decimal("0.5") * Decimal(1).scaleb(-places) * scale


def significant(mantissa: str) -> int:
    digits = mantissa.lstrip("-").replace(".", "").lstrip("0")
    return len(digits)


def check_shown(value: float, digits: int) -> None:
    shown = format_number(value, digits)
    typed = Decimal(repr(value))  # the shortest decimal that reads back as `value`
    displayed, half = shown_value(shown)
    if value == 0:
        assert shown.text == "0"
        return
    assert displayed != 0, shown  # a non-zero value never shows as 0
    assert (displayed < 0) == (value < 0), shown
    if shown.exponent is None:
        assert Decimal(10) ** -digits <= abs(typed) < Decimal("1e10"), (value, shown)
        places = len(shown.mantissa.split(".")[1]) if "." in shown.mantissa else 0
        assert places >= digits, shown  # trailing zeros kept
        assert significant(shown.mantissa) >= 3 or places == digits, shown
        assert abs(displayed - typed) <= half, (value, shown)
        if abs(displayed - typed) == half:  # a tie: away from zero
            assert abs(displayed) > abs(typed), (value, shown)
    else:
        # only values below 10^-digits, or of 10^10 and more, go scientific
        assert abs(typed) < Decimal(10) ** -digits or abs(typed) >= Decimal("1e10"), (value, shown)
        assert 1 <= abs(Decimal(shown.mantissa)) < 10, shown
        assert significant(shown.mantissa) == max(3, digits) or Decimal(shown.mantissa) == 0, shown
        assert abs(displayed - typed) <= half, (value, shown)
    # and against the exact binary value, allowing the one conversion repr does
    binary = Decimal(value)
    assert abs(displayed - binary) <= half * Decimal("1.0000001") + abs(binary) * Decimal("1e-15") \
        + Decimal("5e-324"), (value, shown)


@settings(max_examples=2000, deadline=None)
@given(value=st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, allow_infinity=False),
       digits=st.integers(min_value=1, max_value=10))
@example(value=0.00005, digits=4)
@example(value=-0.00005, digits=4)
@example(value=2.675, digits=2)
@example(value=0.125, digits=2)
@example(value=1.234e-7, digits=4)
@example(value=9.99996e-6, digits=4)
@example(value=5e-324, digits=4)
@example(value=-0.0, digits=4)
def test_format_number_is_within_half_a_unit(value: float, digits: int) -> None:
    check_shown(value, digits)


@settings(max_examples=500, deadline=None)
@given(st.decimals(min_value=-1000, max_value=1000, places=6, allow_nan=False, allow_infinity=False))
def test_format_number_rounds_typed_decimals_half_away_from_zero(typed: Decimal) -> None:
    """A value typed with 6 decimals, shown with 4 places (from 0.01 up, where 4 places
    already hold 3 significant figures): compare with schoolbook rounding."""
    value = float(typed)
    if abs(typed) < Decimal("0.01"):
        return  # more places or scientific form, covered above
    # schoolbook rounding on the digits as typed, done with integers
    scaled = abs(Decimal(repr(value))) * 10_000
    whole, fraction = int(scaled), scaled - int(scaled)
    rounded = whole + (1 if fraction >= Decimal("0.5") else 0)
    expected = Decimal(rounded).scaleb(-4) * (1 if value > 0 else -1)
    assert Decimal(format_number(value, 4).text) == expected


@pytest.mark.parametrize("value", [1e23, 1e24, -1e24, 1.5e30, 1e300, 1.7976931348623157e308])
def test_format_number_large_values(value: float) -> None:
    """A spec may hold any finite number, and a loss may be large: it must still print."""
    check_shown(value, 4)


# --------------------------------------------------------------------------- JSON vs Markdown

def summary_rows(md: str) -> dict[str, dict[str, str]]:
    """The Summary table of a Markdown answer: {symbol: {column header: cell}}."""
    # the heading may be numbered ("## 5. Summary"); the table is the first after it
    heading = re.search(r"^#{2,}[^\n]*\bSummary\b[^\n]*$", md, re.MULTILINE)
    assert heading, "no Summary section in the Markdown"
    section = md[heading.end():]
    section = section[:m.start()] if (m := re.search(r"^#", section, re.MULTILINE)) else section
    lines = [line.strip() for line in section.splitlines() if line.strip().startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert set(lines[1].replace("|", "").strip()) <= set("-: "), lines[1]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == len(header), line
        assert cells[0].startswith("$") and cells[0].endswith("$"), line
        symbol = cells[0][1:-1]
        assert symbol not in rows, f"two summary rows for {symbol}"
        rows[symbol] = dict(zip(header, cells))
    return rows


def column(header: list[str], *words: str) -> str:
    found = [h for h in header if all(w in h for w in words)]
    assert len(found) == 1, (header, words)
    return found[0]


def math_cell(cell: str) -> str:
    assert cell.startswith("$") and cell.endswith("$"), cell
    return cell[1:-1]


def parse_tex_number(text: str) -> Any:
    """'-0.0029' or '-1.707 \\times 10^{-5}' as a Shown-like (mantissa, exponent)."""
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)(?: \\times 10\^\{(-?\d+)\})?", text)
    assert m, text

    class Parsed:
        mantissa = m.group(1)
        exponent = int(m.group(2)) if m.group(2) else None
    return Parsed


def assert_json_matches_markdown(doc: dict[str, Any], md: str, digits: int = 4) -> None:
    rows = summary_rows(md)
    header = list(next(iter(rows.values())))
    gradient_col = column(header, "partial", "theta")  # dL/dtheta, or dJ/dtheta (notation.loss)
    updated_col = column(header, "updated")
    params = doc["steps"][0]["parameters"]
    assert set(rows) == {p["symbol"] for p in params}
    for p in params:
        row = rows[p["symbol"]]
        for field, col in (("gradient", gradient_col), ("updated", updated_col)):
            cell = math_cell(row[col])
            assert cell == format_number(p[field], digits).tex, (p["symbol"], field, cell, p[field])
            # and, independently of format_number, the cell is that number rounded
            displayed, half = shown_value(parse_tex_number(cell))
            assert abs(displayed - Decimal(repr(p[field]))) <= half, (p["symbol"], field, cell, p[field])


@lru_cache(maxsize=None)
def rendered(path: Path) -> tuple[dict[str, Any], str]:
    sol = solve(path)
    return json.loads(render(sol, "json")), render(sol, "md")


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_json_numbers_appear_in_markdown_summary(path: Path) -> None:
    doc, md = rendered(path)
    assert_json_matches_markdown(doc, md)


@pytest.mark.parametrize("seed", range(700, 725))
def test_json_numbers_appear_in_markdown_summary_random(seed: int) -> None:
    spec = random_spec(seed, max_layers=3, max_width=3)
    derivation = derive(build_network(parse_spec(yaml.safe_dump(spec, sort_keys=False))))
    sol = build_solution(derivation, evaluate(derivation))
    assert_json_matches_markdown(json.loads(render(sol, "json")), render(sol, "md"))


def key_of(oracle_key: tuple[str, ...]) -> tuple[str, ...]:
    """The JSON identity of a parameter, from an oracle key."""
    if oracle_key[0] == "weight":
        return ("weight", oracle_key[1], oracle_key[2])
    return ("bias", oracle_key[1])


def json_key(entry: dict[str, Any]) -> tuple[str, ...]:
    if entry["kind"] == "weight":
        return ("weight", entry["from"], entry["to"])
    assert entry["kind"] == "bias", entry
    return ("bias", entry["neuron"])


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_json_has_the_canonical_fields_at_full_precision(path: Path) -> None:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        oracle_forward, oracle_loss = forward(spec), loss(spec)
        keys, fd = parameters(spec), fd_gradients(spec)
        # exact gradients too where sympy is cheap (test_gradients.py covers the rest)
        exact = sympy_gradients(spec) if len(keys) <= 30 else None
    except ORACLE_UNSUPPORTED as err:
        pytest.skip(f"oracle does not support a feature of {path.name}: {err!r}")
    doc, _ = rendered(path)

    assert doc["title"] == spec.get("title", doc["title"])
    assert isinstance(doc["title"], str) and doc["title"]
    assert isinstance(doc["steps"], list) and len(doc["steps"]) >= 1
    step = doc["steps"][0]
    assert set(step["forward"]) == set(oracle_forward)
    for name, (z, a) in oracle_forward.items():
        assert set(step["forward"][name]) >= {"z", "a"}
        assert step["forward"][name]["z"] == pytest.approx(z, rel=1e-13, abs=1e-15), name
        assert step["forward"][name]["a"] == pytest.approx(a, rel=1e-13, abs=1e-15), name
    assert step["loss"] == pytest.approx(oracle_loss, rel=1e-12, abs=1e-15)

    eta = float(spec["learning_rate"])
    entries = step["parameters"]
    assert [json_key(e) for e in entries] == [key_of(k) for k in keys]  # every one, spec order
    values = {key_of(k): v for k, v in zip(keys, spec_values(spec))}
    for entry, okey in zip(entries, keys):
        required = {"kind", "symbol", "value", "gradient", "updated"} | (
            {"from", "to"} if entry["kind"] == "weight" else {"neuron"})
        assert set(entry) >= required, entry
        assert isinstance(entry["symbol"], str) and entry["symbol"]
        for field in ("value", "gradient", "updated"):
            assert isinstance(entry[field], float) or isinstance(entry[field], int), entry
        assert entry["value"] == values[key_of(okey)]
        assert abs(entry["gradient"] - fd[okey]) <= 1e-6 * max(1.0, abs(fd[okey])), entry
        step_size = eta * max(1.0, abs(fd[okey])) * 1e-6
        assert abs(entry["updated"] - (values[key_of(okey)] - eta * fd[okey])) <= step_size, entry
        if exact is not None:
            assert entry["gradient"] == pytest.approx(exact[okey], rel=1e-9, abs=1e-12), entry
            assert entry["updated"] == pytest.approx(values[key_of(okey)] - eta * exact[okey],
                                                     rel=1e-12, abs=1e-14), entry


def spec_values(spec: dict[str, Any]) -> list[float]:
    """Parameter values straight from the spec dict, in the oracle's parameter order."""
    out = []
    for layer in spec["layers"]:
        for neuron in layer["neurons"].values():
            out.extend(float(w) for w in neuron["weights"].values())
            out.append(float(neuron["bias"]))
    return out


def test_json_numbers_are_full_precision() -> None:
    """Not rounded to the display digits: the JSON value reads back to the exact double."""
    path = PROBLEMS_DIR / "q2.yaml"
    values = solve(path).steps[0].values
    doc, _ = rendered(path)
    for entry in doc["steps"][0]["parameters"]:
        key = f"{entry['from']}->{entry['to']}" if entry["kind"] == "weight" else f"b:{entry['neuron']}"
        assert entry["gradient"] == values.gradients[key]
        assert entry["updated"] == values.updated[key]
    assert doc["steps"][0]["loss"] == values.loss


# --------------------------------------------------------------------------- derivative forms

def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# name, slope, f(z) and f'(z) written out here by hand (f'(0) = 0 for ReLU, slope for leaky)
HAND = {
    ("linear", None): (lambda z: z, lambda z: 1.0),
    ("sigmoid", None): (sigmoid, lambda z: sigmoid(z) * (1 - sigmoid(z))),
    ("tanh", None): (math.tanh, lambda z: 1 / math.cosh(z) ** 2),
    ("relu", None): (lambda z: max(z, 0.0), lambda z: 1.0 if z > 0 else 0.0),
    ("leaky_relu", 0.01): (lambda z: z if z > 0 else 0.01 * z, lambda z: 1.0 if z > 0 else 0.01),
    ("leaky_relu", 0.2): (lambda z: z if z > 0 else 0.2 * z, lambda z: 1.0 if z > 0 else 0.2),
    ("softplus", None): (lambda z: math.log1p(math.exp(z)), sigmoid),
}
POINTS = [-7.5, -3.0, -2.0, -1.0, -0.5, -0.1, -1e-3, -1e-9, 0.0, 1e-9, 1e-3, 0.1, 0.5, 1.0, 2.0, 3.0, 7.5]
PIECEWISE = {"relu", "leaky_relu"}


@pytest.mark.parametrize("name, slope", list(HAND), ids=[f"{n}-{s}" if s else n for n, s in HAND])
def test_convenient_form_equals_sympy_derivative(name: str, slope: float | None) -> None:
    rule = activation_rule(Activation(name, slope))
    convenient = rule.convenient.xreplace({A: rule.definition})  # a -> f(z)
    assert convenient.free_symbols <= {Z}, convenient
    if name not in PIECEWISE:
        assert sympy.simplify(convenient - rule.derivative) == 0, (convenient, rule.derivative)
    for z in POINTS:  # numerically as well, on both sides of 0 and at 0
        got = float(convenient.subs(Z, sympy.Float(z)))
        want = float(rule.derivative.subs(Z, sympy.Float(z)))
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15), (name, z, got, want)


@pytest.mark.parametrize("name, slope", list(HAND), ids=[f"{n}-{s}" if s else n for n, s in HAND])
def test_activation_rules_match_hand_formulas(name: str, slope: float | None) -> None:
    """The definition, SymPy's derivative, the convenient form and the compiled functions
    all agree with f and f' as written in a textbook (and ReLU'(0) = 0)."""
    f, df = HAND[(name, slope)]
    rule = activation_rule(Activation(name, slope))
    for z in POINTS:
        zf = sympy.Float(z)
        assert float(rule.definition.subs(Z, zf)) == pytest.approx(f(z), rel=1e-12, abs=1e-15), z
        assert float(rule.derivative.subs(Z, zf)) == pytest.approx(df(z), rel=1e-12, abs=1e-15), z
        convenient = rule.convenient.subs({A: sympy.Float(f(z)), Z: zf})
        assert float(convenient) == pytest.approx(df(z), rel=1e-9, abs=1e-15), z
        assert rule.f(z) == pytest.approx(f(z), rel=1e-12, abs=1e-15), z
        assert rule.df(z) == pytest.approx(df(z), rel=1e-12, abs=1e-15), z
