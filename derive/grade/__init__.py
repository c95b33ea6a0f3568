"""derive grade: marking students' answers to an exam, with follow-through.

    exam folder (answers.json, variant-NN/spec.yaml) ──exam_key──▶ ExamKey
    responses.csv (long or Moodle) ──responses──▶ Response per student
    each Response ──chain──▶ the student's own values ──marking (+ slips)──▶ Marks
    Marks ──report──▶ grades.csv, feedback/<student>.md, summary.md (one folder, atomic)

docs/grading.md describes the command for teachers.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from ..errors import DeriveError
from ..folder import FolderWriter
from .exam_key import ExamKey, read_exam
from .marking import FOLLOW_THROUGH, Graded, Rules, grade_all
from .report import grade_files, grades_owned
from .responses import Responses, ResponsesError, read_responses

__all__ = ["FOLLOW_THROUGH", "Grading", "ResponsesError", "Rules", "grade", "write_grades"]


class Grading(NamedTuple):
    exam: ExamKey
    graded: list[Graded]
    files: dict[str, str]  # the grades folder's files, by name


def grade(exam_folder: str | Path, responses: str | Path, rules: Rules = Rules()) -> Grading:
    """Read the exam and the responses, mark every answer; nothing is written."""
    if not 0 <= rules.slip_credit <= 1 or not 0 <= rules.follow_through <= 1:
        raise DeriveError("the credit for follow-through and for a slip is a fraction of a mark, from 0 to 1")
    if rules.tolerance is not None and not rules.tolerance > 0:
        raise DeriveError(f"--tolerance must be greater than 0, found {rules.tolerance}")
    exam = read_exam(exam_folder)
    found: Responses = read_responses(responses, exam)
    graded = grade_all(exam, found.responses, rules)
    files = grade_files(graded, exam.quantities, exam.digits, rules_text(rules), found.skipped)
    return Grading(exam, graded, files)


def write_grades(exam_folder: str | Path, responses: str | Path, output: str | Path,
                 rules: Rules = Rules(), force: bool = False) -> list[Path]:
    """Grade, then write the grades folder whole (derive.folder): the previous grading
    is replaced only with `force`, and a folder holding anything else is refused."""
    with FolderWriter(output, force, grades_owned, what="grades") as out:
        grading = grade(exam_folder, responses, rules)
        return out.commit(dict(grading.files))


def rules_text(rules: Rules) -> str:
    tolerance = "each task's own tolerance" if rules.tolerance is None else f"tolerance {rules.tolerance:g}"
    return (f"Follow-through earns {rules.follow_through:g} of a mark, a named slip "
            f"{rules.slip_credit:g}; {tolerance}.")
