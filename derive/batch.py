"""A mini-batch step: per-sample gradients combined (mean or sum), then one update.

The combined gradient is the gradient of the combined loss (the mean or sum of the
samples' losses), so it is checked against finite differences of that total loss.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from sympy import Symbol

from .derivation import Derivation
from .evaluate import Values
from .network import Network
from .solution import Section


class BatchRow(NamedTuple):
    key: str
    symbol: Symbol
    gradients: tuple[float, ...]  # one per sample
    combined: float
    old: float
    new: float


class BatchUpdate(NamedTuple):
    reduction: str  # "mean" or "sum"
    size: int
    eta: float
    losses: tuple[float, ...]
    loss: float  # the combined loss
    rows: tuple[BatchRow, ...]


def batch_update(derivation: Derivation, network: Network, samples: list[Values],
                 reduction: str) -> tuple[Section, dict[str, float]]:
    """The batch's update section, and the parameters' new values."""
    scale = 1 / len(samples) if reduction == "mean" else 1.0
    eta = network.learning_rate
    rows, updated = [], {}
    for gradient in derivation.gradients:
        key = gradient.parameter.key
        per_sample = tuple(float(v.gradients[key]) for v in samples)
        combined = scale * math.fsum(per_sample)
        old = next(p.value for p in network.parameters if p.key == key)
        updated[key] = old - eta * combined
        rows.append(BatchRow(key, gradient.symbol, per_sample, combined, old, updated[key]))
    losses = tuple(float(v.loss) for v in samples)
    update = BatchUpdate(reduction, len(samples), eta, losses, scale * math.fsum(losses), tuple(rows))
    return Section("batch", "end", update), updated
