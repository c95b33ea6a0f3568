"""Stage 4: the numbers, from a Derivation and the network's current values.

Nothing symbolic is built here: every formula was compiled once by the derivation, so
evaluating another set of values (another variant, another step) costs only arithmetic.

Spec numbers are exact decimals (`rounding.Given`), and every value stays an exact
Fraction while it is computed by +, -, x and ReLU only (derive.numeric), so a ReLU
unit at a decimal z = 0 is exactly at 0. Where a transcendental function enters, the
arithmetic runs in mpmath at a working precision chosen from the largest |z|: a
saturated sigmoid is 1 - e^(-z), and its distance from 1 (which the cross-entropy and
the derivative need) survives only if the precision has about 1.45 bits per unit of z
beyond the 53 of a double. Inexact results are rounded to doubles at the end.

With the by-hand policy every value the working shows is rounded as displayed and the
next step is computed from the rounded value, exactly, in the form the line shows it:
a path is the product of its shown factors, a delta is f'(z) written with the shown a
times the shown terms, a gradient in delta form is the shown a times the shown delta.

In the delta form no path is multiplied out (the derivation built none): under both
policies every gradient is the sum of a * delta over the parameter's uses, the same
number as the sum over paths, factored.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import mpmath
from sympy import Symbol

from .derivation import L, Derivation, Forward, Local, first_maximum
from .errors import NumericError
from .network import Network
from .numeric import Value, inexact, is_exact, product, total, value_of
from .rounding import by_hand

Keep = Callable[[Value], Value]  # what is carried on from a computed value

BASE_BITS = 96  # a double's 53 bits plus room for cancellation in sums and 1 - a
WRITABLE_BITS = 3 * 10**18  # a binary exponent whose decimal exponent still fits a Decimal
START_BITS = 160  # enough for |z| up to 44; a larger z costs a second pass
MAX_BITS = 8192  # covers |z| up to about 5600; beyond that a saturated output is exact 0 or 1
ZERO = Fraction(0)


@dataclass(frozen=True)
class Values:
    """Every number of one step. A value is an exact Fraction (a Given for the spec's
    own numbers, a Rounded for a by-hand value), or a float where it is not exact (an
    mpmath float beyond a double's range)."""

    symbols: dict[Symbol, object]  # every x, y, w, b, z, a by its symbol
    loss: object
    locals: dict[tuple[Symbol, Symbol], object]  # each local derivative's value
    paths: dict[str, tuple[object, ...]]  # parameter key -> value of each path's product; () in delta form
    gradients: dict[str, object]  # parameter key -> dL/dparameter
    updated: dict[str, object]  # parameter key -> value after one SGD step
    deltas: dict[str, object]  # neuron -> dL/dz, as the delta form works it
    simplified: dict[str, object]  # output neuron -> a - y, the simplified dL/dz where it holds
    # parameter key -> dL/dparameter as the delta form works it: by hand, the shown a
    # times the shown delta (the same as `gradients` in the exact policy and in the
    # delta form; it differs by hand when the key shows both forms)
    delta_gradients: dict[str, object]


def keeper(policy: str, digits: int) -> Keep:
    """What is carried on from a computed value under `policy`."""
    if policy == "by-hand":
        return lambda value: by_hand(value, digits)
    return lambda value: value


def evaluate(derivation: Derivation, network: Network | None = None, policy: str = "exact",
             digits: int = 4, form: str | None = None) -> Values:
    """All numbers for one forward/backward/update step.

    `network` gives the values (defaults to the one derived from); it must have the
    derivation's topology. With policy "exact" every value is carried in full
    precision; with "by-hand" every value the working shows is rounded to `digits`
    (as displayed) and the next step is computed from the rounded value, as a
    student does on paper. `form` (by default the derivation's) says which working the
    gradients follow: the paths' products ("paths", "both") or the deltas ("delta"); a
    derivation without paths is always worked from the deltas.
    """
    network = network or derivation.network
    if form is None or not derivation.has_paths:
        form = derivation.form if derivation.has_paths else "delta"
    keep = keeper(policy, digits)
    bits = START_BITS
    while True:
        with mpmath.workprec(bits):
            values = given_values(derivation, network)
            zs = forward(derivation, network, keep, values)
            largest = max((abs(inexact(z)) for z in zs.values()), default=mpmath.mpf(0))
            needed = MAX_BITS if largest > MAX_BITS else BASE_BITS + math.ceil(1.45 * float(largest))
            needed = min(MAX_BITS, needed)
            if needed <= bits:  # the usual case: one pass at the starting precision
                return step_values(derivation, network, keep, policy, values, form)
        bits = needed


def pre_activations(derivation: Derivation, network: Network,
                    keep: Keep = lambda value: value) -> dict[Symbol, float]:
    """Every neuron's z, by a quick forward pass at the base precision (enough for z)."""
    with mpmath.workprec(BASE_BITS):
        return {z: float(value) for z, value in forward(derivation, network, keep).items()}


def given_values(derivation: Derivation, network: Network) -> dict[Symbol, Value]:
    """The spec's numbers (or a later step's parameters) by symbol."""
    sym = derivation.symbols
    values: dict[Symbol, Value] = {sym[unit.a_symbol]: value_of(unit.value) for unit in network.inputs}
    values.update({sym[p.symbol]: value_of(p.value) for p in network.parameters})
    targets = dict(network.targets)
    values.update({sym[y]: value_of(targets[name]) for name, y in network.target_symbols})
    return values


def forward(derivation: Derivation, network: Network, keep: Keep,
            values: dict[Symbol, Value] | None = None) -> dict[Symbol, Value]:
    """Every z and a, layer by layer, added into `values`; returns the z values."""
    values = given_values(derivation, network) if values is None else values
    zs = {}
    for layer in derivation.forward:
        # every z of the layer first: a softmax output needs all of them
        for step in layer:
            z = pooled(step, values) if step.pool else \
                total([product((values[w], values[a])) for w, a in step.terms] + [values[step.bias]])
            values[step.z] = zs[step.z] = keep(check(z, f"z of neuron {step.neuron.name!r}"))
        for step in layer:
            a = step.activate(*[values[s] for s in step.args])
            values[step.a] = keep(check(a, f"the activation of neuron {step.neuron.name!r}"))
    return zs


def pooled(step: Forward, values: dict[Symbol, Value]) -> Value:
    """A pooling unit's z: the maximum or the mean of its sources' outputs."""
    inputs = [values[s] for s in step.sources]
    if step.pool == "max":
        return inputs[first_maximum(inputs)]
    return product((Fraction(1, len(inputs)), total(inputs)))


def step_values(derivation: Derivation, network: Network, keep: Keep, policy: str,
                values: dict[Symbol, Value], form: str = "paths") -> Values:
    """The backward pass and updates, from the forward pass's `values`."""
    check_loss_domain(derivation, network, values)
    loss = keep(derivation.loss_fn(*[values[s] for s in derivation.loss_args]))
    hand = policy == "by-hand"
    unrounded = {(f.num, f.den): local_value(f, values, hand) for f in derivation.locals}
    local_values = unrounded if not hand else {key: keep(value) for key, value in unrounded.items()}
    deltas = delta_values(derivation, values, local_values, keep, hand, unrounded)

    paths: dict[str, tuple[object, ...]] = {}
    gradients: dict[str, object] = {}
    from_deltas: dict[str, object] = {}
    updated: dict[str, object] = {}
    eta = value_of(network.learning_rate)
    delta_form = form == "delta" or not derivation.has_paths
    for gradient in derivation.gradients:
        parameter = gradient.parameter
        key = parameter.key
        if delta_form:  # no path multiplied out: sum of a * delta, under either policy
            total_value = from_deltas[key] = delta_gradient(derivation, parameter, values, deltas, keep)
            paths[key] = ()
        else:
            products = [keep(product(local_values[(f.num, f.den)] for f in path.factors))
                        for path in gradient.paths]
            if hand:
                from_deltas[key] = delta_gradient(derivation, parameter, values, deltas, keep)
            total_value = keep(total(products))
            if not hand:
                from_deltas[key] = total_value
            paths[key] = tuple(number(p) for p in products)
        gradients[key] = number(check(total_value, f"the gradient of {key}", double=True))
        change = product((eta, total_value))
        updated[key] = number(keep(check(total((values[gradient.symbol], -change)),
                                         f"the update of {key}", double=True)))
    simplified = {name: number(keep(total((values[a], -values[y]))))
                  for name, a, y in derivation.outputs}
    return Values({s: number(v) for s, v in values.items()}, number(check(loss, "the loss", double=True)),
                  {k: number(v) for k, v in local_values.items()}, paths, gradients, updated,
                  {name: number(v) for name, v in deltas.items()}, simplified,
                  {k: number(v) for k, v in from_deltas.items()})


def delta_values(derivation: Derivation, values: dict[Symbol, Value],
                 local_values: dict[tuple[Symbol, Symbol], Value], keep: Keep,
                 hand: bool, unrounded: dict[tuple[Symbol, Symbol], Value] | None = None
                 ) -> dict[str, Value]:
    """dL/dz of every neuron that feeds a targeted output, output layer first.

    delta_j = sum over the outputs k of j's activation (j itself, or its softmax layer)
    of da_k/dz_j * (dL/da_k + sum over the neurons c that a_k feeds of w_kc * delta_c).
    By hand, the delta line writes da_k/dz_j and dL/da_k as formulas of the shown values
    (a(1 - a), a - y), so they enter unrounded; each delta is then rounded once.
    `unrounded` holds the local derivatives before rounding, if already computed.
    """
    network, sym = derivation.network, derivation.symbols
    local = {(f.num, f.den): f for f in derivation.locals}

    def factor(key: tuple[Symbol, Symbol]) -> Value:
        if not hand:
            return local_values[key]
        return unrounded[key] if unrounded is not None else local_value(local[key], values, True)

    deltas: dict[str, Value] = {}
    for layer in reversed(network.layers):
        for unit in layer:
            z = sym[unit.z_symbol]  # type: ignore[index]
            outputs = [k for k in layer if (sym[k.a_symbol], z) in local]
            if not outputs:  # feeds no targeted output: no gradient flows here
                continue
            terms = []
            for k in outputs:
                a_k = sym[k.a_symbol]
                inner = [factor((L, a_k))] if (L, a_k) in local else []
                # dz_c/da_k: the weight on the edge, or a pooling unit's routing
                inner += [product((local_values[(sym[network.units[c].z_symbol], a_k)], deltas[c]))  # type: ignore[index]
                          for c in network.consumers[k.name] if c in deltas]
                terms.append(product((factor((a_k, z)), total(inner))))
            deltas[unit.name] = keep(check(total(terms), f"the delta of neuron {unit.name!r}"))
    return deltas


def delta_gradient(derivation: Derivation, parameter: object, values: dict[Symbol, Value],
                   deltas: dict[str, Value], keep: Keep) -> Value:
    """dL/dw_ij = a_i * delta_j and dL/db_j = delta_j, from the shown values; a shared
    parameter's is the sum of these over its uses, rounded once."""
    network, sym = derivation.network, derivation.symbols
    uses = network.uses[parameter.key]  # type: ignore[attr-defined]
    if len(uses) == 1 and parameter.kind == "bias":  # type: ignore[attr-defined]
        return deltas.get(parameter.neuron, ZERO)  # type: ignore[attr-defined]
    terms = [deltas.get(use.neuron, ZERO) if use.kind == "bias" else
             product((values[sym[network.units[use.source].a_symbol]], deltas.get(use.neuron, ZERO)))  # type: ignore[index]
             for use in uses]
    return keep(total(terms))


def number(value: Value) -> object:
    """An exact value as it is; else a double where one holds the value, else the mpf.

    A saturated unit has factors like e^-1000 (a double would say 0, and the working
    would show a misleading 0) or their reciprocals (a double would overflow). Such
    intermediate values stay exact; answers are checked to fit a double.
    """
    if is_exact(value):
        return value
    as_float = float(value)
    if math.isinf(as_float) or (as_float == 0 and value != 0):
        if abs(mpmath.mag(value)) > WRITABLE_BITS:
            raise NumericError(f"a value of the working is about 2^{int(mpmath.mag(value))}, beyond "
                               "any number that can be written down; the network's values are "
                               "too large (a unit saturates completely)")
        return value
    return as_float


def check_loss_domain(derivation: Derivation, network: Network,
                      values: dict[Symbol, Value]) -> None:
    """Cross-entropy takes log of the outputs: say which output leaves its domain."""
    if network.loss not in ("binary_cross_entropy", "cross_entropy"):
        return
    for name, a, _ in derivation.outputs:
        value = values[a]
        inside = 0 < value < 1 if network.loss == "binary_cross_entropy" else value > 0
        if not inside:
            domain = "between 0 and 1 (exclusive)" if network.loss == "binary_cross_entropy" \
                else "greater than 0"
            z = values[derivation.symbols[network.units[name].z_symbol]]  # type: ignore[index]
            raise NumericError(
                f"{network.loss} takes the log of each output, so output {name!r} must be "
                f"{domain}, but it is {mpmath.nstr(inexact(value), 8)} (z = "
                f"{mpmath.nstr(inexact(z), 8)}); use a sigmoid output, or values that do not "
                "saturate it")


def local_value(factor: Local, values: dict[Symbol, Value], by_hand: bool) -> Value:
    if by_hand and factor.hand is not None:
        value = factor.hand(*[values[s] for s in factor.hand_args])
    else:
        value = factor.compute(*[values[s] for s in factor.args])
    return check(value, f"d{factor.num.name}/d{factor.den.name}")  # (str() of a Symbol: slow)


def check(value: Value, what: str, double: bool = False) -> Value:
    """Refuse NaN or infinity anywhere (it would print as a wrong number), and, for the
    answers (`double`), values too large for the JSON key's doubles."""
    if is_exact(value):
        fits = not double or abs(value) < 1.7e308
    else:
        fits = mpmath.isfinite(value) and (not double or math.isfinite(float(value)))
    if not fits:
        raise NumericError(f"{what} is {mpmath.nstr(inexact(value), 8)}, not a finite number that "
                           "fits a double; the network's values are too large")
    return value
