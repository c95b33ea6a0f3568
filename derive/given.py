"""A given-gradient problem (seed 000, part 2): the spec gives the gradient of every
weight and bias ("suppose this is the average gradient of one batch") and the answer is
the updates alone, w <- w - eta * g, line by line, then the summary table.

It goes through the same stages as a worked problem where they apply: the network
(and its notation, diagram and Given part) is built by derive.network, each update
line is computed, carried and shown as derive.evaluate and derive.checkable do it for
a worked key (derive.batch does the same for a batch's combined gradient), and the
renderer prints it with the *_updates templates. There is no forward pass, no loss and
no derivation: nothing is differentiated, so nothing here needs SymPy's chain rule.
"""
from __future__ import annotations

from dataclasses import replace
from itertools import count
from typing import Callable, NamedTuple

from sympy import Symbol

from .evaluate import check, keeper, number
from .forms import Options
from .network import Network, Parameter, build_network
from .numeric import product, total, value_of
from .rounding import Given as GivenNumber
from .document import Given, GivenValue, Section, Solution
from .solution import Shown, diagram_of, layer_text, parameter_name, update_name
from .spec import Spec
from .spec.model import asked_parameters


class GivenUpdate(NamedTuple):
    """One parameter's update from its given gradient."""

    task: str | None  # "1.k" when asked (the worksheet's blank)
    key: str
    kind: str  # "weight" or "bias"
    name: str  # "x1 → h1" or "bias of h1"
    symbol: Symbol
    old: object
    gradient: object  # as given in the spec: exact
    new: object
    old_shown: object = None  # old value and gradient as the update line shows them
    gradient_shown: object = None


class GivenUpdates(NamedTuple):
    """The whole answer of a given-gradient problem: its updates, layer by layer."""

    eta: object
    layers: tuple[tuple[int, tuple[GivenUpdate, ...]], ...]  # (layer number, its updates in spec order)
    # worked forms asked for (command line) that need a forward and backward pass: the key
    # says they are not worked rather than leaving them out silently
    omitted: tuple[str, ...] = ()
    closed_form: bool = False  # asked for: the key says why there is none

    @property
    def rows(self) -> tuple[GivenUpdate, ...]:
        return tuple(row for _, rows in self.layers for row in rows)


def given_gradient_solution(spec: Spec, policy: str = "exact", digits: int = 4,
                            options: Options = Options()) -> Solution:
    """The updates of `spec`, whose gradients are given (spec.gradients); `options` are the
    worked forms asked for, none of which applies."""
    network = gradient_network(spec)
    gradients = dict(spec.gradients)
    asked = set(asked_parameters(spec.asked)) or {p.key for p in network.parameters}
    keep, shown = keeper(policy, digits), Shown(digits, policy == "exact")
    eta = value_of(network.learning_rate)
    tasks = count(1)
    layers = []
    for layer_number, layer in enumerate(network.layers, 1):
        rows = []
        for parameter in (p for unit in layer for p in unit.parameters):
            task = f"1.{next(tasks)}" if parameter.key in asked else None
            rows.append(update_of(parameter, GivenNumber.of(gradients[parameter.key]), eta, task, keep, shown))
        layers.append((layer_number, tuple(rows)))
    content = GivenUpdates(network.learning_rate, tuple(layers), omitted_forms(options), options.closed_form)
    return Solution(network.title, given_part(network), (), policy, digits, form="",
                    sections=(Section("given_updates", "start", content),), kind="updates")


def omitted_forms(options: Options) -> tuple[str, ...]:
    """The asked forms that work a forward or backward pass, by name."""
    asked = {"the delta form": options.form in ("delta", "both"), "the matrix form": options.matrix,
             "worked derivations": options.derivations, "the output delta as a - y": options.shortcut}
    return tuple(name for name, wanted in asked.items() if wanted)


def gradient_network(spec: Spec) -> Network:
    """The network of the spec. Without `inputs` the inputs are named by the weights and
    have no value: they are built with a placeholder that is removed again at once, so
    that the symbols, the notation and its checks are exactly those of derive.network."""
    if spec.inputs:
        return build_network(spec)
    neurons = {n.name for layer in spec.layers for n in layer.neurons}
    names = dict.fromkeys(source for layer in spec.layers for n in layer.neurons
                          for source, _ in n.weights if source not in neurons)
    network = build_network(replace(spec, inputs=tuple((name, 0) for name in names)))
    return replace(network, inputs=tuple(unit._replace(value=None) for unit in network.inputs))


def update_of(parameter: Parameter, gradient: object, eta: object, task: str | None,
              keep: Callable[[object], object], shown: Shown) -> GivenUpdate:
    """theta - eta * g, carried as a worked key carries an update (by hand: rounded as shown)."""
    old = value_of(parameter.value)
    change = product((eta, gradient))  # type: ignore[arg-type]
    new = number(keep(check(total((old, -change)),  # type: ignore[operator]
                            f"the update of {parameter.key}", double=True)))
    old_shown, gradient_shown = shown.update(parameter.value, eta, gradient, new)
    return GivenUpdate(task, parameter.key, parameter.kind,
                       update_name(parameter.kind, parameter.source, parameter.neuron),
                       Symbol(parameter.symbol), parameter.value, gradient, new, old_shown, gradient_shown)


def given_part(network: Network) -> Given:
    """The Given part of the key: the network, its weights and biases, the inputs where
    the spec gives them, and the learning rate; no targets, no loss."""
    symbols = {s: Symbol(s) for s in [u.a_symbol for u in network.inputs + network.neurons]
               + [p.symbol for p in network.parameters]}
    inputs = tuple(GivenValue(symbols[u.a_symbol], u.name, u.value) for u in network.inputs
                   if u.value is not None)
    weights = tuple(GivenValue(symbols[p.symbol], parameter_name(p), p.value)
                    for p in network.parameters if p.kind == "weight")
    biases = tuple(GivenValue(symbols[p.symbol], p.neuron, p.value)
                   for p in network.parameters if p.kind == "bias")
    layers = tuple(layer_text(layer, "output" if i == len(network.layers) else "hidden")
                   for i, layer in enumerate(network.layers, 1))
    return Given(inputs, weights, biases, (), (), "", None, network.learning_rate, layers,  # type: ignore[arg-type]
                 diagram_of(symbols, network))
