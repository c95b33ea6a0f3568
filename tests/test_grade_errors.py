"""derive grade on bad input: a located error (file, line, column), exit code 2, no
traceback and nothing written; and student ids that are not file names."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from test_grade import exam, grade, read_variant, work, written  # noqa: F401 (exam: a fixture)

HEADER = "student,variant,task,value\n"


def refused(exam: Path, tmp_path: Path, text: str | bytes) -> str:
    responses = tmp_path / "responses.csv"
    if isinstance(text, bytes):
        responses.write_bytes(text)
    else:
        responses.write_text(text)
    result = CliRunner().invoke(main, ["grade", str(exam), str(responses), "-o", str(tmp_path / "g")])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert result.output.startswith("derive: error: ")
    assert not (tmp_path / "g").exists()
    return result.output.removeprefix("derive: error: ")


BAD_LONG = {
    "unknown header": ("name,variant,task,value\nann,1,loss,0.5\n", ":1: unknown header"),
    "variant not in the exam": (HEADER + "ann,1,loss,0.5\nbob,99,loss,0.5\n",
                                ":3: column 2 (variant): expected a variant number of the exam (1 to 6), found '99'"),
    "variant a word": (HEADER + "ann,one,loss,0.5\n", ":2: column 2 (variant): expected a variant number"),
    "unknown task": (HEADER + "ann,1,3.99,0.5\n", ":2: column 3 (task): no asked task '3.99'"),
    "value a word": (HEADER + "ann,1,loss,about 0.5\n", ":2: column 4 (value): expected a number"),
    "value an expression": (HEADER + "ann,1,loss,__import__('os')\n", ":2: column 4 (value): expected a number"),
    "value infinite": (HEADER + "ann,1,loss,inf\n", ":2: column 4 (value): expected a number"),
    "too few cells": (HEADER + "ann,1,loss\n", ":2: expected 4 cells (student, variant, task, value), found 3"),
    "no student": (HEADER + ",1,loss,0.5\n", ":2: column 1 (student): the student is empty"),
    "two variants": (HEADER + "ann,1,loss,0.5\nann,2,z:h1,0.5\n", ":3: column 2 (variant): student 'ann' answered variant 1"),
    "twice": (HEADER + "ann,1,loss,0.5\nann,1,2,0.4\n", ":3: column 3 (task): student 'ann' answered loss twice"),
    "broken quotes": (HEADER + 'ann,1,loss,"0.5\n', ":2: not valid CSV"),
    "empty": ("", ":1: the file is empty"),
}


@pytest.mark.parametrize("case", BAD_LONG)
def test_bad_long_csv_is_located(exam: Path, tmp_path: Path, case: str) -> None:
    text, message = BAD_LONG[case]
    assert f"{tmp_path / 'responses.csv'}{message}" in refused(exam, tmp_path, text)


def test_every_problem_is_reported_at_once(exam: Path, tmp_path: Path) -> None:
    message = refused(exam, tmp_path, HEADER + "ann,1,loss,x\nbob,0,loss,1\ncy,1,nothing,1\n")
    assert message.startswith("3 problems in the responses:")
    for line in (2, 3, 4):
        assert f"responses.csv:{line}: column" in message


def test_not_utf8(exam: Path, tmp_path: Path) -> None:
    assert "not UTF-8 text" in refused(exam, tmp_path, HEADER.encode() + b"J\xf6rg,1,loss,0.5\n")


def test_moodle_without_a_way_to_tell_the_variant(exam: Path, tmp_path: Path) -> None:
    text = ("Last name,First name,Email address,Status,Started,Completed,Duration,Grade/21.00,Response 1\n"
            "Doe,Jane,jane@example.edu,Finished,x,y,z,1.00,part 1: 0.5\n")
    message = refused(exam, tmp_path, text)
    assert ":2: column 9 (Response 1): no slot of this exam" in message


def test_moodle_parts_out_of_order(exam: Path, tmp_path: Path) -> None:
    text = ("Surname,First name,Email address,State,Started on,Completed,Time taken,Grade/21.00,Question 1,"
            "Response 1\nDoe,Jane,jane@example.edu,Finished,x,y,z,1.00,\"Chain, variant 2\","
            "part 2: 0.5; part 1: 0.4\n")
    assert ":2: column 10 (Response 1): expected a Cloze response" in refused(exam, tmp_path, text)


def test_not_an_exam_folder(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(HEADER)
    result = CliRunner().invoke(main, ["grade", str(tmp_path), str(tmp_path / "r.csv"), "-o", str(tmp_path / "g")])
    assert result.exit_code == 2 and "has no answers.json" in result.output


def test_grades_folder_is_replaced_only_with_force(exam: Path, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(HEADER + "ann,1,loss,0.5\n")
    grade(exam, tmp_path / "r.csv", tmp_path / "g")
    again = CliRunner().invoke(main, ["grade", str(exam), str(tmp_path / "r.csv"), "-o", str(tmp_path / "g")])
    assert again.exit_code == 2 and "--force" in again.output
    grade(exam, tmp_path / "r.csv", tmp_path / "g", "--force")
    # a folder of the user's is never written into
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    other = CliRunner().invoke(main, ["grade", str(exam), str(tmp_path / "r.csv"), "-o", str(tmp_path / "mine"),
                                      "--force"])
    assert other.exit_code == 2 and "notes.txt" in other.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"


def test_student_ids_become_safe_distinct_file_names(exam: Path, tmp_path: Path) -> None:
    key = work(read_variant(exam, 1))
    ids = ["../../escape", ".hidden", "a/b", "Ann", "ann", "ANN", "Zoë Ünal", "..", "con|*?", "x" * 300,
           "=HYPERLINK(\"http://example.com\")", "@SUM(A1)"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "variant", "task", "value"])
    for student in ids:
        writer.writerow([student, 1, "loss", written(key["loss"])])
    (tmp_path / "r.csv").write_text(buffer.getvalue())
    rows = grade(exam, tmp_path / "r.csv", tmp_path / "out" / "g")
    # grades.csv: a cell a spreadsheet would run as a formula starts with '
    formulas = {i for i in ids if i[0] in "=@"}
    assert set(rows) == (set(ids) - formulas) | {"'" + i for i in formulas}
    files = sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file())
    feedback = [p for p in files if p.parent.name == "feedback"]
    assert len(feedback) == len(ids)  # one each: none overwritten, none elsewhere
    assert set(files) - set(feedback) == {tmp_path / "out" / "g" / "grades.csv", tmp_path / "out" / "g" / "summary.md"}
    names = [p.name for p in feedback]
    assert len({n.lower() for n in names}) == len(names)
    assert not any(n.startswith(".") or "/" in n or len(n) > 100 for n in names)
    # each file is the feedback of its own student (the id escaped for Markdown)
    texts = [p.read_text() for p in feedback]
    assert sum("# Feedback for Ann\n" in t for t in texts) == 1
    assert sum("# Feedback for \\.\\./\\.\\./escape" in t or "# Feedback for ../../escape" in t for t in texts) == 1
