"""Students' responses, in either of two CSV layouts, detected from the header.

1. derive's long CSV: `student,variant,task,value`, one row per answer; `task` is the
   worksheet's task number (`1.3z`, `2`, `3.10`, `4.1`) or answers.csv's column name
   (`z:h1`, `loss`, `grad x1->h1`); an empty value or `-` is unanswered.
2. Moodle's quiz Responses report, downloaded as CSV, of the exam's moodle.xml: the
   user columns (`Surname` or, from Moodle 4, `Last name`; `First name`; optional
   `ID number`, `Email address`), `State` or `Status`, times, `Grade/<max>`, then per
   slot `Question N`, `Response N`, `Right answer N` (the question and right-answer
   columns are optional). A Cloze response is one cell `part 1: 0.7343; part 2: ...` in
   the order of the blanks (Moodle's English summary). The variant is read from the
   question's text (`<title>, variant N`, which derive exam writes there), or found by
   the right answer, whose parts are one variant's key.

Every value is data: a number is read with float() of the cell's text and nothing else.
A file that cannot be read this way stops with every problem at its line and column.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import NamedTuple

from ..errors import Problem, SpecError
from .exam_key import ExamKey

LONG_HEADER = ("student", "variant", "task", "value")
BLANK = ("", "-")
SLOT = re.compile(r"(Question|Response|Right answer) ([0-9]+)\Z")
PART = re.compile(r"(?:\A|;\s*)part ([0-9]+):\s*")
VARIANT_TEXT = re.compile(r"\bvariant ([0-9]+)\b")
FINISHED = ("finished", "submitted")  # a Moodle attempt's state/status that is graded
MAX_CELL = 100_000  # a cell beyond this is not a response (csv's own limit is 131072)


class ResponsesError(SpecError):
    """A responses file derive grade cannot read; every problem with its line and column."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        if len(self.problems) > 1:
            self.args = (f"{len(self.problems)} problems in the responses:\n"
                         + "\n".join(f"  {p}" for p in self.problems),)


class Response(NamedTuple):
    """One student's answers to one variant."""

    student: str
    variant: int
    answers: dict[str, str]  # quantity -> the value as written (blank ones left out)
    where: str  # file:line, for messages


class Responses(NamedTuple):
    responses: tuple[Response, ...]
    skipped: int  # Moodle attempts not finished (in progress, never submitted): not graded


def read_responses(path: str | Path, exam: ExamKey) -> Responses:
    """The responses file at `path`, in whichever layout its header has."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ResponsesError([Problem(str(path), None, "", f"not UTF-8 text (byte {error.start}); "
                                      "save the CSV as UTF-8")]) from None
    except OSError as error:
        raise ResponsesError([Problem(str(path), None, "", f"cannot read it: {error.strerror}")]) from None
    rows = csv_rows(str(path), text)
    if not rows:
        raise ResponsesError([Problem(str(path), 1, "", "the file is empty; expected a header "
                                      "student,variant,task,value or Moodle's Responses report")])
    header = [cell.strip() for cell in rows[0][1]]
    if [cell.lower() for cell in header] == list(LONG_HEADER):
        return Responses(LongReader(str(path), exam).read(rows[1:]), 0)
    if any(SLOT.match(cell) for cell in header):
        return MoodleReader(str(path), exam, header).read(rows[1:])
    raise ResponsesError([Problem(str(path), rows[0][0], "", "unknown header: expected "
                                  "student,variant,task,value (derive's long CSV) or Moodle's "
                                  "Responses report (Surname or Last name, First name, ..., "
                                  f"Response 1, ...); found {', '.join(header[:6])[:200]}")])


def csv_rows(path: str, text: str) -> list[tuple[int, list[str]]]:
    """(line, cells) of every non-empty row; a malformed CSV is located."""
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    rows = []
    try:
        start = 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as error:
        raise ResponsesError([Problem(path, reader.line_num, "", f"not valid CSV: {error}")]) from None
    return rows


def number_text(text: str) -> str | None:
    """The value as written, tidied (a Unicode minus as '-'); None when unanswered."""
    text = text.strip().replace("\u2212", "-")
    return None if text in BLANK else text


def is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def column(index: int, header: list[str] | tuple[str, ...]) -> str:
    name = header[index] if index < len(header) else ""
    return f"column {index + 1} ({name})" if name else f"column {index + 1}"


class LongReader:
    """derive's long CSV: one answer per row."""

    def __init__(self, path: str, exam: ExamKey) -> None:
        self.path, self.exam = path, exam
        self.problems: list[Problem] = []
        self.seen: set[tuple[str, str]] = set()
        quantities = exam.quantities
        first = next(iter(exam.variants.values()))
        # a task is named by its number or its column name, case as written
        self.tasks = {task.number.lower(): task.quantity for task in first.tasks}
        self.tasks.update({quantity.replace(" ", "").lower(): quantity for quantity in quantities})

    def problem(self, line: int, index: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, column(index, LONG_HEADER), message))

    def read(self, rows: list[tuple[int, list[str]]]) -> tuple[Response, ...]:
        found: dict[str, Response] = {}
        for line, cells in rows:
            if len(cells) != 4:
                self.problems.append(Problem(self.path, line, "", f"expected 4 cells (student, variant, "
                                             f"task, value), found {len(cells)}"))
                continue
            self.row(line, [cell.strip() for cell in cells], found)
        if self.problems:
            raise ResponsesError(self.problems)
        return tuple(found.values())

    def row(self, line: int, cells: list[str], found: dict[str, Response]) -> None:
        student, variant_text, task_text, value_text = cells
        if not student:
            self.problem(line, 0, "the student is empty")
            return
        variant = int(variant_text) if variant_text.isdigit() else None
        if variant not in self.exam.variants:
            self.problem(line, 1, f"expected a variant number of the exam (1 to "
                         f"{max(self.exam.variants)}), found {variant_text[:40]!r}")
            return
        quantity = self.tasks.get(task_text.replace(" ", "").lower())
        if quantity is None:
            self.problem(line, 2, f"no asked task {task_text[:40]!r}: expected a task number such as "
                         f"{next(iter(self.tasks))!r} or an answers.csv column such as "
                         f"{self.exam.quantities[0]!r}")
            return
        value = number_text(value_text)
        if value is not None and not is_number(value):
            self.problem(line, 3, f"expected a number (or nothing, or -), found {value_text[:40]!r}")
            return
        response = found.setdefault(student, Response(student, variant, {}, f"{self.path}:{line}"))
        if response.variant != variant:
            self.problem(line, 1, f"student {student[:40]!r} answered variant {response.variant} "
                         f"before ({response.where}); one student, one variant")
        elif (student, quantity) in self.seen:
            self.problem(line, 2, f"student {student[:40]!r} answered {quantity} twice")
        elif value is not None:
            response.answers[quantity] = value
        self.seen.add((student, quantity))


class MoodleReader:
    """Moodle's quiz Responses report (CSV download), both header generations."""

    def __init__(self, path: str, exam: ExamKey, header: list[str]) -> None:
        self.path, self.exam, self.header = path, exam, header
        self.problems: list[Problem] = []
        lowered = {name.lower(): i for i, name in reversed(list(enumerate(header)))}
        self.last = first_of(lowered, ("surname", "last name"))
        self.first = first_of(lowered, ("first name",))
        self.id_number = first_of(lowered, ("id number",))
        self.email = first_of(lowered, ("email address", "email"))
        self.state = first_of(lowered, ("state", "status"))
        self.slots: dict[int, dict[str, int]] = {}
        for i, name in enumerate(header):
            match = SLOT.match(name)
            if match:
                self.slots.setdefault(int(match[2]), {})[match[1]] = i
        missing = [name for name, index in (("Surname or Last name", self.last), ("First name", self.first))
                   if index is None]
        if missing or not any("Response" in slot for slot in self.slots.values()):
            raise ResponsesError([Problem(path, 1, "", "a Moodle Responses report needs the columns "
                                          f"{', '.join(missing or ['Response 1'])}; found "
                                          f"{', '.join(header)[:200]}")])

    def read(self, rows: list[tuple[int, list[str]]]) -> Responses:
        responses: list[Response] = []
        attempts: dict[str, int] = {}
        skipped = 0
        for line, cells in rows:
            if cells[0].strip().lower() == "overall average":  # the overview's last row
                continue
            if len(cells) != len(self.header):
                self.problems.append(Problem(self.path, line, "", f"expected {len(self.header)} cells "
                                             f"as in the header, found {len(cells)}"))
                continue
            if self.state is not None and cells[self.state].strip().lower() not in FINISHED:
                skipped += 1
                continue
            response = self.row(line, cells)
            if response is None:
                continue
            attempts[response.student] = attempts.get(response.student, 0) + 1
            if attempts[response.student] > 1:  # a second attempt is graded as its own row
                response = response._replace(student=f"{response.student} (attempt {attempts[response.student]})")
            responses.append(response)
        if self.problems:
            raise ResponsesError(self.problems)
        return Responses(tuple(responses), skipped)

    def student(self, cells: list[str]) -> str:
        """The ID number where there is one, else the email address, else the name."""
        for index in (self.id_number, self.email):
            if index is not None and cells[index].strip():
                return cells[index].strip()
        return f"{cells[self.first].strip()} {cells[self.last].strip()}".strip()  # type: ignore[index]

    def row(self, line: int, cells: list[str]) -> Response | None:
        student = self.student(cells)
        if not student:
            self.problems.append(Problem(self.path, line, column(self.last or 0, self.header),
                                         "the student has no name, ID number or email address"))
            return None
        graded = [(slot, columns, variant) for slot, columns in sorted(self.slots.items())
                  if "Response" in columns and (variant := self.variant(cells, columns)) is not None]
        if len(graded) != 1:
            first = min(columns["Response"] for columns in self.slots.values() if "Response" in columns)
            self.problems.append(Problem(self.path, line, column(first, self.header),
                                         "no slot of this exam (no 'variant N' of its questions in a "
                                         "Question column, no Right answer that is a variant's key): "
                                         "download the report with the question text or the right answer"
                                         if not graded else
                                         f"slots {', '.join(str(s) for s, _, _ in graded)} are all "
                                         "questions of this exam; grade one slot per file"))
            return None
        _, columns, variant = graded[0]
        index = columns["Response"]
        parts = self.parts(line, index, cells[index], len(self.exam.variants[variant].tasks))
        if parts is None:
            return None
        tasks = self.exam.variants[variant].tasks
        answers = {task.quantity: text for task, text in zip(tasks, parts) if text is not None}
        return Response(student, variant, answers, f"{self.path}:{line}")

    def variant(self, cells: list[str], columns: dict[str, int]) -> int | None:
        """The variant of this slot's question: from its text, else from its right answer."""
        if len(self.exam.variants) == 1:
            return next(iter(self.exam.variants))
        if "Question" in columns:
            text = cells[columns["Question"]]
            start = text.find(self.exam.title) if self.exam.title else -1
            match = VARIANT_TEXT.search(text, max(start, 0))
            if match and int(match[1]) in self.exam.variants:
                return int(match[1])
        if "Right answer" in columns:
            return self.variant_of_key(cells[columns["Right answer"]])
        return None

    def variant_of_key(self, cell: str) -> int | None:
        """The one variant whose key every part of the right answer is (within tolerance)."""
        values = split_parts(cell)
        if not values or any(v is None or not is_number(v) for v in values):
            return None
        found = [number for number, key in self.exam.variants.items() if len(key.tasks) == len(values)
                 and all(abs(float(v) - task.key) <= task.tolerance  # type: ignore[arg-type]
                         for v, task in zip(values, key.tasks))]
        return found[0] if len(found) == 1 else None

    def parts(self, line: int, index: int, cell: str, count: int) -> list[str | None] | None:
        """The blanks' values in order (None: unanswered); a whole cell '-' is all blank."""
        if number_text(cell) is None:
            return [None] * count
        values = split_parts(cell)
        where = column(index, self.header)
        if values is None or len(values) > count:
            self.problems.append(Problem(self.path, line, where, f"expected a Cloze response 'part 1: "
                                         f"value; part 2: value; ...' with at most {count} parts, "
                                         f"found {cell[:60]!r}"))
            return None
        values += [None] * (count - len(values))
        # a value that is not a number is the student's (Moodle kept it): marked wrong, kept as written
        return values


def first_of(lowered: dict[str, int], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def split_parts(cell: str) -> list[str | None] | None:
    """'part 1: 0.5; part 2: ; part 3: -1' -> ['0.5', None, '-1']; None if not that form
    or the parts are not numbered 1, 2, 3, ... in order."""
    if len(cell) > MAX_CELL:
        return None
    matches = list(PART.finditer(cell))
    if not matches or matches[0].start() != 0:
        return None
    values: list[str | None] = []
    for i, match in enumerate(matches):
        if int(match[1]) != i + 1:
            return None
        end = matches[i + 1].start() if i + 1 < len(matches) else len(cell)
        values.append(number_text(cell[match.end():end]))
    return values
