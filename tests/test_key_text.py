"""What a careful reader of a key trips over (issue 9, items 2-5 and 7): each test runs
the CLI on a small spec and reads the Markdown (or JSON) a user would see.

The numbers asserted here are worked by hand in the comments, not copied from derive.
The line-by-line recomputation of every key is tests/test_lines.py.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parent.parent

# x2 feeds no neuron; h sits at z = 3 * 0.1 - 0.3 = 0 exactly (a decimal zero)
UNUSED_INPUT = """\
title: unused input and a decimal zero
inputs: {x1: 3, x2: -2}
layers:
  - activation: {name: leaky_relu, slope: 0.1}
    neurons:
      h: {bias: -0.3, weights: {x1: 0.1}}
  - activation: leaky_relu
    neurons:
      o: {bias: 0.1, weights: {h: -0.7}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.1
"""


def solve(runner: CliRunner, folder: Path, text: str, *options: str) -> str:
    spec = folder / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    result = runner.invoke(main, ["solve", str(spec), *options])
    assert result.exit_code == 0, result.output
    return result.output


def solve_problem(runner: CliRunner, name: str, *options: str) -> str:
    result = runner.invoke(main, ["solve", str(ROOT / "problems" / name), *options])
    assert result.exit_code == 0, result.output
    return result.output


def test_unused_input_gets_a_key(runner: CliRunner, tmp_path: Path) -> None:
    key = solve(runner, tmp_path, UNUSED_INPUT)
    assert "| $x_{2}$ (x2) | $-2$ |" in key  # given, with no edge out of it
    assert "x_{2}" not in key.split("## 2")[1]  # and it appears in no working


def test_decimal_zero_takes_the_z_le_0_branch(runner: CliRunner, tmp_path: Path) -> None:
    key = solve(runner, tmp_path, UNUSED_INPUT)
    # z = 0.1 * 3 + (-0.3) is 0; leaky ReLU at 0 is 0.1 * 0 = 0, not a tiny positive z
    assert "= 0.1 \\cdot 3 - 0.3 = 0 \\\\" in key or "= 0.1 \\cdot 3 + \\left(-0.3\\right) = 0 \\\\" in key
    assert "\\max\\left(0.1 \\cdot 0, 0\\right) = 0" in key
    data = json.loads(solve(runner, tmp_path, UNUSED_INPUT, "-f", "json"))
    forward = data["steps"][0]["forward"]["h"]
    assert forward["z"] == 0 and forward["a"] == 0


def test_leaky_slope_prints_as_written(runner: CliRunner, tmp_path: Path) -> None:
    key = solve(runner, tmp_path, UNUSED_INPUT)
    assert "10^{0}" not in key
    assert "\\max\\left(0.01 z_{1}^{(2)}, z_{1}^{(2)}\\right)" in key  # the default slope, as 0.01


def test_softmax_row_matches_the_layer_width(runner: CliRunner) -> None:
    key = solve_problem(runner, "seed003_softmax.yaml")
    row = next(line for line in key.splitlines() if line.startswith("| softmax"))
    assert "3 outputs" in row
    # a 3-class softmax: the derivative's denominator sums three exponentials, and the two
    # kinds of entry (same index, other index) are labelled with their partials
    assert "e^{z_{1}} + e^{z_{2}} + e^{z_{3}}" in row
    assert "\\frac{\\partial a_{1}}{\\partial z_{1}}" in row
    assert "\\frac{\\partial a_{1}}{\\partial z_{2}}" in row


@pytest.mark.parametrize("width", range(1, 9))
def test_softmax_row_is_sympys_simplified_derivative(width: int) -> None:
    """The table's softmax derivatives (written out directly, derive.activations) are,
    term for term, sympy.simplify of sympy.diff of a_1 = e^{z_1} / sum e^{z_j}."""
    import sympy

    from derive.activations import softmax_row
    zs = [sympy.Symbol(f"z_{{{j}}}") for j in range(1, width + 1)]
    a_1 = sympy.exp(zs[0]) / sympy.Add(*[sympy.exp(z) for z in zs])
    shown = softmax_row(width).derivatives
    assert len(shown) == min(width, 2)
    for i, equation in enumerate(shown):
        want = sympy.simplify(sympy.diff(a_1, zs[i]))
        assert sympy.srepr(equation.rhs) == sympy.srepr(want), (width, i)


EQUAL_TWICE = re.compile(r"= (-?[0-9.]+(?: \\times 10\^\{-?\d+\})?) = \1(?![0-9])")


@pytest.mark.parametrize("problem", ["q2.yaml", "seed004_flat_relu.yaml", "seed002_tanh_bce.yaml",
                                     "seed003_softmax.yaml", "deep_34442.yaml"])
@pytest.mark.parametrize("options", [(), ("--rounding", "by-hand"), ("--digits", "2")])
def test_no_doubled_signs_brackets_or_values(runner: CliRunner, problem: str,
                                             options: tuple[str, ...]) -> None:
    key = solve_problem(runner, problem, *options)
    assert not EQUAL_TWICE.search(key), EQUAL_TWICE.search(key)[0]  # = 0.0148 = 0.0148
    # ((a - y)), tanh((-0.15)): a bracket whose only content is another bracket
    doubled = re.search(r"\\(?:left|Bigl)\(\\left\((?:[^()]|\^\{\(\d\)\})*\\right\) ?\\(?:right|Bigr)\)", key)
    assert not doubled, doubled[0]
    assert "e^{-\\left(-" not in key and "e^{- \\left(-" not in key  # e^{-(-0.546)}
    # 1 - (-0.3) where 1 + 0.3 is meant; 1 - (-0.149)^2 is right as it is
    assert not re.search(r"- \\left\(-[0-9.]+\\right\)(?!\^)", key)


def test_squared_error_derivative_reads_as_the_seeds_write_it(runner: CliRunner,
                                                              tmp_path: Path) -> None:
    spec = UNUSED_INPUT.replace("half_squared_error", "squared_error")
    key = solve(runner, tmp_path, spec)
    # dL/da = 2(a - y), as in the seeds, not 2a - 2y
    assert "&= 2 \\left(a_{1}^{(2)} - y\\right)" in key
    assert "2 a_{1}^{(2)} - 2 y" not in key


def test_mean_squared_error_shows_its_mean(runner: CliRunner, tmp_path: Path) -> None:
    spec = """\
title: two outputs
inputs: {x1: 1}
layers:
  - activation: linear
    neurons:
      o1: {bias: 0, weights: {x1: 0.5}}
      o2: {bias: 0, weights: {x1: -0.5}}
targets: {o1: 1, o2: 0}
loss: mean_squared_error
learning_rate: 0.1
"""
    key = solve(runner, tmp_path, spec)
    loss_line = next(line for line in key.splitlines() if line.startswith("L &="))
    # (1/2) [(a1 - y1)^2 + (a2 - y2)^2], not (a1 - y1)^2/2 + (a2 - y2)^2/2, which reads as
    # the half squared error
    assert "\\frac{1}{2}" in loss_line or "\\frac{" in loss_line.split("\\left(")[0]
    assert loss_line.count("\\frac") == 1
    # L = ((0.5 - 1)^2 + (-0.5 - 0)^2) / 2 = 0.25
    assert re.search(r"= 0\.250*(?![0-9])", key)


def test_two_digits_never_show_a_saturated_one(runner: CliRunner, tmp_path: Path) -> None:
    # --digits 2 used to print sigma' = 1 * (1 - 1) = 1.7e-4: a value shown as 1 that is not
    spec = """\
title: saturated
inputs: {x1: 9}
layers:
  - activation: sigmoid
    neurons:
      o: {bias: 0, weights: {x1: 1}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.1
"""
    key = solve(runner, tmp_path, spec, "--digits", "2")
    assert "1 \\cdot \\left(1 - 1\\right)" not in key
    # sigma(9) = 0.999877: at two places but three significant figures it is 1.00, and
    # sigma'(9) = 0.000123 shows in scientific form
    assert "0.999877"[:4] not in key or "1.00" in key
    assert "1.23 \\times 10^{-4}" in key


def test_by_hand_delta_gradients_are_the_shown_products(runner: CliRunner) -> None:
    # deep_34442 by hand in delta form: each gradient line is (shown delta) * (shown a),
    # rounded once; the JSON key carries that same value
    options = ("--rounding", "by-hand", "--form", "delta")
    key = solve_problem(runner, "deep_34442.yaml", *options)
    data = json.loads(solve_problem(runner, "deep_34442.yaml", *options, "-f", "json"))
    displayed = {p["symbol"]: p["displayed"]["gradient"] for p in data["steps"][0]["parameters"]}
    number = r"-?[0-9.]+(?: \\times 10\^\{-?\d+\})?"
    line = re.compile(r"\\frac\{\\partial L\}\{\\partial (?P<w>w_\{\d+\}\^\{\(\d\)\})\} &= "
                      r"\\delta_\{\d+\}\^\{\(\d\)\} (?:a_\{\d+\}\^\{\(\d\)\}|x_\{\d+\}) = "
                      rf"(?:\\left\()?(?P<d>{number})(?:\\right\))? \\cdot (?:\\left\()?(?P<a>{number})(?:\\right\))? = (?P<g>{number})")
    lines = list(line.finditer(key))
    assert len(lines) == sum(1 for symbol in displayed if symbol.startswith("w"))
    for match in lines:
        d, a, g = (decimal_of(match[k]) for k in ("d", "a", "g"))
        # g is the shown product, rounded: within half a unit of its last shown place
        assert abs(d * a - g) <= Decimal(1).scaleb(g.as_tuple().exponent) / 2, match[0]
        assert decimal_of(displayed[match["w"]]) == g, match[0]


def decimal_of(text: str) -> Decimal:
    if "\\times" in text:
        mantissa, exponent = text.split(" \\times 10^{")
        return Decimal(mantissa).scaleb(int(exponent.rstrip("}")))
    return Decimal(text)
