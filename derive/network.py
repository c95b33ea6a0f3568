"""Stage 2: the graph a spec describes, and the notation each part prints as.

Inputs form layer 0. Every neuron knows its incoming weights and its bias; the
network knows, for each unit, which neurons consume it (the edges the chain rule
walks backwards). No numbers are computed here.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from .spec import Activation, Spec


class Parameter(NamedTuple):
    kind: str  # "weight" or "bias"
    neuron: str  # the neuron whose pre-activation z it enters
    source: str | None  # for a weight: the unit the edge comes from
    symbol: str  # LaTeX notation, e.g. w_{11}^{(1)}
    value: float

    @property
    def key(self) -> str:
        """A stable identifier, e.g. 'x1->h1' for a weight and 'h1' for a bias."""
        return f"{self.source}->{self.neuron}" if self.kind == "weight" else f"b:{self.neuron}"


class Unit(NamedTuple):
    """An input (layer 0) or a neuron (layer >= 1)."""

    name: str
    layer: int
    index: int  # 1-based position within its layer
    a_symbol: str  # what its output prints as: x_{1} or a_{1}^{(2)}
    z_symbol: str | None = None  # neurons only
    activation: Activation | None = None
    weights: tuple[Parameter, ...] = ()
    bias: Parameter | None = None
    value: float | None = None  # inputs only


@dataclass(frozen=True)
class Network:
    title: str
    inputs: tuple[Unit, ...]
    layers: tuple[tuple[Unit, ...], ...]
    targets: tuple[tuple[str, float], ...]  # output neuron name -> target value
    target_symbols: tuple[tuple[str, str], ...]  # output neuron name -> y symbol
    loss: str
    learning_rate: float

    @cached_property
    def units(self) -> dict[str, Unit]:
        return {u.name: u for u in self.inputs + tuple(n for layer in self.layers for n in layer)}

    @cached_property
    def neurons(self) -> tuple[Unit, ...]:
        return tuple(n for layer in self.layers for n in layer)

    @cached_property
    def consumers(self) -> dict[str, tuple[str, ...]]:
        """For each unit, the neurons whose z uses it, in layer order."""
        found: dict[str, list[str]] = {name: [] for name in self.units}
        for neuron in self.neurons:
            for weight in neuron.weights:
                found[weight.source].append(neuron.name)  # type: ignore[index]
        return {name: tuple(names) for name, names in found.items()}

    @cached_property
    def parameters(self) -> tuple[Parameter, ...]:
        """Every weight and bias in spec order: layer by layer, weights then bias."""
        return tuple(p for n in self.neurons for p in (*n.weights, n.bias))

    def weight(self, source: str, neuron: str) -> Parameter:
        """The weight on the edge source -> neuron."""
        return next(w for w in self.units[neuron].weights if w.source == source)


def index_text(*indices: int) -> str:
    """Subscript indices run together (11) while single digits, comma-separated after."""
    return "".join(map(str, indices)) if all(i < 10 for i in indices) else ",".join(map(str, indices))


def build_network(spec: Spec) -> Network:
    inputs = tuple(
        Unit(name, 0, i, f"x_{{{i}}}", value=value) for i, (name, value) in enumerate(spec.inputs, 1)
    )
    units = {u.name: u for u in inputs}
    layers = []
    for number, layer_spec in enumerate(spec.layers, 1):
        layer = []
        for j, neuron in enumerate(layer_spec.neurons, 1):
            weights = tuple(
                Parameter("weight", neuron.name, source, weight_symbol(units[source], j, number), value)
                for source, value in neuron.weights
            )
            bias = Parameter("bias", neuron.name, None, f"b_{{{j}}}^{{({number})}}", neuron.bias)
            layer.append(Unit(neuron.name, number, j, f"a_{{{j}}}^{{({number})}}",
                              f"z_{{{j}}}^{{({number})}}", layer_spec.activation, weights, bias))
        units.update({u.name: u for u in layer})
        layers.append(tuple(layer))
    outputs = {u.name: u for u in layers[-1]}
    single = len(spec.targets) == 1
    target_symbols = tuple(
        (name, "y" if single else f"y_{{{outputs[name].index}}}") for name, _ in spec.targets
    )
    return Network(spec.title, inputs, tuple(layers), spec.targets, target_symbols, spec.loss,
                   spec.learning_rate)


def weight_symbol(source: Unit, j: int, layer: int) -> str:
    """w_{ij}^{(l)}: from unit i of the previous layer to neuron j of layer l.

    A skip connection (from a layer other than the previous one) names both layers,
    w_{ij}^{(k\\to l)}, so that i is never read against the wrong layer.
    """
    sup = f"({layer})" if source.layer == layer - 1 else f"({source.layer}\\to {layer})"
    return f"w_{{{index_text(source.index, j)}}}^{{{sup}}}"
