"""Tests of the oracle itself, against hand arithmetic and against each other
(finite differences vs sympy.diff). Nothing here imports `derive`."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import yaml
from canonical import CANONICAL
from oracle import fd_gradients, forward, loss, parameters, sympy_gradients
from random_specs import ACTIVATIONS, KINK_MARGIN, random_spec

Q2_YAML = CANONICAL

SEED000_YAML = """
title: "Seed 000"
inputs: {x1: 1, x2: 2, x3: 3}
layers:
  - activation: relu
    neurons:
      h1: {bias: -0.1, weights: {x1: 0.1, x2: 0.2, x3: -0.1}}
      h2: {bias: -0.2, weights: {x1: -0.3, x2: 0.4, x3: -0.2}}
      h3: {bias: 0.1, weights: {x1: 0.5, x2: 0.6, x3: -0.3}}
  - activation: sigmoid
    neurons:
      o1: {bias: -0.1, weights: {h1: 0.1, h2: -0.1, h3: -0.2}}
      o2: {bias: 0.2, weights: {h1: -0.3, h2: 0.2, h3: 0.3}}
targets: {o1: 1, o2: 0}
loss: half_squared_error
learning_rate: 0.5
"""


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def assert_grads_agree(a: dict, b: dict, tol: float = 1e-6) -> None:
    # relative once gradients exceed 1: FD rounding error scales with the loss size
    assert a.keys() == b.keys()
    for key in a:
        assert abs(a[key] - b[key]) <= tol * max(1.0, abs(b[key])), (key, a[key], b[key])


def one_layer(activation: Any, z_values: list[float], loss_name: str = "half_squared_error",
              targets: list[float] | None = None) -> dict:
    """Single layer fed by x = 1 through weight 0.5; biases chosen so z is exactly as given
    (all values are dyadic, so the float arithmetic is exact)."""
    names = [f"o{i}" for i in range(1, len(z_values) + 1)]
    return {
        "inputs": {"x": 1},
        "layers": [{"activation": activation,
                    "neurons": {n: {"bias": z - 0.5, "weights": {"x": 0.5}}
                                for n, z in zip(names, z_values)}}],
        "targets": dict(zip(names, targets or [0] * len(names))),
        "loss": loss_name,
    }


# --------------------------------------------------------------------------- q2 by hand

@pytest.fixture
def q2() -> dict:
    return yaml.safe_load(Q2_YAML)


def test_q2_parameters_in_spec_order(q2: dict) -> None:
    keys = parameters(q2)
    assert keys[:4] == [("weight", "x1", "h1"), ("weight", "x2", "h1"),
                        ("weight", "x3", "h1"), ("bias", "h1")]
    assert keys[-3:] == [("weight", "g1", "o"), ("weight", "g2", "o"), ("bias", "o")]
    assert len(keys) == 4 + 4 + 3 + 3 + 3


def test_q2_forward_by_hand(q2: dict) -> None:
    fw = forward(q2)
    assert fw["h1"][0] == pytest.approx(0.42 * 6 + 0.72 * 2 + 0.21 * 5 + 0.01)
    assert fw["h1"][0] == pytest.approx(5.02)
    assert fw["h2"][0] == pytest.approx(0.11 * 6 + 0.30 * 2 + 0.65 * 5 + 0.01)
    assert fw["h2"][0] == pytest.approx(4.52)
    assert fw["h1"][1] == pytest.approx(5.02) and fw["h2"][1] == pytest.approx(4.52)  # relu, z > 0
    assert fw["g1"][0] == pytest.approx(0.17 * 5.02 + 0.29 * 4.52 + 0.05)  # 2.2142
    assert fw["g2"][0] == pytest.approx(0.91 * 5.02 + 0.90 * 4.52 + 0.05)  # 8.6862
    g1, g2 = sigmoid(2.2142), sigmoid(8.6862)
    o = sigmoid(0.61 * g1 + 0.39 * g2 + 0.08)
    assert fw["o"][1] == pytest.approx(o)
    assert loss(q2) == pytest.approx(0.5 * (1 - o) ** 2)


def test_q2_gradients_by_hand_backprop(q2: dict) -> None:
    # textbook deltas, written out independently of the oracle's code paths
    g1, g2 = sigmoid(2.2142), sigmoid(8.6862)
    o = sigmoid(0.61 * g1 + 0.39 * g2 + 0.08)
    d_o = (o - 1) * o * (1 - o)
    d_g1 = d_o * 0.61 * g1 * (1 - g1)
    d_g2 = d_o * 0.39 * g2 * (1 - g2)
    d_h1 = d_g1 * 0.17 + d_g2 * 0.91  # relu' = 1 since z_h1 > 0
    expected = {("bias", "o"): d_o, ("weight", "g1", "o"): d_o * g1,
                ("weight", "g2", "o"): d_o * g2, ("bias", "g1"): d_g1,
                ("weight", "h2", "g2"): d_g2 * 4.52, ("weight", "x1", "h1"): d_h1 * 6,
                ("bias", "h1"): d_h1}
    for grads in (fd_gradients(q2), sympy_gradients(q2)):
        for key, value in expected.items():
            assert grads[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key


def test_q2_fd_matches_sympy(q2: dict) -> None:
    assert_grads_agree(fd_gradients(q2), sympy_gradients(q2))


def test_seed000_network() -> None:
    spec = yaml.safe_load(SEED000_YAML)
    fw = forward(spec)
    assert [round(fw[n][1], 6) for n in ("h1", "h2", "h3")] == [0.1, 0.0, 0.9]
    assert fw["h2"][0] == pytest.approx(-0.3)  # relu clamps it
    assert round(fw["o1"][1], 6) == 0.432907
    assert round(fw["o2"][1], 6) == 0.608259
    o1, o2 = fw["o1"][1], fw["o2"][1]
    assert loss(spec) == pytest.approx(0.5 * ((1 - o1) ** 2 + (0 - o2) ** 2))
    grads = sympy_gradients(spec)
    assert_grads_agree(fd_gradients(spec), grads)
    # dead relu h2: nothing flows back into its incoming weights or bias
    assert grads[("bias", "h2")] == 0.0 and grads[("weight", "x1", "h2")] == 0.0


# --------------------------------------------------------------------------- building blocks

@pytest.mark.parametrize("activation, expected", [
    ("linear", lambda z: z),
    ("sigmoid", sigmoid),
    ("tanh", math.tanh),
    ("relu", lambda z: max(0.0, z)),
    ("leaky_relu", lambda z: z if z > 0 else 0.01 * z),  # default slope
    ({"name": "leaky_relu", "slope": 0.2}, lambda z: z if z > 0 else 0.2 * z),
    ("softplus", lambda z: math.log(1 + math.exp(z))),
])
def test_activations(activation: Any, expected: Any) -> None:
    zs = [-2.0, -0.5, 1.5]
    spec = one_layer(activation, zs)
    fw = forward(spec)
    for i, z in enumerate(zs, 1):
        assert fw[f"o{i}"] == pytest.approx((z, expected(z)))
    assert_grads_agree(fd_gradients(spec), sympy_gradients(spec))


def test_softmax_is_layer_wide() -> None:
    spec = one_layer("softmax", [1.0, 2.0, 3.0], "cross_entropy", [0, 1, 0])
    fw = forward(spec)
    total = math.exp(1) + math.exp(2) + math.exp(3)
    for i in (1, 2, 3):
        assert fw[f"o{i}"][1] == pytest.approx(math.exp(i) / total)
    assert loss(spec) == pytest.approx(-math.log(math.exp(2) / total))
    grads = sympy_gradients(spec)
    assert_grads_agree(fd_gradients(spec), grads)
    # softmax + cross-entropy: dL/dz_k = a_k - y_k
    for i, y in zip((1, 2, 3), (0, 1, 0)):
        assert grads[("bias", f"o{i}")] == pytest.approx(math.exp(i) / total - y)


@pytest.mark.parametrize("loss_name, expected", [
    # linear outputs 0.5 and 0.25 against targets 1 and 0
    ("squared_error", 0.25 + 0.0625),
    ("half_squared_error", (0.25 + 0.0625) / 2),
    ("mean_squared_error", (0.25 + 0.0625) / 2),
    ("binary_cross_entropy", -(math.log(0.5) + math.log(0.75))),
    ("cross_entropy", math.log(2)),
])
def test_losses(loss_name: str, expected: float) -> None:
    spec = one_layer("linear", [0.5, 0.25], loss_name, [1, 0])
    assert loss(spec) == pytest.approx(expected)
    assert_grads_agree(fd_gradients(spec), sympy_gradients(spec))


def test_mean_squared_error_divides_by_number_of_targets() -> None:
    spec = one_layer("linear", [0.5, 0.25, 0.0], "mean_squared_error", [1, 0, 0])
    assert loss(spec) == pytest.approx((0.25 + 0.0625 + 0) / 3)


@pytest.mark.parametrize("activation, expected", [
    ("relu", 0.0), ({"name": "leaky_relu", "slope": 0.2}, -0.2),
])
def test_kink_convention_z_exactly_zero(activation: Any, expected: float) -> None:
    # z = 0 exactly: the z <= 0 branch applies, so f'(0) = 0 (relu) or slope (leaky).
    # half squared error with y = 1, a = 0: dL/db = (a - y) * f'(0) = -f'(0)
    spec = one_layer(activation, [0.0], targets=[1])
    assert sympy_gradients(spec)[("bias", "o1")] == pytest.approx(expected, abs=1e-15)


def test_overrides(q2: dict) -> None:
    assert loss(q2, {("bias", "o"): 0.08}) == loss(q2)
    assert loss(q2, {("bias", "o"): 0.5}) != loss(q2)
    assert forward(q2, {("weight", "x1", "h1"): 0.0})["h1"][0] == pytest.approx(5.02 - 2.52)
    with pytest.raises(KeyError):
        loss(q2, {("bias", "nope"): 1.0})


def test_sparse_and_skip_connections() -> None:
    spec = {
        "inputs": {"x1": 1.0, "x2": -2.0},
        "layers": [
            {"activation": "tanh", "neurons": {"a": {"bias": 0.1, "weights": {"x2": 0.3}}}},
            {"activation": "sigmoid", "neurons": {"b": {"bias": -0.2, "weights": {"a": 0.7}}}},
            {"activation": "linear",
             "neurons": {"c": {"bias": 0.05, "weights": {"b": 0.4, "a": -0.6, "x1": 0.9}}}},
        ],
        "targets": {"c": 0.3}, "loss": "squared_error",
    }
    a = math.tanh(0.3 * -2.0 + 0.1)
    b = sigmoid(0.7 * a - 0.2)
    c = 0.4 * b - 0.6 * a + 0.9 * 1.0 + 0.05
    assert forward(spec)["c"][1] == pytest.approx(c)
    assert loss(spec) == pytest.approx((0.3 - c) ** 2)
    assert parameters(spec)[-4:] == [("weight", "b", "c"), ("weight", "a", "c"),
                                     ("weight", "x1", "c"), ("bias", "c")]
    assert_grads_agree(fd_gradients(spec), sympy_gradients(spec))


def test_samples_mean_and_sum(q2: dict) -> None:
    second_inputs, second_targets = {"x1": -1, "x2": 0.5, "x3": 2}, {"o": 0}
    other = copy.deepcopy(q2)
    other["inputs"], other["targets"] = second_inputs, second_targets
    batched = copy.deepcopy(q2)
    del batched["inputs"], batched["targets"]
    batched["samples"] = [{"inputs": q2["inputs"], "targets": q2["targets"]},
                          {"inputs": second_inputs, "targets": second_targets}]
    assert loss(batched) == pytest.approx((loss(q2) + loss(other)) / 2)  # default: mean
    assert forward(batched) == forward(q2)  # first sample
    assert_grads_agree(fd_gradients(batched), sympy_gradients(batched))
    batched["reduction"] = "sum"
    assert loss(batched) == pytest.approx(loss(q2) + loss(other))
    gq, go, gb = fd_gradients(q2), fd_gradients(other), sympy_gradients(batched)
    assert_grads_agree({k: gq[k] + go[k] for k in gq}, gb)


# --------------------------------------------------------------------------- random specs

@pytest.mark.parametrize("seed", range(30))
def test_random_fd_matches_sympy(seed: int) -> None:
    # width <= 2: sympy's Piecewise folding gets very slow for wide stacked relu layers
    spec = random_spec(seed, max_layers=3, max_width=2)
    assert_grads_agree(fd_gradients(spec), sympy_gradients(spec))


@pytest.mark.parametrize("seed", range(5))
def test_random_relu_stacks_fd_matches_sympy(seed: int) -> None:
    spec = random_spec(1000 + seed, max_layers=3, max_width=2, activations=["relu", "leaky_relu"])
    assert_grads_agree(fd_gradients(spec), sympy_gradients(spec))


@pytest.mark.parametrize("seed", range(5))
def test_random_samples_fd_matches_sympy(seed: int) -> None:
    spec = random_spec(2000 + seed, max_layers=2, max_width=2, samples=3)
    assert spec["reduction"] in ("mean", "sum") and len(spec["samples"]) == 3
    assert_grads_agree(fd_gradients(spec), sympy_gradients(spec))


def _check_valid(spec: dict, max_layers: int = 4, max_width: int = 4,
                 activations: tuple[str, ...] = ACTIVATIONS) -> None:
    inputs = list(spec["inputs"])
    assert 1 <= len(inputs) <= 4 and all(-2 <= v <= 2 for v in spec["inputs"].values())
    assert 1 <= len(spec["layers"]) <= max_layers
    known = set(inputs)
    used: set[str] = set()
    for li, layer in enumerate(spec["layers"], 1):
        act = layer["activation"]
        assert (act if isinstance(act, str) else act["name"]) in activations
        assert 1 <= len(layer["neurons"]) <= max_width
        for name, neuron in layer["neurons"].items():
            assert name.startswith(f"n{li}_")
            assert neuron["weights"], "every neuron needs at least one weight"
            assert set(neuron["weights"]) <= known, "weights may only name earlier nodes"
            used |= set(neuron["weights"])
            for v in [neuron["bias"], *neuron["weights"].values()]:
                assert -1 <= v <= 1 and round(v, 2) == v
        known |= set(layer["neurons"])
    outputs = set(spec["layers"][-1]["neurons"])
    assert set(spec["targets"]) == outputs
    assert used == known - outputs, "every input and hidden neuron feeds something"
    last = spec["layers"][-1]["activation"]
    if spec["loss"] == "binary_cross_entropy":
        assert last == "sigmoid"
    if spec["loss"] in ("binary_cross_entropy", "cross_entropy"):
        assert all(0 <= y <= 1 for y in spec["targets"].values())
    for layer in spec["layers"]:
        act = layer["activation"]
        if (act if isinstance(act, str) else act["name"]) in ("relu", "leaky_relu"):
            fw = forward(spec)
            assert all(abs(fw[n][0]) >= KINK_MARGIN for n in layer["neurons"])
    assert math.isfinite(loss(spec))


@pytest.mark.parametrize("seed", range(60))
def test_random_spec_is_valid_and_deterministic(seed: int) -> None:
    spec = random_spec(seed)
    _check_valid(spec)
    assert random_spec(seed) == spec
    assert yaml.safe_load(yaml.safe_dump(spec, sort_keys=False)) == spec  # plain YAML types


def test_random_spec_options() -> None:
    for seed in range(20):
        _check_valid(random_spec(seed, max_layers=2, max_width=1, activations=["tanh"]),
                     max_layers=2, max_width=1, activations=("tanh",))


def test_random_specs_cover_sparse_and_skip() -> None:
    sparse = skip = False
    for seed in range(60):
        spec = random_spec(seed)
        levels = [list(spec["inputs"])] + [list(l["neurons"]) for l in spec["layers"]]
        for li, layer in enumerate(spec["layers"], 1):
            for neuron in layer["neurons"].values():
                sources = set(neuron["weights"])
                sparse |= not set(levels[li - 1]) <= sources
                skip |= bool(sources - set(levels[li - 1]))
    assert sparse and skip
