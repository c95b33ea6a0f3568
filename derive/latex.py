"""The LaTeX of the document model's math and numbers.

All math goes through one LatexPrinter subclass (house notation: symbols print as their
notation, numbers through one formatter) and all numbers through `format_number`, so the
key, the worksheet and the JSON agree. Long products and sums are broken into lines here
(an aligned environment does not break lines by itself).
"""
from __future__ import annotations

import re
from contextvars import ContextVar
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import lru_cache
from typing import Any, Callable, NamedTuple

import mpmath
import sympy
from sympy.printing.latex import LatexPrinter

from .checkable import Operand
from .derivations import Written
from .mapview import Chosen, Correlation, Elementwise
from .mathnodes import Applied, Grid, LinearSum, Partial, Substituted
from .plainmul import joined_factors, separators, symbol_factors
from .rounding import WIDE, Rounded, rounded

NUMBERS = (int, float, mpmath.mpf, Fraction, Operand)  # what prints through format_number
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
        super().__init__({"mul_symbol": mul_symbol(self.house, numeric)})
        self.numeric = numeric
        self.digits = digits
        self.values = values or {}

    def doprint(self, expr: object) -> str:
        # A plain Symbol (most of what a big key prints) goes straight to _print_Symbol,
        # where LatexPrinter's dispatch over its classes would lead it too.
        if type(expr) is sympy.Symbol and self._settings["mode"] == "plain":
            return self._print_Symbol(expr)
        return super().doprint(expr)

    def _print_Symbol(self, expr: sympy.Symbol, style: str = "plain") -> str:
        return symbol_tex(expr, self.values, self.house, self.digits)

    def _print_Float(self, expr: sympy.Float) -> str:
        # a constant of a formula; every computed number is printed through `values`
        return constant_text(expr)

    def _print_Mul(self, expr: sympy.Expr) -> str:
        # A product of plain symbols (a * delta, w * delta: thousands in a wide key) is
        # joined here as LatexPrinter would join it; anything else goes to LatexPrinter.
        factors = symbol_factors(expr, self.order not in ("old", "none"))
        if factors is None:
            return super()._print_Mul(expr)  # type: ignore[no-any-return]
        return joined_factors([self._print_Symbol(f) for f in factors],
                              self._settings["mul_symbol_latex"],
                              self._settings["mul_symbol_latex_numbers"])


def mul_symbol(house: House, numeric: bool) -> str | None:
    """LatexPrinter's mul_symbol: the house's sign between numbers, none between symbols."""
    if not numeric:
        return None
    return "times" if house.times == TIMES_TEX["cross"] else "dot"


def symbol_tex(symbol: sympy.Symbol, values: dict[sympy.Symbol, object], house: House,
               digits: int) -> str:
    """A symbol in the house notation: its value if `values` has one (a placeholder's
    name, or a number), the loss's letter for L, else its name verbatim."""
    if symbol in values:
        value = values[symbol]
        return value.name if isinstance(value, sympy.Symbol) else number_tex(value, digits)
    if symbol.name == "L":  # the loss (no unit or parameter may print as L: derive.network)
        return house.loss
    return symbol.name


def plain_tex(expr: object, values: dict[sympy.Symbol, object], numeric: bool,
              house: House) -> str | None:
    """A plain Symbol or a product of plain symbols exactly as HousePrinter(0, values,
    numeric).doprint prints it, without building the printer (a few microseconds, for
    each of thousands of distinct formulas in a wide key); None for any other formula."""
    if type(expr) is sympy.Symbol:
        return symbol_tex(expr, values, house, 0)
    factors = symbol_factors(expr, True)
    if factors is None:
        return None
    return joined_factors([symbol_tex(f, values, house, 0) for f in factors],
                          *separators(mul_symbol(house, numeric)))


def number_tex(value: object, digits: int) -> str:
    """A number inside a formula: bracketed when negative or in scientific form."""
    shown = format_number(value, digits)
    return rf"\left({shown.tex}\right)" if shown.negative or shown.exponent is not None else shown.tex


@lru_cache(maxsize=4096)
def _latex(expr: sympy.Basic, digits: int, house: House) -> str:
    # `house` is HOUSE's value: a key of the cache
    quick = plain_tex(expr, {}, False, house)
    return HousePrinter(digits).doprint(expr) if quick is None else quick


def tex(obj: object, digits: int = 4) -> str:
    """Any math object of the document model, as LaTeX math (no delimiters)."""
    kind = type(obj)
    printer = TEX_BY_TYPE.get(kind)
    if printer is None:  # the first object of its type: which printer takes it
        printer = TEX_BY_TYPE[kind] = next(p for types, p in TEX_PRINTERS if isinstance(obj, types))
    return printer(obj, digits)


def partial_tex(obj: Partial, digits: int) -> str:
    return rf"\frac{{\partial {tex(obj.num, digits)}}}{{\partial {tex(obj.den, digits)}}}"


def applied_tex(obj: Applied, digits: int) -> str:
    prime = "'" if obj.prime else ""
    return rf"{activation_tex(obj.activation)}{prime}\left({tex(obj.arg, digits)}\right)"


def correlation_tex(obj: Correlation, digits: int) -> str:
    return f"{tex(obj.image, digits)} \\star {tex(obj.delta, digits)}"


def elementwise_tex(obj: Elementwise, digits: int) -> str:
    return (f"{activation_tex(obj.activation)}'\\left({tex(obj.z, digits)}\\right) \\odot "
            f"{tex(obj.upstream, digits)}")


def no_tex(obj: object, digits: int) -> str:
    raise TypeError(f"no LaTeX form for {type(obj).__name__}")


# tex's printers, the first whose types an object is an instance of taking it (a bool is
# no number here). Which one that is depends on the object's type alone, so tex looks it
# up once per type in TEX_BY_TYPE: a key has thousands of small objects, and a chain of
# isinstance tests for each was a fifth of its rendering time.
TEX_PRINTERS: tuple[tuple[type | tuple[type, ...], Callable[[Any, int], str]], ...] = (
    (Partial, partial_tex),
    (Applied, applied_tex),
    (LinearSum, lambda obj, digits: linear_tex(obj, HousePrinter(digits))),
    (Substituted, lambda obj, digits: substituted_tex(obj, digits)),
    (Grid, lambda obj, digits: substituted_tex(grid_formula(obj), digits)),
    (Correlation, correlation_tex),
    (Elementwise, elementwise_tex),
    (bool, no_tex),
    (NUMBERS, lambda obj, digits: format_number(obj, digits).tex),
    (sympy.Basic, lambda obj, digits: _latex(obj, digits, HOUSE.get())),
    (Written, lambda obj, digits: written_tex(obj, digits)),
    (object, no_tex),
)
TEX_BY_TYPE: dict[type, Callable[[Any, int], str]] = {}


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
    # a matrix entry stands alone; anywhere else a negative number is bracketed
    bare = isinstance(obj.expr, sympy.MatrixBase)
    for i, symbol in enumerate(symbols):
        value = obj.values[symbol]
        if isinstance(value, sympy.Symbol):
            shown = value.name
        elif isinstance(value, Chosen):  # a max-pooling window's maximum: boxed
            shown = r"\boxed{" + format_number(value.value, digits).tex + "}"
        else:
            shown = format_number(value, digits).tex if bare else number_tex(value, digits)
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
    if r"\left(" not in text:  # every pattern above needs one
        return text
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
def mark(i: int) -> sympy.Symbol:
    """The symbol printed as placeholder i."""
    return sympy.Symbol(placeholder(i))


@lru_cache(maxsize=4096)
def substitution_template(expr: object, symbols: tuple[sympy.Symbol, ...], numeric: bool,
                          house: House = House()) -> str:  # house: HOUSE's value, a key of the cache
    marks: dict[sympy.Symbol, object] = {symbol: mark(i) for i, symbol in enumerate(symbols)}
    quick = plain_tex(expr, marks, numeric, house)
    if quick is not None:
        return quick
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
        return number_tex(expr, digits)
    text = tex(expr, digits)
    formula = expr.expr if isinstance(expr, Substituted) else expr  # numbers in a formula: its shape
    if isinstance(formula, sympy.Add) or (isinstance(formula, sympy.Basic) and minus_sign(formula)):
        return rf"\left({text}\right)"
    return text


@lru_cache(maxsize=4096)
def minus_sign(expr: sympy.Basic) -> bool:
    """Whether a formula reads as negative; the same few formulas come again in every
    block of a key, and SymPy works it out anew each time."""
    return expr.could_extract_minus_sign()


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
