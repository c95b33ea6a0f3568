"""The output delta as a - y (`worked: {shortcut: true}`), as lecturers use it (seeds 002, 003).

With sigmoid outputs and binary cross-entropy, or softmax outputs and cross-entropy
(every output with a target, the targets summing to 1), dL/dz_k at an output is
a_k - y_k (derive.derivations derives it). The delta form then starts from
delta_k = a_k - y_k instead of working the chain through the outputs, which for
softmax is a sum over every output of the layer per delta. The number is the same
(evaluate.delta_values gives exactly a - y here: by hand too, since the written a's
enter its terms exactly), so only the line that shows it changes; the key also shows
the derivation, so it says where the shortcut comes from.
"""
from __future__ import annotations

from typing import NamedTuple

import sympy

from .delta import DeltaLine, delta_symbol
from .derivation import Derivation
from .errors import DeriveError
from .evaluate import Values
from .solution import Shown, combined_kind

class Shortcut(NamedTuple):
    """The output delta a - y as the delta form uses it: where it comes from, derived on
    one line of the delta form's introduction, or (`derived_above`) in the key's worked
    derivations (worked: {derivations: true})."""

    derivation: object  # derive.derivations.WorkedDerivation
    derived_above: bool = False


KIND_TEXT = {"sigmoid-bce": "sigmoid outputs with binary cross-entropy",
             "softmax-ce": "softmax outputs with cross-entropy"}


def shortcut_kind(derivation: Derivation) -> str:
    """"sigmoid-bce" or "softmax-ce": which simplification the output layer has; a
    clear error where it has none (a spec read whole is checked earlier, with its line)."""
    kind = combined_kind(derivation)
    if kind:
        return kind
    network = derivation.network
    activation = network.layers[-1][0].activation.name  # type: ignore[union-attr]
    raise DeriveError(
        "worked.shortcut: the output delta simplifies to a - y only for sigmoid outputs with "
        "binary_cross_entropy, or softmax outputs with cross_entropy where every output has a "
        f"target and the targets sum to 1; this network's output layer is {activation} with "
        f"{network.loss}" + (" (targets summing to "
                             f"{float(sum(value for _, value in network.targets)):g})"
                             if activation == "softmax" and network.loss == "cross_entropy" else ""))


def shortcut_lines(derivation: Derivation, values: Values, shown: Shown) -> tuple[DeltaLine, ...]:
    """delta_k = a_k - y_k for every output with a target, in the layer's order, with
    the numbers substituted."""
    network = derivation.network
    targeted = {name: (a, y) for name, a, y in derivation.outputs}
    lines = []
    for unit in network.layers[-1]:
        if unit.name not in targeted:
            continue
        a, y = targeted[unit.name]
        formula = sympy.Add(a, -y, evaluate=False)
        value = values.deltas[unit.name]
        numbers = shown.formula(formula, {a: values.symbols[a], y: values.symbols[y]}, value)
        lines.append(DeltaLine(unit.name, delta_symbol(unit), None, (formula,), None, (numbers,), value))
    return tuple(lines)
