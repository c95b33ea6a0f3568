"""The stages joined up: what the CLI (and a Python user) calls.

Everything is computed and rendered in memory first; only then is anything written,
so a failure at any stage leaves no file behind.
"""
from __future__ import annotations

from pathlib import Path

from .derivation import derive
from .evaluate import evaluate
from .network import build_network
from .render import render
from .solution import Solution, build_solution
from .spec import load_spec


def solve(spec_path: str | Path) -> Solution:
    """Read, derive and evaluate the spec at `spec_path`: the whole worked answer."""
    network = build_network(load_spec(spec_path))
    derivation = derive(network)
    return build_solution(derivation, evaluate(derivation))


DOCUMENTS = ("solution", "worksheet")


def document(spec_path: str | Path, fmt: str, digits: int = 4, kind: str = "solution") -> str | bytes:
    """The answer key (`kind` "solution") or worksheet for `spec_path`.

    Markdown, LaTeX and JSON come back as text, a PDF as bytes.
    """
    solution = solve(spec_path)
    if fmt == "pdf":
        from .pdf import compile_pdf  # only PDF users pay for the import
        return compile_pdf(render(solution, "tex", digits, kind))
    return render(solution, fmt, digits, kind)
