"""Interruptions and a full temporary folder during TeX (issue 11, items 8 and 9).

derive runs as a real process in a session of its own with a private TMPDIR; the
signal goes to its process group, as a terminal or a service manager sends it. After
derive exits, no TeX process may be left (found by its working folder, which is under
the private TMPDIR), no `derive-tex-*` folder, and no output.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from hostile_fs import DERIVE, Q2_EXAM, ROOT, assert_clean_error, derive, hidden_leftovers, tmpfs, tree
from renderers import require

Q2 = ROOT / "problems" / "q2.yaml"  # latexmk takes a second or two on it


def tex_processes(under: Path) -> list[int]:
    """Processes whose working folder is below `under` (TeX runs in derive-tex-* there)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd").startswith(str(under) + "/"):
                    found.append(int(entry))
            except OSError:
                continue  # gone, or not ours to read
    return found


def start(args: list[str], tmp: Path, ignore_hangup: bool = False) -> subprocess.Popen:
    def session() -> None:
        os.setsid()
        if ignore_hangup:  # as nohup does
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return subprocess.Popen([*DERIVE, *args], cwd=ROOT, env=dict(os.environ, TMPDIR=str(tmp)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=session)


def wait_for_tex(process: subprocess.Popen, tmp: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not tex_processes(tmp):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "TeX never started"
        time.sleep(0.02)


def stop_and_check(process: subprocess.Popen, tmp: Path, signum: int) -> str:
    """Send `signum` to derive's process group; derive must end at once, leaving no TeX
    process and no temporary folder, and say so."""
    os.killpg(process.pid, signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signum, stderr
    assert stderr.startswith(f"derive: stopped by {signal.Signals(signum).name}; "), stderr
    assert "Traceback" not in stderr
    assert tex_processes(tmp) == []
    assert [p.name for p in tmp.iterdir() if p.name.startswith("derive-tex-")] == []
    return stderr


def test_sigterm_during_pdf_ends_tex_and_writes_nothing(tmp_path: Path) -> None:
    require("latexmk")
    tmp, out = tmp_path / "tmp", tmp_path / "out"
    tmp.mkdir()
    out.mkdir()
    process = start(["solve", str(Q2), "-f", "pdf", "-o", str(out / "key.pdf")], tmp)
    wait_for_tex(process, tmp)
    assert "nothing was written" in stop_and_check(process, tmp, signal.SIGTERM)
    assert list(out.iterdir()) == []


def test_sigterm_during_exam_pdfs_keeps_the_previous_exam(tmp_path: Path) -> None:
    require("latexmk")
    tmp, out = tmp_path / "tmp", tmp_path / "exam"
    tmp.mkdir()
    assert derive("exam", Q2_EXAM, "-n", "1", "--no-pdf", "-q", "-o", out).returncode == 0
    before = tree(out)
    process = start(["exam", str(Q2_EXAM), "-n", "3", "--pdf", "--force", "-q", "-o", str(out)], tmp)
    wait_for_tex(process, tmp)
    assert "was not changed" in stop_and_check(process, tmp, signal.SIGTERM)
    assert tree(out) == before and hidden_leftovers(tmp_path) == []


def test_sigint_and_sighup_stop_unless_ignored(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the foreground group) and SIGHUP (the terminal closed) stop
    derive like SIGTERM; under nohup, where SIGHUP is ignored from the start, derive
    carries on and finishes."""
    require("latexmk")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    for signum in (signal.SIGINT, signal.SIGHUP):
        process = start(["solve", str(Q2), "-f", "pdf", "-o", str(tmp_path / "a.pdf")], tmp)
        wait_for_tex(process, tmp)
        stop_and_check(process, tmp, signum)
        assert not (tmp_path / "a.pdf").exists()
    process = start(["solve", str(Q2), "-f", "pdf", "-o", str(tmp_path / "b.pdf")], tmp, ignore_hangup=True)
    wait_for_tex(process, tmp)
    os.killpg(process.pid, signal.SIGHUP)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert (tmp_path / "b.pdf").read_bytes().startswith(b"%PDF")


# --- item 8: a full temporary folder -----------------------------------------------------------

@pytest.mark.parametrize("room", ["16k", "200k"])  # too small for document.tex / for TeX's output
def test_full_tmpdir_during_pdf_says_so(tmp_path: Path, room: str) -> None:
    require("latexmk")
    with tmpfs(tmp_path / "tmp", size=room) as tmp:
        out = tmp_path / "key.pdf"
        result = derive("solve", Q2, "-f", "pdf", "-o", out, env=dict(os.environ, TMPDIR=str(tmp)))
        message = assert_clean_error(result, "temporary folder", str(tmp), "TMPDIR")
        assert "TeX failed" not in message
        assert not out.exists()
        assert [p.name for p in tmp.iterdir() if p.name.startswith("derive-tex-")] == []
