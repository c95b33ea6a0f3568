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

`derive solve/worksheet -f pdf` starts pdflatex before the document exists
(preloaded_tex): TeX loads the fixed preamble while derive imports SymPy and works out
the answer, then reads the rest of the document from a pipe; the PDF is the same, byte
for byte.

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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

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

    def start(self, command: list[str], work: Path, env: dict[str, str],
              stdin: int = subprocess.DEVNULL) -> subprocess.Popen:
        with self.lock:  # so that stop() cannot miss a process started at the same moment
            if self.stopped:
                raise RenderError("stopped before TeX ran")
            process = subprocess.Popen(command, cwd=work, env=env, stdin=stdin,
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


def tex_environment() -> dict[str, str]:
    """TeX's environment: file access limited to its folder, an unwrapped log, and a fixed
    SOURCE_DATE_EPOCH, so that pdfTeX writes the same dates and file ID every time and the
    same spec gives a byte-identical PDF."""
    return dict(os.environ, openin_any="p", openout_any="p", max_print_line="10000",
                SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")


def compile_pdf(tex_source: str, runs: TexRuns | None = None, preloaded: Preloaded | None = None) -> bytes:
    """The PDF of `tex_source`; RenderError with the relevant log lines on a TeX error,
    OutputError when the temporary folder has no room. With `preloaded` (a TeX run
    started before the source existed, see preloaded_tex) its first pass is that run's."""
    command = engine_command()
    runs = runs or TexRuns()
    env = tex_environment()
    try:
        if preloaded is not None and preloaded.takes(tex_source):
            first = preloaded.finish(tex_source)  # None: TeX could not read it; a plain run then
            if first is not None:
                return passes(runs, command, preloaded.work, env, tex_source, first)
        with tempfile.TemporaryDirectory(prefix="derive-tex-") as folder:
            work = Path(folder)
            (work / "document.tex").write_text(tex_source, encoding="utf-8")
            return passes(runs, command, work, env, tex_source, run_tex(runs, command, work, env))
    except OSError as err:
        raise OutputError(f"cannot make the PDF in the temporary folder {tempfile.gettempdir()}: "
                          f"{err.strerror or err}; free some space there or set TMPDIR to a "
                          "folder with room") from None


def passes(runs: TexRuns, command: list[str], work: Path, env: dict[str, str], tex_source: str,
           first: str) -> bytes:
    """The PDF once the first pass (its output `first`) is made: more passes while the log
    asks for them (a rerun reads the whole source from document.tex)."""
    for _ in range(MAX_PASSES - 1):
        if not needs_rerun(work):
            break
        (work / "document.tex").write_text(tex_source, encoding="utf-8")
        run_tex(runs, command, work, env)
    return (work / "document.pdf").read_bytes()


def run_tex(runs: TexRuns, command: list[str], work: Path, env: dict[str, str]) -> str:
    """One TeX run in `work`; its output. The process group ends with derive, whatever
    stops it."""
    return finish_tex(runs, runs.start(command, work, env), work)


def finish_tex(runs: TexRuns, process: subprocess.Popen, work: Path, rest: bytes | None = None) -> str:
    """Wait for a TeX run started in `work` (sending it `rest` on its standard input, if
    given); its output, or the error its log explains."""
    try:
        output, _ = process.communicate(rest, timeout=TEX_TIMEOUT_SECONDS)
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


# --- a TeX run started before its document exists -----------------------------------------

BODY = "body.tex"  # in the preloaded run: a link to TeX's standard input, a pipe from derive
# TeX's own \input opens the file once (LaTeX's would open it twice: once to test it exists)
PRELOAD_SOURCE = "\\csname @@input\\endcsname " + BODY + "\n"
BODY_READ = "(./" + BODY  # in TeX's log once it opened the file


def preamble_prefix() -> str:
    """The part of every derive LaTeX document that never changes: the preamble template's
    lines before the first one Jinja fills in (the class and the packages, which are most
    of a short document's TeX time)."""
    from .resources import template_folder
    lines = (template_folder() / "_preamble.tex.j2").read_text(encoding="utf-8").splitlines(keepends=True)
    fixed = []
    for line in lines:
        if "{{" in line or "{%" in line or "{#" in line:
            break
        fixed.append(line)
    return "".join(fixed)


class Preloaded:
    """pdflatex started on the fixed preamble while derive works out the document: it
    loads the class and packages, then waits for the rest of the document on its standard
    input (a pipe from derive, reached through a link in its private folder, since TeX
    opens only files there). The PDF is the one a run on the whole document makes, byte
    for byte: the same tokens in the same order, under the same job name. If derive ends
    without sending the rest, TeX reads the end of the pipe and stops too."""

    def __init__(self, runs: TexRuns, work: Path, prefix: str, process: subprocess.Popen) -> None:
        self.runs, self.work, self.prefix, self.process = runs, work, prefix, process
        self.used = False

    def takes(self, tex_source: str) -> bool:
        """Whether this run can make `tex_source`: it begins with the preloaded preamble,
        and no other document took the run."""
        return not self.used and self.process.poll() is None and tex_source.startswith(self.prefix)

    def finish(self, tex_source: str) -> str | None:
        """Give TeX the rest of the document; the first pass's output, or None where TeX
        failed before reading it (a system where the link to standard input cannot be
        read): a plain run then makes the PDF, or reports the error."""
        self.used = True
        try:
            return finish_tex(self.runs, self.process, self.work, tex_source[len(self.prefix):].encode("utf-8"))
        except RenderError:
            if self.runs.stopped or BODY_READ in read_log(self.work / "document.log"):
                raise
            return None


@contextmanager
def preloaded_tex() -> Iterator[Preloaded | None]:
    """A pdflatex run loading the preamble now, for a document compile_pdf is given later;
    None where there is no pdflatex (compile_pdf then says so). Whatever happens meanwhile
    (a spec error, Ctrl-C), the run is ended and its folder removed on the way out."""
    if shutil.which("pdflatex") is None:
        yield None
        return
    runs = TexRuns()
    with tempfile.TemporaryDirectory(prefix="derive-tex-") as folder:
        work = Path(folder)
        try:
            prefix = preamble_prefix()
            (work / "document.tex").write_text(prefix + PRELOAD_SOURCE, encoding="utf-8")
            os.symlink("/dev/stdin", work / BODY)
            process = runs.start(engine_command(), work, tex_environment(), stdin=subprocess.PIPE)
        except OSError:  # no room, no links, no /dev/stdin: compile_pdf makes it the plain way
            yield None
            return
        try:
            yield Preloaded(runs, work, prefix, process)
        finally:
            runs.stop()
