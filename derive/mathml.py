"""The keys' TeX math as MathML, for the self-contained HTML page (issue 15, item 3).

latex2mathml (a pure-Python converter, the optional `derive[html]` extra) does the
formulas. Two things are done here instead:

- `aligned`, the environment of every worked display, which latex2mathml does not lay
  out (it leaves the `&` in the text): the rows and cells are split here and each cell
  converted on its own, into an `mtable` whose columns align right, left, right, ...
  as in LaTeX. The alignment is written as inline CSS because MathML Core (what
  Chromium renders) has no `columnalign`.
- serialising: latex2mathml's own string output un-escapes everything, so a `<` in a
  \\text would become markup. The element tree is written out here with every text
  and attribute escaped.

Anything the converter could not turn into MathML (a command it does not know comes
back as the raw `\\name`) is refused with a RenderError, so no raw TeX reaches a page.
"""
from __future__ import annotations

import html
import re
from xml.etree.ElementTree import Element, SubElement

from .errors import RenderError

MATHML_NS = "http://www.w3.org/1998/Math/MathML"
ALIGNED = re.compile(r"\A\s*\\begin\{aligned\}(?P<body>.*)\\end\{aligned\}\s*\Z", re.S)
# The pieces of TeX that matter for splitting: a command word, an escaped character,
# a brace, an ampersand, or a run of anything else.
TEX_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[{}&]|[^\\{}&]+", re.S)
# latex2mathml writes symbols as character references inside the text of its elements.
CHARACTER_REFERENCE = re.compile(r"&#x([0-9A-Fa-f]+);")
RAW_COMMAND = re.compile(r"\\[A-Za-z]+|\\.|&")
TOKEN_ELEMENTS = ("mi", "mn", "mo", "mtext", "ms")
FUNCTION_NAME = re.compile(r"[A-Za-z]{2,}")
SIGNS = ("\u2212", "+", "-")
CLOSING = (")", "]", "}", "|", "\u2016", "\u230b", "\u2309")
DOT_OPERATOR = "\u22c5"
# Inline CSS of an aligned display's cells; the left column of a pair sits right next
# to the right one (as `&=` in LaTeX), pairs stand 2em apart.
CELL_STYLE = {"right": "text-align:right;padding:0.2em 0", "left": "text-align:left;padding:0.2em 0"}
PAIR_GAP = ";padding-left:2em"


def tex_to_mathml(tex: str, display: bool) -> str:
    """One `$...$` (display False) or `$$...$$` (display True) as a <math> element."""
    from latex2mathml.converter import Converter

    math = Element("math", {"xmlns": MATHML_NS, "display": "block" if display else "inline"})
    aligned = ALIGNED.match(tex)
    if aligned is not None and r"\begin{aligned}" not in aligned["body"]:
        math.append(aligned_table(aligned["body"], Converter(display="block")))
    elif r"\begin{aligned}" in tex:
        raise RenderError(f"cannot convert to MathML (aligned inside a formula): {tex[:200]}")
    else:
        math.append(converted(tex, Converter(display="block" if display else "inline")))
    tidy(math)
    check_converted(math, tex)
    return serialise(math)


def converted(tex: str, converter: object) -> Element:
    """`tex` as latex2mathml's <mrow> (the <math> it makes around it is dropped)."""
    try:
        math = converter.convert_to_element(tex)  # type: ignore[attr-defined]
    except Exception as error:  # the converter's own exceptions have no common base
        raise RenderError(f"cannot convert to MathML ({type(error).__name__}: {error}): "
                          f"{tex[:200]}") from None
    return math[0]


def aligned_table(body: str, converter: object) -> Element:
    """The rows of an `aligned` environment as an <mtable>, each cell converted alone."""
    table = Element("mtable", {"displaystyle": "true"})
    for cells in split_rows(body):
        row = SubElement(table, "mtr")
        for column, cell in enumerate(cells):
            side = "right" if column % 2 == 0 else "left"
            style = CELL_STYLE[side] + (PAIR_GAP if column and side == "right" else "")
            entry = SubElement(row, "mtd", {"style": style})
            if cell.strip():
                entry.append(converted(cell, converter))
    return table


def split_rows(body: str) -> list[list[str]]:
    """An `aligned` body as rows of cells: split at `\\\\` and `&` that stand at the top
    level (not inside braces or a nested environment such as a matrix)."""
    rows: list[list[str]] = [[""]]
    depth = 0
    for token in TEX_TOKEN.findall(body):
        if token in ("{", r"\begin"):
            depth += 1
        elif token in ("}", r"\end"):
            depth -= 1
        if depth == 0 and token == "\\\\":
            rows.append([""])
        elif depth == 0 and token == "&":
            rows[-1].append("")
        else:
            rows[-1][-1] += token
    return [cells for cells in rows if any(cell.strip() for cell in cells)]


def tidy(math: Element) -> None:
    """Small fixes so that Chromium's MathML Core spaces a formula as TeX does."""
    for node in math.iter():
        align = node.attrib.pop("columnalign", None)  # not in MathML Core: as CSS (cases)
        if node.tag == "mtd" and align and "style" not in node.attrib:
            node.set("style", f"text-align:{align}")
        if node.tag == "mo" and decoded(node.text or "") == "\u00b7":
            node.text = DOT_OPERATOR  # \cdot: a binary operator, spaced as one
    for parent in list(math.iter()):
        children = list(parent)
        for index, child in enumerate(children):
            before = children[index - 1] if index else None
            if child.tag in ("mi", "mo") and FUNCTION_NAME.fullmatch(child.text or ""):
                # max, ReLU, log: upright names; a thin space after an ordinary term (y log)
                child.tag = "mi"
                if before is not None and before.tag != "mo":
                    child.set("style", "padding-left:0.1667em")
            elif child.tag == "mo" and decoded(child.text or "") in SIGNS and opens(before):
                child.set("form", "prefix")  # a sign, not a subtraction: = -0.26, (-0.3)


def opens(node: Element | None) -> bool:
    """Whether an operator after `node` is a sign: after an opening bracket, a relation,
    a comma or another operator (not after a closing bracket)."""
    if node is None or node.tag != "mo":
        return False
    return node.get("form") != "postfix" and decoded(node.text or "") not in CLOSING


def check_converted(math: Element, tex: str) -> None:
    """Refuse a formula in which some TeX was passed through as text."""
    for node in math.iter():
        text = decoded(node.text or "")
        if node.tag in TOKEN_ELEMENTS and node.tag != "mtext" and RAW_COMMAND.search(text):
            raise RenderError(f"cannot convert to MathML ({text!r} is not known): {tex[:200]}")


def decoded(text: str) -> str:
    """latex2mathml's text with its character references made characters."""
    return CHARACTER_REFERENCE.sub(lambda m: chr(int(m[1], 16)), text)


def serialise(element: Element) -> str:
    """The element tree as HTML-embeddable MathML: every text and attribute escaped."""
    attributes = "".join(f' {name}="{html.escape(value, quote=True)}"'
                         for name, value in element.attrib.items())
    inner = html.escape(decoded(element.text or ""), quote=False)
    inner += "".join(serialise(child) for child in element)
    tail = html.escape(decoded(element.tail or ""), quote=False)
    return f"<{element.tag}{attributes}>{inner}</{element.tag}>{tail}"
