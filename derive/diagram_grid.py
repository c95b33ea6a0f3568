"""What a label in the network diagram must keep clear of, and how far it stays clear.

Every unit, edge, arrowhead and label already placed is an Obstacle, filed in a Grid by
the cells it passes through; clearance() says how far a box stays clear of the
obstacles near it, beyond the clearance each kind asks for.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Iterable, NamedTuple

from .diagram_geometry import Box, box_distance, path_box_distance, unit_box_distance

# Clearances a label keeps (cm); a PDF viewer's word box is up to 0.6pt (0.02 cm) taller
# than TeX's box, so every clearance is more than that.
EDGE_CLEAR = 0.045  # from an edge it does not sit on
HEAD_CLEAR = 0.1  # from an arrowhead (the last ARROWHEAD of an edge), its half width and more
LABEL_CLEAR = 0.05  # from another label
UNIT_CLEAR = 0.05  # from a unit's outline
ARROW_CLEAR = 0.18  # a weight label from its own edge's arrowhead (the target's outline)
COMFORT = 0.4  # clearance beyond which a place is not better


class Obstacle(NamedTuple):
    bounds: Box
    kind: str  # "unit", "link", "head" (an arrowhead), "label"
    index: int  # the unit's or link's index; -1 for a label
    shape: object  # UnitPlace, a path, or a Box


# distance_to's answers for units and edges, kept across layouts: an exam's variants share
# the picture's units and edges, and most of its label sizes, so the same edge is measured
# against the same box again and again. The key is the shapes' own values, so an answer
# is exactly what the measuring would give; the store is emptied when it grows large.
MEASURED: dict[tuple[object, Box], float] = {}
MEASURED_MAX = 50_000


def distance_to(obstacle: Obstacle, box: Box) -> float:
    kind = obstacle.kind
    if kind == "label":
        return box_distance(obstacle.shape, box)  # type: ignore[arg-type]
    key = (obstacle.shape, box)
    found = MEASURED.get(key)
    if found is None:
        if kind == "unit":
            found = unit_box_distance(obstacle.shape, box)  # type: ignore[arg-type]
        else:  # "link" or "head": a path
            found = path_box_distance(obstacle.shape, box)  # type: ignore[arg-type]
        if len(MEASURED) >= MEASURED_MAX:
            MEASURED.clear()
        MEASURED[key] = found
    return found


CLEARANCE = {"unit": UNIT_CLEAR, "link": EDGE_CLEAR, "head": HEAD_CLEAR, "label": LABEL_CLEAR}
REACH = COMFORT + max(ARROW_CLEAR, HEAD_CLEAR)  # the farthest an obstacle can matter to a box


class Grid:
    """Obstacles by the cells of a square grid they pass through, so that a box is
    checked against the few near it, not against every edge of a dense picture."""

    CELL = 0.5

    def __init__(self, obstacles: Iterable[Obstacle] = ()) -> None:
        self.cells: dict[tuple[int, int], list[Obstacle]] = {}
        self.all: list[Obstacle] = []
        # near()'s answers by the cells they cover: the boxes slid along one edge mostly
        # cover the same cells; emptied whenever an obstacle is added
        self.answers: dict[tuple[int, int, int, int], list[Obstacle]] = {}
        for obstacle in obstacles:
            self.add(obstacle)

    def copy(self) -> Grid:
        """A grid of the same obstacles, filed in the same order, to add more to."""
        copied = Grid()
        copied.cells = {key: list(filed) for key, filed in self.cells.items()}
        copied.all = list(self.all)
        return copied

    def add(self, obstacle: Obstacle) -> None:
        self.all.append(obstacle)
        self.answers.clear()
        if obstacle.kind in ("link", "head"):
            keys = path_cells(obstacle.shape)  # type: ignore[arg-type]
        else:
            keys = set(self._box_cells(obstacle.bounds))
        for key in keys:
            self.cells.setdefault(key, []).append(obstacle)

    def near(self, box: Box) -> list[Obstacle]:
        """Every obstacle within REACH of the box (and maybe a few more), in the order
        of the cells (row-major), each once."""
        c = self.CELL
        span = (math.floor((box.x0 - REACH) / c), math.floor((box.x1 + REACH) / c),
                math.floor((box.y0 - REACH) / c), math.floor((box.y1 + REACH) / c))
        found = self.answers.get(span)
        if found is None:
            seen: dict[int, Obstacle] = {}
            cells = self.cells
            for i in range(span[0], span[1] + 1):
                for j in range(span[2], span[3] + 1):
                    for obstacle in cells.get((i, j), ()):
                        seen[id(obstacle)] = obstacle
            found = self.answers[span] = list(seen.values())
        return found

    def _box_cells(self, box: Box) -> Iterable[tuple[int, int]]:
        c = self.CELL
        for i in range(math.floor(box.x0 / c), math.floor(box.x1 / c) + 1):
            for j in range(math.floor(box.y0 / c), math.floor(box.y1 / c) + 1):
                yield i, j

    @staticmethod
    def _segment_cells(a: tuple[float, float], b: tuple[float, float]) -> Iterable[tuple[int, int]]:
        """The cells a segment passes through: row by row, the stretch of x it covers there."""
        c = Grid.CELL
        (x0, y0), (x1, y1) = a, b
        for j in range(math.floor(min(y0, y1) / c), math.floor(max(y0, y1) / c) + 1):
            if y0 == y1:
                xs = (x0, x1)
            else:
                t0 = min(max((j * c - y0) / (y1 - y0), 0.0), 1.0)
                t1 = min(max(((j + 1) * c - y0) / (y1 - y0), 0.0), 1.0)
                xs = (x0 + t0 * (x1 - x0), x0 + t1 * (x1 - x0))
            for i in range(math.floor(min(xs) / c), math.floor(max(xs) / c) + 1):
                yield i, j


@lru_cache(maxsize=4096)
def path_cells(path: tuple[tuple[float, float], ...]) -> tuple[tuple[int, int], ...]:
    """The grid cells a path passes through, in the order Grid.add files it under them
    (a set's). Kept per path: an exam's variants draw the same edges."""
    return tuple({key for a, b in zip(path, path[1:]) for key in Grid._segment_cells(a, b)})


def clearance(box: Box, grid: Grid, skip: tuple[str, int] | None = None, arrow: int = -1) -> float:
    """How far `box` stays clear of the obstacles, beyond the clearance each asks for
    (negative: it overlaps or comes too close). `skip` is the link it sits on; `arrow` the
    unit its own arrowhead points at."""
    worst = COMFORT
    x0, y0, x1, y1 = box  # fields unpacked once: this loop runs a few hundred thousand times
    for obstacle in grid.near(box):
        bounds, kind, index, _ = obstacle
        if skip is not None and kind == skip[0] and index == skip[1]:
            continue
        need = ARROW_CLEAR if kind == "unit" and index == arrow else CLEARANCE[kind]
        margin = need + worst  # bounds.grown(margin).meets(box), unrolled
        if not (bounds[0] - margin < x1 and x0 < bounds[2] + margin
                and bounds[1] - margin < y1 and y0 < bounds[3] + margin):
            continue
        worst = min(worst, distance_to(obstacle, box) - need)
        if worst < 0:
            return worst
    return worst


class Fixed:
    """The units, edges and arrowheads of one picture at one spacing, in their own Grid.

    They are the same in every variant of an exam (only the numbers printed differ), so
    what a label's place keeps from them is worked out once per picture: `places` keeps,
    per edge and label size, the places along the edge clear of them (weight_places in
    diagram_labels). Only the labels, which differ, are measured again."""

    kept = 0  # entries of `places`, all pictures together

    def __init__(self, obstacles: tuple[Obstacle, ...]) -> None:
        self.obstacles = obstacles
        self.grid = Grid(obstacles)
        self.places: dict[tuple[int, int, float, float], tuple[tuple[Box, float, float], ...]] = {}

    def keep(self, key: tuple[int, int, float, float], places: tuple[tuple[Box, float, float], ...]) -> None:
        """Keep an edge's places; every picture's are forgotten when PLACES_MAX edges'
        are kept (an edge has at most 200 places: `along`)."""
        if Fixed.kept >= PLACES_MAX:
            for scene in SCENES.values():
                scene.places.clear()
            self.places.clear()
            Fixed.kept = 0
        self.places[key] = places
        Fixed.kept += 1


# The Fixed of each picture and spacing met, by the obstacles' own values (units and
# paths, so equal pictures share one whatever objects describe them); emptied when full.
SCENES: dict[tuple[Obstacle, ...], Fixed] = {}
SCENES_MAX = 64
PLACES_MAX = 1024  # edges and label sizes kept, all pictures together (a q2 exam keeps about 50)


def fixed_scene(obstacles: Iterable[Obstacle]) -> Fixed:
    """The Fixed of these obstacles, kept from an earlier picture if it had the same."""
    key = tuple(obstacles)
    found = SCENES.get(key)
    if found is None:
        if len(SCENES) >= SCENES_MAX:
            forget_scenes()
        found = SCENES[key] = Fixed(key)
    return found


def forget_scenes() -> None:
    SCENES.clear()
    Fixed.kept = 0


def label_clearance(box: Box, labels: Iterable[Obstacle], worst: float) -> float:
    """clearance() from labels alone, starting from `worst` (the room left by the other
    obstacles; at most COMFORT): the same steps clearance() takes for each label."""
    x0, y0, x1, y1 = box
    for obstacle in labels:
        bounds = obstacle.bounds
        margin = LABEL_CLEAR + worst
        if not (bounds[0] - margin < x1 and x0 < bounds[2] + margin
                and bounds[1] - margin < y1 and y0 < bounds[3] + margin):
            continue
        worst = min(worst, box_distance(obstacle.shape, box) - LABEL_CLEAR)  # type: ignore[arg-type]
        if worst < 0:
            return worst
    return worst


def clear_caches() -> None:
    """Forget every measured distance, grid path and picture (as a new run starts)."""
    MEASURED.clear()
    forget_scenes()
    path_cells.cache_clear()
