"""A pooling unit (issue 10's design: a max-pool unit with many inputs): its z is the
maximum or the mean of its sources, it has no parameters, and its local derivative
routes the gradient to the first maximum (1/n to each source for the mean).

No spec syntax makes pooling units yet (the pool layer will), so the tests build a
small 1-D network by hand from a dense spec: a convolution with a shared kernel
(c_i = k1 x_i + k2 x_{i+1} + b), overlapping pooling windows p1 over (c1, c2) and
p2 over (c2, c3), then a dense sigmoid output. The oracle is written here: a float
forward pass and central finite differences (one-sided where a tie makes the loss
non-differentiable, on the side where the first maximum stays the maximum).
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from hand_built import shared_kernel
from linecheck import check_markdown, spec_numbers

from derive.derivation import derive
from derive.evaluate import evaluate
from derive.forms import Options, with_forms
from derive.network import Network, build_network
from derive.render import render
from derive.solution import build_solution
from derive.spec import Activation, parse_spec

DENSE = """\
title: convolution, pooling, dense (written as dense layers, then rebuilt)
inputs: {x1: X1, x2: -1, x3: 2, x4: 0.5}
layers:
  - activation: tanh
    neurons:
      c1: {bias: 0.1, weights: {x1: 0.4, x2: -0.3}}
      c2: {bias: 0.1, weights: {x2: 0.4, x3: -0.3}}
      c3: {bias: 0.1, weights: {x3: 0.4, x4: -0.3}}
  - activation: linear
    neurons:
      p1: {bias: 0, weights: {c1: 1, c2: 1}}
      p2: {bias: 0, weights: {c2: 1, c3: 1}}
  - activation: sigmoid
    neurons:
      o: {bias: 0.05, weights: {p1: 0.7, p2: -0.6}}
targets: {o: 1}
loss: binary_cross_entropy
learning_rate: 0.1
"""
POOLS = {"p1": ("c1", "c2"), "p2": ("c2", "c3")}


def network(pool: str, x1: str = "0.5") -> Network:
    """The dense network with a shared kernel in layer 1 and pooling units in layer 2."""
    built = build_network(parse_spec(DENSE.replace("X1", x1), "pool.yaml"))
    pools = tuple(unit._replace(weights=(), bias=None, pool=pool, sources=POOLS[unit.name],
                                activation=Activation("linear")) for unit in built.layers[1])
    return replace(built, layers=(shared_kernel(built.layers[0]), pools, built.layers[2]))


PARAMETERS = {"k1": 0.4, "k2": -0.3, "b:c": 0.1, "p1->o": 0.7, "p2->o": -0.6, "b:o": 0.05}


def loss(theta: dict[str, float], pool: str, x1: float = 0.5) -> float:
    """The oracle's forward pass, in floats."""
    x = [x1, -1.0, 2.0, 0.5]
    c = [math.tanh(theta["k1"] * x[i] + theta["k2"] * x[i + 1] + theta["b:c"]) for i in range(3)]
    windows = [(c[0], c[1]), (c[1], c[2])]
    p = [max(w) if pool == "max" else sum(w) / 2 for w in windows]
    o = 1 / (1 + math.exp(-(theta["p1->o"] * p[0] + theta["p2->o"] * p[1] + theta["b:o"])))
    return -math.log(o)  # binary cross-entropy with y = 1


def difference(key: str, pool: str, x1: float = 0.5, side: int = 0, h: float = 1e-6) -> float:
    """Central (side 0), or one-sided (+1 / -1), difference quotient of the loss."""
    up, down = dict(PARAMETERS), dict(PARAMETERS)
    up[key] += h if side >= 0 else 0
    down[key] -= h if side <= 0 else 0
    return (loss(up, pool, x1) - loss(down, pool, x1)) / (h * (2 if side == 0 else 1))


@pytest.mark.parametrize("pool", ["max", "average"])
def test_gradients_through_pooling_match_finite_differences(pool: str) -> None:
    net = network(pool)
    values = evaluate(derive(net), net)
    assert [p.key for p in net.parameters] == list(PARAMETERS)  # pooling units have none
    for key in PARAMETERS:
        assert float(values.gradients[key]) == pytest.approx(difference(key, pool), rel=1e-6, abs=1e-9), key


def test_max_pooling_routes_to_the_maximum() -> None:
    net = network("max")
    derivation = derive(net)
    values = evaluate(derivation, net)
    c = [math.tanh(0.4 * a - 0.3 * b + 0.1) for a, b in ((0.5, -1), (-1, 2), (2, 0.5))]
    # c1 = tanh(0.6) > c2 = tanh(-0.9); c3 = tanh(0.75) > c2: p1 takes c1, p2 takes c3
    assert c[0] > c[1] and c[2] > c[1]
    symbols = derivation.symbols
    z_p1, z_p2 = (symbols[net.units[name].z_symbol] for name in ("p1", "p2"))  # type: ignore[index]
    a_c = [symbols[net.units[name].a_symbol] for name in ("c1", "c2", "c3")]
    assert values.locals[(z_p1, a_c[0])] == 1 and values.locals[(z_p1, a_c[1])] == 0
    assert values.locals[(z_p2, a_c[1])] == 0 and values.locals[(z_p2, a_c[2])] == 1


def test_a_tie_goes_to_the_first_maximum() -> None:
    # x1 = -1.5 gives c1 = tanh(0.4 * -1.5 + 0.3 + 0.1) = tanh(-0.2) and c2 = tanh(-0.4 - 0.6 + 0.1)
    # = tanh(-0.9): no tie; x1 = -2.25 gives c1 = tanh(-0.9 + 0.3 + 0.1) = tanh(-0.5) ... so the
    # tie is made directly: x1 = -3.5 gives 0.4 * -3.5 + 0.3 + 0.1 = -1.0, and c2's z is -0.9:
    # no; choose x1 so that c1's z equals c2's: 0.4 x1 + 0.4 = -0.9, x1 = -3.25
    net = network("max", "-3.25")
    derivation = derive(net)
    values = evaluate(derivation, net)
    symbols = derivation.symbols
    z_p1 = symbols[net.units["p1"].z_symbol]  # type: ignore[index]
    a_c1, a_c2 = (symbols[net.units[name].a_symbol] for name in ("c1", "c2"))
    assert values.symbols[a_c1] == values.symbols[a_c2]  # exactly tied (z = -0.9 both, exact decimals)
    assert values.locals[(z_p1, a_c1)] == 1 and values.locals[(z_p1, a_c2)] == 0
    # k1 moves c1 by x1 = -3.25 and c2 by x2 = -1: raising k1 lowers c1 more than c2, so on
    # the side h < 0 c1 stays the maximum (first in row-major order): that side's quotient
    assert float(values.gradients["k1"]) == pytest.approx(difference("k1", "max", -3.25, side=-1),
                                                          rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("pool", ["max", "average"])
@pytest.mark.parametrize("form", ["paths", "delta"])
@pytest.mark.parametrize("policy", ["exact", "by-hand"])
def test_the_key_works_pooling_and_each_line_recomputes(pool: str, form: str, policy: str,
                                                         tmp_path: Path) -> None:
    net = network(pool)
    derivation = derive(net)
    values = evaluate(derivation, net, policy, 4, form)
    solution = with_forms(build_solution(derivation, values, net, policy, digits=4),
                          derivation, [values], Options(form=form))
    markdown = render(solution, "md")
    z_p1 = net.units["p1"].z_symbol
    line = next(line for line in markdown.splitlines() if line.startswith(f"{z_p1} &="))
    assert (r"\max" in line) if pool == "max" else (r"}{2}" in line and r"\max" not in line)
    report = check_markdown(markdown, policy, spec_numbers(DENSE.replace("X1", "0.5")))
    assert report.checks and not report.failures, report.message(10)
