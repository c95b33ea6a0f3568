"""Marking one student's answers, task by task, in the order the working computes them.

1. Within the task's tolerance of the key: `ok`, full mark.
2. Else within tolerance of what the student's own earlier answers give
   (derive.grade.chain), where that differs from the key: `FT` (follow-through, error
   carried forward), full, half or no credit as the teacher chooses.
3. Else a named slip explains it (derive.grade.slips): `slip:<name>`, no credit unless
   the teacher gives some.
4. Else `wrong`; unanswered: `blank`.

A follow-through or slip value is compared with twice the task's tolerance plus half a
unit of the last digit that value shows (at the exam's digits): it is computed from
the student's rounded earlier answers, so it carries their rounding as well as its
own, at its own scale (a wrong update of -0.0276 is written to 4 places where the
key's 0.00764 has 5). --tolerance replaces all of this with its one number.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..rounding import last_place, rounded
from .chain import Chain, as_float
from .exam_key import ExamKey, Task
from .responses import Response
from .slips import slips

FOLLOW_THROUGH = {"full": 1.0, "half": 0.5, "none": 0.0}
CODES = ("ok", "FT", "slip", "wrong", "blank")  # a slip's code is slip:<name>


class Rules(NamedTuple):
    """How the teacher marks."""

    follow_through: float = 1.0  # credit for FT
    slip_credit: float = 0.0  # credit for a named slip
    tolerance: float | None = None  # overrides every task's own tolerance


class Mark(NamedTuple):
    task: Task
    written: str | None  # the student's answer as written; None: blank
    own: float | None  # what their own earlier answers give, where it is not the key's value
    code: str
    credit: float


class Graded(NamedTuple):
    response: Response
    marks: tuple[Mark, ...]

    @property
    def score(self) -> float:
        return sum(mark.credit for mark in self.marks)

    @property
    def max(self) -> int:
        return len(self.marks)


def grade_all(exam: ExamKey, responses: tuple[Response, ...], rules: Rules) -> list[Graded]:
    """Every response marked, by student (sorted, so the output does not depend on the
    file's order)."""
    return [grade_one(exam, response, rules)
            for response in sorted(responses, key=lambda r: (r.student, r.variant))]


def grade_one(exam: ExamKey, response: Response, rules: Rules) -> Graded:
    key = exam.variants[response.variant]
    chain = Chain(exam.derivation, key, response.answers)
    return Graded(response, tuple(mark(task, response.answers.get(task.quantity), chain, rules, exam.digits)
                                  for task in key.tasks))


def half_unit(value: float, digits: int) -> float:
    """Half a unit of the last digit `value` shows at `digits` (derive.rounding's rule;
    an exact 0, shown as 0, counts as shown to `digits` places)."""
    if not math.isfinite(value):
        return 0.0
    return 0.5 * min(float(last_place(rounded(value, digits)[0])), 10.0 ** -digits)


def mark(task: Task, written: str | None, chain: Chain, rules: Rules, digits: int = 4) -> Mark:
    own = as_float(chain.own[task.quantity])
    tolerance = task.tolerance if rules.tolerance is None else rules.tolerance

    def carried(value: float) -> float:  # for a value computed from the student's answers
        return 2 * tolerance + half_unit(value, digits) if rules.tolerance is None else tolerance
    differs = abs(own - task.key) > tolerance
    shown_own = own if differs and math.isfinite(own) else None
    if written is None:
        return Mark(task, None, shown_own, "blank", 0.0)
    given = chain.given.get(task.quantity)
    if given is None:  # not a number (Moodle keeps what was typed)
        return Mark(task, written, shown_own, "wrong", 0.0)
    value = as_float(given)
    if abs(value - task.key) <= tolerance:
        return Mark(task, written, shown_own, "ok", 1.0)
    if shown_own is not None and abs(value - own) <= carried(own):
        return Mark(task, written, own, "FT", rules.follow_through)
    for name, slip in slips(chain, task.quantity):
        slip_value = as_float(slip)
        if abs(value - slip_value) <= carried(slip_value) and abs(slip_value - own) > carried(own):
            return Mark(task, written, shown_own, f"slip:{name}", rules.slip_credit)
    return Mark(task, written, shown_own, "wrong", 0.0)
