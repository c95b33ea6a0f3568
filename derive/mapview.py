"""Maps as matrices (issue 10): the parts of a CNN's key that show a whole map at once.

The working itself is entry by entry (each entry of a map is a unit, derive.maps):
every number a student redoes is on a line of its own. Beside it a teacher writes the
maps as matrices: the image and kernels in the Given section; each conv map and, for
max pooling, its windows' maxima marked; in the backward pass dL/dA of a map (routed
through the pooling: zeros where nothing flows), its delta map and each kernel's
gradient in the compact form X * delta (cross-correlation). This module builds those
matrices as data (Grid, with the chosen entries wrapped in Chosen); the renderer
prints them.
"""
from __future__ import annotations

from typing import NamedTuple

from sympy import Symbol

from .derivation import L, Derivation, first_maximum
from .evaluate import Values
from .maps import entry_name
from .network import MapInfo, Network, Unit
from .numeric import product, total
from .mathnodes import Grid, Partial


class Chosen(NamedTuple):
    """A map entry a max-pooling window takes (printed boxed)."""

    value: object


class Correlation(NamedTuple):
    """image * delta: the cross-correlation of a channel with a delta map, the compact
    form of a kernel's gradient (with the layer's stride and padding)."""

    image: Symbol
    delta: Symbol
    stride: int
    padding: int


class Elementwise(NamedTuple):
    """f'(Z) (.) dL/dA: a map's delta from what flows into it, entry by entry."""

    activation: str
    z: Symbol
    upstream: Partial


class MapMatrix(NamedTuple):
    """`lhs` (= `rhs`) = the matrix `grid`. `kind` says what it is, for the sentence
    that introduces it: "input", "kernel", "map", "windows" (a map with each pooling
    window's maximum marked), "upstream" (dL/dA), "routed" (dL/dA through a pooling),
    "delta", "kernel-gradient"."""

    kind: str
    lhs: object  # a Symbol or a Partial
    rhs: object | None  # a Correlation, an Elementwise, a Partial, or None
    grid: Grid
    about: str = ""  # the spec's names: "c1 on x" for a kernel, "c1" for a map


class Tie(NamedTuple):
    """A max-pooling window whose maximum appears more than once."""

    window: str  # the pooled entry, e.g. p1[2,2]
    value: object
    positions: tuple[str, ...]  # the entries holding the maximum, row-major
    chosen: str  # the first of them: where the gradient goes


def base_symbol(entry_symbol: str) -> Symbol:
    """C^{(1)}_{1} from an entry's C^{(1)}_{1}[2,3]."""
    return Symbol(entry_symbol.rsplit("[", 1)[0])


def map_units(network: Network, info: MapInfo) -> list[list[Unit]]:
    units = network.units
    return [[units[entry_name(info.name, r, c)] for c in range(1, info.cols + 1)]
            for r in range(1, info.rows + 1)]


def grid_of(rows: list[list[Unit]], value: dict) -> Grid:
    return Grid(tuple(tuple(value[u.name] for u in row) for row in rows))


def given_maps(network: Network) -> tuple[MapMatrix, ...]:
    """Each image channel, then each kernel slice (a conv map's kernel on one channel)."""
    found = []
    for info in network.maps:
        if info.kind == "input":
            rows = map_units(network, info)
            found.append(MapMatrix("input", base_symbol(rows[0][0].a_symbol), None,
                                   grid_of(rows, {u.name: u.value for row in rows for u in row}), info.name))
    for info in network.maps:
        if info.kind == "conv":
            for channel in info.sources:
                found.append(kernel_matrix(network, info, channel, lambda p: p.value))
    return tuple(found)


def kernel_matrix(network: Network, info: MapInfo, channel: str, value, kind: str = "kernel",
                  rhs: object = None) -> MapMatrix:
    """The kernel of conv map `info` on `channel`, each entry `value(parameter)`."""
    prefix = f"k:{info.name}:{channel}:"
    entries = {tuple(map(int, p.shared.removeprefix(prefix).split(","))): p  # type: ignore[union-attr]
               for p in network.parameters if p.shared and p.shared.startswith(prefix)}
    rows, cols = max(r for r, _ in entries), max(c for _, c in entries)
    symbol = base_symbol(entries[(1, 1)].symbol)
    lhs = symbol if kind == "kernel" else Partial(L, symbol)
    return MapMatrix(kind, lhs, rhs, Grid(tuple(tuple(value(entries[(r, c)]) for c in range(1, cols + 1))
                                                for r in range(1, rows + 1))), f"{info.name} on {channel}")


def forward_maps(derivation: Derivation, values: Values, number: int) -> tuple[tuple[MapMatrix, ...], tuple[Tie, ...]]:
    """After layer `number`'s entries: each of its maps as a matrix; for max pooling,
    first the source map with each window's chosen maximum marked, and every tie."""
    network, sym, v = derivation.network, derivation.symbols, values.symbols
    shown: list[MapMatrix] = []
    ties: list[Tie] = []
    for info in network.maps:
        if info.layer != number:
            continue
        rows = map_units(network, info)
        a = {u.name: v[sym[u.a_symbol]] for row in rows for u in row}
        if rows[0][0].pool == "max":
            source = next(m for m in network.maps if m.name == info.sources[0])
            source_rows = map_units(network, source)
            chosen: set[str] = set()
            for row in rows:
                for unit in row:
                    window = [v[sym[network.units[s].a_symbol]] for s in unit.sources]
                    first = first_maximum(window)
                    chosen.add(unit.sources[first])
                    tied = tuple(s for s, x in zip(unit.sources, window) if x == window[first])
                    if len(tied) > 1:
                        ties.append(Tie(unit.name, window[first], tied, tied[0]))
            marked = {u.name: Chosen(v[sym[u.a_symbol]]) if u.name in chosen else v[sym[u.a_symbol]]
                      for row in source_rows for u in row}
            shown.append(MapMatrix("windows", base_symbol(source_rows[0][0].a_symbol), None,
                                   grid_of(source_rows, marked), source.name))
        shown.append(MapMatrix("map", base_symbol(rows[0][0].a_symbol), None, grid_of(rows, a), info.name))
    return tuple(shown), tuple(ties)


def backward_maps(derivation: Derivation, values: Values,
                  number: int) -> tuple[tuple[MapMatrix, ...], tuple[MapMatrix, ...]]:
    """Layer `number`'s maps in the backward pass: (dL/dA, what flows back into each
    entry, routed through a pooling with zeros where nothing flows, and the delta map;
    each kernel's gradient as the cross-correlation of its channel with the delta map).
    Through a linear activation dL/dA is the delta map itself: shown once."""
    network = derivation.network
    maps: list[MapMatrix] = []
    compact: list[MapMatrix] = []
    for info in network.maps:
        if info.layer != number:
            continue
        rows = map_units(network, info)
        if not all(u.name in values.deltas for row in rows for u in row):
            continue  # feeds nothing targeted
        first = rows[0][0]
        upstream = Partial(L, base_symbol(first.a_symbol))
        delta = base_symbol("\\delta" + first.z_symbol[1:])  # type: ignore[index]
        activation = first.activation.name  # type: ignore[union-attr]
        if activation == "linear":
            maps.append(MapMatrix("delta", delta, upstream, grid_of(rows, values.deltas), info.name))
        else:
            pooled = any(network.units[c].pool for c in network.consumers[first.name])
            maps.append(MapMatrix("routed" if pooled else "upstream", upstream, None,
                                  grid_of(rows, {u.name: flowing_back(derivation, values, u)
                                                 for row in rows for u in row}), info.name))
            maps.append(MapMatrix("delta", delta, Elementwise(activation, base_symbol(first.z_symbol), upstream),  # type: ignore[arg-type]
                                  grid_of(rows, values.deltas), info.name))
        if info.kind == "conv":
            for channel in info.sources:
                image = base_symbol(network.units[entry_name(channel, 1, 1)].a_symbol)
                compact.append(kernel_matrix(network, info, channel, lambda p: values.gradients[p.key],
                                             "kernel-gradient",
                                             Correlation(image, delta, info.stride, info.padding)))
    return tuple(maps), tuple(compact)


def flowing_back(derivation: Derivation, values: Values, unit: Unit) -> object:
    """dL/da of one unit: its own loss term if it is targeted, plus, for each consumer
    c, dz_c/da (a weight, a pooling unit's routing 1/0 or 1/n) times delta_c."""
    network, sym = derivation.network, derivation.symbols
    a = sym[unit.a_symbol]
    parts = [values.locals[(L, a)]] if (L, a) in values.locals else []
    parts += [product((values.locals[(sym[network.units[c].z_symbol], a)], values.deltas[c]))  # type: ignore[index]
              for c in network.consumers[unit.name] if c in values.deltas]
    return total(parts)
