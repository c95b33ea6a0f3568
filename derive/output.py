"""Writing files so that no reader ever sees half of one.

Each file is written to a hidden temporary file in the same folder and renamed over
its final name: a rename within a folder is atomic, so the final name holds either
the old content or the complete new one, even if the process is killed. A killed
run can leave only its hidden temporary file, which carries the writer's process id;
the next run in that folder removes those whose writer is gone.

There is no fsync: the rename already makes a killed run harmless, and the files are
regenerated from the spec at will, so surviving a power cut is not worth an fsync per
file (an exam writes hundreds).
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from .errors import OutputError

TEMP_PREFIX = ".derive-tmp-"
TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-")


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write `data` to `path` via a temporary file and a rename.

    A symlink is followed (its target is replaced, the link stays) and an existing
    file keeps its permissions; a new file gets the usual 0644.
    """
    target = Path(path).resolve() if Path(path).is_symlink() else Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {target}: folder {folder} does not exist")
    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a folder")
    clean_stale_temporaries(folder)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, temp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=folder)
    except OSError as err:
        raise OutputError(f"cannot write in {folder}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(temp, target.stat().st_mode & 0o7777 if target.exists() else 0o644)
        os.replace(temp, target)
    except BaseException as err:
        Path(temp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise OutputError(f"cannot write {target}: {err.strerror}") from None
        raise


def clean_stale_temporaries(folder: str | Path) -> None:
    """Remove temporary files left by killed runs (their writer process is gone)."""
    for stray in Path(folder).glob(TEMP_PREFIX + "*"):
        match = TEMP_NAME.match(stray.name)
        if match and not process_alive(int(match.group(1))):
            stray.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True
