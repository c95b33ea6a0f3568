"""The backward pass in delta form: each neuron's delta worked once and reused.

delta_j = dL/dz_j. At an output, delta_j = dL/da_j * f'(z_j); at a hidden neuron,
delta_j = f'(z_j) * sum over the neurons k it feeds of w_jk * delta_k. Then
dL/dw_ij = a_i * delta_j and dL/db_j = delta_j. The sum over paths of the path form
is the same number, factored: every delta is computed once, so the work grows with
the number of edges instead of the number of paths.
"""
from __future__ import annotations

from typing import NamedTuple

import sympy
from sympy import Symbol

from .derivation import L, Derivation
from .evaluate import Values
from .network import Unit
from .solution import Section, Substituted


class DeltaLine(NamedTuple):
    neuron: str
    delta: Symbol
    formula: sympy.Expr  # in the network's symbols and the later deltas
    numbers: Substituted
    value: float


class DeltaGradient(NamedTuple):
    key: str
    symbol: Symbol
    formula: sympy.Expr  # a_i * delta_j, or delta_j for a bias
    numbers: Substituted
    value: float


class DeltaLayer(NamedTuple):
    number: int
    is_output: bool
    deltas: tuple[DeltaLine, ...]
    gradients: tuple[DeltaGradient, ...]


def delta_symbol(unit: Unit) -> Symbol:
    """delta_j^(l), written like the neuron's z_j^(l)."""
    return Symbol("\\delta" + unit.z_symbol[1:])  # type: ignore[index]


def delta_section(derivation: Derivation, values: Values) -> Section:
    network = derivation.network
    sym = derivation.symbols
    local = {(f.num, f.den): f for f in derivation.locals}
    delta_values: dict[Symbol, float] = {}
    layers = []
    for number in range(len(network.layers), 0, -1):
        lines = []
        for unit in network.layers[number - 1]:
            a, z, delta = sym[unit.a_symbol], sym[unit.z_symbol], delta_symbol(unit)  # type: ignore[index]
            if (a, z) not in local:  # feeds no targeted output: no gradient flows here
                continue
            inner = []
            if (L, a) in local:
                inner.append(local[(L, a)].formula)
            for consumer in network.consumers[unit.name]:
                other = network.units[consumer]
                if (sym[other.a_symbol], sym[other.z_symbol]) in local:  # type: ignore[index]
                    inner.append(sym[network.weight(unit.name, consumer).symbol] * delta_symbol(other))
            formula = sympy.Mul(local[(a, z)].formula, sympy.Add(*inner), evaluate=False)
            used = {s: values.symbols.get(s, delta_values.get(s)) for s in formula.free_symbols}
            value = (values.locals[(a, z)] * (values.locals.get((L, a), 0.0) + sum(
                values.locals[(sym[network.units[c].z_symbol], a)] * delta_values[delta_symbol(network.units[c])]
                for c in network.consumers[unit.name]
                if delta_symbol(network.units[c]) in delta_values)))
            delta_values[delta] = value
            lines.append(DeltaLine(unit.name, delta, formula, Substituted(formula, used), value))
        gradients = []
        for unit in network.layers[number - 1]:
            delta = delta_symbol(unit)
            if delta not in delta_values:
                continue
            for parameter in (*unit.weights, unit.bias):
                symbol = sym[parameter.symbol]  # type: ignore[union-attr]
                formula = (sym[network.units[parameter.source].a_symbol] * delta  # type: ignore[union-attr,index]
                           if parameter.kind == "weight" else delta)  # type: ignore[union-attr]
                used = {s: values.symbols.get(s, delta_values.get(s)) for s in formula.free_symbols}
                gradients.append(DeltaGradient(parameter.key, symbol, formula,  # type: ignore[union-attr]
                                               Substituted(formula, used),
                                               values.gradients[parameter.key]))  # type: ignore[union-attr]
        layers.append(DeltaLayer(number, number == len(network.layers), tuple(lines), tuple(gradients)))
    return Section("delta", "backward", tuple(layers))
