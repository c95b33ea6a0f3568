"""Exam speed: the extra time per variant, and 30 variants with PDFs.

    python benchmarks/bench_exam.py              # both measurements
    python benchmarks/bench_exam.py --no-pdf     # only the per-variant cost

The per-variant cost is (T(100) - T(1)) / 99 for `derive exam ... --no-pdf`, each T the
median of a few runs, so start-up and the one-off SymPy derivation cancel out.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "problems" / "q2-exam.yaml"


def run(derive: str, variants: int, pdf: bool) -> float:
    with tempfile.TemporaryDirectory() as folder:
        command = [derive, "exam", str(SPEC), "--variants", str(variants), "--seed", "2026",
                   "-o", folder, "--quiet", "--pdf" if pdf else "--no-pdf"]
        start = time.perf_counter()
        subprocess.run(command, check=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-pdf", action="store_true")
    args = parser.parse_args()
    derive = shutil.which("derive")
    if derive is None:
        sys.exit("install derive first (pip install .)")
    one = statistics.median(run(derive, 1, False) for _ in range(args.runs))
    hundred = statistics.median(run(derive, 100, False) for _ in range(args.runs))
    print(f"1 variant, no PDFs:    {one:.3f} s")
    print(f"100 variants, no PDFs: {hundred:.3f} s")
    print(f"extra per variant:     {(hundred - one) / 99 * 1000:.1f} ms (target: at most 20 ms)")
    if not args.no_pdf:
        print(f"30 variants with PDFs: {run(derive, 30, True):.1f} s")


if __name__ == "__main__":
    main()
