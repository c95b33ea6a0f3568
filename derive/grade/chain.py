"""One student's working, recomputed from their own answers with derive's formulas.

The key's values are the starting point. Then, in the order the forward pass computes
them, each neuron's z and a is what the student wrote, where they answered it (and what
derive computes from the student's values before it, where they did not: that is the
key's value when those are right). The loss, each local derivative and each gradient
(through the deltas, derive.evaluate's own sweep) follow from those forward values; an
update from the student's own gradient. So every asked quantity has an `own` value:
what a student who made no further mistake would have written.

Everything is numeric: the formulas are the derivation's compiled ones (Forward.activate,
Local.compute, the loss function), fed the student's numbers, which are read as exact
decimals (Fraction) and never parsed as expressions.
"""
from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Callable

import mpmath
from sympy import Symbol

from ..derivation import Derivation, Forward
from ..errors import DeriveError
from ..evaluate import delta_gradient, delta_values, pooled
from ..numeric import Value, inexact, product, total, value_of
from .exam_key import VariantKey

LocalValues = dict[tuple[Symbol, Symbol], Value]


def same(value: Value) -> Value:
    return value


NOT_A_NUMBER = mpmath.mpf("nan")


def exact_number(text: str) -> Fraction | None:
    """The value as written, exactly (0.1 is 1/10); None if it is not a number that
    fits a double."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return Fraction(number) if number.is_finite() and math.isfinite(float(number)) else None


def guarded(compute: Callable[..., Value], *args: Value) -> Value:
    """compute(*args), or NaN where a student's values leave its domain (the log of a
    negative output, a division by an output of exactly 1): an answer compared with
    NaN is never right, and nothing stops the grading of the class."""
    try:
        value = compute(*args)
    except (ArithmeticError, ValueError, TypeError, DeriveError):  # DeriveError: derive's own domain checks
        return NOT_A_NUMBER
    return value if isinstance(value, (Fraction, mpmath.mpf)) else NOT_A_NUMBER


class Chain:
    """The student's values carried through the derivation of one variant."""

    def __init__(self, derivation: Derivation, key: VariantKey, written: dict[str, str]) -> None:
        self.derivation, self.key = derivation, key
        self.given = {quantity: exact_number(text) for quantity, text in written.items()}
        # the arithmetic in mpmath floats at 96 bits: exact fractions would carry ever
        # longer numerators through a student's 4-decimal values, for nothing
        self.env: dict[Symbol, Value] = {s: inexact(value_of(v)) for s, v in key.values.symbols.items()}
        self.own: dict[str, Value] = {}
        self.derivative_slips: list | None = None  # derive.grade.slips: worked out when first asked for
        with mpmath.workprec(96):
            self.forward()
            self.own["loss"] = guarded(derivation.loss_fn, *[self.env[s] for s in derivation.loss_args])
            self.locals = self.local_values()
            self.gradients = self.gradients_with(self.locals)
            self.updates()

    def carried(self, quantity: str, own: Value) -> Value:
        """The student's value where they wrote a number, else the recomputed one."""
        self.own[quantity] = own
        given = self.given.get(quantity)
        return own if given is None else inexact(given)

    def forward(self) -> None:
        env = self.env
        for layer in self.derivation.forward:
            for step in layer:  # every z of the layer first: a softmax needs all of them
                env[step.z] = self.carried(f"z:{step.neuron.name}", pre_activation(step, env))
            for step in layer:
                env[step.a] = self.carried(f"a:{step.neuron.name}",
                                           guarded(step.activate, *[env[s] for s in step.args]))

    def local_values(self) -> LocalValues:
        """Each local derivative in the form a student works it by hand (sigma' as a(1 - a),
        from their a), where the derivation has one; else its formula."""
        env = self.env
        return {(f.num, f.den): guarded(f.hand, *[env[s] for s in f.hand_args]) if f.hand is not None
                else guarded(f.compute, *[env[s] for s in f.args]) for f in self.derivation.locals}

    def gradients_with(self, local_values: LocalValues) -> dict[str, Value]:
        """Every parameter's gradient from these local derivatives: a * delta over its uses."""
        try:
            deltas = delta_values(self.derivation, self.env, local_values, same, False)
        except DeriveError:  # a NaN from a value outside a formula's domain: no gradient
            return {g.parameter.key: NOT_A_NUMBER for g in self.derivation.gradients}
        return {g.parameter.key: delta_gradient(self.derivation, g.parameter, self.env, deltas, same)
                for g in self.derivation.gradients}

    def gradient_used(self, key: str) -> Value:
        """The gradient an update starts from: the student's, or the recomputed one."""
        given = self.given.get(f"grad {key}")
        return self.gradients[key] if given is None else given

    def updates(self) -> None:
        eta = value_of(self.key.network.learning_rate)
        for g in self.derivation.gradients:
            key = g.parameter.key
            self.own[f"grad {key}"] = self.gradients[key]
            self.own[f"updated {key}"] = total((self.env[g.symbol], -product((eta, self.gradient_used(key)))))

    def with_locals(self, change: Callable[[LocalValues], bool]) -> dict[str, Value] | None:
        """The gradients again with some local derivatives changed in place by `change`
        (a slip); None when `change` finds nothing to change."""
        changed = dict(self.locals)
        if not change(changed):
            return None
        with mpmath.workprec(96):
            return self.gradients_with(changed)

    def path_values(self, key: str) -> list[Value]:
        """Each chain-rule path's product for the parameter (none in the delta form)."""
        gradient = next(g for g in self.derivation.gradients if g.parameter.key == key)
        with mpmath.workprec(96):
            return [product(self.locals[(f.num, f.den)] for f in path.factors) for path in gradient.paths]


def pre_activation(step: Forward, env: dict[Symbol, Value]) -> Value:
    if step.pool:
        return pooled(step, env)
    return total([product((env[w], env[a])) for w, a in step.terms] + [env[step.bias]])


def as_float(value: Value) -> float:
    """A value to compare with a tolerance: beyond a double, +-infinity (never within one)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]
