"""A PDF's TeX run started before its document exists (derive.pdf.preloaded_tex, issue 16):
the same PDF, byte for byte, as one run on the whole document; no TeX process and no
temporary folder outlive derive, however it ends."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from derive import pdf
from derive.api import solve
from derive.render import render
from renderers import require

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, str(ROOT / "cli.py")]
PROBLEMS = ["q2", "seed003_softmax", "cnn_example", "seed002_two_parts"]


def tex_processes(folder: Path) -> list[int]:
    """The processes (TeX) working in a folder under `folder`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(folder)):
            found.append(int(entry.name))
    return found


def run_cli(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=dict(os.environ, TMPDIR=str(tmp)))


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("command", ["solve", "worksheet"])
def test_preloaded_pdf_is_the_plain_runs_pdf(name: str, command: str, tmp_path: Path) -> None:
    """The command line preloads; compile_pdf on the whole source (the plain run) is the
    reference."""
    require("pdflatex")
    spec = ROOT / "problems" / f"{name}.yaml"
    out = tmp_path / "out.pdf"
    result = run_cli([command, str(spec), "-f", "pdf", "-o", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr
    kind = "solution" if command == "solve" else "worksheet"
    plain = pdf.compile_pdf(render(solve(spec), "tex", 4, kind))
    assert out.read_bytes() == plain
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("derive-tex-")]


def test_every_document_begins_with_the_preloaded_preamble() -> None:
    prefix = pdf.preamble_prefix()
    assert prefix.startswith("\\documentclass") and "\\usepackage{tikz}" in prefix
    source = render(solve(ROOT / "problems" / "q2.yaml"), "tex", 4)
    assert source.startswith(prefix)


def test_a_document_that_asks_for_a_rerun_gets_one(tmp_path: Path) -> None:
    require("pdflatex")
    require("pdftotext")
    source = pdf.preamble_prefix() + ("\\begin{document}\n\\section{First}\\label{first}\n"
                                      "See section~\\ref{first} on page~\\pageref{first}.\n\\end{document}\n")
    with pdf.preloaded_tex() as preloaded:
        data = pdf.compile_pdf(source, preloaded=preloaded)
    assert data == pdf.compile_pdf(source)
    (tmp_path / "out.pdf").write_bytes(data)
    text = subprocess.run(["pdftotext", str(tmp_path / "out.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "See section 1 on page 1" in " ".join(text.split())


def test_another_document_falls_back_to_a_plain_run() -> None:
    require("pdflatex")
    other = "\\documentclass{article}\n\\begin{document}\nplain\n\\end{document}\n"
    with pdf.preloaded_tex() as preloaded:
        assert preloaded is not None and not preloaded.takes(other)
        assert pdf.compile_pdf(other, preloaded=preloaded) == pdf.compile_pdf(other)


def test_a_tex_error_in_the_body_is_reported(tmp_path: Path) -> None:
    require("pdflatex")
    source = pdf.preamble_prefix() + "\\begin{document}\n\\undefinedcommand\n\\end{document}\n"
    with pdf.preloaded_tex() as preloaded:
        with pytest.raises(pdf.RenderError, match="Undefined control sequence"):
            pdf.compile_pdf(source, preloaded=preloaded)


def test_a_spec_error_leaves_no_tex_behind(tmp_path: Path) -> None:
    require("pdflatex")
    spec = tmp_path / "bad.yaml"
    spec.write_text("title: bad\ninputs: {x1: 1}\nlayers: []\n")
    result = run_cli(["solve", str(spec), "-f", "pdf", "-o", str(tmp_path / "k.pdf")], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "k.pdf").exists()
    assert not tex_processes(tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("derive-tex-")]


def wide_spec(folder: Path) -> Path:
    """A network that keeps derive busy for many seconds path by path (512 paths to a weight of
    the first layer), so a signal arrives meanwhile."""
    spec = folder / "wide.yaml"
    lines = ["title: wide", "inputs: {" + ", ".join(f"x{i}: 0.{i}" for i in range(1, 9)) + "}", "layers:"]
    sources = [f"x{i}" for i in range(1, 9)]
    for layer in range(1, 5):
        lines += ["  - activation: sigmoid", "    neurons:"]
        names = [f"n{layer}_{j}" for j in range(1, 9)]
        for name in names:
            weights = ", ".join(f"{s}: 0.{(layer + k) % 9 + 1}" for k, s in enumerate(sources))
            lines.append(f"      {name}: {{bias: 0.1, weights: {{{weights}}}}}")
        sources = names
    lines += ["targets: {" + ", ".join(f"{s}: 1" for s in sources) + "}",
              "loss: half_squared_error", "learning_rate: 0.5"]
    spec.write_text("\n".join(lines) + "\n")
    return spec


def started_tex(process: subprocess.Popen, folder: Path, deadline: float = 20) -> None:
    end = time.monotonic() + deadline
    while not tex_processes(folder):
        assert process.poll() is None and time.monotonic() < end, "TeX never started"
        time.sleep(0.02)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_derive_works_ends_tex_and_its_folder(signum: int, tmp_path: Path) -> None:
    require("pdflatex")
    spec = wide_spec(tmp_path)
    process = subprocess.Popen([*CLI, "solve", str(spec), "--form", "paths", "--max-paths", "1000", "-f", "pdf", "-o",
                                str(tmp_path / "k.pdf")], stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, TMPDIR=str(tmp_path)))
    started_tex(process, tmp_path)
    time.sleep(0.5)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    assert "nothing was written" in err and "Traceback" not in err
    assert not tex_processes(tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("derive-tex-")]
    assert not (tmp_path / "k.pdf").exists()


def test_tex_ends_by_itself_when_derive_is_killed(tmp_path: Path) -> None:
    """SIGKILL allows no cleanup: TeX reads the end of its input pipe and stops."""
    require("pdflatex")
    spec = wide_spec(tmp_path)
    process = subprocess.Popen([*CLI, "solve", str(spec), "--form", "paths", "--max-paths", "1000", "-f", "pdf", "-o",
                                str(tmp_path / "k.pdf")], stderr=subprocess.DEVNULL,
                               env=dict(os.environ, TMPDIR=str(tmp_path)))
    started_tex(process, tmp_path)
    process.kill()
    process.wait()
    end = time.monotonic() + 20
    while tex_processes(tmp_path) and time.monotonic() < end:
        time.sleep(0.05)
    assert not tex_processes(tmp_path)


def test_a_run_that_cannot_read_the_rest_gives_way_to_a_plain_run() -> None:
    """As on a system where the link to standard input does not work: TeX stops before
    the body, and the PDF comes from a run on the whole document."""
    require("pdflatex")
    source = render(solve(ROOT / "problems" / "q2.yaml"), "tex", 4)
    with pdf.preloaded_tex() as preloaded:
        assert preloaded is not None
        (preloaded.work / pdf.BODY).unlink()  # before TeX is through the packages
        assert pdf.compile_pdf(source, preloaded=preloaded) == pdf.compile_pdf(source)
