"""Random canonical v1 spec dicts for property-style tests.

`random_spec(seed)` is deterministic in `seed` (random.Random(seed)), so a failing
seed can be replayed. It uses the oracle's forward pass only to keep ReLU-family
pre-activations away from the kink, where finite differences are undefined.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

from oracle import _activation, _samples, forward

ACTIVATIONS: tuple[str, ...] = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "softplus")
KINK_MARGIN = 1e-3  # |z| below this for relu/leaky_relu triggers a bias re-draw


def _compatible_losses(last_activation: str) -> list[str]:
    """Losses that are finite for the output range of the last activation."""
    losses = ["squared_error", "half_squared_error", "mean_squared_error"]
    if last_activation in ("sigmoid", "softplus", "softmax"):
        losses.append("cross_entropy")  # needs y_hat > 0
    if last_activation == "sigmoid":
        losses.append("binary_cross_entropy")  # needs 0 < y_hat < 1
    return losses


def random_spec(seed: int, *, max_layers: int = 4, max_width: int = 4,
                activations: Sequence[str] = ACTIVATIONS, samples: int = 0) -> dict[str, Any]:
    """A random valid spec. `samples > 0` produces a `samples:` list (and a random
    `reduction`) instead of top-level inputs/targets."""
    rng = random.Random(seed)

    def num(lo: float, hi: float) -> float:
        return round(rng.uniform(lo, hi), 2) + 0.0  # "+ 0.0" turns -0.0 into 0.0

    input_names = [f"x{i}" for i in range(1, rng.randint(1, 4) + 1)]
    levels: list[list[str]] = [input_names]  # levels[0] = inputs, levels[k] = layer k
    layers: list[dict[str, Any]] = []
    for li in range(1, rng.randint(1, max_layers) + 1):
        act = rng.choice(list(activations))
        activation: Any = act
        if act == "leaky_relu" and rng.random() < 0.5:
            activation = {"name": "leaky_relu", "slope": num(0.01, 0.5)}
        names = [f"n{li}_{j}" for j in range(1, rng.randint(1, max_width) + 1)]
        prev = levels[-1]
        older = [s for level in levels[:-1] for s in level]  # two+ layers back, or inputs
        sparse = rng.random() < 0.3
        skip = bool(older) and rng.random() < 0.3

        sources: dict[str, set[str]] = {}
        for n in names:
            chosen = {s for s in prev if not sparse or rng.random() < 0.6}
            sources[n] = chosen or {rng.choice(prev)}  # at least one weight
        for s in prev:  # every earlier node still feeds something: no dead neurons
            if not any(s in src for src in sources.values()):
                sources[rng.choice(names)].add(s)
        if skip:
            for n in names:
                if rng.random() < 0.5:
                    sources[n].add(rng.choice(older))

        order = {s: i for i, s in enumerate(s for level in levels for s in level)}
        neurons = {n: {"bias": num(-1, 1),
                       "weights": {s: num(-1, 1) for s in sorted(sources[n], key=order.get)}}
                   for n in names}
        layers.append({"activation": activation, "neurons": neurons})
        levels.append(names)

    last = _activation(layers[-1])[0]
    loss = rng.choice(_compatible_losses(last))
    probability_targets = loss in ("binary_cross_entropy", "cross_entropy")

    def draw_targets() -> dict[str, float]:
        return {n: num(0, 1) if probability_targets else num(-1, 1) for n in levels[-1]}

    def draw_inputs() -> dict[str, float]:
        return {x: num(-2, 2) for x in input_names}

    spec: dict[str, Any] = {"title": f"Random network {seed}"}
    if samples:
        spec["samples"] = [{"inputs": draw_inputs(), "targets": draw_targets()}
                           for _ in range(samples)]
        spec["reduction"] = rng.choice(["mean", "sum"])
    else:
        spec["inputs"] = draw_inputs()
    spec["layers"] = layers
    if not samples:
        spec["targets"] = draw_targets()
    spec["loss"] = loss
    spec["learning_rate"] = num(0.05, 1)
    _avoid_kinks(spec, rng)
    return spec


def _avoid_kinks(spec: dict[str, Any], rng: random.Random) -> None:
    """Re-draw the bias of the first ReLU-family neuron whose z is within KINK_MARGIN
    of 0 (in any sample), until none is. Each re-draw changes downstream z's, so loop."""
    kinked = {n: layer for layer in spec["layers"]
              if _activation(layer)[0] in ("relu", "leaky_relu") for n in layer["neurons"]}
    for _ in range(1000):
        bad = next((n for inputs, _t in _samples(spec)
                    for n, (z, _a) in forward(spec, inputs=inputs).items()
                    if n in kinked and abs(z) < KINK_MARGIN), None)
        if bad is None:
            return
        kinked[bad]["neurons"][bad]["bias"] = round(rng.uniform(-1, 1), 2) + 0.0
    raise RuntimeError("could not move ReLU pre-activations away from 0")
