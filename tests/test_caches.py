"""The caches and fast paths added for speed (issue 16) give exactly what the slow way gives.

Each one is checked against something it does not use itself: PyYAML's pure-Python
emitter and its parser for the libyaml fast path, plain geometry for the measured
distances, a layout made on an empty store for one made on a full one, hand-written
LaTeX for the printer chosen by type, and the uncached softmax row.
"""
from __future__ import annotations

import math
import os
import random
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
import yaml

from derive import diagram
from derive.activations import softmax_row
from derive.exam import exam_template, exam_variants
from derive.latex import tex
from derive.rounding import Given
from derive.spec.draws import FAST_DUMPER, dump_yaml, written_alike

ROOT = Path(__file__).resolve().parent.parent


def pure_yaml(document: object) -> str:
    """The reference: PyYAML's own emitter, as spec_yaml wrote every spec.yaml before."""
    return yaml.dump(document, Dumper=yaml.SafeDumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=None)


def spec_like(title: str, rng: random.Random) -> dict[str, object]:
    """A document shaped like a drawn spec: flow mappings of numbers, nested layers."""
    return {"title": title,
            "inputs": {"x1": round(rng.uniform(-2, 2), 1), "x2": 0.0, "x3": -0.25},
            "layers": [{"activation": "relu",
                        "neurons": {"h1": {"bias": round(rng.uniform(-1, 1), 2),
                                           "weights": {"x1": 0.42, "x2": -0.07, "x3": 1e-7}}}},
                       {"conv": {"k1": {"bias": 0.1, "kernel": {"x": [[1, -2], [0.5, 3]]}}},
                        "stride": 1, "padding": 0, "activation": {"name": "leaky_relu", "slope": 0.01}}],
            "targets": {"o": 1}, "loss": "half_squared_error", "learning_rate": 0.7,
            "asked": [title[:6], "g1->o", "o"], "notation": {"names": {title[-5:] or "n": "a_1"}}}


ODD_TITLES = ["Question 2", "Frage 3 – Übung für Anfänger", "練習問題 2", "Ejercicio: «redes»", " lead",
              "trail ", "a: b # c", "- dash", "'single'", '"double"', "null", "yes", "1.5", "~",
              "{brace} [bracket] & * ! | > ? % @ `", "x" * 150, "word " * 40, "é\u0301 \u00a0nbsp",
              # characters the two emitters write differently: the pure-Python path is taken
              "tab\there", "line\nbreak", "cr\rhere", "emoji 😀 title", "nel\x85", "bom\ufeff",
              "sep\u2028arator", "bell\x07", "\U0001d4b3" * 30]


@pytest.mark.parametrize("title", ODD_TITLES)
def test_spec_yaml_dump_is_pyyamls_byte_for_byte(title: str) -> None:
    document = spec_like(title, random.Random(title))
    written = dump_yaml(document)
    assert written == pure_yaml(document)
    if "\x85" not in title:  # PyYAML itself reads a NEL it wrote back as a space
        assert yaml.safe_load(written) == document  # and it reads back as written


def test_spec_yaml_dump_on_random_text() -> None:
    """Random titles of characters libyaml is used for (wide ones, spaces, quotes, long
    lines that fold), and of characters it is not used for: always PyYAML's bytes."""
    rng = random.Random(16)
    safe = [chr(c) for c in [*range(0x20, 0x7f), *range(0x7f, 0x200), *range(0x2000, 0x2070),
                             0x3000, 0x4e00, 0x9fa5, 0xd7ff, 0xe000, 0xfb01, 0xff01, 0xfffd]]
    unsafe = ["\t", "\n", "\r", "\x00", "\x1b", "\x85", "\u2028", "\u2029", "\ufeff", "\U0001f600"]
    for n in range(1500):
        pool = safe + unsafe if n % 3 == 0 else safe
        title = "".join(rng.choice(pool) for _ in range(rng.randint(0, 140)))
        document = spec_like(title, rng)
        assert dump_yaml(document) == pure_yaml(document), repr(title)


def test_the_fast_path_is_taken_for_wide_titles() -> None:
    """The fast path exists (PyYAML built with libyaml, as in CI) and covers a non-ASCII
    title, so the comparisons above compare two different emitters."""
    if FAST_DUMPER is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PyYAML has no libyaml (yaml.CSafeDumper) in CI")
        pytest.skip("PyYAML was built without libyaml")
    assert written_alike("Frage 3 – Übung, variant 12")
    assert written_alike("Question 2, variant 7")
    assert not written_alike("emoji 😀")
    assert not written_alike("tab\tin ASCII")


# --- the diagram's measured distances ---------------------------------------------------------

def sampled_distance(path: tuple[tuple[float, float], ...], box: diagram.Box) -> float:
    """Plain geometry, independent of derive.diagram: the least distance from points every
    1/4000 of each piece of the path to the box (0 inside it)."""
    best = math.inf
    for (ax, ay), (bx, by) in zip(path, path[1:]):
        for k in range(4001):
            x, y = ax + (bx - ax) * k / 4000, ay + (by - ay) * k / 4000
            dx = max(box.x0 - x, 0.0, x - box.x1)
            dy = max(box.y0 - y, 0.0, y - box.y1)
            best = min(best, math.hypot(dx, dy))
    return best


def test_measured_distances_are_the_geometry() -> None:
    rng = random.Random(5)
    diagram.clear_caches()
    for _ in range(100):
        x, y = rng.uniform(-3, 3), rng.uniform(-3, 3)
        box = diagram.Box(x, y, x + rng.uniform(0.05, 0.8), y + rng.uniform(0.05, 0.4))
        for _ in range(3):  # several edges against one box, as in a layout
            points = tuple((rng.uniform(-4, 4), rng.uniform(-4, 4)) for _ in range(rng.choice((2, 2, 4))))
            obstacle = diagram.Obstacle(diagram.path_bounds(points), "link", 0, points)
            first = diagram.distance_to(obstacle, box)
            again = diagram.distance_to(obstacle, box)  # from the store
            assert again == first
            # the sampled distance is an upper bound within a sample step of the true one
            length = max(math.dist(a, b) for a, b in zip(points, points[1:]))
            assert first - 1e-12 <= sampled_distance(points, box) <= first + length / 4000 + 1e-12


def picture_inputs(count: int) -> list[tuple[tuple[diagram.Unit, ...], tuple[diagram.Link, ...]]]:
    """The units and links of the first `count` variants' diagrams of the q2 exam."""
    captured = []
    original = diagram.lay_out

    def spy(units: tuple[diagram.Unit, ...], links: tuple[diagram.Link, ...]) -> diagram.Layout:
        captured.append((units, links))
        return original(units, links)

    diagram.lay_out = spy  # type: ignore[assignment]
    try:
        for variant in exam_variants(exam_template(ROOT / "problems" / "q2-exam.yaml"), count, 11):
            assert variant.solution.given.diagram is not None
            variant.solution.given.diagram.layout  # noqa: B018 (asks for the layout)
    finally:
        diagram.lay_out = original  # type: ignore[assignment]
    return captured


def test_a_layout_is_the_same_whatever_was_measured_before() -> None:
    """Each variant's picture laid out on an empty store of distances, and again (in the
    other order) with the store full of every other variant's measurements."""
    pictures = picture_inputs(8)
    alone = []
    for units, links in pictures:
        diagram.clear_caches()
        alone.append(diagram.lay_out.__wrapped__(units, links))
    diagram.clear_caches()
    shared = [diagram.lay_out.__wrapped__(units, links) for units, links in reversed(pictures)]
    assert shared[::-1] == alone
    assert len(diagram.MEASURED) > 0


def test_the_store_of_distances_stays_bounded() -> None:
    diagram.clear_caches()
    box = diagram.Box(0.0, 0.0, 0.1, 0.1)
    for k in range(diagram.MEASURED_MAX + 10):
        path = ((1.0 + k, 0.0), (1.0 + k, 1.0))
        assert diagram.distance_to(diagram.Obstacle(diagram.path_bounds(path), "link", 0, path), box) == \
            pytest.approx(math.hypot(0.9 + k, 0.0))
    assert len(diagram.MEASURED) <= diagram.MEASURED_MAX
    diagram.clear_caches()


# --- the LaTeX printer chosen by type -----------------------------------------------------------

def test_tex_chooses_the_printer_by_type_as_before() -> None:
    # docs/spec.md, "Numbers": computed values show at least 3 significant figures
    assert tex(Fraction(-1, 4), 2) == "-0.250"
    assert tex(1) == "1"
    with pytest.raises(TypeError, match="bool"):  # a bool is no number, after an int or not
        tex(True)
    assert tex(Given(Fraction(3, 10))) == "0.3"  # a Fraction subclass: a number
    assert tex(0.5, 1) == "0.500"
    assert tex(sympy.Symbol("w_{11}^{(1)}")) == "w_{11}^{(1)}"
    with pytest.raises(TypeError, match="object"):
        tex(object())
    with pytest.raises(TypeError, match="bool"):
        tex(False)


def test_softmax_row_kept_per_width_is_the_fresh_one() -> None:
    for width in (1, 2, 3, 5):
        fresh = softmax_row.__wrapped__(width)
        assert softmax_row(width) == fresh
        assert softmax_row(width) is softmax_row(width)
