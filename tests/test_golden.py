"""Golden files pin the layout of each problem's Markdown and LaTeX answer key.

They are for layout only: correctness of the numbers is checked against independent
oracles in test_gradients.py. After an intended layout change, regenerate them with

    DERIVE_UPDATE_GOLDEN=1 pytest tests/test_golden.py

and review the diff before committing.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from derive.api import solve
from derive.render import render

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
from canonical import PROBLEMS  # noqa: E402  (exam templates excluded)
UPDATE = os.environ.get("DERIVE_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("fmt", ["md", "tex"])
@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.stem)
def test_layout_matches_golden(problem: Path, fmt: str) -> None:
    text = render(solve(problem), fmt)
    golden = GOLDEN / f"{problem.stem}.{fmt}"
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden.name}; run with DERIVE_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the layout change is intended, regenerate with "
        "DERIVE_UPDATE_GOLDEN=1 and review the diff")


def test_every_problem_has_golden_files() -> None:
    """A golden file without its problem is stale and would hide a renamed problem."""
    expected = {f"{p.stem}.{fmt}" for p in PROBLEMS for fmt in ("md", "tex")}
    assert {p.name for p in GOLDEN.iterdir()} == expected
