"""The activation table (seed 004): each activation the network uses, f(z) and f'(z).

f'(z) is shown twice: as SymPy derives it from the definition, and in the form the
working uses (sigma' = sigma(1 - sigma), tanh' = 1 - tanh^2), which the tests check
equal to SymPy's.
"""
from __future__ import annotations

from typing import NamedTuple

import sympy

from .derivation import A, Z, Derivation, activation_rule, softmax_rule
from .solution import Section


class ActivationRow(NamedTuple):
    name: str
    shown: sympy.Expr  # f(z) as a teacher writes it
    derivative: sympy.Expr  # sympy.diff of the definition
    convenient: sympy.Expr  # f'(z) in terms of a = f(z) (and z), as in the working


def activation_table(derivation: Derivation) -> Section:
    used = dict.fromkeys(unit.activation for unit in derivation.network.neurons)
    rows = []
    for activation in used:
        if activation.name == "softmax":  # type: ignore[union-attr]
            rows.append(softmax_row())
            continue
        rule = activation_rule(activation)  # type: ignore[arg-type]
        derivative = rule.derivative
        if isinstance(derivative, sympy.Piecewise):
            derivative = sympy.piecewise_fold(derivative)
        rows.append(ActivationRow(rule.name, rule.shown, derivative, rule.convenient))
    return Section("activations", "start", tuple(rows))


def softmax_row() -> ActivationRow:
    """Softmax over a layer, in index notation; SymPy's derivative for two outputs."""
    k, j, n = sympy.symbols("k j n", integer=True)
    z = sympy.IndexedBase("z")
    a = sympy.IndexedBase("a")
    shown = sympy.exp(z[k]) / sympy.Sum(sympy.exp(z[j]), (j, 1, n))
    two = softmax_rule(2)
    derivative = sympy.Eq(sympy.Symbol(r"\frac{\partial a_{1}}{\partial z_{1}}"),
                          sympy.simplify(two.derivative[(0, 0)]), evaluate=False)
    convenient = a[k] * (sympy.KroneckerDelta(k, j) - a[j])
    return ActivationRow("softmax", shown, derivative, convenient)


__all__ = ["ActivationRow", "activation_table", "A", "Z"]
