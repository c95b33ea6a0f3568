"""The small math nodes of the document model, which the renderer knows how to print.

SymPy objects carry most of the math; these cover what SymPy would print differently
from how a teacher writes it (a sum in the given order, d/d with partial signs, f(z) by
name, a formula with numbers in place of its symbols, a matrix of numbers).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import sympy
from sympy import Symbol


def ordered_symbols(expr: sympy.Basic) -> tuple[Symbol, ...]:
    """The symbols of `expr` in the order they appear in it. (`free_symbols` is a set,
    whose order changes with Python's hash seed; where two operands tie for the extra
    digit a line needs, derive.checkable picks the first, so the order must not.)"""
    return tuple(dict.fromkeys(node for node in sympy.preorder_traversal(expr) if isinstance(node, Symbol)))


class Partial(NamedTuple):
    """The Leibniz factor d(num)/d(den), printed with partial signs."""

    num: Symbol
    den: Symbol


class LinearSum(NamedTuple):
    """w1*a1 + w2*a2 + ... + b in the given order (SymPy's Add would sort the terms)."""

    terms: tuple[tuple[Symbol, Symbol], ...]
    bias: Symbol


class Applied(NamedTuple):
    """An activation applied by name, f(z) or, with `prime`, f'(z): sigma(z), ReLU'(z)."""

    activation: str
    arg: object  # a Symbol, or a number in a 'numbers' line
    prime: bool = False


class Substituted(NamedTuple):
    """`expr` with numbers (or other symbols) printed in place of its symbols.

    With numbers it is the 'numbers substituted' line; with symbols it writes a
    generic formula in one neuron's notation without rebuilding the SymPy tree.
    """

    expr: object  # a SymPy expression or a LinearSum
    values: dict[Symbol, object]  # symbol -> float or Symbol


@dataclass(frozen=True)
class Grid:
    """A matrix of numbers (the matrix form's vectors and matrices), row by row."""

    rows: tuple[tuple[object, ...], ...]

    def __getitem__(self, index: tuple[int, int]) -> object:
        row, col = index
        return self.rows[row][col]

    @property
    def T(self) -> Grid:  # noqa: N802 (as SymPy's and NumPy's transpose)
        return Grid(tuple(zip(*self.rows)))
