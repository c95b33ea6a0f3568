"""The activation table (seed 004): each activation the network uses, f(z) and f'(z).

f'(z) is shown twice: as SymPy derives it from the definition, and in the form the
working uses (sigma' = sigma(1 - sigma), tanh' = 1 - tanh^2), which the tests check
equal to SymPy's.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import sympy

from .derivation import A, Z, Derivation, activation_rule, softmax_rule
from .document import Section


class ActivationRow(NamedTuple):
    name: str
    shown: sympy.Expr  # f(z) as a teacher writes it
    derivatives: tuple[sympy.Expr, ...]  # sympy.diff of the definition (softmax: two entries)
    convenient: sympy.Expr  # f'(z) in terms of a = f(z) (and z), as in the working
    width: int = 0  # softmax: the outputs of its layer, which SymPy's derivatives are for


def activation_table(derivation: Derivation) -> Section:
    used = dict.fromkeys(unit.activation for unit in derivation.network.neurons)
    rows = []
    for activation in used:
        if activation.name == "softmax":  # type: ignore[union-attr]
            width = next(len(layer) for layer in derivation.network.layers
                         if layer[0].activation == activation)
            rows.append(softmax_row(width))
            continue
        rule = activation_rule(activation)  # type: ignore[arg-type]
        derivative = rule.derivative
        if isinstance(derivative, sympy.Piecewise):
            derivative = sympy.piecewise_fold(derivative)
        rows.append(ActivationRow(rule.name, rule.shown, (derivative,), rule.convenient))
    return Section("activations", "start", tuple(rows))


@lru_cache(maxsize=64)
def softmax_row(width: int) -> ActivationRow:
    """Softmax over a layer of `width` outputs, in index notation; SymPy's derivatives
    for this width, on the diagonal and off it, each labelled. Kept per width (the row
    holds only immutable SymPy objects): an exam's variants all ask for the same row,
    and building it took longer than the rest of a small variant."""
    k, j, n = sympy.symbols("k j n", integer=True)
    z = sympy.IndexedBase("z")
    a = sympy.IndexedBase("a")
    shown = sympy.exp(z[k]) / sympy.Sum(sympy.exp(z[j]), (j, 1, n))
    rule = softmax_rule(width)
    derivatives = tuple(
        sympy.Eq(leibniz("a_{1}", f"z_{{{i + 1}}}"), simplified_softmax(rule.zs, i), evaluate=False)
        for i in range(min(width, 2)))
    convenient = a[k] * (sympy.KroneckerDelta(k, j) - a[j])
    return ActivationRow("softmax", shown, derivatives, convenient, width)


def simplified_softmax(zs: tuple[sympy.Symbol, ...], i: int) -> sympy.Expr:
    """sympy.simplify of d a_1 / d z_(i+1) (the derivative SymPy takes of softmax over
    `zs`), written out directly: simplify takes 0.15 s (most of a small key's time, half
    of it importing sympy.physics) for a result of one fixed shape per width. The tests
    check it identical to sympy.simplify's, term for term, width by width."""
    if len(zs) == 1:
        return sympy.Integer(0)  # a_1 = 1 whatever z_1 is
    exps = [sympy.exp(z) for z in zs]
    total = sympy.Add(*exps)
    if i == 1:  # off the diagonal: -a_1 a_2
        return -sympy.exp(zs[0] + zs[1]) / total**2
    if len(zs) == 2:  # on it, for two outputs simplify expands the denominator
        return sympy.exp(zs[0] + zs[1]) / (sympy.exp(2 * zs[0]) + sympy.exp(2 * zs[1])
                                          + 2 * sympy.exp(zs[0] + zs[1]))
    return sympy.Add(*exps[1:]) * exps[0] / total**2  # a_1 (1 - a_1)


def leibniz(num: str, den: str) -> sympy.Symbol:
    """d num / d den as a symbol that prints as the fraction."""
    return sympy.Symbol(rf"\frac{{\partial {num}}}{{\partial {den}}}")


__all__ = ["ActivationRow", "activation_table", "A", "Z"]
