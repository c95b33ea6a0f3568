"""What derive grade writes: grades.csv, feedback/<student>.md, summary.md.

The texts are made whole in memory, then written as one folder (derive.folder), so the
grades folder holds either the previous complete grading or the new one. A student's
id is data: in the feedback file's name it is reduced to a safe name (letters, digits,
`-`, `_`, `.`, `@`; never a path separator or a leading dot), two ids that reduce to
the same name get `-2`, `-3`; in Markdown it is escaped.
"""
from __future__ import annotations

import csv
import io
import re
from collections import Counter

from ..latex import format_number
from .marking import Graded, Mark

SAFE = re.compile(r"[^A-Za-z0-9_.@-]+")
FEEDBACK_FILE = re.compile(r"[A-Za-z0-9_@-][A-Za-z0-9_.@-]*\.md\Z")
TOP_FILES = ("grades.csv", "summary.md")
MAX_STEM = 80
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<|$~])")  # markup inside a table cell


def grades_owned(name: str, is_folder: bool) -> bool:
    """Whether `name` (relative to the grades folder) is one derive grade writes."""
    parts = name.split("/")
    if len(parts) == 1:
        return name == "feedback" if is_folder else name in TOP_FILES
    return len(parts) == 2 and parts[0] == "feedback" and not is_folder and bool(FEEDBACK_FILE.match(parts[1]))


def grade_files(graded: list[Graded], quantities: tuple[str, ...], digits: int, rules_text: str,
                skipped: int = 0) -> dict[str, str]:
    """Every file of the grades folder, by name."""
    files = {"grades.csv": grades_csv(graded, quantities), "summary.md": summary(graded, quantities, rules_text, skipped)}
    for name, student in zip(file_names([g.response.student for g in graded]), graded):
        files[f"feedback/{name}.md"] = feedback(student, digits)
    return files


def number(value: float) -> str:
    """A mark without a needless .0: 1, 0.5, 0."""
    return f"{value:g}"


def grades_csv(graded: list[Graded], quantities: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "variant", "score", "max"]
                    + [f"{q} {part}" for q in quantities for part in ("mark", "code")])
    for student in graded:
        by_quantity = {m.task.quantity: m for m in student.marks}
        row: list[object] = [spreadsheet_safe(student.response.student), student.response.variant,
                             number(student.score), student.max]
        for q in quantities:
            mark = by_quantity[q]
            row += [number(mark.credit), mark.code]
        writer.writerow(row)
    return buffer.getvalue()


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (a student's name can come from
    Moodle, where students choose it): one starting with = + - @ or a control character
    gets a leading ' (OWASP's advice for CSV injection)."""
    return "'" + text if text[:1] in FORMULA_START else text


def file_names(students: list[str]) -> list[str]:
    """A safe, distinct file stem per student (case-insensitively distinct too)."""
    taken: set[str] = set()
    names = []
    for student in students:
        stem = SAFE.sub("_", student).lstrip(".")[:MAX_STEM].rstrip(".") or "student"
        name, n = stem, 1
        while name.lower() in taken:
            n += 1
            name = f"{stem}-{n}"
        taken.add(name.lower())
        names.append(name)
    return names


def escaped(text: str) -> str:
    """User text in Markdown: every character Markdown could read as markup, escaped."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def feedback(student: Graded, digits: int) -> str:
    response = student.response
    lines = [f"# Feedback for {escaped(response.student)}", "",
             f"Variant {response.variant}: {number(student.score)} of {student.max}.", "",
             "| task | quantity | your answer | expected | from your earlier answers | verdict |",
             "|---|---|---|---|---|---|"]
    for mark in student.marks:
        own = format_number(mark.own, digits).text if mark.own is not None else ""
        written = escaped(mark.written) if mark.written is not None else "(blank)"
        lines.append(f"| {mark.task.number} | {escaped(mark.task.quantity)} | {written} | "
                     f"{escaped(mark.task.shown)} | {escaped(own)} | {verdict(mark)} |")
    return "\n".join(lines) + "\n"


VERDICTS = {
    "ok": "right",
    "FT": "right from your earlier answers (follow-through)",
    "wrong": "wrong",
    "blank": "not answered",
    "slip:update-sign": "the update has the wrong sign: w - eta * g",
    "slip:missing-sigma-prime": "a factor sigma'(z) = a(1 - a) is missing",
    "slip:missing-path": "one path of the sum over paths is missing",
    "slip:half-missing": "the 1/2 of the squared error is missing",
    "slip:half-extra": "a 1/2 that this squared error does not have",
    "slip:relu-prime-one": "ReLU'(z) is 0 for z <= 0, not 1",
}


def verdict(mark: Mark) -> str:
    text = VERDICTS.get(mark.code, mark.code)
    return f"{text} ({number(mark.credit)})"


def summary(graded: list[Graded], quantities: tuple[str, ...], rules_text: str, skipped: int) -> str:
    """Per task: how many were right, FT, slips, wrong, blank; the most common slips."""
    counts: dict[str, Counter[str]] = {q: Counter() for q in quantities}
    for student in graded:
        for mark in student.marks:
            counts[mark.task.quantity][mark.code] += 1
    total = len(graded)
    mean = sum(g.score for g in graded) / total if total else 0.0
    lines = ["# Grading summary", "",
             f"{total} {'student' if total == 1 else 'students'}; mean score {mean:.2f} of {len(quantities)}. {rules_text}", ""]
    if skipped:
        lines += [f"{skipped} Moodle attempts that were not finished were not graded.", ""]
    lines += ["| task | ok | FT | slip | wrong | blank | most common slips |", "|---|---|---|---|---|---|---|"]
    for q in quantities:
        c = counts[q]
        slips = Counter({code: n for code, n in c.items() if code.startswith("slip:")})
        common = ", ".join(f"{code.removeprefix('slip:')} ({n})" for code, n in
                           sorted(slips.items(), key=lambda item: (-item[1], item[0]))[:3])
        lines.append(f"| {escaped(q)} | {c['ok']} | {c['FT']} | {sum(slips.values())} | {c['wrong']} | "
                     f"{c['blank']} | {escaped(common)} |")
    return "\n".join(lines) + "\n"
