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
    """delta = factor * (term + term + ...), or, with no factor, the sum of the terms.

    Kept apart (not one SymPy product) so that a long sum can break across lines.
    """

    neuron: str
    delta: Symbol
    factor: sympy.Expr | None  # f'(z) of an elementwise activation
    terms: tuple[sympy.Expr, ...]  # dL/da and w_jk * delta_k, in the network's symbols
    factor_numbers: Substituted | None
    term_numbers: tuple[Substituted, ...]
    value: float


def numbers_of(expr: sympy.Expr, known: dict[Symbol, float]) -> Substituted:
    return Substituted(expr, {s: known[s] for s in expr.free_symbols})


class DeltaGradient(NamedTuple):
    task: str | None  # the worksheet task it answers, as in the path form
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


def delta_section(derivation: Derivation, values: Values,
                  tasks: dict[str, str | None] | None = None) -> Section:
    """The delta-form backward pass; `tasks` numbers the asked gradients (by parameter key)."""
    tasks = tasks or {}
    network = derivation.network
    sym = derivation.symbols
    local = {(f.num, f.den): f for f in derivation.locals}
    delta_values: dict[Symbol, float] = {}
    layers = []
    for number in range(len(network.layers), 0, -1):
        lines = []
        for unit in network.layers[number - 1]:
            z, delta = sym[unit.z_symbol], delta_symbol(unit)  # type: ignore[index]
            # every output whose activation depends on this z: itself, or its softmax layer
            outputs = [k for k in network.layers[number - 1]
                       if (sym[k.a_symbol], z) in local]  # type: ignore[index]
            if not outputs:  # feeds no targeted output: no gradient flows here
                continue
            terms, value = [], 0.0
            for k in outputs:
                a_k = sym[k.a_symbol]
                inner, upstream = [], values.locals.get((L, a_k), 0.0)
                if (L, a_k) in local:
                    inner.append(local[(L, a_k)].formula)
                for consumer in network.consumers[k.name]:
                    other = network.units[consumer]
                    if delta_symbol(other) in delta_values:
                        inner.append(sym[network.weight(k.name, consumer).symbol] * delta_symbol(other))
                        upstream += values.locals[(sym[other.z_symbol], a_k)] * delta_values[delta_symbol(other)]  # type: ignore[index]
                terms.append((local[(a_k, z)].formula, inner))
                value += values.locals[(a_k, z)] * upstream
            if len(terms) == 1:  # elementwise: f'(z) times the sum of what flows back
                factor, summands = terms[0][0], tuple(terms[0][1])
            else:  # softmax: one term per output of the layer
                factor, summands = None, tuple(sympy.Mul(f, sympy.Add(*inner), evaluate=False)
                                               for f, inner in terms)
            known = {**values.symbols, **delta_values}
            delta_values[delta] = value
            lines.append(DeltaLine(unit.name, delta, factor, summands,
                                   numbers_of(factor, known) if factor is not None else None,
                                   tuple(numbers_of(t, known) for t in summands), value))
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
                gradients.append(DeltaGradient(tasks.get(parameter.key), parameter.key,  # type: ignore[union-attr]
                                               symbol, formula,
                                               Substituted(formula, used),
                                               values.gradients[parameter.key]))  # type: ignore[union-attr]
        layers.append(DeltaLayer(number, number == len(network.layers), tuple(lines), tuple(gradients)))
    return Section("delta", "backward", tuple(layers))
