"""The fast paths of derive.latex's printing (issue 16) print exactly what SymPy's
printer prints.

A product of plain symbols (a * delta, w * delta: thousands in a wide key) is joined by
derive.plainmul, inside HousePrinter._print_Mul and, for a whole formula, by plain_tex
without building a printer at all. Each is checked here against the slow way, SymPy's
own LatexPrinter._print_Mul put back in their place, on every formula the problems'
keys print and on many built ones; against sympy.latex itself where the house notation
changes nothing; and against hand-written LaTeX. tidy_signs' early return is checked
against its four substitutions applied every time.
"""
from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import pytest
import sympy
from sympy.printing.latex import LatexPrinter

from canonical import PROBLEMS
from derive import latex
from derive.api import solve
from derive.derivations import Written
from derive.errors import DeriveError
from derive.forms import Options
from derive.latex import HOUSE, House, HousePrinter, WrittenPrinter, tex, tidy_signs
from derive.mathnodes import Substituted
from derive.plainmul import symbol_factors
from derive.render import render

HOUSES = [House(), House("E", r"\alpha", r"\times"), House("J", r"\eta", r"\cdot")]


@contextmanager
def house(chosen: House) -> Iterator[None]:
    token = HOUSE.set(chosen)
    try:
        yield
    finally:
        HOUSE.reset(token)


def clear_caches() -> None:
    for value in vars(latex).values():
        if isinstance(value, functools._lru_cache_wrapper):
            value.cache_clear()


@contextmanager
def slow_way() -> Iterator[None]:
    """SymPy's own _print_Mul in HousePrinter and no printer-free path: the printing as
    it was before the fast paths (caches emptied on the way in and out)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HousePrinter, "_print_Mul", LatexPrinter._print_Mul)
        patch.setattr(latex, "plain_tex", lambda *args: None)
        clear_caches()
        try:
            yield
        finally:
            clear_caches()


def both_ways(job: Callable[[], str]) -> tuple[str, str]:
    clear_caches()
    fast = job()
    with slow_way():
        slow = job()
    return fast, slow


# --- every formula the problems' keys print ------------------------------------------------

Call = tuple[str, tuple[Any, ...], House]


@pytest.fixture(scope="module")
def printed_formulas() -> list[Call]:
    """Every call of the three ways in: the cached whole-formula printer, the
    substitution template, and a printer built elsewhere (linear sums, derivations),
    from every problem's key in several forms and in both formats."""
    calls: list[Call] = []
    real_latex, real_template, real_doprint = (latex._latex, latex.substitution_template,
                                               HousePrinter.doprint)

    def record_latex(expr: object, digits: int, chosen: House) -> str:
        calls.append(("latex", (expr, digits), chosen))
        return real_latex(expr, digits, chosen)

    def record_template(expr: object, symbols: tuple[object, ...], numeric: bool,
                        chosen: House = House()) -> str:
        calls.append(("template", (expr, symbols, numeric), chosen))
        return real_template(expr, symbols, numeric, chosen)

    def record_doprint(self: HousePrinter, expr: object) -> str:
        calls.append(("printer", (type(self), self.digits, tuple(self.values.items()), self.numeric,
                                  expr), self.house))
        return real_doprint(self, expr)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(latex, "_latex", record_latex)
        patch.setattr(latex, "substitution_template", record_template)
        patch.setattr(HousePrinter, "doprint", record_doprint)
        clear_caches()
        for problem in PROBLEMS:
            for options in (Options(), Options(form="delta"), Options(matrix=True)):
                try:
                    solution = solve(problem, options=options)
                except DeriveError:  # a form the problem has not (a CNN's delta form)
                    continue
                for fmt in ("md", "tex"):
                    render(solution, fmt, 4, "solution")
    clear_caches()
    return list(dict.fromkeys(calls))  # each distinct call once, in order


def replay(call: Call) -> str:
    kind, args, chosen = call
    with house(chosen):
        if kind == "latex":
            return latex._latex.__wrapped__(*args, chosen)  # type: ignore[attr-defined]
        if kind == "template":
            return latex.substitution_template.__wrapped__(*args, chosen)  # type: ignore[attr-defined]
        cls, digits, values, numeric, expr = args
        printer = WrittenPrinter(digits) if cls is WrittenPrinter else cls(digits, dict(values), numeric)
        return printer.doprint(expr)


def test_every_formula_of_the_keys_prints_as_sympy_prints_it(printed_formulas: list[Call]) -> None:
    kinds = {kind for kind, _, _ in printed_formulas}
    assert kinds == {"latex", "template", "printer"} and len(printed_formulas) > 3000
    products = [c for c in printed_formulas if symbol_factors(c[1][0], True) is not None]
    assert len(products) > 500  # the fast path was taken, many times
    fast, slow = both_ways(lambda: "\n".join(replay(c) for c in printed_formulas))
    for number, (f, s) in enumerate(zip(fast.split("\n"), slow.split("\n"))):
        assert f == s, (number, printed_formulas[number], f, s)
    assert fast == slow


# --- built formulas --------------------------------------------------------------------------

NAMES = ["a_{1}^{(2)}", r"\delta_{1}^{(3)}", r"\delta_{12}^{(1)}", "w_{11}^{(1)}", "w_{2,1}^{(2)}",
         "z_{1}^{(2)}", "x_{10}", "x_{9}", "x_{1}", "L", "E", "y", "a", "A", "b", "2", "10", "0.5",
         "1_{a}", "3^{2}", "x^{2}", r"\frac{1}{2}", r"\frac{3}{4}x", "", r"\hat{y}_{1}", "é",
         "m_{0,1}", "x1", "x_{1}1", "7}", "4 ", r"\sigma'\left(z\right)"]
TEACHER = [0.5, -0.25, 0.0, 1.0, 0.1, -0.3, 2, -1, 0.75, 0.25, 0.25, 1.5, 0.02]


def symbol(rng: random.Random) -> sympy.Symbol:
    name = rng.choice(NAMES)
    kind = rng.random()
    if kind < 0.75:
        return sympy.Symbol(name)
    if kind < 0.85:
        return sympy.Symbol(name, positive=True)
    if kind < 0.9:
        return sympy.Symbol(name, negative=True)
    if kind < 0.95:
        return sympy.Symbol(name, commutative=False)  # printed by SymPy: kept in order
    return sympy.Dummy(name or "d")  # not a plain Symbol: printed by SymPy


def factor(rng: random.Random) -> sympy.Basic:
    kind = rng.random()
    if kind < 0.7:
        return symbol(rng)
    others: list[Callable[[], sympy.Basic]] = [
        lambda: sympy.Integer(rng.choice([2, -1, 3, 0, 1])),
        lambda: sympy.Rational(rng.choice([1, -1, 3]), rng.choice([2, 4])),
        lambda: sympy.Float(rng.choice([0.5, -0.01, 2.0])),
        lambda: sympy.Pow(symbol(rng), rng.choice([2, -1, sympy.Rational(1, 2)]), evaluate=False),
        lambda: sympy.Add(symbol(rng), -symbol(rng), evaluate=False),
        lambda: sympy.Add(sympy.S.One, sympy.Mul(-1, symbol(rng), evaluate=False), evaluate=False),
        lambda: sympy.exp(-symbol(rng)),
        lambda: sympy.Mul(symbol(rng), symbol(rng), evaluate=False),
    ]
    return rng.choice(others)()


def formula(rng: random.Random) -> sympy.Basic:
    """A product as derive builds them (unevaluated, symbols first or last, sometimes a
    number or a sum among them), sometimes inside a sum, a power or an equation."""
    count = rng.randint(2, 5)
    plain = rng.random() < 0.5  # half of them only symbols: the fast path's own shape
    factors = [symbol(rng) if plain else factor(rng) for _ in range(count)]
    product = sympy.Mul(*factors, evaluate=rng.random() < 0.15)
    place = rng.random()
    if place < 0.6:
        return product
    if place < 0.75:
        return sympy.Add(product, sympy.Mul(symbol(rng), symbol(rng), evaluate=False), evaluate=False)
    if place < 0.85:
        return sympy.Pow(product, 2, evaluate=False)
    if place < 0.95:
        return sympy.Eq(sympy.Symbol("L"), product, evaluate=False)
    return sympy.Mul(-1, product, evaluate=False)


def value(rng: random.Random) -> object:
    kind = rng.random()
    if kind < 0.45:
        return rng.choice(TEACHER)
    if kind < 0.65:
        return rng.uniform(-3, 3)
    if kind < 0.75:  # huge and tiny: scientific form, bracketed
        return rng.choice([1.5e12, -3.2e-9, 6.02e23, -7.5e-300, 1e-5])
    if kind < 0.8:
        return Fraction(rng.randint(-9, 9), rng.randint(1, 9))
    if kind < 0.85:  # cancellation: a difference of nearly equal numbers
        return (1.0 + 1e-12) - 1.0
    return sympy.Symbol(rng.choice(NAMES[:9]))  # a generic formula in one neuron's notation


def cases(seed: int, count: int) -> list[tuple[sympy.Basic, dict[sympy.Symbol, object], int, House]]:
    rng = random.Random(seed)
    built = []
    for _ in range(count):
        expr = formula(rng)
        symbols = sorted(expr.free_symbols, key=str)
        values = {s: value(rng) for s in symbols if rng.random() < 0.9}
        built.append((expr, values, rng.choice([2, 3, 4]), rng.choice(HOUSES)))
    return built


def print_all(built: list[tuple[sympy.Basic, dict[sympy.Symbol, object], int, House]]) -> list[str]:
    """Each formula every way derive prints one: whole, substituted, as a factor, in a
    derivation step, and by printers built with symbols or numbers as values."""
    out = []
    for expr, values, digits, chosen in built:
        with house(chosen):
            numbers = {s: v for s, v in values.items() if not isinstance(v, sympy.Symbol)}
            out += [tex(expr, digits), tex(Substituted(expr, values), digits),
                    latex.factor_tex(Substituted(expr, values), digits),
                    tex(Written((expr, expr)), digits),
                    HousePrinter(digits, values).doprint(expr),
                    HousePrinter(digits, numbers, True).doprint(expr)]
    return out


@pytest.mark.parametrize("seed", range(4))
def test_built_formulas_print_as_sympy_prints_them(seed: int) -> None:
    built = cases(seed, 400)
    fast, slow = both_ways(lambda: "\u0001".join(print_all(built)))
    shown = print_all(built[:1])  # (the separator is no character any formula prints)
    assert all("\u0001" not in text for text in shown)
    fast_parts, slow_parts = fast.split("\u0001"), slow.split("\u0001")
    for number, (f, s) in enumerate(zip(fast_parts, slow_parts)):
        assert f == s, (built[number // 6], f, s)
    assert len(fast_parts) == len(slow_parts) == 6 * len(built)


@pytest.mark.parametrize("seed", range(2))
def test_products_of_symbols_print_as_sympy_latex(seed: int) -> None:
    """Where the house notation changes nothing (no L, no numbers), tex() is exactly
    sympy.latex, with the symbols sorted as SymPy sorts them."""
    rng = random.Random(100 + seed)
    # the names SymPy prints as they are (it reads x_{1} as x with a subscript of its own)
    names = [n for n in NAMES if n != "L" and sympy.latex(sympy.Symbol(n)) == n]
    assert {"a", "A", "b", "2", "10"} <= set(names)
    checked = 0
    for _ in range(500):
        factors = [sympy.Symbol(rng.choice(names)) for _ in range(rng.randint(2, 6))]
        expr = sympy.Mul(*factors, evaluate=rng.random() < 0.3)
        clear_caches()
        assert tex(expr, 4) == sympy.latex(expr), expr
        with house(House(times=r"\times")):  # the multiplication sign is for numbers only
            assert tex(expr, 4) == sympy.latex(expr)
        checked += isinstance(expr, sympy.Mul)
    assert checked > 300


def test_products_by_hand() -> None:
    a, d, w = sympy.Symbol("a_{1}^{(2)}"), sympy.Symbol(r"\delta_{1}^{(3)}"), sympy.Symbol("w_{11}^{(1)}")
    loss = sympy.Symbol("L")
    clear_caches()
    # SymPy orders a product's symbols by name: a backslash before any letter
    assert tex(sympy.Mul(a, d, evaluate=False), 4) == r"\delta_{1}^{(3)} a_{1}^{(2)}"
    assert tex(sympy.Mul(w, d, a, evaluate=False), 4) == r"\delta_{1}^{(3)} a_{1}^{(2)} w_{11}^{(1)}"
    # numbers (docs/spec.md, "The display rule"): the house sign between them, a negative
    # one bracketed, `digits` places but at least 3 significant figures, zero as 0, 10^10
    # and more in scientific form (bracketed)
    line = Substituted(sympy.Mul(a, d, evaluate=False), {a: 0.5, d: -0.12})
    assert tex(line, 4) == r"\left(-0.1200\right) \cdot 0.5000"
    assert tex(Substituted(sympy.Mul(a, d, evaluate=False), {a: 0.0, d: 0.25}), 2) == r"0.250 \cdot 0"
    with house(House(times=r"\times")):
        assert tex(line, 4) == r"\left(-0.1200\right) \times 0.5000"
        assert tex(Substituted(sympy.Mul(a, d, evaluate=False), {a: 1.5e12, d: 2.0}), 3) == \
            r"2.000 \times \left(1.50 \times 10^{12}\right)"
    # the loss prints as its letter; a derivation step keeps the order it was built in
    with house(House(loss="E")):
        assert tex(sympy.Mul(loss, w, evaluate=False), 4) == r"E w_{11}^{(1)}"
        assert tex(Written((sympy.Mul(w, d, evaluate=False),)), 4) == r"w_{11}^{(1)} \delta_{1}^{(3)}"
    # two factors that print as numbers meet with a dot, as SymPy writes 2 \cdot 3
    two, three = sympy.Symbol("2"), sympy.Symbol("3")
    assert tex(sympy.Mul(two, three, evaluate=False), 4) == r"2 \cdot 3"
    # a symbol that prints as nothing: no separator after it
    assert tex(sympy.Mul(sympy.Symbol(""), a, evaluate=False), 4) == "a_{1}^{(2)}"


def test_the_house_chooses_the_sign_between_numbers_only() -> None:
    """mul_symbol as SymPy's settings name it, by hand: none between symbols."""
    for chosen, numeric, expected in [(House(), False, None), (House(), True, "dot"),
                                      (House(times=r"\times"), True, "times"),
                                      (House(times=r"\times"), False, None)]:
        with house(chosen):
            assert HousePrinter(4, numeric=numeric)._settings["mul_symbol"] == expected


# --- tidy_signs' early return ----------------------------------------------------------------

PIECES = [r"\left(", r"\right)", "{", "}", "^{", "{-", " - ", "e^{", r"\Bigl(", r"\Bigr)",
          "^{(3)}", " ", "x", "(", ")", "-", "^2", r"\tanh", "a_{1}^{(2)}", "0.25"]
# what the substitutions are for, with a number in each
MOTIFS = [r"\left(\left(-{n}\right)\right)", r"\Bigl(\left(-{n}\right) \Bigr)",
          r"\left(\left(-{n}\right) \right)", r"^{{\left(-{n}\right)}}",
          r"^{{\left({n} \times 10^{{-3}}\right)}}", r"{{-\left(-{n}\right)", r"{{- \left(-{n}\right)",
          r"x - \left(-{n}\right)", r"1 - \left(-{n}\right)^2", r"\left(-{n}\right)",
          r"\left(z^{{(3)}} - \left(-{n}\right)\right)", r"e^{{-\left(-{n}\right)}}"]


def random_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 8)):
        if rng.random() < 0.3:
            number = rng.choice(["0.5", "0.15", "0", "12.345", "1.707", "3"])
            parts.append(rng.choice(MOTIFS).format(n=number))
        else:
            parts.append(rng.choice(PIECES))
    return "".join(parts)


def every_substitution(text: str) -> str:
    """The four substitutions, applied whatever the text."""
    text = latex.DOUBLE_BRACKET.sub(r"\\left(\1\\right)", text)
    text = latex.EXPONENT_BRACKET.sub(r"^{\1}", text)
    text = latex.MINUS_NEGATIVE_FIRST.sub(r"{\1", text)
    return latex.MINUS_NEGATIVE.sub(r"\1 + \2", text)


def test_tidy_signs_early_return_changes_nothing() -> None:
    rng = random.Random(7)
    texts = [random_text(rng) for _ in range(20000)]
    texts += [r"\tanh\left(\left(-0.15\right)\right)", r"e^{-\left(-0.546\right)}",
              r"1 - \left(-0.3\right)", r"1 - \left(-0.149\right)^2", r"e^{\left(-0.234\right)}",
              r"0.5 \cdot 0.25", "", r"\left(x\right)"]
    changed = sum(every_substitution(t) != t for t in texts)
    assert changed > 500 and sum(r"\left(" not in t for t in texts) > 2000
    for text in texts:
        assert tidy_signs(text) == every_substitution(text), text
    # and by hand: the signs a teacher would have simplified
    assert tidy_signs(r"\tanh\left(\left(-0.15\right)\right)") == r"\tanh\left(-0.15\right)"
    assert tidy_signs(r"1 - \left(-0.3\right)") == "1 + 0.3"
    assert re.fullmatch(r"1 - \\left\(-0.149\\right\)\^2", tidy_signs(r"1 - \left(-0.149\right)^2"))
