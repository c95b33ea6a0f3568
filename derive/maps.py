"""Maps as units (issue 10): what derive.network builds from an image channel, a conv
layer and a pool layer, in the one network model.

Every entry of a map is a unit of its own, named like `c1[2,3]` (row 2, column 3,
from 1). A conv map's units share its kernel and its bias (Parameter.shared): the
kernel entry k[m,n] of channel c is the weight of every edge from c[(g-1)s+m-p,
(h-1)s+n-p] to the map's unit [g,h] (cross-correlation, no flip, zero padding: a
position outside the channel has no edge). A pooled map's units are pooling units
whose sources are their window, row by row. Symbols follow seed 001: C, P and k with
the layer, the map's number and the entry in brackets.
"""
from __future__ import annotations

import re
from itertools import product

from .rounding import Given
from .spec import LayerSpec, Matrix

ENTRY = re.compile(r"(?P<map>[^\[]+)\[(?P<row>\d+),(?P<col>\d+)\]\Z")


def entry_name(name: str, row: int, col: int) -> str:
    return f"{name}[{row},{col}]"


def split_entry(name: str) -> tuple[str, int, int] | None:
    """("c1", 2, 3) for "c1[2,3]"; None for a scalar unit's name."""
    found = ENTRY.match(name)
    return (found["map"], int(found["row"]), int(found["col"])) if found else None


def is_matrix(value: object) -> bool:
    return isinstance(value, tuple) and bool(value) and isinstance(value[0], tuple)


def entries(matrix: Matrix) -> list[tuple[int, int, object]]:
    """(row, col, value) of every entry, row by row, from 1."""
    return [(r, c, value) for r, row in enumerate(matrix, 1) for c, value in enumerate(row, 1)]


def flat_pairs(pairs: tuple[tuple[str, object], ...]) -> tuple[tuple[str, object], ...]:
    """(name, value) pairs with every matrix spread into its entries' units."""
    return tuple((entry_name(name, r, c), cell) if is_matrix(value) else (name, value)
                 for name, value in pairs
                 for r, c, cell in (entries(value) if is_matrix(value) else [(0, 0, value)]))  # type: ignore[arg-type]


def channel_symbol(name: str) -> str:
    """An image channel's letter as it prints: x, or \\mathrm{red} for a longer name."""
    return name if len(name) == 1 else r"\mathrm{" + name.replace("_", r"\_") + "}"


def entry_symbol(base: str, row: int, col: int) -> str:
    return f"{base}[{row},{col}]"


class MapUnits:
    """The units of a conv or pool layer, from its spec and the shapes of earlier maps."""

    def __init__(self, layer: LayerSpec, number: int, shapes: dict[str, tuple[int, int]]) -> None:
        self.layer, self.number, self.shapes = layer, number, shapes
        self.idle: list[dict] = []  # of the last conv map: kernel entries with no edge

    def shape(self, source: str, kernel: tuple[int, int]) -> tuple[int, int]:
        rows, cols = self.shapes[source]
        s, p = self.layer.stride, self.layer.padding
        return ((rows + 2 * p - kernel[0]) // s + 1, (cols + 2 * p - kernel[1]) // s + 1)

    def conv(self, j: int, name: str, bias: object,
             kernels: tuple[tuple[str, Matrix], ...]) -> list[dict]:
        """Each unit of conv map `name` (the j-th of its layer) as the fields of a Unit."""
        l, s, p = self.number, self.layer.stride, self.layer.padding
        kernel_shape = (len(kernels[0][1]), len(kernels[0][1][0]))
        rows, cols = self.shape(kernels[0][0], kernel_shape)
        self.shapes[name] = (rows, cols)
        several = len(kernels) > 1
        used: set[str] = set()
        units = []
        for g, h in product(range(1, rows + 1), range(1, cols + 1)):
            weights = []
            for i, (channel, kernel) in enumerate(kernels, 1):
                height, width = self.shapes[channel]
                for m, n, value in entries(kernel):
                    r, c = (g - 1) * s + m - p, (h - 1) * s + n - p
                    if not (1 <= r <= height and 1 <= c <= width):
                        continue  # a zero of the padding: no edge
                    weights.append(self.kernel_entry(j, i, several, name, channel, m, n, value,
                                                     entry_name(channel, r, c)))
                    used.add(weights[-1]["shared"])
            bias_parameter = dict(kind="bias", source=None, symbol=f"b^{{({l})}}_{{{j}}}",
                                  value=Given.of(bias), shared=f"b:{name}")
            units.append(dict(name=entry_name(name, g, h), a_symbol=entry_symbol(f"C^{{({l})}}_{{{j}}}", g, h),
                              z_symbol=entry_symbol(f"z^{{({l})}}_{{{j}}}", g, h), weights=weights,
                              bias=bias_parameter, pool=None, sources=()))
        # a kernel entry that only ever lands on the padding is still a parameter (its
        # gradient is 0 and its update leaves it): kept, with no edge, on the first unit
        self.idle = [dict(self.kernel_entry(j, i, several, name, channel, m, n, value, None),
                          neuron=units[0]["name"])
                     for i, (channel, kernel) in enumerate(kernels, 1) for m, n, value in entries(kernel)
                     if f"k:{name}:{channel}:{m},{n}" not in used]
        return units

    def kernel_entry(self, j: int, i: int, several: bool, name: str, channel: str, m: int, n: int,
                     value: object, source: str | None) -> dict:
        index = f"{j},{i}" if several else f"{j}"
        return dict(kind="weight", source=source, symbol=entry_symbol(f"k^{{({self.number})}}_{{{index}}}", m, n),
                    value=Given.of(value), shared=f"k:{name}:{channel}:{m},{n}")

    def pool(self, j: int, name: str, source: str) -> list[dict]:
        """Each unit of pooled map `name`: its window of `source`, row by row."""
        l, q, s = self.number, self.layer.size, self.layer.stride
        height, width = self.shapes[source]
        rows, cols = (height - q) // s + 1, (width - q) // s + 1
        self.shapes[name] = (rows, cols)
        return [dict(name=entry_name(name, g, h), a_symbol=entry_symbol(f"P^{{({l})}}_{{{j}}}", g, h),
                     z_symbol=entry_symbol(f"z^{{({l})}}_{{{j}}}", g, h), weights=[], bias=None,
                     pool=self.layer.pool,
                     sources=tuple(entry_name(source, (g - 1) * s + m, (h - 1) * s + n)
                                   for m, n in product(range(1, q + 1), range(1, q + 1))))
                for g, h in product(range(1, rows + 1), range(1, cols + 1))]


