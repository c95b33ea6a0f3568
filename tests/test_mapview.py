"""The maps a CNN key shows as matrices (derive/mapview.py), read back from the printed
Markdown key and checked against the independent oracle in tests/cnn_oracle.py (exact
Fractions: a tie in a pooling window is a real tie there):

* each pooled source map marks (boxes) exactly the first maximum of every window, and
  the key names every tie, and only ties;
* the routed map dL/dC and the delta map agree with the oracle's dL/da and dL/dz to
  the printed digits, and nothing flows to an entry no window took;
* the kernel gradient printed as a matrix (the compact form X * delta) holds the same
  numbers as the sums over positions printed entry by entry above it, and equals the
  cross-correlation, computed here, of the printed image with the printed delta map.
"""
from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from cnn_oracle import deltas, forward
from linecheck import display_blocks, statements

from cli import main

PROBLEMS = Path(__file__).resolve().parent.parent / "problems"
CNN_PROBLEMS = sorted(p.name for p in PROBLEMS.glob("cnn_*.yaml"))
SENTENCE = re.compile(r"^(Image channel|Kernel of|Map|What flows back into each entry of|"
                      r"The delta map of|The gradient of the kernel of) (\S+?)(?: on (\S+?))?[ :,]")
MATRIX = re.compile(r"\\left\[\\begin\{matrix\}(.*?)\\end\{matrix\}\\right\]")


def key_text(name: str, policy: str = "exact", digits: int = 4) -> str:
    result = CliRunner().invoke(main, ["solve", str(PROBLEMS / name), "-f", "md", "--form", "delta",
                                       "--rounding", policy, "--digits", str(digits)])
    assert result.exit_code == 0, result.output
    return result.stdout


def cell(text: str) -> tuple[Fraction, bool, Fraction]:
    """(value, boxed, unit of the last shown digit) of one printed matrix entry."""
    text = text.strip()
    boxed = text.startswith(r"\boxed{")
    text = text.removeprefix(r"\boxed{").removesuffix("}") if boxed else text
    found = re.fullmatch(r"(-?\d+(?:\.(\d+))?)(?: \\times 10\^\{(-?\d+)\})?", text.strip())
    assert found, f"not a number: {text!r}"
    scale = Fraction(10) ** int(found[3] or 0)
    unit = Fraction(1, 10 ** len(found[2] or "")) * scale
    return Fraction(found[1]) * scale, boxed, unit


def shown_maps(markdown: str) -> dict[tuple[str, str], list[list[tuple[Fraction, bool, Fraction]]]]:
    """{(sentence kind, name): matrix} for every matrix the key introduces with a sentence;
    a kernel's name is "c1 on x"."""
    found = {}
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        head = SENTENCE.match(line)
        if not head:
            continue
        block = next(text for text in lines[i + 1:] if text.startswith("$$"))
        body = MATRIX.search(block)
        assert body, block
        name = head[2] + (f" on {head[3]}" if head[3] else "")
        kind = head[1] + (" (boxed)" if "boxed" in line else "")
        found[(kind, name)] = [[cell(entry) for entry in row.split("&")] for row in body[1].split(r"\\")]
    return found


def spec_of(name: str) -> dict[str, Any]:
    return yaml.safe_load((PROBLEMS / name).read_text(encoding="utf-8"))


def layers_by_map(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m: layer for layer in spec["layers"] for key in ("conv", "pool") for m in layer.get(key, {})}


def close_to_shown(exact: Any, shown: tuple[Fraction, bool, Fraction]) -> bool:
    """Whether `exact` (a Fraction or an mpf) rounds to the shown value: within half a
    unit of its last digit (and a hair for the rounding of the oracle's mpf)."""
    return abs(Fraction(str(exact)) - shown[0]) <= shown[2] / 2 + Fraction(1, 10**20)


@pytest.mark.parametrize("name", CNN_PROBLEMS)
def test_boxed_entries_are_each_windows_first_maximum_and_ties_are_named(name: str) -> None:
    spec, text = spec_of(name), key_text(name)
    maps, exact = shown_maps(text), forward(spec)["forward"]
    pools = [(m, layer) for layer in spec["layers"] if "pool" in layer and layer.get("kind", "max") == "max"
             for m in layer["pool"]]
    ties = set(re.findall(r"Tie in window (\S+?)\\\[(\d+),(\d+)\\\]", text))
    expected_ties = set()
    for pooled, layer in pools:
        source = layer["pool"][pooled]["from"]
        size, stride = layer["size"], layer.get("stride", layer["size"])
        values = exact[source]["a"]
        chosen = set()
        for g in range(len(exact[pooled]["a"])):
            for h in range(len(exact[pooled]["a"][0])):
                window = [(g * stride + m, h * stride + n) for m in range(size) for n in range(size)]
                top = max(values[r][c] for r, c in window)
                first = next(p for p in window if values[p[0]][p[1]] == top)
                chosen.add(first)
                if sum(values[r][c] == top for r, c in window) > 1:
                    expected_ties.add((pooled, str(g + 1), str(h + 1)))
        printed = maps[("Map (boxed)", source)]
        boxed = {(r, c) for r, row in enumerate(printed) for c, entry in enumerate(row) if entry[1]}
        assert boxed == chosen, (pooled, sorted(boxed), sorted(chosen))
    assert ties == expected_ties


@pytest.mark.parametrize("policy", ["exact", "by-hand"])
@pytest.mark.parametrize("name", CNN_PROBLEMS)
def test_routed_and_delta_maps_match_the_oracle(name: str, policy: str) -> None:
    spec = spec_of(name)
    maps, want = shown_maps(key_text(name, policy)), deltas(spec)
    checked = 0
    for (kind, map_name), printed in maps.items():
        if kind not in ("What flows back into each entry of", "The delta map of"):
            continue
        exact = want[map_name]["da" if kind.startswith("What") else "dz"]
        for r, row in enumerate(printed):
            for c, entry in enumerate(row):
                if policy == "exact":  # by hand, each shown delta is worked from shown numbers
                    assert close_to_shown(exact[r][c], entry), (kind, map_name, r + 1, c + 1)
                if exact[r][c] == 0 and kind.startswith("What"):
                    assert entry[0] == 0  # nothing flows there: an exact 0, not a small number
                checked += 1
    assert checked > 0


@pytest.mark.parametrize("policy", ["exact", "by-hand"])
@pytest.mark.parametrize("name", CNN_PROBLEMS)
def test_compact_kernel_gradient_equals_the_sum_over_positions(name: str, policy: str) -> None:
    spec, text = spec_of(name), key_text(name, policy)
    maps = shown_maps(text)
    layers = layers_by_map(spec)
    sums = {}  # kernel entry symbol -> the value its sum over positions ends on
    for math, _ in display_blocks(text):
        for statement in statements(math):
            head = re.match(r"\\frac\{\\partial L\}\{\\partial (k\S*?\[\d+,\d+\])\}", statement)
            if head:
                sums[head[1]] = statement.rsplit("=", 1)[1].strip()
    compact = [(key, m) for key, m in maps.items() if key[0] == "The gradient of the kernel of"]
    assert compact
    for (_, about), printed in compact:
        conv, channel = about.split(" on ")
        layer = layers[conv]
        stride, padding = layer.get("stride", 1), layer.get("padding", 0)
        image = maps[("Image channel", channel)] if ("Image channel", channel) in maps else None
        delta = maps[("The delta map of", conv)]
        block = re.search(r"\$\$\\frac\{\\partial L\}\{\\partial (k\S*?)\} = \S+ \\star",
                          text[text.index(f"The gradient of the kernel of {about}"):])
        symbol = block[1]
        for m, row in enumerate(printed, 1):
            for n, entry in enumerate(row, 1):
                line_value = cell(sums[f"{symbol}[{m},{n}]"])
                assert line_value[0] == entry[0], (about, m, n)  # the same number, printed twice
                if image is None:
                    continue  # a channel that is itself a map: its matrix is printed in the forward pass
                # the cross-correlation of the printed image with the printed delta map
                total, bound = Fraction(0), entry[2] / 2
                for g, delta_row in enumerate(delta):
                    for h, d in enumerate(delta_row):
                        r, c = g * stride + m - 1 - padding, h * stride + n - 1 - padding
                        if 0 <= r < len(image) and 0 <= c < len(image[0]):
                            total += image[r][c][0] * d[0]
                            bound += abs(image[r][c][0]) * d[2] / 2
                assert abs(total - entry[0]) <= bound, (about, m, n, float(total), float(entry[0]))


LARGE = """
title: "An 8 x 8 image"
inputs:
  x: [[1, 0, 2, 1, 0, 1, 2, 0], [0, 1, 1, 0, 2, 0, 1, 1], [2, 1, 0, 1, 1, 1, 0, 2], [1, 0, 1, 2, 0, 0, 1, 1],
      [0, 2, 1, 0, 1, 2, 2, 0], [1, 1, 0, 1, 0, 1, 0, 1], [2, 0, 1, 1, 2, 0, 1, 0], [0, 1, 2, 0, 1, 1, 0, 2]]
layers:
  - conv:
      c1: {bias: 0.1, kernel: {x: [[0.2, -0.1, 0.0], [0.0, 0.3, 0.1], [-0.2, 0.1, 0.2]]}}
    activation: relu
  - pool: {p1: {from: c1}}
    kind: max
    size: 2
  - activation: sigmoid
    neurons:
      o: {bias: 0.05, weights: {p1: [[0.4, -0.2, 0.1], [0.1, 0.3, -0.3], [0.2, 0.0, 0.1]]}}
targets: {o: 1}
loss: binary_cross_entropy
learning_rate: 0.1
"""


def test_a_large_map_is_worked_at_one_entry_and_shown_whole(tmp_path: Path) -> None:
    """A 6 x 6 conv map (36 entries, past 4 x 4): one entry worked, every entry in its
    matrix (to the oracle's values) and in the JSON key; the 3 x 3 pooled map is worked."""
    path = tmp_path / "large.yaml"
    path.write_text(LARGE, encoding="utf-8")
    spec = yaml.safe_load(LARGE)
    result = CliRunner().invoke(main, ["solve", str(path), "-f", "md"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert re.findall(r"Neuron (c1\S*):", text) == [r"c1\[1,1\]"]
    assert len(re.findall(r"Neuron p1\S*:", text)) == 9
    exact = forward(spec)["forward"]
    printed = shown_maps(text)[("Map (boxed)", "c1")]
    assert len(printed) == 6 and all(len(row) == 6 for row in printed)
    assert all(close_to_shown(exact["c1"]["a"][r][c], printed[r][c]) for r in range(6) for c in range(6))
    key = CliRunner().invoke(main, ["solve", str(path), "-f", "json"])
    step = json.loads(key.stdout)["steps"][0]
    assert len(step["forward"]["c1"]["a"]) == 6 and all(len(row) == 6 for row in step["forward"]["c1"]["a"])
    sheet = CliRunner().invoke(main, ["worksheet", str(path), "-f", "md"]).stdout
    assert "The other entries of map c1, as a matrix" in sheet
