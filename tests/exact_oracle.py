"""Exact-decimal oracle: the spec's numbers as the decimals a person typed.

The float oracle (oracle.py) cannot see a decimal zero: in binary doubles
3 * 0.1 - 0.3 is 5.55e-17 > 0, so a ReLU unit a teacher put at exactly z = 0 lands on
the wrong branch there too, and finite differences are meaningless at the kink. This
route does what a person does on paper:

  * every spec number is read as its decimal text (0.1 is 1/10), as a Fraction;
  * z = sum w*a + b is computed exactly while its inputs are exact (inputs, and the
    outputs of ReLU / leaky ReLU / linear units fed by exact values);
  * mpmath at 60 significant digits is used only where a transcendental function
    enters (sigmoid, tanh, softplus, softmax, the logs of the cross-entropies); a value
    that stays a rational number (sigmoid(0) = 1/2, tanh(0) = 0) stays exact;
  * every ReLU / leaky branch is decided on that value, with the spec's convention
    (docs/spec.md, "Activations"): f'(z) = 0 (leaky: the slope) at z <= 0;
  * gradients come from a backpropagation written here (deltas, output layer first),
    not from derive and not from finite differences.

`sympy_exact_gradients` is a second, independent exact route for cross-checking:
sympy.diff of the fully composed loss with every number a sympy Rational.

Nothing here imports `derive`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Mapping, Union

import mpmath
import sympy
import yaml

from oracle import Key, Spec, _loss_formula, _reduce, _samples, _symbol, parameters

DIGITS = 60  # mpmath working precision (significant decimal digits)
MP = mpmath.MPContext()  # a private context: the global mpmath.mp (derive's) is untouched
MP.dps = DIGITS
Mpf = type(MP.mpf(0))
Num = Union[Fraction, Any]  # a Fraction (exact) or an MP.mpf (60 digits)

DEFAULT_SLOPE = Fraction(1, 100)  # docs/spec.md: leaky_relu slope defaults to 0.01
# A ReLU-family z that is not exact and lies this close to 0 cannot be placed on a branch
# with confidence (it would be transcendental values cancelling): refuse rather than guess.
UNDECIDABLE = MP.mpf(10) ** -(DIGITS - 15)


class UndecidableKink(ValueError):
    """An inexact ReLU-family pre-activation within UNDECIDABLE of 0."""


# --------------------------------------------------------------------------- reading numbers

def exact_number(value: Any) -> Fraction:
    """The decimal a person typed, exactly.

    yaml.safe_load gives floats; repr() of a float is the shortest decimal that reads back
    as the same double, which is the typed text for any decimal of at most 15 significant
    digits (0.1 -> "0.1" -> 1/10). A Fraction (from `load_exact`) passes through."""
    if isinstance(value, bool):
        raise TypeError(f"a boolean is not a number: {value!r}")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(Decimal(repr(value)))
    raise TypeError(f"not a number: {value!r}")


class ExactLoader(yaml.SafeLoader):
    """SafeLoader that reads YAML floats from their text: 0.1 becomes Fraction(1, 10)."""


def _construct_exact_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Fraction:
    text = loader.construct_scalar(node).replace("_", "")
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ValueError(f"not a plain decimal: {text!r}")  # .inf, .nan, sexagesimal
    return Fraction(Decimal(text))


ExactLoader.add_constructor("tag:yaml.org,2002:float", _construct_exact_float)


def load_exact(text: str) -> dict[str, Any]:
    """Parse spec YAML with every float read from its decimal text (ints stay ints)."""
    return yaml.load(text, Loader=ExactLoader)  # noqa: S506 - a SafeLoader subclass


def exact_activation(layer: Mapping[str, Any]) -> tuple[str, Fraction]:
    """(name, exact slope). Custom formula activations are not supported here."""
    act = layer["activation"]
    if isinstance(act, str):
        return act, DEFAULT_SLOPE
    if "formula" in act:
        raise ValueError("the exact oracle does not evaluate formula activations")
    return act["name"], exact_number(act.get("slope", DEFAULT_SLOPE))


def exact_values(spec: Spec) -> dict[Key, Fraction]:
    """Every parameter's exact value, keyed as oracle.parameters keys them."""
    values: dict[Key, Fraction] = {}
    for layer in spec["layers"]:
        for name, neuron in layer["neurons"].items():
            for src, w in neuron["weights"].items():
                values[("weight", src, name)] = exact_number(w)
            values[("bias", name)] = exact_number(neuron["bias"])
    return values


# --------------------------------------------------------------------------- arithmetic
# Fractions stay Fractions; anything touching an mpf becomes an mpf. An exact 0 factor
# gives an exact 0 product (a dead ReLU's gradient is 0, not 0 * something inexact), so
# "must be exactly 0" is visible in the result's type.

def is_exact(x: Num) -> bool:
    return isinstance(x, (Fraction, int)) and not isinstance(x, bool)


def to_mp(x: Num) -> Any:
    if is_exact(x):
        x = Fraction(x)
        return MP.mpf(x.numerator) / x.denominator
    return x


def add(*xs: Num) -> Num:
    if all(is_exact(x) for x in xs):
        return sum((Fraction(x) for x in xs), Fraction(0))
    return MP.fsum(to_mp(x) for x in xs)


def mul(*xs: Num) -> Num:
    if any(is_exact(x) and x == 0 for x in xs):
        return Fraction(0)
    result: Num = Fraction(1)
    for x in xs:
        result = result * Fraction(x) if is_exact(result) and is_exact(x) else to_mp(result) * to_mp(x)
    return result


def neg(x: Num) -> Num:
    return -Fraction(x) if is_exact(x) else -x


def div(a: Num, b: Num) -> Num:
    if is_exact(a) and a == 0:
        return Fraction(0)
    if is_exact(a) and is_exact(b):
        return Fraction(a) / Fraction(b)
    return to_mp(a) / to_mp(b)


def log(x: Num) -> Num:
    if is_exact(x) and x == 1:
        return Fraction(0)
    return MP.log(to_mp(x))


def exp(x: Num) -> Num:
    if is_exact(x) and x == 0:
        return Fraction(1)
    return MP.exp(to_mp(x))


def positive(z: Num, where: str, positive_at_zero: frozenset[str] = frozenset()) -> bool:
    """The ReLU branch test z > 0, decided on the exact value when there is one.
    `positive_at_zero` is for diagnosis only: units whose exact z = 0 is to be put on the
    z > 0 branch (what a float computation that gets 5.5e-17 does)."""
    if is_exact(z):
        return z > 0 or (z == 0 and where in positive_at_zero)
    if abs(z) < UNDECIDABLE:
        raise UndecidableKink(f"{where}: inexact z = {MP.nstr(z, 5)} too close to 0 to place")
    return z > 0


# --------------------------------------------------------------------------- activations

def sigmoid(z: Num) -> Num:
    if is_exact(z) and z == 0:
        return Fraction(1, 2)  # 1 / (1 + e^0)
    return 1 / (1 + MP.exp(-to_mp(z)))


def activate(name: str, slope: Fraction, z: Num, where: str,
             positive_at_zero: frozenset[str] = frozenset()) -> Num:
    if name == "linear":
        return z
    if name == "relu":
        return z if positive(z, where, positive_at_zero) else Fraction(0)
    if name == "leaky_relu":
        return z if positive(z, where, positive_at_zero) else mul(slope, z)
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return Fraction(0) if is_exact(z) and z == 0 else MP.tanh(to_mp(z))
    if name == "softplus":
        return log(add(1, exp(z)))  # ln(1 + e^z)
    raise ValueError(f"unknown activation {name!r}")


def derivative(name: str, slope: Fraction, z: Num, a: Num, where: str,
               positive_at_zero: frozenset[str] = frozenset()) -> Num:
    """f'(z) of an element-wise activation, as the textbook writes it."""
    if name == "linear":
        return Fraction(1)
    if name == "relu":  # 1 if z > 0, else 0 (also at z = 0)
        return Fraction(1) if positive(z, where, positive_at_zero) else Fraction(0)
    if name == "leaky_relu":  # 1 if z > 0, else the slope (also at z = 0)
        return Fraction(1) if positive(z, where, positive_at_zero) else slope
    if name == "sigmoid":  # a(1 - a)
        return mul(a, add(1, neg(a)))
    if name == "tanh":  # 1 - a^2
        return add(1, neg(mul(a, a)))
    if name == "softplus":  # sigma(z)
        return sigmoid(z)
    raise ValueError(f"unknown activation {name!r}")


def loss_derivative(kind: str, y: Fraction, a: Num, n: int) -> Num:
    """dL/da for one output with target y (n = number of targets)."""
    diff = add(a, neg(y))
    if kind == "squared_error":  # d/da (y - a)^2 = 2(a - y)
        return mul(2, diff)
    if kind == "half_squared_error":  # a - y
        return diff
    if kind == "mean_squared_error":  # 2(a - y) / n
        return mul(Fraction(2, n), diff)
    if kind == "binary_cross_entropy":  # -y/a + (1 - y)/(1 - a)
        return add(neg(div(y, a)), div(add(1, neg(y)), add(1, neg(a))))
    if kind == "cross_entropy":  # -y/a
        return neg(div(y, a))
    raise ValueError(f"unknown loss {kind!r}")


def loss_of(kind: str, pairs: list[tuple[Fraction, Num]]) -> Num:
    """The loss over (y, a) pairs (docs/spec.md, "Losses"), exact while the a's are."""
    if kind in ("squared_error", "half_squared_error", "mean_squared_error"):
        total = add(*(mul(add(y, neg(a)), add(y, neg(a))) for y, a in pairs))
        scale = {"squared_error": Fraction(1), "half_squared_error": Fraction(1, 2),
                 "mean_squared_error": Fraction(1, len(pairs))}[kind]
        return mul(scale, total)
    if kind == "binary_cross_entropy":  # -sum[y ln a + (1 - y) ln(1 - a)]
        return neg(add(*(add(mul(y, log(a)), mul(add(1, neg(y)), log(add(1, neg(a)))))
                         for y, a in pairs)))
    if kind == "cross_entropy":  # -sum y ln a
        return neg(add(*(mul(y, log(a)) for y, a in pairs)))
    raise ValueError(f"unknown loss {kind!r}")


# --------------------------------------------------------------------------- the passes

@dataclass(frozen=True)
class SamplePass:
    forward: dict[str, tuple[Num, Num]]  # neuron -> (z, a)
    loss: Num
    gradients: dict[Key, Num]


def _forward(spec: Spec, values: Mapping[Key, Fraction], inputs: Mapping[str, Any],
             positive_at_zero: frozenset[str] = frozenset()
             ) -> tuple[dict[str, Num], dict[str, tuple[Num, Num]]]:
    acts: dict[str, Num] = {k: exact_number(v) for k, v in inputs.items()}
    out: dict[str, tuple[Num, Num]] = {}
    for layer in spec["layers"]:
        name, slope = exact_activation(layer)
        zs = {n: add(*(mul(values[("weight", s, n)], acts[s]) for s in neuron["weights"]),
                     values[("bias", n)])
              for n, neuron in layer["neurons"].items()}
        if name == "softmax":
            exps = {n: exp(z) for n, z in zs.items()}
            total = add(*exps.values())
            layer_acts = {n: div(e, total) for n, e in exps.items()}
        else:
            layer_acts = {n: activate(name, slope, z, n, positive_at_zero) for n, z in zs.items()}
        for n, z in zs.items():
            out[n] = (z, layer_acts[n])
            acts[n] = layer_acts[n]
    return acts, out


def exact_forward(spec: Spec, inputs: Mapping[str, Any] | None = None) -> dict[str, tuple[Num, Num]]:
    """{neuron: (z, a)} for the given inputs (default: the first sample's)."""
    if inputs is None:
        inputs = _samples(spec)[0][0]
    return _forward(spec, exact_values(spec), inputs)[1]


def _sample_pass(spec: Spec, values: Mapping[Key, Fraction], inputs: Mapping[str, Any],
                 targets: Mapping[str, Any], positive_at_zero: frozenset[str] = frozenset()
                 ) -> SamplePass:
    acts, fw = _forward(spec, values, inputs, positive_at_zero)
    kind = spec["loss"]
    ys = {n: exact_number(y) for n, y in targets.items()}
    loss_value = loss_of(kind, [(y, fw[n][1]) for n, y in ys.items()])

    # who consumes each unit, through which weight: the backward pass's fan-out
    consumers: dict[str, list[tuple[str, Fraction]]] = {}
    for layer in spec["layers"]:
        for n, neuron in layer["neurons"].items():
            for s in neuron["weights"]:
                consumers.setdefault(s, []).append((n, values[("weight", s, n)]))

    deltas: dict[str, Num] = {}  # dL/dz
    grads: dict[Key, Num] = {}
    for layer in reversed(spec["layers"]):
        name, slope = exact_activation(layer)
        # dL/da: the loss's own term (an output with a target) plus every consumer's
        # w * delta -- at a hidden unit, the sum over paths
        upstream = {n: add(loss_derivative(kind, ys[n], fw[n][1], len(ys)) if n in ys else Fraction(0),
                           *(mul(w, deltas[k]) for k, w in consumers.get(n, [])))
                    for n in layer["neurons"]}
        if name == "softmax":  # da_k/dz_j = a_k (delta_kj - a_j)
            for j in layer["neurons"]:
                a_j = fw[j][1]
                deltas[j] = add(*(mul(upstream[k], fw[k][1], add(int(k == j), neg(a_j)))
                                  for k in layer["neurons"]))
        else:
            for n in layer["neurons"]:
                z, a = fw[n]
                deltas[n] = mul(derivative(name, slope, z, a, n, positive_at_zero), upstream[n])
        for n, neuron in layer["neurons"].items():
            for s in neuron["weights"]:
                grads[("weight", s, n)] = mul(acts[s], deltas[n])
            grads[("bias", n)] = deltas[n]
    return SamplePass(fw, loss_value, {key: grads[key] for key in parameters(spec)})


@dataclass(frozen=True)
class ExactKey:
    """The answer key for one step of gradient descent, every number exact or 60 digits."""
    passes: tuple[SamplePass, ...]  # one per sample, in order
    loss: Num  # reduced over the samples (mean or sum)
    values: dict[Key, Fraction]
    gradients: dict[Key, Num]
    updated: dict[Key, Num]  # value - learning_rate * gradient
    learning_rate: Fraction

    @property
    def forward(self) -> dict[str, tuple[Num, Num]]:
        return self.passes[0].forward


def exact_solve(spec: Spec, positive_at_zero: frozenset[str] = frozenset()) -> ExactKey:
    """Forward pass, loss, gradients and updates of one step (mean/sum over samples).
    `positive_at_zero` (diagnosis only): units whose exact z = 0 takes the z > 0 branch."""
    if spec.get("steps", 1) != 1 or spec.get("reduction", "mean") not in ("mean", "sum"):
        raise NotImplementedError("the exact oracle works one step of a mean or sum batch")
    values = exact_values(spec)
    passes = tuple(_sample_pass(spec, values, inputs, targets, positive_at_zero)
                   for inputs, targets in _samples(spec))
    n = len(passes)
    scale = Fraction(1, n) if spec.get("reduction", "mean") == "mean" else Fraction(1)
    grads = {key: mul(scale, add(*(p.gradients[key] for p in passes))) for key in values}
    total = mul(scale, add(*(p.loss for p in passes)))
    eta = exact_number(spec["learning_rate"])
    updated = {key: add(values[key], neg(mul(eta, grads[key]))) for key in values}
    return ExactKey(passes, total, values, grads, updated, eta)


def exact_gradients(spec: Spec) -> dict[Key, Num]:
    return exact_solve(spec).gradients


def kink_units(spec: Spec) -> list[str]:
    """ReLU / leaky ReLU neurons whose pre-activation is exactly 0 (in any sample)."""
    kinked = {n for layer in spec["layers"]
              if exact_activation(layer)[0] in ("relu", "leaky_relu") for n in layer["neurons"]}
    found: list[str] = []
    for inputs, _targets in _samples(spec):
        for n, (z, _a) in exact_forward(spec, inputs).items():
            if n in kinked and is_exact(z) and z == 0 and n not in found:
                found.append(n)
    return found


def unused_inputs(spec: Spec) -> list[str]:
    """Inputs that no neuron has a weight from."""
    used = {s for layer in spec["layers"] for neuron in layer["neurons"].values()
            for s in neuron["weights"]}
    return [x for x in _samples(spec)[0][0] if x not in used]


# --------------------------------------------------------------------------- sympy, exactly

def _rational(value: Any) -> sympy.Rational:
    f = exact_number(value)
    return sympy.Rational(f.numerator, f.denominator)


def _act_sym_exact(name: str, slope: Fraction, z: sympy.Expr) -> sympy.Expr:
    if name == "linear":
        return z
    if name == "sigmoid":
        return 1 / (1 + sympy.exp(-z))
    if name == "tanh":
        return sympy.tanh(z)
    # the z <= 0 branch first, so that the derivative at exactly 0 is 0 / the slope
    if name == "relu":
        return sympy.Piecewise((0, z <= 0), (z, True))
    if name == "leaky_relu":
        return sympy.Piecewise((sympy.Rational(slope.numerator, slope.denominator) * z, z <= 0),
                               (z, True))
    if name == "softplus":
        return sympy.log(1 + sympy.exp(z))
    raise ValueError(f"unknown activation {name!r}")


def sympy_exact_loss(spec: Spec) -> sympy.Expr:
    """The composed loss in the parameter symbols; inputs and targets sympy Rationals."""
    per_sample = []
    for inputs, targets in _samples(spec):
        acts: dict[str, sympy.Expr] = {k: _rational(v) for k, v in inputs.items()}
        for layer in spec["layers"]:
            name, slope = exact_activation(layer)
            zs = {n: sum((_symbol(("weight", s, n)) * acts[s] for s in neuron["weights"]),
                         sympy.S.Zero) + _symbol(("bias", n))
                  for n, neuron in layer["neurons"].items()}
            if name == "softmax":
                total = sum(sympy.exp(z) for z in zs.values())
                acts.update({n: sympy.exp(z) / total for n, z in zs.items()})
            else:
                acts.update({n: _act_sym_exact(name, slope, z) for n, z in zs.items()})
        pairs = [(_rational(y), acts[n]) for n, y in targets.items()]
        per_sample.append(_loss_formula(spec["loss"], pairs, sympy.log))
    return _reduce(spec, per_sample)


def sympy_exact_gradients(spec: Spec) -> dict[Key, sympy.Expr]:
    """sympy.diff of the composed loss, then every parameter replaced by its exact
    Rational. The result is a sympy number: a Rational when no transcendental function
    is involved (compare exactly), otherwise an exact expression (evalf it)."""
    expr = sympy_exact_loss(spec)
    subs = {_symbol(k): _rational(v) for k, v in exact_values(spec).items()}
    return {key: sympy.diff(expr, _symbol(key)).xreplace(subs) for key in parameters(spec)}
