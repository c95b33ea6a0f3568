"""PDFs from one pdflatex pass, and a second only when the log asks for it (issue 16);
PDFs stay byte-reproducible."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from derive import pdf
from derive.api import solve
from derive.render import render
from renderers import require

ROOT = Path(__file__).resolve().parent.parent
Q2 = ROOT / "problems" / "q2.yaml"

CROSS_REFERENCE = r"""\documentclass{article}
\begin{document}
\section{First}\label{first}
See section~\ref{first} on page~\pageref{first}.
\end{document}
"""


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    counted: list[int] = []
    run_tex = pdf.run_tex

    def counting(*args, **kwargs):
        counted.append(1)
        return run_tex(*args, **kwargs)
    monkeypatch.setattr(pdf, "run_tex", counting)
    return counted


def pdf_text(data: bytes, folder: Path) -> str:
    path = folder / "out.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_a_key_takes_one_pass_and_is_reproducible(passes: list[int]) -> None:
    require("pdflatex")
    source = render(solve(Q2), "tex", 4)
    first = pdf.compile_pdf(source)
    assert len(passes) == 1
    assert pdf.compile_pdf(source) == first  # byte for byte
    assert first.startswith(b"%PDF")


def test_a_document_whose_log_asks_for_a_rerun_gets_one(passes: list[int], tmp_path: Path) -> None:
    require("pdflatex")
    require("pdftotext")
    data = pdf.compile_pdf(CROSS_REFERENCE)
    assert len(passes) == 2  # the first pass says "Rerun to get cross-references right"
    text = pdf_text(data, tmp_path)
    assert "See section 1 on page 1" in " ".join(text.split())  # not "??"


def test_rerun_messages_are_recognised() -> None:
    for line in ("LaTeX Warning: Label(s) may have changed. Rerun to get cross-references right.",
                 "Package longtable Warning: Table widths have changed. Rerun LaTeX.",
                 "Package rerunfilecheck Warning: File `document.out' has changed. Rerun"):
        assert pdf.RERUN.search(line), line
    for line in ("Package rerunfilecheck Info: Checksums for `document.out':", "No pages of output.",
                 "LaTeX Warning: No \\author given."):
        assert not pdf.RERUN.search(line), line
