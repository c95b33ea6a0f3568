"""derive on convolutional networks (issue 10), against the independent oracle in
tests/cnn_oracle.py (its own forward and backward pass, itself checked against finite
differences in tests/test_cnn_oracle.py): every forward value, every gradient and
update of the five CNN problems and of random small CNNs (ties, exact zeros, stride,
padding, both poolings, one or two channels, maps as outputs)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from cnn_oracle import forward, gradients, updated
from linecheck import check_markdown, spec_numbers
from test_cnn_oracle import PROBLEM_FILES, random_cnn

from cli import main

TOL = 1e-12


def key_of(spec: dict[str, Any], folder: Path, *options: str) -> dict[str, Any]:
    path = folder / "cnn.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["solve", str(path), "-f", "json", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def oracle_key(entry: dict[str, Any]) -> tuple:
    """The oracle's name for a parameter of derive's JSON key."""
    if entry["kind"] == "kernel":
        return ("kernel", entry["map"], entry["channel"], entry["row"], entry["col"])
    if entry["kind"] == "bias":
        return ("bias", entry["neuron"])
    if "row" in entry:
        return ("weight", entry["from"], entry["row"], entry["col"], entry["to"])
    return ("weight", entry["from"], entry["to"])


def close(a: Any, b: Any) -> bool:
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return abs(float(a) - float(b)) <= TOL * max(1.0, abs(float(b)))


def compare(spec: dict[str, Any], folder: Path) -> None:
    step = key_of(spec, folder)["steps"][0]
    want = forward(spec)
    for name, values in want["forward"].items():
        got = step["forward"][name]
        assert close(got["z"], values["z"]) and close(got["a"], values["a"]), name
    assert close(step["loss"], want["loss"])
    grads, new = gradients(spec), updated(spec)
    shown = {oracle_key(entry): entry for entry in step["parameters"]}
    assert set(shown) == set(grads)
    for key, entry in shown.items():
        assert close(entry["gradient"], grads[key]), (key, entry["gradient"], float(grads[key]))
        assert close(entry["updated"], new[key]), key


@pytest.mark.parametrize("name", PROBLEM_FILES)
def test_cnn_problems_match_the_oracle(name: str, tmp_path: Path) -> None:
    spec = yaml.safe_load((Path(__file__).resolve().parent.parent / "problems" / name).read_text())
    compare(spec, tmp_path)


@pytest.mark.parametrize("seed", range(40))
def test_random_cnns_match_the_oracle(seed: int, tmp_path: Path) -> None:
    compare(random_cnn(seed), tmp_path)


# the path form of the larger two has hundreds of paths per kernel entry: delta form only
LINE_GRID = [(name, policy, form) for name in PROBLEM_FILES for policy in ("exact", "by-hand")
             for form in ("delta", "paths")
             if form == "delta" or name not in ("cnn_seed001.yaml", "cnn_two_channels.yaml")]


@pytest.mark.parametrize("name, policy, form", LINE_GRID)
def test_every_line_of_a_cnn_key_recomputes(name: str, policy: str, form: str) -> None:
    """The line checker of tests/test_lines.py on the CNN keys: a convolution entry is a
    sum of kernel x pixel products, a pooling unit a max or a mean, a kernel's gradient a
    sum over the positions it touched."""
    path = Path(__file__).resolve().parent.parent / "problems" / name
    result = CliRunner().invoke(main, ["solve", str(path), "--rounding", policy, "--form", form,
                                       "--max-paths", "100000"])  # the path form of the smaller three
    assert result.exit_code == 0, result.output
    report = check_markdown(result.stdout, policy, spec_numbers(path.read_text(encoding="utf-8")))
    assert report.checks and not report.failures and not report.unparsed, report.message(10)


EXAMPLE = (Path(__file__).resolve().parent.parent / "problems" / "cnn_example.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("change, where, words", [
    ("{x: [[0.2, -0.1], [0.0, 0.3]]}}", "layers[0].conv.c1", None),  # unchanged: a control
    ("{x: [[0.2, -0.1, 0.5], [0.0, 0.3]]}}", "layers[0].conv.c1.kernel.x", "every row needs the same length"),
    # a 2 x 3 kernel is allowed; it makes c1 3 x 2, p1 2 x 1, and o's 2 x 2 weights from p1 wrong
    ("{x: [[0.2, -0.1, 0.5], [0.0, 0.3, 0.1]]}}", "layers[2].neurons.o.weights.p1", "expected a 2 x 1 matrix"),
    ("{y: [[0.2, -0.1], [0.0, 0.3]]}}", "layers[0].conv.c1.kernel.y", "not a matrix input or a map"),
    ("{x: [[0.2, abc], [0.0, 0.3]]}}", "layers[0].conv.c1.kernel.x[0][1]", "expected a number"),
    ("{x: [[0.2, {uniform: [1, 0]}], [0.0, 0.3]]}}", "layers[0].conv.c1.kernel.x[0][1].uniform", "low < high"),
    ("{x: {uniform: [0, 1]}}}", "layers[0].conv.c1.kernel.x", "needs its shape"),
    ("{x: {uniform: [0, 1], shape: [2]}}}", "layers[0].conv.c1.kernel.x.shape", "expected [rows, columns]"),
])
def test_conv_mistakes_are_located(change: str, where: str, words: str | None, tmp_path: Path) -> None:
    text = EXAMPLE.replace("{x: [[0.2, -0.1], [0.0, 0.3]]}}", change, 1)
    path = tmp_path / "cnn.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["solve", str(path), "-f", "json"])
    if words is None:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    assert f"{path}:" in result.stderr and where in result.stderr and words in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_pool_and_weight_shapes_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "cnn.yaml"
    text = EXAMPLE.replace("size: 2", "size: 4").replace("size:2", "size:4")
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["solve", str(path)])
    assert result.exit_code == 2 and "window does not fit" in result.stderr, result.output


EXAM = EXAMPLE.replace("""  x: [[1, 0, 2, 1],          # a matrix is an image channel; a number stays a scalar input
      [0, 1, 1, 0],
      [2, 1, 0, 1],
      [1, 0, 1, 2]]""", "  x: {uniform: [0, 2], decimals: 0, shape: [4, 4]}").replace(
    "bias: 0.1,", "bias: {uniform: [-0.3, 0.3], decimals: 1},", 1).replace(
    "[[-0.3, 0.1], [0.2, 0.1]]", "[[{choice: [-0.3, 0.3]}, 0.1], [0.2, {uniform: [-0.5, 0.5], decimals: 2}]]", 1)


def test_cnn_exam_variants_draw_images_and_kernels_and_match_the_oracle(tmp_path: Path) -> None:
    """derive exam on a CNN template: each variant's drawn values obey their draws, the
    variants differ, and each variant's key agrees with the oracle on its spec.yaml."""
    assert EXAM.count("uniform") == 3 and "shape: [4, 4]" in EXAM  # the replacements took
    path = tmp_path / "cnn.yaml"
    path.write_text(EXAM, encoding="utf-8")
    out = tmp_path / "e"
    result = CliRunner().invoke(main, ["exam", str(path), "-n", "4", "--seed", "7", "--no-pdf", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    images = set()
    for n in range(1, 5):
        spec = yaml.safe_load((out / f"variant-{n:02d}" / "spec.yaml").read_text(encoding="utf-8"))
        image = spec["inputs"]["x"]
        assert len(image) == 4 and all(len(row) == 4 and all(v in (0, 1, 2) for v in row) for row in image)
        conv = spec["layers"][0]["conv"]
        assert -0.3 <= conv["c1"]["bias"] <= 0.3 and round(conv["c1"]["bias"], 1) == conv["c1"]["bias"]
        assert conv["c2"]["kernel"]["x"][0][0] in (-0.3, 0.3) and -0.5 <= conv["c2"]["kernel"]["x"][1][1] <= 0.5
        images.add(str(image))
        key = json.loads((out / f"variant-{n:02d}" / "key.json").read_text(encoding="utf-8"))
        grads = gradients(spec)
        shown = {oracle_key(entry): entry["gradient"] for entry in key["steps"][0]["parameters"]}
        assert set(shown) == set(grads)
        assert all(close(shown[k], grads[k]) for k in grads)
    assert len(images) > 1
