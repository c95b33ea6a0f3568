"""How big TeX draws a label or a unit's symbol in the network diagram, estimated from its
text: the widths of Computer Modern's letters, digits and signs, TeX's spacing around
binary operators and relations, sub- and superscripts, fractions and accents.

derive/diagram.py places every label by these sizes, so they must not be smaller than
what TeX draws (tests/test_diagram.py compares them with the PDF's word boxes).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

PT = 2.54 / 72.27  # a TeX point in cm

# The picture's font sizes (keep in step with the styles in templates/_given.tex.j2).
NORMAL, SCRIPT, TINY = 10.95, 8.0, 6.0  # \normalsize, \scriptsize, \tiny of an 11pt article

# Widths in em of Computer Modern at its design size (cmmi10 italic letters, cmr10 digits
# and signs); smaller sizes are relatively wider (cmr6, cmr5), by WIDER.
ITALIC = dict(zip("abcdefghijklmnopqrstuvwxyz",
                  (.53, .43, .44, .52, .47, .5, .48, .58, .35, .42, .53, .3, .88, .6, .49, .51,
                   .45, .46, .47, .37, .58, .49, .72, .58, .5, .47)))
ITALIC.update(dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                       (.75, .76, .72, .83, .74, .65, .79, .84, .45, .56, .85, .69, .97, .81, .77,
                        .65, .8, .76, .62, .59, .69, .59, .95, .83, .59, .69))))
SIGNS = {".": .31, ",": .31, "(": .39, ")": .39, "[": .28, "]": .28, "/": .5, "|": .28,
         ":": .28, ";": .28, "!": .28, "*": .5, "'": .3, "-": .79, "+": .78, "=": .78,
         "<": .78, ">": .78, "~": .5}
BINARY = {"-", "+", r"\times", r"\cdot", r"\pm", r"\mp"}
RELATION = {"=", "<", ">", r"\leq", r"\geq", r"\approx", r"\neq", r"\le", r"\ge"}
TEXT_COMMANDS = {"text", "mathrm", "textrm", "mathit", "mathbf", "mathsf", "mathtt",
                 "operatorname", "textit", "textbf", "boldsymbol", "mathcal", "mathbb"}
ACCENTS = {"hat", "tilde", "bar", "vec", "dot", "ddot", "check", "breve", "acute", "grave",
           "widehat", "widetilde", "overline", "underline", "mathring"}
SPACES = {",": .17, ":": .22, ";": .28, " ": .33, "quad": 1.0, "qquad": 2.0, "!": 0.0}
WIDER = ((5.5, 1.36), (6.5, 1.22), (7.5, 1.14), (8.5, 1.07), (9.5, 1.03))
SCRIPT_OF = {NORMAL: SCRIPT, SCRIPT: TINY, TINY: 5.0, 5.0: 5.0}
ASCENDERS = set("bdfhklt0123456789") | set(ITALIC) - set("abcdefghijklmnopqrstuvwxyz")
DESCENDERS = set("gjpqyf")


class Size(NamedTuple):
    width: float  # cm
    height: float  # above the baseline
    depth: float  # below it


def width_em(size: float) -> float:
    """One em of width in points at font size `size` (smaller sizes are drawn wider)."""
    return size * next((factor for below, factor in WIDER if size < below), 1.0)


@lru_cache(maxsize=4096)  # an exam's variants print the same symbols and many equal labels
def text_size(tex: str, size: float, math_mode: bool = True) -> Size:
    """The estimated box of `tex` (math, or plain text) at font size `size` (points)."""
    tokens = _tokens(tex)
    width, height, depth = _measure(tokens, size, math_mode)
    return Size(width * 1.02 * PT, height * PT, depth * PT)


_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|.", re.DOTALL)


def _tokens(tex: str) -> list[str]:
    return _TOKEN.findall(tex)


def _group(tokens: list[str], i: int) -> tuple[list[str], int]:
    """The argument starting at tokens[i] (a {group} or one token), and the index after it."""
    while i < len(tokens) and tokens[i] == " ":
        i += 1
    if i >= len(tokens):
        return [], i
    if tokens[i] != "{":
        return [tokens[i]], i + 1
    depth, j = 0, i
    while j < len(tokens):
        depth += tokens[j] == "{"
        depth -= tokens[j] == "}"
        if depth == 0:
            return tokens[i + 1:j], j + 1
        j += 1
    return tokens[i + 1:], len(tokens)


def _measure(tokens: list[str], size: float, math_mode: bool, script: bool = False
             ) -> tuple[float, float, float]:
    """(width, height, depth) in points of a token list (`script`: in a sub- or superscript,
    where signs take no spaces)."""
    em = width_em(size)
    width, height, depth = 0.0, 0.0, 0.0
    previous: str | None = None  # the last atom's class: "ord", "bin", "rel", "open"
    atom = (0.0, 0.0, 0.0)  # the last atom's own (width, height, depth), for scripts
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token in ("_", "^"):
            sub: tuple[float, float, float] | None = None
            sup: tuple[float, float, float] | None = None
            while True:  # a base may carry both scripts, in either order
                arg, i = _group(tokens, i)
                measured = _measure(arg, SCRIPT_OF.get(size, 5.0), True, True)
                if token == "_":
                    sub = measured
                else:
                    sup = measured
                if i < len(tokens) and tokens[i] in ("_", "^") and tokens[i] != token:
                    token = tokens[i]
                    i += 1
                    continue
                break
            width += max(sub[0] if sub else 0.0, sup[0] if sup else 0.0) + 0.5
            if sup:
                height = max(height, (0.53 if sub else 0.36) * size + sup[1])
            if sub:
                depth = max(depth, (0.34 if sup else 0.15) * size + sub[2])
            continue
        if token == "'":  # a prime: a superscript
            width += 0.3 * em
            height = max(height, 0.75 * size)
            continue
        if token == "{":
            arg, i = _group(tokens, i - 1)
            atom = _measure(arg, size, math_mode, script)
        elif token == "}" or (token == " " and math_mode):
            continue
        elif token.startswith("\\") and len(token) > 1:
            name = token[1:]
            if name in TEXT_COMMANDS:
                arg, i = _group(tokens, i)
                atom = _measure(arg, size, name not in ("text", "textrm", "textit", "textbf",
                                                        "mathrm", "operatorname"), script)
            elif name in ACCENTS:
                arg, i = _group(tokens, i)
                w, h, d = _measure(arg, size, math_mode, script)
                atom = (w, h + 0.25 * size, d)
            elif name in SPACES:
                width += SPACES[name] * em
                continue
            elif name in ("left", "right", "displaystyle", "textstyle", "scriptstyle", "limits"):
                continue
            elif name in ("frac", "dfrac", "tfrac"):
                top, i = _group(tokens, i)
                bottom, i = _group(tokens, i)
                small = SCRIPT_OF.get(size, 5.0)
                t, b = _measure(top, small, True, True), _measure(bottom, small, True, True)
                atom = (max(t[0], b[0]) + 1.0, 0.5 * size + t[1] + t[2], 0.3 * size + b[1] + b[2])
            else:  # a Greek letter, an operator, a symbol
                atom = (0.78 * em if token in BINARY | RELATION else 0.62 * em, 0.7 * size, 0.2 * size)
        elif token.isdigit():
            atom = (0.5 * em, 0.65 * size, 0.0)
        elif token in SIGNS:
            atom = (SIGNS[token] * em, 0.75 * size if token in "()[]/|" else 0.6 * size,
                    0.25 * size if token in "()[]/|" else (0.14 * size if token == "-" else 0.0))
        elif token.isalpha() and token.isascii():
            w = (ITALIC.get(token, 0.6) + (0.1 if token.isupper() else 0.0)) if math_mode else \
                (0.75 if token.isupper() else 0.53)
            atom = (w * em, (0.7 if token in ASCENDERS else 0.45) * size,
                    0.2 * size if token in DESCENDERS else 0.0)
        elif token == " ":  # a space in text
            width += 0.33 * em
            continue
        else:  # anything else: a wide character
            atom = (0.8 * em, 0.72 * size, 0.2 * size)
        kind = "bin" if token in BINARY else "rel" if token in RELATION else \
            "open" if token in "([" else "ord"
        if math_mode and not script:
            if kind == "rel" and previous is not None:
                width += 2 * 0.278 * em
            elif kind == "bin" and previous == "ord":
                width += 2 * 0.222 * em
            elif kind == "bin":
                kind = "ord"  # a leading (unary) minus
        previous = kind
        width += atom[0]
        height, depth = max(height, atom[1]), max(depth, atom[2])
    return width, height, depth
