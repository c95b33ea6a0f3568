"""Real-renderer helpers for tests: KaTeX/MathJax math checks, LaTeX builds, PDF pages.

Missing tools skip the calling test locally but fail it in CI (CI=true), so a
broken CI image can never turn renderer tests into silent skips.

Installing the tools (Debian/Ubuntu; the same commands run in CI):
    apt-get install -y --no-install-recommends texlive-latex-base \
        texlive-latex-recommended texlive-latex-extra texlive-pictures \
        latexmk poppler-utils lmodern
    (cd tests/js && npm ci)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

JS_DIR = Path(__file__).parent / "js"
CHECK_MATH = JS_DIR / "check_math.mjs"
NODE_MODULES = JS_DIR / "node_modules"

_HINTS = {
    "pdflatex": "apt-get install texlive-latex-base texlive-latex-recommended "
    "texlive-latex-extra texlive-pictures lmodern",
    "latexmk": "apt-get install latexmk",
    "pdftoppm": "apt-get install poppler-utils",
    "rsvg-convert": "apt-get install librsvg2-bin",
    "node": "install Node.js (>= 20)",
    "node_modules": f"cd {JS_DIR} && npm ci",
}


def require(tool: str) -> None:
    """Skip (locally) or fail (CI=true) the current test if `tool` is unavailable.

    `tool` is an executable name, or "node_modules" for tests/js/node_modules.
    """
    if tool == "node_modules":
        present = all((NODE_MODULES / pkg / "package.json").is_file() for pkg in ("katex", "mathjax-full"))
    else:
        present = shutil.which(tool) is not None
    if present:
        return
    msg = f"{tool} not available ({_HINTS.get(tool, 'install it')})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


# ---------------------------------------------------------------- Markdown math

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")


def _strip_fenced_blocks(markdown: str) -> str:
    """Blank out ``` / ~~~ fenced blocks (CommonMark: closed by a fence of the
    same character at least as long; an unclosed fence runs to the end).

    Indented (4-space) code blocks are not recognised: they are rare in
    generated Markdown and easily confused with list continuation lines.
    """
    out: list[str] = []
    fence: str | None = None
    for line in markdown.split("\n"):
        if fence is None:
            m = _FENCE_OPEN.match(line)
            if m:
                fence = m.group(1)
                line = ""
        else:
            stripped = line.strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                fence = None
            line = ""
        out.append(line)
    return "\n".join(out)


def _strip_code_spans(text: str) -> str:
    """Blank out `code spans`: a run of N backticks closes at the next run of exactly N."""
    out: list[str] = []
    pos = 0
    while True:
        m = _BACKTICKS.search(text, pos)
        if m is None:
            out.append(text[pos:])
            return "".join(out)
        ticks = m.group()
        close = next(
            (c for c in _BACKTICKS.finditer(text, m.end()) if c.group() == ticks),
            None,
        )
        if close is None:  # unmatched run is literal text
            out.append(text[pos : m.end()])
            pos = m.end()
        else:
            out.append(text[pos : m.start()] + " ")
            pos = close.end()


def _find_closing(text: str, start: int, delim: str) -> int:
    """Index of the next unescaped `delim` at or after `start`, or -1.

    Backslash pairs are skipped so `\\$` and `\\\\` inside TeX don't confuse us.
    """
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text.startswith(delim, i):
            return i
        else:
            i += 1
    return -1


def math_fragments(markdown: str) -> list[tuple[str, bool]]:
    """Every `$$…$$` (display=True) and `$…$` (display=False) TeX fragment, in order.

    Code blocks/spans and escaped `\\$` are ignored. Inline math follows the
    pandoc/GitHub rules so prices like "$5 and $10" are not math: the opening
    `$` is not followed by whitespace, the closing `$` is not preceded by
    whitespace nor followed by a digit, and it may not span a blank line.
    """
    text = _strip_code_spans(_strip_fenced_blocks(markdown))
    found: list[tuple[str, bool]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":  # Markdown escape, e.g. \$
            i += 2
            continue
        if c != "$":
            i += 1
            continue
        if text.startswith("$$", i):
            end = _find_closing(text, i + 2, "$$")
            if end == -1:
                i += 2
                continue
            found.append((text[i + 2 : end].strip(), True))
            i = end + 2
            continue
        end = _find_inline_close(text, i + 1)
        if end == -1:
            i += 1
            continue
        found.append((text[i + 1 : end], False))
        i = end + 1
    return found


def _find_inline_close(text: str, start: int) -> int:
    if start >= len(text) or text[start].isspace():
        return -1
    j = start
    while True:
        j = _find_closing(text, j, "$")
        if j == -1 or "\n\n" in text[start:j] or "\n \n" in text[start:j]:
            return -1
        if not text[j - 1].isspace() and not (j + 1 < len(text) and text[j + 1].isdigit()):
            return j
        j += 1


# ---------------------------------------------------------------- KaTeX / MathJax


def check_math(fragments: list[tuple[str, bool]]) -> list[str]:
    """Render every (tex, display) fragment with KaTeX and MathJax 3 in one node run.

    Returns one readable line per failure; [] means everything renders.
    """
    fragments = list(fragments)
    if not fragments:
        return []
    require("node")
    require("node_modules")
    payload = json.dumps([{"tex": tex, "display": display} for tex, display in fragments])
    proc = subprocess.run(
        ["node", str(CHECK_MATH)],
        input=payload,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"check_math.mjs crashed (exit {proc.returncode}):\n{proc.stderr}")
    errors = []
    for failure in json.loads(proc.stdout):
        tex, display = fragments[failure["index"]]
        delim = "$$" if display else "$"
        errors.append(f"[{failure['engine']}] {delim}{tex}{delim}: {failure['error']}")
    return errors


# ---------------------------------------------------------------- LaTeX / PDF


# "! msg" (classic) or "./main.tex:12: msg" (-file-line-error) starts a TeX error.
_TEX_ERROR = re.compile(r"^(! |\./main\.tex:\d+: )")


def compile_tex(tex_source: str, workdir: Path) -> tuple[Path, str]:
    """Build `tex_source` with latexmk + pdflatex in `workdir`; return (pdf path, log text).

    Raises AssertionError with the tail of the log if the build fails.
    """
    require("pdflatex")
    require("latexmk")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "main.tex").write_text(tex_source, encoding="utf-8")
    # Unwrapped log lines (TeX wraps at 79 chars by default) keep error and
    # "Overfull \hbox" lines greppable; kpathsea reads these from the environment.
    env = dict(os.environ, max_print_line="10000", error_line="254", half_error_line="238")
    proc = subprocess.run(
        [
            "latexmk",
            "-norc",  # ignore ~/.latexmkrc etc.: same behaviour on every machine
            "-pdf",
            "-interaction=nonstopmode",
            "-halt-on-error",
            "-file-line-error",
            "-no-shell-escape",
            "main.tex",
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=300,
    )
    log_path = workdir / "main.log"
    # TeX writes the log in the input's 8-bit bytes; never fail on decoding it.
    log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    pdf = workdir / "main.pdf"
    if proc.returncode != 0 or not pdf.exists():
        lines = (log or proc.stdout + proc.stderr).splitlines()
        # The log tail is mostly memory statistics; lead with the first error.
        first = next((i for i, line in enumerate(lines) if _TEX_ERROR.match(line)), None)
        excerpt = "" if first is None else "first error:\n" + "\n".join(lines[first : first + 8]) + "\n\n"
        tail = "\n".join(lines[-30:])
        raise AssertionError(f"LaTeX build failed (latexmk exit {proc.returncode})\n{excerpt}log tail:\n{tail}")
    return pdf, log


_OVERFULL = re.compile(r"^Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\).*$", re.MULTILINE)


def overfull_boxes(log: str, limit_pt: float = 1.0) -> list[str]:
    """The `Overfull \\hbox (X pt too wide) ...` log lines with X > limit_pt."""
    return [m.group(0) for m in _OVERFULL.finditer(log) if float(m.group(1)) > limit_pt]


def render_page_png(pdf: Path, page: int = 1) -> Path:
    """Rasterise one PDF page at 80 dpi; returns `<pdf stem>-page<N>.png` next to the PDF."""
    require("pdftoppm")
    pdf = Path(pdf)
    prefix = pdf.with_name(f"{pdf.stem}-page{page}")
    # -singlefile: no page-number suffix (whose zero-padding depends on page count).
    proc = subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile", str(pdf), str(prefix)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    png = prefix.with_name(prefix.name + ".png")
    if proc.returncode != 0 or not png.exists():
        raise AssertionError(f"pdftoppm failed for page {page} of {pdf}: {proc.stderr.strip()}")
    return png
