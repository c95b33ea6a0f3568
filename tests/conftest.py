"""Shared test set-up: the tests folder on sys.path, and two CLI fixtures."""
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

# tests/ has no __init__.py; put it on sys.path so test files can
# `from oracle import ...` / `from random_specs import ...` directly.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder: file names in messages stay short, and leftovers (or a file
    a hostile spec manages to create) show up there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
