"""The activation table (seed 004): each activation the network uses, f(z) and f'(z).

f'(z) is shown twice: as SymPy derives it from the definition, and in the form the
working uses (sigma' = sigma(1 - sigma), tanh' = 1 - tanh^2), which the tests check
equal to SymPy's.
"""
from __future__ import annotations

from typing import NamedTuple

import sympy

from .derivation import A, Z, Derivation, activation_rule
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
        rule = activation_rule(activation)  # type: ignore[arg-type]
        derivative = rule.derivative
        if isinstance(derivative, sympy.Piecewise):
            derivative = sympy.piecewise_fold(derivative)
        rows.append(ActivationRow(rule.name, rule.shown, derivative, rule.convenient))
    return Section("activations", "start", tuple(rows))


__all__ = ["ActivationRow", "activation_table", "A", "Z"]
