"""Softmax with cross-entropy, iterations, and the choice of backward form."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from oracle import fd_gradients, forward, loss

ROOT = Path(__file__).resolve().parent.parent
SOFTMAX = ROOT / "problems" / "seed003_softmax.yaml"
ITERATED = ROOT / "problems" / "q2_iterations.yaml"
DEEP = ROOT / "problems" / "deep_34442.yaml"


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def key_of(entry: dict) -> tuple:
    return ("weight", entry["from"], entry["to"]) if entry["kind"] == "weight" else ("bias", entry["neuron"])


def test_softmax_output_parameters_have_a_path_through_every_output() -> None:
    key = json.loads(run("solve", str(SOFTMAX), "-f", "json"))
    paths = {key_of(p): len(p["paths"]) for p in key["steps"][0]["parameters"]}
    assert paths[("weight", "h1", "o1")] == 3  # through a_1, a_2 and a_3 of the softmax layer
    assert paths[("weight", "x1", "h1")] == 9  # 3 outputs x 3 softmax factors
    expected = fd_gradients(yaml.safe_load(SOFTMAX.read_text()))
    for entry in key["steps"][0]["parameters"]:
        assert entry["gradient"] == pytest.approx(expected[key_of(entry)], rel=1e-6, abs=1e-9)


def test_softmax_shows_the_simplification_with_its_values() -> None:
    """dL/dz_k = yhat_k - y_k (softmax + cross-entropy, one-hot target), valued from the
    oracle's forward pass, and equal to the bias gradient (dz/db = 1)."""
    spec = yaml.safe_load(SOFTMAX.read_text())
    md = run("solve", str(SOFTMAX))
    assert "simplifies here (softmax with cross-entropy, because the targets sum to 1)" in md
    units = forward(spec)
    grads = fd_gradients(spec)
    for k, name in enumerate(("o1", "o2", "o3"), 1):
        value = units[name][1] - spec["targets"][name]
        assert abs(value - grads[("bias", name)]) < 1e-6
        line = f"\\frac{{\\partial L}}{{\\partial z_{{{k}}}^{{(2)}}}} &= a_{{{k}}}^{{(2)}} - y_{{{k}}}"
        assert line in md


def test_sigmoid_with_binary_cross_entropy_simplifies_too() -> None:
    md = run("solve", str(ROOT / "problems" / "seed002_tanh_bce.yaml"))
    assert "simplifies here (sigmoid with binary cross-entropy)" in md


def test_no_simplification_claimed_for_squared_error() -> None:
    assert "simplifies here" not in run("solve", str(ROOT / "problems" / "q2.yaml"))


def test_iterations_continue_from_the_updated_values() -> None:
    key = json.loads(run("solve", str(ITERATED), "-f", "json"))
    steps = key["steps"]
    assert len(steps) == 3
    spec = yaml.safe_load(ITERATED.read_text())
    overrides: dict = {}
    for before, after in zip(steps, steps[1:]):
        for old, new in zip(before["parameters"], after["parameters"]):
            assert new["value"] == old["updated"]
            overrides[key_of(old)] = old["updated"]
        # the next step's loss and gradients, from the oracle at the updated values
        assert after["loss"] == pytest.approx(loss(spec, overrides), rel=1e-12)
        step_spec = with_values(spec, overrides)
        expected = fd_gradients(step_spec)
        for entry in after["parameters"]:
            assert entry["gradient"] == pytest.approx(expected[key_of(entry)], rel=1e-6, abs=1e-9)
    assert steps[0]["loss"] > steps[1]["loss"] > steps[2]["loss"]  # descending, as it should
    md = run("solve", str(ITERATED))
    assert "## Loss per iteration" in md and md.count("## Iteration ") == 3


def with_values(spec: dict, values: dict) -> dict:
    copy = yaml.safe_load(yaml.safe_dump(spec))
    for layer in copy["layers"]:
        for name, neuron in layer["neurons"].items():
            for source in neuron["weights"]:
                neuron["weights"][source] = values.get(("weight", source, name), neuron["weights"][source])
            neuron["bias"] = values.get(("bias", name), neuron["bias"])
    return copy


def test_deep_network_defaults_to_delta_form_and_says_why() -> None:
    md = run("solve", str(DEEP))
    assert "32 chain-rule paths" in md and "### Delta form" in md
    assert "Gradient of $w_{11}^{(1)}$ (32 paths)" not in md


def test_deep_network_in_paths_form_on_request() -> None:
    md = run("solve", str(DEEP), "--form", "paths")
    assert "Gradient of $w_{11}^{(1)}$ (32 paths)" in md and "### Delta form" not in md


def without_paths(steps: list[dict]) -> list[dict]:
    return [{**step, "parameters": [{k: v for k, v in p.items() if k != "paths"} for p in step["parameters"]]}
            for step in steps]


def test_both_forms_agree() -> None:
    key_paths = json.loads(run("solve", str(DEEP), "-f", "json", "--form", "paths"))
    key_delta = json.loads(run("solve", str(DEEP), "-f", "json", "--form", "delta"))
    # the same numbers; the delta form builds no path, so its key lists no path values
    assert without_paths(key_paths["steps"]) == without_paths(key_delta["steps"])
    assert all(p["paths"] == [] for p in key_delta["steps"][0]["parameters"])
    assert all(len(p["paths"]) >= 1 for p in key_paths["steps"][0]["parameters"])
    md = run("solve", str(DEEP), "--form", "both")
    assert "### Delta form" in md and "(32 paths)" in md


def test_worked_key_in_the_spec_sets_the_form(tmp_path: Path) -> None:
    spec = tmp_path / "q2.yaml"
    spec.write_text((ROOT / "problems" / "q2.yaml").read_text() + "worked: {form: delta}\n")
    assert "### Delta form" in run("solve", str(spec))
    assert "### Delta form" not in run("solve", str(spec), "--form", "paths")


BATCH = ROOT / "problems" / "seed000_batch.yaml"
SEQUENTIAL = ROOT / "problems" / "seed000_sequential.yaml"


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_batch_gradient_is_the_gradient_of_the_combined_loss(reduction: str, tmp_path: Path) -> None:
    """The averaged (summed) gradient equals central finite differences of the mean
    (sum) of the samples' losses, computed by the oracle; then one update."""
    spec_path = tmp_path / "batch.yaml"
    spec_path.write_text(BATCH.read_text().replace("reduction: mean", f"reduction: {reduction}"))
    key = json.loads(run("solve", str(spec_path), "-f", "json"))
    spec = yaml.safe_load(spec_path.read_text())
    expected = fd_gradients(spec)
    batch = key["steps"][-1]["batch"]
    assert batch["reduction"] == reduction
    assert batch["loss"] == pytest.approx(loss(spec), rel=1e-12)
    for entry in batch["parameters"]:
        ref = ("weight", *entry["key"].split("->")) if "->" in entry["key"] else ("bias", entry["key"][2:])
        assert entry["gradient"] == pytest.approx(expected[ref], rel=1e-6, abs=1e-9)
        assert entry["updated"] == pytest.approx(entry["value"] - 0.01 * entry["gradient"], rel=1e-12)
    assert [s["sample"] for s in key["steps"]] == [1, 2, 3]
    assert all(p["updated"] is None for s in key["steps"] for p in s["parameters"])


def test_sequential_mode_updates_after_each_sample() -> None:
    key = json.loads(run("solve", str(SEQUENTIAL), "-f", "json"))
    steps = key["steps"]
    assert [s["sample"] for s in steps] == [1, 2, 3]
    spec = yaml.safe_load(SEQUENTIAL.read_text())
    for number, (before, after) in enumerate(zip(steps, steps[1:]), 2):
        for old, new in zip(before["parameters"], after["parameters"]):
            assert new["value"] == old["updated"]  # the next sample starts from the update
        # the oracle's gradient for this sample alone, at the updated values
        single = {k: v for k, v in spec.items() if k not in ("samples", "reduction")}
        single.update(spec["samples"][number - 1])
        expected = fd_gradients(with_values(single, {key_of(p): p["value"] for p in after["parameters"]}))
        for entry in after["parameters"]:
            assert entry["gradient"] == pytest.approx(expected[key_of(entry)], rel=1e-6, abs=1e-9)


def test_every_key_tables_the_activations_it_uses_with_sympys_derivative() -> None:
    """Seed 004's table: f, f' as SymPy derives it, and the worked form; checked here
    against derivatives written out by hand."""
    md = run("solve", str(ROOT / "problems" / "softplus.yaml"))
    table = md[md.index("### Activations used"):md.index("## 1. Forward pass")]
    rows = [line for line in table.splitlines()
            if line.startswith("| ") and "$" in line and not line.startswith("| activation")]
    assert [row.split("|")[1].strip() for row in rows] == ["softplus", "linear"]
    softplus = rows[0]
    assert r"\log{\left(e^{z} + 1 \right)}" in softplus  # f
    assert r"\frac{e^{z}}{e^{z} + 1}" in softplus  # f' = e^z / (1 + e^z), by hand
    assert r"\frac{1}{1 + e^{- z}}" in softplus  # the worked form: sigma(z)
