"""The path form with named shorthands, each gradient factored (seed 004; `worked: {factored: true}`).

A lecturer does not write every chain-rule path of a hidden weight out in full. Seed 004
names the factors that recur, L_y = dL/dy-hat and dRL(z) = ReLU'(z), and writes a
multi-path gradient with the factors every path shares outside and the part where the
paths differ added up inside braces:

    dL/dw_1 = L_y {w_7 dRL(z_3) w_3 + w_8 dRL(z_4) w_4} dRL(z_1) x

This module turns the path blocks of a worked Solution into that form. Nothing is
computed anew: the factors are the derivation's local derivatives, their values the
ones the key already shows in each layer's "local derivatives" lines, and the result is
the gradient the path sum gives (the same number: the factored form is the sum of the
paths' products multiplied out). Under the exact policy the numbers line gets the extra
digits it needs to be redone from its shown numbers (derive.checkable). Under the
by-hand policy every path's product is rounded before the paths are added, which a
factored line does not show, so the path blocks stay as they are there; in the delta
form there are no paths (it is already factored, by neuron).
"""
from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import NamedTuple, Sequence

import sympy
from sympy import Symbol

from .checkable import Check, extra_digits, marked
from .derivation import L, Derivation, Gradient, Local
from .evaluate import Values
from .mathnodes import Applied, Partial
from .numeric import Value, product, total
from .document import GradientBlock, Section, Solution, Step
from .solution import path_formula

# The seed's names for an activation's derivative: d + two letters of its name. An
# activation not here (softmax, whose Jacobian has two indices; a custom formula) keeps
# its worked formula inside the factored product.
SHORTHAND = {"relu": "dRL", "sigmoid": "dSG", "tanh": "dTH", "leaky_relu": "dLR", "softplus": "dSP"}
Z = Symbol("z")  # the argument of a shorthand's definition, dRL(z) = ReLU'(z)


class Definition(NamedTuple):
    """One row of the shorthands' definitions: `name` means `meaning`. The row of an
    activation's shorthand in general, dRL(z) = ReLU'(z), names the activation; the
    rows after it give each factor it stands for, dRL(z_3) = da_3/dz_3."""

    name: object  # a Symbol (L_y) or an Applied (dRL(z_3))
    meaning: object  # a Partial (L_y = dL/dy-hat, dRL(z_3) = da_3/dz_3) or an Applied (ReLU'(z))
    activation: str = ""  # the general row of an activation's shorthand only


class Factored(NamedTuple):
    """One gradient, factored: head {middle_1 + middle_2 + ...} tail, in symbols and in
    numbers. With one path there are no middles: the path's factors are all in `head`."""

    chain: tuple[Partial, ...]  # the shared partials, the differing middle as one partial
    head: tuple[object, ...]
    middles: tuple[tuple[object, ...], ...]
    tail: tuple[object, ...]
    head_numbers: tuple[object, ...]
    middle_numbers: tuple[tuple[object, ...], ...]
    tail_numbers: tuple[object, ...]

    @property
    def alone(self) -> bool:
        """One factor (dL/db at a linear output is L_y): its numbers line would only
        repeat the value."""
        return len(self.head) == 1 and not self.middles and not self.tail

    @property
    def broken(self) -> bool:
        """More than two differing middles: each goes on a row of its own."""
        return len(self.middles) > 2


def with_factored(solution: Solution, derivation: Derivation, values: Sequence[Values],
                  loss_letter: str = "L") -> Solution:
    """`solution` with each gradient block of its path form factored, and the shorthands
    defined once at the start of each step's backward pass. `values` are the steps'
    values, in order; `loss_letter` is the notation's (L_y, or J_y with `loss: J`)."""
    if solution.policy != "exact" or solution.form not in ("paths", "both") or not derivation.has_paths:
        return solution
    names, definitions = shorthands(derivation, loss_letter)
    gradients = {g.parameter.key: g for g in derivation.gradients}
    steps = []
    for step, step_values in zip(solution.steps, values):
        steps.append(factored_step(step, step_values, gradients, names, definitions, solution.digits))
    return replace(solution, steps=tuple(steps))


def factored_step(step: Step, values: Values, gradients: dict[str, Gradient],
                  names: dict[tuple[Symbol, Symbol], object], definitions: tuple[Definition, ...],
                  digits: int) -> Step:
    layers = tuple(layer._replace(gradients=tuple(
        block._replace(factored=factored_block(gradients[block.key], block, values, names, digits))
        if block.paths else block for block in layer.gradients)) for layer in step.backward)
    section = Section("factored", "backward-start", definitions)
    return replace(step, backward=layers, sections=(section,) + step.sections)


def shorthands(derivation: Derivation, loss_letter: str
               ) -> tuple[dict[tuple[Symbol, Symbol], object], tuple[Definition, ...]]:
    """The name of each local derivative that has one, by (num, den), and the
    definitions: the loss's derivative by each output (L_y, or L_{y_k} for several),
    then each activation's derivative, in the order the network uses them."""
    names: dict[tuple[Symbol, Symbol], object] = {}
    definitions: list[Definition] = []
    several = len(derivation.outputs) > 1
    for k, (_, a, _) in enumerate(derivation.outputs, 1):
        name = Symbol(f"{loss_letter}_{{y_{{{k}}}}}" if several else f"{loss_letter}_{{y}}")
        names[(L, a)] = name
        definitions.append(Definition(name, Partial(L, a)))
    uses: dict[str, list[tuple[Symbol, Partial]]] = {}
    for factor in derivation.locals:
        if factor.kind != "activation" or factor.activation not in SHORTHAND or factor.num == L:
            continue
        name = applied_name(SHORTHAND[factor.activation], factor.den)
        names[(factor.num, factor.den)] = name
        uses.setdefault(factor.activation, []).append((name, Partial(factor.num, factor.den)))
    for activation, used in uses.items():
        definitions.append(Definition(applied_name(SHORTHAND[activation], Z),
                                      Applied(activation, Z, prime=True), activation))
        definitions.extend(Definition(name, partial) for name, partial in used)
    return names, tuple(definitions)


def applied_name(short: str, z: Symbol) -> Applied:
    """dRL(z_3): the shorthand applied to this unit's z, printed as a function by name."""
    return Applied(short, z)


def factored_block(gradient: Gradient, block: GradientBlock, values: Values,
                   names: dict[tuple[Symbol, Symbol], object], digits: int) -> Factored:
    """The gradient's paths with their common head and tail taken out."""
    paths = [path.factors for path in gradient.paths]
    head_size, tail_size = shared_ends(paths)
    if len(paths) == 1:
        head, middles, tail = paths[0], (), ()
        chain = tuple(Partial(f.num, f.den) for f in head)
    else:
        head = paths[0][:head_size]
        tail = paths[0][len(paths[0]) - tail_size:]
        middles = tuple(path[head_size:len(path) - tail_size] for path in paths)
        middle = Partial(middles[0][0].num, middles[0][-1].den)  # dz_out/da_1: the sum over the middles
        chain = tuple(Partial(f.num, f.den) for f in head) + (middle,) + tuple(Partial(f.num, f.den) for f in tail)
    head, tail = written(head), written(tail)
    middles = tuple(written(m) or (ONE,) for m in middles)
    symbols = (tuple(shown(f, names) for f in head), tuple(tuple(shown(f, names) for f in m) for m in middles),
               tuple(shown(f, names) for f in tail))
    numbers = checkable_numbers(head, middles, tail, values, block.value, digits)
    return Factored(chain, *symbols, *numbers)


class One(NamedTuple):
    """A middle whose every factor is the constant 1 (it cannot happen in a network
    derive builds: a middle holds a weight; kept so that a middle is never empty)."""

    num: Symbol = Symbol("1")
    den: Symbol = Symbol("1")
    formula: sympy.Expr = sympy.Integer(1)
    kind: str = "constant"
    activation: str | None = None


ONE = One()


def shared_ends(paths: list[tuple[Local, ...]]) -> tuple[int, int]:
    """How many factors every path shares at its loss end (head) and at its parameter
    end (tail), by which derivative they are; a path keeps at least one factor in the middle."""
    keys = [[(f.num, f.den) for f in path] for path in paths]
    shortest = min(len(k) for k in keys)
    head = 0
    while head < shortest and all(k[head] == keys[0][head] for k in keys):
        head += 1
    if len(paths) == 1:
        return head, 0
    head = min(head, shortest - 1)
    tail = 0
    while tail < shortest - head - 1 and all(k[-1 - tail] == keys[0][-1 - tail] for k in keys):
        tail += 1
    return head, tail


def written(factors: Sequence[Local]) -> tuple[Local, ...]:
    """The factors as the factored form writes them: a constant 1 (id'(z), dz/db) is left
    out, as the seed leaves it."""
    return tuple(f for f in factors if f.formula != 1)


def shown(factor: object, names: dict[tuple[Symbol, Symbol], object]) -> object:
    """A factor in symbols: its shorthand where it has one, else as a path writes it."""
    if isinstance(factor, One):
        return sympy.Integer(1)
    return names.get((factor.num, factor.den)) or path_formula(factor)  # type: ignore[arg-type]


def checkable_numbers(head: Sequence[Local], middles: Sequence[Sequence[Local]], tail: Sequence[Local],
                      values: Values, result: object, digits: int
                      ) -> tuple[tuple[object, ...], tuple[tuple[object, ...], ...], tuple[object, ...]]:
    """The factors' values as the numbers line shows them: head x sum(middles) x tail
    must give the shown gradient from the shown numbers; an operand gets more digits
    where it needs them (derive.checkable)."""
    def value(f: object) -> object:
        return 1 if isinstance(f, One) else values.locals[(f.num, f.den)]  # type: ignore[attr-defined]

    sizes = [len(head)] + [len(m) for m in middles] + [len(tail)]
    operands = [value(f) for f in head] + [value(f) for m in middles for f in m] + [value(f) for f in tail]

    def compute(v: list[Value]) -> Value:
        parts, start = [], 0
        for size in sizes:
            parts.append(v[start:start + size])
            start += size
        inside = total(product(m) for m in parts[1:-1]) if middles else Fraction(1)
        return product(list(parts[0]) + [inside] + list(parts[-1]))  # type: ignore[list-item]

    shown_operands = marked(operands, extra_digits([Check(compute, result)], operands, digits))
    parts, start = [], 0
    for size in sizes:
        parts.append(tuple(shown_operands[start:start + size]))
        start += size
    return parts[0], tuple(parts[1:-1]), parts[-1]
