"""derive grade on Moodle's quiz Responses report, in both header generations.

The report's CSV download has the user columns (Surname before Moodle 4, Last name
after), First name, Email address (and ID number when the site shows it), State (Status
in Moodle 4), the attempt's times, Grade/<max>, then per question slot "Question N",
"Response N" and "Right answer N" (each optional, as the teacher ticks them). A Cloze
question's response is summarised as "part 1: value; part 2: value; ..." in the order
of its blanks (an unanswered part is empty, an unanswered question "-"); its right
answer the same way. The same students as tests/test_grade.py, through this layout,
get the same codes.
"""
from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from click.testing import CliRunner

from cli import main
from test_grade import Student, check_codes, exam, grade, quantities, read_variant, students, work  # noqa: F401

OLD_HEADER = ["Surname", "First name", "Email address", "State", "Started on", "Completed", "Time taken",
              "Grade/21.00", "Question 1", "Response 1", "Right answer 1"]
NEW_HEADER = ["Last name", "First name", "ID number", "Email address", "Status", "Started", "Completed",
              "Duration", "Grade/21.00", "Response 1", "Right answer 1"]


def cloze(values: list[str | None]) -> str:
    """Moodle's summary of a Cloze response: every part, empty where unanswered."""
    if all(v is None for v in values):
        return "-"
    return "; ".join(f"part {i}: {'' if v is None else v}" for i, v in enumerate(values, 1))


def right_answer(exam: Path, variant: int) -> str:
    key = work(read_variant(exam, variant))
    return "; ".join(f"part {i}: {key[q]!r}" for i, q in enumerate(quantities(exam), 1))


def question_text(variant: int) -> str:
    """Moodle's plain-text summary of the question: its text, each blank as _____."""
    return (f"Chain, variant {variant}\n\nNetwork: layer 1: 2 ReLU neurons (hidden); layer 2: 2 sigmoid "
            "neurons (hidden); layer 3: 1 sigmoid neuron (output). ... \\(z_{1}^{(1)}\\) = _____ ...")


def moodle_csv(exam: Path, found: list[Student], new: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(NEW_HEADER if new else OLD_HEADER)
    names = quantities(exam)
    for n, student in enumerate(found):
        response = cloze([student.answers[q] for q in names])
        times = ["8 January 2024  10:15 AM", "8 January 2024  11:02 AM", "47 mins 3 secs", "12.00"]
        if new:
            writer.writerow(["Student", student.name, f"S{n:04d}", f"{student.name}@example.edu", "Finished",
                             *times, response, right_answer(exam, student.variant)])
        else:
            writer.writerow(["Student", student.name, f"{student.name}@example.edu", "Finished", *times,
                             question_text(student.variant), response, right_answer(exam, student.variant)])
    # an attempt still open is not graded
    if new:
        writer.writerow(["Late", "Lou", "S9999", "lou@example.edu", "In progress", "8 January 2024  10:15 AM",
                         "-", "-", "-", "-", right_answer(exam, 1)])
    else:
        writer.writerow(["Late", "Lou", "lou@example.edu", "In progress", "8 January 2024  10:15 AM", "-", "-",
                         "-", question_text(1), "-", right_answer(exam, 1)])
    return buffer.getvalue()


def test_moodle_blanks_are_in_answers_csv_order(exam: Path) -> None:
    """moodle.xml's blanks, in order, hold the values this file computes for answers.csv's
    columns in order: so part k of a response is column k."""
    quiz = ElementTree.parse(exam / "moodle.xml").getroot()
    for question in quiz.iter("question"):
        if question.get("type") != "cloze":
            continue
        variant = int(re.search(r"variant (\d+)", question.findtext("name/text"))[1])  # type: ignore[arg-type,index]
        blanks = [float(v) for v in re.findall(r"\{1:NUMERICAL:=([^:]+):", question.findtext("questiontext/text"))]  # type: ignore[arg-type]
        key = work(read_variant(exam, variant))
        assert len(blanks) == len(quantities(exam))
        for value, quantity in zip(blanks, quantities(exam)):
            assert abs(value - key[quantity]) < 1e-9, (variant, quantity)


def test_older_layout_surname_state_question_text(exam: Path, tmp_path: Path) -> None:
    found = students(exam)
    (tmp_path / "responses.csv").write_text(moodle_csv(exam, found, new=False), encoding="utf-8-sig")
    rows = grade(exam, tmp_path / "responses.csv", tmp_path / "g")
    # the student is known by the email address where there is no ID number
    check_codes({row["student"].removesuffix("@example.edu"): row for row in rows.values()}, found)
    assert "1 Moodle attempts that were not finished" in (tmp_path / "g" / "summary.md").read_text()


def test_newer_layout_last_name_status_variant_from_right_answer(exam: Path, tmp_path: Path) -> None:
    found = students(exam)
    (tmp_path / "responses.csv").write_text(moodle_csv(exam, found, new=True))
    rows = grade(exam, tmp_path / "responses.csv", tmp_path / "g")
    # the student is known by the ID number
    by_name = {s.name: s for s in found}
    renamed = {}
    for n, student in enumerate(found):
        renamed[student.name] = rows[f"S{n:04d}"]
    check_codes(renamed, list(by_name.values()))


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def test_a_second_attempt_is_graded_as_its_own_row(exam: Path, tmp_path: Path) -> None:
    found = [s for s in students(exam) if s.name in ("right-1", "random-1")]
    rows = rows_of(moodle_csv(exam, found, new=False))
    # the same person twice: Moodle lists each attempt as a row
    rows[2][2] = "right-1@example.edu"
    (tmp_path / "r.csv").write_text(csv_text(rows[:3]))
    graded = grade(exam, tmp_path / "r.csv", tmp_path / "g")
    assert set(graded) == {"right-1@example.edu", "right-1@example.edu (attempt 2)"}
    assert graded["right-1@example.edu"]["score"] == graded["right-1@example.edu"]["max"]
    assert graded["right-1@example.edu (attempt 2)"]["score"] == "0"


def test_a_response_with_more_parts_than_blanks_is_located(exam: Path, tmp_path: Path) -> None:
    found = [s for s in students(exam) if s.name in ("right-2", "right-3")]
    rows = rows_of(moodle_csv(exam, found, new=False))
    count = len(quantities(exam))
    rows[2][9] = "; ".join(f"part {i}: 0.5" for i in range(1, count + 2))
    (tmp_path / "r.csv").write_text(csv_text(rows))
    result = CliRunner().invoke(main, ["grade", str(exam), str(tmp_path / "r.csv"), "-o", str(tmp_path / "g")])
    assert result.exit_code == 2
    # the second student's row starts on line 5: the question text of the first spans 3 lines
    assert rows[1][8].count("\n") == 2
    assert f"{tmp_path / 'r.csv'}:5: column 10 (Response 1): expected a Cloze response" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "g").exists()


def test_text_in_a_part_is_wrong_and_overall_average_is_no_student(exam: Path, tmp_path: Path) -> None:
    found = [s for s in students(exam) if s.name == "right-4"]
    rows = rows_of(moodle_csv(exam, found, new=False))
    parts = rows[1][9].split("; ")
    parts[2] = "part 3: about one"
    rows[1][9] = "; ".join(parts)
    rows.append(["Overall average", "", "", "", "", "", "", "10.50", "", "", ""])
    (tmp_path / "r.csv").write_text(csv_text(rows))
    graded = grade(exam, tmp_path / "r.csv", tmp_path / "g")
    assert list(graded) == ["right-4@example.edu"]
    row = graded["right-4@example.edu"]
    third = quantities(exam)[2]
    assert row[f"{third} code"] == "wrong"
    assert all(row[f"{q} code"] == "ok" for q in quantities(exam) if q != third)
    assert "about one" in (tmp_path / "g" / "feedback" / "right-4@example.edu.md").read_text()
