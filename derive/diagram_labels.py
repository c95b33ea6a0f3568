"""Where the network diagram's labels go: each unit's label (an input's value, a bias)
beside its unit, and each weight label on its edge, clear of everything else drawn.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, NamedTuple

from .diagram_geometry import OUTER, Box, UnitPlace, along, box_distance
from .diagram_grid import (COMFORT, LABEL_CLEAR, REACH, Fixed, Grid, Obstacle, clearance,
                           label_clearance)
from .diagram_text import PT, Size

if TYPE_CHECKING:
    from .diagram import Unit

WEIGHT_SEP = 0.5 * PT  # weight label: \tiny, inner sep 0.5pt, white fill
NOTE_SEP = 1 * PT  # bias, input value and pooling labels: \scriptsize, inner sep 1pt
STEP = 0.05  # how finely a weight label slides along its edge
SEARCH_BUDGET = 1500  # placements tried per layer before it is drawn unlabelled
SIDES = ("below", "above", "right", "left")
DISTANCES = (0.05, 0.15, 0.3)


def label_box(unit: UnitPlace, side: str, distance: float, size: Size, sep: float) -> Box:
    """The box of a TikZ `label={[label distance=...]side:...}` of the unit."""
    w, h = size.width + 2 * sep, size.height + size.depth + 2 * sep
    gap = 2 * OUTER + distance
    if side == "below":
        top = unit.y - unit.ry - gap
        return Box(unit.x - w / 2, top - h, unit.x + w / 2, top)
    if side == "above":
        bottom = unit.y + unit.ry + gap
        return Box(unit.x - w / 2, bottom, unit.x + w / 2, bottom + h)
    if side == "right":
        left = unit.x + unit.rx + gap
        return Box(left, unit.y - h / 2, left + w, unit.y + h / 2)
    right = unit.x - unit.rx - gap
    return Box(right - w, unit.y - h / 2, right, unit.y + h / 2)


def unit_labels(units: tuple[Unit, ...], bare: list[UnitPlace], label_sizes: tuple[Size | None, ...],
                fixed: Grid, biases: str) -> tuple[list[UnitPlace], int]:
    """Each unit with its label placed, and how many labels found no clear place: an
    input's value on its left; a bias below, above, right or left of its unit ("beside"),
    under the picture ("stacked"), or not in the picture at all ("table")."""
    placed: list[UnitPlace] = list(bare)
    unplaced = 0
    grid = fixed.copy()  # the units and edges; this adds the labels
    bias_labels = [i for i, u in enumerate(units) if u.kind == "neuron" and label_sizes[i] is not None]
    listed = bias_labels if biases == "stacked" else []
    for i, (unit, spot) in enumerate(zip(units, bare)):
        size = label_sizes[i]
        if size is None or (biases != "beside" and i in bias_labels):
            continue
        sides = ("left",) if unit.kind == "input" else SIDES
        options = [(side, d) for d in DISTANCES for side in sides]  # near first, below first
        chosen = next(((side, d) for side, d in options
                       if clearance(label_box(spot, side, d, size, NOTE_SEP), grid) >= 0), None)
        if chosen is None:  # nowhere clear: the least bad place
            unplaced += 1
            chosen = max(options, key=lambda o: clearance(label_box(spot, o[0], o[1], size, NOTE_SEP), grid))
        box = label_box(spot, chosen[0], chosen[1], size, NOTE_SEP)
        placed[i] = spot._replace(side=chosen[0], distance=chosen[1], label=box)
        grid.add(Obstacle(box, "label", -1, box))
    if listed:
        # under the lowest thing drawn, one line per unit in column order
        lowest = min(o.bounds.y0 for o in grid.all)
        top_of: dict[int, float] = {}
        for i in listed:
            size = label_sizes[i]
            assert size is not None
            w, h = size.width + 2 * NOTE_SEP, size.height + size.depth + 2 * NOTE_SEP
            top = top_of.get(units[i].column, lowest - 0.2)
            box = Box(bare[i].x - w / 2, top - h, bare[i].x + w / 2, top)
            top_of[units[i].column] = top - h - LABEL_CLEAR - 0.01
            if clearance(box, grid) < 0:
                unplaced += 1
            placed[i] = bare[i]._replace(side="stacked", label=box)
            grid.add(Obstacle(box, "label", -1, box))
    return placed, unplaced


def weight_places(fixed: Fixed, k: int, path: tuple[tuple[float, float], ...], target: int,
                  w: float, h: float) -> tuple[tuple[Box, float, float], ...]:
    """Each place for a w x h label along edge k (which points at unit `target`) clear of
    the units, edges and arrowheads: (box, room from them, penalty), in order along it.

    Kept in the picture's Fixed: an exam's variants draw the same edges, and most
    labels of one edge have the same size from variant to variant."""
    key = (k, target, w, h)
    found = fixed.places.get(key)
    if found is None:
        places = []
        for x, y, t in along(path, STEP):
            # TikZ centres the whole box on the point, depth included
            box = Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            room = clearance(box, fixed.grid, ("link", k), target)
            if room >= 0:
                # among equally roomy places, the middle of the edge
                places.append((box, room, 0.05 * abs(t - 0.45)))
        found = tuple(places)
        fixed.keep(key, found)
    return found


def weight_options(places: tuple[tuple[Box, float, float], ...], labels: list[Obstacle]) -> list[Option]:
    """The places also clear of the labels, with their room from everything: what
    clearance() gives on one grid of all the obstacles.

    Why it is the same: clearance() is the least of COMFORT and each obstacle's distance
    less its clearance, or a negative number as soon as one obstacle is too close. A
    place is kept only if nothing is too close (fixed or label), and then its room is
    the least over all obstacles, the same in any order (min of floats is exact). Its
    test `grown(need + worst).meets` skips only obstacles at least `worst` beyond their
    clearance, which cannot lower the least. Labels farther than REACH from every place
    are left out here as near() leaves them out (they are beyond any clearance)."""
    if not places:
        return []
    region = Box(min(p[0].x0 for p in places) - REACH, min(p[0].y0 for p in places) - REACH,
                 max(p[0].x1 for p in places) + REACH, max(p[0].y1 for p in places) + REACH)
    near = [o for o in labels if o.bounds.meets(region)]  # the rest are beyond any clearance
    options = []
    for box, room, penalty in places:
        if near:
            room = label_clearance(box, near, room)
        if room >= 0:
            options.append(Option(room, penalty, box))
    return options


def place_layer(layer: list[int], targets: list[int], paths: list[tuple[tuple[float, float], ...]],
                sizes: tuple[Size | None, ...], fixed: Fixed, labels: list[Obstacle]
                ) -> dict[int, Box] | None:
    """A clear place for every weight label of the layer (edges by index into `targets`,
    the unit each points at, and `paths`), or None.

    Each label slides along its own edge; the places clear of units, other edges
    (`fixed`) and the labels already placed are its candidates. The search labels the
    edge with the fewest candidates left first, trying its roomiest places first (room
    from everything drawn and from the labels chosen so far), and backtracks."""
    candidates: dict[int, list[Option]] = {}
    for k in layer:
        size = sizes[k]
        assert size is not None
        w, h = size.width + 2 * WEIGHT_SEP, size.height + size.depth + 2 * WEIGHT_SEP
        candidates[k] = weight_options(weight_places(fixed, k, paths[k], targets[k], w, h), labels)
    # where each edge's places lie: a label chosen elsewhere leaves them all
    reach = {k: Box(min(o.box.x0 for o in opts), min(o.box.y0 for o in opts),
                    max(o.box.x1 for o in opts), max(o.box.y1 for o in opts)) if opts else Box(0, 0, 0, 0)
             for k, opts in candidates.items()}
    budget = [SEARCH_BUDGET]

    def search(chosen: dict[int, Box], left: dict[int, list[Option]]) -> dict[int, Box] | None:
        if not left:
            return chosen
        k = min(left, key=lambda e: (len(left[e]), e))
        for option in spread(ranked(left[k], chosen.values())):
            budget[0] -= 1
            if budget[0] < 0:
                return None
            grown = option.box.grown(LABEL_CLEAR)
            rest = {e: opts if not reach[e].meets(grown) else apart(opts, grown)
                    for e, opts in left.items() if e != k}
            if any(not opts for opts in rest.values()):
                continue
            found = search({**chosen, k: option.box}, rest)
            if found is not None:
                return found
            if budget[0] < 0:
                return None
        return None

    return search({}, candidates)


class Option(NamedTuple):
    room: float  # clearance from units, edges and fixed labels, beyond what is asked
    penalty: float  # how far from the middle of its edge
    box: Box


def apart(options: list[Option], grown: Box) -> list[Option]:
    """The options whose box does not meet `grown` (Box.meets, unrolled: the search
    asks this for every option left after each label it tries)."""
    gx0, gy0, gx1, gy1 = grown
    return [o for o in options
            if not (o.box[0] < gx1 and gx0 < o.box[2] and o.box[1] < gy1 and gy0 < o.box[3])]


def ranked(options: list[Option], chosen: Iterable[Box]) -> list[Option]:
    """Roomiest first, counting the room from the labels chosen so far too (so labels
    spread out rather than bunch up)."""
    chosen = list(chosen)

    def score(option: Option) -> float:
        room = min(option.room, COMFORT)
        if chosen:
            box = option.box
            x0, y0, x1, y1 = box
            for other in chosen:  # other.grown(LABEL_CLEAR + room).meets(box), unrolled
                margin = LABEL_CLEAR + room
                if other[0] - margin < x1 and x0 < other[2] + margin \
                        and other[1] - margin < y1 and y0 < other[3] + margin:
                    room = min(room, box_distance(other, box) - LABEL_CLEAR)
        return room - option.penalty

    return sorted(options, key=lambda o: -score(o))


def spread(options: list[Option], tries: int = 4) -> list[Option]:
    """The best few places, each apart from the ones before (neighbouring places on an
    edge block the same labels, so backtracking tries places that differ)."""
    chosen: list[Option] = []
    for option in options:
        if all(not option.box.meets(other.box) for other in chosen):
            chosen.append(option)
            if len(chosen) == tries:
                break
    return chosen
