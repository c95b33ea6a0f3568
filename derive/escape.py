"""User text and symbols made safe for each output: LaTeX text, Markdown, XML/HTML,
and notation as Unicode for places without math (diagrams, LMS question text)."""
from __future__ import annotations

import html
import re
from decimal import Decimal

from .plaintext import symbol_text

TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    # typeset as curly quotes (and `` '' as double ones) unless asked for the straight glyph
    "`": r"\textasciigrave{}", "'": r"\textquotesingle{}", '"': r"\textquotedbl{}",
}
# What pdflatex sets in text with the preamble's T1 fonts, utf8 input and textcomp (found by
# compiling each character): ASCII, Latin-1, Latin Extended-A but nine letters, and some
# punctuation. Anything else stops TeX with "Unicode character not set up for use".
TEX_TEXT_CHARS = (frozenset(map(chr, range(0x20, 0x7F))) | frozenset(map(chr, range(0xA0, 0x180)))
                  | frozenset("ƒȘșȚț‐‑‒–—―‖‘’‚“”„†‡•…‰‱‹›※‽⁄€™№←↑→↓")) - frozenset("ĦħĸĿŀŉŦŧſ")
# Greek letters and the notation of a course (a title such as "σ-network, ∂L/∂w ≤ η") have
# no text glyph but are math: set as math (capitals that look Latin: upright Latin).
_GREEK = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi "
          "rho sigma tau upsilon phi chi psi omega").split()
_GREEK_CAPITALS = dict(zip(_GREEK, "A B \\Gamma \\Delta E Z H \\Theta I K \\Lambda M N \\Xi O \\Pi P "
                                   "\\Sigma T \\Upsilon \\Phi X \\Psi \\Omega".split()))
TEX_MATH_CHARS = {
    **{chr(0x3B1 + i + (i >= 17)): "o" if name == "omicron" else "\\" + name for i, name in enumerate(_GREEK)},
    **{chr(0x391 + i + (i >= 17)): capital if capital.startswith("\\") else rf"\mathrm{{{capital}}}"
       for i, (name, capital) in enumerate(_GREEK_CAPITALS.items())},
    "ς": r"\varsigma", "ϵ": r"\epsilon", "ϑ": r"\vartheta", "ϕ": r"\phi", "∆": r"\Delta",
    "∂": r"\partial", "∇": r"\nabla", "∑": r"\sum", "∏": r"\prod", "∫": r"\int", "√": r"\surd",
    "∞": r"\infty", "≈": r"\approx", "≠": r"\neq", "≤": r"\leq", "≥": r"\geq", "≡": r"\equiv",
    "∝": r"\propto", "−": "-", "∓": r"\mp", "′": r"{}^{\prime}", "″": r"{}^{\prime\prime}",
    "↔": r"\leftrightarrow", "⇒": r"\Rightarrow", "⇔": r"\Leftrightarrow", "↦": r"\mapsto",
    "∘": r"\circ", "⋅": r"\cdot", "∙": r"\cdot", "⊙": r"\odot", "⊗": r"\otimes", "∈": r"\in",
    "∉": r"\notin", "∀": r"\forall", "∃": r"\exists", "∅": r"\emptyset", "ℓ": r"\ell",
    "ℝ": r"\mathbb{R}", "ℕ": r"\mathbb{N}", "ℤ": r"\mathbb{Z}", "⊤": r"\top", "⟨": r"\langle",
    "⟩": r"\rangle",
}
MD_SPECIALS = set("\\`*_{}[]()<>#+-.!|$~&")


SUBSCRIPTS = str.maketrans("0123456789,()", "₀₁₂₃₄₅₆₇₈₉,₍₎")
SUPERSCRIPTS = str.maketrans("0123456789,()", "⁰¹²³⁴⁵⁶⁷⁸⁹,⁽⁾")
PLAIN_SYMBOL = re.compile(r"([A-Za-z])(?:_\{([0-9,]+)\})?(?:\^\{(\([0-9]+(?:\\to ?[0-9]+)?\))\})?\Z")


def unicode_symbol(symbol: object) -> str:
    """x_{1} -> x₁, a_{1}^{(2)} -> a₁⁽²⁾: notation for places without math (diagrams)."""
    name = getattr(symbol, "name", str(symbol))
    match = PLAIN_SYMBOL.match(name)
    if not match:  # a custom symbol (notation.names): written out, never raw LaTeX
        return symbol_text(name)
    letter, sub, sup = match.groups()
    sup = (sup or "").replace("\\to ", "→").replace("\\to", "→")
    return letter + (sub or "").translate(SUBSCRIPTS) + sup.translate(SUPERSCRIPTS)


def tex_text(text: str) -> str:
    """User text (a title) as literal LaTeX text: nothing in it can run as a command, and
    nothing in it stops pdflatex. A character it has no glyph for prints as "?"."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    parts = []
    for i, ch in enumerate(printable):
        if ch in TEX_SPECIALS:
            parts.append(TEX_SPECIALS[ch])
        elif ch in TEX_MATH_CHARS:
            parts.append(rf"\ensuremath{{{TEX_MATH_CHARS[ch]}}}")
        elif ch in TEX_TEXT_CHARS:
            # -- and ,, are ligatures (en dash, low quotes): keep each character itself
            parts.append(ch + "{}" if ch in "-," and printable[i + 1:i + 2] == ch else ch)
        else:
            parts.append("?")
    return "".join(parts)


def xml_text(text: str) -> str:
    """User text inside XML/HTML (Moodle): markup characters escaped, controls dropped."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return html.escape(printable, quote=True)


def moodle_number(value: float) -> str:
    """A plain decimal (no exponent), which every Moodle version parses."""
    return f"{Decimal(repr(float(value))).normalize():f}"


def md_text(text: str) -> str:
    """User text as literal Markdown: every character Markdown could act on is escaped."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return "".join("\\" + ch if ch in MD_SPECIALS else ch for ch in printable)
