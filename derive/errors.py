"""One exception hierarchy for everything the user can get wrong or lack.

The CLI turns a DeriveError into its message and exit code; anything else is a bug
and is allowed to show a traceback.
"""
from __future__ import annotations

from typing import NamedTuple


class DeriveError(Exception):
    """A problem the user can act on; `exit_code` is what the CLI returns."""

    exit_code = 2


class Problem(NamedTuple):
    """One thing wrong with a spec, with where it is."""

    file: str
    line: int | None  # 1-based; None when the problem has no single place
    path: str  # key path such as "layers[1].neurons.g1.weights"
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(DeriveError):
    """The spec is invalid; carries every problem found in one pass."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.path, p.message))
        if len(self.problems) == 1:
            super().__init__(str(self.problems[0]))
        else:
            super().__init__(f"{len(self.problems)} problems in the spec:\n"
                             + "\n".join(f"  {p}" for p in self.problems))


class NumericError(DeriveError):
    """A value came out NaN or infinite; we refuse to print it as a number."""


class OutputError(DeriveError):
    """An output file cannot be written (exists, bad folder, ...)."""


class ToolMissing(DeriveError):
    """An external program (a TeX engine) is needed but not installed."""

    exit_code = 1


class RenderError(DeriveError):
    """An external renderer (TeX) failed on what we generated."""

    exit_code = 1
