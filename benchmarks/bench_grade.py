"""Wall time of `derive grade`: 300 students over 30 variants, against the floor.

The exam is q2's network (problems/q2-exam.yaml) asking the whole chain: every z and a,
the loss, four gradients and their updates (19 answers per student). Each student
answers their variant from answers.csv, with a mix of behaviours that exercises every
branch of the marking: right, a slip carried forward (a wrong z whose later values are
off), random numbers (each answer tried against follow-through and every slip), blanks.
The floor is `python -c "import sympy, jinja2, click, yaml"`, measured in the same run,
interleaved with the grading so that machine noise hits both alike.

    python benchmarks/bench_grade.py            # 300 students x 30 variants
    python benchmarks/bench_grade.py --runs 9 --students 3000
"""
from __future__ import annotations

import argparse
import csv
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_solve import FLOOR, ROOT, paired_rounds, print_ratios

ASKED = ("asked: [z:h1, a:h1, z:h2, a:h2, z:g1, a:g1, z:g2, a:g2, z:o, a:o, loss, "
         "g1->o, o, h1->g1, x1->h1]\n")


def make_exam(folder: Path, derive: str, variants: int) -> Path:
    text = (ROOT / "problems" / "q2-exam.yaml").read_text()
    template = folder / "chain-exam.yaml"
    template.write_text("".join(line for line in text.splitlines(keepends=True)
                                if not line.startswith("asked:")) + ASKED)
    subprocess.run([derive, "exam", str(template), "--variants", str(variants), "--seed", "2026",
                    "-o", str(folder / "exam"), "-q", "--no-pdf"], check=True)
    return folder / "exam"


def make_responses(exam: Path, students: int, path: Path) -> None:
    with open(exam / "answers.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    header, keys = rows[0][1:], {int(row[0]): row[1:] for row in rows[1:]}
    rng = random.Random(2026)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["student", "variant", "task", "value"])
        for n in range(students):
            variant = n % len(keys) + 1
            kind = n % 4  # right, off from the third answer on, random, every third blank
            for i, (quantity, value) in enumerate(zip(header, keys[variant])):
                if kind == 1 and i >= 2:
                    value = f"{float(value) * 1.07:.4f}"
                elif kind == 2:
                    value = f"{rng.uniform(-1, 1):.4f}"
                elif kind == 3 and i % 3 == 0:
                    value = "-"
                writer.writerow([f"s{n:05d}", variant, quantity, value])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--variants", type=int, default=30)
    args = parser.parse_args()
    derive = shutil.which("derive")
    if derive is None:
        sys.exit("install derive first (pip install .)")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        exam = make_exam(folder, derive, args.variants)
        responses = folder / "responses.csv"
        make_responses(exam, args.students, responses)
        cases = {"floor": FLOOR,
                 f"grade {args.students} x {args.variants}": [derive, "grade", str(exam), str(responses),
                                                              "-o", str(folder / "grades"), "--force"]}
        walls, cpus = paired_rounds(cases, args.runs)
    print_ratios(walls, cpus, 22)


if __name__ == "__main__":
    main()
