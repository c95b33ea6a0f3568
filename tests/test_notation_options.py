"""The signs of the seed pages through `notation` (issue 13, item 6): the learning rate
written alpha (seed 002), x as the multiplication sign (seed 002), the loss called J
(seed 003).

Each option changes a sign and nothing else: the JSON key is byte for byte the same, and
the Markdown and LaTeX are the default document with the sign swapped (the swap is done
here, on the default's text, independently of how derive prints it). The numbers are
checked against an oracle written here for the logistic-regression problem of seed 003;
the problem-wide tests (oracles, goldens, KaTeX/MathJax, pdflatex, line checks) run on
problems/seed002_alpha_times.yaml and problems/seed003_logistic_j.yaml as on every problem.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from derive.errors import SpecError
from derive.spec import parse_spec

ROOT = Path(__file__).resolve().parent.parent
Q2 = (ROOT / "problems" / "q2.yaml").read_text(encoding="utf-8")
LOGISTIC = ROOT / "problems" / "seed003_logistic_j.yaml"
ALPHA_TIMES = ROOT / "problems" / "seed002_alpha_times.yaml"

# a 2-2-2 network with two targets and several samples: a batch section, sums of paths
BATCH = """\
title: "Two samples"
samples:
  - inputs: {x1: 1, x2: 0.5}
    targets: {o1: 1, o2: 0}
  - inputs: {x1: -0.5, x2: 2}
    targets: {o1: 0, o2: 1}
layers:
  - activation: tanh
    neurons:
      h1: {bias: 0.1, weights: {x1: 0.3, x2: -0.2}}
      h2: {bias: -0.1, weights: {x1: 0.25, x2: 0.4}}
  - activation: sigmoid
    neurons:
      o1: {bias: 0.05, weights: {h1: 0.5, h2: -0.6}}
      o2: {bias: 0, weights: {h1: -0.35, h2: 0.7}}
loss: half_squared_error
learning_rate: 0.5
"""

ALL = "notation:\n  loss: J\n  learning_rate: alpha\n  times: cross\n"


def run(text: str, tmp_path: Path, *options: str, name: str = "spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, [options[0], str(path), *options[1:]])
    assert result.exit_code == 0, result.output
    return result.stdout


def swapped(text: str, loss: bool = True, alpha: bool = True, times: bool = True) -> str:
    """The default document with the seed's signs, swapped here as a reader would: every
    partial of the loss and its line, eta, and the dot between factors."""
    if loss:
        text = re.sub(r"\\partial L(?![A-Za-z])", r"\\partial J", text)
        text = re.sub(r"(?m)^L (&?=)", r"J \1", text)
        text = text.replace("$L =", "$J =").replace("$$L =", "$$J =").replace("\\[ L =", "\\[ J =")
        text = re.sub(r"= L(\\left\(|\\bigl\()", r"= J\1", text)  # the closed form's L(w, ...)
    if alpha:
        text = re.sub(r"\\eta(?![A-Za-z])", r"\\alpha", text)
    if times:
        text = re.sub(r"\\cdot(?![A-Za-z])", r"\\times", text)
    return text


# --- only the sign changes ---------------------------------------------------------------

CASES = [
    pytest.param(Q2, ("solve", "-f", "md"), id="q2-md"),
    pytest.param(Q2, ("solve", "-f", "tex"), id="q2-tex"),
    pytest.param(Q2, ("solve", "-f", "md", "--form", "delta"), id="q2-delta"),
    pytest.param(Q2, ("solve", "-f", "md", "--matrix"), id="q2-matrix"),
    pytest.param(Q2, ("solve", "-f", "md", "--closed-form"), id="q2-closed-form"),
    pytest.param(Q2, ("worksheet", "-f", "md"), id="q2-worksheet"),
    pytest.param(Q2, ("worksheet", "-f", "tex"), id="q2-worksheet-tex"),
    pytest.param(BATCH, ("solve", "-f", "md"), id="batch-md"),
    pytest.param(BATCH, ("solve", "-f", "tex", "--rounding", "by-hand"), id="batch-tex-by-hand"),
]


@pytest.mark.parametrize("spec, options", CASES)
def test_each_option_swaps_its_sign_and_nothing_else(spec: str, options: tuple[str, ...],
                                                     tmp_path: Path) -> None:
    default = run(spec, tmp_path, *options, name="default.yaml")
    for block, flags in [("notation: {loss: J}\n", dict(alpha=False, times=False)),
                         ("notation: {learning_rate: alpha}\n", dict(loss=False, times=False)),
                         ("notation: {times: cross}\n", dict(loss=False, alpha=False)),
                         (ALL, {})]:
        changed = run(spec + block, tmp_path, *options)
        assert changed == swapped(default, **flags), block
    assert swapped(default) != default  # every document has a loss or a learning rate to swap


@pytest.mark.parametrize("spec", [Q2, BATCH], ids=["q2", "batch"])
def test_the_json_key_is_the_same(spec: str, tmp_path: Path) -> None:
    assert run(spec + ALL, tmp_path, "solve", "-f", "json") == \
        run(spec, tmp_path, "solve", "-f", "json", name="default.yaml")


def test_the_seed_signs_are_where_the_pages_have_them() -> None:
    md = CliRunner().invoke(main, ["solve", str(ALPHA_TIMES)]).stdout
    assert "Learning rate: $\\alpha = 0.7$." in md
    assert r"\theta \leftarrow \theta - \alpha \, \dfrac{\partial L}{\partial \theta}" in md
    # the chain rule as seed 002 writes it, and the numbers of the update
    assert (r"\frac{\partial L}{\partial w_{11}^{(3)}} &= \frac{\partial L}{\partial a_{1}^{(3)}} \times "
            r"\frac{\partial a_{1}^{(3)}}{\partial z_{1}^{(3)}} \times "
            r"\frac{\partial z_{1}^{(3)}}{\partial w_{11}^{(3)}}") in md
    assert re.search(r"w_\{11\}\^\{\(1\)\} &\\leftarrow 0\.42 - 0\.7 \\times ", md)
    assert r"\cdot" not in md and r"\eta" not in md
    md = CliRunner().invoke(main, ["solve", str(LOGISTIC)]).stdout
    assert "J &= - y \\log{\\left(a \\right)} - \\left(1 - y\\right) \\log{\\left(1 - a \\right)}" in md
    assert r"\frac{\partial J}{\partial z} &= a - y" in md  # seed 003: dJ/dz = a - y
    assert r"\partial L" not in md and "Learning rate: $\\alpha = 0.1$." in md
    tex = CliRunner().invoke(main, ["solve", str(LOGISTIC), "-f", "tex"]).stdout
    assert r"\frac{\partial J}{\partial w_{1}}" in tex and r"\partial L" not in tex


def test_logistic_regression_against_an_oracle() -> None:
    """Seed 003: a = sigma(w . x + b), J = -[y ln a + (1 - y) ln(1 - a)], so
    dJ/dw_i = (a - y) x_i, dJ/db = a - y; computed here from the YAML."""
    spec = yaml.safe_load(LOGISTIC.read_text(encoding="utf-8"))
    neuron = spec["layers"][0]["neurons"]["a"]
    x, y, alpha = spec["inputs"], spec["targets"]["a"], spec["learning_rate"]
    z = sum(w * x[s] for s, w in neuron["weights"].items()) + neuron["bias"]
    a = 1 / (1 + math.exp(-z))
    expected = {f"{s}->a": (a - y) * x[s] for s in x} | {"b:a": a - y}
    key = json.loads(CliRunner().invoke(main, ["solve", str(LOGISTIC), "-f", "json"]).stdout)
    step = key["steps"][0]
    assert step["loss"] == pytest.approx(-(y * math.log(a) + (1 - y) * math.log(1 - a)), rel=1e-12)
    values = {"x1->a": neuron["weights"]["x1"], "x2->a": neuron["weights"]["x2"], "b:a": neuron["bias"]}
    for p in step["parameters"]:
        name = f"{p['from']}->a" if p["kind"] == "weight" else "b:a"
        assert p["gradient"] == pytest.approx(expected[name], rel=1e-12)
        assert p["updated"] == pytest.approx(values[name] - alpha * expected[name], rel=1e-12)
    assert [p["symbol"] for p in step["parameters"]] == ["w_{1}", "w_{2}", "b"]


def test_given_gradients_take_the_signs_too(tmp_path: Path) -> None:
    text = (ROOT / "problems" / "seed000_given_gradients.yaml").read_text(encoding="utf-8")
    default = run(text, tmp_path, "solve", name="default.yaml")
    assert run(text + ALL, tmp_path, "solve") == swapped(default)
    assert run(text + ALL, tmp_path, "worksheet") == swapped(run(text, tmp_path, "worksheet", name="d.yaml"))


# --- bad options -------------------------------------------------------------------------

def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "n.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_an_unknown_sign_lists_the_choices() -> None:
    # q2.yaml has 18 lines (a comment first); the notation block starts on line 19
    assert problems_of(Q2 + "notation:\n  loss: E\n  learning_rate: lambda\n  times: star\n") == [
        "n.yaml:20: notation.loss: unknown loss 'E' (valid: L, J)",
        "n.yaml:21: notation.learning_rate: unknown learning rate 'lambda' (valid: eta, alpha)",
        "n.yaml:22: notation.times: unknown times 'star' (valid: dot, cross)",
    ]


def test_a_symbol_named_like_the_loss_is_refused() -> None:
    text = Q2 + "notation:\n  loss: J\n  names:\n    x1: J\n"
    assert problems_of(text) == ["n.yaml:22: notation.names.x1: J would name both the loss J and this; "
                                 "every symbol must name one thing"]
    parse_spec(Q2 + "notation:\n  names:\n    x1: J\n", "n.yaml")  # J is free while the loss is L


def test_l_stays_reserved_with_the_loss_j(tmp_path: Path) -> None:
    """L is the loss's Symbol inside derive (printed as J): no unit may print as L."""
    path = tmp_path / "n.yaml"
    path.write_text(Q2 + "notation:\n  loss: J\n  names:\n    x1: L\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["solve", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "n.yaml:22: notation.names.x1: L would name both the loss L and input x1" in result.output


# --- pre-activations named as the seeds do (net_{h1}, h_1^{sum}) -------------------------

def without_symbols(key: dict) -> dict:
    """The JSON key less what the notation may change: the title and each symbol."""
    key = dict(key, title="")
    for step in key["steps"]:
        for p in step["parameters"]:
            p.pop("symbol")
    return key


@pytest.mark.parametrize("named, plain", [("seed000_net_out", "seed000_dead_relu"),
                                          ("seed001_sum_names", "seed001_flat_names")])
def test_named_pre_activations_keep_the_numbers(named: str, plain: str) -> None:
    keys = [json.loads(CliRunner().invoke(main, ["solve", str(ROOT / "problems" / f"{name}.yaml"), "-f",
                                                 "json"]).stdout) for name in (named, plain)]
    assert without_symbols(keys[0]) == without_symbols(keys[1])


def test_net_and_out_are_written_where_seed_000_has_them() -> None:
    path = str(ROOT / "problems" / "seed000_net_out.yaml")
    md = CliRunner().invoke(main, ["solve", path, "--form", "both"]).stdout
    assert r"net_{h1} &= w_{11}^{(1)} x_{1} + w_{21}^{(1)} x_{2} + w_{31}^{(1)} x_{3} + b_{1}^{(1)}" in md
    assert r"out_{h1} &= \operatorname{ReLU}\left(net_{h1}\right)" in md
    assert r"\frac{\partial out_{o1}}{\partial net_{o1}}" in md  # the chain through net and out
    assert r"\delta_{net_{o1}} &= " in md and r"\delta_{net_{h3}} &= " in md  # delta form: delta_{net}
    tex = CliRunner().invoke(main, ["solve", path, "-f", "tex", "--form", "delta"]).stdout
    assert r"\delta_{net_{h1}}" in tex


def test_sum_names_are_written_where_seed_001_has_them() -> None:
    md = CliRunner().invoke(main, ["solve", str(ROOT / "problems" / "seed001_sum_names.yaml"),
                                   "--form", "both"]).stdout
    assert r"h_{1} &= \sigma\left(h_{1}^{sum}\right) = \frac{1}{1 + e^{- h_{1}^{sum}}}" in md
    assert r"\frac{\partial h_{1}}{\partial h_{1}^{sum}} &= \sigma'\left(h_{1}^{sum}\right) = h_{1} \left(1 - h_{1}\right)" in md
    assert r"\delta_{o_{1}^{sum}} &= " in md
    assert "L &= \\left(o_{1} - y_{true}\\right)^{2}" in md
