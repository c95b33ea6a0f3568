"""derive grade names the slips: each student below makes one known mistake, worked by
hand in this file (teacher-like numbers, one variant whose values are fixed), and the
grader must name it, and give follow-through credit to what follows from it."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from test_grade import grade, written

TEMPLATE = """\
title: "Slips"
inputs: {x1: {choice: [1.5]}, x2: {choice: [0.5]}}
layers:
  - activation: sigmoid
    neurons:
      h1: {bias: {choice: [0.1]}, weights: {x1: {choice: [0.4]}, x2: {choice: [-0.3]}}}
      h2: {bias: {choice: [-0.1]}, weights: {x1: {choice: [0.2]}, x2: {choice: [0.6]}}}
  - activation: relu
    neurons:
      g1: {bias: {choice: [-0.8]}, weights: {h1: {choice: [0.3]}, h2: {choice: [-0.5]}}}
      g2: {bias: {choice: [0.05]}, weights: {h1: {choice: [0.9]}, h2: {choice: [0.7]}}}
  - activation: sigmoid
    neurons:
      o: {bias: {choice: [0.2]}, weights: {g1: {choice: [0.8]}, g2: {choice: [-1.2]}}}
targets: {o: {choice: [1]}}
loss: %s
learning_rate: {choice: [0.5]}
asked: [z:h1, a:h1, z:g1, a:g1, z:o, a:o, loss, x1->h1, g2->o, h1->g2]
"""
QUANTITIES = ["z:h1", "a:h1", "z:g1", "a:g1", "z:o", "a:o", "loss",
              "grad x1->h1", "grad g2->o", "grad h1->g2", "updated x1->h1", "updated g2->o", "updated h1->g2"]
OLD = {"x1->h1": 0.4, "g2->o": -1.2, "h1->g2": 0.9}
ETA = 0.5


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def by_hand(loss_factor: float = 1.0, sigma_h1: bool = True, sigma_o: bool = True,
            relu_g1: float | None = None) -> dict[str, float]:
    """The chain rule written out for this network. loss_factor scales dL/da (2 when
    the 1/2 of the squared error is dropped); sigma_h1/sigma_o False leave that sigma'
    out; relu_g1 replaces ReLU'(z_g1) (1 for the slip; it is 0, as z_g1 < 0)."""
    x1, x2 = 1.5, 0.5
    z_h1 = 0.4 * x1 - 0.3 * x2 + 0.1
    z_h2 = 0.2 * x1 + 0.6 * x2 - 0.1
    a_h1, a_h2 = sigmoid(z_h1), sigmoid(z_h2)
    z_g1 = 0.3 * a_h1 - 0.5 * a_h2 - 0.8
    z_g2 = 0.9 * a_h1 + 0.7 * a_h2 + 0.05
    assert z_g1 < 0 < z_g2
    a_g1, a_g2 = 0.0, z_g2
    z_o = 0.8 * a_g1 - 1.2 * a_g2 + 0.2
    a_o = sigmoid(z_o)
    delta_o = loss_factor * (a_o - 1) * (a_o * (1 - a_o) if sigma_o else 1)
    delta_g1 = (relu_g1 if relu_g1 is not None else 0.0) * 0.8 * delta_o
    delta_g2 = 1.0 * -1.2 * delta_o
    delta_h1 = (a_h1 * (1 - a_h1) if sigma_h1 else 1) * (0.3 * delta_g1 + 0.9 * delta_g2)
    values = {"z:h1": z_h1, "a:h1": a_h1, "z:g1": z_g1, "a:g1": a_g1, "z:o": z_o, "a:o": a_o,
              "loss": loss_factor * 0.5 * (a_o - 1) ** 2,
              "grad x1->h1": x1 * delta_h1, "grad g2->o": a_g2 * delta_o, "grad h1->g2": a_h1 * delta_g2}
    for key, old in OLD.items():
        values[f"updated {key}"] = old - ETA * values[f"grad {key}"]
    return values


STUDENTS = {
    # the 1/2 of the half squared error dropped: loss and gradients doubled, updates follow
    "half": (by_hand(loss_factor=2.0), {"loss": "slip:half-missing", "grad x1->h1": "slip:half-missing",
                                        "grad g2->o": "slip:half-missing", "grad h1->g2": "slip:half-missing",
                                        "updated x1->h1": "FT", "updated g2->o": "FT", "updated h1->g2": "FT"}),
    # sigma'(z_h1) forgotten in the hidden gradient; its update follows
    "sigma-hidden": ({**by_hand(), "grad x1->h1": by_hand(sigma_h1=False)["grad x1->h1"],
                      "updated x1->h1": by_hand(sigma_h1=False)["updated x1->h1"]},
                     {"grad x1->h1": "slip:missing-sigma-prime", "updated x1->h1": "FT"}),
    # sigma'(z_o) forgotten in an output weight's gradient (the update is the key's: ok)
    "sigma-output": ({**by_hand(), "grad g2->o": by_hand(sigma_o=False)["grad g2->o"]},
                     {"grad g2->o": "slip:missing-sigma-prime"}),
    # ReLU'(z_g1) taken as 1 though z_g1 < 0: the dead path counted; the update follows
    "relu": ({**by_hand(), "grad x1->h1": by_hand(relu_g1=1.0)["grad x1->h1"],
              "updated x1->h1": by_hand(relu_g1=1.0)["updated x1->h1"]},
             {"grad x1->h1": "slip:relu-prime-one", "updated x1->h1": "FT"}),
}


@pytest.fixture(scope="module")
def exams(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("slips")
    found = {}
    for loss in ("half_squared_error", "squared_error"):
        (root / f"{loss}.yaml").write_text(TEMPLATE % loss)
        result = CliRunner().invoke(main, ["exam", str(root / f"{loss}.yaml"), "--variants", "1", "-o",
                                           str(root / loss), "-q", "--no-pdf"])
        assert result.exit_code == 0, result.output
        found[loss] = root / loss
    return found


def responses(students: dict[str, tuple[dict[str, float], dict[str, str]]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "variant", "task", "value"])
    for name, (values, _) in students.items():
        for quantity in QUANTITIES:
            writer.writerow([name, 1, quantity, written(values[quantity])])
    return buffer.getvalue()


def test_each_slip_is_named(exams: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(responses(STUDENTS))
    rows = grade(exams["half_squared_error"], tmp_path / "r.csv", tmp_path / "g")
    for name, (_, codes) in STUDENTS.items():
        for quantity in QUANTITIES:
            assert rows[name][f"{quantity} code"] == codes.get(quantity, "ok"), (name, quantity)
    # no credit for a slip by default; --slip-credit gives it
    assert rows["half"]["score"] == str(13 - 4)
    rows = grade(exams["half_squared_error"], tmp_path / "r.csv", tmp_path / "g2", "--slip-credit", "1")
    assert rows["half"]["score"] == "13"


def test_an_extra_half_in_a_squared_error(exams: dict[str, Path], tmp_path: Path) -> None:
    """With squared_error (no 1/2), a student who writes 1/2 (a - y)^2 gets half the loss
    and half of every gradient: this is the worked key of half_squared_error."""
    half = by_hand()
    values = {**half, "loss": half["loss"]}
    (tmp_path / "r.csv").write_text(responses({"extra": (values, {})}))
    rows = grade(exams["squared_error"], tmp_path / "r.csv", tmp_path / "g")
    row = rows["extra"]
    assert row["loss code"] == "slip:half-extra"
    for key in OLD:
        assert row[f"grad {key} code"] == "slip:half-extra"
        assert row[f"updated {key} code"] == "FT"
    assert all(row[f"{q} code"] == "ok" for q in QUANTITIES[:6])


@pytest.mark.parametrize("values", [{"a:o": "1"}, {"a:o": "-0.5"}, {"a:o": "0"}, {"z:h1": "1e300"},
                                    {"z:h1": "-1e300", "a:h1": "1e300"}])
def test_values_outside_the_domain_are_wrong_not_a_crash(tmp_path: Path, values: dict[str, str]) -> None:
    """With binary cross-entropy, an output of 1, 0 or below 0 leaves the log's domain;
    huge values overflow a double. The class is graded all the same."""
    (tmp_path / "bce.yaml").write_text(TEMPLATE % "binary_cross_entropy")
    result = CliRunner().invoke(main, ["exam", str(tmp_path / "bce.yaml"), "--variants", "1", "-o",
                                       str(tmp_path / "exam"), "-q", "--no-pdf"])
    assert result.exit_code == 0, result.output
    key = by_hand()
    rows = [["student", "variant", "task", "value"]]
    rows += [["odd", "1", q, values.get(q, written(key[q]))] for q in QUANTITIES[:6]]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (tmp_path / "r.csv").write_text(buffer.getvalue())
    row = grade(tmp_path / "exam", tmp_path / "r.csv", tmp_path / "g")["odd"]
    for quantity in values:
        assert row[f"{quantity} code"] == "wrong"
    assert row["loss code"] == "blank"
