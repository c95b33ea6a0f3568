"""Random networks the way teachers write them, for the exact-decimal oracle.

random_specs.random_spec draws two-decimal floats and steers every ReLU z away from 0,
so it never meets the cases teachers set on purpose. `teacher_spec(seed)` draws:

  * one- and two-decimal weights and biases (0.1, -0.3, 0.25), exact zeros among them,
    inputs such as 3, 0.5, 0, -1.5, targets 0/1 or one-decimal values;
  * units at exactly z = 0: a neuron's bias set to minus the exact sum of its weighted
    inputs when that sum is a short decimal -- in the first layer and, where the layers
    before are ReLU / leaky ReLU / linear (so the values are still exact), deeper;
  * sometimes an unused input (no neuron has a weight from it);
  * relu, leaky_relu (slopes 0.1, 0.2, ... or the default), linear, sigmoid, tanh,
    softplus and softmax layers, every loss compatible with the output layer, sparse and
    skip connections.

Deterministic in `seed` (random.Random(seed)); the result is a plain dict of YAML types
(ints and floats, whose repr is the decimal meant: exact_oracle.exact_number reads it).
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

from exact_oracle import UndecidableKink, exact_forward, exact_number, is_exact
from random_specs import _compatible_losses

HIDDEN = ("relu", "relu", "leaky_relu", "leaky_relu", "linear", "sigmoid", "tanh", "softplus")
OUTPUT = ("relu", "leaky_relu", "linear", "linear", "sigmoid", "sigmoid", "tanh", "softplus",
          "softmax")
SLOPES = (0.1, 0.2, 0.01, 0.05, 0.3, 0.5)
LEARNING_RATES = (0.1, 0.5, 1, 0.01, 0.05, 0.25, 0.2, 0.3, 0.7)
KINKED = ("relu", "leaky_relu")
ZERO_ALSO = ("linear", "sigmoid", "tanh")  # z = 0 there too, now and then (sigma(0) = 1/2)
MAX_BIAS_PLACES = 4  # a placed bias is "short": at most this many decimal places ...
MAX_BIAS = 5  # ... and at most this large
NEAR_KINK = 1e-6  # an inexact ReLU-family z closer to 0 than this is re-drawn


def _activation_name(activation: Any) -> str:
    return activation if isinstance(activation, str) else activation["name"]


def _short_decimal(value: Fraction) -> bool:
    return (10 ** MAX_BIAS_PLACES) % value.denominator == 0 and abs(value) <= MAX_BIAS


def _as_yaml_number(value: Fraction) -> int | float:
    """An int when whole, else the float whose repr is the decimal (checked)."""
    if value.denominator == 1:
        return int(value)
    f = float(value) + 0.0
    assert exact_number(f) == value, (value, f)
    return f


class Draw:
    """The value distributions, one random.Random."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def one_decimal(self, lo: int, hi: int) -> float:
        """k/10 for k in [lo, hi] (tenths)."""
        return _as_yaml_number(Fraction(self.rng.randint(lo, hi), 10))

    def two_decimal(self, lo: int, hi: int) -> float:
        return _as_yaml_number(Fraction(self.rng.randint(lo, hi), 100))

    def weight(self) -> int | float:
        r = self.rng.random()
        if r < 0.08:
            return 0
        if r < 0.65:
            return self.one_decimal(-10, 10)
        if r < 0.95:
            return self.two_decimal(-99, 99)
        return self.rng.choice([1, -1, 2, -2])

    def bias(self) -> int | float:
        return 0 if self.rng.random() < 0.15 else self.weight()

    def input(self) -> int | float:
        r = self.rng.random()
        if r < 0.12:
            return 0
        if r < 0.5:
            return self.rng.randint(-2, 5)
        if r < 0.9:
            return self.one_decimal(-20, 20)
        return self.rng.choice([0.25, 0.75, -0.25, 1.25, 0.05])

    def target(self, lo: int, hi: int) -> int | float:
        """0/1 half of the time, else a one-decimal value in [lo, hi] (tenths)."""
        return self.rng.choice([0, 1]) if self.rng.random() < 0.5 else self.one_decimal(lo, hi)


def teacher_spec(seed: int, *, max_layers: int = 3, max_width: int = 3, max_inputs: int = 4,
                 p_unused: float = 0.2, p_zero: float = 0.6) -> dict[str, Any]:
    """A random valid spec in the teachers' style (see the module docstring).

    `p_unused`: chance of an input no neuron uses; `p_zero`: chance that the generator
    places units at exactly z = 0 (a ReLU-family unit when there is one)."""
    rng = random.Random(seed)
    draw = Draw(rng)

    n_inputs = rng.randint(1, max_inputs)
    unused = None
    if rng.random() < p_unused:  # one more input, anywhere in the order, that feeds nothing
        n_inputs += 1
        unused = f"x{rng.randint(1, n_inputs)}"
    input_names = [f"x{i}" for i in range(1, n_inputs + 1)]
    used_inputs = [x for x in input_names if x != unused]

    n_layers = rng.choices(range(1, max_layers + 1),
                           weights=[1] + [2] * (max_layers - 1))[0]
    levels: list[list[str]] = [used_inputs]
    layers: list[dict[str, Any]] = []
    for li in range(1, n_layers + 1):
        last = li == n_layers
        act = rng.choice(OUTPUT if last else HIDDEN)
        activation: Any = act
        if act == "leaky_relu" and rng.random() < 0.7:
            activation = {"name": "leaky_relu", "slope": rng.choice(SLOPES)}
        low = 2 if act == "softmax" else 1
        width = rng.randint(low, max(low, min(max_width, 2) if last else max_width))
        names = [f"o{j}" if last else f"h{li}_{j}" for j in range(1, width + 1)]
        prev = levels[-1]
        older = [s for level in levels[:-1] for s in level]
        sparse = rng.random() < 0.3
        skip = bool(older) and rng.random() < 0.3
        sources: dict[str, set[str]] = {}
        for n in names:
            chosen = {s for s in prev if not sparse or rng.random() < 0.6}
            sources[n] = chosen or {rng.choice(prev)}
        for s in prev:  # every earlier unit feeds something (only `unused` feeds nothing)
            if not any(s in src for src in sources.values()):
                sources[rng.choice(names)].add(s)
        if skip:
            for n in names:
                if rng.random() < 0.5:
                    sources[n].add(rng.choice(older))
        order = {s: i for i, s in enumerate(s for level in levels for s in level)}
        neurons = {n: {"bias": draw.bias(),
                       "weights": {s: draw.weight() for s in sorted(sources[n], key=order.get)}}
                   for n in names}
        layers.append({"activation": activation, "neurons": neurons})
        levels.append(names)

    last_act = _activation_name(layers[-1]["activation"])
    loss = rng.choice(_compatible_losses(last_act))
    outputs = levels[-1]
    if last_act == "softmax" and loss == "cross_entropy":
        if rng.random() < 0.8:  # one-hot
            hot = rng.choice(outputs)
            targets: dict[str, Any] = {n: int(n == hot) for n in outputs}
        else:  # one-decimal probabilities summing to 1
            cuts = sorted(rng.randint(0, 10) for _ in outputs[1:])
            parts = [b - a for a, b in zip([0, *cuts], [*cuts, 10])]
            targets = {n: _as_yaml_number(Fraction(p, 10)) for n, p in zip(outputs, parts)}
    elif loss in ("binary_cross_entropy", "cross_entropy"):
        targets = {n: draw.target(0, 10) for n in outputs}
    else:
        targets = {n: draw.target(-10, 20) for n in outputs}

    spec: dict[str, Any] = {"title": f"Teacher network {seed}",
                            "inputs": {x: draw.input() for x in input_names},
                            "layers": layers, "targets": targets, "loss": loss,
                            "learning_rate": rng.choice(LEARNING_RATES)}
    _place_zeros(spec, rng, rng.random() < p_zero)
    _avoid_near_kinks(spec, draw)
    return spec


def _place_zeros(spec: dict[str, Any], rng: random.Random, wanted: bool) -> None:
    """Set some biases to minus the exact weighted sum, layer by layer, so those units sit
    at exactly z = 0. Later layers are placed after earlier ones change (a unit at 0
    changes what follows), so each layer's sums are read from the current spec."""
    if not wanted:
        return
    for layer in spec["layers"]:
        act = _activation_name(layer["activation"])
        if act in KINKED:
            chance = 0.5
        elif act in ZERO_ALSO:
            chance = 0.15
        else:
            continue
        fw = exact_forward(spec)
        for n, neuron in layer["neurons"].items():
            if rng.random() >= chance:
                continue
            z, _a = fw[n]
            if not is_exact(z):  # fed by sigmoid/tanh/...: no decimal bias makes it 0
                continue
            weighted = z - exact_number(neuron["bias"])
            if _short_decimal(-weighted):
                neuron["bias"] = _as_yaml_number(-weighted)


def _avoid_near_kinks(spec: dict[str, Any], draw: Draw) -> None:
    """An inexact ReLU-family z (fed by transcendental values) within NEAR_KINK of 0 is
    not what a teacher writes and cannot be placed on a branch reliably in doubles:
    re-draw that unit's bias. Exact z's, zeros included, are left alone."""
    kinked = {n: neuron for layer in spec["layers"]
              if _activation_name(layer["activation"]) in KINKED
              for n, neuron in layer["neurons"].items()}
    for _ in range(1000):
        try:
            fw = exact_forward(spec)
        except UndecidableKink as err:
            bad = str(err).split(":")[0]
        else:
            bad = next((n for n, (z, _a) in fw.items()
                        if n in kinked and not is_exact(z) and abs(z) < NEAR_KINK), None)
        if bad is None:
            return
        kinked[bad]["bias"] = draw.weight()
    raise RuntimeError("could not move inexact ReLU pre-activations away from 0")
