"""Given-gradient problems (issue 13, item 4; seed 000, part 2): the spec gives every
parameter's gradient and the key works only the updates, w <- w - eta * g.

The oracle is written here: the spec is read with yaml.safe_load (not derive's reader)
and each update is computed with exact fractions of the decimals as written, and
rounded half away from zero with Python's decimal module for the shown values.
"""
from __future__ import annotations

import json
import random
import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from canonical import DENSE_PROBLEMS, GIVEN_GRADIENTS, PROBLEMS, SINGLE_SAMPLE
from cli import main
from derive.api import solve
from derive.errors import SpecError
from derive.render import render
from derive.spec import parse_spec
from linecheck import check_markdown, spec_numbers

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "problems" / "seed000_given_gradients.yaml"

# a teacher-sized 2-2-1 network with 1-2 decimal values, exact zeros among the gradients
SMALL = """\
title: "Update from given gradients"
inputs: {x1: 1, x2: 0.5}
layers:
  - activation: sigmoid
    neurons:
      h1: {bias: 0.1, weights: {x1: 0.4, x2: -0.2}}
      h2: {bias: 0, weights: {x1: 0.3, x2: 0.25}}
  - activation: linear
    neurons:
      o: {bias: -0.5, weights: {h1: 1.5, h2: -0.75}}
learning_rate: 0.5
gradients:
  h1: {bias: 0.02, weights: {x1: 0.02, x2: 0.01}}
  h2: {bias: -0.12, weights: {x1: -0.12, x2: 0}}
  o: {bias: 0.3, weights: {h1: 0.18, h2: 0.15}}
"""


def fraction(value: object) -> Fraction:
    """A YAML number as the decimal it is written as (0.1 is 1/10)."""
    return Fraction(Decimal(repr(value)) if isinstance(value, float) else Decimal(value))


def oracle_updates(spec: dict) -> dict[str, tuple[Fraction, Fraction, Fraction]]:
    """key -> (value, gradient, updated), computed from the YAML itself."""
    eta = fraction(spec["learning_rate"])
    given = {}
    for layer in spec["layers"]:
        for name, neuron in layer["neurons"].items():
            grads = spec["gradients"][name]
            for source, weight in neuron["weights"].items():
                g = fraction(grads["weights"][source])
                given[f"{source}->{name}"] = (fraction(weight), g, fraction(weight) - eta * g)
            b, g = fraction(neuron["bias"]), fraction(grads["bias"])
            given[f"b:{name}"] = (b, g, b - eta * g)
    return given


def shown(value: Fraction, digits: int = 4) -> str:
    """The display rule for the plain decimals of these problems: `digits` places, half
    away from zero, at least 3 significant figures (docs/spec.md, "Numbers")."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    if exact == 0:
        return "0"
    places = max(digits, 3 - exact.adjusted() - 1)
    return str(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def json_key(path: Path, *options: str) -> dict:
    result = CliRunner().invoke(main, ["solve", str(path), "-f", "json", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def key_of(parameter: dict) -> str:
    return f"{parameter['from']}->{parameter['to']}" if parameter["kind"] == "weight" else f"b:{parameter['neuron']}"


def written(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the numbers -------------------------------------------------------------------------

@pytest.mark.parametrize("text", [SEED.read_text(encoding="utf-8"), SMALL], ids=["seed000", "small"])
def test_every_update_is_value_minus_eta_times_the_given_gradient(text: str, tmp_path: Path) -> None:
    spec = yaml.safe_load(text)
    expected = oracle_updates(spec)
    key = json_key(written(tmp_path, text))
    parameters = key["steps"][0]["parameters"]
    assert [key_of(p) for p in parameters] == list(expected)  # every parameter once, in spec order
    for p in parameters:
        value, gradient, updated = expected[key_of(p)]
        assert Fraction(p["value"]) == Fraction(float(value))
        assert Fraction(p["gradient"]) == Fraction(float(gradient))
        assert p["updated"] == float(updated)
        assert p["displayed"]["updated"] == shown(updated)
        assert p["given"] is True
    assert key["learning_rate"] == float(fraction(spec["learning_rate"]))


def test_random_networks_match_the_oracle(tmp_path: Path) -> None:
    """Random sizes, values of 1 to 3 decimals, several learning rates, digits 2 to 6."""
    rng = random.Random(2026)
    for case in range(12):
        sizes = [rng.randint(1, 3) for _ in range(rng.randint(2, 4))]
        inputs = [f"x{i}" for i in range(1, sizes[0] + 1)]
        layers, grads, previous = [], {}, inputs
        for number, width in enumerate(sizes[1:], 1):
            names = [f"n{number}_{j}" for j in range(1, width + 1)]
            neurons = {}
            for name in names:
                neurons[name] = {"bias": round(rng.uniform(-1, 1), rng.randint(1, 3)),
                                 "weights": {s: round(rng.uniform(-1, 1), 2) for s in previous}}
                grads[name] = {"bias": round(rng.uniform(-0.5, 0.5), 4),
                               "weights": {s: rng.choice([0, round(rng.uniform(-0.5, 0.5), 5)])
                                           for s in previous}}
            layers.append({"activation": rng.choice(["relu", "sigmoid", "tanh"]), "neurons": neurons})
            previous = names
        spec = {"layers": layers, "learning_rate": rng.choice([0.01, 0.1, 0.5, 1.2]), "gradients": grads}
        digits = rng.randint(2, 6)
        key = json_key(written(tmp_path, yaml.safe_dump(spec), f"case{case}.yaml"), "--digits", str(digits))
        expected = oracle_updates(spec)
        found = {key_of(p): p for p in key["steps"][0]["parameters"]}
        assert set(found) == set(expected)
        for name, (_, _, updated) in expected.items():
            assert found[name]["updated"] == float(updated), (case, name)
            assert found[name]["displayed"]["updated"] == shown(updated, digits), (case, name)


def test_markdown_update_lines_recompute(tmp_path: Path) -> None:
    """Every update line of the key, read by the independent line checker, under both
    rounding policies; and each update's line shows the oracle's value."""
    path = written(tmp_path, SMALL)
    expected = oracle_updates(yaml.safe_load(SMALL))
    for policy in ("exact", "by-hand"):
        md = CliRunner().invoke(main, ["solve", str(path), "--rounding", policy]).stdout
        report = check_markdown(md, policy, spec_numbers(SMALL))
        assert len(report.checks) >= len(expected)
        assert not report.failures and not report.unparsed, report.message()
    md = CliRunner().invoke(main, ["solve", str(path)]).stdout
    assert r"w_{11}^{(1)} &\leftarrow 0.4 - 0.5 \cdot 0.02 = 0.3900" in md  # 0.4 - 0.01
    assert r"w_{22}^{(1)} &\leftarrow 0.25 - 0.5 \cdot 0 = 0.2500" in md  # an exact zero gradient
    assert r"b_{2}^{(1)} &\leftarrow 0 - 0.5 \cdot \left(-0.12\right) = 0.0600" in md


def test_by_hand_keeps_the_shown_value(tmp_path: Path) -> None:
    key = json_key(written(tmp_path, SEED.read_text(encoding="utf-8")), "--rounding", "by-hand", "--digits", "3")
    expected = oracle_updates(yaml.safe_load(SEED.read_text(encoding="utf-8")))
    for p in key["steps"][0]["parameters"]:
        assert Decimal(repr(p["updated"])) == Decimal(shown(expected[key_of(p)][2], 3))


# --- the documents -----------------------------------------------------------------------

def test_the_key_has_the_seed_form() -> None:
    md = render(solve(SEED), "md")
    assert "## 1. Updates" in md and "### Layer 1" in md and "### Layer 2" in md
    assert "## 2. Summary" in md
    assert "Forward pass" not in md and "## 2. Loss" not in md and "Targets:" not in md
    # the given gradients are in the Given part as written, the table of the seed's printout
    assert "| $b_{3}^{(1)}$ | bias of h3 | $0.071325$ |" in md
    # seed 000's dead unit h2: all its gradients are 0, its parameters keep their values
    assert r"w_{12}^{(1)} &\leftarrow -0.3 - 0.01 \cdot 0 = -0.3000" in md
    tex = render(solve(SEED), "tex")
    assert r"\section*{1. Updates}" in tex and r"\subsection*{Layer 2}" in tex


def test_inputs_are_optional_and_named_by_the_weights(tmp_path: Path) -> None:
    without = render(solve(written(tmp_path, SMALL.replace("inputs: {x1: 1, x2: 0.5}\n", ""))), "md")
    assert '(["x1<br/>x₁"])' in without and '(["x2<br/>x₂"])' in without  # no value to show
    with_inputs = render(solve(written(tmp_path, SMALL, "with.yaml")), "md")
    assert '(["x1 = 1<br/>x₁"])' in with_inputs
    assert "| $x_{2}$ (x2) | $0.5$ |" in with_inputs
    # the inputs' order is the order the weights first name them
    reordered = SMALL.replace("inputs: {x1: 1, x2: 0.5}\n", "").replace(
        "{x1: 0.4, x2: -0.2}", "{x2: -0.2, x1: 0.4}")
    network_md = render(solve(written(tmp_path, reordered, "re.yaml")), "md")
    assert network_md.index('u_x2(["x2<br/>x₁"])') < network_md.index('u_x1(["x1<br/>x₂"])')


def test_worksheet_asks_the_updates_only(tmp_path: Path) -> None:
    solution = solve(written(tmp_path, SMALL + "asked: [x1->h1, o, h2->o]\n"))
    sheet = render(solution, "md", 4, "worksheet")
    key = render(solution, "md")
    assert re.findall(r"\*\*(1\.\d+)\*\*", sheet) == ["1.1", "1.2", "1.3"]
    assert re.findall(r"\\text\{\((1\.\d+)\)\}", key) == ["1.1", "1.2", "1.3"]
    assert "new $w_{11}^{(1)} =$" in sheet and "new $b_{1}^{(2)} =$" in sheet
    for updated in (0.39, 0.9, 0.35, -0.65):  # the answers: not on the sheet
        assert f"{updated:.4f}" not in sheet
    assert "0.0200" not in sheet and "$0.02$" in sheet  # the given gradients are
    tex_sheet = render(solution, "tex", 4, "worksheet")
    assert r"\textbf{1.3} new $b_{1}^{(2)} = \rule{3cm}{0.4pt}$" in tex_sheet


def test_notation_applies(tmp_path: Path) -> None:
    md = render(solve(written(tmp_path, SMALL + "notation: {parameters: flat}\n")), "md")
    assert r"w_{1} &\leftarrow 0.4 - 0.5 \cdot 0.02 = 0.3900" in md
    assert r"b_{3} &\leftarrow -0.5 - 0.5 \cdot 0.3 = -0.6500" in md


def test_the_problem_is_classified_for_the_problem_wide_tests() -> None:
    """Goldens, PDFs, KaTeX/MathJax and the line checks run on it (PROBLEMS); the forward
    and gradient oracles do not (it has no forward pass)."""
    assert SEED in PROBLEMS and SEED in GIVEN_GRADIENTS
    assert SEED not in SINGLE_SAMPLE and SEED not in DENSE_PROBLEMS


# --- bad specs ---------------------------------------------------------------------------

def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "g.yaml")
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize("edit, expected", [
    # lines of SMALL, counted by hand: 12 gradients, 13 h1, 14 h2, 15 o (16: just past the end)
    # a gradient for a neuron that does not exist, so h2's are missing (at the mapping)
    (("  h2: {bias: -0.12", "  h9: {bias: -0.12"),
     ["g.yaml:13: gradients.h2: missing: every weight and bias needs its gradient; give "
      "h2: {bias: ..., weights: {x1: ..., x2: ...}}",
      "g.yaml:14: gradients.h9: no neuron 'h9' in the layers (neurons: h1, h2, o)"]),
    # a weight the neuron does not have
    (("x1: -0.12, x2: 0}", "x1: -0.12, x2: 0, h1: 0.5}"),
     ["g.yaml:14: gradients.h2.weights.h1: h2 has no weight from 'h1' (its weights come from: x1, x2)"]),
    # a missing weight gradient and a missing bias
    (("{x1: -0.12, x2: 0}", "{x1: -0.12}"),
     ["g.yaml:14: gradients.h2.weights: missing the gradient of the weight from x2"]),
    (("  o: {bias: 0.3, weights", "  o: {weights"),
     ["g.yaml:15: gradients.o.bias: missing required key"]),
    # not a number
    (("bias: 0.02,", "bias: '0.02',"),
     ["g.yaml:13: gradients.h1.bias: expected a number, found the text '0.02' (remove the quotes)"]),
])
def test_bad_gradients_are_located(edit: tuple[str, str], expected: list[str]) -> None:
    assert SMALL.count(edit[0]) == 1
    assert problems_of(SMALL.replace(*edit)) == expected


def test_keys_of_a_worked_problem_are_refused_with_the_reason() -> None:
    text = SMALL + "loss: half_squared_error\ntargets: {o: 1}\nsteps: 2\n"
    assert problems_of(text) == [
        "g.yaml:16: loss: not used with gradients: the gradients are given, so no loss is computed",
        "g.yaml:17: targets: not used with gradients: the gradients are given, so no targets are needed",
        "g.yaml:18: steps: not used with gradients: only one update can follow from given gradients",
    ]
    assert problems_of(SMALL + "lossy: 1\n") == [
        "g.yaml:16: lossy: unknown key (with gradients, expected one of: layers, learning_rate, "
        "gradients, title, inputs, asked, notation)"]
    assert problems_of(SMALL.replace("learning_rate: 0.5\n", "")) == ["g.yaml:1: learning_rate: missing required key"]


def test_a_drawn_value_is_refused() -> None:
    text = SMALL.replace("h1: {bias: 0.1,", "h1: {bias: {uniform: [0, 1]},")
    assert problems_of(text) == ["g.yaml:12: gradients: a given-gradient problem gives its values: it "
                                 "cannot draw any (write numbers instead of uniform/choice)"]


def test_the_cli_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    spec = written(tmp_path, SMALL.replace("  h2: {bias: -0.12", "  h9: {bias: -0.12"))
    out = tmp_path / "key.md"
    result = CliRunner().invoke(main, ["solve", str(spec), "-o", str(out)])
    assert result.exit_code == 2
    assert "gradients.h9: no neuron 'h9'" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_without_layers_only_that_is_reported() -> None:
    assert problems_of("gradients: {h1: {bias: 1, weights: {x1: 1}}}\nlearning_rate: 0.1\n") == [
        "g.yaml:1: layers: missing required key"]


def test_forms_asked_for_are_answered_with_a_sentence(tmp_path: Path) -> None:
    path = written(tmp_path, SMALL)
    md = CliRunner().invoke(main, ["solve", str(path), "--form", "delta", "--matrix", "--closed-form"]).stdout
    assert "Not worked here, though asked for: the delta form, the matrix form." in md
    assert "## Closed form\n\nThere is no loss to write in closed form" in md
    assert "Not worked here" not in CliRunner().invoke(main, ["solve", str(path)]).stdout
