"""A parameter used on many edges (issue 10's design: a convolution kernel entry, a
map's bias): the network model holds one parameter per key with several uses, and its
gradient sums over every use and every path through it.

There is no spec syntax for sharing yet (the conv layer will bring it), so the tests
build the network of a 1-D convolution by hand from a dense spec: c_i = k1 x_i +
k2 x_{i+1} + b for i = 1..3, one kernel (k1, k2) and one bias b for the whole map,
then a dense output. The oracles are written here: the loss composed in SymPy and
differentiated (sympy.diff), and central finite differences of a float forward pass.
"""
from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
from hand_built import shared_kernel
from linecheck import check_markdown, spec_numbers

from derive.derivation import derive
from derive.evaluate import evaluate
from derive.forms import Options, with_forms
from derive.network import Network, build_network
from derive.render import render
from derive.rounding import Given
from derive.solution import build_solution
from derive.spec import parse_spec

TEXT = {"x": ["0.5", "-1", "2", "0"], "k": ["0.4", "-0.3"], "v": ["0.7", "-0.2", "0.5"]}  # an exact 0 input
X, K, V = ([Fraction(t) for t in TEXT[name]] for name in ("x", "k", "v"))
B, B_OUT, Y, ETA = Fraction("0.1"), Fraction("0.05"), Fraction("1"), Fraction("0.1")


def d(value: Fraction) -> str:
    """A Fraction as the decimal a spec writes."""
    return str(float(value))


DENSE = f"""\
title: a 1-D convolution, written as a dense layer
inputs: {{x1: {d(X[0])}, x2: {d(X[1])}, x3: {d(X[2])}, x4: {d(X[3])}}}
layers:
  - activation: ACTIVATION
    neurons:
      c1: {{bias: {d(B)}, weights: {{x1: {d(K[0])}, x2: {d(K[1])}}}}}
      c2: {{bias: {d(B)}, weights: {{x2: {d(K[0])}, x3: {d(K[1])}}}}}
      c3: {{bias: {d(B)}, weights: {{x3: {d(K[0])}, x4: {d(K[1])}}}}}
  - activation: linear
    neurons:
      o: {{bias: {d(B_OUT)}, weights: {{c1: {d(V[0])}, c2: {d(V[1])}, c3: {d(V[2])}}}}}
targets: {{o: {d(Y)}}}
loss: half_squared_error
learning_rate: {d(ETA)}
"""


def convolution(activation: str) -> Network:
    """The dense network with layer 1's weights and biases made one shared kernel and bias."""
    network = build_network(parse_spec(DENSE.replace("ACTIVATION", activation), "conv1d.yaml"))
    return replace(network, layers=(shared_kernel(network.layers[0]),) + network.layers[1:])


def composed_loss(activation: str) -> tuple[sympy.Expr, dict[str, sympy.Symbol]]:
    k1, k2, b, bo = sympy.symbols("k1 k2 b bo")
    v = sympy.symbols("v1:4")
    f = {"tanh": sympy.tanh, "linear": lambda t: t,
         "relu": lambda t: sympy.Piecewise((0, t <= 0), (t, True))}[activation]
    x = [sympy.Rational(str(value)) for value in X]
    c = [f(k1 * x[i] + k2 * x[i + 1] + b) for i in range(3)]
    o = sum(vi * ci for vi, ci in zip(v, c)) + bo
    loss = sympy.Rational(1, 2) * (o - sympy.Rational(str(Y))) ** 2
    return loss, {"k1": k1, "k2": k2, "b:c": b, "b:o": bo, "c1->o": v[0], "c2->o": v[1], "c3->o": v[2]}


def at_spec_values(symbols: dict[str, sympy.Symbol]) -> dict[sympy.Symbol, sympy.Rational]:
    values = {"k1": K[0], "k2": K[1], "b:c": B, "b:o": B_OUT, "c1->o": V[0], "c2->o": V[1], "c3->o": V[2]}
    return {symbols[k]: sympy.Rational(str(values[k])) for k in symbols}


def float_loss(k1: float, k2: float, b: float, v: list[float], bo: float, activation: str) -> float:
    f = {"tanh": math.tanh, "linear": lambda t: t, "relu": lambda t: max(0.0, t)}[activation]
    x = [float(value) for value in X]
    c = [f(k1 * x[i] + k2 * x[i + 1] + b) for i in range(3)]
    o = sum(vi * ci for vi, ci in zip(v, c)) + bo
    return 0.5 * (o - float(Y)) ** 2


@pytest.mark.parametrize("activation", ["tanh", "linear", "relu"])
def test_shared_gradients_are_sympy_diff_of_the_composed_loss(activation: str) -> None:
    network = convolution(activation)
    assert [p.key for p in network.parameters] == ["k1", "k2", "b:c", "c1->o", "c2->o", "c3->o", "b:o"]
    assert len(network.uses["k1"]) == 3 and len(network.uses["b:c"]) == 3
    derivation = derive(network)
    values = evaluate(derivation, network)
    loss, symbols = composed_loss(activation)
    point = at_spec_values(symbols)
    for key, symbol in symbols.items():
        expected = sympy.diff(loss, symbol).subs(point)
        assert float(values.gradients[key]) == pytest.approx(float(expected), rel=1e-12, abs=1e-15), key
    # one path per use for the kernel: c1, c2 and c3 each take k1 once
    assert len(next(g for g in derivation.gradients if g.parameter.key == "k1").paths) == 3


def test_shared_gradients_match_finite_differences() -> None:
    network = convolution("tanh")
    values = evaluate(derive(network), network)
    base = dict(k1=float(K[0]), k2=float(K[1]), b=float(B), v=[float(v) for v in V], bo=float(B_OUT))
    h = 1e-6
    for key, name in (("k1", "k1"), ("k2", "k2"), ("b:c", "b")):
        up, down = dict(base), dict(base)
        up[name] += h
        down[name] -= h
        fd = (float_loss(activation="tanh", **up) - float_loss(activation="tanh", **down)) / (2 * h)
        assert float(values.gradients[key]) == pytest.approx(fd, rel=1e-6, abs=1e-9), key


def test_one_update_per_shared_parameter() -> None:
    network = convolution("linear")
    values = evaluate(derive(network), network)
    for key, old in (("k1", K[0]), ("k2", K[1]), ("b:c", B)):
        # linear throughout, so everything is exact: theta - eta * gradient
        assert values.updated[key] == old - ETA * values.gradients[key]


@pytest.mark.parametrize("form", ["paths", "delta"])
@pytest.mark.parametrize("policy", ["exact", "by-hand"])
def test_the_key_sums_over_every_use_and_each_line_recomputes(form: str, policy: str, tmp_path: Path) -> None:
    network = convolution("tanh")
    derivation = derive(network)
    values = evaluate(derivation, network, policy, 4, form)
    solution = with_forms(build_solution(derivation, values, network, policy, digits=4),
                          derivation, [values], Options(form=form))
    markdown = render(solution, "md")
    if form == "paths":
        assert "Gradient of $k_{1}$ (3 paths)" in markdown
    else:  # dL/dk1 = x1 delta_c1 + x2 delta_c2 + x3 delta_c3
        line = next(line for line in markdown.splitlines() if line.startswith(r"\frac{\partial L}{\partial k_{1}}"))
        assert line.count(r"\delta") == 3
    report = check_markdown(markdown, policy, spec_numbers(DENSE))
    assert report.checks and not report.failures and not report.unparsed, report.message(10)


def test_a_shared_parameter_keeps_one_value() -> None:
    network = convolution("tanh")
    assert {p.value for p in network.uses["k1"]} == {Given.of(K[0])}
