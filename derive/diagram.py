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
"""
from __future__ import annotations

import math
import re
from decimal import localcontext
from functools import lru_cache
from typing import Iterable, NamedTuple

from .rounding import WIDE, rounded

PT = 2.54 / 72.27  # a TeX point in cm

# The picture's fonts and boxes (keep in step with the styles in _given.tex.j2).
NORMAL, SCRIPT, TINY = 10.95, 8.0, 6.0  # \normalsize, \scriptsize, \tiny of an 11pt article
UNIT_MIN, UNIT_SEP = 0.9, 1 * PT  # circle: minimum size 9mm, inner sep 1pt
INPUT_MIN, INPUT_SEP = 0.8, 2 * PT  # rounded rectangle: minimum size 8mm, inner sep 2pt
WEIGHT_SEP = 0.5 * PT  # weight label: \tiny, inner sep 0.5pt, white fill
NOTE_SEP = 1 * PT  # bias, input value and pooling labels: \scriptsize, inner sep 1pt
OUTER = 0.2 * PT  # outer sep of every node (half the line width)

# Clearances a label keeps (cm); a PDF viewer's word box is up to 0.6pt (0.02 cm) taller
# than TeX's box, so every clearance is more than that.
EDGE_CLEAR = 0.045  # from an edge it does not sit on
ARROWHEAD = 0.12  # an arrowhead's length along its edge; it is 0.11 cm wide
HEAD_CLEAR = 0.1  # from an arrowhead (the last ARROWHEAD of an edge), its half width and more
LABEL_CLEAR = 0.05  # from another label
UNIT_CLEAR = 0.05  # from a unit's outline
ARROW_CLEAR = 0.18  # a weight label from its own edge's arrowhead (the target's outline)
STEP = 0.05  # how finely a weight label slides along its edge
COMFORT = 0.4  # clearance beyond which a place is not better
TEXT_WIDTH = 16.6  # the widest picture (an A4 page's 17 cm text width, less a margin)
TALLEST = 11.0  # rows are not spread further apart than this picture height
MAX_LABELLED = 48  # a layer with more weights than this is not labelled at all
SEARCH_BUDGET = 1500  # placements tried per layer before it is drawn unlabelled
ROW_SPACINGS = (2.2, 2.8, 3.4)
SIDES = ("below", "above", "right", "left")
BIASES = ("beside", "stacked", "table")  # where bias labels go, best first
DISTANCES = (0.05, 0.15, 0.3)
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



# --- text sizes ---------------------------------------------------------------------------

# Widths in em of Computer Modern at its design size (cmmi10 italic letters, cmr10 digits
# and signs); smaller sizes are relatively wider (cmr6, cmr5), by WIDER.
ITALIC = dict(zip("abcdefghijklmnopqrstuvwxyz",
                  (.53, .43, .44, .52, .47, .5, .48, .58, .35, .42, .53, .3, .88, .6, .49, .51,
                   .45, .46, .47, .37, .58, .49, .72, .58, .5, .47)))
ITALIC.update(dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                       (.75, .76, .72, .83, .74, .65, .79, .84, .45, .56, .85, .69, .97, .81, .77,
                        .65, .8, .76, .62, .59, .69, .59, .95, .83, .59, .69))))
SIGNS = {".": .31, ",": .31, "(": .39, ")": .39, "[": .28, "]": .28, "/": .5, "|": .28,
         ":": .28, ";": .28, "!": .28, "*": .5, "'": .3, "-": .79, "+": .78, "=": .78,
         "<": .78, ">": .78, "~": .5}
BINARY = {"-", "+", r"\times", r"\cdot", r"\pm", r"\mp"}
RELATION = {"=", "<", ">", r"\leq", r"\geq", r"\approx", r"\neq", r"\le", r"\ge"}
TEXT_COMMANDS = {"text", "mathrm", "textrm", "mathit", "mathbf", "mathsf", "mathtt",
                 "operatorname", "textit", "textbf", "boldsymbol", "mathcal", "mathbb"}
ACCENTS = {"hat", "tilde", "bar", "vec", "dot", "ddot", "check", "breve", "acute", "grave",
           "widehat", "widetilde", "overline", "underline", "mathring"}
SPACES = {",": .17, ":": .22, ";": .28, " ": .33, "quad": 1.0, "qquad": 2.0, "!": 0.0}
WIDER = ((5.5, 1.36), (6.5, 1.22), (7.5, 1.14), (8.5, 1.07), (9.5, 1.03))
SCRIPT_OF = {NORMAL: SCRIPT, SCRIPT: TINY, TINY: 5.0, 5.0: 5.0}
ASCENDERS = set("bdfhklt0123456789") | set(ITALIC) - set("abcdefghijklmnopqrstuvwxyz")
DESCENDERS = set("gjpqyf")


class Size(NamedTuple):
    width: float  # cm
    height: float  # above the baseline
    depth: float  # below it


def width_em(size: float) -> float:
    """One em of width in points at font size `size` (smaller sizes are drawn wider)."""
    return size * next((factor for below, factor in WIDER if size < below), 1.0)


@lru_cache(maxsize=4096)  # an exam's variants print the same symbols and many equal labels
def text_size(tex: str, size: float, math_mode: bool = True) -> Size:
    """The estimated box of `tex` (math, or plain text) at font size `size` (points)."""
    tokens = _tokens(tex)
    width, height, depth = _measure(tokens, size, math_mode)
    return Size(width * 1.02 * PT, height * PT, depth * PT)


_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|.", re.DOTALL)


def _tokens(tex: str) -> list[str]:
    return _TOKEN.findall(tex)


def _group(tokens: list[str], i: int) -> tuple[list[str], int]:
    """The argument starting at tokens[i] (a {group} or one token), and the index after it."""
    while i < len(tokens) and tokens[i] == " ":
        i += 1
    if i >= len(tokens):
        return [], i
    if tokens[i] != "{":
        return [tokens[i]], i + 1
    depth, j = 0, i
    while j < len(tokens):
        depth += tokens[j] == "{"
        depth -= tokens[j] == "}"
        if depth == 0:
            return tokens[i + 1:j], j + 1
        j += 1
    return tokens[i + 1:], len(tokens)


def _measure(tokens: list[str], size: float, math_mode: bool, script: bool = False
             ) -> tuple[float, float, float]:
    """(width, height, depth) in points of a token list (`script`: in a sub- or superscript,
    where signs take no spaces)."""
    em = width_em(size)
    width, height, depth = 0.0, 0.0, 0.0
    previous: str | None = None  # the last atom's class: "ord", "bin", "rel", "open"
    atom = (0.0, 0.0, 0.0)  # the last atom's own (width, height, depth), for scripts
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token in ("_", "^"):
            sub: tuple[float, float, float] | None = None
            sup: tuple[float, float, float] | None = None
            while True:  # a base may carry both scripts, in either order
                arg, i = _group(tokens, i)
                measured = _measure(arg, SCRIPT_OF.get(size, 5.0), True, True)
                if token == "_":
                    sub = measured
                else:
                    sup = measured
                if i < len(tokens) and tokens[i] in ("_", "^") and tokens[i] != token:
                    token = tokens[i]
                    i += 1
                    continue
                break
            width += max(sub[0] if sub else 0.0, sup[0] if sup else 0.0) + 0.5
            if sup:
                height = max(height, (0.53 if sub else 0.36) * size + sup[1])
            if sub:
                depth = max(depth, (0.34 if sup else 0.15) * size + sub[2])
            continue
        if token == "'":  # a prime: a superscript
            width += 0.3 * em
            height = max(height, 0.75 * size)
            continue
        if token == "{":
            arg, i = _group(tokens, i - 1)
            atom = _measure(arg, size, math_mode, script)
        elif token == "}" or (token == " " and math_mode):
            continue
        elif token.startswith("\\") and len(token) > 1:
            name = token[1:]
            if name in TEXT_COMMANDS:
                arg, i = _group(tokens, i)
                atom = _measure(arg, size, name not in ("text", "textrm", "textit", "textbf",
                                                        "mathrm", "operatorname"), script)
            elif name in ACCENTS:
                arg, i = _group(tokens, i)
                w, h, d = _measure(arg, size, math_mode, script)
                atom = (w, h + 0.25 * size, d)
            elif name in SPACES:
                width += SPACES[name] * em
                continue
            elif name in ("left", "right", "displaystyle", "textstyle", "scriptstyle", "limits"):
                continue
            elif name in ("frac", "dfrac", "tfrac"):
                top, i = _group(tokens, i)
                bottom, i = _group(tokens, i)
                small = SCRIPT_OF.get(size, 5.0)
                t, b = _measure(top, small, True, True), _measure(bottom, small, True, True)
                atom = (max(t[0], b[0]) + 1.0, 0.5 * size + t[1] + t[2], 0.3 * size + b[1] + b[2])
            else:  # a Greek letter, an operator, a symbol
                atom = (0.78 * em if token in BINARY | RELATION else 0.62 * em, 0.7 * size, 0.2 * size)
        elif token.isdigit():
            atom = (0.5 * em, 0.65 * size, 0.0)
        elif token in SIGNS:
            atom = (SIGNS[token] * em, 0.75 * size if token in "()[]/|" else 0.6 * size,
                    0.25 * size if token in "()[]/|" else (0.14 * size if token == "-" else 0.0))
        elif token.isalpha() and token.isascii():
            w = (ITALIC.get(token, 0.6) + (0.1 if token.isupper() else 0.0)) if math_mode else \
                (0.75 if token.isupper() else 0.53)
            atom = (w * em, (0.7 if token in ASCENDERS else 0.45) * size,
                    0.2 * size if token in DESCENDERS else 0.0)
        elif token == " ":  # a space in text
            width += 0.33 * em
            continue
        else:  # anything else: a wide character
            atom = (0.8 * em, 0.72 * size, 0.2 * size)
        kind = "bin" if token in BINARY else "rel" if token in RELATION else \
            "open" if token in "([" else "ord"
        if math_mode and not script:
            if kind == "rel" and previous is not None:
                width += 2 * 0.278 * em
            elif kind == "bin" and previous == "ord":
                width += 2 * 0.222 * em
            elif kind == "bin":
                kind = "ord"  # a leading (unary) minus
        previous = kind
        width += atom[0]
        height, depth = max(height, atom[1]), max(depth, atom[2])
    return width, height, depth


# --- geometry --------------------------------------------------------------------------------

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


# --- placing ---------------------------------------------------------------------------------

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
    for biases in BIASES:
        placed, unplaced = unit_labels(units, bare, label_sizes, fixed, biases)
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
    grid = Grid(fixed + label_obstacles)
    for column in sorted({units[link.target].column for link in links}):
        layer = [k for k, link in enumerate(links) if units[link.target].column == column
                 and link.label is not None]
        if not layer:
            continue
        found = place_layer(layer, links, paths, weight_sizes, grid) if len(layer) <= MAX_LABELLED else None
        if found is None:
            unlabelled.append(column)
            continue
        for k, box in found.items():
            labels[k] = box
            grid.add(Obstacle(box, "label", -1, box))
    return Layout(tuple(placed), tuple(LinkPlace(p, c, box) for p, c, box in zip(paths, controls, labels)),
                  tuple(unlabelled), column_spacing, row_spacing, unplaced, biases)


def unit_labels(units: tuple[Unit, ...], bare: list[UnitPlace], label_sizes: tuple[Size | None, ...],
                fixed: list[Obstacle], biases: str) -> tuple[list[UnitPlace], int]:
    """Each unit with its label placed, and how many labels found no clear place: an
    input's value on its left; a bias below, above, right or left of its unit ("beside"),
    under the picture ("stacked"), or not in the picture at all ("table")."""
    placed: list[UnitPlace] = list(bare)
    unplaced = 0
    grid = Grid(fixed)
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


def place_layer(layer: list[int], links: tuple[Link, ...], paths: list[tuple[tuple[float, float], ...]],
                sizes: tuple[Size | None, ...], grid: Grid) -> dict[int, Box] | None:
    """A clear place for every weight label of the layer, or None.

    Each label slides along its own edge; the places clear of units, other edges and
    the labels already fixed are its candidates. The search labels the edge with the
    fewest candidates left first, trying its roomiest places first (room from everything
    drawn and from the labels chosen so far), and backtracks."""
    candidates: dict[int, list[Option]] = {}
    for k in layer:
        size = sizes[k]
        assert size is not None
        # TikZ centres the whole box on the point, depth included
        w, h = size.width + 2 * WEIGHT_SEP, size.height + size.depth + 2 * WEIGHT_SEP
        options = []
        for x, y, t in along(paths[k], STEP):
            box = Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            room = clearance(box, grid, ("link", k), links[k].target)
            if room >= 0:
                # among equally roomy places, the middle of the edge
                options.append(Option(room, 0.05 * abs(t - 0.45), box))
        candidates[k] = options
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
            rest = {e: opts if not reach[e].meets(grown) else [o for o in opts if not o.box.meets(grown)]
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


def ranked(options: list[Option], chosen: Iterable[Box]) -> list[Option]:
    """Roomiest first, counting the room from the labels chosen so far too (so labels
    spread out rather than bunch up)."""
    chosen = list(chosen)

    def score(option: Option) -> float:
        room = min(option.room, COMFORT)
        for box in chosen:
            if box.grown(LABEL_CLEAR + room).meets(option.box):
                room = min(room, box_distance(box, option.box) - LABEL_CLEAR)
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
