"""Drawn values for exams: whether a spec draws any, one variant's values drawn, and a
variant written back as a spec."""
from __future__ import annotations

import random
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

import yaml

from .model import NOTATION_CHOICES, Activation, Draw, Notation, Spec, Value, Worked


def has_draws(spec: Spec) -> bool:
    return any(isinstance(v, Draw) for v in spec_values(spec))


def spec_values(spec: Spec) -> list[Value]:
    """Every drawable value, in the fixed order draws are made in."""
    values: list[Value] = [v for _, v in spec.inputs]
    for layer in spec.layers:
        for neuron in layer.neurons:
            values.extend(v for _, v in neuron.weights)
            values.append(neuron.bias)
    values.extend(v for _, v in spec.targets)
    values.append(spec.learning_rate)
    return values


def instantiate(spec: Spec, rng: random.Random) -> Spec:
    """The spec with every draw replaced by a value from `rng`, drawn in a fixed order."""
    def pick(value: Value) -> float:
        if not isinstance(value, Draw):
            return value
        if value.kind == "choice":
            return rng.choice(value.options)
        drawn = Decimal(repr(rng.uniform(value.low, value.high)))
        rounded = float(drawn.quantize(Decimal(1).scaleb(-value.decimals), rounding=ROUND_HALF_UP))
        return rounded + 0.0  # never -0.0

    inputs = tuple((name, pick(v)) for name, v in spec.inputs)
    layers = tuple(
        layer._replace(neurons=tuple(
            n._replace(weights=tuple((source, pick(v)) for source, v in n.weights), bias=pick(n.bias))
            for n in layer.neurons))
        for layer in spec.layers)
    targets = tuple((name, pick(v)) for name, v in spec.targets)
    return replace(spec, inputs=inputs, layers=layers, targets=targets,
                   learning_rate=pick(spec.learning_rate))


def spec_yaml(spec: Spec) -> str:
    """A spec with given values as YAML, in the canonical form (for a drawn variant).

    Every key that shapes the key is kept, so that `derive solve` on the file remakes
    the same key: the samples, steps and worked forms as well as the values."""
    def activation(a: Activation) -> object:
        if a.formula is not None:
            return {"formula": a.formula, "name": a.name}
        return {"name": a.name, "slope": a.slope} if a.name == "leaky_relu" else a.name

    document: dict[str, object] = {"title": spec.title}
    if spec.samples:
        document["samples"] = [{"inputs": dict(inputs), "targets": dict(targets)}
                               for inputs, targets in spec.samples]
    else:
        document["inputs"] = dict(spec.inputs)
    document["layers"] = [{"activation": activation(layer.activation),
                           "neurons": {n.name: {"bias": n.bias, "weights": dict(n.weights)}
                                       for n in layer.neurons}}
                          for layer in spec.layers]
    if spec.samples:
        document["reduction"] = spec.reduction
    else:
        document["targets"] = dict(spec.targets)
    document["loss"] = spec.loss
    document["learning_rate"] = spec.learning_rate
    if spec.steps != 1:
        document["steps"] = spec.steps
    if spec.worked != Worked():
        document["worked"] = {key: value for key, value in spec.worked._asdict().items()
                              if value != getattr(Worked(), key)}
    if spec.asked:
        document["asked"] = [key.removeprefix("b:") for key in spec.asked]
    if spec.notation != Notation():  # so that `derive solve` on a variant names things alike
        document["notation"] = notation_document(spec.notation)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=None)


def notation_document(notation: Notation) -> dict[str, object]:
    """`notation` as the spec's mapping: settings that differ from the default, and the
    names grouped as written (a neuron with only its activation named: just the text)."""
    document: dict[str, object] = {key: getattr(notation, key) for key in NOTATION_CHOICES
                                   if getattr(notation, key) != getattr(Notation(), key)}
    names: dict[str, object] = {}
    for entry in notation.names:
        if "->" in entry.key:
            names[entry.key] = entry.symbol
            continue
        part, name = entry.key.split(":", 1)
        names.setdefault(name, {})[part] = entry.symbol  # type: ignore[index]
    if names:
        document["names"] = {name: (value["a"] if isinstance(value, dict) and list(value) == ["a"]
                                    else value) for name, value in names.items()}
    return document
