"""The `derive` command through click's CliRunner: documents out, errors as messages.

On any error: exit code 2, one message on stderr starting `derive: error:` that names
the file and line, no traceback, nothing on stdout and no file written or replaced.
Expected line numbers were counted by hand from Q2 below (line 1 is the comment).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from canonical import CANONICAL, VALID_ACTIVATIONS, VALID_LOSSES

from cli import main

Q2_PATH = ROOT / "problems" / "q2.yaml"

# problems/q2.yaml as it was when these tests were written: the canonical spec with a
# comment on line 1, so every line below is one more than in DESIGN.md.
Q2 = '# Seed 002, "Question 2": the 3-2-2-1 network worked by hand (ReLU, sigmoid, sigmoid).\n' + CANONICAL
# Lines: 1 comment  2 title  3 inputs  4 layers  5 relu  6 neurons  7 h1  8 h2
# 9 sigmoid  10 neurons  11 g1  12 g2  13 sigmoid  14 neurons  15 o  16 targets
# 17 loss  18 learning_rate  (19: a line appended at the end)



def edit(old: str, new: str) -> str:
    assert Q2.count(old) == 1, f"{old!r} occurs {Q2.count(old)} times"
    return Q2.replace(old, new)


# (id, file content, line the message must name, facts the message must contain)
ERROR_CASES = [
    ("yaml-syntax", edit("learning_rate: 0.7", "learning_rate: 0.7: 1"), 18,
     ["YAML syntax error"]),
    ("missing-key", edit("loss: half_squared_error\n", ""), 2,
     ["loss: missing required key"]),
    ("extra-key", Q2 + "momentum: 0.9\n", 19,
     ["momentum: unknown key"]),
    ("non-numeric", edit("x2: 2,", "x2: two,"), 3,
     ["inputs.x2: expected a number", "'two'"]),
    ("non-finite", edit("x3: 0.21}", "x3: .inf}"), 7,
     ["layers[0].neurons.h1.weights.x3: expected a finite number"]),
    ("nan", edit("learning_rate: 0.7", "learning_rate: .nan"), 18,
     ["learning_rate: expected a finite number"]),
    ("boolean", edit("g1: {bias: 0.05,", "g1: {bias: true,"), 11,
     ["layers[1].neurons.g1.bias: expected a number, found the boolean true"]),
    ("unknown-activation", edit("activation: relu", "activation: rectifier"), 5,
     ["layers[0].activation: unknown activation 'rectifier'", VALID_ACTIVATIONS]),
    ("unknown-loss", edit("loss: half_squared_error", "loss: hinge"), 17,
     ["loss: unknown loss 'hinge'", VALID_LOSSES]),
    ("unknown-neuron", edit("weights: {h1: 0.17", "weights: {h3: 0.17"), 11,
     ["layers[1].neurons.g1.weights: unknown neuron 'h3' (known: x1, x2, x3, h1, h2)"]),
    ("later-neuron", edit("weights: {x1: 0.42", "weights: {g1: 0.42"), 7,
     ["layers[0].neurons.h1.weights: 'g1' is a neuron of layers[1], a later layer"]),
    ("duplicate-name", edit("g2: {bias: 0.05", "h2: {bias: 0.05"), 12,
     ["layers[1].neurons.h2: duplicate name: 'h2' is already a neuron of layers[0]"]),
    ("duplicate-key", Q2 + "loss: squared_error\n", 19,
     ["loss: duplicate key (first given on line 17)"]),
    ("target-not-output", edit("targets: {o: 1}", "targets: {g1: 1}"), 16,
     ["targets.g1: 'g1' is not an output neuron (outputs: o)"]),
    ("layer-without-neurons",
     edit("      g2: {bias: 0.05, weights: {h1: 0.91, h2: 0.90}}\n",
          "      g2: {bias: 0.05, weights: {h1: 0.91, h2: 0.90}}\n  - activation: tanh\n    neurons: {}\n"),
     14, ["layers[2].neurons: a layer needs at least one neuron"]),
    ("empty-file", "", 1, ["empty"]),
    ("list-file", "- 1\n- 2\n", 1, ["expected a mapping, found a list"]),
    ("scalar-file", "just some text\n", 1, ["expected a mapping, found the text 'just some text'"]),
    ("non-utf8", edit('title: "Question 2"', 'title: "Qu\xe9stion 2"').encode("latin-1"), 2, ["not UTF-8"]),
]
CASE_IDS = [case[0] for case in ERROR_CASES]


def write_spec(folder: Path, content: str | bytes) -> None:
    path = folder / "q2.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def assert_clean_failure(result) -> None:
    """Exit code 2 by sys.exit, a derive message on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == 2, result.output
    # CliRunner catches any other exception; it must have been a deliberate exit
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.startswith("derive: error:"), result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


# --- documents -----------------------------------------------------------------------


def test_solve_prints_markdown(runner):
    result = runner.invoke(main, ["solve", str(Q2_PATH)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    text = result.stdout
    assert text.startswith("# Question 2\n")
    assert "\n## " in text  # sections
    assert "|---|" in text  # tables
    assert "$" in text  # math
    assert "\\documentclass" not in text


def test_solve_tex_to_a_file_writes_a_complete_latex_document(runner, in_tmp):
    result = runner.invoke(main, ["solve", str(Q2_PATH), "-f", "tex", "-o", "q2.tex"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    text = (in_tmp / "q2.tex").read_text(encoding="utf-8")
    assert text.startswith("\\documentclass")
    assert "\\begin{document}" in text
    assert text.rstrip().endswith("\\end{document}")
    assert "Question 2" in text
    assert sorted(p.name for p in in_tmp.iterdir()) == ["q2.tex"]  # no temporary left over


def test_solve_json_parses_and_has_the_canonical_numbers(runner):
    result = runner.invoke(main, ["solve", str(Q2_PATH), "-f", "json"])
    assert result.exit_code == 0, result.output
    key = json.loads(result.stdout)
    assert key["title"] == "Question 2"
    step = key["steps"][0]
    # the values of DESIGN.md's canonical JSON answer key
    assert step["forward"]["h1"] == {"z": pytest.approx(5.02), "a": pytest.approx(5.02)}
    assert step["forward"]["o"]["z"] == pytest.approx(1.0198, abs=1e-4)
    assert step["forward"]["o"]["a"] == pytest.approx(0.7349, abs=1e-4)
    assert step["loss"] == pytest.approx(0.035127, abs=1e-6)
    weight = next(p for p in step["parameters"]
                  if p["kind"] == "weight" and p["from"] == "x1" and p["to"] == "h1")
    assert weight["symbol"] == "w_{11}^{(1)}"
    assert weight["value"] == 0.42
    assert weight["gradient"] == pytest.approx(-0.0028708, abs=1e-7)
    assert weight["updated"] == pytest.approx(0.4220096, abs=1e-7)
    bias = next(p for p in step["parameters"] if p["kind"] == "bias" and p["neuron"] == "h1")
    assert bias["symbol"] == "b_{1}^{(1)}"
    assert bias["gradient"] == pytest.approx(-0.0004785, abs=1e-7)
    assert bias["updated"] == pytest.approx(0.0103349, abs=1e-7)


def test_json_to_a_file_is_the_same_as_stdout(runner, in_tmp):
    printed = runner.invoke(main, ["solve", str(Q2_PATH), "-f", "json"]).stdout
    result = runner.invoke(main, ["solve", str(Q2_PATH), "-f", "json", "-o", "key.json"])
    assert result.exit_code == 0, result.output
    assert (in_tmp / "key.json").read_text(encoding="utf-8") == printed


def test_scientific_notation_in_a_spec_is_accepted(runner, in_tmp):
    write_spec(in_tmp, edit("learning_rate: 0.7", "learning_rate: 7e-1"))
    result = runner.invoke(main, ["solve", "q2.yaml", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["learning_rate"] == 0.7


# --- help ----------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_group_help_mentions_the_formats(runner, flag):
    result = runner.invoke(main, [flag])
    assert result.exit_code == 0
    text = result.output
    assert "solve" in text
    assert "markdown" in text.lower()
    assert "tex" in text
    assert "json" in text


def test_solve_help_mentions_the_formats(runner):
    result = runner.invoke(main, ["solve", "--help"])
    assert result.exit_code == 0
    text = result.output
    for word in ("md", "tex", "json", "Markdown", "LaTeX", "--format", "--output"):
        assert word in text, word


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize("name, content, line, facts", ERROR_CASES, ids=CASE_IDS)
def test_spec_error_is_a_clean_message(runner, in_tmp, name, content, line, facts):
    write_spec(in_tmp, content)
    result = runner.invoke(main, ["solve", "q2.yaml"])
    assert_clean_failure(result)
    assert f"q2.yaml:{line}:" in result.stderr, result.stderr
    for fact in facts:
        assert fact in result.stderr, (fact, result.stderr)


@pytest.mark.parametrize("name, content, line, facts", ERROR_CASES, ids=CASE_IDS)
def test_spec_error_writes_no_output_file(runner, in_tmp, name, content, line, facts):
    write_spec(in_tmp, content)
    result = runner.invoke(main, ["solve", "q2.yaml", "-o", "out.md"])
    assert_clean_failure(result)
    assert f"q2.yaml:{line}:" in result.stderr
    assert not (in_tmp / "out.md").exists()
    assert sorted(p.name for p in in_tmp.iterdir()) == ["q2.yaml"]  # no temporary either


@pytest.mark.parametrize("fmt", ["md", "tex", "json"])
@pytest.mark.parametrize("name, content, line, facts", ERROR_CASES, ids=CASE_IDS)
def test_spec_error_leaves_an_existing_output_untouched(runner, in_tmp, name, content, line, facts, fmt):
    write_spec(in_tmp, content)
    out = in_tmp / f"out.{fmt}"
    out.write_text("the previous answer key\n", encoding="utf-8")
    result = runner.invoke(main, ["solve", "q2.yaml", "-f", fmt, "-o", out.name])
    assert_clean_failure(result)
    assert out.read_text(encoding="utf-8") == "the previous answer key\n"
    assert sorted(p.name for p in in_tmp.iterdir()) == sorted(["q2.yaml", out.name])


def test_all_problems_are_in_one_message(runner, in_tmp):
    text = edit("x2: 2,", "x2: two,").replace("activation: relu", "activation: rectifier") \
        .replace("loss: half_squared_error", "loss: hinge")
    write_spec(in_tmp, text)
    result = runner.invoke(main, ["solve", "q2.yaml"])
    assert_clean_failure(result)
    assert "3 problems" in result.stderr
    for line in (3, 5, 17):
        assert f"q2.yaml:{line}:" in result.stderr


def test_worksheet_reports_spec_errors_the_same_way(runner, in_tmp):
    write_spec(in_tmp, edit("loss: half_squared_error", "loss: hinge"))
    result = runner.invoke(main, ["worksheet", "q2.yaml", "-o", "sheet.md"])
    assert_clean_failure(result)
    assert "q2.yaml:17: loss: unknown loss 'hinge'" in result.stderr
    assert not (in_tmp / "sheet.md").exists()


def test_nonexistent_spec(runner, in_tmp):
    result = runner.invoke(main, ["solve", "nope.yaml", "-o", "out.md"])
    assert_clean_failure(result)
    assert "nope.yaml" in result.stderr
    assert "cannot read file" in result.stderr and "No such file" in result.stderr
    assert not (in_tmp / "out.md").exists()


def test_directory_as_spec_exits_2_without_traceback(runner, in_tmp):
    (in_tmp / "problems").mkdir()
    result = runner.invoke(main, ["solve", "problems", "-o", "out.md"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "problems" in result.stderr and "directory" in result.stderr
    assert not (in_tmp / "out.md").exists()


def test_directory_as_spec_is_a_derive_error(runner, in_tmp):
    (in_tmp / "problems").mkdir()
    result = runner.invoke(main, ["solve", "problems"])
    assert result.stderr.startswith("derive: error:"), result.stderr


def test_output_folder_missing_is_a_clean_error(runner, in_tmp):
    result = runner.invoke(main, ["solve", str(Q2_PATH), "-o", "no/such/folder/out.md"])
    assert_clean_failure(result)
    assert "does not exist" in result.stderr
    assert list(in_tmp.iterdir()) == []


def test_output_may_not_replace_the_spec(runner, in_tmp):
    spec = in_tmp / "q2.yaml"
    spec.write_text(Q2_PATH.read_text())
    result = runner.invoke(main, ["solve", str(spec), "-o", str(spec)])
    assert result.exit_code == 2
    assert "spec itself" in result.stderr
    assert spec.read_text() == Q2_PATH.read_text()


def test_worksheet_json_is_a_derive_error(runner, in_tmp):
    result = runner.invoke(main, ["worksheet", str(Q2_PATH), "-f", "json"])
    assert result.exit_code == 2
    assert result.stderr.startswith("derive: error:") and "answer key" in result.stderr


def test_existing_output_keeps_its_permissions(runner, in_tmp):
    out = in_tmp / "key.md"
    out.write_text("old")
    out.chmod(0o600)
    assert runner.invoke(main, ["solve", str(Q2_PATH), "-o", str(out)]).exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_text().startswith("# Question 2")


def test_too_many_printed_paths_are_refused_with_the_limit_and_how_to_raise_it(runner, in_tmp):
    deep = Q2_PATH.parent / "deep_34442.yaml"  # 32 paths per first-layer parameter (4*4*2)
    result = runner.invoke(main, ["solve", str(deep), "--form", "paths", "--max-paths", "31", "-o", "out.md"])
    assert result.exit_code == 2
    assert "deep_34442.yaml" in result.stderr and "32 chain-rule paths" in result.stderr
    assert "--max-paths" in result.stderr and "--form delta" in result.stderr
    assert not (in_tmp / "out.md").exists()
    assert runner.invoke(main, ["solve", str(deep), "--form", "paths", "--max-paths", "32"]).exit_code == 0


def test_the_path_limit_is_on_printed_paths_only(runner, in_tmp):
    # the delta form prints no path: however many there are, the limit does not apply
    deep = Q2_PATH.parent / "deep_34442.yaml"
    for form in ("auto", "delta"):
        result = runner.invoke(main, ["solve", str(deep), "--form", form, "--max-paths", "2"])
        assert result.exit_code == 0, result.output
        assert "Delta form" in result.stdout
