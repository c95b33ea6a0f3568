"""Bounded input (issue 11, items 5, 10, 11 and 13): a spec is read only up to its limit,
a formula activation cannot keep SymPy busy for minutes, a network too wide for the
LaTeX diagram is refused before any work, and every symbol names one thing (and shows
as text in the Mermaid diagram)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from derive.formula import expressions, problem
from derive.spec import MAX_SPEC_BYTES
from hostile_fs import DERIVE, Q2, ROOT, assert_clean_error, derive
from renderers import require


# --- item 5: the spec is read up to its limit, not to its end -------------------------------

MEASURED = """
import resource, subprocess, sys, time
start = time.monotonic()
result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(result.returncode, round(time.monotonic() - start, 2),
      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, result.stderr.replace("\\n", " "))
"""


def measured(*args: str) -> tuple[int, float, int, str]:
    """Exit code, seconds, peak memory (kB) and message of derive run on its own."""
    output = subprocess.run([sys.executable, "-c", MEASURED, *DERIVE, *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=120).stdout
    code, seconds, peak, message = output.split(" ", 3)
    return int(code), float(seconds), int(peak), message


@pytest.mark.parametrize("source", ["/dev/zero", "sparse"])
def test_an_endless_or_huge_spec_is_refused_at_once(tmp_path: Path, source: str) -> None:
    if source == "sparse":
        source = str(tmp_path / "huge.yaml")
        with open(source, "wb") as file:
            file.truncate(4 << 30)  # 4 GB of zeros, no disk used
    code, seconds, peak_kb, message = measured("solve", source)
    assert code == 2 and f"{MAX_SPEC_BYTES:,} bytes" in message and source in message, message
    assert seconds < 20 and peak_kb < 400_000, (seconds, peak_kb)  # reading all: 4 GB, 30 s


def test_a_spec_from_a_pipe_is_read(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f'cat "{Q2}" > "{fifo}"'])
    result = derive("solve", fifo, "-f", "json")
    writer.wait(timeout=30)
    assert result.returncode == 0 and result.stdout == derive("solve", Q2, "-f", "json").stdout


# --- item 10: formulas that would keep SymPy busy ----------------------------------------------

def nested(function: str, depth: int) -> str:
    return f"{function}(" * depth + "x" + ")" * depth


@pytest.mark.parametrize("formula", [nested("tanh", 12),
                                     "sigmoid(tanh(sigmoid(tanh(sigmoid(tanh(sigmoid(tanh(x))))))))"])
def test_costly_formulas_are_refused_quickly_with_the_reason(formula: str) -> None:
    """Within the documented limits (200 characters, 30 levels), yet minutes of SymPy
    (tanh 10 deep: 62 s, 12 deep: never): refused in seconds, saying why."""
    assert len(formula) <= 200
    expressions.cache_clear()
    start = time.monotonic()
    message = problem(formula)
    assert time.monotonic() - start < 15
    assert message is not None and "SymPy cannot work with the formula" in message, message
    assert "fewer levels" in message


def test_formulas_people_use_are_accepted() -> None:
    for formula in ("x/(1+abs(x))", "x*sigmoid(x)", "x*tanh(log(1+exp(x)))",
                    "0.5*x*(1+tanh(0.7978845608*(x+0.044715*x^3)))", nested("tanh", 6)):
        expressions.cache_clear()
        assert problem(formula) is None, formula


def test_a_refused_formula_in_a_spec_names_its_line(tmp_path: Path) -> None:
    spec = tmp_path / "deep.yaml"
    spec.write_text(Q2.read_text().replace("activation: relu", f'activation: {{formula: "{nested("tanh", 10)}"}}'))
    start = time.monotonic()
    result = derive("solve", spec)
    assert time.monotonic() - start < 30
    assert_clean_error(result, f"{spec}:5: layers[0].activation.formula", "nests 10 functions")


def test_an_asked_gradient_into_a_refused_layer_is_not_a_second_error(tmp_path: Path) -> None:
    # the refused formula is the one mistake: h1->g1 exists, in the layer that could not be read
    spec = tmp_path / "deep.yaml"
    spec.write_text(Q2.read_text().replace("activation: relu", f'activation: {{formula: "{nested("tanh", 12)}"}}')
                    + "asked: [x1->h1, h1->g1]\n")
    message = assert_clean_error(derive("solve", spec), "layers[0].activation.formula")
    assert "asked[" not in message and "no weight or bias" not in message, message


# --- item 11: networks too wide for the LaTeX diagram --------------------------------------------

def wide_spec(inputs: int, hidden: int = 0) -> str:
    """`inputs` inputs into one sigmoid output, through `hidden` neurons if any."""
    names = [f"x{i}" for i in range(1, inputs + 1)]
    lines = ["inputs: {" + ", ".join(f"{n}: 0.{i % 9 + 1}" for i, n in enumerate(names)) + "}", "layers:"]
    sources = names
    if hidden:
        lines += ["  - activation: sigmoid", "    neurons:"]
        lines += [f"      h{j}: {{bias: 0.1, weights: {{" + ", ".join(f"{n}: -0.{(i + j) % 9 + 1}"
                                                                   for i, n in enumerate(names)) + "}}"
                  for j in range(1, hidden + 1)]
        sources = [f"h{j}" for j in range(1, hidden + 1)]
    lines += ["  - activation: sigmoid", "    neurons:",
              "      o: {bias: 0.1, weights: {" + ", ".join(f"{n}: 0.{i % 7 + 1}" for i, n in enumerate(sources)) + "}}",
              "targets: {o: 1}", "loss: half_squared_error", "learning_rate: 0.5", "worked: {form: delta}"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("inputs, hidden, where", [(300, 0, "inputs"), (70, 70, "layers[0].neurons")])
def test_a_network_too_wide_for_the_diagram_is_refused_at_once(tmp_path: Path, inputs: int, hidden: int,
                                                               where: str) -> None:
    spec = tmp_path / "wide.yaml"
    spec.write_text(wide_spec(inputs, hidden))
    for command in (["solve", spec, "-f", "pdf", "-o", tmp_path / "key.pdf"], ["worksheet", spec, "-f", "tex"]):
        start = time.monotonic()
        result = CliRunner().invoke(main, list(map(str, command)))
        assert time.monotonic() - start < 10
        assert result.exit_code == 2 and f"{spec}: {where}:" in result.stderr and "at most 40" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.yaml"]


def test_the_limit_is_on_latex_only_and_leaves_room(tmp_path: Path) -> None:
    require("latexmk")
    over, at = tmp_path / "over.yaml", tmp_path / "at.yaml"
    over.write_text(wide_spec(41))
    at.write_text(wide_spec(40))
    assert CliRunner().invoke(main, ["solve", str(over), "-f", "json"]).exit_code == 0
    result = CliRunner().invoke(main, ["solve", str(at), "-f", "pdf", "-o", str(tmp_path / "at.pdf")])
    assert result.exit_code == 0, result.output  # 40 inputs: TeX manages
    assert (tmp_path / "at.pdf").read_bytes().startswith(b"%PDF")


def test_an_exam_template_too_wide_is_refused_before_drawing(tmp_path: Path) -> None:
    template = tmp_path / "wide-exam.yaml"
    template.write_text(wide_spec(41).replace("x1: 0.1", "x1: {uniform: [0, 1]}"))
    result = CliRunner().invoke(main, ["exam", str(template), "--no-pdf", "-o", str(tmp_path / "exam")])
    assert result.exit_code == 2 and "41 inputs" in result.stderr
    assert not (tmp_path / "exam").exists()


# --- item 13: every symbol names one thing; symbols as text in the diagram -------------------------

ONE_OUTPUT = """inputs: {x1: 1, x2: 2}
layers:
  - activation: sigmoid
    neurons:
      o: {bias: 0.1, weights: {x1: 0.5, x2: -0.25}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.5
notation:
  names:
"""
TWO_OUTPUTS = ONE_OUTPUT.replace("      o: {bias: 0.1, weights: {x1: 0.5, x2: -0.25}}",
                                 "      o: {bias: 0.1, weights: {x1: 0.5, x2: -0.25}}\n"
                                 "      p: {bias: 0.2, weights: {x1: 0.3, x2: 0.75}}").replace(
                                 "targets: {o: 1}", "targets: {o: 1, p: 0}")


@pytest.mark.parametrize("spec, name, line", [
    (ONE_OUTPUT, "    x1: \\hat{y}\n", 11),
    (ONE_OUTPUT, "    x1->o: \\hat{y}\n", 11),
    (TWO_OUTPUTS, "    x2: \\hat{y}_2\n", 12),
    (TWO_OUTPUTS, "    p: \\hat{y}_1\n", 12),  # the prediction of o is y-hat_1
])
def test_a_symbol_may_not_name_both_something_and_a_prediction(tmp_path: Path, spec: str, name: str,
                                                             line: int) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(spec + name)
    result = CliRunner().invoke(main, ["solve", str(path)])
    assert result.exit_code == 2 and f"{path}:{line}:" in result.stderr
    assert "the prediction of" in result.stderr and "every symbol must name one thing" in result.stderr


def test_an_output_may_be_named_as_its_own_prediction(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(ONE_OUTPUT + "    o: \\hat{y}\n")
    assert CliRunner().invoke(main, ["solve", str(path)]).exit_code == 0


def test_custom_symbols_show_as_text_in_the_mermaid_diagram(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(ONE_OUTPUT + "    o: \\hat{y}\n    x1: h_{1}\n    x2: \\tilde{x}'\n")
    result = CliRunner().invoke(main, ["solve", str(path)])
    assert result.exit_code == 0, result.output
    diagram = result.stdout.split("```mermaid", 1)[1].split("```", 1)[0]
    assert "<br/>ŷ<br/>" in diagram and "<br/>h₁\"" in diagram and "<br/>x̃′\"" in diagram, diagram
    assert not set("\\{}^_") & set(diagram.replace("u_", "").replace("<br/>", "")), diagram


def test_a_tiny_value_is_reported_in_a_readable_message(tmp_path: Path) -> None:
    """sigmoid(-1e300) is about e^-1e300 = 2^-(1e300 / ln 2): its exponent alone has 301
    digits. The message gives its size in a form a person can read."""
    path = tmp_path / "spec.yaml"
    path.write_text(ONE_OUTPUT.replace("x1: 1, x2: 2", "x1: -1e300, x2: 0").replace("x1: 0.5", "x1: 1")
                    .replace("notation:\n  names:\n", ""))
    result = CliRunner().invoke(main, ["solve", str(path)])
    assert result.exit_code == 2 and result.stderr.startswith(f"derive: error: {path}: ")
    assert len(result.stderr) < 400 and not re.search(r"\d{21}", result.stderr), result.stderr
    assert re.search(r"1\.44\d*e\+?300", result.stderr), result.stderr  # 1 / ln 2 = 1.4427


def test_a_number_below_every_double_says_so(tmp_path: Path) -> None:
    # 1e-400 reads as 0.0: the reason is its size, not its number of digits
    path = tmp_path / "spec.yaml"
    path.write_text(ONE_OUTPUT.replace("x1: 1, x2: 2", "x1: 1e-400, x2: 2").replace("notation:\n  names:\n", ""))
    result = CliRunner().invoke(main, ["solve", str(path)])
    assert result.exit_code == 2, result.output
    assert "1e-400 is closer to 0 than any number" in result.stderr, result.stderr
    assert "significant digits" not in result.stderr
