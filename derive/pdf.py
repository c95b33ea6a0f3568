"""LaTeX source to PDF bytes with a real TeX engine, safely.

The engine runs in a private temporary folder with shell escape disabled, in
non-interactive mode, and with TeX's file access limited to that folder
(openin_any/openout_any = p, "paranoid"), so even a TeX command that slipped through
escaping could neither run a program nor read or write files elsewhere. Only the PDF
leaves the folder.

pdflatex runs once, and again only when its log asks for it (LaTeX's "Rerun to get
cross-references right", longtable's "Table widths have changed"): derive's documents
have no cross-references, so one pass is the rule, and the same PDF, byte for byte, as
the two that latexmk always ran (it reruns because the .aux file is new), without
latexmk's Perl start-up.

Each TeX run gets a process group of its own (so that anything TeX starts ends with
it). Whatever stops derive meanwhile (Ctrl-C, SIGTERM, an error in another thread)
ends the whole group before the temporary folder is removed, so no TeX process and no
`derive-tex-*` folder outlives derive.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from .errors import OutputError, RenderError, ToolMissing

TEX_TIMEOUT_SECONDS = 180
INSTALL_HINT = ("install TeX Live, e.g. on Debian/Ubuntu: apt-get install texlive-latex-base "
                "texlive-latex-recommended texlive-pictures")
# What TeX and the C library say when a write fails for lack of room.
WRITE_FAILED = re.compile(r"fwrite\(\) failed|No space left on device|Disk quota exceeded|"
                          r"I can't write on file", re.IGNORECASE)
LOW_SPACE_BYTES = 1 << 20  # below this, a TeX failure is taken to be the full folder's
# What LaTeX and its packages write to the log when the next pass would come out
# differently (the log is not wrapped: max_print_line below).
RERUN = re.compile(r"\bRerun to get\b|\bRerun LaTeX\b|Table widths have changed|"
                   r"Label\(s\) may have changed|has changed\. Rerun|Please rerun")
MAX_PASSES = 5  # as latexmk's default: a document that never settles is not looped on


class TexRuns:
    """The TeX processes running for one document or exam, so they can all be ended."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[subprocess.Popen] = set()
        self.stopped = False

    def start(self, command: list[str], work: Path, env: dict[str, str]) -> subprocess.Popen:
        with self.lock:  # so that stop() cannot miss a process started at the same moment
            if self.stopped:
                raise RenderError("stopped before TeX ran")
            process = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            self.running.add(process)
        return process

    def finished(self, process: subprocess.Popen) -> None:
        with self.lock:
            self.running.discard(process)

    def stop(self) -> None:
        """End every running TeX process group; start no more."""
        with self.lock:
            self.stopped = True
            running = list(self.running)
            for process in running:
                kill_group(process)
        wait_gone(running, 2.0)


def end_group(process: subprocess.Popen, grace: float = 2.0) -> None:
    """End the process's group (TeX and anything it started) and wait a moment
    until it is gone, so that no TeX process outlives derive."""
    kill_group(process)
    wait_gone([process], grace)


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def wait_gone(processes: list[subprocess.Popen], grace: float) -> None:
    """Wait (at most `grace` seconds) until no process of these groups is left."""
    deadline = time.monotonic() + grace
    for process in processes:
        process.poll()  # reap the leader; its children go to init, which reaps them
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.01)


def tex_available() -> bool:
    return shutil.which("pdflatex") is not None


def engine_command() -> list[str]:
    """pdflatex itself, one pass (compile_pdf reruns it when the log asks)."""
    common = ["-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "-file-line-error"]
    if shutil.which("pdflatex"):
        return ["pdflatex", *common, "document.tex"]
    raise ToolMissing(f"no TeX engine found (pdflatex); {INSTALL_HINT}")


def needs_rerun(work: Path) -> bool:
    """Whether the log of the pass just made asks for another one."""
    return bool(RERUN.search(read_log(work / "document.log")))


def compile_pdf(tex_source: str, runs: TexRuns | None = None) -> bytes:
    """The PDF of `tex_source`; RenderError with the relevant log lines on a TeX error,
    OutputError when the temporary folder has no room."""
    command = engine_command()
    runs = runs or TexRuns()
    # A fixed SOURCE_DATE_EPOCH makes pdfTeX write the same dates and file ID every time,
    # so the same spec gives a byte-identical PDF.
    env = dict(os.environ, openin_any="p", openout_any="p", max_print_line="10000",
               SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    try:
        with tempfile.TemporaryDirectory(prefix="derive-tex-") as folder:
            work = Path(folder)
            (work / "document.tex").write_text(tex_source, encoding="utf-8")
            for _ in range(MAX_PASSES):
                run_tex(runs, command, work, env)
                if not needs_rerun(work):
                    break
            return (work / "document.pdf").read_bytes()
    except OSError as err:
        raise OutputError(f"cannot make the PDF in the temporary folder {tempfile.gettempdir()}: "
                          f"{err.strerror or err}; free some space there or set TMPDIR to a "
                          "folder with room") from None


def run_tex(runs: TexRuns, command: list[str], work: Path, env: dict[str, str]) -> str:
    """One TeX run in `work`; its output. The process group ends with derive, whatever
    stops it."""
    process = runs.start(command, work, env)
    try:
        output, _ = process.communicate(timeout=TEX_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        end_group(process)
        process.communicate()
        raise RenderError(f"TeX did not finish within {TEX_TIMEOUT_SECONDS} s") from None
    except BaseException:  # KeyboardInterrupt, SIGTERM (see cli.py), or stop() from another thread
        end_group(process)
        process.wait()
        raise
    finally:
        runs.finished(process)
    text = output.decode("utf-8", errors="replace")
    if process.returncode != 0 or not (work / "document.pdf").is_file():
        if runs.stopped:
            raise RenderError("stopped")
        log = read_log(work / "document.log")
        if WRITE_FAILED.search(text + log) or low_on_space(work):
            raise OutputError(f"the temporary folder {work.parent} is full, so TeX could not write "
                              "its files; free some space there or set TMPDIR to a folder with room")
        raise RenderError("TeX failed on the generated LaTeX:\n" + log_excerpt(log))
    return text


def low_on_space(folder: Path) -> bool:
    try:
        room = os.statvfs(folder)
    except OSError:
        return False
    return room.f_bavail * room.f_frsize < LOW_SPACE_BYTES or (room.f_files > 0 and room.f_favail == 0)


def read_log(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return ""


def log_excerpt(log: str, context: int = 3) -> str:
    """The error lines of a TeX log (those starting with '!' or 'file:line:'), with context."""
    lines = log.splitlines()
    picked: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^:\s]+\.tex:\d+:", line):
            picked.extend(lines[i:i + context + 1])
            picked.append("...")
    return "\n".join(picked[:60]) if picked else "\n".join(lines[-20:])
