"""What derive exam writes besides each variant's own documents: answers.json and
answers.csv a variant at a time (the same bytes as made whole), and the PDFs, made by
TeX in threads while the variants are made (derive.exam.write_exam).
"""
from __future__ import annotations

import csv
import io
import json
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from .folder import FolderWriter

if TYPE_CHECKING:
    from .exam import Exam, Variant


class PdfQueue:
    """The exam's PDFs, made by TeX on the available cores while the variants are made;
    each goes into the stage as soon as it is done, and only a few documents wait at a
    time, so memory does not grow with the exam.

    If anything stops the run (a TeX error, Ctrl-C, SIGTERM), `stop` ends every TeX
    process still running at once, so that the pool's threads (and their temporary
    folders) are gone before the error leaves write_exam.
    """

    def __init__(self, out: FolderWriter) -> None:
        from .pdf import TexRuns

        self.out = out
        self.runs = TexRuns()
        self.workers = os.cpu_count() or 1
        self.pool = ThreadPoolExecutor(max_workers=self.workers)
        self.pending: deque[tuple[str, Future[bytes]]] = deque()

    def submit(self, name: str, tex: str) -> None:
        from .pdf import compile_pdf

        self.pending.append((name, self.pool.submit(compile_pdf, tex, self.runs)))
        while len(self.pending) > 2 * self.workers:  # TeX is behind: wait for the oldest
            self.collect()

    def collect(self) -> None:
        name, future = self.pending.popleft()
        self.out.add(name, future.result())

    def finish(self) -> None:
        while self.pending:
            self.collect()
        self.pool.shutdown(wait=True)

    def stop(self) -> None:
        self.runs.stop()
        self.pool.shutdown(wait=True, cancel_futures=True)


class AnswerFiles:
    """answers.json and answers.csv written a variant at a time: the same bytes as
    answers_json and answers_csv give for the whole exam."""

    def __init__(self, out: FolderWriter, title: str, seed: int) -> None:
        self.json = out.stream("answers.json")
        self.csv = out.stream("answers.csv")
        head = json.dumps(answers_head(title, seed), indent=1, ensure_ascii=False)
        self.json.write(head[:-2] + ',\n "variants": [\n')  # the head less its closing "\n}"
        self.first = True

    def add(self, variant: Variant) -> None:
        entry = json.dumps(answers_entry(variant), indent=1, ensure_ascii=False)
        self.json.write(("" if self.first else ",\n") + "\n".join("  " + line for line in entry.split("\n")))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if self.first:
            writer.writerow(["variant"] + [a.quantity for a in variant.answers])
        writer.writerow([variant.number] + [a.shown for a in variant.answers])
        self.csv.write(buffer.getvalue())
        self.first = False

    def close(self) -> None:
        self.json.write("\n ]\n}\n")
        self.json.close()
        self.csv.close()


def answers_json(exam: Exam) -> str:
    """The whole exam's answers.json at once (write_exam writes it a variant at a time)."""
    document = {**answers_head(exam.title, exam.seed), "variants": [answers_entry(v) for v in exam.variants]}
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def answers_head(title: str, seed: int) -> dict[str, object]:
    return {"title": title, "seed": seed, "format": "derive-exam-answers/1"}


def answers_entry(variant: Variant) -> dict[str, object]:
    """One variant's entry of answers.json."""
    return {"variant": variant.number,
            "answers": {a.quantity: {"symbol": a.symbol, "exact": a.exact, "by_hand": a.by_hand,
                                     "key": a.key, "shown": a.shown, "tolerance": a.tolerance,
                                     **({"partial": {"credit": a.partial_credit,
                                                     "tolerance": a.partial_tolerance}}
                                        if a.partial_credit else {})}
                        for a in variant.answers}}


def answers_csv(exam: Exam) -> str:
    """One row per variant: `variant`, then each asked quantity's key value as shown."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["variant"] + [a.quantity for a in exam.variants[0].answers])
    for variant in exam.variants:
        writer.writerow([variant.number] + [a.shown for a in variant.answers])
    return buffer.getvalue()
