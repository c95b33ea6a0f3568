"""The LaTeX diagram: no label overlaps another label, a unit or an edge it does not sit on
(issue 12, item 5).

Two checks of every problem's picture (and of a dense 4-4-4 network, a skip connection
and exam variants):

* from the TikZ the key emits: every coordinate is read back from the LaTeX text, the
  boxes are rebuilt from it (text sizes estimated as derive.diagram does) and intersected
  here, with this module's own geometry;
* from the compiled PDF, independently of the product's geometry: `pdftotext -bbox` gives
  each printed word's box and `pdftocairo -svg` every stroke (edges, arrowheads, unit
  outlines) and the white boxes behind the labels. No two labels' words or boxes
  intersect, no label touches a unit's outline or an arrowhead, and the only line
  through a weight label is the edge it sits on (which passes through its centre); a
  bias label has no line through it at all.
"""
from __future__ import annotations

import math
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NamedTuple

import pytest

from canonical import PROBLEMS, has_maps
from derive.api import solve
from derive.diagram import NORMAL, SCRIPT, TINY, text_size
from derive.exam import make_exam
from derive.render import render
from renderers import require

ROOT = Path(__file__).resolve().parent.parent
CM = 72.27 / 2.54  # TeX points per cm (the PDF's unit is the big point, 72 per inch)
BP_PER_CM = 72 / 2.54

FULL_444 = """\
title: "4-4-4 fully connected"
inputs: {x1: 0.5, x2: -0.25, x3: 0.75, x4: -1.5}
layers:
  - activation: sigmoid
    neurons:
      h1: {bias: -0.35, weights: {x1: -0.53, x2: -0.79, x3: -0.21, x4: 0.44}}
      h2: {bias: 0.3, weights: {x1: -0.87, x2: -0.2, x3: 0.84, x4: -0.12}}
      h3: {bias: -0.22, weights: {x1: 0.53, x2: -0.56, x3: 0.07, x4: 0.91}}
      h4: {bias: 0.43, weights: {x1: -0.65, x2: -0.79, x3: -0.57, x4: 0.18}}
  - activation: sigmoid
    neurons:
      o1: {bias: -0.19, weights: {h1: 0.66, h2: 0.61, h3: 0.6, h4: -0.61}}
      o2: {bias: -0.41, weights: {h1: 0.25, h2: 0.46, h3: 0.71, h4: 0.76}}
      o3: {bias: -0.03, weights: {h1: 0.21, h2: 0.34, h3: 0.01, h4: -0.64}}
      o4: {bias: -0.2, weights: {h1: -0.82, h2: 0.87, h3: 0.73, h4: 0.1}}
targets: {o1: 1, o2: 0, o3: 0, o4: 1}
loss: half_squared_error
learning_rate: 0.5
"""

# a skip connection (x1 -> o) and a sparse layer: a curved edge past the units between
SKIP = """\
title: "skip"
inputs: {x1: 0.5, x2: -0.3}
layers:
  - activation: tanh
    neurons:
      h1: {bias: 0.1, weights: {x1: 0.4, x2: -0.6}}
      h2: {bias: -0.2, weights: {x2: 0.25}}
  - activation: sigmoid
    neurons:
      o: {bias: 0.05, weights: {h1: 0.7, h2: -0.35, x1: 0.15}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.5
"""

EXTRA = {"full_444": FULL_444, "skip": SKIP}
DRAWN = [p for p in PROBLEMS if not has_maps(p)]  # a network of maps has no diagram
EXAM = "q2-exam variant 1"


def key_tex(case: str, tmp_path: Path) -> str:
    if case in EXTRA:
        spec = tmp_path / f"{case}.yaml"
        spec.write_text(EXTRA[case], encoding="utf-8")
        return render(solve(spec), "tex")
    if case == EXAM:
        return render(make_exam(ROOT / "problems" / "q2-exam.yaml", 1, 7).variants[0].solution, "tex")
    return render(solve(ROOT / "problems" / f"{case}.yaml"), "tex")


CASES = [p.stem for p in DRAWN] + list(EXTRA) + [EXAM]


def picture_of(tex: str) -> str:
    start = tex.index("\\begin{tikzpicture}")
    return tex[start:tex.index("\\end{center}", start)]


# --- geometry of this test (independent of derive.diagram's) ------------------------------

class Rect(NamedTuple):
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Rect) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2


def segment_hits_rect(a: tuple[float, float], b: tuple[float, float], r: Rect) -> bool:
    """Does the segment a-b pass through the inside of r? (sampled finely)"""
    steps = max(2, int(math.hypot(b[0] - a[0], b[1] - a[1]) / (0.05 * min(r.x1 - r.x0, r.y1 - r.y0) + 1e-9)))
    steps = min(steps, 4000)
    for n in range(steps + 1):
        x, y = a[0] + (b[0] - a[0]) * n / steps, a[1] + (b[1] - a[1]) * n / steps
        if r.x0 < x < r.x1 and r.y0 < y < r.y1:
            return True
    return False


def polyline_hits_rect(points: list[tuple[float, float]], r: Rect) -> bool:
    return any(segment_hits_rect(points[k], points[k + 1], r) for k in range(len(points) - 1))


def distance_to_polyline(p: tuple[float, float], points: list[tuple[float, float]]) -> float:
    best = math.inf
    for a, b in zip(points, points[1:]):
        dx, dy = b[0] - a[0], b[1] - a[1]
        t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy or 1)))
        best = min(best, math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy))
    return best


def circle_meets_rect(cx: float, cy: float, radius: float, r: Rect) -> bool:
    dx = max(r.x0 - cx, 0.0, cx - r.x1)
    dy = max(r.y0 - cy, 0.0, cy - r.y1)
    return math.hypot(dx, dy) < radius


def cubic(p0, c1, c2, p3, pieces: int = 32) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    out = []
    for k in range(pieces + 1):
        t = k / pieces
        u = 1 - t
        out.append((u ** 3 * p0[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t ** 3 * p3[0],
                    u ** 3 * p0[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t ** 3 * p3[1]))
    return out


# --- 1. the emitted TikZ ------------------------------------------------------------------------

class Shape(NamedTuple):
    x: float
    y: float
    rx: float
    ry: float
    round: bool


class Label(NamedTuple):
    box: Rect
    edge: int | None  # the edge a weight label sits on
    text: str


NODE = re.compile(r"\\node\[(input|unit)(?:, label=\{\[([^\]]*)\](\w+):(.*)\})?\] \(u_(\w+)\) "
                  r"at \((-?[\d.]+)cm, (-?[\d.]+)cm\) \{\$(.*)\$\};$")
NOTE = re.compile(r"\\node\[note, fill=white\] at \((-?[\d.]+)cm, (-?[\d.]+)cm\) \{\$(.*)\$\};$")
WEIGHT = re.compile(r"\\node\[weight\] at \((-?[\d.]+)cm, (-?[\d.]+)cm\) \{\$(.*)\$\};$")
EDGE = re.compile(r"\\draw\[->\] \(u_(\w+)\) (?:--|\.\. controls \((-?[\d.]+)cm, (-?[\d.]+)cm\) "
                  r"and \((-?[\d.]+)cm, (-?[\d.]+)cm\) \.\.) \(u_(\w+)\);$")
PT = 1 / CM


def box_at(x: float, y: float, text: str, size: float, sep: float, math_mode: bool = True) -> Rect:
    s = text_size(text, size, math_mode)
    w, h = s.width + 2 * sep, s.height + s.depth + 2 * sep
    return Rect(x - w / 2, y - h / 2, x + w / 2, y + h / 2)


def emitted(picture: str) -> tuple[dict[str, Shape], list[Label], list[tuple[str, str, list[tuple[float, float]]]]]:
    """Units, labels and edges (as polylines, centre to centre), read from the TikZ."""
    units: dict[str, Shape] = {}
    labels: list[Label] = []
    edges: list[tuple[str, str, list[tuple[float, float]]]] = []
    weights: list[tuple[float, float, str]] = []
    for line in picture.splitlines():
        if m := NODE.match(line):
            kind, options, side, text, name, x, y, symbol = m.groups()
            x, y = float(x), float(y)
            s = text_size(symbol, NORMAL)
            if kind == "input":
                rx = max(0.4, s.width / 2 + 2 * PT)
                ry = max(0.4, (s.height + s.depth) / 2 + 2 * PT)
            else:
                rx = ry = max(0.45, math.hypot(s.width / 2 + PT, (s.height + s.depth) / 2 + PT))
            units[name] = Shape(x, y, rx, ry, kind == "unit")
            if side:
                distance = float(re.search(r"label distance=([\d.]+)cm", options).group(1))  # type: ignore[union-attr]
                math_text = text.startswith("$")
                t = text.strip("$")
                ts = text_size(t, SCRIPT, math_text)
                w, h = ts.width + 2 * PT, ts.height + ts.depth + 2 * PT
                gap = distance + 0.4 * PT
                cx, cy = {"below": (x, y - ry - gap - h / 2), "above": (x, y + ry + gap + h / 2),
                          "right": (x + rx + gap + w / 2, y), "left": (x - rx - gap - w / 2, y)}[side]
                labels.append(Label(Rect(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), None, t))
        elif m := NOTE.match(line):
            labels.append(Label(box_at(float(m.group(1)), float(m.group(2)), m.group(3), SCRIPT, PT), None,
                                m.group(3)))
        elif m := WEIGHT.match(line):
            weights.append((float(m.group(1)), float(m.group(2)), m.group(3)))
        elif m := EDGE.match(line):
            source, c1x, c1y, c2x, c2y, target = m.groups()
            a, b = units[source], units[target]
            if c1x is None:
                edges.append((source, target, [(a.x, a.y), (b.x, b.y)]))
            else:
                c1, c2 = (float(c1x), float(c1y)), (float(c2x), float(c2y))
                # TikZ starts a curve between two nodes where it leaves each outline
                edges.append((source, target, cubic(border(a, c1), c1, c2, border(b, c2))))
        else:
            assert not line.lstrip().startswith(("\\node", "\\draw")), f"unread TikZ line: {line}"
    for x, y, text in weights:
        box = box_at(x, y, text, TINY, 0.5 * PT)
        on = [k for k, (_, _, path) in enumerate(edges) if distance_to_polyline((x, y), path) < 0.01]
        # on no edge, or on a crossing: every edge through it is foreign (and reported)
        labels.append(Label(box, on[0] if len(on) == 1 else None, text))
    return units, labels, edges


def border(unit: Shape, towards: tuple[float, float]) -> tuple[float, float]:
    dx, dy = towards[0] - unit.x, towards[1] - unit.y
    if unit.round:
        scale = unit.rx / math.hypot(dx, dy)
    else:
        scale = min(unit.rx / abs(dx) if dx else math.inf, unit.ry / abs(dy) if dy else math.inf)
    return unit.x + dx * scale, unit.y + dy * scale


def outside(unit: Shape, path: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The part of a centre-to-centre path outside a unit (an edge starts at its border)."""
    def inside(p: tuple[float, float]) -> bool:
        if unit.round:
            return math.hypot(p[0] - unit.x, p[1] - unit.y) < unit.rx
        return abs(p[0] - unit.x) < unit.rx and abs(p[1] - unit.y) < unit.ry
    fine = []
    for a, b in zip(path, path[1:]):
        fine += [(a[0] + (b[0] - a[0]) * n / 50, a[1] + (b[1] - a[1]) * n / 50) for n in range(50)]
    fine.append(path[-1])
    return [p for p in fine if not inside(p)]


def unit_meets(unit: Shape, r: Rect) -> bool:
    if unit.round:
        return circle_meets_rect(unit.x, unit.y, unit.rx, r)
    return Rect(unit.x - unit.rx, unit.y - unit.ry, unit.x + unit.rx, unit.y + unit.ry).overlaps(r)


def emitted_overlaps(picture: str) -> list[str]:
    units, labels, edges = emitted(picture)
    found = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if a.box.overlaps(b.box):
                found.append(f"labels {a.text} and {b.text} overlap")
        for name, unit in units.items():
            if unit_meets(unit, a.box):
                found.append(f"label {a.text} overlaps unit {name}")
        for k, (source, target, path) in enumerate(edges):
            if k != a.edge and polyline_hits_rect(path, a.box):
                found.append(f"label {a.text} is crossed by the edge {source} -> {target}")
    for source, target, path in edges:
        trimmed = outside(units[target], outside(units[source], path))
        for name, unit in units.items():
            if name not in (source, target) and any(
                    (math.hypot(p[0] - unit.x, p[1] - unit.y) < unit.rx) if unit.round else
                    (abs(p[0] - unit.x) < unit.rx and abs(p[1] - unit.y) < unit.ry) for p in trimmed):
                found.append(f"the edge {source} -> {target} runs through unit {name}")
    names = list(units)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ua, ub = units[a], units[b]
            if abs(ua.x - ub.x) < ua.rx + ub.rx and abs(ua.y - ub.y) < ua.ry + ub.ry:
                found.append(f"units {a} and {b} overlap")
    return found


@pytest.mark.parametrize("case", CASES)
def test_emitted_picture_has_no_overlaps(case: str, tmp_path: Path) -> None:
    picture = picture_of(key_tex(case, tmp_path))
    units, labels, edges = emitted(picture)
    assert units and edges
    assert emitted_overlaps(picture) == []


def test_exam_variants_have_no_overlaps() -> None:
    exam = make_exam(ROOT / "problems" / "q2-exam.yaml", 4, 7)
    for variant in exam.variants:
        assert emitted_overlaps(picture_of(render(variant.solution, "tex"))) == []


def test_a_crowded_picture_is_caught() -> None:
    """The check itself: two labels on one spot, a label on a crossing edge."""
    picture = "\n".join([
        r"\node[input] (u_a) at (0.000cm, 1.000cm) {$x_{1}$};",
        r"\node[input] (u_b) at (0.000cm, -1.000cm) {$x_{2}$};",
        r"\node[unit] (u_c) at (3.000cm, 1.000cm) {$a_{1}$};",
        r"\node[unit] (u_d) at (3.000cm, -1.000cm) {$a_{2}$};",
        r"\draw[->] (u_a) -- (u_d);",
        r"\draw[->] (u_b) -- (u_c);",
        r"\node[weight] at (1.500cm, 0.000cm) {$0.4$};",
        r"\node[weight] at (1.350cm, 0.100cm) {$0.21$};",
    ])
    found = emitted_overlaps(picture)
    assert any("labels 0.4 and 0.21 overlap" in f for f in found), found
    assert any("crossed by the edge b -> c" in f for f in found), found


# --- 2. the compiled PDF --------------------------------------------------------------------------

def compile_picture(tex: str, workdir: Path) -> Path:
    """The key's own preamble and picture (and caption), alone on a page."""
    require("pdflatex")
    preamble = tex[:tex.index("\\begin{document}")]
    start = tex.index("\\begin{center}\n\\begin{tikzpicture}")
    block = tex[start:tex.index("\\end{center}", start) + len("\\end{center}")]
    source = preamble + "\\pagestyle{empty}\n\\begin{document}\n" + block + "\n\\end{document}\n"
    (workdir / "picture.tex").write_text(source, encoding="utf-8")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "picture.tex"],
                          cwd=workdir, capture_output=True, text=True, errors="replace", timeout=120)
    pdf = workdir / "picture.pdf"
    assert proc.returncode == 0 and pdf.exists(), proc.stdout[-2000:]
    return pdf


class Stroke(NamedTuple):
    points: list[tuple[float, float]]
    closed: bool
    head: bool  # an arrowhead (TikZ draws its tip with round caps)


def matrix_of(transform: str | None) -> tuple[float, ...]:
    if not transform:
        return (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    m = re.fullmatch(r"\s*matrix\(([^)]*)\)\s*", transform)
    assert m, f"unexpected SVG transform {transform}"
    return tuple(float(v) for v in m.group(1).replace(",", " ").split())


def compose(outer: tuple[float, ...], inner: tuple[float, ...]) -> tuple[float, ...]:
    a, b, c, d, e, f = outer
    a2, b2, c2, d2, e2, f2 = inner
    return (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2,
            a * e2 + c * f2 + e, b * e2 + d * f2 + f)


def path_points(d: str, m: tuple[float, ...]) -> tuple[list[tuple[float, float]], bool]:
    def tr(x: float, y: float) -> tuple[float, float]:
        return m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]
    tokens = re.findall(r"[MLCZ]|-?[\d.]+(?:e-?\d+)?", d)
    points: list[tuple[float, float]] = []
    closed, i, current = False, 0, (0.0, 0.0)
    while i < len(tokens):
        op = tokens[i]
        i += 1
        if op in ("M", "L"):
            current = (float(tokens[i]), float(tokens[i + 1]))
            i += 2
            points.append(tr(*current))
        elif op == "C":
            c = [float(t) for t in tokens[i:i + 6]]
            i += 6
            curve = cubic(current, (c[0], c[1]), (c[2], c[3]), (c[4], c[5]), 16)
            points += [tr(*p) for p in curve[1:]]
            current = (c[4], c[5])
        elif op == "Z":
            closed = True
    return points, closed


def drawn(pdf: Path) -> tuple[list[Stroke], list[Rect]]:
    """Every stroke (page points, y down) and every white-filled box, from pdftocairo's SVG."""
    svg = pdf.with_suffix(".svg")
    subprocess.run(["pdftocairo", "-svg", "-f", "1", "-l", "1", str(pdf), str(svg)], check=True, timeout=60)
    tree = ET.parse(svg)
    strokes: list[Stroke] = []
    whites: list[Rect] = []

    def walk(element: ET.Element, m: tuple[float, ...], in_defs: bool) -> None:
        tag = element.tag.rsplit("}", 1)[-1]
        in_defs = in_defs or tag in ("defs", "symbol", "clipPath", "mask")
        m = compose(m, matrix_of(element.get("transform")))
        if tag == "path" and not in_defs:
            style = element.get("style", "")
            points, closed = path_points(element.get("d", ""), m)
            if points and "fill:rgb(100%,100%,100%)" in style:
                xs, ys = zip(*points)
                whites.append(Rect(min(xs), min(ys), max(xs), max(ys)))
            elif points and "stroke:rgb" in style and "stroke:none" not in style:
                strokes.append(Stroke(points, closed, "stroke-linecap:round" in style))
        for child in element:
            walk(child, m, in_defs)

    walk(tree.getroot(), (1.0, 0.0, 0.0, 1.0, 0.0, 0.0), False)
    return strokes, whites


def words(pdf: Path) -> list[tuple[Rect, str]]:
    out = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(pdf), "-"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return [(Rect(float(a), float(b), float(c), float(d)), text) for a, b, c, d, text in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', out)]


class Outline(NamedTuple):
    rect: Rect
    round: bool

    def meets(self, r: Rect) -> bool:
        if self.round:
            cx, cy = self.rect.centre
            return circle_meets_rect(cx, cy, (self.rect.x1 - self.rect.x0) / 2, r)
        return self.rect.overlaps(r)

    def holds(self, p: tuple[float, float]) -> bool:
        cx, cy = self.rect.centre
        if self.round:
            return math.hypot(p[0] - cx, p[1] - cy) < (self.rect.x1 - self.rect.x0) / 2
        return self.rect.x0 < p[0] < self.rect.x1 and self.rect.y0 < p[1] < self.rect.y1


def pdf_overlaps(pdf: Path) -> tuple[list[str], int]:
    """What overlaps in the compiled picture, and how many labels it found."""
    strokes, whites = drawn(pdf)
    outlines = []
    for s in strokes:
        if s.closed:
            xs, ys = zip(*s.points)
            r = Rect(min(xs), min(ys), max(xs), max(ys))
            cx, cy = r.centre
            radii = [math.hypot(x - cx, y - cy) for x, y in s.points]
            outlines.append(Outline(r, max(radii) - min(radii) < 0.02 * max(radii)))  # a circle
    lines = [s.points for s in strokes if not s.closed and not s.head]
    heads = [s.points for s in strokes if not s.closed and s.head]
    # a label: a white box with the words on it, or a word on its own (an input's value);
    # the words inside a unit are its symbol
    labels: list[list[tuple[Rect, str]]] = [[(w, "")] for w in whites]
    for box, text in words(pdf):
        centre = box.centre
        if any(o.holds(centre) for o in outlines):
            continue
        home = next((label for label, white in zip(labels, whites)
                     if white.x0 <= centre[0] <= white.x1 and white.y0 <= centre[1] <= white.y1), None)
        if home is not None:
            home.append((box, text))
        else:
            labels.append([(box, text)])
    found = []

    def name(label: list[tuple[Rect, str]]) -> str:
        return " ".join(t for _, t in label if t) or "(empty box)"

    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if any(ra.overlaps(rb) for ra, _ in a for rb, _ in b):
                found.append(f"labels {name(a)!r} and {name(b)!r} overlap")
        for o in outlines:
            if any(o.meets(r) for r, _ in a):
                found.append(f"label {name(a)!r} touches a unit")
        if any(polyline_hits_rect(h, r) for h in heads for r, _ in a):
            found.append(f"label {name(a)!r} touches an arrowhead")
        crossing = [line for line in lines if any(polyline_hits_rect(line, r) for r, _ in a)]
        is_weight = len(a) > 1 and not any(t == "=" for _, t in a) and a[0][1] == ""
        if is_weight and len(crossing) == 1 and distance_to_polyline(a[0][0].centre, crossing[0]) < 1.0:
            continue  # the edge the weight label sits on, through its centre
        if crossing:
            found.append(f"label {name(a)!r} is crossed by {len(crossing)} line(s)")
    return found, len(labels)


PDF_CASES = ["q2", "deep_34442", "full_444", "skip"] + [c for c in CASES if c not in
                                                          ("q2", "deep_34442", "full_444", "skip")]


@pytest.mark.parametrize("case", PDF_CASES)
def test_compiled_picture_has_no_overlaps(case: str, tmp_path: Path) -> None:
    require("pdftotext")
    require("pdftocairo")
    tex = key_tex(case, tmp_path)
    pdf = compile_picture(tex, tmp_path)
    found, count = pdf_overlaps(pdf)
    units, labels, _ = emitted(picture_of(tex))
    assert count >= len(labels)  # every label was found (a caption adds words)
    assert found == []


def test_the_pdf_check_sees_the_old_overprinting(tmp_path: Path) -> None:
    """The check itself, on deep_34442 with its weight labels where they were before this
    issue: at fixed fractions of their edges, on top of each other where edges cross."""
    tex = key_tex("deep_34442", tmp_path)
    picture = picture_of(tex)
    _, labels, edges = emitted(picture)
    on = iter([label.edge for label in labels if label.edge is not None])
    lines = []
    for line in picture.splitlines():
        if m := WEIGHT.match(line):
            path = edges[next(on)][2]  # type: ignore[index]
            (ax, ay), (bx, by) = path[0], path[-1]
            line = rf"\node[weight] at ({(ax + bx) / 2:.3f}cm, {(ay + by) / 2:.3f}cm) {{${m.group(3)}$}};"
        lines.append(line)
    crowded = tex.replace(picture, "\n".join(lines) + "\n")
    found, _ = pdf_overlaps(compile_picture(crowded, tmp_path))
    assert any("overlap" in f for f in found) and any("crossed" in f for f in found), found


def test_both_checks_see_q2s_old_bias_label(tmp_path: Path) -> None:
    """The checks themselves, on q2 with b_1^(1) back where it was before this issue
    (right under its unit, where the edge from x3 runs into it)."""
    tex = key_tex("q2", tmp_path)
    moved = re.sub(r"label distance=[\d.]+cm\](\w+):\$b_\{1\}\^\{\(1\)\}",
                   r"label distance=0.00cm]below:$b_{1}^{(1)}", tex)
    assert moved != tex
    assert "label b_{1}^{(1)} = 0.01 is crossed by the edge x3 -> h1" in emitted_overlaps(picture_of(moved))
    found, _ = pdf_overlaps(compile_picture(moved, tmp_path))
    assert any(f.startswith("label '(1) b 1 = 0.01' is crossed") for f in found), found


def test_a_dense_layer_is_drawn_unlabelled_with_a_caption(tmp_path: Path) -> None:
    """deep_34442: where no clear place exists for every weight of a layer, none is
    written on its edges, and the picture says the weights are in the table (which lists
    every weight). The other layers keep their labels."""
    tex = key_tex("deep_34442", tmp_path)
    picture = picture_of(tex)
    solution = solve(ROOT / "problems" / "deep_34442.yaml")
    layout = solution.given.diagram.layout  # type: ignore[union-attr]
    assert layout.unlabelled == (3,)
    assert "The edges into layer 3 are too dense to label: their weights are in the table below." in picture
    labelled = {(e.source, e.target) for e, spot in zip(solution.given.diagram.edges, layout.links)  # type: ignore[union-attr]
                if spot.label is not None}
    assert len(labelled) == picture.count("\\node[weight]") == 52 - 16
    assert all(not target.startswith("h3") for _, target in labelled)
    table = tex[tex.index("\\begin{longtable}"):]
    assert all(f"${w.symbol.name}$" in table for w in solution.given.weights)


def test_biases_go_under_their_column_when_there_is_no_room_beside_a_unit(tmp_path: Path) -> None:
    """In deep_34442's dense layers every edge leaves too little room beside a middle unit
    for its bias label, so each column lists its biases under the picture, in order."""
    picture = picture_of(key_tex("deep_34442", tmp_path))
    listed = [m.groups() for line in picture.splitlines() if (m := NOTE.match(line))]
    assert [text for _, _, text in listed][:4] == [
        "b_{1}^{(1)} = -0.35", "b_{2}^{(1)} = 0.3", "b_{3}^{(1)} = -0.22", "b_{4}^{(1)} = 0.43"]
    tops = [float(y) for _, y, _ in listed[:4]]
    assert tops == sorted(tops, reverse=True)  # top to bottom, as the units
    units, _, _ = emitted(picture)
    assert max(float(y) for _, y, _ in listed) < min(u.y - u.ry for u in units.values())
    # q2 has room: its biases stay beside their units
    assert "below:$b_{2}^{(1)} = 0.01$" in picture_of(key_tex("q2", tmp_path))
