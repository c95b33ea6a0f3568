"""Every row of issue 16's table in one run, each as a ratio to the import floor.

The floor is `python -c "import sympy, jinja2, click, yaml"`, run in the same rounds,
interleaved with the commands under test, so that machine noise hits both alike. A
row's ratio is the median over the rounds of (its time / the floor's time in that
round); the CPU ratio (user + system of the child and its children) is less sensitive
to other load on a shared machine.

    python benchmarks/bench_table.py                      # derive on PATH, 5 rounds
    python benchmarks/bench_table.py --runs 7
    python benchmarks/bench_table.py --before "python /old/checkout/cli.py"   # both, interleaved

Rows:
  q2 -f md, q2 -f pdf          one run each per round
  exam, per extra variant      (T(40 variants) - T(10 variants)) / 30, --no-pdf, per round
  10-20-20-10 --form delta     a 10-20-20-10 sigmoid network, Markdown
  20 x 2 --form delta          2 inputs, 20 sigmoid layers of width 2, Markdown
  exam of 2,000, peak memory   the largest process's ru_maxrss, and (in brackets) the peak of
                               derive and its worker processes together (proportional set
                               sizes, sampled); one run only (a minute or more)
  pdflatex passes per PDF      a 30-variant exam with PDFs, pdflatex counted by a wrapper
                               put first on PATH; one run only (half a minute)
--quick skips the last two.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
Q2 = ROOT / "problems" / "q2.yaml"
Q2_EXAM = ROOT / "problems" / "q2-exam.yaml"
FLOOR = [sys.executable, "-c", "import sympy, jinja2, click, yaml"]
# As on a user's machine: Python keeps compiled bytecode (some sandboxes set
# PYTHONDONTWRITEBYTECODE, which would make every run recompile derive's own modules).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
GOALS = {"q2 -f md": "<= 1.15", "q2 -f pdf": "<= 2.2", "exam, per extra variant": "<= 0.03",
         "10-20-20-10 --form delta": "<= 2.5", "20 x 2 --form delta": "<= 2",
         "exam of 2,000, peak MiB": "<= 200, flat", "pdflatex passes per PDF": "<= 1.1"}


def dense(widths: list[int], title: str) -> str:
    """A sigmoid network of the given widths (the first: inputs), fixed unremarkable values."""
    inputs = ", ".join(f"x{i}: {((i * 7) % 11 - 5) / 10}" for i in range(1, widths[0] + 1))
    lines = [f"title: {title}", f"inputs: {{{inputs}}}", "layers:"]
    sources = [f"x{i}" for i in range(1, widths[0] + 1)]
    for layer, width in enumerate(widths[1:], 1):
        lines += ["  - activation: sigmoid", "    neurons:"]
        names = [f"n{layer}_{j}" for j in range(1, width + 1)]
        for j, name in enumerate(names, 1):
            weights = ", ".join(f"{s}: {((layer * 7 + j * 3 + k * 5) % 19 - 9) / 10}"
                                for k, s in enumerate(sources))
            lines.append(f"      {name}: {{bias: 0.{j % 10}, weights: {{{weights}}}}}")
        sources = names
    targets = ", ".join(f"{s}: {i % 2}" for i, s in enumerate(sources))
    lines += [f"targets: {{{targets}}}", "loss: half_squared_error", "learning_rate: 0.5"]
    return "\n".join(lines) + "\n"


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak resident KiB) of one run of `command`."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env or CHILD_ENV)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{shlex.join(command)} failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def tree_kib(root: int) -> int:
    """The memory of a process and all its descendants, in KiB: the sum of their
    proportional set sizes (a page that forked workers share with derive counts once,
    split between them), or of their resident sizes where the kernel has no PSS."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        total += process_kib(pid)
    return total


def process_kib(pid: int) -> int:
    for name, field in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                if line.startswith(field):
                    return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return 0


def tree_timed(command: list[str]) -> tuple[float, float, int, int]:
    """timed(), and the peak of tree_kib sampled every 20 ms while it runs."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=CHILD_ENV)
    peak = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, tree_kib(process.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{shlex.join(command)} failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, peak


class Version:
    """One derive under test: its command, and the runs of its commands per round."""

    def __init__(self, name: str, derive: list[str], work: Path) -> None:
        self.name, self.derive, self.work = name, derive, work
        self.ratios: dict[str, list[float]] = {}
        self.cpu_ratios: dict[str, list[float]] = {}
        self.seconds: dict[str, list[float]] = {}

    def exam(self, variants: int, pdf: bool = False) -> list[str]:
        folder = self.work / f"exam-{self.name}"
        return [*self.derive, "exam", str(Q2_EXAM), "-n", str(variants), "--seed", "2026", "-q",
                "--force", "--pdf" if pdf else "--no-pdf", "-o", str(folder)]

    def solve(self, spec: Path, *options: str) -> list[str]:
        return [*self.derive, "solve", str(spec), *options]

    def record(self, row: str, wall: float, cpu: float, floor: tuple[float, float]) -> None:
        self.ratios.setdefault(row, []).append(wall / floor[0])
        self.cpu_ratios.setdefault(row, []).append(cpu / floor[1])
        self.seconds.setdefault(row, []).append(wall)

    def round(self, floor: tuple[float, float], nets: dict[str, Path]) -> None:
        pdf = self.work / f"k-{self.name}.pdf"
        for row, command in (("q2 -f md", self.solve(Q2, "-f", "md")),
                             ("q2 -f pdf", self.solve(Q2, "-f", "pdf", "-o", str(pdf))),
                             ("10-20-20-10 --form delta", self.solve(nets["wide"], "--form", "delta", "-f", "md")),
                             ("20 x 2 --form delta", self.solve(nets["deep"], "--form", "delta", "-f", "md"))):
            wall, cpu, _ = timed(command)
            self.record(row, wall, cpu, floor)
        ten, cpu_ten, _ = timed(self.exam(10))
        forty, cpu_forty, _ = timed(self.exam(40))
        self.record("exam, per extra variant", (forty - ten) / 30, (cpu_forty - cpu_ten) / 30, floor)

    def peak_memory(self, variants: int) -> tuple[float, float]:
        """(the largest process's peak MiB, the peak MiB of derive and its workers together)."""
        _, _, kib, together = tree_timed(self.exam(variants))
        return kib / 1024, together / 1024

    def tex_passes(self, variants: int) -> tuple[int, int]:
        """(pdflatex runs, PDFs made) for an exam with PDFs: pdflatex is wrapped by a script
        first on PATH that counts its runs (latexmk, if used, finds it there too)."""
        real = shutil.which("pdflatex")
        if real is None:
            sys.exit("pdflatex is not installed")
        shim = self.work / "shim"
        shim.mkdir(exist_ok=True)
        log = self.work / f"passes-{self.name}.log"
        log.write_text("")
        (shim / "pdflatex").write_text(f'#!/bin/sh\necho run >> "$DERIVE_BENCH_TEX_LOG"\nexec {shlex.quote(real)} "$@"\n')
        (shim / "pdflatex").chmod(0o755)
        env = dict(CHILD_ENV, PATH=f"{shim}{os.pathsep}{os.environ.get('PATH', '')}",
                   DERIVE_BENCH_TEX_LOG=str(log))
        timed(self.exam(variants, pdf=True), env)
        pdfs = len(list((self.work / f"exam-{self.name}").rglob("*.pdf")))
        return len(log.read_text().splitlines()), pdfs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds of the fast rows (default 5)")
    parser.add_argument("--derive", default=shutil.which("derive") or "derive",
                        help="the derive command to measure (default: derive on PATH)")
    parser.add_argument("--before", help="another derive command, measured in the same rounds")
    parser.add_argument("--memory-variants", type=int, default=2000)
    parser.add_argument("--pdf-variants", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="skip the memory and TeX-pass rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="derive-bench-") as folder:
        work = Path(folder)
        nets = {"wide": work / "n10-20-20-10.yaml", "deep": work / "deep-20x2.yaml"}
        nets["wide"].write_text(dense([10, 20, 20, 10], "10-20-20-10 sigmoid"))
        nets["deep"].write_text(dense([2] + [2] * 20, "20 layers of width 2"))
        versions = [Version("after", shlex.split(args.derive), work)]
        if args.before:
            versions.insert(0, Version("before", shlex.split(args.before), work))
        for version in versions:  # warm the OS file cache and derive's template cache
            version.round(timed(FLOOR)[:2], nets)
            for rows in (version.ratios, version.cpu_ratios, version.seconds):
                rows.clear()
        floors = []
        for number in range(args.runs):
            for version in (versions if number % 2 == 0 else versions[::-1]):
                floor = timed(FLOOR)[:2]
                floors.append(floor[0])
                version.round(floor, nets)
        extra: dict[str, dict[str, str]] = {v.name: {} for v in versions}
        if not args.quick:
            for version in versions:
                largest, together = version.peak_memory(args.memory_variants)
                extra[version.name]["exam of 2,000, peak MiB"] = f"{largest:.0f} ({together:.0f} all)"
                runs, pdfs = version.tex_passes(args.pdf_variants)
                extra[version.name]["pdflatex passes per PDF"] = f"{runs / pdfs:.2f} ({runs}/{pdfs})"
    print(f"floor: median {statistics.median(floors):.3f} s over {len(floors)} runs; "
          f"ratios are medians of {args.runs} paired rounds (wall, and CPU in brackets)")
    names = [v.name for v in versions]
    print(f"{'row':<28}" + "".join(f"{n:>22}" for n in names) + f"{'goal':>14}")
    for row in GOALS:
        cells = []
        for version in versions:
            if row in version.ratios:
                wall = statistics.median(version.ratios[row])
                cpu = statistics.median(version.cpu_ratios[row])
                ms = statistics.median(version.seconds[row]) * 1000
                cells.append(f"{wall:.3f} ({cpu:.3f}) {ms:.0f}ms")
            else:
                cells.append(extra[version.name].get(row, "skipped"))
        print(f"{row:<28}" + "".join(f"{c:>22}" for c in cells) + f"{GOALS[row]:>14}")
    print("exam of 2,000: one run (--memory-variants); passes: one exam of "
          f"{args.pdf_variants} variants with PDFs (--pdf-variants)")


if __name__ == "__main__":
    main()
