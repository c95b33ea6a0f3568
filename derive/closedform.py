"""The closed form (seed 001): the loss as one nested expression in every parameter, and
each gradient as one formula, with the inputs and targets kept as symbols.

The prediction is written out layer by layer until only parameters and inputs are
left: y-hat = sigma(w a + w a + b) = sigma(w sigma(w x + w x + b) + ...). Each gradient
is read off the derivation's chain-rule paths: every path is the product of its local
formulas, written as a teacher writes the closed form:

- dL/da at an output in terms of the prediction y-hat (2(y-hat - y) for squared error);
- da/dz as the activation's derivative by name, f'(z) (sigma'(z), not a(1 - a));
- dz/da_prev as the weight, dz/dw as the unit it multiplies: x_i for an input, f(z_i)
  for a neuron (a written in terms of its z), and the factors 1 (dz/db, linear f') left out.

Each z_j is then defined in terms of the parameters, the inputs and the z's of the
layer below (`definitions`), so the gradient is a function of the parameters alone.
At a hidden layer the paths share their first and last factors; those are taken out
once, leaving the sum over paths in brackets (seed 004's L_y {w7 dRL(z3) w3 + w8 dRL(z4) w4}
dRL(z1) x). The tests check every gradient against sympy.diff of an independently
composed loss (too slow to do at run time).

Past MAX_PARAMETERS parameters the expressions run for lines; the section then says so
in one sentence. A softmax layer couples its outputs, so its a is not f(z) of one z;
the closed form is written for elementwise activations and says so for softmax.
"""
from __future__ import annotations

from typing import NamedTuple

import sympy
from sympy import Symbol

from .derivation import Derivation, Local
from .network import Network, Unit
from .mathnodes import Applied, LinearSum
from .document import Section

MAX_PARAMETERS = 20


class Composed(NamedTuple):
    """f(w_1 u_1 + ... + w_n u_n + b) in the order written; each u is an input symbol,
    f(z) of a neuron (Applied), or another Composed (the neuron written out)."""

    activation: str | None  # None: the identity (a linear neuron)
    terms: tuple[tuple[Symbol, object], ...]  # (weight, what it multiplies)
    bias: Symbol


class Prediction(NamedTuple):
    """y-hat = a = f(z) = f(w a + ... + b) = the nested form in all parameters."""

    symbol: Symbol  # y-hat, or y-hat_k with several outputs
    a: Symbol
    applied: object  # f(z) by name, or z for a linear output
    expanded: object  # f(w a + ... + b) in the previous layer's outputs (a LinearSum for linear)
    nested: Composed


class Definition(NamedTuple):
    """z_j = w x + ... + b, in parameters, inputs and f(z) of the layer below."""

    z: Symbol
    formula: Composed


class ClosedGradient(NamedTuple):
    """dL/dtheta = prefix * (middle_1 + middle_2 + ...) * suffix.

    With one path, every factor is in `prefix` and `middles` is empty. With several,
    `prefix` and `suffix` are the factors every path shares at its loss end and at its
    parameter end, and each middle is one path's own factors (never empty: (1,)).
    """

    key: str
    kind: str  # "weight" or "bias"
    symbol: Symbol
    prefix: tuple[object, ...]  # SymPy expressions or Applied f'(z), f(z)
    middles: tuple[tuple[object, ...], ...]
    suffix: tuple[object, ...]
    paths: int


class ClosedForm(NamedTuple):
    omitted: str  # "" or why the closed form is not written out ("parameters", "softmax")
    count: int  # number of parameters
    parameters: tuple[Symbol, ...]  # spec order: L = L(these)
    inputs: tuple[Symbol, ...]
    targets: tuple[Symbol, ...]
    loss: sympy.Expr  # L in the predictions and targets
    predictions: tuple[Prediction, ...]
    definitions: tuple[Definition, ...]  # layer by layer
    gradients: tuple[ClosedGradient, ...]  # spec order


ONE = sympy.Integer(1)


def closed_form_section(derivation: Derivation) -> Section:
    network = derivation.network
    sym = derivation.symbols
    parameters = tuple(sym[p.symbol] for p in network.parameters)
    inputs = tuple(sym[u.a_symbol] for u in network.inputs)
    targets = tuple(y for _, _, y in derivation.outputs)
    hats = prediction_symbols(derivation)
    loss = derivation.loss.xreplace(dict(zip((a for _, a, _ in derivation.outputs), hats)))
    omitted = omission(network)
    if omitted:
        return Section("closed_form", "end", ClosedForm(omitted, len(parameters), parameters, inputs,
                                                        targets, loss, (), (), ()))
    nested: dict[str, object] = {u.name: sym[u.a_symbol] for u in network.inputs}
    definitions = []
    for layer in network.layers:
        for unit in layer:
            definitions.append(Definition(sym[unit.z_symbol],  # type: ignore[index]
                                          composed(unit, output_of, derivation)._replace(activation=None)))
            nested[unit.name] = composed(unit, lambda u, d: nested[u.name], derivation)
    predictions = []
    for (name, a, _), hat in zip(derivation.outputs, hats):
        unit = network.units[name]
        activation = elementwise(unit)
        z = sym[unit.z_symbol]  # type: ignore[index]
        linear = LinearSum(tuple((sym[w.symbol], sym[network.units[w.source].a_symbol])  # type: ignore[index]
                                 for w in unit.weights), sym[unit.bias.symbol])  # type: ignore[union-attr]
        predictions.append(Prediction(hat, a, Applied(activation, z) if activation else z,
                                      Applied(activation, linear) if activation else linear,
                                      nested[name]))  # type: ignore[arg-type]
    outputs = dict(zip((a for _, a, _ in derivation.outputs), hats))
    gradients = tuple(closed_gradient(g.parameter.key, g.parameter.kind, g.symbol,
                                      [path_factors(path.factors, derivation, outputs) for path in g.paths])
                      for g in derivation.gradients)
    return Section("closed_form", "end", ClosedForm("", len(parameters), parameters, inputs, targets,
                                                    loss, tuple(predictions), tuple(definitions),
                                                    gradients))


def omission(network: Network) -> str:
    """Why the closed form is not written out ("maps", "softmax", "parameters"), or ""."""
    if network.maps:
        return "maps"
    if any(unit.activation.name == "softmax" for unit in network.neurons):  # type: ignore[union-attr]
        return "softmax"
    if len(network.parameters) > MAX_PARAMETERS:
        return "parameters"
    return ""


def writes_gradients(network: Network) -> bool:
    """Whether the section writes each gradient, read off the chain-rule paths (which
    derive.derivation then builds even in the delta form)."""
    return omission(network) == ""


def prediction_symbols(derivation: Derivation) -> tuple[Symbol, ...]:
    """y-hat, or y-hat_1, y-hat_2, ... (as in the Given section)."""
    count = len(derivation.outputs)
    return tuple(Symbol(r"\hat{y}" if count == 1 else rf"\hat{{y}}_{{{i}}}") for i in range(1, count + 1))


def elementwise(unit: Unit) -> str | None:
    """The activation's name, or None for the identity (a = z, nothing to write)."""
    name = unit.activation.name  # type: ignore[union-attr]
    return None if name == "linear" else name


def output_of(unit: Unit, derivation: Derivation) -> object:
    """What a unit's output is written as: x_i for an input, f(z) or z for a neuron."""
    sym = derivation.symbols
    if unit.layer == 0:
        return sym[unit.a_symbol]
    activation = elementwise(unit)
    z = sym[unit.z_symbol]  # type: ignore[index]
    return Applied(activation, z) if activation else z


def composed(unit: Unit, source: object, derivation: Derivation) -> Composed:
    """The unit's f(sum w * source + b), each source written by `source(unit, derivation)`."""
    network, sym = derivation.network, derivation.symbols
    terms = tuple((sym[w.symbol], source(network.units[w.source], derivation))  # type: ignore[operator,index]
                  for w in unit.weights)
    return Composed(elementwise(unit), terms, sym[unit.bias.symbol])  # type: ignore[union-attr]


def path_factors(factors: tuple[Local, ...], derivation: Derivation,
                 outputs: dict[Symbol, Symbol]) -> tuple[object, ...]:
    """One chain-rule path's local formulas in closed-form notation, factors of 1 left out."""
    by_a = {derivation.symbols[u.a_symbol]: u for u in derivation.network.units.values()}
    shown: list[object] = []
    for factor in factors:
        if factor.kind == "loss":
            shown.append(sympy.factor_terms(factor.formula.xreplace(outputs)))
        elif factor.kind == "activation":
            if factor.activation != "linear":
                shown.append(Applied(factor.activation, factor.den, prime=True))  # type: ignore[arg-type]
        elif factor.kind == "parameter" and factor.formula in by_a:  # dz/dw = the source's output
            shown.append(output_of(by_a[factor.formula], derivation))  # type: ignore[index]
        elif factor.formula != ONE:  # dz/da_prev = w; dz/db = 1 is left out
            shown.append(factor.formula)
    return tuple(shown) or (ONE,)


def closed_gradient(key: str, kind: str, symbol: Symbol,
                    paths: list[tuple[object, ...]]) -> ClosedGradient:
    if len(paths) == 1:
        return ClosedGradient(key, kind, symbol, paths[0], (), (), 1)
    shortest = min(len(p) for p in paths)
    head = 0
    while head < shortest and all(p[head] == paths[0][head] for p in paths):
        head += 1
    tail = 0
    while tail < shortest - head and all(p[-1 - tail] == paths[0][-1 - tail] for p in paths):
        tail += 1
    middles = tuple(p[head:len(p) - tail] or (ONE,) for p in paths)
    return ClosedGradient(key, kind, symbol, paths[0][:head], middles,
                          paths[0][len(paths[0]) - tail:], len(paths))
