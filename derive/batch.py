"""A mini-batch step: per-sample gradients combined (mean or sum), then one update.

The combined gradient is the gradient of the combined loss (the mean or sum of the
samples' losses), so it is checked against finite differences of that total loss.
By hand, each combined value is computed from the samples' shown values and rounded,
and the update from the shown combined gradient, like every other line.
"""
from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from sympy import Symbol

from .derivation import Derivation
from .evaluate import Values, check, keeper, number
from .network import Network
from .numeric import Value, product, total, value_of
from .document import Section
from .solution import Shown


class BatchRow(NamedTuple):
    key: str
    symbol: Symbol
    gradients: tuple[object, ...]  # one per sample
    combined: object
    old: object
    new: object
    # as the lines show them (derive.checkable): the samples' gradients in the mean, and
    # old value and combined gradient in the update
    gradients_shown: tuple[object, ...] = ()
    old_shown: object = None
    combined_shown: object = None
    task: str | None = None  # the worksheet's task for the combined gradient (3.k), and
    update_task: str | None = None  # for the update (4.k): first iteration only


class BatchUpdate(NamedTuple):
    reduction: str  # "mean" or "sum"
    size: int
    eta: object
    losses: tuple[object, ...]  # as the line adding them up shows them
    loss: object  # the combined loss
    rows: tuple[BatchRow, ...]


def batch_update(derivation: Derivation, network: Network, samples: list[Values], reduction: str,
                 policy: str = "exact", digits: int = 4) -> tuple[Section, dict[str, object]]:
    """The batch's update section, and the parameters' new values."""
    keep = keeper(policy, digits)
    shown = Shown(digits, policy == "exact")
    scale = Fraction(1, len(samples)) if reduction == "mean" else Fraction(1)
    eta = value_of(network.learning_rate)

    def combine(parts: tuple[object, ...], what: str) -> Value:
        return keep(check(product((scale, total(value_of(p) for p in parts))), what, double=True))

    rows, updated = [], {}
    for gradient in derivation.gradients:
        key = gradient.parameter.key
        per_sample = tuple(v.gradients[key] for v in samples)
        combined = combine(per_sample, f"the batch gradient of {key}")
        old = value_of(next(p.value for p in network.parameters if p.key == key))
        updated[key] = number(keep(check(total((old, -product((eta, combined)))),
                                         f"the update of {key}", double=True)))
        shown_old, shown_combined = shown.update(old, eta, number(combined), updated[key])
        rows.append(BatchRow(key, gradient.symbol, per_sample, number(combined), old, updated[key],
                             shown.sum(per_sample, number(combined), scale), shown_old, shown_combined))
    losses = tuple(v.loss for v in samples)
    loss = number(combine(losses, "the batch loss"))
    update = BatchUpdate(reduction, len(samples), eta, shown.sum(losses, loss, scale), loss, tuple(rows))
    return Section("batch", "end", update), updated
