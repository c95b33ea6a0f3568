"""Writing a whole folder at once (an exam): whole or not at all, one run at a time.

An exam is many files that only make sense together (answers.csv grades the sheets of
the same draw), so a run never writes into the exam folder itself. It writes a hidden
stage folder next to it, `.exam.derive-stage-<pid>-<random>`, each file as soon as it is
made (so that memory does not grow with the exam), and when every file is there it
swaps the stage into place with one rename (an atomic exchange where the
kernel offers one, renameat2 RENAME_EXCHANGE; else two renames, undone on failure and
repaired by the next run if killed between them). So the folder holds the previous
complete exam until the new one is complete; a failed, killed or interrupted run leaves
the previous exam and, at most, hidden leftovers that the next run removes.

A lock file next to the folder, `.exam.derive-lock` (flock), admits one run per folder:
a second run stops at once with an error naming the first one's process id rather
than waiting; two runs racing each other could only be "last finisher wins" anyway.

The folder belongs to the exam: a previous exam in it is replaced only with --force,
and anything in it that is not part of an exam (a file of the user's, a symbolic link,
a device) stops the run, so replacing the folder can never delete it. Nothing in the
folder is ever followed or written through; the parent folder is opened once and every
name below it is looked up relative to it, without following links.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

from .errors import OutputError
from .output import CREATE_FLAGS, TEMP_PREFIX, current_umask, kind, process_alive, reason, write_all

LOCK = ".derive-lock"
STAGE = ".derive-stage-"
OLD = ".derive-old-"
RENAME_EXCHANGE = 2  # linux/fs.h
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Entry(NamedTuple):
    """A file or folder of the existing exam, by its name relative to the folder."""

    name: str
    mode: int
    uid: int
    gid: int


class FolderWriter:
    """`with FolderWriter(target, force, owned) as out: ...; out.commit(files)`, or,
    file by file as they are made: `out.begin()`, then `out.add(name, data)` and
    `out.stream(name).write(text)`, then `out.finish()`.

    Entering locks the folder and checks what is in it (so a refusal comes before any
    long computation); `begin` makes the private stage folder, `finish` swaps it into
    place; leaving without `finish` (an error, Ctrl-C) removes the stage, so the folder
    keeps what it held. `owned(name, is_folder)` says whether a name (such as
    "variant-01/key.md") is one the exam makes.
    """

    def __init__(self, target: str | Path, force: bool, owned: Callable[[str, bool], bool],
                 what: str = "exam") -> None:
        """`what` names the folder's kind in messages ("exam", "grades") and the command
        that writes it (derive exam, derive grade)."""
        absolute = Path(os.path.abspath(target))  # lexical only: links are not resolved
        self.what, self.command = what, "derive grade" if what == "grades" else f"derive {what}"
        if not absolute.name:
            raise OutputError(f"cannot write {self.the} to {target}: choose a folder below it")
        self.target, self.parent, self.name = Path(target), absolute.parent, absolute.name
        self.force, self.owned = force, owned
        self.parent_fd: int | None = None
        self.lock_fd: int | None = None
        self.created: list[Path] = []  # parent folders this run made, removed if it fails
        self.committed = False
        self.previous: dict[str, Entry] | None = None  # the exam found on entering (None: no folder)
        self.stage: str | None = None  # the stage folder's name, once begun
        self.stage_fd: int | None = None
        self.folders: set[str] = set()  # subfolders made in the stage
        self.written: list[str] = []  # every name written to the stage, in order
        self.applied: dict[str, Entry] = {}  # the previous entry whose mode a written name took
        self.streams: list[Stream] = []  # files still being written piece by piece

    @property
    def the(self) -> str:
        return "the exam" if self.what == "exam" else f"the {self.what}"

    @property
    def one(self) -> str:
        return "an exam" if self.what == "exam" else f"a {self.what} folder"

    # --- entering and leaving -------------------------------------------------------------

    def __enter__(self) -> FolderWriter:
        try:
            self.make_parents()
            self.parent_fd = os.open(self.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self.lock()
            self.clean_leftovers()
            self.previous = self.existing()
        except BaseException as err:
            self.release(failed=True)
            if isinstance(err, OSError):
                raise OutputError(f"cannot write {self.the} {self.target}: {reason(err)}") from None
            raise
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if not self.committed:
            self.discard()
        self.release(failed=not self.committed)

    def make_parents(self) -> None:
        missing = []
        folder = self.parent
        while not folder.exists() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            try:
                os.mkdir(folder, 0o777)
            except FileExistsError:
                continue
            except OSError as err:
                raise OutputError(f"cannot create the folder {folder}: {reason(err)}") from None
            self.created.append(folder)

    def lock(self) -> None:
        """Hold `.NAME.derive-lock` (flock), or say who does. The run that holds it removes
        it at the end; a run that opened the old file just then finds it gone and retries."""
        lock_name = f".{self.name}{LOCK}"
        for _ in range(20):
            try:
                fd = os.open(lock_name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666,
                             dir_fd=self.parent_fd)
            except OSError as err:
                raise OutputError(f"cannot write {self.the} {self.target}: cannot create the lock "
                                  f"file {self.parent / lock_name}: {reason(err)}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise OutputError(f"another {self.command} run (process {holder}) is writing "
                                  f"{self.target}; wait until it has finished, then run again") from None
            if self.is_current(fd, lock_name):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
                self.lock_fd = fd
                return
            os.close(fd)
        raise OutputError(f"cannot lock {self.target}: its lock file keeps changing")

    def is_current(self, fd: int, lock_name: str) -> bool:
        try:
            now = os.stat(lock_name, dir_fd=self.parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)

    def release(self, failed: bool) -> None:
        if self.lock_fd is not None:
            try:
                os.unlink(f".{self.name}{LOCK}", dir_fd=self.parent_fd)
            except OSError:
                pass
            os.close(self.lock_fd)  # closing releases the flock
            self.lock_fd = None
        if self.parent_fd is not None:
            os.close(self.parent_fd)
            self.parent_fd = None
        if failed:
            for folder in reversed(self.created):
                try:
                    folder.rmdir()  # only if still empty
                except OSError:
                    break
            self.created = []

    def clean_leftovers(self) -> None:
        """Remove the stage and old folders of runs that were killed. A run killed between
        the two renames of the fallback swap left the folder missing and the previous exam
        under the old name: put it back first."""
        prefix = f".{self.name}"
        for leftover in sorted(os.listdir(self.parent_fd)):  # type: ignore[arg-type]
            if not leftover.startswith(prefix):
                continue
            rest = leftover[len(prefix):]
            match = re.match(rf"(?:{re.escape(STAGE)}|{re.escape(OLD)})(\d+)-", rest)
            if not match or process_alive(int(match.group(1))):
                continue
            if rest.startswith(OLD) and not self.exists(self.name):
                self.rename(leftover, self.name)
                continue
            self.remove_tree(leftover)

    # --- what is there --------------------------------------------------------------------

    def existing(self) -> dict[str, Entry] | None:
        """The existing exam's entries (None: no folder yet); refuses what must not be
        replaced: a link or file instead of the folder, foreign content, or an exam
        without --force."""
        try:
            found = os.stat(self.name, dir_fd=self.parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(found.st_mode):
            raise OutputError(f"{self.target} is a symbolic link (to {self.link_text()}); {self.command} "
                              "writes a folder of its own and never through a link: give -o the "
                              "folder itself, or remove the link")
        if not stat.S_ISDIR(found.st_mode):
            raise OutputError(f"{self.target} exists and is not a folder (it is {kind(found.st_mode)})")
        entries, foreign = self.scan()
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise OutputError(f"{self.target} holds what is not part of {self.one}: {shown}. {self.command} "
                              "replaces the whole folder and never follows links in it: move these "
                              "away, or choose another folder")
        files = sorted(e.name for e in entries.values() if not stat.S_ISDIR(e.mode))
        if files and not self.force:
            raise OutputError(f"{self.target} already holds {self.one} ({len(files)} files, e.g. "
                              f"{files[0]}); add --force to replace it")
        return entries

    def scan(self) -> tuple[dict[str, Entry], list[str]]:
        """Every entry of the folder and its subfolders, never following a link: the exam's
        own, and the rest (described for the message)."""
        entries: dict[str, Entry] = {}
        foreign: list[str] = []
        top = os.open(self.name, DIRECTORY_FLAGS, dir_fd=self.parent_fd)
        try:
            root = os.fstat(top)
            entries[""] = Entry("", root.st_mode, root.st_uid, root.st_gid)
            self.scan_folder(top, "", entries, foreign)
        finally:
            os.close(top)
        return entries, foreign

    def scan_folder(self, fd: int, prefix: str, entries: dict[str, Entry], foreign: list[str]) -> None:
        for item in sorted(os.listdir(fd)):
            name = prefix + item
            info = os.stat(item, dir_fd=fd, follow_symlinks=False)
            folder = stat.S_ISDIR(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                foreign.append(f"{name} (a symbolic link to {self.link_text(item, fd)})")
            elif item.startswith(TEMP_PREFIX) and stat.S_ISREG(info.st_mode):
                entries[name] = Entry(name, info.st_mode, info.st_uid, info.st_gid)  # a stray of ours
            elif not (folder or stat.S_ISREG(info.st_mode)):
                foreign.append(f"{name} ({kind(info.st_mode)})")
            elif not self.owned(name, folder):
                foreign.append(name + ("/" if folder else ""))
            else:
                entries[name] = Entry(name, info.st_mode, info.st_uid, info.st_gid)
                if folder:
                    sub = os.open(item, DIRECTORY_FLAGS, dir_fd=fd)
                    try:
                        self.scan_folder(sub, name + "/", entries, foreign)
                    finally:
                        os.close(sub)

    # --- writing ---------------------------------------------------------------------------

    def commit(self, files: dict[str, bytes | str]) -> list[Path]:
        """Write `files` (name -> content) as the whole new folder, then swap it into place."""
        self.begin()
        for name, data in files.items():
            self.add(name, data)
        return self.finish()

    def begin(self) -> None:
        """Make the stage folder, private (0700) until it is swapped into place."""
        stage = f".{self.name}{STAGE}{os.getpid()}-{secrets.token_hex(4)}"
        with self.failing():
            os.mkdir(stage, 0o700, dir_fd=self.parent_fd)
            self.stage = stage
            self.stage_fd = os.open(stage, DIRECTORY_FLAGS, dir_fd=self.parent_fd)

    def add(self, name: str, data: bytes | str) -> None:
        """Write one file of the new folder into the stage (its subfolder made when needed)."""
        with self.failing():
            self.make_folder(name)
            old = (self.previous or {}).get(name)
            self.write_one(self.stage_fd, name, data, old)  # type: ignore[arg-type]
            self.note_written(name, old)

    def stream(self, name: str) -> Stream:
        """A file of the new folder written piece by piece (a combined document); its
        pieces go to the stage as they come. Close it before `finish`."""
        with self.failing():
            self.make_folder(name)
            fd = os.open(name, CREATE_FLAGS, 0o666, dir_fd=self.stage_fd)
            old = (self.previous or {}).get(name)
            self.note_written(name, None)
            stream = Stream(self, fd)
            self.streams.append(stream)
            if old is not None and stat.S_ISREG(old.mode):
                self.keep_mode(fd, old)
                self.applied[name] = old
        return stream

    def read(self, name: str) -> bytes:
        """A file already in the stage (a combined document, for TeX)."""
        with self.failing():
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.stage_fd)
            try:
                with os.fdopen(fd, "rb", closefd=False) as file:
                    return file.read()
            finally:
                os.close(fd)

    def finish(self) -> list[Path]:
        """Swap the complete stage into place; the paths of every file written."""
        with self.failing():
            self.close_streams()
            old = self.existing()  # again: the folder may have changed while the exam was made
            self.settle_modes(old or {})
            fd, self.stage_fd = self.stage_fd, None
            os.close(fd)  # type: ignore[arg-type]
            self.swap(self.stage, old is not None)  # type: ignore[arg-type]
        self.stage = None
        self.committed = True
        return [self.target / name for name in self.written]

    def discard(self) -> None:
        """Remove the stage of an unfinished run: the folder keeps what it held."""
        self.close_streams()
        if self.stage_fd is not None:
            os.close(self.stage_fd)
            self.stage_fd = None
        if self.stage is not None:
            self.remove_tree(self.stage)
            self.stage = None

    def close_streams(self) -> None:
        for stream in self.streams:
            stream.close()
        self.streams = []

    @contextlib.contextmanager
    def failing(self) -> Iterator[None]:
        """An OSError while staging (a full disk, say) as the exam's OutputError; the stage
        is removed by leaving the `with` block of the writer."""
        try:
            yield
        except OSError as err:
            raise OutputError(f"cannot write {self.the} {self.target}: {reason(err)}; the folder "
                              "was not changed") from None

    def make_folder(self, name: str) -> None:
        folder = os.path.dirname(name)
        if folder and folder not in self.folders:
            os.mkdir(folder, 0o777, dir_fd=self.stage_fd)  # the kernel applies the umask
            previous = (self.previous or {}).get(folder)
            if previous is not None:
                self.set_folder(self.stage_fd, folder, previous)  # type: ignore[arg-type]
            self.folders.add(folder)
            self.note_written(folder, previous, listed=False)

    def note_written(self, name: str, old: Entry | None, listed: bool = True) -> None:
        if listed:
            self.written.append(name)
        if old is not None:
            self.applied[name] = old

    def settle_modes(self, old: dict[str, Entry]) -> None:
        """The stage folder and what it holds take the modes (and, as root, owners) of the
        previous exam's entries as they are now: the same as when each was written, unless
        the previous exam was changed meanwhile."""
        for name in [*self.folders, *self.written]:
            entry = old.get(name)
            if entry is None or self.applied.get(name) == entry:
                continue
            if stat.S_ISDIR(entry.mode) != (name in self.folders):
                continue  # a file became a folder, or back: the new exam's kind stands
            fd = os.open(name, DIRECTORY_FLAGS if name in self.folders else os.O_RDONLY | os.O_NOFOLLOW
                         | os.O_CLOEXEC, dir_fd=self.stage_fd)
            try:
                self.keep_mode(fd, entry)
            finally:
                os.close(fd)
        fd = self.stage_fd
        mode = stat.S_IMODE(old[""].mode) if "" in old else 0o777 & ~current_umask()
        if "" in old and os.geteuid() == 0:
            os.fchown(fd, old[""].uid, old[""].gid)  # type: ignore[arg-type]
        os.fchmod(fd, mode)  # type: ignore[arg-type]

    @staticmethod
    def keep_mode(fd: int, entry: Entry) -> None:
        if os.geteuid() == 0:
            os.fchown(fd, entry.uid, entry.gid)
        os.fchmod(fd, stat.S_IMODE(entry.mode))  # after chown, which clears set-id bits

    def set_folder(self, parent_fd: int, name: str, entry: Entry) -> None:
        fd = os.open(name, DIRECTORY_FLAGS, dir_fd=parent_fd)
        try:
            if os.geteuid() == 0:
                os.fchown(fd, entry.uid, entry.gid)
            os.fchmod(fd, stat.S_IMODE(entry.mode))
        finally:
            os.close(fd)

    @staticmethod
    def write_one(folder_fd: int, name: str, data: bytes | str, old: Entry | None) -> None:
        """A new file 0666 less the umask; a file the previous exam had keeps its mode
        (and, as root, owner)."""
        fd = os.open(name, CREATE_FLAGS, 0o666, dir_fd=folder_fd)
        try:
            write_all(fd, data.encode("utf-8") if isinstance(data, str) else data)
            if old is not None and stat.S_ISREG(old.mode):
                if os.geteuid() == 0:
                    os.fchown(fd, old.uid, old.gid)
                os.fchmod(fd, stat.S_IMODE(old.mode))
        finally:
            os.close(fd)

    def swap(self, stage: str, replacing: bool) -> None:
        if not replacing:
            self.rename(stage, self.name)
            return
        if exchange(self.parent_fd, stage, self.name):  # type: ignore[arg-type]
            self.remove_tree(stage)  # now the previous exam
            return
        old = f".{self.name}{OLD}{os.getpid()}-{secrets.token_hex(4)}"
        self.rename(self.name, old)
        try:
            self.rename(stage, self.name)
        except BaseException:
            self.rename(old, self.name)
            raise
        self.remove_tree(old)

    # --- small helpers --------------------------------------------------------------------

    def rename(self, source: str, target: str) -> None:
        os.rename(source, target, src_dir_fd=self.parent_fd, dst_dir_fd=self.parent_fd)

    def exists(self, name: str) -> bool:
        try:
            os.stat(name, dir_fd=self.parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def remove_tree(self, name: str) -> None:
        """Remove a folder of ours; rmtree never follows links. Errors leave a hidden
        leftover, which the next run removes."""
        try:
            shutil.rmtree(name, dir_fd=self.parent_fd)
        except FileNotFoundError:
            pass
        except OSError:
            pass

    def link_text(self, name: str | None = None, fd: int | None = None) -> str:
        try:
            return os.readlink(name or self.name, dir_fd=self.parent_fd if fd is None else fd)
        except OSError:
            return "?"


class Stream:
    """A file in the stage written piece by piece (FolderWriter.stream)."""

    def __init__(self, writer: FolderWriter, fd: int) -> None:
        self.writer, self.fd, self.size = writer, fd, 0

    def write(self, text: str | bytes) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        with self.writer.failing():
            write_all(self.fd, data)
        self.size += len(data)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def exchange(folder_fd: int, first: str, second: str) -> bool:
    """Swap two names atomically (renameat2 RENAME_EXCHANGE); False where the C library
    or the file system does not offer it."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(folder_fd, os.fsencode(first), folder_fd, os.fsencode(second), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code))
