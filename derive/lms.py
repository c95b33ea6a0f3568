"""What the Canvas and Blackboard exports share: an exam variant as plain text, and each
answer as the list of strings an LMS's fill-in-the-blank question accepts.

Neither Canvas's nor Blackboard's question type that holds several blanks in one
question (so that a student's numbers and answers come from the same draw) grades a
blank by a numeric tolerance: each compares the typed text with a list of accepted
strings. So the exam's tolerance is written out as that list: every number at the
key's shown decimals within the tolerance of the key, with and without the leading
zero (0.0351, .0351). See docs/lms.md for what this can and cannot express.
"""
from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from typing import TYPE_CHECKING, Iterable

from .escape import unicode_symbol
from .latex import activation_text, format_number
from .rounding import last_place, rounded

if TYPE_CHECKING:
    from .exam import Answer
    from .document import Given

# At most this many numbers per blank: a wide relative tolerance over a value shown to
# many places could otherwise list thousands. Beyond it, the numbers nearest the key
# are kept (so the LMS is stricter than answers.json at the edges; docs/lms.md).
MAX_ACCEPTED = 25
BLANK_NAME = re.compile(r"[^A-Za-z0-9]+")


def accepted_values(answer: Answer, digits: int) -> tuple[Decimal, ...]:
    """The numbers at the key's shown decimals within the answer's tolerance of the key,
    nearest the key first (the shown key always among them)."""
    shown, _ = rounded(answer.key, digits)
    unit = last_place(shown)
    with localcontext() as context:
        context.prec = 50
        key = Decimal(repr(float(answer.key)))
        tolerance = Decimal(repr(float(answer.tolerance)))
        low = ((key - tolerance) / unit).to_integral_value(ROUND_CEILING)
        high = ((key + tolerance) / unit).to_integral_value(ROUND_FLOOR)
        centre = (shown / unit).to_integral_value()
        steps = sorted(range(int(low), int(high) + 1), key=lambda k: (abs(k - centre), k))
        if int(centre) not in steps:  # a tolerance narrower than the rounding: the key itself
            steps.insert(0, int(centre))
        return tuple((Decimal(k) * unit).quantize(unit) for k in steps[:MAX_ACCEPTED])


def number_spellings(value: Decimal, exponent: int | None = None) -> list[str]:
    """How a student may type `value` at its decimals: 0.0351 and .0351, -0.5 and -.5;
    for a key shown in scientific form (10^`exponent`), also 1.234e-5 and 1.234E-5."""
    text = f"{value.copy_abs() if value == 0 else value:f}"
    spellings = [text]
    for zero in ("0.", "-0."):
        if text.startswith(zero):
            spellings.append(text[:len(zero) - 2] + text[len(zero) - 1:])
    if exponent is not None:
        with localcontext() as context:
            context.prec = 50
            mantissa = f"{value.scaleb(-exponent):f}"
        spellings += [f"{mantissa}e{exponent}", f"{mantissa}E{exponent}"]
    return spellings


def accepted_answers(answer: Answer, digits: int) -> tuple[str, ...]:
    """Every string a blank accepts for `answer`, without repeats, nearest the key first."""
    shown, scientific = rounded(answer.key, digits)
    exponent = shown.adjusted() if scientific else None
    found: dict[str, None] = {}
    for value in accepted_values(answer, digits):
        for text in number_spellings(value, exponent):
            found.setdefault(text, None)
    return tuple(found)


def blank_names(answers: Iterable[Answer]) -> list[str]:
    """A name per answer for the question's blanks, made of letters, digits and _ only
    (both LMSs write a blank as [name] in the text): "grad x1->h1" -> grad_x1_h1."""
    names: list[str] = []
    for answer in answers:
        base = BLANK_NAME.sub("_", answer.quantity).strip("_") or "answer"
        name, n = base, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def plain_symbol(latex: str) -> str:
    r"""An answer's symbol (LaTeX: L, w_{11}^{(1)}, \partial L / \partial w_{11}^{(1)}) as
    Unicode text for places that show no math: L, w₁₁⁽¹⁾, ∂L/∂w₁₁⁽¹⁾."""
    parts = []
    for piece in latex.split("/"):
        piece = piece.strip()
        mark = ""
        if piece.startswith("\\partial"):
            mark, piece = "∂", piece[len("\\partial"):].strip()
        parts.append(mark + unicode_symbol(piece))
    return "/".join(parts)


def answer_label(answer: Answer) -> str:
    """What the student is asked for, next to its blank; a map entry's index in ( ), as
    both LMSs read [name] as a blank: k⁽¹⁾₁(1,2)."""
    label = plain_symbol(answer.symbol).replace("[", "(").replace("]", ")")
    return label + (" (after the update)" if answer.quantity.startswith("updated") else "")


def user_text(text: str) -> str:
    """User text (the title) for a question: control characters (a tab or line break ends
    a Blackboard field; XML cannot hold most) as spaces, and [ ] as ( ), which both LMSs
    would read as a blank."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return printable.replace("[", "(").replace("]", ")")


def number_text(value: object, digits: int) -> str:
    return format_number(value, digits).text


def network_text(given: Given) -> str:
    """The network's layers in words, as moodle.xml states them."""
    layers = []
    for number, (activation, width, role, maps) in enumerate(given.layers, 1):
        kind = (f"{width} {maps}, {activation_text(activation)}" if maps else
                f"{width} {activation_text(activation)} {'neuron' if width == 1 else 'neurons'}")
        layers.append(f"layer {number}: {kind} ({role})")
    return "Network: " + "; ".join(layers) + "."


def given_values(given: Given, digits: int) -> list[tuple[str, str, str]]:
    """(symbol, spec name, value) of every given number: inputs, weights, biases, targets;
    a map entry's index in ( ) (p1(1,2) -> o), since both LMSs read [name] as a blank."""
    return [(unicode_symbol(item.symbol), item.name.replace("[", "(").replace("]", ")"),
             number_text(item.value, digits))
            for item in (*given.inputs, *given.weights, *given.biases, *given.targets)]


def given_maps(given: Given, digits: int) -> list[tuple[str, list[list[str]]]]:
    """A network of maps: each input channel and kernel as (its label, rows of numbers)."""
    found = []
    for matrix in given.maps:
        label = f"{matrix.kind} {unicode_symbol(matrix.lhs)}" + (f" ({matrix.about})" if matrix.about else "")
        found.append((label, [[number_text(value, digits) for value in row] for row in matrix.grid.rows]))
    return found


def loss_text(given: Given, digits: int) -> str:
    predictions = ", ".join(f"{unicode_symbol(hat)} = {unicode_symbol(a)}" for hat, a in given.predictions)
    return (f"Loss: {given.loss_name}, with {predictions}. "
            f"Learning rate η = {number_text(given.eta, digits)}.")


def task_text(digits: int) -> str:
    return (f"Do one step of gradient descent. Give each answer to {digits} decimal places, "
            "but at least 3 significant figures.")
