"""LaTeX source to PDF bytes with a real TeX engine, safely.

The engine runs in a private temporary folder with shell escape disabled, in
non-interactive mode, and with TeX's file access limited to that folder
(openin_any/openout_any = p, "paranoid"), so even a TeX command that slipped through
escaping could neither run a program nor read or write files elsewhere. Only the PDF
leaves the folder.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import RenderError, ToolMissing

TEX_TIMEOUT_SECONDS = 180
INSTALL_HINT = ("install TeX Live, e.g. on Debian/Ubuntu: apt-get install texlive-latex-base "
                "texlive-latex-recommended texlive-pictures latexmk")


def tex_available() -> bool:
    return shutil.which("pdflatex") is not None


def engine_command() -> list[str]:
    """latexmk when present (it reruns as often as needed), else plain pdflatex."""
    common = ["-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "-file-line-error"]
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        return ["latexmk", "-norc", "-pdf", "-quiet", *common, "document.tex"]
    if shutil.which("pdflatex"):
        return ["pdflatex", *common, "document.tex"]
    raise ToolMissing(f"no TeX engine found (pdflatex); {INSTALL_HINT}")


def compile_pdf(tex_source: str) -> bytes:
    """The PDF of `tex_source`; RenderError with the relevant log lines on a TeX error."""
    command = engine_command()
    # A fixed SOURCE_DATE_EPOCH makes pdfTeX write the same dates and file ID every time,
    # so the same spec gives a byte-identical PDF.
    env = dict(os.environ, openin_any="p", openout_any="p", max_print_line="10000",
               SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    with tempfile.TemporaryDirectory(prefix="derive-tex-") as folder:
        work = Path(folder)
        (work / "document.tex").write_text(tex_source, encoding="utf-8")
        # latexmk reruns by itself; pdflatex alone needs a second pass for longtable widths.
        runs = 1 if command[0] == "latexmk" else 2
        for _ in range(runs):
            try:
                result = subprocess.run(command, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                        capture_output=True, timeout=TEX_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                raise RenderError(f"TeX did not finish within {TEX_TIMEOUT_SECONDS} s") from None
            log = read_log(work / "document.log")
            if result.returncode != 0 or not (work / "document.pdf").is_file():
                raise RenderError("TeX failed on the generated LaTeX:\n" + log_excerpt(log))
        return (work / "document.pdf").read_bytes()


def read_log(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def log_excerpt(log: str, context: int = 3) -> str:
    """The error lines of a TeX log (those starting with '!' or 'file:line:'), with context."""
    lines = log.splitlines()
    picked: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^:\s]+\.tex:\d+:", line):
            picked.extend(lines[i:i + context + 1])
            picked.append("...")
    return "\n".join(picked[:60]) if picked else "\n".join(lines[-20:])
