"""The network diagram's plain geometry: boxes, a unit's outline, edges as polylines
(a curved edge as its Bézier curve cut into pieces), and the distances between them.

Lengths are centimetres on TikZ's axes (x to the right, y up).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Iterable, NamedTuple

from .diagram_text import PT

OUTER = 0.2 * PT  # outer sep of every node (half the line width)
ARROWHEAD = 0.12  # an arrowhead's length along its edge; it is 0.11 cm wide

class Box(NamedTuple):
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def x(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def y(self) -> float:
        return (self.y0 + self.y1) / 2

    def grown(self, margin: float) -> Box:
        return Box(self.x0 - margin, self.y0 - margin, self.x1 + margin, self.y1 + margin)

    def meets(self, other: Box) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1


class UnitPlace(NamedTuple):
    x: float
    y: float
    rx: float  # half its width (a circle's radius, rx == ry)
    ry: float
    round: bool  # a circle (neuron), else a rectangle (input)
    side: str | None  # where its label is: "below", "above", "right" or "left" of it
    distance: float  # TikZ's label distance, cm
    label: Box | None  # its label's box

    @property
    def box(self) -> Box:
        return Box(self.x - self.rx, self.y - self.ry, self.x + self.rx, self.y + self.ry)


def point_box_distance(x: float, y: float, box: Box) -> float:
    return math.hypot(max(box.x0 - x, 0.0, x - box.x1), max(box.y0 - y, 0.0, y - box.y1))


def point_segment_distance(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((x - a[0]) * dx + (y - a[1]) * dy) / length))
    return math.hypot(x - a[0] - t * dx, y - a[1] - t * dy)


def segment_crosses_box(a: tuple[float, float], b: tuple[float, float], box: Box) -> bool:
    """Liang-Barsky: does the segment a-b enter the box?"""
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0] - box.x0), (dx, box.x1 - a[0]), (-dy, a[1] - box.y0), (dy, box.y1 - a[1])):
        if p == 0:
            if q < 0:
                return False
        else:
            r = q / p
            if p < 0:
                t0 = max(t0, r)
            else:
                t1 = min(t1, r)
            if t0 > t1:
                return False
    return True


def segment_box_distance(a: tuple[float, float], b: tuple[float, float], box: Box) -> float:
    """0 if they meet; else the least of the ends' distances to the box and the corners'
    distances to the segment (point_segment_distance, inlined: the layout search makes
    hundreds of thousands of these calls)."""
    if segment_crosses_box(a, b, box):
        return 0.0
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    best = min(point_box_distance(ax, ay, box), point_box_distance(bx, by, box))
    for x, y in ((box.x0, box.y0), (box.x0, box.y1), (box.x1, box.y0), (box.x1, box.y1)):
        t = 0.0 if length == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length))
        distance = math.hypot(x - ax - t * dx, y - ay - t * dy)
        if distance < best:
            best = distance
    return best


def path_box_distance(path: tuple[tuple[float, float], ...], box: Box) -> float:
    return min(segment_box_distance(path[k], path[k + 1], box) for k in range(len(path) - 1))


def box_distance(a: Box, b: Box) -> float:
    return math.hypot(max(b.x0 - a.x1, a.x0 - b.x1, 0.0), max(b.y0 - a.y1, a.y0 - b.y1, 0.0))


def unit_box_distance(unit: UnitPlace, box: Box) -> float:
    """From a unit's outline (and inside) to a box."""
    if unit.round:
        return point_box_distance(unit.x, unit.y, box) - unit.rx
    return box_distance(unit.box, box)


def unit_path_distance(unit: UnitPlace, path: tuple[tuple[float, float], ...]) -> float:
    if unit.round:
        return min(point_segment_distance(unit.x, unit.y, path[k], path[k + 1])
                   for k in range(len(path) - 1)) - unit.rx
    return path_box_distance(path, unit.box)


def path_bounds(path: Iterable[tuple[float, float]]) -> Box:
    xs, ys = zip(*path)
    return Box(min(xs), min(ys), max(xs), max(ys))


def border(unit: UnitPlace, towards: tuple[float, float]) -> tuple[float, float]:
    """Where the line from the unit's centre towards a point leaves its outline."""
    dx, dy = towards[0] - unit.x, towards[1] - unit.y
    length = math.hypot(dx, dy) or 1.0
    if unit.round:
        scale = (unit.rx + OUTER) / length
    else:
        scale = min((unit.rx + OUTER) / abs(dx) if dx else math.inf,
                    (unit.ry + OUTER) / abs(dy) if dy else math.inf)
    return unit.x + dx * scale, unit.y + dy * scale


def bezier(p0: tuple[float, float], c1: tuple[float, float], c2: tuple[float, float],
           p3: tuple[float, float], pieces: int = 24) -> tuple[tuple[float, float], ...]:
    def at(t: float) -> tuple[float, float]:
        u = 1 - t
        return (u ** 3 * p0[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t ** 3 * p3[0],
                u ** 3 * p0[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t ** 3 * p3[1])
    return tuple(at(k / pieces) for k in range(pieces + 1))


def arrowhead(path: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    """The stretch of an edge its arrowhead covers: the last ARROWHEAD before its tip."""
    (x0, y0), (x1, y1) = path[-2], path[-1]
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    reach = min(ARROWHEAD / length, 1.0)
    return ((x1 - reach * (x1 - x0), y1 - reach * (y1 - y0)), (x1, y1))


@lru_cache(maxsize=4096)  # an exam's variants draw the same edges
def along(path: tuple[tuple[float, float], ...], step: float) -> tuple[tuple[float, float, float], ...]:
    """Points every `step` along a polyline, with their fraction of its length."""
    lengths = [math.hypot(path[k + 1][0] - path[k][0], path[k + 1][1] - path[k][1])
               for k in range(len(path) - 1)]
    total = sum(lengths)
    points = []
    count = min(max(int(total / step), 1), 200)
    for n in range(1, count):
        s = n * total / count
        for k, piece in enumerate(lengths):
            if s <= piece or k == len(lengths) - 1:
                t = s / piece if piece else 0.0
                points.append((path[k][0] + t * (path[k + 1][0] - path[k][0]),
                               path[k][1] + t * (path[k + 1][1] - path[k][1]), n / count))
                break
            s -= piece
    return tuple(points)
