"""What a worksheet asks (issue 12, items 2 and 3 in part): the form of working the key
uses, and a line for the student's name and ID."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

PROBLEMS = Path(__file__).resolve().parent.parent / "problems"


def worksheet(problem: str, *options: str) -> str:
    result = CliRunner().invoke(main, ["worksheet", str(PROBLEMS / problem), *options])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_a_delta_key_gets_a_worksheet_that_asks_for_deltas(fmt: str) -> None:
    # deep_34442 has 32 paths into a first-layer weight: its key works deltas (auto form)
    key = CliRunner().invoke(main, ["solve", str(PROBLEMS / "deep_34442.yaml")]).stdout
    assert "Delta form" in key
    sheet = worksheet("deep_34442.yaml", "-f", fmt)
    assert "one product per path" not in sheet
    assert "Work each neuron's" in sheet and r"a_i \delta_j" in sheet


@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_a_paths_key_gets_a_worksheet_that_asks_for_paths(fmt: str) -> None:
    sheet = worksheet("q2.yaml", "-f", fmt)
    assert "one product per path" in sheet and "Work each neuron's" not in sheet


@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_every_worksheet_has_a_name_and_id_line(fmt: str) -> None:
    for problem in ("q2.yaml", "seed000_batch.yaml", "deep_34442.yaml"):
        sheet = worksheet(problem, "-f", fmt)
        tasks = sheet[sheet.index("Tasks"):]
        assert "Name:" in tasks[:300] and "Student ID:" in tasks[:400], problem
