"""Wall time of `derive solve` against the floor of any SymPy tool.

The floor is `python -c "import sympy, jinja2, click, yaml"`, measured in the same
run, interleaved with the commands under test so that machine noise hits both alike.
Reports, per case, the median and minimum wall time of N runs and the median CPU time
(user + system of the child, less sensitive to other load on a shared machine), each
as a ratio to the floor.

    python benchmarks/bench_solve.py            # q2, deep_34442, a 3-4-4-2 sigmoid network, two CNNs
    python benchmarks/bench_solve.py --runs 31
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = [sys.executable, "-c", "import sympy, jinja2, click, yaml"]


def network_3442() -> str:
    """A 3-4-4-2 sigmoid network with fixed, unremarkable values."""
    lines = ["title: 3-4-4-2 sigmoid benchmark", "inputs: {x1: 0.5, x2: -1.0, x3: 2.0}", "layers:"]
    sources = ["x1", "x2", "x3"]
    for layer, width in enumerate((4, 4, 2), 1):
        lines += ["  - activation: sigmoid", "    neurons:"]
        names = [f"n{layer}{j}" for j in range(1, width + 1)]
        for j, name in enumerate(names, 1):
            weights = ", ".join(f"{s}: {((layer * 7 + j * 3 + k * 5) % 19 - 9) / 10}"
                                for k, s in enumerate(sources))
            lines.append(f"      {name}: {{bias: 0.{j}, weights: {{{weights}}}}}")
        sources = names
    lines += ["targets: {n31: 1, n32: 0}", "loss: half_squared_error", "learning_rate: 0.5"]
    return "\n".join(lines) + "\n"


def cnn_6x6() -> str:
    """A 6x6 image, two 3x3 ReLU conv maps, 2x2 max pooling, a softmax pair: a CNN the
    size of an exercise, worked in delta form (64 chain-rule paths per kernel entry)."""
    return """\
title: "6x6 CNN"
inputs:
  x: [[1, 0, 2, 1, 0, 1],
      [0, 1, 1, 0, 2, 0],
      [2, 1, 0, 1, 1, 1],
      [1, 0, 1, 2, 0, 0],
      [0, 2, 1, 0, 1, 2],
      [1, 1, 0, 1, 0, 1]]
layers:
  - conv:
      c1: {bias: 0.1, kernel: {x: [[0.2, -0.1, 0.0], [0.0, 0.3, 0.1], [-0.2, 0.1, 0.2]]}}
      c2: {bias: -0.1, kernel: {x: [[-0.3, 0.1, 0.2], [0.2, 0.1, -0.1], [0.0, 0.2, 0.1]]}}
    activation: relu
  - pool:
      p1: {from: c1}
      p2: {from: c2}
    kind: max
    size: 2
  - activation: softmax
    neurons:
      o1: {bias: 0.05, weights: {p1: [[0.4, -0.2], [0.1, 0.3]], p2: [[-0.2, 0.5], [0.3, -0.1]]}}
      o2: {bias: -0.05, weights: {p1: [[-0.1, 0.2], [0.3, -0.4]], p2: [[0.1, -0.3], [0.2, 0.4]]}}
targets: {o1: 1, o2: 0}
loss: cross_entropy
learning_rate: 0.1
"""


# As on a user's machine: Python keeps compiled bytecode. (Some sandboxes set
# PYTHONDONTWRITEBYTECODE, which would make every run recompile derive's own modules,
# while SymPy's were compiled when pip installed it.)
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `command`."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=CHILD_ENV)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{command} failed")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    derive = shutil.which("derive")
    if derive is None:
        sys.exit("install derive first (pip install .)")
    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "n3442.yaml"
        big.write_text(network_3442())
        cnn = Path(folder) / "cnn6.yaml"
        cnn.write_text(cnn_6x6())
        cases = {
            "floor": FLOOR,
            "q2 -f md": [derive, "solve", str(ROOT / "problems" / "q2.yaml"), "-f", "md"],
            "3-4-4-2 -f md": [derive, "solve", str(big), "-f", "md"],
            "deep_34442 -f md": [derive, "solve", str(ROOT / "problems" / "deep_34442.yaml"), "-f", "md"],
            "cnn 6x6 -f md": [derive, "solve", str(cnn), "-f", "md"],
            "cnn_example -f md": [derive, "solve", str(ROOT / "problems" / "cnn_example.yaml"),
                                  "-f", "md"],
        }
        walls, cpus = paired_rounds(cases, args.runs)
    print_ratios(walls, cpus, 19)


def paired_rounds(cases: dict[str, list[str]], runs: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each case's wall and CPU times over `runs` rounds, the cases interleaved in every
    round (so that machine noise hits them alike), after one warm-up run each (the OS
    file cache, derive's template cache)."""
    for command in cases.values():
        timed(command)
    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, command in cases.items():
            wall, cpu = timed(command)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return walls, cpus


def print_ratios(walls: dict[str, list[float]], cpus: dict[str, list[float]], width: int) -> None:
    """Median, least and CPU time of each case, each also as a ratio to the "floor" case's."""
    base = {"median": statistics.median(walls["floor"]), "min": min(walls["floor"]),
            "cpu": statistics.median(cpus["floor"])}
    print(f"{'case':<{width}}{'median s':>9}{'ratio':>7}{'min s':>8}{'ratio':>7}{'cpu s':>8}{'ratio':>7}")
    for name in walls:
        median, least, cpu = statistics.median(walls[name]), min(walls[name]), statistics.median(cpus[name])
        print(f"{name:<{width}}{median:>9.3f}{median / base['median']:>7.2f}{least:>8.3f}"
              f"{least / base['min']:>7.2f}{cpu:>8.3f}{cpu / base['cpu']:>7.2f}")


if __name__ == "__main__":
    main()
