"""Stage 3: the symbolic working, built once per network topology.

SymPy derives every local derivative: dL/da at the outputs, da/dz from each
activation's definition, dz/da_prev, dz/dw and dz/db from each neuron's z. A
parameter's gradient is the sum, over every chain-rule path from the loss down to it,
of the product of the local derivatives along the path. Each local derivative is
derived (and compiled to a numeric function) once and shared by every path that
uses it, so the cost grows with the number of edges, not with the number of paths.

Paths are counted first (which needs no path), and built only where the key prints
them (the path form, or the closed form). In the delta form no path is built: the
local derivatives are registered by one sweep over the units and edges, and
derive.evaluate computes each gradient from the deltas (sum of a * delta).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Callable, Iterator, NamedTuple

import mpmath
import sympy
from sympy import Symbol

from .errors import DeriveError
from .network import Network, Parameter, Unit
from .numeric import Value, compile_numeric, greater, product, total
from .spec import Activation

Z = Symbol("z")  # the generic argument of an activation
A = Symbol("a")  # the generic output of an activation, for the convenient forms
L = Symbol("L")  # the loss
MAX_PATHS = 256  # default limit of printed paths per parameter: beyond this no one writes them out
# Where paths are built (the path form, the closed form), beyond this many per parameter
# that would take too long and too much memory; the delta form builds none.
MAX_BUILT_PATHS = 20_000
PATHS_FOR_AUTO = 12  # --form auto: at most this many paths per parameter: paths; more: delta


def printed_form(requested: str, worst: int) -> str:
    """The backward form a key prints: the one asked for, or, for "auto", the path form
    up to PATHS_FOR_AUTO paths per parameter and the delta form beyond."""
    if requested != "auto":
        return requested
    return "paths" if worst <= PATHS_FOR_AUTO else "delta"


class ActivationRule(NamedTuple):
    """An activation's definition and its SymPy-derived derivative, compiled."""

    name: str
    definition: sympy.Expr  # f(z), as SymPy differentiates it
    derivative: sympy.Expr  # sympy.diff(definition, z)
    shown: sympy.Expr  # f(z) as a teacher writes it (max(0, z) for ReLU)
    convenient: sympy.Expr  # f'(z) in the form worked by hand, in a (and z)
    f: Callable[..., mpmath.mpf]
    df: Callable[..., mpmath.mpf]
    convenient_fn: Callable[..., mpmath.mpf]  # of (a, z): what a student computes by hand
    slope: float | None = None


def _definitions(activation: Activation) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
    """(definition, shown form, convenient derivative) of an elementwise activation.

    The convenient form is the hand-written one (sigma' = a(1 - a)); the tests check
    each against sympy.diff of the definition. Numbers always come from sympy.diff.
    """
    z, a = Z, A
    name = activation.name
    if activation.formula is not None:
        # a custom activation: parsed by derive.formula (never evaluated as code); SymPy
        # derives f' there, for real z (|z|' = sign z), which is the worked form too
        from .formula import expressions
        definition, derivative = expressions(activation.formula, z)
        return definition, definition, derivative
    if name == "linear":
        return z, z, sympy.Integer(1)
    if name == "sigmoid":
        return 1 / (1 + sympy.exp(-z)), 1 / (1 + sympy.exp(-z)), a * (1 - a)
    if name == "tanh":
        return sympy.tanh(z), sympy.tanh(z), 1 - a**2
    if name == "relu":
        # The convention dReLU/dz = 0 at z = 0 is written into the definition so that
        # SymPy's derivative carries it (Max would give Heaviside(0) = 1/2).
        return (sympy.Piecewise((0, z <= 0), (z, True)), sympy.Max(0, z),
                sympy.Piecewise((0, z <= 0), (1, True)))
    if name == "leaky_relu":
        slope = sympy.Float(activation.slope)
        return (sympy.Piecewise((slope * z, z <= 0), (z, True)), sympy.Max(slope * z, z),
                sympy.Piecewise((slope, z <= 0), (1, True)))
    if name == "softplus":
        return sympy.log(1 + sympy.exp(z)), sympy.log(1 + sympy.exp(z)), 1 / (1 + sympy.exp(-z))
    raise DeriveError(f"activation {name!r} is not elementwise")


@lru_cache(maxsize=None)
def activation_rule(activation: Activation) -> ActivationRule:
    definition, shown, convenient = _definitions(activation)
    if activation.formula is not None:  # derived by SymPy in _definitions, for real z
        from .formula import guarded
        functions = [guarded(compile_numeric(args, expr), activation.name, activation.formula)
                     for args, expr in (((Z,), definition), ((Z,), convenient), ((A, Z), convenient))]
        return ActivationRule(activation.name, definition, convenient, shown, convenient,
                              *functions, activation.slope)  # type: ignore[arg-type]
    derivative = sympy.diff(definition, Z)
    return ActivationRule(activation.name, definition, derivative, shown, convenient,
                          compile_numeric((Z,), definition), compile_numeric((Z,), derivative),
                          compile_numeric((A, Z), convenient), activation.slope)


class SoftmaxRule(NamedTuple):
    """Softmax over a layer of n neurons: a_k = e^{z_k} / sum_i e^{z_i}.

    Every a_k depends on every z_j of the layer, so it has n^2 local derivatives; each
    is derived by SymPy from the definition, once per layer width.
    """

    zs: tuple[Symbol, ...]  # generic z_1..z_n
    outputs: tuple[Symbol, ...]  # generic a_1..a_n, for the convenient forms
    shown: tuple[sympy.Expr, ...]  # a_k in the zs
    f: tuple[Callable[..., mpmath.mpf], ...]  # a_k from all zs
    derivative: dict[tuple[int, int], sympy.Expr]  # (k, j): d a_k / d z_j
    df: dict[tuple[int, int], Callable[..., mpmath.mpf]]  # of all zs
    convenient: dict[tuple[int, int], sympy.Expr]  # a_k (1 - a_k), or -a_k a_j
    convenient_fn: dict[tuple[int, int], Callable[..., mpmath.mpf]]  # of all outputs


@lru_cache(maxsize=None)
def softmax_rule(width: int) -> SoftmaxRule:
    zs = tuple(Symbol(f"z_{{{i}}}") for i in range(1, width + 1))
    outputs = tuple(Symbol(f"a_{{{i}}}") for i in range(1, width + 1))
    denominator = sympy.Add(*[sympy.exp(z) for z in zs])
    shown = tuple(sympy.exp(z) / denominator for z in zs)
    derivative, df, convenient, convenient_fn = {}, {}, {}, {}
    for k in range(width):
        for j in range(width):
            derivative[(k, j)] = sympy.diff(shown[k], zs[j])
            df[(k, j)] = compile_numeric(zs, derivative[(k, j)])
            convenient[(k, j)] = (outputs[k] * (1 - outputs[k]) if k == j
                                  else -outputs[k] * outputs[j])
            convenient_fn[(k, j)] = compile_numeric(outputs, convenient[(k, j)])
    return SoftmaxRule(zs, outputs, shown, tuple(compile_numeric(zs, e) for e in shown),
                       derivative, df, convenient, convenient_fn)


LOSS_TEXT = {
    "squared_error": "squared error",
    "half_squared_error": "half squared error",
    "mean_squared_error": "mean squared error",
    "binary_cross_entropy": "binary cross-entropy",
    "cross_entropy": "cross-entropy",
}


Y = Symbol("y")  # the generic target of one output
W, X, B = Symbol("w"), Symbol("x"), Symbol("b")  # one generic term w*x of a z, and a bias


def loss_definition(loss: str, outputs: int) -> tuple[sympy.Expr, sympy.Expr]:
    """(scale, term): L = scale * sum over outputs of term(a_k, y_k)."""
    if loss == "squared_error":
        return sympy.Integer(1), (A - Y) ** 2
    if loss == "half_squared_error":
        return sympy.Rational(1, 2), (A - Y) ** 2
    if loss == "mean_squared_error":
        return sympy.Rational(1, outputs), (A - Y) ** 2
    if loss == "binary_cross_entropy":
        return sympy.Integer(-1), Y * sympy.log(A) + (1 - Y) * sympy.log(1 - A)
    if loss == "cross_entropy":
        return sympy.Integer(-1), Y * sympy.log(A)
    raise DeriveError(f"loss {loss!r} is not supported")


class LossRule(NamedTuple):
    """A loss as scale * sum of per-output terms, and dL/da_k derived once for all k."""

    scale: sympy.Expr
    term: sympy.Expr  # in A, Y
    derivative: sympy.Expr  # d(scale * term)/dA, in A, Y
    shown_derivative: sympy.Expr  # the same as a teacher writes it: 2(a - y), not 2a - 2y
    term_fn: Callable[..., mpmath.mpf]
    derivative_fn: Callable[..., mpmath.mpf]


@lru_cache(maxsize=None)
def loss_rule(loss: str, outputs: int) -> LossRule:
    scale, term = loss_definition(loss, outputs)
    derivative = sympy.diff(scale * term, A)
    shown = derivative
    if term == (A - Y) ** 2:  # c (a - y), as the seeds write it, not c a - c y
        c = 2 * scale
        shown = A - Y if c == 1 else sympy.Mul(c, A - Y, evaluate=False)
    return LossRule(scale, term, derivative, shown, compile_numeric((A, Y), term),
                    compile_numeric((A, Y), derivative))


@lru_cache(maxsize=None)
def linear_rules() -> dict[str, sympy.Expr]:
    """dz/dw, dz/da_prev and dz/db, derived once from a generic term w*x + b.

    z is linear, so each of these is the same rule for every edge of every neuron;
    deriving them once is what keeps the cost per edge at a dictionary look-up.
    """
    term = W * X + B
    return {"weight": sympy.diff(term, W), "source": sympy.diff(term, X), "bias": sympy.diff(term, B)}


class Local(NamedTuple):
    """One local derivative d(num)/d(den) on some chain-rule path."""

    kind: str  # "loss" dL/da, "activation" da/dz, "edge" dz/da_prev, "parameter" dz/dw or dz/db
    num: Symbol  # what is differentiated (L, a, z)
    den: Symbol  # with respect to what (a, z, w, b)
    formula: sympy.Expr  # the derivative as worked by hand, in network symbols
    args: tuple[Symbol, ...]  # the symbols its value is computed from
    compute: Callable[..., mpmath.mpf]  # numeric value from those symbols' values (SymPy-derived)
    activation: str | None = None  # for activation factors: the activation's name
    # By hand, a student evaluates the written formula (a(1 - a)) with the rounded
    # values on the page; equal to `compute` in exact arithmetic (the tests check it).
    hand_args: tuple[Symbol, ...] = ()
    hand: Callable[..., mpmath.mpf] | None = None


class Path(NamedTuple):
    """One chain-rule path from L down to a parameter: the factors, loss end first."""

    factors: tuple[Local, ...]


class Gradient(NamedTuple):
    parameter: Parameter
    symbol: Symbol
    paths: tuple[Path, ...]


class Forward(NamedTuple):
    neuron: Unit
    z: Symbol
    a: Symbol
    terms: tuple[tuple[Symbol, Symbol], ...]  # (weight, source output) pairs, spec order
    bias: Symbol
    name: str  # the activation's name
    shown: sympy.Expr  # f as a teacher writes it, in generic symbols
    generic: tuple[Symbol, ...]  # its generic arguments (z, or z_1..z_n for softmax) ...
    args: tuple[Symbol, ...]  # ... and the network's z symbols they stand for
    activate: Callable[..., mpmath.mpf]  # a from the args' values
    pool: str | None = None  # a pooling unit: z is the max or mean of `sources`
    sources: tuple[Symbol, ...] = ()


@dataclass(frozen=True)
class Derivation:
    network: Network
    symbols: dict[str, Symbol]  # LaTeX notation -> the Symbol printed as it
    forward: tuple[tuple[Forward, ...], ...]  # by layer
    loss: sympy.Expr  # L in output and target symbols
    outputs: tuple[tuple[str, Symbol, Symbol], ...]  # (neuron, a_k, y_k) per target
    loss_fn: Callable[..., mpmath.mpf]
    loss_args: tuple[Symbol, ...]
    locals: tuple[Local, ...]  # every distinct local derivative, in order of first use (delta form: of the sweep)
    gradients: tuple[Gradient, ...]  # spec order
    worst_paths: int = 0  # the most chain-rule paths of any parameter (counted, not built)
    form: str = "paths"  # the backward form the key prints: "paths", "delta" or "both"
    has_paths: bool = True  # every Gradient.paths is built; False: each is () (delta form)


def derive(network: Network, max_paths: int = MAX_PATHS, form: str = "paths",
           closed_form: bool = False) -> Derivation:
    """Build the symbolic working for `network` (its values are not looked at).

    `form` is the backward form asked for ("auto" chooses it from the path count, as
    derive.forms says); `closed_form` whether the closed form is asked for too. Paths
    are built only where one of them prints them; in the delta form alone, none is.
    """
    return Builder(network, max_paths, form, closed_form).build()


class Builder:
    def __init__(self, network: Network, max_paths: int = MAX_PATHS, form: str = "paths",
                 closed_form: bool = False) -> None:
        self.network = network
        self.max_paths = max_paths
        self.requested = form
        self.closed_form = closed_form
        self.symbols: dict[str, Symbol] = {}
        self.locals: dict[tuple[Symbol, Symbol], Local] = {}
        self.path_cache: dict[str, tuple[tuple[Local, ...], ...]] = {}

    def sym(self, text: str) -> Symbol:
        # Symbols are named by their LaTeX; the renderer prints names verbatim.
        if text not in self.symbols:
            self.symbols[text] = Symbol(text)
        return self.symbols[text]

    def a_of(self, name: str) -> Symbol:
        return self.sym(self.network.units[name].a_symbol)

    def z_of(self, name: str) -> Symbol:
        return self.sym(self.network.units[name].z_symbol)  # type: ignore[arg-type]

    def build(self) -> Derivation:
        network = self.network
        for unit in network.inputs:  # every input has its symbol, used or not (an input may feed nothing)
            self.sym(unit.a_symbol)
        forward = tuple(tuple(self.forward_of(n) for n in layer) for layer in network.layers)
        targets = dict(network.target_symbols)
        outputs = tuple((name, self.a_of(name), self.sym(targets[name])) for name, _ in network.targets)
        rule = loss_rule(network.loss, len(outputs))
        self.loss_rule = rule
        terms = sympy.Add(*[rule.term.xreplace({A: a, Y: y}) for _, a, y in outputs])
        # kept as scale x (sum), not spread over the terms: a mean over two outputs must not
        # read as a sum of halves
        loss = sympy.Mul(rule.scale, terms, evaluate=False) if abs(rule.scale) != 1 else rule.scale * terms
        loss_args = tuple(s for _, a, y in outputs for s in (a, y))
        self.count_paths()
        form = printed_form(self.requested, self.worst)
        built = form in ("paths", "both") or (self.closed_form and closed_form_needs_paths(network))
        if built:
            self.refuse_unbuildable()
            gradients = tuple(self.gradient_of(p) for p in network.parameters)
        else:
            self.sweep_locals()
            gradients = tuple(Gradient(p, self.sym(p.symbol), ()) for p in network.parameters)
        return Derivation(network, dict(self.symbols), forward, loss, outputs, loss_value(rule),
                          loss_args, tuple(self.locals.values()), gradients, self.worst, form, built)

    def forward_of(self, neuron: Unit) -> Forward:
        z, a = self.z_of(neuron.name), self.a_of(neuron.name)
        if neuron.pool is not None:
            rule = activation_rule(neuron.activation)  # type: ignore[arg-type]
            return Forward(neuron, z, a, (), None, rule.name, rule.shown, (Z,), (z,), rule.f,  # type: ignore[arg-type]
                           neuron.pool, tuple(self.a_of(s) for s in neuron.sources))
        terms = tuple((self.sym(w.symbol), self.a_of(w.source)) for w in neuron.weights)  # type: ignore[arg-type]
        bias = self.sym(neuron.bias.symbol)  # type: ignore[union-attr]
        if neuron.activation.name == "softmax":  # type: ignore[union-attr]
            layer = self.network.layers[neuron.layer - 1]
            rule = softmax_rule(len(layer))
            k = neuron.index - 1
            return Forward(neuron, z, a, terms, bias, "softmax", rule.shown[k], rule.zs,
                           tuple(self.z_of(u.name) for u in layer), rule.f[k])
        rule = activation_rule(neuron.activation)  # type: ignore[arg-type]
        return Forward(neuron, z, a, terms, bias, rule.name, rule.shown, (Z,), (z,), rule.f)

    # --- local derivatives, each derived once ------------------------------------------

    def local(self, num: Symbol, den: Symbol, make: Callable[[], Local]) -> Local:
        key = (num, den)
        if key not in self.locals:
            self.locals[key] = make()
        return self.locals[key]

    def loss_local(self, name: str, y: Symbol) -> Local:
        a = self.a_of(name)

        def make() -> Local:
            with sympy.evaluate(False):  # or 2(a - y) would be multiplied out again
                formula = self.loss_rule.shown_derivative.xreplace({A: a, Y: y})
            return Local("loss", L, a, formula, (a, y), self.loss_rule.derivative_fn)
        return self.local(L, a, make)

    def activation_targets(self, name: str) -> tuple[str, ...]:
        """The neurons whose output depends on z of `name`: itself, or its whole softmax layer."""
        unit = self.network.units[name]
        if unit.activation.name == "softmax":  # type: ignore[union-attr]
            return tuple(u.name for u in self.network.layers[unit.layer - 1])
        return (name,)

    def activation_local(self, name: str, of: str | None = None) -> Local:
        """d a_name / d z_of (of defaults to name: an elementwise activation)."""
        unit = self.network.units[name]
        if unit.activation.name == "softmax":  # type: ignore[union-attr]
            return self.softmax_local(unit, self.network.units[of or name])
        a, z = self.a_of(name), self.z_of(name)
        rule = activation_rule(unit.activation)  # type: ignore[arg-type]

        def make() -> Local:
            formula = rule.convenient.xreplace({A: a, Z: z})
            return Local("activation", a, z, formula, (z,), rule.df, rule.name, (a, z),
                         rule.convenient_fn)
        return self.local(a, z, make)

    def softmax_local(self, output: Unit, source: Unit) -> Local:
        layer = self.network.layers[output.layer - 1]
        rule = softmax_rule(len(layer))
        k, j = output.index - 1, source.index - 1
        a, z = self.a_of(output.name), self.z_of(source.name)
        zs = tuple(self.z_of(u.name) for u in layer)
        outputs = tuple(self.a_of(u.name) for u in layer)

        def make() -> Local:
            formula = rule.convenient[(k, j)].xreplace(dict(zip(rule.outputs, outputs)))
            return Local("activation", a, z, formula, zs, rule.df[(k, j)], "softmax", outputs,
                         rule.convenient_fn[(k, j)])
        return self.local(a, z, make)

    def linear_local(self, kind: str, neuron: str, den: Symbol, role: str,
                     term: dict[Symbol, Symbol]) -> Local:
        """dz/d(den) of a neuron's z, by the generic rule for `role` applied to one term."""
        z = self.z_of(neuron)

        def make() -> Local:
            derivative = linear_rules()[role].xreplace(term)
            if derivative.is_Number:
                value = Fraction(int(derivative))  # dz/db = 1: exact
                return Local(kind, z, den, derivative, (), lambda: value)
            return Local(kind, z, den, derivative, (derivative,), lambda v: v)
        return self.local(z, den, make)

    # --- chain-rule paths ----------------------------------------------------------------

    def count_paths(self) -> None:
        """Count every parameter's paths, without building any (derive.forms chooses the
        form from the count, and refuses a printed path form beyond --max-paths)."""
        from_a: dict[str, int] = {}  # paths from L down to a of each neuron
        from_z: dict[str, int] = {}  # ... and down to its z
        targeted = {name for name, _ in self.network.targets}
        for layer in reversed(self.network.layers):
            for unit in layer:
                from_a[unit.name] = (unit.name in targeted) + sum(
                    from_z[c] for c in self.network.consumers[unit.name])
            for unit in layer:
                from_z[unit.name] = sum(from_a[k] for k in self.activation_targets(unit.name))
        # a shared parameter's paths are those of every neuron it enters
        self.worst = max((sum(from_z[use.neuron] for use in uses) for uses in self.network.uses.values()),
                         default=0)
        self.from_a = from_a

    def refuse_unbuildable(self) -> None:
        """Refuse to build what cannot be built."""
        if self.worst > max(self.max_paths, MAX_BUILT_PATHS):
            raise DeriveError(
                f"a parameter of this network has {self.worst:,} chain-rule paths; derive builds "
                f"paths one by one only up to {MAX_BUILT_PATHS:,}: work it in delta form (--form "
                "delta, or leave --form to choose), which builds none")

    def sweep_locals(self) -> None:
        """Register every local derivative the delta form uses, without building a path:
        one sweep from the outputs back, layer by layer, each unit's dL/da (a targeted
        output), its edges dz_c/da to the units c it feeds (a weight, or a pooling unit's
        routing), and da_k/dz of the activation outputs k it enters (itself, or its
        softmax layer); then every parameter's dz/dw and dz/db, in spec order.

        The set is the one the path enumeration registers: the units below a parameter
        (a z-unit: one a parameter enters, or one fed by such a unit's activation),
        and da_k/dz only where a_k reaches the loss."""
        network = self.network
        below: set[str] = {use.neuron for uses in network.uses.values() for use in uses}
        reached: set[str] = set()  # units whose a is on a path from a parameter up
        for layer in network.layers:
            for unit in layer:
                if unit.name in below:
                    reached.update(self.activation_targets(unit.name))
            for unit in layer:
                if unit.name in reached:
                    below.update(network.consumers[unit.name])
        targets = dict(network.target_symbols)
        for layer in reversed(network.layers):
            for unit in layer:
                name = unit.name
                if name in reached:
                    if name in targets:
                        self.loss_local(name, self.sym(targets[name]))
                    a = self.a_of(name)
                    for consumer in network.consumers[name]:
                        if network.units[consumer].pool is not None:
                            self.pool_local(consumer, name)
                        else:
                            weight = self.sym(network.weight(name, consumer).symbol)
                            self.linear_local("edge", consumer, a, "source", {W: weight, X: a})
                if name in below:
                    for output in self.activation_targets(name):
                        if self.from_a[output]:  # a_output reaches the loss
                            self.activation_local(output, name)
        for parameter in network.parameters:
            for _ in self.parameter_locals(parameter):
                pass

    def parameter_locals(self, parameter: Parameter) -> Iterator[tuple[str, Local]]:
        """(neuron, dz/dparameter) of each use of the parameter, registered as they are read."""
        symbol = self.sym(parameter.symbol)
        for use in self.network.uses[parameter.key]:
            if use.kind == "weight":
                term = {W: symbol, X: self.a_of(use.source)}  # type: ignore[arg-type]
                yield use.neuron, self.linear_local("parameter", use.neuron, symbol, "weight", term)
            else:
                yield use.neuron, self.linear_local("parameter", use.neuron, symbol, "bias", {B: symbol})

    def paths_from(self, name: str) -> tuple[tuple[Local, ...], ...]:
        """Every chain from L down to z of neuron `name`, as factors from the loss end."""
        if name not in self.path_cache:
            self.path_cache[name] = tuple(
                chain + (self.activation_local(output, name),)
                for output in self.activation_targets(name) for chain in self.chains_to_a(output))
        return self.path_cache[name]

    def chains_to_a(self, name: str) -> list[tuple[Local, ...]]:
        """Every chain from L down to a of neuron `name`."""
        found: list[tuple[Local, ...]] = []
        targets = dict(self.network.target_symbols)
        if name in targets:
            found.append((self.loss_local(name, self.sym(targets[name])),))
        a = self.a_of(name)
        for consumer in self.network.consumers[name]:
            if self.network.units[consumer].pool is not None:
                edge = self.pool_local(consumer, name)
            else:
                weight = self.sym(self.network.weight(name, consumer).symbol)
                edge = self.linear_local("edge", consumer, a, "source", {W: weight, X: a})
            found.extend(chain + (edge,) for chain in self.paths_from(consumer))
        return found

    def pool_local(self, pool: str, source: str) -> Local:
        """dz/da of a pooling unit's z with respect to one of its sources: 1/n for the
        mean; for the maximum, 1 at the first maximal source in row-major order (a tie
        goes to the first, as every deep-learning library does) and 0 at the others."""
        unit = self.network.units[pool]
        z, a = self.z_of(pool), self.a_of(source)
        sources = tuple(self.a_of(s) for s in unit.sources)
        position = unit.sources.index(source)

        def make() -> Local:
            if unit.pool == "average":
                share = sympy.Rational(1, len(sources))
                value = Fraction(1, len(sources))
                return Local("edge", z, a, share, (), lambda: value)
            # 1 where a is above every earlier source and not below any later one
            above = [a > s for s in sources[:position]] + [a >= s for s in sources[position + 1:]]
            formula = routing_formula(above)

            def routed(*values: Value) -> Fraction:
                return Fraction(int(first_maximum(values) == position))
            return Local("edge", z, a, formula, sources, routed)
        return self.local(z, a, make)

    def gradient_of(self, parameter: Parameter) -> Gradient:
        """The paths of every use of the parameter: one neuron's for a dense weight or
        bias, every map entry's for a shared kernel weight or map bias."""
        paths: list[Path] = []
        for neuron, last in self.parameter_locals(parameter):
            paths.extend(Path(chain + (last,)) for chain in self.paths_from(neuron))
        return Gradient(parameter, self.sym(parameter.symbol), tuple(paths))


def closed_form_needs_paths(network: Network) -> bool:
    """Whether the closed form, when asked for, writes gradients (read off the paths)."""
    from .closedform import writes_gradients
    return writes_gradients(network)


def routing_formula(above: list[sympy.Expr]) -> sympy.Expr:
    """Piecewise((1, And(*above)), (0, True)), or 1 without conditions, built as SymPy's
    evaluation would leave it (each relation in canonical form) without evaluating: the
    evaluation costs a millisecond per pooling edge and finds nothing to simplify here
    (the conditions compare distinct symbols). The tests check it equal to the evaluated one."""
    if not above:
        return sympy.Integer(1)
    condition = sympy.And(*[relation.canonical for relation in above])
    return sympy.Piecewise((1, condition), (0, True), evaluate=False)


def first_maximum(values: tuple[Value, ...] | list[Value]) -> int:
    """The position of the first largest value (row-major order: a tie goes to the first)."""
    best = 0
    for i in range(1, len(values)):
        if greater(values[i], values[best]):
            best = i
    return best


def loss_value(rule: LossRule) -> Callable[..., Value]:
    """L from (a_1, y_1, a_2, y_2, ...): the compiled term summed, then scaled."""
    p, q = int(rule.scale.p), int(rule.scale.q)  # type: ignore[attr-defined]

    def value(*pairs: object) -> Value:
        terms = total(rule.term_fn(a, y) for a, y in zip(pairs[::2], pairs[1::2]))
        return product((terms, Fraction(p, q)))
    return value
