"""Stage 6: print a Solution as Markdown, LaTeX or JSON.

One Jinja environment per text format, with StrictUndefined so a template that names
a missing field fails loudly. All math goes through one LatexPrinter subclass (house
notation: symbols print as their notation, numbers through one formatter) and all
numbers through `format_number`, so the key, the worksheet and the JSON agree.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from contextvars import ContextVar
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import jinja2
import mpmath
import sympy
from sympy.printing.latex import LatexPrinter

from .errors import RenderError
from .maps import split_entry
from .plaintext import symbol_text
from .rounding import WIDE, Rounded, rounded
from .checkable import Operand
from .derivations import Written
from .mapview import Chosen, Correlation, Elementwise
from .mathnodes import Applied, Grid, LinearSum, Partial, Substituted, ordered_symbols
from .solution import Diagram, Solution

FORMATS = ("md", "tex", "json")
NUMBERS = (int, float, mpmath.mpf, Fraction, Operand)  # what prints through format_number
ROUNDING_RULE = "half away from zero"
# Estimated glyphs per line of a long product before it breaks (see product_tex); for
# Markdown the viewer scrolls, so lines break later.
LINE_WIDTH = {"tex": 60.0, "md": 110.0}
ACTIVATION_TEX = {  # how each activation is named in formulas
    "linear": r"\operatorname{id}",
    "sigmoid": r"\sigma",
    "tanh": r"\tanh",
    "relu": r"\operatorname{ReLU}",
    "leaky_relu": r"\operatorname{LeakyReLU}",
    "softplus": r"\operatorname{softplus}",
    "softmax": r"\operatorname{softmax}",
}
ACTIVATION_TEXT = {"linear": "linear", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU",
                   "leaky_relu": "leaky ReLU", "softplus": "softplus", "softmax": "softmax"}


def activation_tex(name: str) -> str:
    """An activation's name in formulas; a custom one (a formula) by its own name, which
    the spec keeps to letters, digits and _."""
    return ACTIVATION_TEX.get(name) or r"\operatorname{" + name.replace("_", r"\_") + "}"


def activation_text(name: str) -> str:
    """An activation's name in prose; a custom one by its own name."""
    return ACTIVATION_TEXT.get(name, name)


# --- numbers -------------------------------------------------------------------------------

class Shown(NamedTuple):
    """A number as displayed: `mantissa` x 10^`exponent` (exponent None: plain decimal)."""

    mantissa: str
    exponent: int | None = None

    @property
    def text(self) -> str:
        return self.mantissa if self.exponent is None else f"{self.mantissa}e{self.exponent}"

    @property
    def tex(self) -> str:
        return self.mantissa if self.exponent is None else rf"{self.mantissa} \times 10^{{{self.exponent}}}"

    @property
    def negative(self) -> bool:
        return self.mantissa.startswith("-")


def format_number(value: object, digits: int) -> Shown:
    """A value as displayed, by the rule of derive.rounding (trailing zeros kept: they
    say how far the value was rounded)."""
    if isinstance(value, Operand):  # a line's operand that needs more digits (derive.checkable)
        return format_number(value.value, digits + value.extra)
    if isinstance(value, Rounded):  # remembers its own form; not cached by value
        return shown_decimal(value.shown, value.scientific)
    return _format_number(value, digits)


@lru_cache(maxsize=16384, typed=True)  # typed: a Given 0.5 and a computed 0.5 may print apart
def _format_number(value: object, digits: int) -> Shown:
    return shown_decimal(*rounded(value, digits))  # type: ignore[arg-type]


def shown_decimal(decimal: Decimal, scientific: bool) -> Shown:
    if not scientific:
        return Shown(f"{decimal:f}")
    exponent = decimal.adjusted()
    with localcontext(WIDE):  # exponents such as -442980373 (a saturated unit's factors)
        return Shown(f"{decimal.scaleb(-exponent):f}", exponent)


def constant_text(value: sympy.Float) -> str:
    """A number inside a formula (a leaky ReLU's slope), exactly as it was written."""
    return f"{Decimal(repr(float(value))).normalize():f}"


# --- math ----------------------------------------------------------------------------------

class House(NamedTuple):
    """The signs of the working that the spec's notation may change (docs/spec.md,
    "Notation options"): the loss's letter, the learning rate's, the multiplication sign
    between numbers. Every symbol of a unit or parameter is chosen by derive.network."""

    loss: str = "L"
    eta: str = r"\eta"
    times: str = r"\cdot"


LEARNING_RATE_TEX = {"eta": r"\eta", "alpha": r"\alpha"}
TIMES_TEX = {"dot": r"\cdot", "cross": r"\times"}
# The house of the document being rendered: set by render() around its templates, read by
# the printer and the joiners below (and part of their caches' keys), so that the filters
# keep their one `digits` argument. Outside render() it is the default notation.
HOUSE: ContextVar[House] = ContextVar("house", default=House())


def house_of(notation: object) -> House:
    """The signs a solution's notation chooses (a spec.Notation: loss, learning_rate, times)."""
    return House(notation.loss, LEARNING_RATE_TEX[notation.learning_rate],  # type: ignore[attr-defined]
                 TIMES_TEX[notation.times])  # type: ignore[attr-defined]


class HousePrinter(LatexPrinter):
    """LaTeX in the house notation.

    Symbols are named by their notation and print verbatim. With `values`, each symbol
    found there prints as its number instead (negative ones in parentheses), which is
    how a formula becomes its 'numbers substituted' line without SymPy evaluating it.
    """

    def __init__(self, digits: int, values: dict[sympy.Symbol, object] | None = None,
                 numeric: bool | None = None) -> None:
        if numeric is None:
            numeric = any(not isinstance(v, sympy.Symbol) for v in (values or {}).values())
        self.house = HOUSE.get()
        times = "times" if self.house.times == TIMES_TEX["cross"] else "dot"
        super().__init__({"mul_symbol": times if numeric else None})
        self.numeric = numeric
        self.digits = digits
        self.values = values or {}

    def number(self, value: float) -> str:
        shown = format_number(value, self.digits)
        return rf"\left({shown.tex}\right)" if shown.negative or shown.exponent is not None else shown.tex

    def _print_Symbol(self, expr: sympy.Symbol, style: str = "plain") -> str:
        if expr in self.values:
            value = self.values[expr]
            return value.name if isinstance(value, sympy.Symbol) else self.number(value)  # type: ignore[arg-type]
        if expr.name == "L":  # the loss (no unit or parameter may print as L: derive.network)
            return self.house.loss
        return expr.name

    def _print_Float(self, expr: sympy.Float) -> str:
        # a constant of a formula; every computed number is printed through `values`
        return constant_text(expr)


@lru_cache(maxsize=4096)
def _latex(expr: sympy.Basic, digits: int, house: House) -> str:
    return HousePrinter(digits).doprint(expr)  # `house` is HOUSE's value: a key of the cache


def tex(obj: object, digits: int = 4) -> str:
    """Any math object of the document model, as LaTeX math (no delimiters)."""
    if isinstance(obj, Partial):
        return rf"\frac{{\partial {tex(obj.num, digits)}}}{{\partial {tex(obj.den, digits)}}}"
    if isinstance(obj, Applied):
        prime = "'" if obj.prime else ""
        return rf"{activation_tex(obj.activation)}{prime}\left({tex(obj.arg, digits)}\right)"
    if isinstance(obj, LinearSum):
        return linear_tex(obj, HousePrinter(digits))
    if isinstance(obj, Substituted):
        return substituted_tex(obj, digits)
    if isinstance(obj, Grid):
        return substituted_tex(grid_formula(obj), digits)
    if isinstance(obj, Correlation):
        return f"{tex(obj.image, digits)} \\star {tex(obj.delta, digits)}"
    if isinstance(obj, Elementwise):
        return (f"{activation_tex(obj.activation)}'\\left({tex(obj.z, digits)}\\right) \\odot "
                f"{tex(obj.upstream, digits)}")
    if isinstance(obj, NUMBERS) and not isinstance(obj, bool):
        return format_number(obj, digits).tex
    if isinstance(obj, sympy.Basic):
        return _latex(obj, digits, HOUSE.get())
    if isinstance(obj, Written):
        return written_tex(obj, digits)
    raise TypeError(f"no LaTeX form for {type(obj).__name__}")


class WrittenPrinter(HousePrinter):
    """The house printer keeping terms and factors in the order they were built (a worked
    derivation is about the form of each step, which SymPy's usual order would change),
    and writing a sum over a layer's outputs as a teacher does, by its index only."""

    def __init__(self, digits: int) -> None:
        super().__init__(digits)
        self._settings["order"] = "none"

    def _print_Sum(self, expr: sympy.Sum) -> str:
        body = self._print(expr.function)
        if isinstance(expr.function, sympy.Add):
            body = rf"\left({body}\right)"
        return rf"\sum_{{{self._print(expr.limits[0][0])}}} {body}"


def written_tex(obj: Written, digits: int) -> str:
    """A derivation step (derive.derivations.Written): its factors side by side, each
    bracketed where it is a sum or negative, and the sum over m in front if it has one."""
    printer = WrittenPrinter(digits)
    several = len(obj.factors) > 1 or obj.over is not None
    parts = []
    for factor in obj.factors:
        if not isinstance(factor, sympy.Basic):
            parts.append(tex(factor, digits))
            continue
        text = printer.doprint(factor)
        if several and (isinstance(factor, sympy.Add) or factor.could_extract_minus_sign()):
            text = rf"\left({text}\right)"
        parts.append(text)
    text = r" \cdot ".join(parts)
    if obj.over is None:
        return text
    return rf"\sum_{{{printer.doprint(obj.over[0])}}} {text}"


def substituted_tex(obj: Substituted, digits: int) -> str:
    """A formula with numbers (or other symbols) in place of its symbols.

    The formula is printed once with a placeholder per symbol, and the placeholders
    are then replaced by the formatted numbers: an exam's variants share every
    formula and differ only in the numbers, so SymPy's printer runs once per formula.
    """
    symbols = tuple(obj.values)
    numeric = any(not isinstance(v, sympy.Symbol) for v in obj.values.values())
    text = substitution_template(obj.expr, symbols, numeric, HOUSE.get())
    printer = HousePrinter(digits)
    # a matrix entry stands alone; anywhere else a negative number is bracketed
    bare = isinstance(obj.expr, sympy.MatrixBase)
    for i, symbol in enumerate(symbols):
        value = obj.values[symbol]
        if isinstance(value, sympy.Symbol):
            shown = value.name
        elif isinstance(value, Chosen):  # a max-pooling window's maximum: boxed
            shown = r"\boxed{" + format_number(value.value, digits).tex + "}"
        else:
            shown = format_number(value, digits).tex if bare else printer.number(value)
        text = text.replace(placeholder(i), shown)
    return tidy_signs(text) if numeric else text


# A bracketed negative number right inside brackets of its own (tanh((-0.15))), or after a
# minus (e^{-(-0.546)}, 1 - (-0.3)): the signs a teacher would have simplified.
# what one bracket holds: no bracket of its own but a superscript layer index, ^{(3)}
INSIDE = r"(?:[^()]|\^\{\(\d+\)\})*?"
DOUBLE_BRACKET = re.compile(r"\\(?:left|Bigl)\(\\left\((" + INSIDE + r")\\right\) ?\\(?:right|Bigr)\)")
# (not before a power: 1 - (-0.149)^2 is not 1 + 0.149^2)
MINUS_NEGATIVE_FIRST = re.compile(r"\{- ?\\left\(-([^()]*?)\\right\)(?!\^)")
MINUS_NEGATIVE = re.compile(r"(\S) - \\left\(-([^()]*?)\\right\)(?!\^)")


# a bracketed number that is a whole exponent: e^{(-0.234)} reads as e^{-0.234}
EXPONENT_BRACKET = re.compile(r"\^\{\\left\((-?[0-9.]+(?: \\times 10\^\{-?\d+\})?)\\right\)\}")


def tidy_signs(text: str) -> str:
    text = DOUBLE_BRACKET.sub(r"\\left(\1\\right)", text)
    text = EXPONENT_BRACKET.sub(r"^{\1}", text)
    text = MINUS_NEGATIVE_FIRST.sub(r"{\1", text)
    return MINUS_NEGATIVE.sub(r"\1 + \2", text)


def grid_formula(grid: Grid) -> Substituted:
    """A matrix of numbers as a matrix of entry symbols with the numbers substituted: laid
    out once per shape, each entry printed by the rounding rule."""
    shape = sympy.ImmutableMatrix([[entry_symbol(r, c) for c in range(len(row))]
                                   for r, row in enumerate(grid.rows)])
    return Substituted(shape, {entry_symbol(r, c): value for r, row in enumerate(grid.rows)
                               for c, value in enumerate(row)})


@lru_cache(maxsize=1024)
def entry_symbol(row: int, col: int) -> sympy.Symbol:
    return sympy.Symbol(f"m_{{{row},{col}}}")


def placeholder(i: int) -> str:
    return f"\u0000{i}\u0000"


@lru_cache(maxsize=4096)
def substitution_template(expr: object, symbols: tuple[sympy.Symbol, ...], numeric: bool,
                          house: House = House()) -> str:  # house: HOUSE's value, a key of the cache
    marks = {symbol: sympy.Symbol(placeholder(i)) for i, symbol in enumerate(symbols)}
    printer = HousePrinter(0, marks, numeric)
    if isinstance(expr, LinearSum):
        return linear_tex(expr, printer)
    return printer.doprint(expr)


def linear_tex(expr: LinearSum, printer: HousePrinter) -> str:
    joiner = f" {printer.house.times} " if printer.numeric else " "
    terms = [printer.doprint(w) + joiner + printer.doprint(a) for w, a in expr.terms]
    return " + ".join(terms + [printer.doprint(expr.bias)])


def factor_tex(expr: object, digits: int) -> str:
    """A factor inside a product: bracketed when it is a sum (or a negative number)."""
    if isinstance(expr, NUMBERS):
        return HousePrinter(digits).number(expr)
    text = tex(expr, digits)
    formula = expr.expr if isinstance(expr, Substituted) else expr  # numbers in a formula: its shape
    if isinstance(formula, sympy.Add) or (isinstance(formula, sympy.Basic) and formula.could_extract_minus_sign()):
        return rf"\left({text}\right)"
    return text


def product_tex(factors: tuple[object, ...], digits: int, width: float | None = None) -> str:
    """Factors joined by a centred dot, broken onto continuation lines past `width`."""
    return broken_tex([factor_tex(f, digits) for f in factors], f" {HOUSE.get().times} ", width)


def sum_tex(terms: tuple[object, ...], digits: int, width: float | None = None) -> str:
    """Terms joined by plus signs (negative numbers bracketed, a term printed with a
    leading minus joined by that minus instead), broken like products."""
    text = broken_tex([factor_tex(t, digits) for t in terms], " + ", width)
    return text.replace("+ - ", "- ").replace("+ -", "- ")


def broken_tex(parts: list[str], joiner: str, width: float | None) -> str:
    """`parts` joined by `joiner`, with a line break whenever a line would pass `width`.

    Chain-rule products get long (a path through four layers has nine factors). Inside
    an aligned environment a line break is explicit (no automatic breaking there), so
    the break points are chosen here: a new line whenever the estimated width of the
    current one would pass `width`. The estimate is coarse (glyphs, with fractions
    counted at the width of their wider part), enough to keep lines inside the margin.
    """
    if width is None:
        return joiner.join(parts)
    lines: list[list[str]] = [[]]
    used = 0.0
    for part in parts:
        size = approx_width(part) + 1.5
        if lines[-1] and used + size > width:
            lines.append([])
            used = 0.0
        lines[-1].append(part)
        used += size
    return (r" \\ &\qquad" + joiner).join(joiner.join(line) for line in lines)


@lru_cache(maxsize=8192)
def approx_width(tex: str) -> float:
    """Rough printed width of a LaTeX math string, in glyphs."""
    width, _ = _width(tex, 0)
    return width


def _group(tex: str, i: int) -> tuple[str, int]:
    """The brace group starting at tex[i] (or the single character there) and the next index."""
    if i < len(tex) and tex[i] == "{":
        depth, j = 0, i
        while j < len(tex):
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            if depth == 0:
                return tex[i + 1:j], j + 1
            j += 1
        return tex[i + 1:], len(tex)
    return tex[i:i + 1], i + 1


def _width(tex: str, i: int) -> tuple[float, int]:
    total = 0.0
    while i < len(tex):
        ch = tex[i]
        if tex.startswith("\\frac", i):
            top, i = _group(tex, i + 5)
            bottom, i = _group(tex, i)
            total += max(approx_width(top), approx_width(bottom))
        elif ch == "\\":
            j = i + 1
            while j < len(tex) and tex[j].isalpha():
                j += 1
            name = tex[i + 1:j] or tex[j:j + 1]
            i = j if j > i + 1 else j + 1
            total += 0 if name in ("left", "right", "quad", "qquad", ",") else 1
        elif ch in "_^":
            inner, i = _group(tex, i + 1)
            total += 0.7 * approx_width(inner)
        elif ch == "{":
            inner, i = _group(tex, i)
            total += approx_width(inner)
        else:
            total += 0 if ch in " }" else 1
            i += 1
    return total, i


# --- text ----------------------------------------------------------------------------------

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


# --- documents -----------------------------------------------------------------------------

def template_folder() -> Path:
    """templates/ beside the package in a checkout, or inside it once installed."""
    here = Path(__file__).resolve().parent
    for folder in (here / "templates", here.parent / "templates"):
        if folder.is_dir():
            return folder
    raise RenderError("cannot find the templates folder (the installation is incomplete)")


@jinja2.pass_context
def _tex_filter(context: jinja2.runtime.Context, obj: object) -> str:
    return tex(obj, context["digits"])


@jinja2.pass_context
def _product_filter(context: jinja2.runtime.Context, factors: tuple[object, ...],
                    width: float | None = None) -> str:
    return product_tex(tuple(factors), context["digits"], width)


@jinja2.pass_context
def _sum_filter(context: jinja2.runtime.Context, terms: tuple[object, ...],
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
def _equalities_filter(context: jinja2.runtime.Context, parts: tuple[object, ...],
                       width: float | None = None) -> str:
    """Formulas joined by equals signs (a derivation on one line), broken like products."""
    return broken_tex([tex(part, context["digits"]) for part in parts], " = ", width)


@jinja2.pass_context
def _long_sum_filter(context: jinja2.runtime.Context, obj: object, width: float | None = None) -> str:
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
        return (tex(scale, context["digits"]) + r" \Bigl(" + _long_sum_filter(context, inside, width)
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
def _long_equation_filter(context: jinja2.runtime.Context, equation: sympy.Eq, width: float) -> str:
    """lhs = rhs on one line, or, when too long, aligned with the rhs broken."""
    text = tex(equation, context["digits"])
    if approx_width(text) <= width:
        return text
    return (r"\begin{aligned}" + tex(equation.lhs, context["digits"]) + " &= "
            + _long_sum_filter(context, equation.rhs, width) + r"\end{aligned}")


@jinja2.pass_context
def _bracketed_filter(context: jinja2.runtime.Context, terms: tuple[object, ...],
                      width: float | None = None) -> str:
    """A sum as a factor: one term stands as it would as a factor ((a - y) keeps its own
    brackets, w delta needs none); several go in \\Bigl( \\Bigr), which may break
    across lines."""
    terms = tuple(terms)
    if len(terms) == 1:
        return factor_tex(terms[0], context["digits"])
    return r"\Bigl(" + sum_tex(terms, context["digits"], width) + r"\Bigr)"


@jinja2.pass_context
def _factor_filter(context: jinja2.runtime.Context, obj: object) -> str:
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
def _nested_filter(context: jinja2.runtime.Context, node: object, width: float | None = None) -> str:
    return nested_tex(node, context["digits"], width)


class QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs in the system's temporary folder.

    Compiling the templates is most of the rendering time of a small network, and a
    command-line tool runs once per call. A cache that cannot be read or written is
    simply not used. Jinja keys a compiled template by its source, but the code also
    depends on the filters (whether one takes the context is decided when compiling),
    so the file names carry a fingerprint of them: another derive's templates never
    load here.
    """

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def bytecode_cache(env: jinja2.Environment) -> jinja2.BytecodeCache | None:
    filters = sorted((name, str(getattr(f, "jinja_pass_arg", ""))) for name, f in env.filters.items())
    fingerprint = hashlib.sha256(repr(filters).encode()).hexdigest()[:16]
    try:
        return QuietBytecodeCache(pattern=f"__derive_{fingerprint}_%s.cache")
    except (OSError, RuntimeError):  # no safe temporary folder: compile every time
        return None


@jinja2.pass_context
def _plain_filter(context: jinja2.runtime.Context, value: float) -> str:
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


@lru_cache(maxsize=None)
def environment(fmt: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_folder()),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # escaping is explicit: the `text` filter, per format
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update({
        "text": {"md": md_text, "tex": tex_text, "xml": xml_text}[fmt],
        "moodle_number": moodle_number,
        "activation": lambda name: {"md": md_text, "tex": tex_text, "xml": xml_text}[fmt](activation_text(name)),
        "unicode": unicode_symbol,
        "plain": _plain_filter,
        "column_spacing": column_spacing,
        "tex": _tex_filter,
        "num": _tex_filter,
        "product": _product_filter,
        "factor": _factor_filter,
        "terms": _sum_filter,
        "bracketed": _bracketed_filter,
        "long_sum": _long_sum_filter,
        "equalities": _equalities_filter,
        "glyphs": approx_width,
        "svg64": svg_base64,
        "long_equation": _long_equation_filter,
        "nested": _nested_filter,
        "ident": ident,
    })
    env.tests["sum"] = lambda obj: isinstance(obj, sympy.Add)
    env.globals["house"] = House()  # render() passes the solution's own (a template rendered elsewhere: the default)
    env.bytecode_cache = bytecode_cache(env)
    return env


def render(solution: Solution, fmt: str, digits: int = 4, document: str = "solution") -> str:
    """The whole document as text; JSON is built directly, not templated."""
    if fmt == "json":
        return render_json(solution, digits)
    # a given-gradient problem (derive.given) has its own documents: solution_updates.md.j2, ...
    name = document if solution.kind == "worked" else f"{document}_{solution.kind}"
    template = environment(fmt).get_template(f"{name}.{fmt}.j2")
    house = house_of(solution.notation)
    token = HOUSE.set(house)
    try:
        return template.render(solution=solution, given=solution.given, digits=digits,
                               rounding_rule=ROUNDING_RULE, width=LINE_WIDTH[fmt], house=house)
    finally:
        HOUSE.reset(token)


def render_table(table: object, fmt: str) -> str:
    """The reference table of activations (derive.table) as its own document."""
    template = environment(fmt).get_template(f"table.{fmt}.j2")
    return template.render(solution=table, section={"content": table.rows}, digits=4,  # type: ignore[attr-defined]
                           width=LINE_WIDTH[fmt])


def render_exam(kind: str, part: str, digits: int, solution: Solution | None = None,
                count: int = 0, number: int = 0, body: str = "") -> str:
    """One part of the combined keys (`kind` "solution") or worksheets of an exam, a
    LaTeX document written piece by piece as the variants are made (templates/_exam.tex.j2):
    "head" (the preamble of `solution`, whose title is the exam's, and a title page
    naming `count` variants), "variant" (variant `number`, whose own document, as
    rendered, gives the `body`) or "end"."""
    template = environment("tex").get_template(f"exam_{kind}.tex.j2")
    return template.render(part=part, solution=solution, given=solution.given if solution else None,
                           count=count, number=number, body=body, digits=digits,
                           rounding_rule=ROUNDING_RULE, width=LINE_WIDTH["tex"])


def svg_base64(picture: object) -> str:
    """The network diagram as an SVG file, base64 (a Moodle question embeds it)."""
    from .svg import diagram_svg
    return base64.b64encode(diagram_svg(picture).encode("utf-8")).decode("ascii")  # type: ignore[arg-type]


def render_moodle(exam: object, digits: int) -> str:
    """The exam as a Moodle XML quiz (see templates/moodle.xml.j2)."""
    template = environment("xml").get_template("moodle.xml.j2")
    return template.render(exam=exam, digits=digits)


def render_json(solution: Solution, digits: int) -> str:
    steps = []
    if solution.kind == "updates":  # given gradients (derive.given): one step of updates only
        steps.append({"parameters": [given_update_entry(row, digits)
                                     for row in solution.sections[0].content.rows]})  # type: ignore[attr-defined]
    for step in solution.steps:
        forward = forward_entries([line for layer in step.forward for line in layer.lines])
        blocks = {block.key: block for layer in step.backward for block in layer.gradients}
        updates = {update.key: update for update in step.updates}
        parameters = [parameter_entry(key, blocks[key], updates.get(key), step, digits)
                      for key in step.values.gradients]  # spec order
        entry = {"forward": forward, "loss": step.loss.value, "outputs": dict(step.outputs),
                 "parameters": parameters}
        if step.sample is not None:
            entry = {"iteration": step.number, "sample": step.sample, **entry}
        elif len(solution.steps) > 1:
            entry = {"iteration": step.number, **entry}
        if step.part is not None:  # a spec with parts (derive.parts): the steps of each part in turn
            entry = {"part": step.part, **entry}
        for section in step.sections:
            if section.kind == "batch":
                entry["batch"] = batch_entry(section.content, digits)
        steps.append(entry)
    scope = ("every shown value is rounded and the next step computed from it"
             if solution.policy == "by-hand" else "display only; every value is computed in full precision")
    document = {"title": solution.title, "format": "derive-answer-key/1",
                "rounding": {"digits": digits, "rule": ROUNDING_RULE, "policy": solution.policy,
                             "scope": scope},
                "learning_rate": solution.given.eta, "steps": steps}
    if solution.parts:  # what each part overrides; "learning_rate" above is null when they differ
        document["parts"] = [part_entry(part) for part in solution.parts]
    return json.dumps(document, indent=1, ensure_ascii=False, default=json_number) + "\n"


def part_entry(part: Any) -> dict[str, Any]:
    """A part of a spec with parts: its label, heading, loss, learning rate and targets."""
    given = part.solution.given
    return {"label": part.label, "title": part.title, "loss": part.loss, "learning_rate": given.eta,
            "targets": {item.name: item.value for item in given.targets}}


def parameter_entry(key: str, block: object, update: object, step: object, digits: int) -> dict[str, Any]:
    """One weight or bias of a step in the JSON key; "updated" is null for a sample inside
    a batch (the batch's update is in the step's "batch")."""
    entry: dict[str, Any] = {"kind": block.kind}  # type: ignore[attr-defined]
    if key.startswith("k:"):  # a kernel entry of a conv map: k:<map>:<channel>:<row>,<col>
        _, map_name, channel, place = key.split(":")
        row, col = place.split(",")
        entry = {"kind": "kernel", "map": map_name, "channel": channel, "row": int(row), "col": int(col)}
    elif block.kind == "weight":  # type: ignore[attr-defined]
        source, target = key.split("->")
        place = split_entry(source)
        entry.update({"from": place[0], "row": place[1], "col": place[2]} if place else {"from": source})
        entry["to"] = target
    else:
        entry["neuron"] = key.removeprefix("b:")
    gradient = block.value  # type: ignore[attr-defined]
    entry.update({
        "symbol": block.symbol.name,  # type: ignore[attr-defined]
        "value": step.values.symbols[block.symbol],  # type: ignore[attr-defined]
        "gradient": gradient,
        "updated": update.new if update else None,  # type: ignore[attr-defined]
        "paths": [path.value for path in block.paths],  # type: ignore[attr-defined]
        "displayed": {"gradient": format_number(gradient, digits).text},
    })
    if update:
        entry["displayed"]["updated"] = format_number(update.new, digits).text  # type: ignore[attr-defined]
    return entry


def given_update_entry(row: Any, digits: int) -> dict[str, Any]:
    """One parameter of a given-gradient problem: its given gradient and its update (no
    paths: nothing was derived)."""
    entry: dict[str, Any] = {"kind": row.kind}
    if row.kind == "weight":
        source, target = row.key.split("->")
        entry.update({"from": source, "to": target})
    else:
        entry["neuron"] = row.key.removeprefix("b:")
    entry.update({"symbol": row.symbol.name, "value": row.old, "gradient": row.gradient,
                  "given": True, "updated": row.new,
                  "displayed": {"gradient": format_number(row.gradient, digits).text,
                                "updated": format_number(row.new, digits).text}})
    return entry


def forward_entries(lines: list[Any]) -> dict[str, Any]:
    """Each unit's z and a; a map's (every unit named like c1[2,3]) as nested lists, row by row."""
    forward: dict[str, Any] = {}
    for line in lines:
        place = split_entry(line.neuron)
        if place is None:
            forward[line.neuron] = {"z": line.z_value, "a": line.a_value}
            continue
        name, row, col = place
        found = forward.setdefault(name, {"z": [], "a": []})
        for what, value in (("z", line.z_value), ("a", line.a_value)):
            while len(found[what]) < row:
                found[what].append([])
            found[what][row - 1].append(value)
    return forward


def batch_entry(batch: object, digits: int) -> dict[str, Any]:
    return {"reduction": batch.reduction, "loss": batch.loss,  # type: ignore[attr-defined]
            "parameters": [{"key": row.key, "symbol": row.symbol.name, "gradient": row.combined,
                            "value": row.old, "updated": row.new,
                            "displayed": {"gradient": format_number(row.combined, digits).text,
                                          "updated": format_number(row.new, digits).text}}
                           for row in batch.rows]}  # type: ignore[attr-defined]


def json_number(value: object) -> float:
    """An mpmath value (beyond a double's range, see evaluate.number) as the nearest double;
    the "displayed" strings keep its digits."""
    if isinstance(value, (mpmath.mpf, Fraction)):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
