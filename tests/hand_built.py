"""Networks built by hand from dense specs, for model features that have no spec syntax
of their own yet (tests/test_shared_parameters.py, tests/test_pooling_units.py)."""
from __future__ import annotations

from derive.network import Unit


def shared_kernel(layer: tuple[Unit, ...]) -> tuple[Unit, ...]:
    """A dense layer whose neurons each take two weights, made a 1-D convolution: every
    neuron's first weight is the shared kernel entry k1, its second k2, and its bias the
    map's one bias b_c."""
    shared = []
    for unit in layer:
        first, second = unit.weights
        shared.append(unit._replace(
            weights=(first._replace(shared="k1", symbol="k_{1}"), second._replace(shared="k2", symbol="k_{2}")),
            bias=unit.bias._replace(shared="b:c", symbol="b_{c}")))  # type: ignore[union-attr]
    return tuple(shared)
