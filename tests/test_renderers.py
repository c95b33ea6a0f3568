"""Tests of the real-renderer tooling in renderers.py, on hand-written inputs."""

import pytest

from renderers import check_math, compile_tex, math_fragments, overfull_boxes, render_page_png, require

# ---------------------------------------------------------------- math_fragments


def test_math_fragments_inline_and_display_in_order():
    md = "Loss $L = \\tfrac12 (y - \\hat y)^2$ and\n\n$$\n\\frac{\\partial L}{\\partial w} = x^\\top \\delta\n$$\nthen $a_i$."
    assert math_fragments(md) == [
        ("L = \\tfrac12 (y - \\hat y)^2", False),
        ("\\frac{\\partial L}{\\partial w} = x^\\top \\delta", True),
        ("a_i", False),
    ]


def test_math_fragments_ignores_code_spans_and_fenced_blocks():
    md = (
        "Use `$x$` or ``a `$y$` b`` literally.\n"
        "```python\ncost = '$z$'\n```\n"
        "~~~~\n$$ not math $$\n~~~~\n"
        "Real: $w$"
    )
    assert math_fragments(md) == [("w", False)]


def test_math_fragments_escaped_dollars_and_prices():
    assert math_fragments("Costs \\$5, or between $5 and $10.") == []
    md = "Escaped \\$ then $\\$x$ is math and $a \\\\ b$ too."
    assert math_fragments(md) == [("\\$x", False), ("a \\\\ b", False)]


def test_math_fragments_inline_does_not_cross_blank_line():
    assert math_fragments("a $x\n\ny$ b") == []
    assert math_fragments("a $x\ny$ b") == [("x\ny", False)]


# ---------------------------------------------------------------- check_math


def test_valid_fragments_pass_both_engines():
    fragments = [
        ("\\frac{\\partial L}{\\partial W^{(2)}} = \\delta^{(2)} \\left(a^{(1)}\\right)^\\top", True),
        ("\\begin{aligned} z &= Wx + b \\\\ a &= \\sigma(z) \\end{aligned}", True),
        ("\\sigma'(z) \\odot \\nabla_a C", False),
    ]
    assert check_math(fragments) == []


def _engines(errors):
    return {e.split("]")[0].lstrip("[") for e in errors}


def test_unclosed_frac_fails_both_engines():
    errors = check_math([("x", False), ("\\frac{1}{", False)])
    assert _engines(errors) == {"katex", "mathjax"}
    assert all("\\frac{1}{" in e for e in errors)


def test_unknown_macro_fails_both_engines():
    errors = check_math([("\\foo + 1", True)])
    assert _engines(errors) == {"katex", "mathjax"}
    assert all("\\foo" in e for e in errors), errors


def test_check_math_empty_list_needs_no_node():
    assert check_math([]) == []


# ---------------------------------------------------------------- LaTeX

TINY_DOC = r"""\documentclass{article}
\usepackage{amsmath,amssymb}
\usepackage{tikz}
\begin{document}
\begin{align}
  \frac{\partial L}{\partial w} &= \delta\, x^\top \\
  \delta &= (a - y) \odot \sigma'(z)
\end{align}
\begin{tikzpicture}
  \node[circle,draw] (x) at (0,0) {$x$};
  \node[circle,draw] (h) at (2,0) {$h$};
  \draw[->] (x) -- (h);
\end{tikzpicture}
\end{document}
"""


def test_tiny_document_compiles_and_renders(tmp_path):
    pdf, log = compile_tex(TINY_DOC, tmp_path)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "Output written on" in log
    assert overfull_boxes(log) == []
    png = render_page_png(pdf, 1)
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_too_long_unbreakable_line_reports_overfull_box(tmp_path):
    doc = (
        "\\documentclass{article}\\begin{document}\n"
        "\\mbox{" + "unbreakable" * 20 + "}\n"
        "\\end{document}\n"
    )
    _, log = compile_tex(doc, tmp_path)
    boxes = overfull_boxes(log)
    assert len(boxes) == 1 and boxes[0].startswith("Overfull \\hbox (")
    assert overfull_boxes(log, limit_pt=10_000) == []


def test_compile_error_raises_with_log_tail(tmp_path):
    with pytest.raises(AssertionError, match="Undefined control sequence"):
        compile_tex("\\documentclass{article}\\begin{document}\\nosuchmacro\\end{document}\n", tmp_path)


def test_render_missing_page_raises(tmp_path):
    pdf, _ = compile_tex("\\documentclass{article}\\begin{document}x\\end{document}\n", tmp_path)
    with pytest.raises(AssertionError, match="pdftoppm"):
        render_page_png(pdf, 5)


# ---------------------------------------------------------------- overfull_boxes / require (no tools needed)


def test_overfull_boxes_threshold():
    log = (
        "Overfull \\hbox (0.5pt too wide) in paragraph at lines 3--3\n"
        "Overfull \\hbox (12.75pt too wide) in paragraph at lines 9--9\n"
        "Underfull \\hbox (badness 10000) in paragraph at lines 1--1\n"
        "Overfull \\vbox (30.0pt too high) has occurred while \\output is active\n"
    )
    assert overfull_boxes(log) == ["Overfull \\hbox (12.75pt too wide) in paragraph at lines 9--9"]
    assert len(overfull_boxes(log, limit_pt=0.1)) == 2


def test_require_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require("definitely-not-a-real-tool-xyz")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require("definitely-not-a-real-tool-xyz")
    require("python3")  # present: no-op
