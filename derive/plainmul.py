"""Products of plain symbols, printed exactly as SymPy's LatexPrinter prints them.

A wide key prints thousands of distinct products such as a * delta and w * delta (each
symbol, or the placeholder of its number); LatexPrinter spends some 50 microseconds on
each, mostly looking for minus signs, denominators and brackets that such a product
cannot have. derive.latex joins them here instead and hands every other formula to
LatexPrinter. tests/test_latex_fast.py compares the two on every formula the problems'
keys print and on many built ones.
"""
from __future__ import annotations

from functools import lru_cache
from operator import attrgetter

import sympy
from sympy.printing.latex import LatexPrinter
# SymPy's own test for "a number meets a number" (2 \cdot 3, not 2 3); private, so the
# tests' comparison with LatexPrinter is what says it still means what it did
from sympy.printing.latex import _between_two_numbers_p as BETWEEN_NUMBERS

BY_NAME = attrgetter("name")


def symbol_factors(expr: object, ordered: bool) -> list[sympy.Symbol] | None:
    """The factors of a product of plain commutative symbols, in the order LatexPrinter
    prints them; None for any other formula.

    For such a product LatexPrinter finds no minus sign to extract, no denominator and
    no factor needing brackets, and orders the factors by their sort key, which for a
    Symbol is its name (a stable sort: equal names keep their order); with `ordered`
    false (a printer of order "none", derive.latex.WrittenPrinter) they stay as built.
    """
    if type(expr) is not sympy.Mul:  # (LatexPrinter also sends Pows to _print_Mul)
        return None
    args = expr.args  # type: ignore[attr-defined]
    for arg in args:
        if type(arg) is not sympy.Symbol or arg.is_commutative is not True:
            return None  # a number, a power, a sum, a Dummy, a non-commuting symbol ...
    return sorted(args, key=BY_NAME) if ordered else list(args)


def joined_factors(parts: list[str], separator: str, between_numbers: str) -> str:
    """Printed factors joined as LatexPrinter joins them: by `separator`, or by
    `between_numbers` where a factor ending in a digit meets one starting with one."""
    text = previous = ""
    for part in parts:
        if BETWEEN_NUMBERS[0].search(previous) and BETWEEN_NUMBERS[1].match(part):
            text += between_numbers
        elif text:  # (a symbol may print as nothing: then no separator after it either)
            text += separator
        text += part
        previous = part
    return text


@lru_cache(maxsize=None)  # one entry per mul_symbol: none, dot, times
def separators(mul_symbol: str | None) -> tuple[str, str]:
    """What LatexPrinter puts between factors with this mul_symbol setting: between any
    two, and between two numbers."""
    settings = LatexPrinter({"mul_symbol": mul_symbol})._settings
    return settings["mul_symbol_latex"], settings["mul_symbol_latex_numbers"]
