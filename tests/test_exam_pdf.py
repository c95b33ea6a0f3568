"""The combined exam PDFs (issue 12, item 4): a title page naming the exam and the number
of variants, every variant starting on an odd page (a blank page put in when needed, for
duplex printing), a header naming the variant on every page of it; and the combined
documents made from the variants' own documents as rendered (issue 16)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from derive.exam import document_body
from renderers import require

ROOT = Path(__file__).resolve().parent.parent
Q2_EXAM = ROOT / "problems" / "q2-exam.yaml"
VARIANTS = 3


@pytest.fixture(scope="module")
def exam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require("pdflatex")
    require("pdftotext")
    folder = tmp_path_factory.mktemp("exam") / "exam"
    result = CliRunner().invoke(main, ["exam", str(Q2_EXAM), "-n", str(VARIANTS), "--seed", "5", "--pdf",
                                       "-q", "-o", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def pages(pdf: Path) -> list[str]:
    """The text of each page, laid out (pdftotext splits pages with a form feed)."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return text.split("\f")[:-1]


def header(page: str) -> str:
    lines = [line for line in page.splitlines() if line.strip()]
    return lines[0] if lines else ""


@pytest.mark.parametrize("stem, heading, plural", [("key", "answer key", "answer keys"),
                                                   ("worksheet", "worksheet", "worksheets")])
def test_combined_pdf_pages(exam: Path, stem: str, heading: str, plural: str) -> None:
    texts = pages(exam / f"{stem}-all.pdf")
    # the title page: the exam's own title (no variant's), and how many variants follow
    title = " ".join(texts[0].split())
    assert f"Question 2 — {plural}" in title and f"{VARIANTS} variants" in title
    assert ", variant" not in title
    starts: dict[int, int] = {}  # variant -> its first page (1-based)
    current = 0
    for number, text in enumerate(texts[1:], 2):
        if not text.strip():  # a blank page, only ever right before a variant starts
            assert number + 1 <= len(texts) and re.search(r"^\s*Variant \d+\s*$", texts[number], re.M), number
            assert number % 2 == 0
            continue
        top = header(text)
        found = re.fullmatch(rf"Question 2 — {heading}\s+Variant (\d+)", top.strip())
        assert found, f"page {number} has no variant header: {top!r}"
        variant = int(found.group(1))
        if variant != current:
            assert variant == current + 1, f"page {number}: variant {variant} after {current}"
            starts[variant] = number
            current = variant
            assert re.search(rf"^\s*Variant {variant}\s*$", text, re.M), f"page {number} does not open variant {variant}"
    assert sorted(starts) == list(range(1, VARIANTS + 1))
    assert all(page % 2 == 1 for page in starts.values()), starts


def test_a_blank_page_is_put_in_where_a_variant_would_start_on_an_even_page(exam: Path) -> None:
    """q2's worksheets take three pages: without a blank fourth, variant 2 would start on
    the back of variant 1. (The page test above checks where blanks may be.)"""
    texts = pages(exam / "worksheet-all.pdf")
    lengths = [i for i, text in enumerate(texts[1:], 2) if not text.strip()]
    assert len(lengths) >= VARIANTS - 1 and all(page % 2 == 0 for page in lengths)


@pytest.mark.parametrize("stem", ["key", "worksheet"])
def test_combined_tex_repeats_each_variants_document_as_rendered(exam: Path, stem: str) -> None:
    combined = (exam / f"{stem}-all.tex").read_text(encoding="utf-8")
    for k in range(1, VARIANTS + 1):
        own = (exam / f"variant-{k:02d}" / f"{stem}.tex").read_text(encoding="utf-8")
        body = document_body(own)
        assert len(body) > 1000 and body in combined
        assert f"\\section*{{Variant {k}}}\n" + body in combined
    assert combined.count("\\begin{document}") == 1 and combined.rstrip().endswith("\\end{document}")


def test_document_body_is_what_follows_the_title() -> None:
    tex = "\\documentclass{article}\n\\begin{document}\n\\maketitle\nHello\n\\end{document}\n"
    assert document_body(tex) == "Hello\n"
