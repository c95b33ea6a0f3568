"""Stage 4: the numbers, from a Derivation and the network's current values.

Nothing symbolic is built here: every formula was compiled once by the derivation, so
evaluating another set of values (another variant, another step) costs only arithmetic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sympy import Symbol

from .derivation import Derivation, Local
from .errors import NumericError
from .network import Network


@dataclass(frozen=True)
class Values:
    symbols: dict[Symbol, float]  # every x, y, w, b, z, a by its symbol
    loss: float
    locals: dict[tuple[Symbol, Symbol], float]  # each local derivative's value
    paths: dict[str, tuple[float, ...]]  # parameter key -> value of each path's product
    gradients: dict[str, float]  # parameter key -> dL/dparameter
    updated: dict[str, float]  # parameter key -> value after one SGD step


def evaluate(derivation: Derivation, network: Network | None = None) -> Values:
    """All numbers for one forward/backward/update step.

    `network` gives the values (defaults to the one derived from); it must have the
    derivation's topology.
    """
    network = network or derivation.network
    sym = derivation.symbols
    values: dict[Symbol, float] = {}
    for unit in network.inputs:
        values[sym[unit.a_symbol]] = unit.value  # type: ignore[assignment]
    for parameter in network.parameters:
        values[sym[parameter.symbol]] = parameter.value
    targets = dict(network.targets)
    for name, y_symbol in network.target_symbols:
        values[sym[y_symbol]] = targets[name]

    for layer in derivation.forward:
        for step in layer:
            z = math.fsum([values[w] * values[a] for w, a in step.terms] + [values[step.bias]])
            values[step.z] = check(z, f"z of neuron {step.neuron.name!r}")
            values[step.a] = check(step.rule.f(z), f"activation of neuron {step.neuron.name!r}")

    loss = check(derivation.loss_fn(*[values[s] for s in derivation.loss_args]), "the loss")
    local_values = {(f.num, f.den): local_value(f, values) for f in derivation.locals}

    paths: dict[str, tuple[float, ...]] = {}
    gradients: dict[str, float] = {}
    updated: dict[str, float] = {}
    eta = network.learning_rate
    for gradient in derivation.gradients:
        key = gradient.parameter.key
        paths[key] = tuple(math.prod(local_values[(f.num, f.den)] for f in path.factors)
                           for path in gradient.paths)
        gradients[key] = check(math.fsum(paths[key]), f"the gradient of {key}")
        updated[key] = check(values[gradient.symbol] - eta * gradients[key], f"the update of {key}")
    return Values(values, loss, local_values, paths, gradients, updated)


def local_value(factor: Local, values: dict[Symbol, float]) -> float:
    value = factor.compute(*[values[s] for s in factor.args])
    return check(value, f"d{factor.num}/d{factor.den}")


def check(value: float, what: str) -> float:
    """Refuse to carry NaN or infinity anywhere: it would print as a wrong number."""
    if not math.isfinite(value):
        raise NumericError(f"{what} is {value}; the network's values overflow or leave the "
                           "domain of the loss (e.g. log 0)")
    return value
