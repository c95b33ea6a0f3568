"""Stage 2: the graph a spec describes, and the notation each part prints as.

Inputs form layer 0. Every neuron knows its incoming weights and its bias; the
network knows, for each unit, which neurons consume it (the edges the chain rule
walks backwards). No numbers are computed here.

Every symbol is chosen here, once, from the spec's `notation` (docs/spec.md,
"Notation options"): the seed notation by default (a_j^{(l)}, w_{ij}^{(l)}), flat
names (w_1, w_2, ...) or the author's own. The later stages only print them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import count
from typing import NamedTuple

from .errors import Problem, SpecError
from .maps import MapUnits, channel_symbol, entries, entry_name, entry_symbol, flat_pairs, is_matrix
from .rounding import Given
from .spec import Activation, LayerSpec, Notation, Spec, SymbolName

# Symbols the working already uses for something else: a unit or parameter printed as
# one of these would be read as the loss, or as Euler's number in e^{-z}.
RESERVED_SYMBOLS = {"L": "the loss L", "e": "Euler's number e (in e^{-z})"}
# An activation symbol that is `a` with scripts (a_1, a_{3}, a'): its z swaps the letter.
A_LETTER = re.compile(r"a(?=[_^']|\Z)")


class Parameter(NamedTuple):
    """A weight or bias as it enters one neuron's z: one edge (source -> neuron) of the
    parameter, or the neuron it is the bias of.

    A parameter may be shared: a convolution kernel's entry is the weight of many edges,
    a map's bias the bias of every entry of the map. Each use is a Parameter of its own
    (its own edge), and all of them carry the same `shared` key, symbol and value: the
    network has one parameter of that key, and its gradient sums over every use.
    """

    kind: str  # "weight" or "bias"
    neuron: str  # the neuron whose pre-activation z it enters
    source: str | None  # for a weight: the unit the edge comes from
    symbol: str  # LaTeX notation, e.g. w_{11}^{(1)}
    value: object  # a Given from the spec; a later step: as computed (exact or not)
    shared: str | None = None  # the key of a parameter used on several edges

    @property
    def key(self) -> str:
        """A stable identifier, e.g. 'x1->h1' for a weight and 'b:h1' for a bias."""
        if self.shared is not None:
            return self.shared
        return f"{self.source}->{self.neuron}" if self.kind == "weight" else f"b:{self.neuron}"


class Unit(NamedTuple):
    """An input (layer 0) or a neuron (layer >= 1).

    A neuron's z is sum w a + b over its weights, or, for a pooling unit (`pool`), the
    maximum or the mean of its `sources` (no parameters: a max-pool unit is a unit with
    many inputs whose local derivative routes the gradient to the first maximum).
    """

    name: str
    layer: int
    index: int  # 1-based position within its layer
    a_symbol: str  # what its output prints as: x_{1} or a_{1}^{(2)}
    z_symbol: str | None = None  # neurons only
    activation: Activation | None = None
    weights: tuple[Parameter, ...] = ()
    bias: Parameter | None = None
    value: object = None  # inputs only: a Given
    pool: str | None = None  # "max" or "average" for a pooling unit
    sources: tuple[str, ...] = ()  # a pooling unit's inputs, in row-major order

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """Its weights, then its bias (a pooling unit has neither)."""
        return self.weights + ((self.bias,) if self.bias is not None else ())


class MapInfo(NamedTuple):
    """A map as a whole (an image channel, a conv or a pooled map): its units are named
    `name[row,col]`; the key shows it as one matrix (derive.mapview)."""

    name: str
    layer: int  # 0 for an image channel
    kind: str  # "input", "conv" or "pool"
    rows: int
    cols: int
    sources: tuple[str, ...] = ()  # a conv map's channels, a pooled map's map
    stride: int = 1
    padding: int = 0


@dataclass(frozen=True)
class Network:
    title: str
    inputs: tuple[Unit, ...]
    layers: tuple[tuple[Unit, ...], ...]
    targets: tuple[tuple[str, Given], ...]  # output neuron name -> target value
    target_symbols: tuple[tuple[str, str], ...]  # output neuron name -> y symbol
    loss: str
    learning_rate: Given
    idle: tuple[Parameter, ...] = ()  # kernel entries that meet only the padding: no edge, gradient 0
    maps: tuple[MapInfo, ...] = ()  # image channels, conv and pooled maps, in layer order

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
            for source in neuron.sources:
                found[source].append(neuron.name)
        return {name: tuple(names) for name, names in found.items()}

    @cached_property
    def parameters(self) -> tuple[Parameter, ...]:
        """Every weight and bias in spec order, layer by layer, weights then bias; a
        shared parameter once, as its first use."""
        first: dict[str, Parameter] = {}
        for n in self.neurons:
            for p in n.parameters:
                first.setdefault(p.key, p)
        return tuple(first.values()) + self.idle

    @cached_property
    def uses(self) -> dict[str, tuple[Parameter, ...]]:
        """Every use of each parameter (by key): one for a dense weight or bias, one per
        edge or map entry for a shared one."""
        found: dict[str, list[Parameter]] = {p.key: [] for p in self.idle}
        for n in self.neurons:
            for p in n.parameters:
                found.setdefault(p.key, []).append(p)
        return {key: tuple(ps) for key, ps in found.items()}

    def weight(self, source: str, neuron: str) -> Parameter:
        """The weight on the edge source -> neuron."""
        return next(w for w in self.units[neuron].weights if w.source == source)


def with_values(network: Network, values: dict[str, float]) -> Network:
    """The same network with parameter values replaced (keyed by Parameter.key): the next
    iteration after an update."""
    def swap(parameter: Parameter) -> Parameter:
        return parameter._replace(value=values.get(parameter.key, parameter.value))

    layers = tuple(tuple(unit._replace(weights=tuple(swap(w) for w in unit.weights),
                                       bias=swap(unit.bias) if unit.bias is not None else None)
                         for unit in layer) for layer in network.layers)
    return replace(network, layers=layers)


def with_sample(network: Network, inputs: tuple[tuple[str, float], ...],
                targets: tuple[tuple[str, float], ...]) -> Network:
    """The same network fed another sample (same input and target names)."""
    given = dict(given_pairs(flat_pairs(inputs)))  # type: ignore[arg-type]
    return replace(network, inputs=tuple(u._replace(value=given[u.name]) for u in network.inputs),
                   targets=given_pairs(flat_pairs(targets)))  # type: ignore[arg-type]


def given_pairs(pairs: tuple[tuple[str, float], ...]) -> tuple[tuple[str, Given], ...]:
    """(name, number) pairs of the spec, each number exact as written."""
    return tuple((name, Given.of(value)) for name, value in pairs)


def index_text(*indices: int) -> str:
    """Subscript indices run together (11) while single digits, comma-separated after."""
    return "".join(map(str, indices)) if all(i < 10 for i in indices) else ",".join(map(str, indices))


def build_network(spec: Spec) -> Network:
    """The network of `spec`, every part named by the spec's notation.

    Raises SpecError (located at the `notation.names` entry) when two things would
    print as the same symbol: the working could not be read, and the symbols name
    the values the numbers are computed from.
    """
    notation = spec.notation
    custom = {name.key: name.symbol for name in notation.names}
    inputs = input_units(spec, custom)
    units = {u.name: u for u in inputs}
    shapes = {name: (len(value), len(value[0])) for name, value in spec.inputs if is_matrix(value)}  # type: ignore[arg-type]
    # flat names number every weight, bias and neuron in spec order, custom-named or not,
    # so that w_5 is the fifth weight of the spec whatever else is renamed
    weight_number, neuron_number = count(1), count(1)
    layers = []
    idle: list[Parameter] = []
    maps = [MapInfo(name, 0, "input", *shapes[name]) for name, _ in spec.inputs if name in shapes]
    for number, layer_spec in enumerate(spec.layers, 1):
        if layer_spec.kind != "dense":
            layer = map_layer(layer_spec, number, shapes, idle)
            maps += [MapInfo(m.name, number, layer_spec.kind, *shapes[m.name],
                             tuple(source for source, _ in m.weights), layer_spec.stride,
                             layer_spec.padding if layer_spec.kind == "conv" else 0)
                     for m in layer_spec.neurons]
            units.update({u.name: u for u in layer})
            layers.append(layer)
            continue
        layer = []
        for j, neuron in enumerate(layer_spec.neurons, 1):
            k = next(neuron_number)
            # a weight matrix from a map: one weight per entry, from that entry's unit
            edges = [(entry_name(source, r, c), cell) for source, value in neuron.weights
                     for r, c, cell in (entries(value) if is_matrix(value) else [(0, 0, value)])  # type: ignore[arg-type]
                     ] if any(is_matrix(v) for _, v in neuron.weights) else list(neuron.weights)
            edges = [(source if source in units else source.split("[")[0], value) for source, value in edges]
            weights = tuple(
                Parameter("weight", neuron.name, source,
                          custom.get(f"{source}->{neuron.name}", weight_symbol(units[source], j, number,
                                                                                 notation, w)),
                          Given.of(value))
                for (source, value), w in zip(edges, weight_number)
            )
            bias_default = f"b_{{{k}}}" if notation.parameters == "flat" else f"b_{{{j}}}^{{({number})}}"
            bias = Parameter("bias", neuron.name, None, custom.get(f"b:{neuron.name}", bias_default),
                             Given.of(neuron.bias))
            a_symbol, z_symbol = unit_symbols(neuron.name, j, number, k, notation, custom)
            layer.append(Unit(neuron.name, number, j, a_symbol, z_symbol, layer_spec.activation,
                              weights, bias))
        units.update({u.name: u for u in layer})
        layers.append(tuple(layer))
    outputs = {u.name: u for u in layers[-1]}
    # a map's targets: one per entry
    targets = flat_pairs(spec.targets)
    single = len(targets) == 1
    target_symbols = tuple(
        (name, custom.get(f"y:{name}", "y" if single else f"y_{{{outputs[name].index}}}"))
        for name, _ in targets
    )
    network = Network(spec.title, inputs, tuple(layers), given_pairs(targets), target_symbols,  # type: ignore[arg-type]
                      spec.loss, Given.of(spec.learning_rate), tuple(idle), tuple(maps))
    check_unique(network, spec)
    return network


def input_units(spec: Spec, custom: dict[str, str]) -> tuple[Unit, ...]:
    """Layer 0: a scalar input as one unit; an image channel as one unit per pixel."""
    found: list[Unit] = []
    for name, value in spec.inputs:
        if is_matrix(value):
            base = channel_symbol(name)
            for r, c, cell in entries(value):  # type: ignore[arg-type]
                found.append(Unit(entry_name(name, r, c), 0, len(found) + 1, entry_symbol(base, r, c),
                                  value=Given.of(cell)))
        else:
            found.append(Unit(name, 0, len(found) + 1, custom.get(f"a:{name}", f"x_{{{len(found) + 1}}}"),
                              value=Given.of(value)))
    return tuple(found)


def map_layer(layer_spec: LayerSpec, number: int, shapes: dict[str, tuple[int, int]],
              idle: list[Parameter]) -> tuple[Unit, ...]:
    """A conv or pool layer's units (derive.maps), numbered within the layer; kernel
    entries that never meet the image go to `idle`."""
    maker = MapUnits(layer_spec, number, shapes)
    fields: list[dict] = []
    for j, spec_map in enumerate(layer_spec.neurons, 1):
        if layer_spec.kind == "conv":
            fields += maker.conv(j, spec_map.name, spec_map.bias, spec_map.weights)  # type: ignore[arg-type]
            idle += [Parameter(w["kind"], w["neuron"], None, w["symbol"], w["value"], w["shared"])
                     for w in maker.idle]
        else:
            fields += maker.pool(j, spec_map.name, spec_map.weights[0][0])
    units = []
    for index, unit in enumerate(fields, 1):
        weights = tuple(Parameter(w["kind"], unit["name"], w["source"], w["symbol"], w["value"], w["shared"])
                        for w in unit["weights"])
        bias = unit["bias"]
        units.append(Unit(unit["name"], number, index, unit["a_symbol"], unit["z_symbol"], layer_spec.activation,
                          weights, Parameter(bias["kind"], unit["name"], None, bias["symbol"], bias["value"],
                                             bias["shared"]) if bias else None,
                          pool=unit["pool"], sources=unit["sources"]))
    return tuple(units)


def unit_symbols(name: str, j: int, layer: int, k: int, notation: Notation,
                 custom: dict[str, str]) -> tuple[str, str]:
    """(a, z) of neuron `name`, j-th of layer `layer` and k-th of the network.

    A custom activation symbol without a custom z gets a z derived from it: a_1 gives
    z_1 (the letter swapped), any other symbol s gives z_{s} (h_{1} -> z_{h_{1}},
    \\hat{y} -> z_{\\hat{y}}). Every z begins with the letter z and a script, so that
    its delta (derive.delta: the first letter swapped for \\delta) is distinct too.
    """
    if notation.units == "flat":
        a, z = f"a_{{{k}}}", f"z_{{{k}}}"
    else:
        a, z = f"a_{{{j}}}^{{({layer})}}", f"z_{{{j}}}^{{({layer})}}"
    if f"a:{name}" in custom:
        a = custom[f"a:{name}"]
        z = "z" + a[1:] if A_LETTER.match(a) else f"z_{{{a}}}"
    return a, custom.get(f"z:{name}", z)


def weight_symbol(source: Unit, j: int, layer: int, notation: Notation = Notation(),
                  number: int = 0) -> str:
    """w_{ij}^{(l)}: from unit i of the previous layer to neuron j of layer l.

    A skip connection (from a layer other than the previous one) names both layers,
    w_{ij}^{(k\\to l)}, so that i is never read against the wrong layer. With the
    to-from index order (Nielsen's) the indices swap: w_{ji}^{(l)}. With flat
    parameters the weight is w_{number}, its place among all weights in spec order.
    """
    if notation.parameters == "flat":
        return f"w_{{{number}}}"
    sup = f"({layer})" if source.layer == layer - 1 else f"({source.layer}\\to {layer})"
    indices = (j, source.index) if notation.index_order == "to-from" else (source.index, j)
    return f"w_{{{index_text(*indices)}}}^{{{sup}}}"


def prediction_symbol(k: int, outputs: int) -> str:
    """What the working calls the k-th output's activation: y-hat, or y-hat_k of several."""
    return r"\hat{y}" if outputs == 1 else rf"\hat{{y}}_{{{k}}}"


def check_unique(network: Network, spec: Spec) -> None:
    """Two things printed alike would make the working ambiguous, and since symbols
    carry the values, wrong: report each clash at the custom name that makes it."""
    where = {name.key: name for name in spec.notation.names}
    things: list[tuple[str, str, str]] = []  # (symbol, names key, what it is)
    for unit in network.inputs:
        things.append((unit.a_symbol, f"a:{unit.name}", f"input {unit.name}"))
    for unit in network.neurons:
        things.append((unit.a_symbol, f"a:{unit.name}", f"the activation of {unit.name}"))
        things.append((unit.z_symbol, f"z:{unit.name}", f"the pre-activation of {unit.name}"))  # type: ignore[arg-type]
    for p in network.parameters:
        what = f"weight {p.source}->{p.neuron}" if p.kind == "weight" else f"the bias of {p.neuron}"
        things.append((p.symbol, p.key, what))
    for name, y in network.target_symbols:
        things.append((y, f"y:{name}", f"the target of {name}"))
    # The working calls output k's activation the prediction, y-hat (y-hat_k for several
    # targets, as derive.solution prints them): its own activation may be named so, but
    # nothing else may.
    for k, (name, _) in enumerate(network.targets, 1):
        hat = prediction_symbol(k, len(network.targets))
        if hat != network.units[name].a_symbol:
            things.append((hat, f"prediction:{name}", f"the prediction of {name}"))

    def entry(key: str) -> SymbolName | None:
        # a derived z belongs to the entry that gave its activation symbol
        return where.get(key) or (where.get("a:" + key[2:]) if key.startswith("z:") else None)

    seen = {symbol: (what, "") for symbol, what in RESERVED_SYMBOLS.items()}
    problems = []
    for symbol, key, what in things:
        if symbol not in seen:
            seen[symbol] = (what, key)
            continue
        first, first_key = seen[symbol]
        named = entry(key) or entry(first_key)
        line, path = (named.line, named.path) if named else (None, "notation")
        problems.append(Problem(spec.source, line, path,
                                f"{symbol} would name both {first} and {what}; every symbol "
                                "must name one thing"))
    if problems:
        raise SpecError(problems)
