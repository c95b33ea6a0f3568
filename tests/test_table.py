"""The reference table of activations (issue 13, item 7): `derive table` and
`worked: {activation_table: all}`.

Each row's f is compared with the activation written here, its f' with sympy.diff of
that f and with central finite differences at a few points (mpmath, 30 digits), and
the worked form (in a = f(z)) with the same derivative. The softmax row is checked
for every i, j and n = 1..6 against sympy.diff of softmax written here.
"""
from __future__ import annotations

import re
from pathlib import Path

import mpmath
import pytest
import sympy
from click.testing import CliRunner

from cli import main
from derive.activations import ActivationRow
from derive.api import solve
from derive.derivations import Written
from derive.errors import DeriveError
from derive.render import render
from derive.spec import ACTIVATIONS
from derive.table import reference_rows, softmax_any_n, table_document
from renderers import check_math, compile_tex, math_fragments, overfull_boxes, require

ROOT = Path(__file__).resolve().parent.parent
z, a = sympy.Symbol("z"), sympy.Symbol("a")
POINTS = (-2.5, -0.75, -0.3, 0.2, 0.7, 1.5, 3.0)  # away from ReLU's kink at 0

# the activations, written here (DESIGN.md, docs/spec.md): f(z)
DEFINED = {
    "linear": z,
    "sigmoid": 1 / (1 + sympy.exp(-z)),
    "tanh": (sympy.exp(z) - sympy.exp(-z)) / (sympy.exp(z) + sympy.exp(-z)),
    "relu": sympy.Piecewise((z, z > 0), (0, True)),
    "leaky_relu": sympy.Piecewise((z, z > 0), (sympy.Rational(1, 100) * z, True)),
    "softplus": sympy.log(1 + sympy.exp(z)),
}


def as_expr(item: object) -> sympy.Expr:
    """A table cell as SymPy: a Written cell is its one formula."""
    if isinstance(item, Written):
        (formula,) = item.factors
        return sympy.sympify(formula)
    return sympy.sympify(item)


def at(expr: sympy.Expr, value: float) -> mpmath.mpf:
    return mpmath.mpf(str(sympy.N(expr.subs(z, value), 30)))


@pytest.mark.parametrize("name", sorted(DEFINED))
def test_each_row_is_f_and_its_derivative(name: str) -> None:
    (row,) = reference_rows((name,))
    assert row.name == name
    truth = DEFINED[name]
    derivative = sympy.diff(truth, z)
    (shown_derivative,) = row.derivatives
    mpmath.mp.dps = 30
    for point in POINTS:
        assert at(as_expr(row.shown), point) == pytest.approx(at(truth, point), rel=1e-12, abs=1e-14)
        expected = at(derivative, point)
        assert at(as_expr(shown_derivative), point) == pytest.approx(expected, rel=1e-12, abs=1e-14)
        # the worked form, with a = f(z) (softplus' worked form is in z)
        worked = as_expr(row.convenient).subs(a, truth)
        assert at(worked, point) == pytest.approx(expected, rel=1e-12, abs=1e-14)
        # numerically: central differences of f, independent of any symbolic derivative
        f = sympy.lambdify(z, truth, "mpmath")
        h = mpmath.mpf("1e-10")
        assert (f(point + h) - f(point - h)) / (2 * h) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_relu_like_rows_take_the_derivative_0_at_z_0() -> None:
    for name, below in (("relu", 0), ("leaky_relu", 0.01)):
        (row,) = reference_rows((name,))
        assert float(as_expr(row.derivatives[0]).subs(z, 0)) == pytest.approx(below)
        assert float(as_expr(row.derivatives[0]).subs(z, 1e-9)) == 1


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_softmax_row_holds_for_any_number_of_outputs(n: int) -> None:
    row = softmax_any_n()
    zs = sympy.symbols(f"z1:{n + 1}")
    soft = [sympy.exp(v) / sum(sympy.exp(u) for u in zs) for v in zs]  # written here
    i, j, m, nn = (sympy.Symbol(s, integer=True) for s in "ijmn")
    base_a, base_z = sympy.IndexedBase("a"), sympy.IndexedBase("z")

    def concrete(expr: sympy.Expr, ii: int, jj: int) -> sympy.Expr:
        expr = expr.subs({nn: n, i: ii + 1, j: jj + 1}).doit()
        return expr.replace(lambda e: isinstance(e, sympy.Indexed),
                            lambda e: {base_a: soft, base_z: list(zs)}[e.base][int(e.indices[0]) - 1])

    (cell,) = row.derivatives
    in_z = as_expr(cell).rhs
    in_a = as_expr(row.convenient)
    point = {v: 0.37 * k - 0.9 for k, v in enumerate(zs)}
    for ii in range(n):
        assert sympy.simplify(concrete(as_expr(row.shown), ii, 0) - soft[ii]) == 0
        for jj in range(n):
            truth = sympy.diff(soft[ii], zs[jj])
            for formula in (in_z, in_a):
                value = concrete(formula, ii, jj)
                if n <= 3:
                    assert sympy.simplify(value - truth) == 0, (ii, jj)
                assert float(value.subs(point)) == pytest.approx(float(truth.subs(point)), rel=1e-12, abs=1e-15)


def test_the_table_has_every_built_in_activation_in_order() -> None:
    rows = reference_rows()
    assert [row.name for row in rows] == list(ACTIVATIONS)
    assert all(isinstance(row, ActivationRow) for row in rows)


def test_derive_table_prints_markdown_that_katex_and_mathjax_render() -> None:
    result = CliRunner().invoke(main, ["table"])
    assert result.exit_code == 0, result.output
    names = [n for n in re.findall(r"^\| ([^|$]+?) \| \$", result.output, re.MULTILINE) if n != "activation"]
    assert names == ["linear", "sigmoid", "tanh", "ReLU", "leaky ReLU", "softplus", "softmax"]
    require("node")
    require("node_modules")
    assert check_math(math_fragments(result.output)) == []


def test_derive_table_with_some_activations_and_as_latex(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["table", "-a", "tanh", "-a", "sigmoid", "-f", "tex"])
    assert result.exit_code == 0, result.output
    rows = re.findall(r"^(\w+) & \$\\displaystyle", result.output, re.MULTILINE)
    assert rows == ["sigmoid", "tanh"]  # in the table's order
    require("pdflatex")
    _, log = compile_tex(result.output, tmp_path)
    assert not re.search(r"^! ", log, re.MULTILINE)
    assert overfull_boxes(log) == []


def test_derive_table_writes_a_pdf_and_needs_o_for_it(tmp_path: Path) -> None:
    refused = CliRunner().invoke(main, ["table", "-f", "pdf"])
    assert refused.exit_code == 2 and "-f pdf needs an output file" in refused.output
    require("pdflatex")
    out = tmp_path / "table.pdf"
    result = CliRunner().invoke(main, ["table", "-f", "pdf", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    assert list(tmp_path.iterdir()) == [out]
    again = tmp_path / "again.pdf"
    CliRunner().invoke(main, ["table", "-f", "pdf", "-o", str(again)])
    assert again.read_bytes() == out.read_bytes()  # deterministic


def test_unknown_names_are_refused() -> None:
    with pytest.raises(DeriveError, match="no built-in activation 'swish'"):
        table_document(("swish",), "md")
    result = CliRunner().invoke(main, ["table", "-a", "swish"])
    assert result.exit_code == 2


def test_a_key_with_activation_table_all_shows_every_activation(tmp_path: Path) -> None:
    key = render(solve(ROOT / "problems" / "seed004_activation_table.yaml"), "md", 4)
    table = key.split("### Activation functions")[1].split("## 1. Forward pass")[0]
    assert [n for n in re.findall(r"^\| ([^|$]+?) \| \$", table, re.MULTILINE) if n != "activation"] == [
        "linear", "sigmoid", "tanh", "ReLU", "leaky ReLU", "softplus", "softmax"]
    assert "### Activations used" not in key


def test_a_custom_activation_and_a_leaky_slope_join_the_reference_table(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("""inputs: {x: 1.5}
layers:
  - activation: {name: leaky_relu, slope: 0.2}
    neurons:
      h: {bias: 0.1, weights: {x: -0.4}}
  - activation: {formula: "x/(1+abs(x))", name: softsign}
    neurons:
      o: {bias: 0.0, weights: {h: 0.5}}
targets: {o: 0.3}
loss: half_squared_error
learning_rate: 0.1
worked: {activation_table: all}
""")
    key = render(solve(spec), "md", 4)
    table = key.split("### Activation functions")[1].split("## 1. Forward pass")[0]
    names = [n for n in re.findall(r"^\| ([^|$]+?) \| \$", table, re.MULTILINE) if n != "activation"]
    assert names == ["linear", "sigmoid", "tanh", "ReLU", "leaky ReLU", "softplus", "softmax", "softsign"]
    assert "0.2 z" in table  # the network's slope
