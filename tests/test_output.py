"""Atomic writes: a killed run leaves no partial file under an output's final name."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from derive.output import TEMP_PREFIX, clean_stale_temporaries, write_atomic

ROOT = Path(__file__).resolve().parent.parent


def test_write_replaces_whole_file(tmp_path: Path) -> None:
    out = tmp_path / "key.md"
    out.write_text("old")
    write_atomic(out, "new content")
    assert out.read_text() == "new content"
    assert [p.name for p in tmp_path.iterdir()] == ["key.md"]


def test_symlink_target_is_replaced_and_link_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_killed_writer_leaves_only_a_hidden_temporary_that_the_next_run_removes(tmp_path: Path) -> None:
    """SIGKILL a process while it writes a large output through write_atomic."""
    out = tmp_path / "key.md"
    out.write_text("previous complete key")
    # The real write_atomic, held at its most exposed moment: the temporary file is
    # complete on disk and the rename has not happened yet.
    writer = (
        "import sys, time\n"
        "from derive import output\n"
        "def held_rename(source, target, **folders):\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "output.os.rename = held_rename\n"
        "output.write_atomic(sys.argv[1], 'x' * 1_000_000)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", writer, str(out)], stdout=subprocess.PIPE,
                               text=True, cwd=ROOT)
    assert process.stdout.readline().strip() == "writing"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert out.read_text() == "previous complete key"  # the final name never held a partial file
    strays = [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert strays and all(p.name.startswith(".") for p in strays)  # hidden
    clean_stale_temporaries(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["key.md"]


def test_cleanup_keeps_temporaries_of_live_writers(tmp_path: Path) -> None:
    live = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-abc"
    live.write_text("being written")
    clean_stale_temporaries(tmp_path)
    assert live.exists()


def test_sigkill_during_pdf_build_leaves_no_output(tmp_path: Path) -> None:
    """A real derive run killed mid-way (during TeX, or earlier) writes nothing."""
    out = tmp_path / "key.pdf"
    tex = tmp_path / "tmp"  # TeX runs in a derive-tex-* folder here: killed once it is there
    tex.mkdir()
    process = subprocess.Popen([sys.executable, "-c",
                                "import sys; from cli import main; sys.exit(main())",
                                "solve", str(ROOT / "problems" / "deep_34442.yaml"), "-f", "pdf",
                                "-o", str(out)], cwd=tmp_path, env=dict(os.environ, TMPDIR=str(tex)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(tex.glob("derive-tex-*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith(".") and p != tex]
