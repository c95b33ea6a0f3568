"""The Jinja filters of the templates: each joins or breaks the LaTeX of the document
model (derive.latex) with the document's digits, which the filters read from the
template's context."""
from __future__ import annotations

import base64
import re

import jinja2
import sympy

from .latex import (Applied, LinearSum, Substituted, approx_width, broken_tex, factor_tex,
                    format_number, product_tex, sum_tex, tex)
from .mathnodes import ordered_symbols
from .document import Diagram


@jinja2.pass_context
def tex_filter(context: jinja2.runtime.Context, obj: object) -> str:
    return tex(obj, context["digits"])


@jinja2.pass_context
def product_filter(context: jinja2.runtime.Context, factors: tuple[object, ...],
                    width: float | None = None) -> str:
    return product_tex(tuple(factors), context["digits"], width)


@jinja2.pass_context
def sum_filter(context: jinja2.runtime.Context, terms: tuple[object, ...],
                width: float | None = None) -> str:
    return sum_tex(tuple(terms), context["digits"], width)


def top_level_terms(text: str) -> list[str]:
    """The terms of a printed sum: split at each " + " outside any bracket or brace."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text[i] in "({":
            depth += 1
        elif text[i] in ")}":
            depth -= 1
        elif depth == 0 and text.startswith(" + ", i):
            parts.append(text[start:i])
            start = i = i + 3
            continue
        i += 1
    return parts + [text[start:]]


@jinja2.pass_context
def equalities_filter(context: jinja2.runtime.Context, parts: tuple[object, ...],
                       width: float | None = None) -> str:
    """Formulas joined by equals signs (a derivation on one line), broken like products."""
    return broken_tex([tex(part, context["digits"]) for part in parts], " = ", width)


@jinja2.pass_context
def long_sum_filter(context: jinja2.runtime.Context, obj: object, width: float | None = None) -> str:
    """A formula that may be a long sum (a kernel entry's gradient, one term per position
    of the map), broken onto continuation lines like a sum of terms."""
    formula = obj.expr if isinstance(obj, Substituted) else obj
    if isinstance(formula, LinearSum):  # w1 a1 + ... + b: printed whole, broken between terms
        text = tex(obj, context["digits"])
        if width is None or approx_width(text) <= width:
            return text
        return broken_tex(top_level_terms(text), " + ", width)
    if isinstance(formula, sympy.Mul) and len(formula.args) == 2 and isinstance(formula.args[1], sympy.Add):
        # a loss's scale times its sum, 1/n (...): broken inside the brackets when too long
        text = tex(obj, context["digits"])
        if width is None or approx_width(text) <= width:
            return text
        scale, inner = formula.args
        inside = Substituted(inner, obj.values) if isinstance(obj, Substituted) else inner
        return (tex(scale, context["digits"]) + r" \Bigl(" + long_sum_filter(context, inside, width)
                + r"\Bigr)")
    if not isinstance(formula, sympy.Add):
        return tex(obj, context["digits"])
    text = tex(obj, context["digits"])
    if width is None or approx_width(text) <= width:
        return text
    if isinstance(obj, Substituted):
        terms: tuple[object, ...] = tuple(Substituted(t, {s: obj.values[s] for s in ordered_symbols(t)})
                                          for t in formula.args)
    else:
        terms = formula.args
    return sum_tex(terms, context["digits"], width)


@jinja2.pass_context
def long_equation_filter(context: jinja2.runtime.Context, equation: sympy.Eq, width: float) -> str:
    """lhs = rhs on one line, or, when too long, aligned with the rhs broken."""
    text = tex(equation, context["digits"])
    if approx_width(text) <= width:
        return text
    return (r"\begin{aligned}" + tex(equation.lhs, context["digits"]) + " &= "
            + long_sum_filter(context, equation.rhs, width) + r"\end{aligned}")


@jinja2.pass_context
def bracketed_filter(context: jinja2.runtime.Context, terms: tuple[object, ...],
                      width: float | None = None) -> str:
    """A sum as a factor: one term stands as it would as a factor ((a - y) keeps its own
    brackets, w delta needs none); several go in \\Bigl( \\Bigr), which may break
    across lines."""
    terms = tuple(terms)
    if len(terms) == 1:
        return factor_tex(terms[0], context["digits"])
    return r"\Bigl(" + sum_tex(terms, context["digits"], width) + r"\Bigr)"


@jinja2.pass_context
def factor_filter(context: jinja2.runtime.Context, obj: object) -> str:
    return factor_tex(obj, context["digits"])


def nested_tex(node: object, digits: int, width: float | None = None) -> str:
    """A composed expression f(w_1 u_1 + ... + b), each u maybe composed again, broken
    over lines past `width` (derive.closedform.Composed: `activation` a name or None for
    the identity, `terms` (weight, inner) pairs, `bias`).

    A level that fits on its line prints with \\left( \\right); one that does not opens
    with \\Bigl( (sized delimiters may be split across lines, \\left...\\right may not),
    puts its terms on lines indented one \\quad deeper (several to a line while they fit)
    and closes with \\Bigr). Continuation lines start with `&\\qquad`, as in broken_tex.
    """
    lines = _nested_lines(node, digits, width, 0, True)
    return r" \\ &\qquad ".join(r"\quad " * depth + text for depth, text in lines)


def _is_composed(node: object) -> bool:
    return all(hasattr(node, field) for field in ("activation", "terms", "bias"))


def _function_tex(activation: str, digits: int) -> str:
    """How an activation is named in front of its argument: \\sigma, \\operatorname{ReLU}, ..."""
    shown = tex(Applied(activation, sympy.Symbol("\u0001")), digits)
    return shown[:shown.index(r"\left(")]


def _nested_flat(node: object, digits: int, top: bool) -> str:
    if not _is_composed(node):
        return tex(node, digits)
    inner = " + ".join([f"{tex(w, digits)} {_nested_flat(u, digits, False)}" for w, u in node.terms]  # type: ignore[attr-defined]
                       + [tex(node.bias, digits)])  # type: ignore[attr-defined]
    if node.activation is None:  # type: ignore[attr-defined]
        return inner if top else rf"\left({inner}\right)"
    return rf"{_function_tex(node.activation, digits)}\left({inner}\right)"  # type: ignore[attr-defined]


def _nested_lines(node: object, digits: int, width: float | None, depth: int,
                  top: bool) -> list[tuple[int, str]]:
    """(indent, text) lines; the first goes where the caller puts it."""
    flat = _nested_flat(node, digits, top)
    if width is None or not _is_composed(node) or approx_width(flat) + 2 * depth <= width:
        return [(depth, flat)]
    if node.activation is None and top:  # type: ignore[attr-defined]
        opener, closer = "", ""
    else:
        name = _function_tex(node.activation, digits) if node.activation else ""  # type: ignore[attr-defined]
        opener, closer = name + r"\Bigl(", r"\Bigr)"
    pieces = []
    for i, (w, inner) in enumerate(node.terms):  # type: ignore[attr-defined]
        head = ("" if i == 0 else "+ ") + tex(w, digits) + " "
        sub = _nested_lines(inner, digits, width, depth + 1, False)
        pieces.append([(depth + 1, head + sub[0][1])] + sub[1:])
    pieces.append([(depth + 1, "+ " + tex(node.bias, digits) + closer)])  # type: ignore[attr-defined]
    pieces[0][0] = (depth, opener + pieces[0][0][1])
    lines: list[tuple[int, str]] = []
    for piece in pieces:
        if lines and len(piece) == 1 and \
                approx_width(lines[-1][1] + piece[0][1]) + 2 * lines[-1][0] + 1 <= width:
            lines[-1] = (lines[-1][0], lines[-1][1] + " " + piece[0][1])
        else:
            lines.extend(piece)
    return lines


@jinja2.pass_context
def nested_filter(context: jinja2.runtime.Context, node: object, width: float | None = None) -> str:
    return nested_tex(node, context["digits"], width)


@jinja2.pass_context
def plain_filter(context: jinja2.runtime.Context, value: float) -> str:
    """A number as plain text (for diagram labels outside math)."""
    return format_number(value, context["digits"]).text.replace("-", "−")


def ident(name: str) -> str:
    """A unit's name as a diagram node's id: a map entry c1[2,3] as c1_2_3 (TikZ and
    Mermaid take no brackets or commas in ids; spec names have none of their own)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name.rstrip("]"))


def column_spacing(diagram: Diagram) -> str:
    """Centimetres between the diagram's columns: as laid out (derive.diagram), within
    the text width."""
    return f"{diagram.layout.column_spacing:.2f}"


def svg_base64(picture: object) -> str:
    """The network diagram as an SVG file, base64 (a Moodle question embeds it)."""
    from .svg import diagram_svg
    return base64.b64encode(diagram_svg(picture).encode("utf-8")).decode("ascii")  # type: ignore[arg-type]
