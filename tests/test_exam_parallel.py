"""derive exam --jobs (issue 16): variants made by worker processes give the folder a
single process gives, byte for byte; errors, repeats, interruptions and a killed worker
behave as in one process (same message and exit code, no worker left, no stage).

The reference is always the single-process run (-j 1, the code path derive had
before workers existed), made in the same test; nothing is compared with a stored copy
of the parallel output.
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from derive import api, exam as exam_module, workers as workers_module
from derive import diagram as diagram_module
from derive.errors import DeriveError
from derive.exam import (LaidOut, draw_variant, exam_template, exam_variants, fingerprint,
                         shared_derivation)
from derive.svg import diagram_svg
from derive.workers import OrderedWorkers, can_fork, default_jobs
from teacher_specs import teacher_spec
from hostile_fs import DERIVE, Q2_EXAM, ROOT, assert_clean_error, derive, hidden_leftovers, tree

CNN_EXAM = ROOT / "problems" / "cnn-exam.yaml"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="worker processes are forked on Linux only (elsewhere -j is sequential)")

SOFTMAX = """\
title: "Softmax ëxam"
inputs: {x1: {uniform: [-1, 1], decimals: 1}, x2: {uniform: [-1, 1], decimals: 1}}
layers:
  - activation: tanh
    neurons:
      h1: {bias: {uniform: [-0.2, 0.2], decimals: 2}, weights: {x1: {uniform: [-1, 1]}, x2: 0.5}}
      h2: {bias: 0, weights: {x1: 0.5, x2: {uniform: [-1, 1]}}}
  - activation: softmax
    neurons:
      o1: {bias: 0.0, weights: {h1: {uniform: [-1, 1]}, h2: -0.4}}
      o2: {bias: 0.1, weights: {h1: -0.3, h2: {uniform: [-1, 1]}}}
      o3: {bias: -0.1, weights: {h1: 0.2, h2: 0.2}}
targets: {o1: 0, o2: {choice: [0, 1]}, o3: 0}
loss: cross_entropy
learning_rate: {choice: [0.1, 0.5]}
"""

# Nine different draws (three inputs times three weights): an exam of seven repeats
# earlier draws again and again, which one process redraws at once and the workers cannot
# know about.
NARROW = """\
title: "Narrow"
inputs: {x1: {choice: [1, 2, 3]}}
layers:
  - activation: sigmoid
    neurons:
      o: {bias: 0.1, weights: {x1: {choice: [0.5, 1, -0.25]}}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.5
"""

# Half the draws leave the ReLU dead, and one try is allowed: some variant after the
# first has no acceptable draw.
SOMETIMES_DEAD = """\
title: "Sometimes dead"
inputs: {x1: {uniform: [0.5, 2], decimals: 2}, x2: {uniform: [0.5, 2], decimals: 2}}
layers:
  - activation: relu
    neurons:
      h1: {bias: 0, weights: {x1: {choice: [-1, 0.5]}, x2: 0.25}}
  - activation: sigmoid
    neurons:
      o: {bias: 0.1, weights: {h1: 0.5}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.5
exam: {max_tries: 1}
"""


def written(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class Counted(OrderedWorkers):
    """OrderedWorkers that records that it ran (the parallel path was taken)."""

    started: list[int] = []

    def start(self) -> None:
        super().start()
        Counted.started.append(len(self.processes))


def exam_files(spec: Path, count: int, seed: int, jobs: int, folder: Path) -> dict[str, bytes]:
    api.write_exam_folder(spec, count, seed, folder, pdf=False, jobs=jobs)
    return tree(folder)


@pytest.mark.parametrize("spec, seed", [(Q2_EXAM, 7), (CNN_EXAM, 3), ("softmax", 5)])
def test_workers_write_the_folder_one_process_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     spec: Path | str, seed: int) -> None:
    path = written(tmp_path, "softmax.yaml", SOFTMAX) if spec == "softmax" else spec
    one = exam_files(path, 7, seed, 1, tmp_path / "one")
    assert len(one) == 6 * 7 + 7  # six files a variant; 2 combined, answers x2, 3 LMS
    monkeypatch.setattr(exam_module, "OrderedWorkers", Counted)
    for jobs in (2, 3):
        Counted.started = []
        many = exam_files(path, 7, seed, jobs, tmp_path / f"j{jobs}")
        assert Counted.started == [jobs]  # the workers really made the variants
        assert sorted(many) == sorted(one)
        for name in one:
            assert many[name] == one[name], (jobs, name)
    assert hidden_leftovers(tmp_path) == []


def test_the_command_line_option(tmp_path: Path) -> None:
    """--jobs reaches the exam (the processes are counted), and -j 1 and -j 2 agree."""
    for jobs in ("1", "2"):
        result = derive("exam", Q2_EXAM, "-n", "4", "--seed", "9", "--no-pdf", "-q", "-j", jobs,
                        "-o", tmp_path / f"j{jobs}")
        assert result.returncode == 0 and result.stderr == "", result.stderr
    assert tree(tmp_path / "j1") == tree(tmp_path / "j2")
    bad = derive("exam", Q2_EXAM, "-j", "0", "-o", tmp_path / "j0")
    assert bad.returncode == 2 and "--jobs" in bad.stderr and not (tmp_path / "j0").exists()


def test_repeated_draws_are_redone_by_the_parent(tmp_path: Path) -> None:
    spec = written(tmp_path, "narrow.yaml", NARROW)
    template = exam_template(spec)
    derivation = shared_derivation(template, 1)
    # the premise: a worker, knowing no earlier draw, would hand back a repeat
    sequential = list(exam_variants(template, 7, 1))
    naive = [fingerprint(draw_variant(template, derivation, 1, n, set(), "exact", 4).spec) for n in range(1, 8)]
    assert len(set(naive)) < 7
    assert [fingerprint(v.spec) for v in sequential] != naive
    assert len({fingerprint(v.spec) for v in sequential}) == 7
    one = exam_files(spec, 7, 1, 1, tmp_path / "one")
    for jobs in (2, 3):
        assert exam_files(spec, 7, 1, jobs, tmp_path / f"j{jobs}") == one, jobs


def first_failure(template_path: Path) -> tuple[int, str]:
    """A seed whose exam of 6 fails at a variant after the first, with the message one
    process gives."""
    template = exam_template(template_path)
    for seed in range(100):
        try:
            list(exam_variants(template, 6, seed))
        except DeriveError as error:
            if "variant 1:" not in str(error):
                return seed, str(error)
    raise AssertionError("no seed fails after the first variant")


def test_a_variant_with_no_acceptable_draw_fails_as_in_one_process(tmp_path: Path) -> None:
    spec = written(tmp_path, "dead.yaml", SOMETIMES_DEAD)
    seed, message = first_failure(spec)
    results = {}
    for jobs in ("1", "2", "3"):
        out = tmp_path / f"exam-{jobs}"
        results[jobs] = derive("exam", spec, "-n", "6", "--seed", seed, "--no-pdf", "-q", "-j", jobs, "-o", out)
        assert_clean_error(results[jobs], message)
        assert not out.exists()
    assert results["1"].stderr == results["2"].stderr == results["3"].stderr
    assert hidden_leftovers(tmp_path) == []


def test_running_out_of_new_draws_fails_as_in_one_process(tmp_path: Path) -> None:
    """Ten variants of nine possible draws: the tenth fails on repeats, which only the
    parent sees."""
    spec = written(tmp_path, "narrow.yaml", NARROW.replace("learning_rate: 0.5", "learning_rate: 0.5\n"
                                                           "exam: {max_tries: 50}"))
    outs = [derive("exam", spec, "-n", "10", "--seed", "2", "--no-pdf", "-q", "-j", jobs, "-o", tmp_path / jobs)
            for jobs in ("1", "2")]
    assert_clean_error(outs[0], "variant 10: no acceptable draw", "repeats an earlier variant")
    assert outs[1].stderr == outs[0].stderr and outs[1].returncode == 2
    assert hidden_leftovers(tmp_path) == [] and not (tmp_path / "2").exists()


# --- interruptions ----------------------------------------------------------------------

def children(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as listing:
            found += [int(child) for child in listing.read().split()]
    return found


def alive(pid: int) -> bool:
    """Running (a zombie, dead and not yet reaped by init, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def start_exam(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, list[int]]:
    """A long exam with two workers, in a session of its own, once its workers run."""
    process = subprocess.Popen([*DERIVE, "exam", str(Q2_EXAM), "-n", "3000", "--no-pdf", "-q", "-j", "2",
                                "-o", str(tmp_path / "exam"), *args], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(found := children(process.pid)) < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.02)
    time.sleep(0.3)  # well into the variants
    return process, found


def gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("signum, group", [(signal.SIGINT, True), (signal.SIGTERM, False),
                                           (signal.SIGHUP, True)])
def test_a_signal_ends_the_workers_and_leaves_nothing(tmp_path: Path, signum: int, group: bool) -> None:
    """Ctrl-C and a closed terminal signal the whole process group, a service manager
    may signal derive alone: either way no worker is left and no stage folder."""
    process, workers = start_exam(tmp_path)
    (os.killpg if group else os.kill)(process.pid, signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signum, stderr
    assert stderr.startswith(f"derive: stopped by {signal.Signals(signum).name}; "), stderr
    assert "Traceback" not in stderr
    assert gone_within(workers, 5), [w for w in workers if alive(w)]
    assert not (tmp_path / "exam").exists() and hidden_leftovers(tmp_path) == []


def test_a_killed_worker_is_an_error_not_a_hang(tmp_path: Path) -> None:
    process, workers = start_exam(tmp_path)
    os.kill(workers[1], signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr
    assert stderr.startswith("derive: error: the worker process making variant "), stderr
    assert "was killed by SIGKILL" in stderr and "Traceback" not in stderr
    assert gone_within(workers, 5)
    assert not (tmp_path / "exam").exists() and hidden_leftovers(tmp_path) == []


def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    """SIGKILL gives derive no chance to clean up: the kernel ends its workers."""
    process, workers = start_exam(tmp_path)
    process.kill()
    process.communicate(timeout=30)
    assert gone_within(workers, 5), [w for w in workers if alive(w)]


# --- the pieces --------------------------------------------------------------------------

def square(number: int) -> int:
    if number == 5:
        raise ValueError("five")
    return number * number


def test_ordered_workers_give_every_result_in_order() -> None:
    for jobs in (1, 2, 3, 5):
        with OrderedWorkers(square, range(2, 12), jobs) as workers:
            results = list(workers)
        assert [n for n, _ in results] == list(range(2, 12))
        assert [r for n, r in results if n != 5] == [n * n for n in range(2, 12) if n != 5]
        assert dict(results)[5] is workers_module.FAILED  # not pickled as a new object


def test_workers_wait_for_the_parent(tmp_path: Path) -> None:
    """Only a few results are in flight, however many items: a worker whose results
    the parent has not read waits (memory stays flat with the exam's size)."""
    log = tmp_path / "made"

    def big(number: int) -> str:
        with open(log, "a") as made:
            made.write(f"{number}\n")
        return "x" * (1 << 20)  # much more than a pipe holds

    with OrderedWorkers(big, range(1, 41), 2) as workers:
        for read, (number, result) in enumerate(workers, 1):
            time.sleep(0.01)  # a slow parent
            made = [int(n) for n in log.read_text().split()]
            assert max(made) <= read + 4, (read, max(made))  # each worker: one sent, one made
            assert len(result) == 1 << 20
    assert sorted(int(n) for n in log.read_text().split()) == list(range(1, 41))


def test_default_jobs_follows_the_cpus_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    assert can_fork()
    assert 1 <= default_jobs() <= min(len(os.sched_getaffinity(0)), 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(40)))
    assert default_jobs() == 8
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    assert default_jobs() == 1


EXTREME = """\
title: "Extremes"
inputs: {x1: 123456.75, x2: 1.0e-9, x3: 0}
layers:
  - activation: sigmoid
    neurons:
      h1: {bias: 0, weights: {x1: 1.0e-7, x2: -250000, x3: 0.5}}
      h2: {bias: 0, weights: {x1: 1.0e-7, x2: -250000, x3: 0.5}}
  - activation: linear
    neurons:
      o: {bias: -0.0, weights: {h1: 0.1, h2: 0.1}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.01
"""


def laid_out_cases(tmp_path: Path) -> list:
    """Diagrams: exam variants of q2 (random values) and of the softmax template (exact
    zeros, equal weights), teachers' networks (1-2 decimals, units at z = 0, unused
    inputs), and one of huge and tiny magnitudes with two identical units."""
    exams = [(Q2_EXAM, 12), (written(tmp_path, "softmax.yaml", SOFTMAX), 8)]
    diagrams = [v.solution.given.diagram for path, count in exams for v in exam_variants(exam_template(path), count, 4)]
    specs = [written(tmp_path, "extreme.yaml", EXTREME)]
    specs += [written(tmp_path, f"teacher{seed}.yaml", yaml.safe_dump(teacher_spec(seed))) for seed in range(10)]
    return diagrams + [api.solve(spec).given.diagram for spec in specs]


def forget_layouts() -> None:
    """Every layout and measurement kept, forgotten: the next layout is worked out whole."""
    if hasattr(diagram_module, "clear_caches"):  # every cache of the layout modules
        diagram_module.clear_caches()
    else:
        diagram_module.lay_out.cache_clear()
        diagram_module.MEASURED.clear()
    assert diagram_module.lay_out.cache_info().currsize == 0 and not diagram_module.MEASURED


def test_a_carried_layout_is_the_layout(tmp_path: Path) -> None:
    """The layout a worker sends with its variant's diagram is the one the parent would
    work out itself from scratch (every layout cache emptied), and draws the same SVG."""
    diagrams = laid_out_cases(tmp_path)
    carried = [pickle.loads(pickle.dumps(LaidOut.of(d))) for d in diagrams]
    forget_layouts()
    for diagram, laid_out in zip(diagrams, carried):
        assert isinstance(laid_out, LaidOut) and tuple(laid_out) == tuple(diagram)
        assert laid_out.layout == diagram.layout
        assert diagram_svg(laid_out) == diagram_svg(diagram)
