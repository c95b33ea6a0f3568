"""Worked derivations (seeds 002 and 003): the results the working uses, derived in steps.

The key's working uses sigma'(z) = a(1 - a), and, at an output of sigmoid with binary
cross-entropy or of softmax with cross-entropy, dL/dz = a - y (derive.shortcut). A
lecturer derives these once on the board; `worked: {derivations: true}` writes them
into the key the same way, step by step, so that the shortcut in the working says
where it comes from.

Each derivation is data: SymPy expressions in the order a teacher writes them (the
`Written` node keeps that order; SymPy's printer would sort terms and fold factors
into one fraction). tests/test_shortcut.py checks every step equal to the one before
and the first equal to sympy.diff of the definition.
"""
from __future__ import annotations

from typing import NamedTuple

import sympy
from sympy import Add, Derivative, Eq, IndexedBase, KroneckerDelta, Mul, Pow, Sum, Symbol, exp, log

from .activations import leibniz
from .mathnodes import Applied, Partial
from .document import Section

# the generic symbols of the derivations: one output a = f(z) with target y; for softmax
# the outputs a_k of a layer of n, summed over m
Z, A, Y, L = Symbol("z"), Symbol("a"), Symbol("y"), Symbol("L")
K, M, N = sympy.symbols("k m n", integer=True)
AS, YS, ZS = IndexedBase("a"), IndexedBase("y"), IndexedBase("z")
SIGMA = sympy.Function("sigma")(Z)
U = Symbol("u")  # the inner function of the chain rule


class Written(NamedTuple):
    """A product of factors printed as written: in the given order, each factor on its
    own (bracketed where it is a sum or negative), joined by a product sign; with
    `over` = (m, 1, n), the sum over m of that product. A one-factor Written is a
    formula printed with its terms in the given order."""

    factors: tuple[object, ...]  # SymPy expressions, or Partial / Applied nodes
    over: tuple[Symbol, object, object] | None = None


class DerivationLine(NamedTuple):
    right: Written
    reason: str = ""  # why the step holds, in a few plain words (printed as text) ...
    note: object = None  # ... ending in a formula, if any


class WorkedDerivation(NamedTuple):
    kind: str  # "sigmoid", "sigmoid-bce" or "softmax-ce"
    title: str  # plain text
    given: tuple[Written, ...]  # the definitions it starts from
    left: object  # what is derived: f'(z) or dL/dz (a Partial or Applied node)
    lines: tuple[DerivationLine, ...]  # left = line 1 = line 2 = ...; the last is the result
    use: str  # plain text: where the working uses the result (after the title)


def add(*terms: object) -> sympy.Expr:
    return Add(*terms, evaluate=False)


def mul(*factors: object) -> sympy.Expr:
    return Mul(*factors, evaluate=False)


def over(expr: object) -> sympy.Expr:
    """1 / expr, kept as a fraction of its own."""
    return Pow(expr, -1, evaluate=False)


def w(*factors: object, over_m: bool = False) -> Written:
    return Written(tuple(factors), (M, sympy.Integer(1), N) if over_m else None)


def sigmoid_derivative() -> WorkedDerivation:
    """sigma' = sigma (1 - sigma), from sigma(z) = 1 / (1 + e^-z) by the chain rule (seed 003)."""
    u = add(1, exp(-Z))
    sigma = over(u)
    squared = over(Pow(u, 2, evaluate=False))
    lines = (
        DerivationLine(w(Derivative(sigma, Z))),
        DerivationLine(w(-squared, Derivative(u, Z)), "chain rule, with",
                       Eq(Derivative(over(U), U), -over(Pow(U, 2, evaluate=False)), evaluate=False)),
        DerivationLine(w(-squared, -exp(-Z))),
        DerivationLine(w(mul(exp(-Z), squared))),
        DerivationLine(w(sigma, mul(exp(-Z), over(u))), "split the fraction"),
        DerivationLine(w(sigma, mul(add(1, exp(-Z), -1), over(u))), "add and subtract 1 on top"),
        DerivationLine(w(sigma, add(1, -sigma))),
        DerivationLine(w(mul(SIGMA, add(1, -SIGMA)))),
        DerivationLine(w(mul(A, add(1, -A))), "with", Eq(A, SIGMA, evaluate=False)),
    )
    return WorkedDerivation("sigmoid", "The derivative of the sigmoid", (w(Eq(SIGMA, sigma, evaluate=False)),),
                            Applied("sigmoid", Z, prime=True), lines,
                            "the form the working uses for every sigmoid unit")


def bce_after_sigmoid() -> WorkedDerivation:
    """(-y/a + (1 - y)/(1 - a)) a(1 - a) = a - y (seed 002)."""
    dl_da = add(-Y / A, (1 - Y) / add(1, -A))
    lines = (
        DerivationLine(w(Partial(L, A), Partial(A, Z)), "chain rule"),
        DerivationLine(w(dl_da, mul(A, add(1, -A))), "the derivatives of the loss and of the sigmoid"),
        DerivationLine(w(add(mul(-Y, add(1, -A)), mul(add(1, -Y), A))), "multiply out; the denominators cancel"),
        DerivationLine(w(add(-Y, mul(A, Y), A, -mul(A, Y)))),
        DerivationLine(w(add(A, -Y))),
    )
    loss = Eq(L, -add(mul(Y, log(A)), mul(add(1, -Y), log(add(1, -A)))), evaluate=False)
    return WorkedDerivation("sigmoid-bce", "Binary cross-entropy after a sigmoid",
                            (w(loss), w(Eq(A, SIGMA, evaluate=False)),
                             w(Eq(leibniz("a", "z"), mul(A, add(1, -A)), evaluate=False))),
                            Partial(L, Z), lines,
                            "the output delta")


def softmax_cross_entropy() -> WorkedDerivation:
    """sum_m (-y_m / a_m) a_m (delta_mk - a_k) = a_k - y_k when the targets sum to 1 (seed 003).

    The sums run over the outputs m of the softmax layer (printed as a sum over m)."""
    a_m, a_k, y_m, y_k = AS[M], AS[K], YS[M], YS[K]
    lines = (
        DerivationLine(w(Partial(L, a_m), Partial(a_m, ZS[K]), over_m=True),
                       "chain rule: every output depends on", ZS[K]),
        DerivationLine(w(-y_m / a_m, mul(a_m, add(KroneckerDelta(M, K), -a_k)), over_m=True),
                       "the derivatives of the loss and of the softmax"),
        DerivationLine(w(add(-Sum(mul(y_m, KroneckerDelta(M, K)), (M, 1, N)),
                             mul(a_k, Sum(y_m, (M, 1, N))))), "multiply out"),
        DerivationLine(w(add(a_k, -y_k)), "the Kronecker delta keeps only m = k; the targets sum to 1"),
    )
    loss = Eq(L, -Sum(mul(y_m, log(a_m)), (M, 1, N)), evaluate=False)
    derivative = Eq(leibniz("a_{m}", "z_{k}"), mul(a_m, add(KroneckerDelta(M, K), -a_k)), evaluate=False)
    return WorkedDerivation("softmax-ce", "Softmax with cross-entropy",
                            (w(loss), w(derivative)),
                            Partial(L, ZS[K]), lines,
                            "the output delta")


BUILDERS = {"sigmoid": sigmoid_derivative, "sigmoid-bce": bce_after_sigmoid,
            "softmax-ce": softmax_cross_entropy}
KINDS = tuple(BUILDERS)


def derivations_section(kinds: tuple[str, ...]) -> Section:
    """The worked derivations of `kinds` (in KINDS order), shown before the forward pass."""
    return Section("derivations", "start", tuple(BUILDERS[kind]() for kind in KINDS if kind in kinds))
