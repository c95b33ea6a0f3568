"""The diagram layout's fast paths (issue 16) give exactly what the plain computation gives.

* A weight label's candidate places: the places clear of the units and edges are kept per
  picture (diagram_grid.Fixed, diagram_labels.weight_places) and only the labels are
  measured again (weight_options). The reference is the plain way place_layer took
  before: clearance() of every place on one Grid of all the obstacles. Both are also
  checked against distances computed here by sampling (plain geometry).
* Grid.copy() files the obstacles as a new Grid does.
* The search's unrolled box tests (apart, ranked) against Box.grown().meets().
* Whole layouts made with every store full of other pictures against layouts made on
  empty stores, and the stores stay bounded.

Cases: real pictures (the q2 exam's variants, random networks with skip edges, labels of
teacher-like numbers, equal weights) with extra labels put where they matter: touching a
place's clearance exactly, 0.1 cm steps, exact zeros, tiny and huge boxes, far away (a very wide box would make the plain way's grid slow, so none is wider than
8 m).
"""
from __future__ import annotations

import math
import random
from typing import Any

import pytest

from derive import diagram, diagram_grid
from derive.diagram_geometry import Box, UnitPlace, along
from derive.diagram_grid import (COMFORT, LABEL_CLEAR, REACH, Fixed, Grid, Obstacle, clearance,
                                 fixed_scene)
from derive.diagram_labels import STEP, WEIGHT_SEP, Option, apart, ranked, weight_options, weight_places
from test_caches import picture_inputs


# --- the references ------------------------------------------------------------------------

def plain_options(fixed: list[Obstacle], labels: list[Obstacle], k: int,
                  path: tuple[tuple[float, float], ...], target: int, w: float, h: float) -> list[Option]:
    """The candidates as place_layer found them before the fast path: each place along
    the edge, clearance() on one grid of everything."""
    grid = Grid(fixed + labels)
    options = []
    for x, y, t in along(path, STEP):
        box = Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
        room = clearance(box, grid, ("link", k), target)
        if room >= 0:
            options.append(Option(room, 0.05 * abs(t - 0.45), box))
    return options


def sampled_room(box: Box, obstacles: list[Obstacle], k: int, target: int) -> float:
    """Independent of derive: the least distance from each obstacle (paths sampled every
    1/400 of a piece, a round unit as its centre less its radius) less the clearance
    its kind asks, capped at COMFORT."""
    need = {"unit": 0.05, "link": 0.045, "head": 0.1, "label": 0.05}
    room = COMFORT
    for o in obstacles:
        if o.kind == "link" and o.index == k:
            continue
        ask = 0.18 if o.kind == "unit" and o.index == target else need[o.kind]
        if o.kind == "unit":
            unit: UnitPlace = o.shape  # type: ignore[assignment]
            if unit.round:
                d = point_box(unit.x, unit.y, box) - unit.rx
            else:
                d = box_box(unit.box, box)
        elif o.kind == "label":
            d = box_box(o.shape, box)  # type: ignore[arg-type]
        else:
            d = min(point_box(ax + (bx - ax) * s / 400, ay + (by - ay) * s / 400, box)
                    for (ax, ay), (bx, by) in zip(o.shape, o.shape[1:])  # type: ignore[attr-defined]
                    for s in range(401))
        room = min(room, d - ask)
    return room


def point_box(x: float, y: float, box: Box) -> float:
    return math.hypot(max(box[0] - x, 0.0, x - box[2]), max(box[1] - y, 0.0, y - box[3]))


def box_box(a: Any, b: Any) -> float:
    return math.hypot(max(b[0] - a[2], a[0] - b[2], 0.0), max(b[1] - a[3], a[1] - b[3], 0.0))


# --- pictures ------------------------------------------------------------------------------

def random_network(rng: random.Random) -> tuple[tuple[diagram.Unit, ...], tuple[diagram.Link, ...]]:
    """Columns of 1-4 units, every unit linked to the next column, some skip edges;
    labels of teacher-like numbers (equal ones too), exact zeros, long ones."""
    widths = [rng.randint(1, 3)] + [rng.randint(1, 4) for _ in range(rng.randint(1, 3))]
    numbers = ["0", "0.1", "-0.5", "1.25", "0.35", "-0.35", "12.5", "-0.0001", "2", "0.50"]
    units, columns = [], []
    for c, width in enumerate(widths):
        column = []
        for r in range(width):
            kind = "input" if c == 0 else "neuron"
            label = rng.choice(numbers) if c == 0 else f"b_{{{c}{r}}} = {rng.choice(numbers)}"
            column.append(len(units))
            units.append(diagram.Unit(c, r - (width - 1) / 2, f"x_{{{r}}}" if c == 0 else f"h_{{{c}{r}}}",
                                      kind, label if rng.random() < 0.9 else None))
        columns.append(column)
    same = rng.choice(numbers)  # equal weights: equal label sizes
    links = [diagram.Link(a, b, same if rng.random() < 0.4 else rng.choice(numbers))
             for left, right in zip(columns, columns[1:]) for a in left for b in right]
    if len(columns) > 2 and rng.random() < 0.5:
        links.append(diagram.Link(columns[0][0], columns[2][-1], rng.choice(numbers)))
    return tuple(units), tuple(links)


def layer_calls(pictures: list[Any]) -> list[dict[str, Any]]:
    """What place_layer was asked while these pictures were laid out (on empty stores)."""
    calls: list[dict[str, Any]] = []
    original = diagram.place_layer

    def spy(layer: list[int], targets: list[int], paths: list[Any], sizes: Any, fixed: Fixed,
            labels: list[Obstacle]) -> Any:
        calls.append({"layer": list(layer), "targets": list(targets), "paths": list(paths),
                      "sizes": sizes, "fixed": list(fixed.obstacles), "labels": list(labels)})
        return original(layer, targets, paths, sizes, fixed, labels)

    diagram.place_layer = spy  # type: ignore[assignment]
    try:
        for units, links in pictures:
            diagram.clear_caches()
            diagram.lay_out(units, links)
    finally:
        diagram.place_layer = original  # type: ignore[assignment]
    return calls


def extra_labels(call: dict[str, Any], rng: random.Random) -> list[Obstacle]:
    """Labels put where they matter to the layer's places: exactly LABEL_CLEAR from a
    place (room 0), on 0.1 cm steps, at exact zeros, tiny, huge, just beyond REACH."""
    boxes = []
    k = call["layer"][0]
    places = [(x, y) for x, y, _ in along(call["paths"][k], STEP)]
    x, y = rng.choice(places)
    size = call["sizes"][k]
    w = size.width + 2 * WEIGHT_SEP
    right = x + w / 2 + LABEL_CLEAR  # touching the clearance of the place at (x, y)
    boxes.append(Box(right, y - 0.1, right + 0.3, y + 0.1))
    gx, gy = round(x, 1), round(y, 1)
    boxes.append(Box(gx, gy, gx + 0.3, gy + 0.2))
    boxes.append(Box(0.0, 0.0, 0.0, 0.0))
    boxes.append(Box(x, y, x + 1e-12, y + 1e-12))
    boxes.append(Box(-400.0, y - 30.0, 400.0, y - 29.9))  # far below, very wide
    boxes.append(Box(1e8, 1e8, 1e8 + 0.1, 1e8 + 0.1))
    boxes.append(Box(x + w / 2 + REACH, y, x + w / 2 + REACH + 0.2, y + 0.1))
    boxes.append(Box(x - 0.3, y - 0.05, x - 0.2, y + 0.05))  # on the edge: no place there
    chosen = rng.sample(boxes, rng.randint(1, len(boxes)))
    return [Obstacle(b, "label", -1, b) for b in chosen]


@pytest.fixture(scope="module")
def calls() -> list[dict[str, Any]]:
    rng = random.Random(16)
    pictures = picture_inputs(6) + [random_network(rng) for _ in range(14)]
    found = layer_calls(pictures)
    assert len(found) >= 30
    return found


# --- the candidates ---------------------------------------------------------------------------

def check_layer(call: dict[str, Any], labels: list[Obstacle]) -> int:
    """Every edge of the layer: fast candidates == plain ones; returns how many compared."""
    scene = fixed_scene(call["fixed"])
    compared = 0
    for k in call["layer"]:
        size = call["sizes"][k]
        w, h = size.width + 2 * WEIGHT_SEP, size.height + size.depth + 2 * WEIGHT_SEP
        args = (k, call["paths"][k], call["targets"][k], w, h)
        fast = weight_options(weight_places(scene, *args), labels)
        again = weight_options(weight_places(scene, *args), labels)  # from the store
        assert fast == again == plain_options(call["fixed"], labels, *args)
        compared += len(along(call["paths"][k], STEP))
    return compared


def test_candidates_are_the_plain_ones(calls: list[dict[str, Any]]) -> None:
    diagram.clear_caches()
    assert sum(check_layer(call, call["labels"]) for call in calls) > 1000


def test_candidates_for_another_target_are_the_plain_ones(calls: list[dict[str, Any]]) -> None:
    """The same edge and size in the same picture, its arrow clearance asked of another
    unit (the one it starts from, say): the kept places are not the first target's."""
    diagram.clear_caches()
    for call in calls:
        scene = fixed_scene(call["fixed"])
        units = [o.index for o in call["fixed"] if o.kind == "unit"]
        for k in call["layer"]:
            size = call["sizes"][k]
            w, h = size.width + 2 * WEIGHT_SEP, size.height + size.depth + 2 * WEIGHT_SEP
            for target in (call["targets"][k], *units[:3]):
                args = (k, call["paths"][k], target, w, h)
                assert weight_options(weight_places(scene, *args), call["labels"]) == \
                    plain_options(call["fixed"], call["labels"], *args)


def test_candidates_are_the_plain_ones_with_labels_where_they_matter(calls: list[dict[str, Any]]) -> None:
    rng = random.Random(7)
    diagram.clear_caches()
    for call in calls:
        for _ in range(3):
            check_layer(call, call["labels"] + extra_labels(call, rng))


def test_candidates_keep_the_room_the_geometry_gives(calls: list[dict[str, Any]]) -> None:
    """Against sampled distances: every candidate's room is the least room from anything
    (within the sampling's error), every place left out is too close to something."""
    rng = random.Random(3)
    diagram.clear_caches()
    checked = 0
    for call in rng.sample(calls, 8):
        labels = call["labels"] + extra_labels(call, rng)
        scene = fixed_scene(call["fixed"])
        k = rng.choice(call["layer"])
        size = call["sizes"][k]
        w, h = size.width + 2 * WEIGHT_SEP, size.height + size.depth + 2 * WEIGHT_SEP
        target = call["targets"][k]
        options = weight_options(weight_places(scene, k, call["paths"][k], target, w, h), labels)
        kept = {o.box: o.room for o in options}
        for x, y, _ in along(call["paths"][k], STEP):
            box = Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            room = sampled_room(box, call["fixed"] + labels, k, target)
            if box in kept:
                assert kept[box] - 1e-9 <= room <= kept[box] + 0.01  # a sample step at most
                checked += 1
            else:
                assert room < 1e-9
    assert checked > 20


def test_a_picture_is_kept_by_its_values() -> None:
    """Equal obstacles made anew find the same Fixed; one coordinate changed does not."""
    diagram.clear_caches()
    a = UnitPlace(0.0, 0.0, 0.45, 0.45, True, None, 0.0, None)
    path = ((0.5, 0.0), (3.1, 0.0))
    first = [Obstacle(a.box, "unit", 0, a), Obstacle(Box(0.5, 0.0, 3.1, 0.0), "link", 0, path)]
    again = [Obstacle(Box(*a.box), "unit", 0, UnitPlace(*a)),
             Obstacle(Box(0.5, 0.0, 3.1, 0.0), "link", 0, tuple(tuple(p) for p in path))]
    moved = [first[0], Obstacle(Box(0.5, 0.0, 3.2, 0.0), "link", 0, ((0.5, 0.0), (3.2, 0.0)))]
    assert fixed_scene(again) is fixed_scene(first)
    assert fixed_scene(moved) is not fixed_scene(first)


def test_the_stores_stay_bounded() -> None:
    diagram.clear_caches()
    for n in range(diagram_grid.SCENES_MAX + 5):
        path = ((0.0, 0.0), (1.0 + n, 0.0))
        fixed_scene([Obstacle(Box(0.0, 0.0, 1.0 + n, 0.0), "link", 0, path)])
        assert len(diagram_grid.SCENES) <= diagram_grid.SCENES_MAX
    scenes = [fixed_scene([Obstacle(Box(0.0, 0.0, 3.0, 0.0), "link", 0, ((0.0, 0.0), (3.0 + n, 0.0)))])
              for n in range(3)]
    for n in range(diagram_grid.PLACES_MAX + 5):
        scene = scenes[n % 3]
        found = weight_places(scene, 0, ((0.0, 0.0), (3.0, 0.0)), 1, 0.2 + n * 1e-6, 0.1)
        assert found and sum(len(s.places) for s in scenes) <= diagram_grid.PLACES_MAX
        assert weight_places(scene, 0, ((0.0, 0.0), (3.0, 0.0)), 1, 0.2 + n * 1e-6, 0.1) is found
    diagram.clear_caches()
    assert not diagram_grid.SCENES and not diagram.MEASURED


# --- the grid's copy and the search's unrolled tests ------------------------------------------

def test_a_copied_grid_finds_what_a_new_one_finds(calls: list[dict[str, Any]]) -> None:
    rng = random.Random(9)
    for call in calls[:12]:
        built = Grid(call["fixed"])
        copied = built.copy()
        for label in call["labels"]:
            copied.add(label)
        fresh = Grid(call["fixed"] + call["labels"])
        for _ in range(40):
            x, y = rng.uniform(-1, 12), rng.uniform(-6, 6)
            box = Box(x, y, x + rng.uniform(0.0, 0.6), y + rng.uniform(0.0, 0.3))
            assert copied.near(box) == fresh.near(box)
            assert built.near(box) == Grid(call["fixed"]).near(box)  # the original is unchanged
        assert copied.all == fresh.all


def random_options(rng: random.Random, count: int) -> list[Option]:
    """Places on 0.05 cm steps (so boxes touch exactly), equal rooms and penalties."""
    options = []
    for _ in range(count):
        x, y = rng.randrange(-20, 20) * 0.05, rng.randrange(-10, 10) * 0.05
        w, h = rng.choice((0.3, 0.35, 0.05)), rng.choice((0.15, 0.2))
        room = rng.choice((0.0, 0.05, 0.4, 0.1, rng.uniform(0, 0.4)))
        options.append(Option(room, rng.choice((0.0, 0.01, 0.0225)), Box(x, y, x + w, y + h)))
    return options


def plain_ranked(options: list[Option], chosen: list[Box]) -> list[Option]:
    def score(option: Option) -> float:
        room = min(option.room, COMFORT)
        for box in chosen:
            if box.grown(LABEL_CLEAR + room).meets(option.box):
                room = min(room, box_box(box, option.box) - LABEL_CLEAR)
        return room - option.penalty
    return sorted(options, key=lambda o: -score(o))


def test_ranked_and_apart_are_the_plain_tests() -> None:
    rng = random.Random(21)
    for _ in range(300):
        options = random_options(rng, rng.randint(1, 40))
        chosen = [o.box for o in random_options(rng, rng.randint(0, 4))]
        assert ranked(options, chosen) == plain_ranked(options, chosen)
        for box in chosen:
            grown = box.grown(LABEL_CLEAR)
            assert apart(options, grown) == [o for o in options if not o.box.meets(grown)]


# --- whole layouts -----------------------------------------------------------------------------

def laid_out_alone(pictures: list) -> list[diagram.Layout]:
    """Each picture laid out on empty stores."""
    alone = []
    for units, links in pictures:
        diagram.clear_caches()
        alone.append(diagram.lay_out(units, links))
    return alone


def test_a_layout_is_the_same_whatever_was_laid_out_before() -> None:
    """Each picture laid out on empty stores, and again (in the other order, twice) with
    the stores full of every other picture's."""
    rng = random.Random(4)
    pictures = picture_inputs(10) + [random_network(rng) for _ in range(10)]
    alone = laid_out_alone(pictures)
    diagram.clear_caches()
    shared = [diagram.lay_out.__wrapped__(units, links) for units, links in reversed(pictures)]
    shared += [diagram.lay_out.__wrapped__(units, links) for units, links in reversed(pictures)]
    assert shared[:len(pictures)][::-1] == alone == shared[len(pictures):][::-1]
    assert diagram_grid.SCENES  # the stores were used


def test_a_layout_is_the_same_when_the_stores_are_emptied_midway(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores so small that they are emptied while a picture is laid out."""
    rng = random.Random(8)
    pictures = picture_inputs(4) + [random_network(rng) for _ in range(6)]
    alone = laid_out_alone(pictures)
    monkeypatch.setattr(diagram_grid, "PLACES_MAX", 3)
    monkeypatch.setattr(diagram_grid, "SCENES_MAX", 1)
    diagram.clear_caches()
    assert [diagram.lay_out.__wrapped__(units, links) for units, links in pictures] == alone
    assert diagram_grid.Fixed.kept <= 3
    diagram.clear_caches()
