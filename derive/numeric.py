"""Turn a SymPy expression into a fast numeric function, once.

lambdify would do, but it generates and execs source for every expression, which
costs milliseconds each; this walks the tree once into nested closures instead. It
evaluates with mpmath floats, whose exponent cannot overflow and whose precision the
caller sets (mpmath.workprec), so sigmoid(-1000) or exp(800) give correct finite
values instead of OverflowError, and 1 - sigmoid(30) keeps its digits.
"""
from __future__ import annotations

from typing import Callable

import mpmath
import sympy

from .errors import DeriveError, NumericError

Closure = Callable[[list], object]

FUNCTIONS: dict[type, Callable] = {
    sympy.exp: mpmath.exp,
    sympy.log: mpmath.log,
    sympy.tanh: mpmath.tanh,
    sympy.sinh: mpmath.sinh,
    sympy.cosh: mpmath.cosh,
    sympy.sin: mpmath.sin,
    sympy.cos: mpmath.cos,
    sympy.atan: mpmath.atan,
    sympy.Abs: abs,
    sympy.erf: mpmath.erf,
    sympy.sign: mpmath.sign,  # |z|' for a formula activation (derive.formula)
}
RELATIONS: dict[type, Callable[[object, object], bool]] = {
    sympy.LessThan: lambda a, b: a <= b,
    sympy.StrictLessThan: lambda a, b: a < b,
    sympy.GreaterThan: lambda a, b: a >= b,
    sympy.StrictGreaterThan: lambda a, b: a > b,
}


def compile_numeric(args: tuple[sympy.Symbol, ...], expr: sympy.Basic) -> Callable[..., mpmath.mpf]:
    """A function of `args` (floats or mpf) that evaluates `expr` at the working precision."""
    closure = build(expr, {symbol: i for i, symbol in enumerate(args)})

    def evaluate(*values: float) -> mpmath.mpf:
        result = closure([mpmath.mpf(v) for v in values])
        if isinstance(result, mpmath.mpc):
            raise NumericError(f"{expr} has no real value at {', '.join(map(str, args))} = "
                               f"{', '.join(mpmath.nstr(v, 6) for v in values)}")
        return result  # type: ignore[return-value]
    return evaluate


def build(expr: sympy.Basic, index: dict[sympy.Symbol, int]) -> Closure:
    if expr.is_Symbol:
        position = index[expr]
        return lambda v: v[position]
    if expr.is_Rational:
        p, q = int(expr.p), int(expr.q)  # divided at call time, at the working precision
        return lambda v: mpmath.mpf(p) / q
    if expr.is_Number:
        constant = mpmath.mpf(float(expr))
        return lambda v: constant
    if expr in (sympy.true, sympy.false):
        truth = bool(expr)
        return lambda v: truth
    if expr.is_Piecewise:
        pairs = [(build(e, index), build(c, index)) for e, c in expr.args]
        return lambda v: next(value(v) for value, condition in pairs if condition(v))
    parts = [build(arg, index) for arg in expr.args]
    if expr.is_Add:
        return lambda v: mpmath.fsum(part(v) for part in parts)
    if expr.is_Mul:
        return lambda v: mpmath.fprod(part(v) for part in parts)
    if expr.is_Pow:
        base, exponent = parts
        return lambda v: base(v) ** exponent(v)
    if type(expr) in RELATIONS:
        relation = RELATIONS[type(expr)]
        left, right = parts
        return lambda v: relation(left(v), right(v))
    if type(expr) in FUNCTIONS:
        function = FUNCTIONS[type(expr)]
        (inner,) = parts
        return lambda v: function(inner(v))
    raise DeriveError(f"cannot evaluate {type(expr).__name__} in {expr}")
