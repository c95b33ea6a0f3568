"""Where the LaTeX diagram puts each unit, bias label and weight label.

The picture (templates/_given.tex.j2) draws the units in columns and every weight as an
edge with its value written on it. In a dense layer the edges cross everywhere, so each
label's place is chosen here, in plain geometry: every unit, edge and label is a shape
of the size TeX gives it (estimated from its text at the picture's font sizes), and
each label goes where it overlaps no other label, no unit and no edge but the one it
sits on, with a small clearance.

* A weight label slides along its own edge; a search finds a place for every label of
  a layer (the edges into one column) at once. Where none exists, that layer's edges are
  drawn unlabelled: the weights are in the Given table, and the picture says so.
* A bias label goes below its unit, else above it, else beside it. If one unit has no
  clear place (in a dense layer every side of a middle unit is crossed by edges), each
  column's bias labels are listed under the picture instead, below the column; if even
  that does not fit (very narrow columns), they are left to the table, and the picture
  says so.
* The columns are drawn wider for a layer of many edges where the page has room, and
  columns and rows are spread further apart when that lets more labels in.

Lengths are centimetres on TikZ's axes (x to the right, y up). The template writes
every coordinate from here (units, weight labels, curve controls, label distances), so
the geometry checked is the geometry drawn.

The parts, one module each: diagram_text (how big TeX draws a text), diagram_geometry
(boxes, outlines, edges, distances), diagram_grid (obstacles and clearance) and
diagram_labels (where each label goes); this module lays the whole picture out.
"""
from __future__ import annotations

import math
from decimal import localcontext
from functools import lru_cache
from typing import NamedTuple

from .diagram_geometry import Box, UnitPlace, along, arrowhead, bezier, border, path_bounds, unit_path_distance
from .diagram_grid import (COMFORT, EDGE_CLEAR, MEASURED, MEASURED_MAX, UNIT_CLEAR, Obstacle,
                           distance_to, fixed_scene)
from .diagram_grid import clear_caches as clear_grid_caches
from .diagram_labels import place_layer, unit_labels
from .diagram_text import NORMAL, PT, SCRIPT, TINY, Size, text_size
from .rounding import WIDE, rounded

# what other modules and tests import from here
__all__ = ["Box", "Layout", "Link", "LinkPlace", "MEASURED", "MEASURED_MAX", "NORMAL", "Obstacle",
           "SCRIPT", "TINY", "Unit", "UnitPlace", "clear_caches", "distance_to", "lay_out",
           "number_tex", "path_bounds", "text_size"]

# The units' boxes (keep in step with the styles in _given.tex.j2).
UNIT_MIN, UNIT_SEP = 0.9, 1 * PT  # circle: minimum size 9mm, inner sep 1pt
INPUT_MIN, INPUT_SEP = 0.8, 2 * PT  # rounded rectangle: minimum size 8mm, inner sep 2pt
TEXT_WIDTH = 16.6  # the widest picture (an A4 page's 17 cm text width, less a margin)
TALLEST = 11.0  # rows are not spread further apart than this picture height
MAX_LABELLED = 48  # a layer with more weights than this is not labelled at all
ROW_SPACINGS = (2.2, 2.8, 3.4)
BIASES = ("beside", "stacked", "table")  # where bias labels go, best first
BENDS = (25, -25, 35, -35, 15, -15, 45, -45, 60, -60)  # a skip edge's curve, degrees


# --- input and output -------------------------------------------------------------------

class Unit(NamedTuple):
    """A unit to place: where its column and row are, what it and its label print."""

    column: int
    row: float  # position in its column, centred on 0
    symbol: str  # the TeX of its output symbol, printed inside it
    kind: str  # "input", "neuron", or a pooling unit's "max" / "average"
    label: str | None  # the TeX (math) of its label: an input's value, "b = 0.1"; a pooling
    # unit's label is its kind, in text


class Link(NamedTuple):
    source: int  # index of a Unit
    target: int
    label: str | None  # the TeX (math) of its weight, None for an unweighted (pooling) edge


class LinkPlace(NamedTuple):
    path: tuple[tuple[float, float], ...]  # the drawn line (border to border) as a polyline
    controls: tuple[tuple[float, float], tuple[float, float]] | None  # a curve's Bézier controls
    label: Box | None  # its weight label's box (drawn at its centre); None: unlabelled


class Layout(NamedTuple):
    units: tuple[UnitPlace, ...]
    links: tuple[LinkPlace, ...]
    unlabelled: tuple[int, ...]  # layers whose edges carry no weight labels (too dense)
    column_spacing: float
    row_spacing: float
    unplaced: int = 0  # labels of units with no clear place (0 in every layout tested)
    biases: str = "beside"  # where bias labels are: "beside" their units, "stacked" under
    # their columns, or only in the "table"

    @property
    def bounds(self) -> Box:
        """Everything drawn: units, their labels, edges, weight labels."""
        boxes = [u.box for u in self.units] + [u.label for u in self.units if u.label is not None]
        boxes += [path_bounds(link.path) for link in self.links]
        boxes += [link.label for link in self.links if link.label is not None]
        return Box(min(b.x0 for b in boxes), min(b.y0 for b in boxes),
                   max(b.x1 for b in boxes), max(b.y1 for b in boxes))

    @property
    def width(self) -> float:
        bounds = self.bounds
        return bounds.x1 - bounds.x0


def unit_size(unit: Unit) -> tuple[float, float]:
    """Half width and half height of a unit's outline."""
    size = text_size(unit.symbol, NORMAL)
    if unit.kind == "input":
        return (max(INPUT_MIN / 2, size.width / 2 + INPUT_SEP),
                max(INPUT_MIN / 2, (size.height + size.depth) / 2 + INPUT_SEP))
    radius = max(UNIT_MIN / 2, math.hypot(size.width / 2 + UNIT_SEP, (size.height + size.depth) / 2 + UNIT_SEP))
    return radius, radius


@lru_cache(maxsize=256)
def lay_out(units: tuple[Unit, ...], links: tuple[Link, ...]) -> Layout:
    """The diagram's layout: the first spacing tried at which every label has a clear
    place beside its unit or on its edge, else the one leaving the fewest labels out.

    Rows are tried 2.2 cm apart first, then further; columns as far apart as the
    densest layer asks (3.6 cm for two edges into a unit, more for more, if the page has
    room), then further, then the usual 3.6 cm (less for many layers)."""
    sizes = tuple(unit_size(u) for u in units)
    label_sizes = tuple(None if u.label is None else
                        text_size(u.label, SCRIPT, u.kind in ("input", "neuron")) for u in units)
    weight_sizes = tuple(None if link.label is None else text_size(link.label, TINY) for link in links)
    columns = max(u.column for u in units) + 1
    rows = max(sum(1 for u in units if u.column == c) for c in range(columns))
    base = min(3.6, 15.0 / max(columns - 1, 1))
    # a layer of many edges gets wider columns, where the page has room for them
    fan_in = max(sum(1 for link in links if link.target == i) for i in range(len(units)))
    wanted = base + 0.4 * max(fan_in - 2, 0)
    spreads = [wanted + extra for extra in (0.0, 0.6, 1.2)] + ([base] if wanted > base else [])
    heights = [s for s in ROW_SPACINGS if s == ROW_SPACINGS[0] or (rows - 1) * s <= TALLEST]
    best: tuple[tuple[int, int, int], Layout] | None = None
    for row_spacing in heights:
        for column_spacing in spreads:
            layout = place(units, links, sizes, label_sizes, weight_sizes, column_spacing,
                           row_spacing, wider=column_spacing > base)
            if layout is None:
                continue  # too wide for the page
            missing = sum(1 for link, spot in zip(links, layout.links)
                          if link.label is not None and spot.label is None)
            score = (layout.unplaced, missing, BIASES.index(layout.biases))
            if best is None or score < best[0]:
                best = (score, layout)
            if score == (0, 0, 0):
                return layout
    assert best is not None
    return best[1]


def place(units: tuple[Unit, ...], links: tuple[Link, ...], sizes: tuple[tuple[float, float], ...],
          label_sizes: tuple[Size | None, ...], weight_sizes: tuple[Size | None, ...],
          column_spacing: float, row_spacing: float, wider: bool = False) -> Layout | None:
    """Every unit, edge and label at one spacing; None if `wider` (a spacing beyond the
    usual) and the picture is wider than the page.

    A bias label goes beside its unit. If one finds no clear place there, every bias
    label is listed instead under the picture, below its column (in a dense layer the
    edges leave no room beside a unit)."""
    bare = [UnitPlace(u.column * column_spacing, 0.0 - u.row * row_spacing, rx, ry, u.kind != "input",
                      None, 0.0, None) for u, (rx, ry) in zip(units, sizes)]
    unit_obstacles = [Obstacle(p.box, "unit", i, p) for i, p in enumerate(bare)]
    # edges: straight between neighbouring columns; a skip edge curves round the units between
    paths: list[tuple[tuple[float, float], ...]] = []
    controls: list[tuple[tuple[float, float], tuple[float, float]] | None] = []
    for link in links:
        a, b = bare[link.source], bare[link.target]
        if units[link.target].column - units[link.source].column <= 1:
            paths.append((border(a, (b.x, b.y)), border(b, (a.x, a.y))))
            controls.append(None)
        else:
            path, control = skip_curve(a, b, link, unit_obstacles)
            paths.append(path)
            controls.append(control)
    link_obstacles = [Obstacle(path_bounds(p), "link", k, p) for k, p in enumerate(paths)]
    heads = [arrowhead(p) for p in paths]
    link_obstacles += [Obstacle(path_bounds(h), "head", k, h) for k, h in enumerate(heads)]
    fixed = unit_obstacles + link_obstacles
    scene = fixed_scene(fixed)  # kept from an earlier variant of the same picture
    for biases in BIASES:
        placed, unplaced = unit_labels(units, bare, label_sizes, scene.grid, biases)
        if not unplaced:
            break
    label_obstacles = [Obstacle(u.label, "label", -1, u.label) for u in placed if u.label is not None]
    if wider:
        boxes = [o.bounds for o in fixed + label_obstacles]
        if max(b.x1 for b in boxes) - min(b.x0 for b in boxes) > TEXT_WIDTH:
            return None
    # weight labels, layer by layer (a layer: the edges into one column)
    labels: list[Box | None] = [None] * len(links)
    unlabelled = []
    targets = [link.target for link in links]
    for column in sorted({units[link.target].column for link in links}):
        layer = [k for k, link in enumerate(links) if units[link.target].column == column
                 and link.label is not None]
        if not layer:
            continue
        found = place_layer(layer, targets, paths, weight_sizes, scene, label_obstacles) \
            if len(layer) <= MAX_LABELLED else None
        if found is None:
            unlabelled.append(column)
            continue
        for k, box in found.items():
            labels[k] = box
            label_obstacles.append(Obstacle(box, "label", -1, box))
    return Layout(tuple(placed), tuple(LinkPlace(p, c, box) for p, c, box in zip(paths, controls, labels)),
                  tuple(unlabelled), column_spacing, row_spacing, unplaced, biases)


def skip_curve(a: UnitPlace, b: UnitPlace, link: Link, units: list[Obstacle]
               ) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], tuple[float, float]]]:
    """A Bézier curve from a to b (as TikZ draws `.. controls (c1) and (c2) ..` between the
    two nodes) that passes no unit but its ends; the first of BENDS that does."""
    length = math.hypot(b.x - a.x, b.y - a.y)
    angle = math.atan2(b.y - a.y, b.x - a.x)
    reach = 0.3915 * length  # TikZ's `bend` control distance (looseness 1)
    best = None
    for bend in BENDS:
        out, into = angle + math.radians(bend), angle + math.pi - math.radians(bend)
        c1 = (a.x + reach * math.cos(out), a.y + reach * math.sin(out))
        c2 = (b.x + reach * math.cos(into), b.y + reach * math.sin(into))
        path = bezier(border(a, c1), c1, c2, border(b, c2))
        worst = min((unit_path_distance(o.shape, path) for o in units  # type: ignore[arg-type]
                     if o.index not in (link.source, link.target)), default=COMFORT)
        if worst >= UNIT_CLEAR + EDGE_CLEAR:
            return path, (c1, c2)
        if best is None or worst > best[0]:
            best = (worst, path, (c1, c2))
    assert best is not None
    return best[1], best[2]


def clear_caches() -> None:
    """Forget every layout and everything kept to make one (as a new run starts)."""
    lay_out.cache_clear()
    clear_grid_caches()
    along.cache_clear()
    text_size.cache_clear()


# --- from the document model -------------------------------------------------------------

def number_tex(value: object) -> str:
    """A given number as the key prints it (derive.latex.format_number: a given value is
    shown in full, whatever the digits)."""
    decimal, scientific = rounded(value, 4)  # type: ignore[arg-type]
    if not scientific:
        return f"{decimal:f}"
    exponent = decimal.adjusted()
    with localcontext(WIDE):
        return rf"{decimal.scaleb(-exponent):f} \times 10^{{{exponent}}}"
