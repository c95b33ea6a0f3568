"""blackboard.txt: the exam as a Blackboard question upload file (issue 15, item 2).

Blackboard's upload format is UTF-8 text, one question per line, fields separated by
tabs, the first field naming the type. NUM (a numeric answer with a tolerance) holds
one answer, so a variant of several answers would become several questions that a
pool or a random block draws independently: a student's numbers and answers would no
longer come from one draw. FIB_PLUS (fill in multiple blanks) keeps a variant in one
question: `FIB_PLUS, text with [name] blanks, then per blank its name and accepted
answers, blanks separated by an empty field`, at most 10 blanks. It has no numeric
tolerance, so each blank lists the numbers within the tolerance at the key's shown
decimals (derive.lms), as for Canvas. A variant with more than 10 answers is written as
consecutive questions of at most 10 blanks, each with the whole of the variant's data.

The text is plain: Blackboard does not promise math rendering in uploaded text, so
symbols are Unicode (w₁₁⁽¹⁾, ∂L/∂w), and user text (the title) has its tabs, line breaks
and HTML markup characters neutralised. docs/lms.md has the upload steps and limits.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING

from .lms import (accepted_answers, answer_label, blank_names, given_maps, given_values, loss_text, network_text,
                  task_text, user_text)

if TYPE_CHECKING:
    from .exam import Exam, Variant
    from .folder import FolderWriter

MAX_BLANKS = 10  # Blackboard: "The maximum number of variables is 10"


def write_blackboard(out: FolderWriter, exam: Exam, digits: int) -> None:
    """blackboard.txt in the exam folder, a variant's questions at a time."""
    stream = out.stream("blackboard.txt")
    for variant in exam.variants:
        stream.write("".join(line + "\n" for line in variant_lines(exam.title, variant, digits)))
    stream.close()


def variant_lines(title: str, variant: Variant, digits: int) -> list[str]:
    """The variant's FIB_PLUS question (or questions, of at most MAX_BLANKS blanks each)."""
    names = blank_names(variant.answers)
    pairs = list(zip(names, variant.answers))
    parts = [pairs[i:i + MAX_BLANKS] for i in range(0, len(pairs), MAX_BLANKS)] or [[]]
    lines = []
    for number, part in enumerate(parts, 1):
        heading = f"{field(title)}, variant {variant.number}"
        if len(parts) > 1:
            heading += f", part {number} of {len(parts)}"
        text = " ".join([heading + ".", given_text(variant, digits),
                         " ".join(f"{answer_label(answer)} = [{name}]." for name, answer in part)])
        fields = ["FIB_PLUS", text]
        for k, (name, answer) in enumerate(part):
            if k:
                fields.append("")  # an empty field ends the previous blank's answers
            fields += [name, *accepted_answers(answer, digits)]
        lines.append("\t".join(fields))
    return lines


def given_text(variant: Variant, digits: int) -> str:
    """The variant's network, values, loss and task, in one paragraph."""
    given = variant.solution.given
    values = "; ".join(f"{symbol} ({field(name)}) = {value}" for symbol, name, value in given_values(given, digits))
    maps = "".join(f" {field(label)}, by rows: " + ", ".join("(" + " ".join(row) + ")" for row in rows) + "."
                   for label, rows in given_maps(given, digits))
    return " ".join([network_text(given), f"Given: {values}.{maps}", loss_text(given, digits), task_text(digits)])


def field(text: str) -> str:
    """User text inside a field: no tab or line break (they end a field or a question),
    no [ ] that could be taken for a blank (derive.lms.user_text), and no markup
    Blackboard could act on."""
    return html.escape(user_text(text), quote=False)
