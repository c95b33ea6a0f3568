"""Files you can trust (issue 11): derive writes only where it was pointed, never through
a link planted in an exam folder, never over a device or FIFO, with the umask's modes,
and every file-system fault ends in a clear message.

Each test sets up the hostile situation for real: symbolic links, device nodes (mknod),
FIFOs, a sticky world-writable folder with another user's link, a read-only or
inode-starved tmpfs. Set-ups that need root skip locally without it (CI runs as root).
"""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from hostile_fs import NOBODY, Q2, Q2_EXAM, derive, hidden_leftovers, need_root, tmpfs, tree


def run(*args: str | Path, umask: int | None = None) -> object:
    """derive in this process (CliRunner), under `umask` if given."""
    previous = os.umask(umask) if umask is not None else None
    try:
        return CliRunner().invoke(main, [str(a) for a in args])
    finally:
        if previous is not None:
            os.umask(previous)


def exam(out: Path, *options: str) -> object:
    return run("exam", Q2_EXAM, "-n", "2", "--no-pdf", "-q", "-o", out, *options)


def key_text() -> str:
    """The Markdown key of q2 as printed on standard output (what -o must hold)."""
    result = CliRunner().invoke(main, ["solve", str(Q2)])
    assert result.exit_code == 0
    return result.stdout


def clean_error(result: object, *facts: str) -> str:
    """A CliRunner result that is a clean `derive: error:` with exit code 2."""
    assert result.exit_code == 2, (result.exit_code, repr(result.exception), result.output[-2000:])
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    message = result.stderr
    assert message.startswith("derive: error: ") and "Traceback" not in result.output, message
    for fact in facts:
        assert fact in message, (fact, message)
    return message


# --- item 1: links planted in an exam folder --------------------------------------------------

def test_a_dangling_link_in_the_exam_folder_is_not_written_through(tmp_path: Path) -> None:
    out, outside = tmp_path / "exam", tmp_path / "outside"
    outside.mkdir()
    assert exam(out).exit_code == 0
    before = tree(out)
    planted = out / "variant-01" / "key.md"
    planted.unlink()
    planted.symlink_to(outside / "planted.md")
    for options in ((), ("--force",)):
        clean_error(exam(out, "--seed", "9", *options), "variant-01/key.md", "symbolic link")
        assert not (outside / "planted.md").exists() and list(outside.iterdir()) == []
        assert planted.is_symlink()  # left as it was, like everything else
        assert {k: v for k, v in tree(out).items() if k != "variant-01/key.md"} == \
            {k: v for k, v in before.items() if k != "variant-01/key.md"}
    assert hidden_leftovers(tmp_path) == []


def test_a_link_to_a_users_file_is_not_overwritten_with_force(tmp_path: Path) -> None:
    out = tmp_path / "exam"
    victim = tmp_path / "precious.txt"
    victim.write_text("the user's own file\n")
    assert exam(out).exit_code == 0
    (out / "answers.csv").unlink()
    (out / "answers.csv").symlink_to(victim)
    clean_error(exam(out, "--force"), "answers.csv", "symbolic link")
    assert victim.read_text() == "the user's own file\n"


def test_a_variant_folder_that_is_a_link_to_another_folder_is_refused(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "exam", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("mine\n")
    out.mkdir()
    (out / "variant-02").symlink_to(elsewhere, target_is_directory=True)
    for options in ((), ("--force",)):
        clean_error(exam(out, *options), "variant-02", "symbolic link")
        assert sorted(p.name for p in elsewhere.iterdir()) == ["notes.txt"]
    assert (out / "variant-02").is_symlink()


def test_the_exam_folder_itself_may_not_be_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "exam").symlink_to(real, target_is_directory=True)
    clean_error(exam(tmp_path / "exam"), "symbolic link")
    assert list(real.iterdir()) == []


def test_files_of_the_user_in_the_folder_are_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "exam"
    assert exam(out).exit_code == 0
    (out / "notes.txt").write_text("my notes\n")
    clean_error(exam(out, "--force"), "notes.txt", "not part of an exam")
    assert (out / "notes.txt").read_text() == "my notes\n"


# --- item 2: devices and FIFOs ---------------------------------------------------------------

def test_o_a_character_device_is_written_into_not_replaced(tmp_path: Path) -> None:
    """A private copy of /dev/null (mknod 1 3): derive must leave it a device."""
    need_root("mknod of a character device")
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    result = run("solve", Q2, "-o", null)
    assert result.exit_code == 0, result.output
    found = os.lstat(null)
    assert stat.S_ISCHR(found.st_mode) and found.st_rdev == os.makedev(1, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]  # no temporary left beside it


def test_o_a_fifo_is_written_into(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = run("solve", Q2, "-o", fifo)
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received == [key_text().encode("utf-8")]


def test_o_dev_stdout_into_a_pipe(tmp_path: Path) -> None:
    result = derive("solve", Q2, "-o", "/dev/stdout", cwd=tmp_path)  # stdout is a pipe here
    assert result.returncode == 0, result.stderr
    assert result.stdout == key_text()
    assert list(tmp_path.iterdir()) == []


def test_o_a_block_device_or_folder_is_refused(tmp_path: Path) -> None:
    clean_error(run("solve", Q2, "-o", tmp_path), "folder")
    if os.geteuid() == 0:
        block = tmp_path / "disk"
        os.mknod(block, stat.S_IFBLK | 0o600, os.makedev(7, 200))  # a loop device number
        clean_error(run("solve", Q2, "-o", block), "block device")
        assert stat.S_ISBLK(os.lstat(block).st_mode)


# --- item 3: links in sticky world-writable folders ---------------------------------------------

def sticky_folder(tmp_path: Path) -> Path:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    return shared


def test_another_users_link_in_a_sticky_folder_is_not_followed(tmp_path: Path) -> None:
    """As /tmp with fs.protected_symlinks: root must not follow nobody's link to root's file."""
    need_root("a link owned by another user (lchown)")
    shared = sticky_folder(tmp_path)
    victim = tmp_path / "victim.conf"
    victim.write_text("root's file\n")
    link = shared / "key.md"
    link.symlink_to(victim)
    os.lchown(link, NOBODY, NOBODY)
    clean_error(run("solve", Q2, "-o", link), "symbolic link", "another user")
    assert victim.read_text() == "root's file\n"
    assert link.is_symlink() and os.readlink(link) == str(victim)


def test_another_users_link_as_a_folder_of_the_path_is_not_followed(tmp_path: Path) -> None:
    # -o sticky/dl/key.md where dl is nobody's link to root's folder
    need_root("a link owned by another user (lchown)")
    shared = sticky_folder(tmp_path)
    private = tmp_path / "private"
    private.mkdir()
    (private / "key.md").write_text("root's file\n")
    link = shared / "dl"
    link.symlink_to(private)
    os.lchown(link, NOBODY, NOBODY)
    clean_error(run("solve", Q2, "-o", link / "key.md"), "symbolic link", "another user", str(link))
    assert (private / "key.md").read_text() == "root's file\n"


def test_another_users_link_second_in_a_chain_is_not_followed(tmp_path: Path) -> None:
    # root's own link -> nobody's link in the sticky folder -> root's file
    need_root("a link owned by another user (lchown)")
    shared = sticky_folder(tmp_path)
    victim = tmp_path / "victim.conf"
    victim.write_text("root's file\n")
    foreign = shared / "theirs"
    foreign.symlink_to(victim)
    os.lchown(foreign, NOBODY, NOBODY)
    mine = tmp_path / "mine.md"
    mine.symlink_to(foreign)
    clean_error(run("solve", Q2, "-o", mine), "symbolic link", "another user")
    assert victim.read_text() == "root's file\n"


def test_own_link_in_a_sticky_folder_is_followed_and_kept(tmp_path: Path) -> None:
    shared = sticky_folder(tmp_path)
    target = tmp_path / "real.md"
    target.write_text("old\n")
    target.chmod(0o640)
    link = shared / "key.md"
    link.symlink_to(target)
    result = run("solve", Q2, "-o", link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and target.read_text() == key_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_link_to_a_missing_file_creates_it(tmp_path: Path) -> None:
    link = tmp_path / "key.md"
    link.symlink_to(tmp_path / "made.md")
    assert run("solve", Q2, "-o", link).exit_code == 0
    assert link.is_symlink() and (tmp_path / "made.md").read_text() == key_text()


def test_dangling_and_looping_o_links_give_clean_errors(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop")
    clean_error(run("solve", Q2, "-o", loop), "loop")
    for name, target in (("exam-link", tmp_path / "nowhere"), ("exam-loop", tmp_path / "exam-loop")):
        (tmp_path / name).symlink_to(target)
        clean_error(run("exam", Q2_EXAM, "-n", "1", "--no-pdf", "-o", tmp_path / name), "symbolic link")
    assert not (tmp_path / "nowhere").exists()


# --- item 6: modes ----------------------------------------------------------------------------

@pytest.mark.parametrize("umask, file_mode, folder_mode", [(0o077, 0o600, 0o700), (0o022, 0o644, 0o755),
                                                           (0o002, 0o664, 0o775)])
def test_new_files_and_folders_follow_the_umask(tmp_path: Path, umask: int, file_mode: int,
                                                folder_mode: int) -> None:
    key = tmp_path / "key.md"
    assert run("solve", Q2, "-o", key, umask=umask).exit_code == 0
    assert stat.S_IMODE(key.stat().st_mode) == file_mode
    out = tmp_path / "exam"
    assert run("exam", Q2_EXAM, "-n", "1", "--no-pdf", "-q", "-o", out, umask=umask).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == folder_mode
    for path in out.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (folder_mode if path.is_dir() else file_mode), path


def test_a_replaced_file_keeps_its_mode_and_owner(tmp_path: Path) -> None:
    key = tmp_path / "key.md"
    key.write_text("old\n")
    key.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(key, NOBODY, NOBODY)
    assert run("solve", Q2, "-o", key, umask=0o022).exit_code == 0
    found = key.stat()
    assert stat.S_IMODE(found.st_mode) == 0o640 and key.read_text() == key_text()
    if os.geteuid() == 0:
        assert (found.st_uid, found.st_gid) == (NOBODY, NOBODY)


def test_a_replaced_exam_keeps_its_modes(tmp_path: Path) -> None:
    out = tmp_path / "exam"
    assert exam(out).exit_code == 0
    out.chmod(0o750)
    (out / "answers.csv").chmod(0o600)
    assert exam(out, "--force", "--seed", "4").exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "answers.csv").stat().st_mode) == 0o600


# --- item 7: file-system faults in derive exam ----------------------------------------------

def test_exam_into_a_read_only_file_system(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", read_only=True) as folder:
        clean_error(run("exam", Q2_EXAM, "-n", "1", "--no-pdf", "-o", folder / "exam"),
                    "Read-only file system")


def test_exam_out_of_inodes_leaves_nothing(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "fs", size="8m", inodes=12) as folder:
        clean_error(run("exam", Q2_EXAM, "-n", "5", "--no-pdf", "-o", folder / "exam"),
                    "No space left on device")
        assert list(folder.iterdir()) == []


def test_exam_below_a_file_or_over_a_file(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    clean_error(run("exam", Q2_EXAM, "-n", "1", "--no-pdf", "-o", tmp_path / "file.txt" / "exam"), "file.txt")
    message = clean_error(run("exam", Q2_EXAM, "-n", "1", "--no-pdf", "-o", tmp_path / "file.txt"),
                          "not a folder", "it is a file")
    assert "not a regular file" not in message
    assert (tmp_path / "file.txt").read_text() == "x"


def test_a_file_where_a_variant_folder_goes(tmp_path: Path) -> None:
    out = tmp_path / "exam"
    out.mkdir()
    (out / "variant-01").write_text("not a folder\n")
    clean_error(exam(out, "--force"), "variant-01")
    assert (out / "variant-01").read_text() == "not a folder\n"


def test_missing_parents_are_made_and_removed_again_on_failure(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Q2_EXAM.read_text().replace("loss: half_squared_error", "loss: hinge"))
    result = run("exam", bad, "--no-pdf", "-o", tmp_path / "a" / "b" / "exam")
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]
    assert exam(tmp_path / "a" / "b" / "exam").exit_code == 0
