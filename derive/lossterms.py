"""Per-output loss terms (notation.loss_terms; seed 000): L = L_1 + L_2 + ...

Every loss derive knows is a sum over the outputs, L = sum_k L_k with L_k = c * term(a_k, y_k)
(derive.derivation.loss_definition). Seed 000 names those terms: the loss section works
each L_k and adds them up, and a parameter reached through several outputs has its
gradient split by them, dL/dw = dL_1/dw + dL_2/dw, each dL_k/dw being the paths that start
at output k's term (dL_k/da_k), worked and valued on their own, then added.

Nothing here computes a new quantity: a path of dL_k/dw is a path of dL/dw (dL/da_k =
dL_k/da_k, since only L_k depends on a_k), so the paths, their factors and their values
are the ones derive.evaluate worked; this module groups and relabels them, and settles
how each new line shows its numbers (derive.checkable) so that it can be redone.
"""
from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import NamedTuple

import sympy
from sympy import Symbol

from .derivation import A, L, Y, Derivation, Gradient, loss_rule
from .evaluate import Values, number
from .mathnodes import Partial, Substituted
from .numeric import product, total
from .rounding import by_hand
from .document import BackwardLayer, GradientBlock, PathLine, Solution, Step
from .solution import Shown


class LossTerm(NamedTuple):
    """One output's term of the loss: L_k = c * term(a_k, y_k), worked."""

    symbol: Symbol  # L_{k} (J_{k} with notation.loss: J)
    output: str  # the output neuron's name
    formula: sympy.Expr
    numbers: Substituted
    value: object


class LossTerms(NamedTuple):
    """The loss section as L = L_1 + L_2 + ...: each term, then their sum."""

    terms: tuple[LossTerm, ...]
    # the terms' values as the line adding them up shows them; None when, rounded by
    # hand, they do not add up to the loss as shown: the whole formula is worked instead
    total: tuple[object, ...] | None


class TermGradient(NamedTuple):
    """dL_k/dw: the paths of a gradient that start at output k's loss term."""

    partial: Partial  # dL_k/dw
    paths: tuple[PathLine, ...]  # their chains start with dL_k/da_k
    terms: tuple[object, ...]  # with several paths: their values as the line adding them shows them
    value: object


class SplitGradient(NamedTuple):
    """A gradient as the sum of its loss terms' gradients (GradientBlock.split)."""

    whole: Partial  # dL/dw
    terms: tuple[TermGradient, ...]  # in the order of the outputs; only those with a path
    # with several terms: the values the last line adds up, dL_1/dw + dL_2/dw as shown (by
    # hand, where those do not add up to the gradient as shown: every path's value)
    total: tuple[object, ...]


def term_symbols(letter: str, count: int) -> tuple[Symbol, ...]:
    """L_{1}, L_{2}, ... (the reader keeps these from naming anything else)."""
    return tuple(Symbol(f"{letter}_{{{k}}}") for k in range(1, count + 1))


def with_loss_terms(solution: Solution, derivation: Derivation, values: list[Values]) -> Solution:
    """`solution` (one step per entry of `values`) with its loss and gradients split by
    output, as notation.loss_terms asks; unchanged with fewer than two outputs."""
    if len(derivation.outputs) < 2:
        return solution
    symbols = term_symbols(solution.notation.loss, len(derivation.outputs))
    shown = Shown(solution.digits, solution.policy == "exact")
    steps = tuple(split_step(step, step_values, derivation, symbols, shown)
                  for step, step_values in zip(solution.steps, values))
    return replace(solution, steps=steps)


def split_step(step: Step, values: Values, derivation: Derivation, symbols: tuple[Symbol, ...],
               shown: Shown) -> Step:
    renamed = {a: symbol for (_, a, _), symbol in zip(derivation.outputs, symbols)}
    gradients = {g.parameter.key: g for g in derivation.gradients}
    backward = tuple(split_layer(layer, values, gradients, renamed, shown) for layer in step.backward)
    return replace(step, backward=backward, loss_terms=loss_terms(derivation, values, symbols, shown))


def loss_terms(derivation: Derivation, values: Values, symbols: tuple[Symbol, ...],
               shown: Shown) -> LossTerms:
    """Each output's L_k, and their sum: L as the loss section shows it."""
    rule = loss_rule(derivation.network.loss, len(derivation.outputs))
    scale = Fraction(int(rule.scale.p), int(rule.scale.q))  # type: ignore[attr-defined]
    v = values.symbols
    terms = []
    for (name, a, y), symbol in zip(derivation.outputs, symbols):
        term = rule.term.xreplace({A: a, Y: y})
        # built as derive.derivation builds the whole loss (scale times term), so both print alike
        formula = sympy.Mul(rule.scale, term, evaluate=False) if abs(rule.scale) != 1 else rule.scale * term
        value = number(carried(product((rule.term_fn(v[a], v[y]), scale)), shown))
        terms.append(LossTerm(symbol, name, formula, shown.formula(formula, {a: v[a], y: v[y]}, value), value))
    return LossTerms(tuple(terms), summed(tuple(t.value for t in terms), values.loss, shown))


def carried(value: object, shown: Shown) -> object:
    """A value as the working carries it on: in full (exact policy), or rounded (by hand)."""
    return value if shown.check else by_hand(value, shown.digits)  # type: ignore[arg-type]


def summed(parts: tuple[object, ...], result: object, shown: Shown) -> tuple[object, ...] | None:
    """`parts` as a line adding them up to `result` shows them; None where, by hand, the
    rounded parts do not add up to `result` as shown (it was rounded once, from the whole)."""
    if not shown.check and by_hand(total(parts), shown.digits) != result:  # type: ignore[arg-type]
        return None
    return shown.sum(parts, result)


def split_layer(layer: BackwardLayer, values: Values, gradients: dict[str, Gradient],
                renamed: dict[Symbol, Symbol], shown: Shown) -> BackwardLayer:
    """A backward layer with dL/da_k written dL_k/da_k, and each gradient split."""
    locals_ = tuple(line._replace(partial=term_partial(line.partial, renamed)) for line in layer.locals)
    blocks = tuple(split_block(block, values, gradients[block.key], renamed, shown) if block.paths else block
                   for block in layer.gradients)
    return layer._replace(locals=locals_, gradients=blocks)


def term_partial(partial: Partial, renamed: dict[Symbol, Symbol]) -> Partial:
    """dL/da_k as dL_k/da_k (the same derivative: only L_k depends on a_k)."""
    if partial.num == L and partial.den in renamed:
        return Partial(renamed[partial.den], partial.den)
    return partial


def split_block(block: GradientBlock, values: Values, gradient: Gradient,
                renamed: dict[Symbol, Symbol], shown: Shown) -> GradientBlock:
    """The block with its paths grouped by the output they start from (each path's first
    factor is dL/da_k of one output k), in the order of the outputs; an output no path
    reaches has no term (dL_k/dw = 0 without a line)."""
    groups: dict[Symbol, list[int]] = {a: [] for a in renamed}
    for i, path in enumerate(gradient.paths):
        groups[path.factors[0].den].append(i)
    groups = {a: indices for a, indices in groups.items() if indices}
    path_values = values.paths[block.key]
    parts = [term_gradient(block, values, gradient, indices, renamed[a], renamed, shown,
                           block.value if len(groups) == 1 else None)
             for a, indices in groups.items()]
    total_terms: tuple[object, ...] = ()
    if len(parts) > 1:
        in_order = tuple(path_values[i] for indices in groups.values() for i in indices)
        total_terms = summed(tuple(part.value for part in parts), block.value, shown) \
            or shown.sum(in_order, block.value)
    return block._replace(split=SplitGradient(Partial(L, block.symbol), tuple(parts), total_terms))


def term_gradient(block: GradientBlock, values: Values, gradient: Gradient, indices: list[int],
                  term: Symbol, renamed: dict[Symbol, Symbol], shown: Shown,
                  whole: object | None) -> TermGradient:
    """dL_k/dw from the paths at `indices`: their sum (`whole`, the gradient itself, where
    they are all of its paths), each path's numbers settled to land on it (derive.checkable)."""
    group_values = tuple(values.paths[block.key][i] for i in indices)
    value = whole if whole is not None else number(carried(total(group_values), shown))
    factors = tuple(tuple(values.locals[(f.num, f.den)] for f in gradient.paths[i].factors) for i in indices)
    terms = shown.sum(group_values, value) if len(indices) > 1 else ()
    numbers = shown.paths(factors, terms or (value,), value)
    paths = tuple(block.paths[i]._replace(chain=(term_partial(block.paths[i].chain[0], renamed),)
                                          + block.paths[i].chain[1:], numbers=path_numbers)
                  for i, path_numbers in zip(indices, numbers))
    return TermGradient(Partial(term, block.symbol), paths, terms, value)
