"""Writing an output file (`-o FILE`) so that no reader ever sees half of one, and
nothing is written anywhere the user did not point.

What `-o` names decides how it is written:

- no file, or a regular file: a hidden temporary file is made in the same folder and
  renamed over the name. A rename within a folder is atomic, so the name holds the old
  content or the complete new one, even if the process is killed. A new file gets the
  mode 0666 less the umask (the kernel applies it); a replaced file keeps its mode and,
  when root writes it, its owner and group.
- a character device or a FIFO (/dev/null, /dev/stdout into a pipe, a named pipe): written
  into directly, as a shell's `>` does. Renaming over it would replace the device itself.
- a symbolic link: opened through the kernel, which follows it with its own protections
  (fs.protected_symlinks in sticky folders such as /tmp); the same rule is applied here
  too, so that it holds when the sysctl is off. What the link leads to is then written
  as above; a link to nothing is created through, as `>` would.
- a folder, a block device or a socket: refused.

A killed run can leave only its hidden temporary file, which carries the writer's
process id; the next run in that folder removes those whose writer is gone.

There is no fsync: the rename already makes a killed run harmless, and the files are
regenerated from the spec at will, so surviving a power cut is not worth an fsync per
file (an exam writes hundreds).
"""
from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from pathlib import Path

from .errors import OutputError

TEMP_PREFIX = ".derive-tmp-"
TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-")
# O_NOFOLLOW on a name we create ourselves: a link planted under that name is refused,
# never followed. O_CLOEXEC: TeX, started meanwhile by another thread, inherits nothing.
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write `data` to `path` as described in the module's docstring."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    name = str(path)
    refuse_foreign_links(name)
    try:
        found = os.lstat(name)
    except FileNotFoundError:
        found = None
    except OSError as err:
        raise OutputError(f"cannot write {name}: {reason(err)}") from None
    if found is None or stat.S_ISREG(found.st_mode):
        replace_file(name, payload, found)
    elif stat.S_ISLNK(found.st_mode):
        write_through_link(name, payload)
    elif stat.S_ISCHR(found.st_mode) or stat.S_ISFIFO(found.st_mode):
        write_into(name, payload)
    else:
        raise OutputError(f"cannot write {name}: it is {kind(found.st_mode)}")


def replace_file(name: str, payload: bytes, old: os.stat_result | None) -> None:
    """Write a temporary file beside `name` and rename it over `name`.

    The folder is opened once and everything happens relative to it, so the temporary
    file and the rename are in the same folder even if its path changes meanwhile.
    """
    folder = os.path.dirname(name) or "."
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise OutputError(f"cannot write {name}: folder {folder} does not exist") from None
    except OSError as err:
        raise OutputError(f"cannot write {name}: {reason(err)}") from None
    try:
        clean_stale_temporaries(folder)
        temp = create_temporary(folder_fd, name)
        try:
            write_file(folder_fd, temp, payload, old)
            os.rename(temp, os.path.basename(name), src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
        except BaseException as err:
            remove_quietly(temp, folder_fd)
            if isinstance(err, OSError):
                raise OutputError(f"cannot write {name}: {reason(err)}") from None
            raise
    finally:
        os.close(folder_fd)


def create_temporary(folder_fd: int, name: str) -> str:
    """A fresh hidden file in the folder; its name carries our process id."""
    for _ in range(100):
        temp = f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            os.close(os.open(temp, CREATE_FLAGS, 0o600, dir_fd=folder_fd))
            return temp
        except FileExistsError:
            continue
        except OSError as err:
            raise OutputError(f"cannot write {name}: {reason(err)}") from None
    raise OutputError(f"cannot write {name}: no free temporary name in its folder")


def write_file(folder_fd: int, temp: str, payload: bytes, old: os.stat_result | None) -> None:
    """Fill the temporary file, then give it the mode (and owner) it will have.

    The file was created 0600 so that nobody can open it half-written; it gets 0666 less
    the umask (what a plain open would give), or the replaced file's mode and owner.
    """
    fd = os.open(temp, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder_fd)
    try:
        write_all(fd, payload)
        if old is None:
            os.fchmod(fd, 0o666 & ~current_umask())
        else:
            keep_owner(fd, old)
            os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after chown, which clears set-id bits
    finally:
        os.close(fd)


def keep_owner(fd: int, old: os.stat_result) -> None:
    """As root, the replaced file's owner and group; otherwise its group, if we may."""
    if os.geteuid() == 0:
        os.fchown(fd, old.st_uid, old.st_gid)
        return
    try:
        os.fchown(fd, -1, old.st_gid)
    except PermissionError:  # not one of our groups: the file gets ours, as any new file
        pass


def write_through_link(name: str, payload: bytes) -> None:
    """`name` is a symbolic link: let the kernel follow it, then write what it leads to."""
    try:
        fd = os.open(name, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        create_through_link(name, payload)
        return
    except OSError as err:
        raise OutputError(f"cannot write {name}: {reason(err)} (it is a symbolic link to "
                          f"{link_text(name)})") from None
    try:
        found, real = os.fstat(fd), path_of(fd)
    finally:
        os.close(fd)
    if stat.S_ISCHR(found.st_mode) or stat.S_ISFIFO(found.st_mode) or real is None:
        write_into(name, payload)
    elif stat.S_ISREG(found.st_mode):
        replace_file(real, payload, still_the_same(real, found))
    else:
        raise OutputError(f"cannot write {name}: it is a link to {kind(found.st_mode)}")


def path_of(fd: int) -> str | None:
    """The path of an open file, as the kernel resolved it; None without /proc (then the
    file is written through the link, as `>` would)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def still_the_same(real: str, found: os.stat_result) -> os.stat_result:
    """The file at `real` if it is still the one the link led to; else refuse."""
    try:
        now = os.lstat(real)
    except OSError as err:
        raise OutputError(f"cannot write {real}: {reason(err)}") from None
    if (now.st_dev, now.st_ino) != (found.st_dev, found.st_ino):
        raise OutputError(f"cannot write {real}: it changed while derive was writing it")
    return now


def create_through_link(name: str, payload: bytes) -> None:
    """A link to a file that does not exist yet: create that file, as `>` does."""
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as err:
        raise OutputError(f"cannot write {name}: {reason(err)} (it is a symbolic link to "
                          f"{link_text(name)})") from None
    try:
        write_all(fd, payload)
    except OSError as err:
        os.ftruncate(fd, 0)
        remove_created(fd)
        raise OutputError(f"cannot write {name}: {reason(err)}") from None
    finally:
        os.close(fd)


def remove_created(fd: int) -> None:
    """Remove the file we just created through a link, so a failure leaves nothing."""
    path = path_of(fd)
    try:
        if path is not None:
            os.unlink(path)
    except OSError:
        pass  # it stays, empty


def write_into(name: str, payload: bytes) -> None:
    """A character device or FIFO: write into it (opening a FIFO waits for a reader)."""
    try:
        fd = os.open(name, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        raise OutputError(f"cannot write {name}: {reason(err)}") from None
    try:
        write_all(fd, payload)
    except OSError as err:
        raise OutputError(f"cannot write {name}: {reason(err)}") from None
    finally:
        os.close(fd)


MAX_LINKS = 40  # as the kernel's path walk (ELOOP beyond)


def refuse_foreign_links(name: str) -> None:
    """fs.protected_symlinks' rule, applied whatever the sysctl says, to every link on
    the way to `name` (a folder of the path, a link to a link, the name itself): in a
    sticky world-writable folder (/tmp) a link is followed only if it is ours or the
    folder owner's; else another user's link could make us (or root) overwrite any file.

    The path is walked as the kernel walks it, one component at a time with lstat; a
    component that does not exist ends the walk (nothing beyond it can be a link yet).
    """
    current = "/" if os.path.isabs(name) else os.getcwd()
    pending = [part for part in name.split("/") if part]
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            current = os.path.dirname(current) or "/"
            continue
        candidate = os.path.join(current, part)
        try:
            found = os.lstat(candidate)
        except OSError:
            return
        if not stat.S_ISLNK(found.st_mode):
            current = candidate
            continue
        refuse_if_foreign(name, candidate, found, current)
        hops += 1
        if hops > MAX_LINKS:
            return  # the kernel will say "too many levels of symbolic links"
        target = os.readlink(candidate)
        if os.path.isabs(target):
            current = "/"
        pending[:0] = [p for p in target.split("/") if p]


def refuse_if_foreign(name: str, link: str, found: os.stat_result, folder: str) -> None:
    try:
        parent = os.stat(folder)
    except OSError as err:
        raise OutputError(f"cannot write {name}: {reason(err)}") from None
    shared = parent.st_mode & stat.S_ISVTX and parent.st_mode & stat.S_IWOTH
    if shared and found.st_uid not in (os.geteuid(), parent.st_uid):
        where = "it is" if os.path.abspath(link) == os.path.abspath(name) else f"its path leads through {link},"
        raise OutputError(f"refusing to write {name}: {where} a symbolic link (to {link_text(link)}) "
                          f"owned by another user in the shared folder {folder}; remove it or "
                          "choose another name")


def write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def clean_stale_temporaries(folder: str | Path) -> None:
    """Remove temporary files left by killed runs (their writer process is gone)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for stray in names:
        match = TEMP_NAME.match(stray)
        if match and not process_alive(int(match.group(1))):
            try:
                if not stat.S_ISDIR(os.lstat(os.path.join(folder, stray)).st_mode):
                    os.unlink(os.path.join(folder, stray))
            except OSError:
                pass  # someone else's, or gone already


def remove_quietly(name: str, folder_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=folder_fd)
    except OSError:
        pass


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


def current_umask() -> int:
    """The process's umask, read without changing it (Linux reports it in /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return mask


def kind(mode: int) -> str:
    for test, text in ((stat.S_ISDIR, "a folder"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISREG, "a file")):
        if test(mode):
            return text
    return "not a regular file"


def link_text(name: str) -> str:
    try:
        return os.readlink(name)
    except OSError:
        return "?"


def reason(err: OSError) -> str:
    """An OSError as a short phrase: 'No space left on device', 'Permission denied'."""
    if err.errno == errno.ELOOP:
        return "too many levels of symbolic links (a link loop?)"
    return err.strerror or str(err)
