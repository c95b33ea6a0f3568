"""Every problem's key and worksheet through the real renderers.

LaTeX is compiled with TeX Live (latexmk + pdflatex) and its log is read for errors
and overfull boxes; page 1 of each PDF is rendered to PNG; every Markdown math
fragment is rendered with KaTeX and with MathJax 3. Locally these tests skip when a
tool is missing; under CI=true a missing tool fails them (see renderers.require).
"""
from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from derive.api import solve
from derive.latex import format_number
from derive.render import render
from renderers import (check_math, compile_tex, math_fragments, overfull_boxes,
                       render_page_png, require)

ROOT = Path(__file__).resolve().parent.parent
from canonical import GIVEN_GRADIENTS, PROBLEMS  # noqa: E402  (exam templates excluded)
DOCUMENTS = ("solution", "worksheet")


@pytest.mark.parametrize("kind", DOCUMENTS)
@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.stem)
def test_latex_compiles_without_errors_or_overfull_boxes(problem: Path, kind: str,
                                                         tmp_path: Path) -> None:
    require("latexmk")
    require("pdftoppm")
    pdf, log = compile_tex(render(solve(problem), "tex", 4, kind), tmp_path)
    assert not re.search(r"^! ", log, re.MULTILINE), "TeX reported an error"
    assert overfull_boxes(log, limit_pt=1.0) == []
    png = render_page_png(pdf, 1)
    assert png.stat().st_size > 5_000  # a page with content, not a blank


@pytest.mark.parametrize("kind", DOCUMENTS)
@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.stem)
def test_markdown_math_renders_in_katex_and_mathjax(problem: Path, kind: str) -> None:
    require("node")
    require("node_modules")
    fragments = math_fragments(render(solve(problem), "md", 4, kind))
    assert len(fragments) > 10
    assert check_math(fragments) == []


def test_pdf_option_writes_a_pdf(tmp_path: Path) -> None:
    require("pdflatex")
    out = tmp_path / "q2-key.pdf"
    result = CliRunner().invoke(main, ["solve", str(ROOT / "problems" / "q2.yaml"),
                                       "-f", "pdf", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    assert list(tmp_path.iterdir()) == [out]  # only the PDF: no TeX leftovers


def test_pdf_without_output_file_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["solve", str(ROOT / "problems" / "q2.yaml"), "-f", "pdf"])
    assert result.exit_code == 2
    assert "-o" in result.output


def test_pdf_without_tex_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no latexmk, no pdflatex
    out = tmp_path / "key.pdf"
    result = CliRunner().invoke(main, ["solve", str(ROOT / "problems" / "q2.yaml"),
                                       "-f", "pdf", "-o", str(out)])
    assert result.exit_code == 1
    assert "texlive-latex-base" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def flat(value: object) -> list[float]:
    """A JSON number, or every number of a map's nested rows."""
    return [v for item in value for v in flat(item)] if isinstance(value, list) else [value]  # type: ignore[list-item]


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.stem)
def test_worksheet_holds_no_answers(problem: Path) -> None:
    """No computed value (z, a, loss, gradient, update) appears in the worksheet,
    except where it equals a given value (an update too small to show, say)."""
    solution = solve(problem)
    key = json.loads(render(solution, "json"))["steps"][0]
    given = {format_number(v.value, 4).tex for v in solution.given.inputs + solution.given.weights
             + solution.given.biases + solution.given.targets} | {format_number(solution.given.eta, 4).tex}
    given |= {format_number(v, 4).tex for m in solution.given.maps for row in m.grid.rows for v in row}
    # a given-gradient problem (derive.given) has no forward pass or loss; its gradients are given
    given |= {format_number(p["gradient"], 4).tex for p in key["parameters"] if p.get("given")}
    answers = ([key["loss"]] if "loss" in key else []) \
        + [p[k] for p in key["parameters"] for k in ("gradient", "updated")
           if p[k] is not None and not (k == "gradient" and p.get("given"))] \
        + [v for unit in key.get("forward", {}).values() for value in unit.values() for v in flat(value)]
    shown = {format_number(a, 4).tex for a in answers if not math.isclose(a, round(a))} - given
    for kind in ("md", "tex"):
        # the diagram writes negative numbers with a real minus sign (U+2212)
        worksheet = render(solution, kind, 4, "worksheet").replace("\u2212", "-")
        worksheet = re.sub(r"\d+(\.\d+)?(cm|pt|mm|em)\b", "", worksheet)  # lengths, not numbers
        numbers = set(re.findall(r"-?\d+\.\d+(?: \\times 10\^\{-?\d+\})?", worksheet))
        assert not shown & numbers, f"answers leak into the {kind} worksheet: {shown & numbers}"


TASK = r"(?:[a-z]+\.)?(?:S\d+\.)?\d(?:\.\d+)?"  # 1.2, 2, 3.10; S2.1.3 for sample 2 of several; b.3.1 in part (b)


def key_tasks(markdown: str) -> list[str]:
    """The numbered results of a key: **1.2** (a neuron, the loss), "#### 3.4 Gradient"
    (path form), \text{(3.4)} (delta form, updates, a batch's rows), in order, each once."""
    found = re.findall(rf"\*\*({TASK})\*\*|#### ({TASK}) Gradient|\\text\{{\(({TASK})\)\}}", markdown)
    return list(dict.fromkeys("".join(groups) for groups in found))


def sheet_tasks(markdown: str) -> list[str]:
    return list(dict.fromkeys(re.findall(rf"\*\*({TASK})\*\*", markdown)))


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.stem)
def test_key_and_worksheet_share_task_numbers(problem: Path) -> None:
    """Issue 12: the worksheet asks exactly what the key numbers, one to one: each sample's
    tasks (S1.1.1, ...), a batch's combined gradients and its one update, the first
    iteration only (the worksheet's task 5 asks for the further iterations as a whole)."""
    solution = solve(problem)
    key = key_tasks(render(solution, "md"))
    sheet = [t for t in sheet_tasks(render(solution, "md", 4, "worksheet")) if t != "5"]
    assert sorted(key) == sorted(sheet), set(key) ^ set(sheet)
    if problem in GIVEN_GRADIENTS:  # only the updates are asked: tasks 1.k
        assert key and all(re.fullmatch(r"1\.\d+", t) for t in key)
    else:
        assert any(re.fullmatch(r"([a-z]+\.)?(S\d+\.)?3\.\d+", t) for t in key)  # gradients are asked
    samples = len(solution.given.samples)
    if samples:  # every sample has its own forward pass, loss and gradients
        assert all(f"S{n}.2" in sheet for n in range(1, samples + 1))


@pytest.mark.parametrize("template", ["q2-exam.yaml", "cnn-exam.yaml"])
def test_exam_variants_key_and_worksheet_share_task_numbers(template: str, tmp_path: Path) -> None:
    out = tmp_path / "exam"
    spec = Path(__file__).resolve().parent.parent / "problems" / template
    result = CliRunner().invoke(main, ["exam", str(spec), "-n", "2", "--seed", "3", "--no-pdf", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    for variant in ("variant-01", "variant-02"):
        key = key_tasks((out / variant / "key.md").read_text(encoding="utf-8"))
        sheet = sheet_tasks((out / variant / "worksheet.md").read_text(encoding="utf-8"))
        assert key and sorted(key) == sorted(sheet), set(key) ^ set(sheet)


def page_texts(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [page.replace("\u2212", "-") for page in text.split("\f")]


@pytest.mark.parametrize("name", ["q2", "seed000_dead_relu", "seed003_softmax", "seed000_batch", "cnn_example"])
def test_short_blocks_are_not_split_across_pages(name: str, tmp_path: Path) -> None:
    """Issue 12, item 6: a neuron's working, the loss and a gradient of a few paths stay on
    one page: the page with a block's task label also holds the result it ends on."""
    require("latexmk")
    problem = Path(__file__).resolve().parent.parent / "problems" / f"{name}.yaml"
    solution = solve(problem)
    out = tmp_path / "key.pdf"
    result = CliRunner().invoke(main, ["solve", str(problem), "-f", "pdf", "-o", str(out)])
    assert result.exit_code == 0, result.output
    pages = page_texts(out)
    blocks = []  # (task label as printed, the value the block ends on)
    for step in solution.steps:
        for layer in step.forward:
            blocks += [(f"{line.task} Neuron", line.a_value) for line in layer.lines if line.task and line.worked]
        if step.loss.task:
            blocks.append((None, step.loss.value))  # the loss: its section heading
        if solution.form != "delta":
            blocks += [(f"{block.task} Gradient", block.value) for layer in step.backward
                       for block in layer.gradients if block.task and block.fits_page]
    checked = 0
    for label, value in blocks:
        if label is None:
            continue
        shown = format_number(value, 4).text.replace("\u2212", "-").split("e")[0]  # 1.7e-5 prints 1.7 × 10^-5
        holding = [i for i, page in enumerate(pages) if label + " " in page.replace("\n", " ")]
        assert len(holding) == 1, (label, holding)
        assert shown in pages[holding[0]], f"{label}: {shown} is not on page {holding[0] + 1}"
        checked += 1
    assert checked >= 5
