"""Whole exams or none (issue 11, items 4 and 12): a full disk, a failed or killed
--force rerun and a second run at the same time never leave a folder that mixes two
exams; a variant's spec.yaml remakes its key; templates derive cannot work whole are
refused instead of cut down."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from derive import folder as folder_module
from hostile_fs import DERIVE, Q2_EXAM, ROOT, assert_clean_error, derive, hidden_leftovers, tmpfs, tree


def exam(out: Path, *options: str, spec: Path = Q2_EXAM) -> object:
    return CliRunner().invoke(main, ["exam", str(spec), "--no-pdf", "-q", "-o", str(out), *options])


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    """Complete exams made undisturbed: seed 1 with 2 variants, seed 2 with 2 and 10."""
    made = {}
    for name, options in (("seed1", ("-n", "2", "--seed", "1")), ("seed2", ("-n", "2", "--seed", "2")),
                          ("seed2x10", ("-n", "10", "--seed", "2"))):
        out = tmp_path_factory.mktemp(name) / "exam"
        assert exam(out, *options).exit_code == 0
        made[name] = tree(out)
    return made


def size(files: dict[str, bytes]) -> int:
    return sum(len(data) for data in files.values())


# --- item 4: a full disk ------------------------------------------------------------------

def test_full_disk_leaves_no_exam_at_all(tmp_path: Path, references: dict) -> None:
    room = size(references["seed2x10"]) // 2  # half of what ten variants need
    with tmpfs(tmp_path / "disk", size=f"{room // 1024}k") as disk:
        assert_clean_error(derive("exam", Q2_EXAM, "-n", "10", "--seed", "2", "--no-pdf", "-o", disk / "exam"),
                           "No space left on device")
        assert list(disk.iterdir()) == []  # no exam, no stage, no lock


def test_full_disk_during_force_keeps_the_previous_exam_whole(tmp_path: Path, references: dict) -> None:
    room = size(references["seed1"]) + size(references["seed2x10"]) // 2
    with tmpfs(tmp_path / "disk", size=f"{room // 1024}k") as disk:
        out = disk / "exam"
        assert exam(out, "-n", "2", "--seed", "1").exit_code == 0
        assert tree(out) == references["seed1"]
        assert_clean_error(derive("exam", Q2_EXAM, "-n", "10", "--seed", "2", "--no-pdf", "--force",
                                  "-o", out), "No space left on device", "not changed")
        assert tree(out) == references["seed1"]  # answers.csv still grades these very sheets
        assert hidden_leftovers(disk) == []
        assert exam(out, "-n", "2", "--seed", "2", "--force").exit_code == 0  # room again: replaced whole
        assert tree(out) == references["seed2"]


def test_force_with_fewer_variants_leaves_none_of_the_old_ones(tmp_path: Path, references: dict) -> None:
    out = tmp_path / "exam"
    assert exam(out, "-n", "10", "--seed", "2").exit_code == 0
    assert exam(out, "-n", "2", "--seed", "1", "--force").exit_code == 0
    assert tree(out) == references["seed1"]


# --- item 4: a second run, and a killed one -------------------------------------------------

# derive's own exam writing, in a real second process, held at a chosen point.
HELD_RUN = """
import os, sys, time
from derive import api, folder
where, out, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])

def hold(numbers):  # while the variants are drawn, with the folder locked: until released
    print("held", flush=True)
    while not os.path.exists(sys.argv[4]):
        time.sleep(0.01)
    yield from numbers

if where == "staging":  # after some files are in the stage folder
    write_one = folder.FolderWriter.write_one
    count = [0]
    def slow_write(*args):
        write_one(*args)
        count[0] += 1
        if count[0] == 10:
            print("held", flush=True)
            time.sleep(60)
    folder.FolderWriter.write_one = staticmethod(slow_write)
if where == "between-renames":  # the fallback swap, between its two renames
    folder.exchange = lambda *args: False
    rename = folder.FolderWriter.rename
    def slow_rename(self, source, target):
        rename(self, source, target)
        if folder.OLD in target:
            print("held", flush=True)
            time.sleep(60)
    folder.FolderWriter.rename = slow_rename
api.write_exam_folder(sys.argv[5], 2, seed, out, pdf=False, force=True,
                      progress=hold if where == "drawing" else None)
print("done", flush=True)
"""


def held_run(where: str, out: Path, seed: int, release: Path | None = None) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HELD_RUN, where, str(out), str(seed), str(release),
                                str(Q2_EXAM)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_is_refused_while_the_first_writes(tmp_path: Path, references: dict) -> None:
    out = tmp_path / "exam"
    release = tmp_path / "release"
    first = held_run("drawing", out, 1, release)
    second = derive("exam", Q2_EXAM, "-n", "2", "--seed", "2", "--no-pdf", "--force", "-o", out)
    release.touch()
    assert_clean_error(second, "another derive exam run", f"process {first.pid}")
    assert first.wait(timeout=60) == 0 and first.stdout.read().strip() == "done"
    assert tree(out) == references["seed1"]  # the first run's exam, whole
    release.unlink()
    assert hidden_leftovers(tmp_path) == []  # lock released and removed
    assert exam(out, "-n", "2", "--seed", "2", "--force").exit_code == 0  # the last finisher wins, whole
    assert tree(out) == references["seed2"]


def test_a_run_killed_while_staging_leaves_the_previous_exam(tmp_path: Path, references: dict) -> None:
    out = tmp_path / "exam"
    assert exam(out, "-n", "2", "--seed", "1").exit_code == 0
    run = held_run("staging", out, 2)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert tree(out) == references["seed1"]
    assert any(".derive-stage-" in name for name in hidden_leftovers(tmp_path))
    assert exam(out, "-n", "2", "--seed", "2", "--force").exit_code == 0  # stale lock and stage are no bar
    assert tree(out) == references["seed2"] and hidden_leftovers(tmp_path) == []


def test_a_run_killed_between_the_fallback_renames_is_repaired(tmp_path: Path, references: dict) -> None:
    """Where the file system has no atomic exchange, the swap is two renames; a run
    killed between them leaves the previous exam under a hidden name, which the next
    run puts back before it does anything else."""
    out = tmp_path / "exam"
    assert exam(out, "-n", "2", "--seed", "1").exit_code == 0
    run = held_run("between-renames", out, 2)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert not out.exists()
    result = exam(out, "-n", "2", "--seed", "2")  # no --force: the previous exam is found again
    assert result.exit_code == 2 and "--force" in result.stderr
    assert tree(out) == references["seed1"] and hidden_leftovers(tmp_path) == []


def test_fallback_swap_failing_puts_the_previous_exam_back(tmp_path: Path, references: dict,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "exam"
    assert exam(out, "-n", "2", "--seed", "1").exit_code == 0
    monkeypatch.setattr(folder_module, "exchange", lambda *args: False)
    rename = folder_module.FolderWriter.rename

    def failing_rename(self: object, source: str, target: str) -> None:
        if folder_module.STAGE in source:
            raise OSError(28, "No space left on device")
        rename(self, source, target)
    monkeypatch.setattr(folder_module.FolderWriter, "rename", failing_rename)
    result = exam(out, "-n", "2", "--seed", "2", "--force")
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert tree(out) == references["seed1"] and hidden_leftovers(tmp_path) == []


# --- item 12: what a template asks for, and what a variant keeps ------------------------------

def test_templates_with_samples_or_steps_are_refused(tmp_path: Path) -> None:
    steps = tmp_path / "steps.yaml"
    steps.write_text(Q2_EXAM.read_text() + "steps: 3\n")
    result = exam(tmp_path / "a", spec=steps)
    assert result.exit_code == 2 and "steps" in result.stderr and "one step" in result.stderr
    template = yaml.safe_load(Q2_EXAM.read_text())
    sample = {"inputs": template.pop("inputs"), "targets": template.pop("targets")}
    template["samples"] = [sample, sample]
    samples = tmp_path / "samples.yaml"
    samples.write_text(yaml.safe_dump(template, sort_keys=False))
    result = exam(tmp_path / "b", spec=samples)
    assert result.exit_code == 2 and "samples" in result.stderr and "one sample" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.yaml", "steps.yaml"]


@pytest.mark.parametrize("worked", ["", "worked: {form: delta, matrix: true}\n", "worked: {closed_form: true}\n"])
def test_solve_on_a_variants_spec_remakes_its_key(tmp_path: Path, worked: str) -> None:
    spec = tmp_path / "template.yaml"
    spec.write_text(Q2_EXAM.read_text() + worked)
    out = tmp_path / "exam"
    assert exam(out, "-n", "1", spec=spec).exit_code == 0
    variant = yaml.safe_load((out / "variant-01" / "spec.yaml").read_text())
    assert variant.get("worked") == (yaml.safe_load(worked)["worked"] if worked else None)
    for fmt, name in (("md", "key.md"), ("json", "key.json")):
        again = CliRunner().invoke(main, ["solve", str(out / "variant-01" / "spec.yaml"), "-f", fmt])
        assert again.exit_code == 0, again.output
        assert again.stdout == (out / "variant-01" / name).read_text()


@pytest.mark.parametrize("options", [("--digits", "3", "--rounding", "by-hand"), ("--digits", "6")])
def test_a_variants_spec_names_the_options_that_remake_its_key(tmp_path: Path,
                                                              options: tuple[str, ...]) -> None:
    # digits and rounding are options of the command, not keys of the spec: spec.yaml
    # says which to give, and given them, derive solve remakes the key byte for byte
    out = tmp_path / "exam"
    assert exam(out, "-n", "1", *options).exit_code == 0
    text = (out / "variant-01" / "spec.yaml").read_text()
    command = next(line for line in text.splitlines() if "derive solve spec.yaml" in line)
    assert command.split("derive solve spec.yaml")[1].split() == list(options)
    again = CliRunner().invoke(main, ["solve", str(out / "variant-01" / "spec.yaml"), *options])
    assert again.exit_code == 0, again.output
    assert again.stdout == (out / "variant-01" / "key.md").read_text()


@pytest.mark.parametrize("problem", ["seed000_batch.yaml", "seed000_sequential.yaml", "q2_iterations.yaml"])
def test_spec_yaml_keeps_samples_steps_and_reduction(tmp_path: Path, problem: str) -> None:
    from derive.spec import load_spec, spec_yaml

    written = tmp_path / problem
    written.write_text(spec_yaml(load_spec(ROOT / "problems" / problem)))
    original = CliRunner().invoke(main, ["solve", str(ROOT / "problems" / problem), "-f", "json"])
    remade = CliRunner().invoke(main, ["solve", str(written), "-f", "json"])
    assert original.exit_code == 0 and remade.exit_code == 0, remade.output
    assert remade.stdout == original.stdout


def test_the_lock_of_a_killed_run_does_not_block(tmp_path: Path) -> None:
    """flock dies with its process: a lock file left by a killed run is no bar."""
    out = tmp_path / "exam"
    process = subprocess.Popen([*DERIVE, "exam", str(Q2_EXAM), "-n", "30", "--no-pdf", "-q", "-o", str(out)],
                               cwd=ROOT)
    deadline = time.monotonic() + 30
    while not (tmp_path / ".exam.derive-lock").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert exam(out, "-n", "1").exit_code == 0
