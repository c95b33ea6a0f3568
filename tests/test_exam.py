"""derive exam: reproducible variants, honest keys, exports an LMS can read."""
from __future__ import annotations

import base64
import csv
import json
import re
import subprocess
import xml.etree.ElementTree as ElementTree
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from canonical import EXAM_TEMPLATES
from cli import main
from oracle import fd_gradients, forward
from renderers import require

ROOT = Path(__file__).resolve().parent.parent
Q2_EXAM = ROOT / "problems" / "q2-exam.yaml"


def make(folder: Path, *options: str) -> None:
    result = CliRunner().invoke(main, ["exam", str(Q2_EXAM), "-o", str(folder), "-q", *options])
    assert result.exit_code == 0, result.output


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def exam30(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("exam30")
    make(folder, "--variants", "30", "--seed", "2026", "--no-pdf")
    return folder


def test_writes_every_file(exam30: Path) -> None:
    names = set(tree(exam30))
    for k in range(1, 31):
        for name in ("key.md", "key.tex", "key.json", "worksheet.md", "worksheet.tex", "spec.yaml"):
            assert f"variant-{k:02d}/{name}" in names
    assert {"answers.json", "answers.csv", "moodle.xml", "key-all.tex", "worksheet-all.tex"} <= names
    assert not [n for n in names if Path(n).name.startswith(".")]  # no temporary left


def test_same_seed_gives_byte_identical_files(exam30: Path, tmp_path: Path) -> None:
    make(tmp_path, "--variants", "30", "--seed", "2026", "--no-pdf")
    assert tree(tmp_path) == tree(exam30)


def test_variant_does_not_depend_on_how_many_are_made(exam30: Path, tmp_path: Path) -> None:
    make(tmp_path, "--variants", "10", "--seed", "2026", "--no-pdf")
    for name in ("key.json", "key.md", "spec.yaml"):
        assert (tmp_path / "variant-07" / name).read_bytes() == (exam30 / "variant-07" / name).read_bytes()


def test_other_seed_other_numbers(exam30: Path, tmp_path: Path) -> None:
    make(tmp_path, "--variants", "2", "--seed", "7", "--no-pdf")
    assert (tmp_path / "variant-01" / "spec.yaml").read_text() != \
        (exam30 / "variant-01" / "spec.yaml").read_text()


@pytest.mark.parametrize("k", range(1, 31))
def test_every_variant_is_right_and_not_degenerate(exam30: Path, k: int) -> None:
    """Gradients against finite differences of the oracle on the variant's own spec;
    no dead ReLU layer; no asked gradient that would show as 0."""
    spec = yaml.safe_load((exam30 / f"variant-{k:02d}" / "spec.yaml").read_text())
    key = json.loads((exam30 / f"variant-{k:02d}" / "key.json").read_text())
    expected = fd_gradients(spec)
    for entry in key["steps"][0]["parameters"]:
        ref = ("weight", entry["from"], entry["to"]) if entry["kind"] == "weight" else ("bias", entry["neuron"])
        assert entry["gradient"] == pytest.approx(expected[ref], rel=1e-5, abs=1e-8)
    units = forward(spec)
    hidden = spec["layers"][0]
    assert any(units[name][0] > 0 for name in hidden["neurons"])
    asked = {"g1->o": ("weight", "g1", "o"), "o": ("bias", "o"), "h1->g1": ("weight", "h1", "g1"),
             "x1->h1": ("weight", "x1", "h1")}
    assert spec.get("asked") == list(asked)
    for ref in asked.values():
        assert abs(expected[ref]) >= 0.00005  # shows as non-zero at 4 decimal places


def test_answers_csv_has_a_row_per_variant_and_a_column_per_asked_quantity(exam30: Path) -> None:
    rows = list(csv.reader((exam30 / "answers.csv").read_text().splitlines()))
    assert rows[0][0] == "variant"
    assert rows[0][1:] == ["loss", "grad g1->o", "grad b:o", "grad h1->g1", "grad x1->h1",
                           "updated g1->o", "updated b:o", "updated h1->g1", "updated x1->h1"]
    assert [r[0] for r in rows[1:]] == [str(k) for k in range(1, 31)]


def test_tolerances_accept_both_rounding_policies(exam30: Path) -> None:
    answers = json.loads((exam30 / "answers.json").read_text())
    for variant in answers["variants"]:
        for quantity, a in variant["answers"].items():
            assert abs(a["exact"] - a["key"]) <= a["tolerance"], quantity
            assert abs(a["by_hand"] - a["key"]) <= a["tolerance"], quantity
            # at least half a unit of the last digit shown (0.00729: 0.000005)
            half = 0.5 * 10.0 ** Decimal(a["shown"]).as_tuple().exponent
            assert a["tolerance"] >= half
            assert float(a["shown"]) == pytest.approx(a["key"], abs=1.01 * half)


def test_moodle_xml_is_a_quiz_of_cloze_questions(exam30: Path) -> None:
    """The structure Moodle's XML import documents: <quiz>, a category question, then
    <question type="cloze"> with name/text, questiontext/text (HTML) holding one
    {1:NUMERICAL:=answer:tolerance} per asked quantity, generalfeedback, penalty, hidden."""
    root = ElementTree.parse(exam30 / "moodle.xml").getroot()
    assert root.tag == "quiz"
    questions = root.findall("question")
    assert questions[0].get("type") == "category"
    assert questions[0].find("category/text").text.startswith("$course$/")
    cloze = questions[1:]
    assert len(cloze) == 30 and all(q.get("type") == "cloze" for q in cloze)
    answers = json.loads((exam30 / "answers.json").read_text())["variants"]
    blank = re.compile(r"\{1:NUMERICAL:=(-?\d+(?:\.\d+)?):(\d+(?:\.\d+)?)\}")
    for question, variant in zip(cloze, answers):
        assert question.find("name/text").text.endswith(f"variant {variant['variant']}")
        assert f"variant {variant['variant']}</strong>" in question.find("questiontext/text").text
        text = question.find("questiontext")
        assert text.get("format") == "html"
        blanks = blank.findall(text.find("text").text)
        expected = list(variant["answers"].values())
        assert len(blanks) == len(expected)
        for (value, tolerance), a in zip(blanks, expected):
            assert float(value) == pytest.approx(a["key"]) and float(tolerance) == pytest.approx(a["tolerance"])
        assert question.find("generalfeedback/text") is not None
        assert float(question.find("penalty").text) >= 0 and question.find("hidden").text == "0"


def test_existing_exam_is_not_overwritten_without_force(exam30: Path, tmp_path: Path) -> None:
    make(tmp_path, "--variants", "2", "--no-pdf")
    result = CliRunner().invoke(main, ["exam", str(Q2_EXAM), "-o", str(tmp_path), "-n", "2", "--no-pdf"])
    assert result.exit_code == 2 and "--force" in result.stderr
    make(tmp_path, "--variants", "2", "--no-pdf", "--force")


def test_impossible_constraints_give_up_naming_the_worst(tmp_path: Path) -> None:
    spec = tmp_path / "tight.yaml"
    spec.write_text(Q2_EXAM.read_text().replace("exam: {max_abs_z: 6, max_tries: 1000}",
                                               "exam: {max_abs_z: 0.001, max_tries: 50}"))
    result = CliRunner().invoke(main, ["exam", str(spec), "-o", str(tmp_path / "out"), "-n", "1", "--no-pdf"])
    assert result.exit_code == 2
    assert "50 tries" in result.stderr and "saturates" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_spec_without_draws_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["exam", str(ROOT / "problems" / "q2.yaml"), "-o", str(tmp_path)])
    assert result.exit_code == 2 and "no random values" in result.stderr


def test_solve_refuses_an_exam_template() -> None:
    result = CliRunner().invoke(main, ["solve", str(Q2_EXAM)])
    assert result.exit_code == 2 and "derive exam" in result.stderr


def test_exam_templates_exist() -> None:
    assert Q2_EXAM in EXAM_TEMPLATES


def test_pdfs_are_reproducible(tmp_path: Path) -> None:
    require("latexmk")
    first, second = tmp_path / "a", tmp_path / "b"
    make(first, "--variants", "2", "--seed", "3", "--pdf")
    make(second, "--variants", "2", "--seed", "3", "--pdf")
    files = tree(first)
    assert {"key-all.pdf", "worksheet-all.pdf", "variant-01/key.pdf", "variant-02/worksheet.pdf"} <= set(files)
    assert files == tree(second)


def test_sigkill_mid_exam_leaves_only_complete_files(exam30: Path, tmp_path: Path) -> None:
    """Kill a real exam run while it writes: every file under its final name is complete
    (identical to the same file of a full run), strays are hidden, and the next run
    (--force) removes them."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "exam"
    command = [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())", "exam",
               str(Q2_EXAM), "--variants", "30", "--seed", "2026", "--no-pdf", "-q", "-o", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and len(list(out.rglob("*"))) >= 12):
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written, "the run was killed before it wrote anything; nothing to check"
    full = tree(exam30)
    for path in written:
        name = str(path.relative_to(out))
        if path.name.startswith("."):
            continue  # a temporary of the killed run: hidden
        assert path.read_bytes() == full[name], f"{name} is not complete"
    make(out, "--variants", "30", "--seed", "2026", "--no-pdf", "--force")
    assert tree(out) == full  # strays removed, everything written


def cloze_numerical(text: str) -> list[list[tuple[float, float, float]]]:
    """Every {1:NUMERICAL:...} blank of a Cloze text, read as Moodle's multianswer type
    documents it: answers separated by ~, each =answer:tolerance (100%) or
    %fraction%answer:tolerance; a list of (credit percent, answer, tolerance) per blank."""
    blanks = []
    for body in re.findall(r"\{1:NUMERICAL:([^}]*)\}", text):
        parts = []
        for option in body.split("~"):
            found = re.fullmatch(r"(?:=|%(\d+)%)(-?\d+(?:\.\d+)?):(\d+(?:\.\d+)?)", option)
            assert found, f"not a Moodle NUMERICAL answer: {option!r}"
            parts.append((float(found[1] or 100), float(found[2]), float(found[3])))
        blanks.append(parts)
    return blanks


def test_relative_tolerance_and_partial_credit_reach_moodle_and_answers_json(tmp_path: Path) -> None:
    spec = tmp_path / "marked.yaml"
    text = Q2_EXAM.read_text(encoding="utf-8")
    assert "exam: {max_abs_z: 6, max_tries: 1000}" in text
    spec.write_text(text.replace("max_tries: 1000}", "max_tries: 1000, relative_tolerance: 0.01, partial_credit: 50}"),
                    encoding="utf-8")
    out = tmp_path / "exam"
    result = CliRunner().invoke(main, ["exam", str(spec), "-o", str(out), "-q", "-n", "3", "--no-pdf"])
    assert result.exit_code == 0, result.output
    answers = json.loads((out / "answers.json").read_text())["variants"]
    root = ElementTree.parse(out / "moodle.xml").getroot()
    for question, variant in zip(root.findall("question")[1:], answers):
        blanks = cloze_numerical(question.find("questiontext/text").text)
        expected = list(variant["answers"].values())
        assert len(blanks) == len(expected)
        for (full, near), a in zip(blanks, expected):
            assert full[0] == 100 and near[0] == 50 and full[1] == near[1] == pytest.approx(a["key"])
            # 1% of the value, or half a unit of its last digit, plus the two policies' spread
            assert full[2] == pytest.approx(a["tolerance"])
            assert a["tolerance"] >= 0.01 * abs(a["key"]) and near[2] == pytest.approx(10 * full[2])
            assert a["partial"] == {"credit": 50, "tolerance": pytest.approx(near[2])}


@pytest.mark.parametrize("setting, words", [
    ("relative_tolerance: 2", "below 1"),
    ("partial_credit: 150", "from 1 to 99"),
    ("partial_credit: 12.5", "from 1 to 99"),
    ("relative_tolerance: -0.1", "greater than 0"),
])
def test_bad_marking_settings_are_located(setting: str, words: str, tmp_path: Path) -> None:
    spec = tmp_path / "marked.yaml"
    spec.write_text(Q2_EXAM.read_text(encoding="utf-8").replace("max_tries: 1000}", f"max_tries: 1000, {setting}}}"),
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["exam", str(spec), "-o", str(tmp_path / "e"), "-q", "-n", "2", "--no-pdf"])
    assert result.exit_code == 2 and "exam." in result.stderr and words in result.stderr, result.output
    assert "Traceback" not in result.output and not (tmp_path / "e").exists()


def test_each_moodle_question_embeds_its_variants_network_as_an_svg(exam30: Path, tmp_path: Path) -> None:
    """The question shows the network (issue 12, item 7): an SVG file in Moodle's
    <file ... encoding="base64"> form, referenced as @@PLUGINFILE@@/network.svg, with a
    circle per neuron and each of the variant's weights and biases written on it, and
    rendered by a real SVG renderer (librsvg)."""
    require("rsvg-convert")
    svg_ns = "{http://www.w3.org/2000/svg}"
    root = ElementTree.parse(exam30 / "moodle.xml").getroot()
    for number, question in enumerate(root.findall("question")[1:4], 1):
        text = question.find("questiontext/text").text
        assert '<img src="@@PLUGINFILE@@/network.svg"' in text
        attached = question.find("questiontext/file")
        assert attached.attrib == {"name": "network.svg", "path": "/", "encoding": "base64"}
        svg = base64.b64decode(attached.text)
        picture = ElementTree.fromstring(svg)
        assert picture.tag == svg_ns + "svg"
        spec = yaml.safe_load((exam30 / f"variant-{number:02d}" / "spec.yaml").read_text(encoding="utf-8"))
        neurons = [n for layer in spec["layers"] for n in layer["neurons"].values()]
        assert len(picture.findall(svg_ns + "circle")) == len(neurons)
        words = {t.text.replace("\u2212", "-") for t in picture.iter(svg_ns + "text")}
        for n in neurons:
            assert f"b = {n['bias']}" in words
            assert {str(w) for w in n["weights"].values()} <= words
        png = tmp_path / f"v{number}.png"
        (tmp_path / "n.svg").write_bytes(svg)
        subprocess.run(["rsvg-convert", "-o", str(png), str(tmp_path / "n.svg")], check=True)
        assert png.stat().st_size > 2000
