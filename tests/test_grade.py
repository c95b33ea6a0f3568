"""derive grade: every mark and code for students of known behaviour.

An exam is made with the CLI; each student's answers are worked in this file, in
plain Python (the chain rule written out by hand), from the variant's spec.yaml (yaml.safe_load), never from derive's key: the
right working, a slip in one forward value carried consistently through everything
after it, a sign slip in every update, a missing path in one hidden gradient, random
numbers, blanks. The expected code of every task follows from how the student worked
it; the only number taken from the exam is each task's tolerance, as a threshold.
"""
from __future__ import annotations

import csv
import io
import json
import math
import random
from pathlib import Path
from typing import Callable

import pytest
import yaml
from click.testing import CliRunner

from cli import main

TEMPLATE = """\
title: "Chain"
inputs:
  x1: {uniform: [0.2, 2], decimals: 1}
  x2: {uniform: [0.2, 2], decimals: 1}
layers:
  - activation: relu
    neurons:
      h1:
        bias: {uniform: [0.05, 0.2], decimals: 2}
        weights: {x1: {uniform: [0.1, 1]}, x2: {uniform: [0.1, 1]}}
      h2:
        bias: {uniform: [-0.2, 0.2], decimals: 2}
        weights: {x1: {uniform: [-0.5, 1]}, x2: {uniform: [-0.5, 1]}}
  - activation: sigmoid
    neurons:
      g1:
        bias: {uniform: [-0.2, 0.2], decimals: 2}
        weights: {h1: {uniform: [0.3, 1]}, h2: {uniform: [-1, 1]}}
      g2:
        bias: {uniform: [-0.2, 0.2], decimals: 2}
        weights: {h1: {uniform: [0.3, 1]}, h2: {uniform: [-1, 1]}}
  - activation: sigmoid
    neurons:
      o:
        bias: {uniform: [-0.2, 0.2], decimals: 2}
        weights: {g1: {uniform: [0.5, 1.5]}, g2: {uniform: [0.5, 1.5]}}
targets: {o: {choice: [0, 1]}}
loss: half_squared_error
learning_rate: {choice: [0.5, 0.7]}
asked: [z:h1, a:h1, z:h2, a:h2, z:g1, a:g1, z:g2, a:g2, z:o, a:o, loss, g1->o, o, h1->g1, x1->h1, h2]
"""
VARIANTS = 6
PARAMETERS = ("g1->o", "b:o", "h1->g1", "x1->h1", "b:h2")


# --- an independent oracle: the network worked in plain Python from spec.yaml -------------------

def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def read_variant(exam: Path, number: int) -> dict:
    text = (exam / f"variant-{number:02d}" / "spec.yaml").read_text()
    return yaml.safe_load(text)


Slip = Callable[[str, float], float]


def work(spec: dict, slip: Slip = lambda quantity, value: value, drop_path: str | None = None) -> dict[str, float]:
    """Every asked quantity as a student computes it; `slip(quantity, value)` may change
    a value as it is written, and everything after it is computed from the changed value
    (error carried forward). `drop_path` leaves out the path through that neuron of
    layer 2 from the gradient of x1->h1."""
    out: dict[str, float] = {}
    a = dict(spec["inputs"])
    z: dict[str, float] = {}
    kinds: dict[str, str] = {}
    for layer in spec["layers"]:
        for name, neuron in layer["neurons"].items():
            z[name] = out[f"z:{name}"] = slip(f"z:{name}", sum(w * a[s] for s, w in neuron["weights"].items())
                                              + neuron["bias"])
            value = max(z[name], 0.0) if layer["activation"] == "relu" else sigmoid(z[name])
            a[name] = out[f"a:{name}"] = slip(f"a:{name}", value)
            kinds[name] = layer["activation"]
    y = spec["targets"]["o"]
    out["loss"] = slip("loss", 0.5 * (a["o"] - y) ** 2)

    def prime(name: str) -> float:  # as a student computes it: from the written a and z
        return a[name] * (1 - a[name]) if kinds[name] == "sigmoid" else float(z[name] > 0)

    weights = {(s, n): w for layer in spec["layers"] for n, neuron in layer["neurons"].items()
               for s, w in neuron["weights"].items()}
    delta = {"o": (a["o"] - y) * prime("o")}
    for g in ("g1", "g2"):
        delta[g] = prime(g) * weights[(g, "o")] * delta["o"]
    paths = {g: delta["o"] * weights[(g, "o")] * prime(g) * weights[("h1", g)] * prime("h1") * a["x1"]
             for g in ("g1", "g2")}
    for h in ("h1", "h2"):
        delta[h] = prime(h) * sum(weights[(h, g)] * delta[g] for g in ("g1", "g2"))
    gradients = {"g1->o": a["g1"] * delta["o"], "b:o": delta["o"], "h1->g1": a["h1"] * delta["g1"],
                 "x1->h1": sum(p for g, p in paths.items() if g != drop_path), "b:h2": delta["h2"]}
    assert drop_path is not None or math.isclose(gradients["x1->h1"], a["x1"] * delta["h1"], abs_tol=1e-15)
    old = {"g1->o": weights[("g1", "o")], "b:o": spec["layers"][2]["neurons"]["o"]["bias"],
           "h1->g1": weights[("h1", "g1")], "x1->h1": weights[("x1", "h1")],
           "b:h2": spec["layers"][0]["neurons"]["h2"]["bias"]}
    for key in PARAMETERS:
        g = out[f"grad {key}"] = slip(f"grad {key}", gradients[key])
        out[f"updated {key}"] = slip(f"updated {key}", old[key] - spec["learning_rate"] * g)
    out["path:g1"], out["path:g2"] = paths["g1"], paths["g2"]
    return out


def written(value: float) -> str:
    """As a student writes it: 4 decimal places, but at least 3 significant figures."""
    if value == 0:
        return "0"
    places = max(4, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{places}f}"


# --- the exam and the students ---------------------------------------------------------------

@pytest.fixture(scope="module")
def exam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grade")
    (root / "chain.yaml").write_text(TEMPLATE)
    result = CliRunner().invoke(main, ["exam", str(root / "chain.yaml"), "--variants", str(VARIANTS),
                                       "--seed", "2026", "-o", str(root / "exam"), "-q", "--no-pdf"])
    assert result.exit_code == 0, result.output
    return root / "exam"


def quantities(exam: Path) -> list[str]:
    with open(exam / "answers.csv", newline="") as handle:
        return next(csv.reader(handle))[1:]


def tolerances(exam: Path) -> dict[int, dict[str, float]]:
    document = json.loads((exam / "answers.json").read_text())
    return {v["variant"]: {q: a["tolerance"] for q, a in v["answers"].items()} for v in document["variants"]}


class Student:
    """A student's written answers and the code each one must get."""

    def __init__(self, name: str, variant: int, answers: dict[str, str | None], codes: dict[str, set[str]]) -> None:
        self.name, self.variant, self.answers, self.codes = name, variant, answers, codes


def expected(value: float, key: float, tolerance: float, otherwise: str) -> set[str]:
    """ok when the written value is the key's, `otherwise` when clearly not; both near
    the edge of the tolerance (never, with these draws: the test checks how many)."""
    if abs(value - key) <= 0.5 * tolerance:
        return {"ok"}
    if abs(value - key) > 3 * tolerance:
        return {otherwise}
    return {"ok", otherwise}


def students(exam: Path) -> list[Student]:
    names = quantities(exam)
    tol = tolerances(exam)
    found = []
    for variant in range(1, VARIANTS + 1):
        spec = read_variant(exam, variant)
        key = work(spec)
        t = tol[variant]

        def make(name: str, values: dict[str, float], codes: dict[str, set[str]],
                 blank: set[str] = frozenset()) -> Student:  # type: ignore[assignment]
            return Student(f"{name}-{variant}", variant,
                           {q: None if q in blank else written(values[q]) for q in names}, codes)

        found.append(make("right", key, {q: {"ok"} for q in names}))

        # z of g1 added up wrongly (0.3 too much); everything after it follows from it
        slipped = work(spec, lambda q, v: v + 0.3 if q == "z:g1" else v)
        codes = {q: expected(slipped[q], key[q], t[q], "FT") for q in names}
        codes["z:g1"] = {"wrong"}
        found.append(make("carried", slipped, codes))

        # every update with + instead of -: w + eta g
        sign = dict(key)
        for p in PARAMETERS:
            sign[f"updated {p}"] = key[f"updated {p}"] + 2 * spec["learning_rate"] * key[f"grad {p}"]
        codes = {q: {"ok"} for q in names}
        codes.update({f"updated {p}": expected(sign[f"updated {p}"], key[f"updated {p}"], t[f"updated {p}"],
                                               "slip:update-sign") for p in PARAMETERS})
        found.append(make("sign", sign, codes))

        # the path through g2 left out of dL/dw(x1->h1); the update follows from it
        dropped = work(spec, drop_path="g2")
        codes = {q: {"ok"} for q in names}
        codes["grad x1->h1"] = expected(dropped["grad x1->h1"], key["grad x1->h1"], t["grad x1->h1"],
                                        "slip:missing-path")
        codes["updated x1->h1"] = expected(dropped["updated x1->h1"], key["updated x1->h1"],
                                           t["updated x1->h1"], "FT")
        found.append(make("path", dropped, codes))

        # random numbers in the range of the answers
        rng = random.Random(f"grade:{variant}")
        noise = {q: rng.uniform(-2, 2) for q in names}
        found.append(make("random", noise, {q: {"wrong"} for q in names}))

        # every other task left blank, the rest right; and one carried slip with a blank
        # between: a:g1 blank is taken as the value the student's own z:g1 gives
        half = set(names[::2])
        found.append(make("blanks", key, {q: {"blank"} if q in half else {"ok"} for q in names}, half))
        codes = {q: expected(slipped[q], key[q], t[q], "FT") for q in names}
        codes["z:g1"], codes["a:g1"] = {"wrong"}, {"blank"}
        found.append(make("gap", slipped, codes, {"a:g1"}))
    return found


def long_csv(found: list[Student]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "variant", "task", "value"])
    for student in found:
        for quantity, value in student.answers.items():
            writer.writerow([student.name, student.variant, quantity, "-" if value is None else value])
    return buffer.getvalue()


def grade(exam: Path, responses: Path, out: Path, *options: str) -> dict[str, dict[str, str]]:
    result = CliRunner().invoke(main, ["grade", str(exam), str(responses), "-o", str(out), *options])
    assert result.exit_code == 0, result.output
    with open(out / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def check_codes(rows: dict[str, dict[str, str]], found: list[Student], follow_through: float = 1.0) -> None:
    """Every code as expected, every mark as the code earns, the score their sum."""
    assert set(rows) == {s.name for s in found}
    edges = 0
    for student in found:
        row = rows[student.name]
        assert int(row["variant"]) == student.variant
        credit = {"ok": 1.0, "FT": follow_through}
        total = 0.0
        for quantity, codes in student.codes.items():
            edges += len(codes) > 1
            code = row[f"{quantity} code"]
            assert code in codes, (student.name, quantity, code, codes)
            assert float(row[f"{quantity} mark"]) == credit.get(code, 0.0)
            total += credit.get(code, 0.0)
        assert float(row["score"]) == pytest.approx(total)
        assert int(row["max"]) == len(student.codes)
    assert edges <= len(found)  # the edge of the tolerance is rare, not the rule


def test_every_mark_and_code_from_the_long_csv(exam: Path, tmp_path: Path) -> None:
    found = students(exam)
    (tmp_path / "responses.csv").write_text(long_csv(found))
    rows = grade(exam, tmp_path / "responses.csv", tmp_path / "grades")
    check_codes(rows, found)
    # the behaviours really happened: FT, each slip and blanks are all there
    codes = {row[f"{q} code"] for row in rows.values() for q in quantities(exam)}
    assert {"ok", "FT", "wrong", "blank", "slip:update-sign", "slip:missing-path"} <= codes


def test_follow_through_half_and_none(exam: Path, tmp_path: Path) -> None:
    found = [s for s in students(exam) if s.name.startswith(("carried", "right"))]
    (tmp_path / "responses.csv").write_text(long_csv(found))
    for option, credit in (("half", 0.5), ("none", 0.0)):
        rows = grade(exam, tmp_path / "responses.csv", tmp_path / option, "--follow-through", option)
        check_codes(rows, found, credit)


def test_slip_credit_is_given_only_when_asked(exam: Path, tmp_path: Path) -> None:
    found = [s for s in students(exam) if s.name.startswith("sign")]
    (tmp_path / "responses.csv").write_text(long_csv(found))
    rows = grade(exam, tmp_path / "responses.csv", tmp_path / "g", "--slip-credit", "0.5")
    slips = [row[f"updated {p} mark"] for row in rows.values() for p in PARAMETERS
             if row[f"updated {p} code"] == "slip:update-sign"]
    assert slips and all(mark == "0.5" for mark in slips)


def test_tasks_by_number_as_the_worksheet_numbers_them(exam: Path, tmp_path: Path) -> None:
    """The worksheet's own task numbers (read from worksheet.md) name the same answers."""
    import re

    sheet = (exam / "variant-01" / "worksheet.md").read_text()
    spec = read_variant(exam, 1)
    key = work(spec)
    rows = [["student", "variant", "task", "value"]]
    neurons = [n for layer in spec["layers"] for n in layer["neurons"]]
    for match in re.finditer(r"\*\*(1\.\d+)\*\* Neuron (\w+)", sheet):
        rows += [["ann", "1", f"{match[1]}z", written(key[f"z:{match[2]}"])],
                 ["ann", "1", f"{match[1]}a", written(key[f"a:{match[2]}"])]]
    assert len(rows) == 1 + 2 * len(neurons)
    symbols = {"g1->o": r"w_{11}^{(3)}", "b:o": r"b_{1}^{(3)}", "h1->g1": r"w_{11}^{(2)}",
               "x1->h1": r"w_{11}^{(1)}", "b:h2": r"b_{2}^{(1)}"}
    for p, symbol in symbols.items():
        gradient = re.search(r"\*\*(3\.\d+)\*\* \$\\dfrac\{\\partial L\}\{\\partial " + re.escape(symbol), sheet)
        update = re.search(r"\*\*(4\.\d+)\*\* new \$" + re.escape(symbol), sheet)
        rows += [["ann", "1", gradient[1], written(key[f"grad {p}"])],  # type: ignore[index]
                 ["ann", "1", update[1], written(key[f"updated {p}"])]]  # type: ignore[index]
    rows.append(["ann", "1", "2", written(key["loss"])])
    with open(tmp_path / "r.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    row = grade(exam, tmp_path / "r.csv", tmp_path / "g")["ann"]
    assert row["score"] == row["max"] == str(len(quantities(exam)))


def test_feedback_and_summary(exam: Path, tmp_path: Path) -> None:
    found = [s for s in students(exam) if s.variant == 1]
    (tmp_path / "responses.csv").write_text(long_csv(found))
    out = tmp_path / "g"
    grade(exam, tmp_path / "responses.csv", out)
    assert sorted(p.name for p in (out / "feedback").iterdir()) == sorted(f"{s.name}.md" for s in found)
    carried = (out / "feedback" / "carried-1.md").read_text()
    spec = read_variant(exam, 1)
    slipped = work(spec, lambda q, v: v + 0.3 if q == "z:g1" else v)
    line = next(line for line in carried.splitlines() if "| a:g1 |" in line)
    # the value expected from the student's own z:g1: sigma of it, as this file computes
    own = sigmoid(float(written(slipped["z:g1"])))
    assert f"{own:.4f}" in line and "follow-through" in line
    summary = (out / "summary.md").read_text()
    row = next(line for line in summary.splitlines() if line.startswith("| updated g1->o |"))
    assert "update-sign (1)" in row


def test_same_input_gives_byte_identical_output(exam: Path, tmp_path: Path) -> None:
    found = students(exam)
    text = long_csv(found)
    (tmp_path / "a.csv").write_text(text)
    lines = text.splitlines()
    (tmp_path / "b.csv").write_text("\n".join(lines[:1] + lines[:0:-1]) + "\n")  # rows in another order
    grade(exam, tmp_path / "a.csv", tmp_path / "ga")
    grade(exam, tmp_path / "b.csv", tmp_path / "gb")
    files = sorted(p.relative_to(tmp_path / "ga") for p in (tmp_path / "ga").rglob("*") if p.is_file())
    assert files
    for name in files:
        assert (tmp_path / "ga" / name).read_bytes() == (tmp_path / "gb" / name).read_bytes()


# --- asked: forward values and the loss ---------------------------------------------------------

def test_answers_follow_the_forward_pass_then_loss_gradients_updates(exam: Path) -> None:
    """answers.csv: the forward values in the order the network computes them (not the
    spec's), then the loss, the gradients as listed, their updates as listed."""
    forward = [f"{part}:{n}" for n in ("h1", "h2", "g1", "g2", "o") for part in ("z", "a")]
    assert quantities(exam) == forward + ["loss"] + [f"grad {p}" for p in PARAMETERS] \
        + [f"updated {p}" for p in PARAMETERS]
    # the values are the network's (this file's oracle), as the key shows them
    with open(exam / "answers.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        key = work(read_variant(exam, int(row["variant"])))
        for quantity in forward + ["loss"]:
            assert abs(float(row[quantity]) - key[quantity]) <= 0.5 * 10 ** -4 + 1e-12, quantity


def test_the_spec_yaml_of_a_variant_keeps_the_forward_items(exam: Path) -> None:
    spec = read_variant(exam, 1)
    assert spec["asked"][:4] == ["z:h1", "a:h1", "z:h2", "a:h2"] and "loss" in spec["asked"]


@pytest.mark.parametrize("asked, message", [
    ("[z:x1, x1->h1]", "asked[0]: no weight or bias 'z:x1'"),  # an input has no z
    ("[a:nobody, x1->h1]", "asked[0]: no weight or bias 'a:nobody'"),
    ("[y:o, x1->h1]", "asked[0]: no weight or bias 'y:o'"),
    ("[z:h1, a:h1, loss]", "asked: names no weight or bias"),
])
def test_bad_forward_items_are_located(tmp_path: Path, asked: str, message: str) -> None:
    from derive.errors import SpecError
    from derive.spec import load_spec

    spec = tmp_path / "q.yaml"
    spec.write_text(TEMPLATE.replace("asked: [", "asked_old: [").replace("asked_old", "# ") + f"asked: {asked}\n")
    with pytest.raises(SpecError) as error:
        load_spec(spec)
    assert f"{spec}:" in str(error.value) and message in str(error.value)


def test_forward_items_are_read_with_spaces_and_validate_against_the_schema() -> None:
    from jsonschema import Draft7Validator

    from derive.schema import schema
    from derive.spec import parse_spec

    text = TEMPLATE.replace("asked: [z:h1, a:h1,", "asked: ['z : h1', 'a: h1', loss,")
    assert parse_spec(text).asked[:3] == ("z:h1", "a:h1", "loss")
    document = yaml.safe_load(text)
    assert not list(Draft7Validator(schema()).iter_errors(document))
    bad = {**document, "asked": ["q:h1"]}
    assert list(Draft7Validator(schema()).iter_errors(bad))


def test_python_api_grades_without_writing(exam: Path, tmp_path: Path) -> None:
    from derive.api import grade as grade_api
    from derive.errors import DeriveError

    found = [s for s in students(exam) if s.name == "carried-3"]
    (tmp_path / "r.csv").write_text(long_csv(found))
    grading = grade_api(exam, tmp_path / "r.csv", follow_through="half")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]
    (student,) = grading.graded  # type: ignore[attr-defined]
    for mark in student.marks:
        assert mark.code in found[0].codes[mark.task.quantity]
        assert mark.credit == {"ok": 1.0, "FT": 0.5}.get(mark.code, 0.0)
    assert set(grading.files) == {"grades.csv", "summary.md", "feedback/carried-3.md"}  # type: ignore[attr-defined]
    with pytest.raises(DeriveError, match="follow-through is one of full, half, none"):
        grade_api(exam, tmp_path / "r.csv", follow_through="most")
