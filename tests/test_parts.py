"""Several parts on one network (issue 13, item 5; seed 002): `parts:` works the spec once
per part, each with its own loss, learning rate or targets, in one document.

The oracles never see derive's reader: each part's spec is made here from the YAML
(yaml.safe_load, or exact_oracle.load_exact for exact fractions) by applying the part's
overrides to the spec's own keys, then solved by tests/exact_oracle.py (exact / 60
digits) and by tests/oracle.py's sympy.diff of the composed loss; a small network's
parts are also checked against derivatives worked by hand below.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft7Validator

import exact_oracle
import oracle
from canonical import DENSE_PROBLEMS, PARTS, PROBLEMS, SINGLE_SAMPLE
from cli import main
from derive.api import solve
from derive.errors import SpecError
from derive.render import render
from derive.schema import schema
from derive.spec import parse_spec

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "problems" / "seed002_two_parts.yaml"
OVERRIDES = ("loss", "learning_rate", "targets")

# a teacher-sized network: one sigmoid output on one input, z = 0.5 * 2 + 0 = 1 exactly, and
# three parts: (a) the spec's half squared error, (b) cross-entropy with its own rate, (c) the
# squared error towards another target
SMALL = """\
title: "One neuron, three losses"
inputs: {x: 2}
layers:
  - activation: sigmoid
    neurons:
      o: {bias: 0, weights: {x: 0.5}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.5
parts:
  - {title: "Half squared error"}
  - {title: "Cross-entropy", loss: binary_cross_entropy, learning_rate: 0.1}
  - {label: c, loss: squared_error, targets: {o: 0.25}}
"""


def part_dicts(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, the part's spec) for each part: the spec without `parts`, the part's
    overrides in place; a part without a label is a, b, c, ... by its place."""
    base = {key: value for key, value in spec.items() if key != "parts"}
    made = []
    for i, part in enumerate(spec["parts"]):
        label = part.get("label", "abcdefghij"[i])
        made.append((label, {**base, **{key: part[key] for key in OVERRIDES if key in part}}))
    return made


def key_of(path: Path | str, text: str | None = None) -> dict[str, Any]:
    return json.loads(render(solve(path) if text is None else solve_text(text, path), "json"))


def solve_text(text: str, tmp_path: Path | str) -> Any:
    spec = Path(tmp_path) / "spec.yaml" if Path(tmp_path).is_dir() else Path(tmp_path)
    spec.write_text(text, encoding="utf-8")
    return solve(spec)


def oracle_key(entry: dict[str, Any]) -> tuple[str, ...]:
    """A JSON key parameter as the oracles name it."""
    if entry["kind"] == "bias":
        return ("bias", entry["neuron"])
    return ("weight", entry["from"], entry["to"])


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(b))


# --- every problem with parts, part by part, against the oracles ----------------------------

CASES = [pytest.param(problem, label, id=f"{problem.stem}-{label}")
         for problem in PARTS
         for label, _ in part_dicts(yaml.safe_load(problem.read_text(encoding="utf-8")))]


def test_the_seed_problem_is_a_problem_with_parts() -> None:
    """It runs through the problem-wide tests (goldens, PDFs, KaTeX/MathJax, line checks,
    task numbers, worksheets: PROBLEMS), and here part by part, not through the oracles of
    a one-loss spec (SINGLE_SAMPLE, DENSE_PROBLEMS)."""
    assert SEED in PROBLEMS and SEED in PARTS
    assert SEED not in SINGLE_SAMPLE and SEED not in DENSE_PROBLEMS
    assert "Seed 002" in SEED.read_text(encoding="utf-8").splitlines()[0]
    assert len(CASES) >= 2


@pytest.mark.parametrize("problem, label", CASES)
def test_each_part_is_its_spec_by_the_exact_oracle(problem: Path, label: str) -> None:
    """Forward values, loss, every gradient and update of the part's steps against the exact
    oracle (fractions, 60 digits) for the spec with the part's keys put in by the test."""
    text = problem.read_text(encoding="utf-8")
    spec = dict(part_dicts(exact_oracle.load_exact(text)))[label]
    expected = exact_oracle.exact_solve(spec)
    step = next(s for s in key_of(problem)["steps"] if s["part"] == label)
    for unit, (z, a) in expected.forward.items():
        assert relative(step["forward"][unit]["z"], float(z)) < 1e-12, unit
        assert relative(step["forward"][unit]["a"], float(a)) < 1e-12, unit
    assert relative(step["loss"], float(expected.loss)) < 1e-12
    assert {oracle_key(p) for p in step["parameters"]} == set(expected.gradients)
    for entry in step["parameters"]:
        key = oracle_key(entry)
        assert relative(entry["gradient"], float(expected.gradients[key])) < 1e-12, key
        assert relative(entry["updated"], float(expected.updated[key])) < 1e-12, key


@pytest.mark.parametrize("problem, label", CASES)
def test_each_part_is_its_spec_by_sympy_diff(problem: Path, label: str) -> None:
    """The gradients again, by sympy.diff of the part's whole composed loss."""
    spec = dict(part_dicts(yaml.safe_load(problem.read_text(encoding="utf-8"))))[label]
    expected = oracle.sympy_gradients(spec)
    step = next(s for s in key_of(problem)["steps"] if s["part"] == label)
    for entry in step["parameters"]:
        assert relative(entry["gradient"], expected[oracle_key(entry)]) < 1e-9, oracle_key(entry)


def test_the_seed_parts_differ_only_after_the_forward_pass() -> None:
    """Seed 002: part (a) (half squared error) and part (b) (cross-entropy) share the
    forward pass and the learning rate; at the sigmoid output the cross-entropy's delta
    is a - y, the squared error's (a - y) a (1 - a), so the output weights' gradients differ
    by the factor a (1 - a) exactly (worked here from the key's own forward values)."""
    key = key_of(SEED)
    a_step, b_step = (next(s for s in key["steps"] if s["part"] == label) for label in "ab")
    assert a_step["forward"] == b_step["forward"]
    a = a_step["forward"]["o"]["a"]
    assert key["learning_rate"] == 0.7 and [p["learning_rate"] for p in key["parts"]] == [0.7, 0.7]
    assert [p["loss"] for p in key["parts"]] == ["half_squared_error", "binary_cross_entropy"]
    assert math.isclose(a_step["loss"], 0.5 * (a - 1) ** 2, rel_tol=1e-13)
    assert math.isclose(b_step["loss"], -math.log(a), rel_tol=1e-13)
    gradients = {(p["from"] if p["kind"] == "weight" else "b", p["to"] if p["kind"] == "weight" else p["neuron"]):
                 (p["gradient"], q["gradient"]) for p, q in zip(a_step["parameters"], b_step["parameters"])}
    for source in ("g1", "g2", "b"):
        squared, cross = gradients[(source, "o")]
        assert math.isclose(squared, cross * a * (1 - a), rel_tol=1e-12), source


# --- a small network worked by hand -----------------------------------------------------------

def test_three_parts_of_one_neuron_by_hand(tmp_path: Path) -> None:
    """z = 0.5 * 2 + 0 = 1, a = sigma(1); dz/dw = x = 2, dz/db = 1:
    (a) L = (a - 1)^2 / 2:  dL/dz = (a - 1) a (1 - a), eta 0.5;
    (b) L = -log a:         dL/dz = a - 1, eta 0.1;
    (c) L = (a - 0.25)^2:   dL/dz = 2 (a - 0.25) a (1 - a), eta 0.5 (the spec's)."""
    a = 1 / (1 + math.exp(-1))
    delta = {"a": (a - 1) * a * (1 - a), "b": a - 1, "c": 2 * (a - 0.25) * a * (1 - a)}
    eta = {"a": 0.5, "b": 0.1, "c": 0.5}
    loss = {"a": (a - 1) ** 2 / 2, "b": -math.log(a), "c": (a - 0.25) ** 2}
    key = key_of(tmp_path, SMALL)
    assert [p["label"] for p in key["parts"]] == ["a", "b", "c"] and key["learning_rate"] is None
    assert key["parts"][2]["targets"] == {"o": 0.25}
    for step in key["steps"]:
        label = step["part"]
        assert math.isclose(step["loss"], loss[label], rel_tol=1e-13)
        weight, bias = step["parameters"]
        assert math.isclose(weight["gradient"], delta[label] * 2, rel_tol=1e-13)
        assert math.isclose(bias["gradient"], delta[label], rel_tol=1e-13)
        assert math.isclose(weight["updated"], 0.5 - eta[label] * delta[label] * 2, rel_tol=1e-13)
        assert math.isclose(bias["updated"], 0 - eta[label] * delta[label], abs_tol=1e-15)


# --- the documents ----------------------------------------------------------------------------

def test_the_key_shows_the_shared_values_once_and_each_part_in_turn() -> None:
    solution = solve(SEED)
    md = render(solution, "md")
    assert md.count("| weight | connection | value |") == 1  # the given values, once
    assert md.count("Learning rate: $\\alpha = 0.7$") == 1  # shared: both parts use 0.7
    assert md.count("### Activations used") == 1  # alike in both parts: shown once
    a, b = md.index("# Part (a): Squared error"), md.index("# Part (b): Cross\\-entropy")
    assert md.index("## Given") < a < b
    part_a, part_b = md[a:b], md[b:]
    for part in (part_a, part_b):  # each its own loss, backward pass, updates and summary
        for heading in ("## 1. Forward pass", "## 2. Loss", "## 3. Backward pass", "## 4. Updates", "## 5. Summary"):
            assert part.count(heading) == 1, heading
    assert "Loss (half squared error)" in part_a and "Loss (binary cross-entropy)" in part_b
    # the forward pass is worked in part (a) and referred to in part (b)
    assert part_a.count("Neuron ") == 5 and "Neuron " not in part_b
    assert "As in part (a): the forward pass does not depend on the loss" in part_b
    assert set(re.findall(r"\*\*(\w+)\.1\.\d+\*\*", md)) == {"a"}
    assert re.findall(r"#### ([ab])\.3\.1 Gradient", md) == ["a", "b"]
    assert "(b.4.1)" in md and "(a.4.1)" in md


def test_the_worksheet_asks_each_part_under_its_heading() -> None:
    sheet = render(solve(SEED), "md", 4, "worksheet")
    assert sheet.count("| weight | connection | value |") == 1
    a, b = sheet.index("## Part (a)"), sheet.index("## Part (b)")
    assert sheet.index("## Tasks") < a < b
    assert "**a.1.1** Neuron h1" in sheet[a:b] and "**b.1.1**" not in sheet
    assert "As in part (a): nothing to compute again." in sheet[b:]
    assert "**b.2** Compute the binary cross-entropy" in sheet[b:]
    assert len(re.findall(r"\*\*b\.3\.\d+\*\*", sheet)) == 17  # every weight and bias of 3-2-2-1


def test_the_latex_key_has_a_part_heading_per_part() -> None:
    tex = render(solve(SEED), "tex")
    assert tex.count(r"\part*{Part (a): Squared error}") == 1
    assert tex.count(r"\part*{Part (b): Cross-entropy}") == 1
    assert tex.count(r"\section*{Answer key}") == 1 and tex.count(r"\section*{Given}") == 1
    sheet = render(solve(SEED), "tex", 4, "worksheet")
    assert sheet.count(r"\section*{Part (b): Cross-entropy}") == 1 and sheet.count(r"\section*{Tasks}") == 1


def test_a_later_iteration_is_worked_again(tmp_path: Path) -> None:
    """Two steps: the first iteration's forward pass is part (a)'s, the second starts
    from each part's own updates, so part (b) works it."""
    text = SMALL.replace("learning_rate: 0.5\n", "learning_rate: 0.5\nsteps: 2\n")
    solution = solve_text(text, tmp_path)
    part_b = solution.parts[1].solution
    assert [step.forward_as for step in part_b.steps] == ["a", ""]
    md = render(solution, "md")
    assert md.count("As in part (a)") == 2  # parts (b) and (c), first iteration only
    assert all(line.task is None for layer in part_b.steps[0].forward for line in layer.lines)


def test_parts_with_samples_number_each_samples_tasks(tmp_path: Path) -> None:
    text = SMALL.replace("inputs: {x: 2}\n", "").replace("targets: {o: 1}\n", "samples:\n"
                         "  - {inputs: {x: 2}, targets: {o: 1}}\n  - {inputs: {x: -1}, targets: {o: 0}}\n")
    text = text.replace("  - {label: c, loss: squared_error, targets: {o: 0.25}}\n",
                        "  - {label: c, loss: squared_error}\n")
    md = render(solve_text(text, tmp_path), "md")
    for task in ("a.S1.1.1", "a.S2.2", "b.S2.3.1", "c.3.1", "c.4.2"):  # a batch's: c.3.k, c.4.k
        assert f"({task})" in md or f"**{task}**" in md or f"#### {task} " in md, task


def test_same_spec_same_bytes() -> None:
    first = [render(solve(SEED), fmt) for fmt in ("md", "tex", "json")]
    assert first == [render(solve(SEED), fmt) for fmt in ("md", "tex", "json")]


# --- bad input: located errors, exit code 2, nothing written ----------------------------------

BAD = {
    "unknown-key": ("title: \"Cross-entropy\", loss: binary_cross_entropy}",
                    "title: \"Cross-entropy\", loss: binary_cross_entropy, layers: []}",
                    "parts[1].layers: unknown key (expected one of: label, title, loss, learning_rate, targets)"),
    "bad-loss": ("loss: binary_cross_entropy}", "loss: hinge}", "parts[1].loss: unknown loss 'hinge'"),
    "capital-label": ("{label: b,", "{label: B,", "parts[1].label: expected 1 to 4 small letters"),
    "label-twice": ("{label: b,", "{label: a,", "parts[1].label: label 'a' is already the label of parts[0]"),
    "zero-rate": ("loss: binary_cross_entropy}", "loss: binary_cross_entropy, learning_rate: 0}",
                  "parts[1].learning_rate: must be greater than 0, found 0"),
    "hidden-target": ("loss: binary_cross_entropy}", "loss: binary_cross_entropy, targets: {g1: 1}}",
                      "parts[1].targets.g1: 'g1' is not an output neuron (outputs: o)"),
    "target-out-of-range": ("loss: binary_cross_entropy}", "loss: binary_cross_entropy, targets: {o: 2}}",
                            "parts[1].targets.o: binary_cross_entropy needs targets between 0 and 1, found 2"),
    "kept-target-out-of-range": ("targets: {o: 1}", "targets: {o: 1.5}",
                                 "parts[1].loss: binary_cross_entropy needs targets between 0 and 1, and this "
                                 "part keeps the spec's targets"),
    "one-part": ("  - {label: b, title: \"Cross-entropy\", loss: binary_cross_entropy}\n", "",
                 "parts: expected a list of 2 to 10 parts"),
    "a-mapping": ("parts:\n", "parts: 3\nx_parts:\n", "parts: expected a list of 2 to 10 parts"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_parts_are_located_errors(name: str, tmp_path: Path) -> None:
    old, new, message = BAD[name]
    text = SEED.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    spec = tmp_path / "spec.yaml"
    spec.write_text(text.replace(old, new), encoding="utf-8")
    out = tmp_path / "key.md"
    result = CliRunner().invoke(main, ["solve", str(spec), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert re.search(rf"{re.escape(str(spec))}:\d+: parts", result.output)  # file and line
    assert "Traceback" not in result.output and not out.exists()


def test_every_problem_in_a_part_is_reported_at_once() -> None:
    text = SEED.read_text(encoding="utf-8").replace(
        "{label: b, title: \"Cross-entropy\", loss: binary_cross_entropy}",
        "{label: B, title: 3, loss: hinge, learning_rate: -1, inputs: {x1: 1}}")
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "two.yaml")
    paths = {problem.path for problem in caught.value.problems}
    assert paths == {"parts[1].inputs", "parts[1].label", "parts[1].title", "parts[1].loss",
                     "parts[1].learning_rate"}
    assert {problem.line for problem in caught.value.problems} == {30}  # the part's line


def test_parts_that_cannot_go_with_the_spec(tmp_path: Path) -> None:
    """With samples a part cannot override the targets; an exam template (draws) has no
    parts; a given-gradient problem has none; worked.shortcut must hold in every part."""
    cases = {
        "targets-with-samples": (SMALL.replace("inputs: {x: 2}\n", "").replace(
                                     "targets: {o: 1}\n", "samples:\n  - {inputs: {x: 2}, targets: {o: 1}}\n"),
                                 "parts[2].targets: the spec gives samples"),
        "exam": (SMALL.replace("weights: {x: 0.5}", "weights: {x: {uniform: [0.1, 0.9]}}"),
                 "parts: an exam template cannot have parts"),
        "shortcut": (SMALL.replace("loss: half_squared_error", "loss: binary_cross_entropy\n"
                                   "worked: {shortcut: true}"),
                     "spec.yaml:14: worked.shortcut: the output delta is a - y only for sigmoid outputs "
                     "with binary_cross_entropy or softmax outputs with cross_entropy, found sigmoid "
                     "outputs with squared_error"),  # at part (c), line 14
        "gradients": (SMALL.replace("targets: {o: 1}\nloss: half_squared_error\n",
                                    "gradients: {o: {bias: 0.1, weights: {x: 0.2}}}\n"),
                      "parts: not used with gradients"),
    }
    validator = Draft7Validator(schema())
    for name, (text, message) in cases.items():
        with pytest.raises(SpecError) as caught:
            parse_spec(text, "spec.yaml")
        assert message in str(caught.value), name
        if name in ("targets-with-samples", "gradients"):  # what the schema can say, it says
            assert list(validator.iter_errors(yaml.safe_load(text))), name


def test_the_schema_knows_parts() -> None:
    validator = Draft7Validator(schema())
    assert not list(validator.iter_errors(yaml.safe_load(SMALL)))
    for old, new in (("{label: c,", "{label: C,"), ("learning_rate: 0.1}", "learning_rate: -0.1}"),
                     ("loss: squared_error,", "loss: hinge,"), ("{label: c,", "{label: c, inputs: {x: 1},"),
                     ("targets: {o: 0.25}", "targets: {o: 0.25}, loss: cross_entropy, x: 1")):
        assert SMALL.count(old) == 1, old
        assert list(validator.iter_errors(yaml.safe_load(SMALL.replace(old, new)))), new
    # cross-entropy targets from 0 to 1 in a part, as at the top level
    text = SMALL.replace("loss: squared_error, targets: {o: 0.25}", "loss: cross_entropy, targets: {o: 2}")
    assert list(validator.iter_errors(yaml.safe_load(text)))
