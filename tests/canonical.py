"""Spec texts and problem files shared by several test modules."""

from pathlib import Path

import yaml

PROBLEMS_DIR = Path(__file__).resolve().parent.parent / "problems"


def draws_values(path: Path) -> bool:
    """An exam template (some value is a draw such as {uniform: [...]}), read independently
    of the product: a mapping where a number belongs."""
    spec = yaml.safe_load(path.read_text())
    values = list(spec.get("inputs", {}).values()) + list(spec.get("targets", {}).values())
    values += [spec.get("learning_rate")]
    for layer in spec.get("layers", []):
        for neuron in layer.get("neurons", {}).values():
            values += [neuron["bias"], *neuron["weights"].values()]
        for conv_map in layer.get("conv", {}).values():  # a kernel is a mapping of matrices
            values += [conv_map["bias"], *conv_map["kernel"].values()]
    return any(isinstance(v, dict) for v in values)


ALL_PROBLEMS = sorted(PROBLEMS_DIR.glob("*.yaml"))
# problems with given values (derive solve); the others are exam templates (derive exam)
PROBLEMS = [p for p in ALL_PROBLEMS if not draws_values(p)]
# one sample, one update: whose first step's gradients are the whole answer (batches and
# sequential runs are checked against the oracle's combined loss in test_syllabus.py)
SINGLE_SAMPLE = [p for p in PROBLEMS if not {"samples", "gradients", "parts"} & set(yaml.safe_load(p.read_text()))]
EXAM_TEMPLATES = [p for p in ALL_PROBLEMS if draws_values(p)]
# given-gradient problems (seed 000, part 2): no forward pass, no loss, only the updates from
# the spec's `gradients`; checked by test_given_gradients.py, not by the forward/gradient oracles
GIVEN_GRADIENTS = [p for p in PROBLEMS if "gradients" in yaml.safe_load(p.read_text())]
# specs with parts (seed 002, derive.parts): each part is the spec with its own loss, learning
# rate or targets; checked part by part against the oracles by test_parts.py
PARTS = [p for p in PROBLEMS if "parts" in yaml.safe_load(p.read_text())]


def has_maps(path: Path) -> bool:
    """A convolutional network (conv or pool layers), read independently of the product."""
    return any("conv" in layer or "pool" in layer for layer in yaml.safe_load(path.read_text())["layers"])


# the dense problems with one sample; the CNN problems have their own oracle
# (tests/cnn_oracle.py, used by test_cnn.py and test_cnn_oracle.py)
DENSE_SINGLE_SAMPLE = [p for p in SINGLE_SAMPLE if not has_maps(p)]
CNN_PROBLEMS = [p for p in PROBLEMS if has_maps(p)]
DENSE_PROBLEMS = [p for p in PROBLEMS if not has_maps(p) and p not in GIVEN_GRADIENTS + PARTS]

# DESIGN.md, "Spec v1 — the canonical form", verbatim.
# Line numbers, counted by hand:
#  1 title   2 inputs   3 layers   4 relu   5 neurons   6 h1   7 h2
#  8 sigmoid   9 neurons   10 g1   11 g2   12 sigmoid   13 neurons   14 o
# 15 targets   16 loss   17 learning_rate   (18: just past the end)
CANONICAL = """\
title: "Question 2"
inputs: {x1: 6, x2: 2, x3: 5}
layers:
  - activation: relu
    neurons:
      h1: {bias: 0.01, weights: {x1: 0.42, x2: 0.72, x3: 0.21}}
      h2: {bias: 0.01, weights: {x1: 0.11, x2: 0.30, x3: 0.65}}
  - activation: sigmoid
    neurons:
      g1: {bias: 0.05, weights: {h1: 0.17, h2: 0.29}}
      g2: {bias: 0.05, weights: {h1: 0.91, h2: 0.90}}
  - activation: sigmoid
    neurons:
      o: {bias: 0.08, weights: {g1: 0.61, g2: 0.39}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.7
"""

VALID_ACTIVATIONS = "linear, sigmoid, tanh, relu, leaky_relu, softplus, softmax"
VALID_LOSSES = "squared_error, half_squared_error, mean_squared_error, binary_cross_entropy, cross_entropy"
