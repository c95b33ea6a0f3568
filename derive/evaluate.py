"""Stage 4: the numbers, from a Derivation and the network's current values.

Nothing symbolic is built here: every formula was compiled once by the derivation, so
evaluating another set of values (another variant, another step) costs only arithmetic.

Arithmetic runs in mpmath at a working precision chosen from the largest |z|: a
saturated sigmoid is 1 - e^(-z), and its distance from 1 (which the cross-entropy
and the derivative need) survives only if the precision has about 1.45 bits per unit
of z beyond the 53 of a double. The results are rounded to doubles at the end.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import mpmath
from sympy import Symbol

from .derivation import Derivation, Local
from .errors import NumericError
from .network import Network
from .rounding import by_hand

Keep = Callable[[mpmath.mpf], mpmath.mpf]  # what is carried on from a computed value

BASE_BITS = 96  # a double's 53 bits plus room for cancellation in sums and 1 - a
WRITABLE_BITS = 3 * 10**18  # a binary exponent whose decimal exponent still fits a Decimal
START_BITS = 160  # enough for |z| up to 44; a larger z costs a second pass
MAX_BITS = 8192  # covers |z| up to about 5600; beyond that a saturated output is exact 0 or 1


@dataclass(frozen=True)
class Values:
    symbols: dict[Symbol, float]  # every x, y, w, b, z, a by its symbol
    loss: float
    locals: dict[tuple[Symbol, Symbol], float]  # each local derivative's value
    paths: dict[str, tuple[float, ...]]  # parameter key -> value of each path's product
    gradients: dict[str, float]  # parameter key -> dL/dparameter
    updated: dict[str, float]  # parameter key -> value after one SGD step




def evaluate(derivation: Derivation, network: Network | None = None, policy: str = "exact",
             digits: int = 4) -> Values:
    """All numbers for one forward/backward/update step.

    `network` gives the values (defaults to the one derived from); it must have the
    derivation's topology. With policy "exact" every value is carried in full
    precision; with "by-hand" every value the working shows is rounded to `digits`
    (as displayed) and the next step is computed from the rounded value, as a
    student does on paper.
    """
    network = network or derivation.network
    keep = (lambda value: by_hand(value, digits)) if policy == "by-hand" else (lambda value: value)
    bits = START_BITS
    while True:
        with mpmath.workprec(bits):
            values = given_values(derivation, network)
            zs = forward(derivation, network, keep, values)
            largest = max(map(abs, zs.values()))
            needed = MAX_BITS if largest > MAX_BITS else BASE_BITS + math.ceil(1.45 * float(largest))
            needed = min(MAX_BITS, needed)
            if needed <= bits:  # the usual case: one pass at the starting precision
                return step_values(derivation, network, keep, policy, values)
        bits = needed


def pre_activations(derivation: Derivation, network: Network,
                    keep: Keep = lambda value: value) -> dict[Symbol, float]:
    """Every neuron's z, by a quick forward pass at the base precision (enough for z)."""
    with mpmath.workprec(BASE_BITS):
        return {z: float(value) for z, value in forward(derivation, network, keep).items()}


def given_values(derivation: Derivation, network: Network) -> dict[Symbol, mpmath.mpf]:
    sym = derivation.symbols
    values = {sym[unit.a_symbol]: mpmath.mpf(unit.value) for unit in network.inputs}
    values.update({sym[p.symbol]: mpmath.mpf(p.value) for p in network.parameters})
    targets = dict(network.targets)
    values.update({sym[y]: mpmath.mpf(targets[name]) for name, y in network.target_symbols})
    return values


def forward(derivation: Derivation, network: Network, keep: Keep,
            values: dict[Symbol, mpmath.mpf] | None = None) -> dict[Symbol, mpmath.mpf]:
    """Every z and a, layer by layer, added into `values`; returns the z values."""
    values = given_values(derivation, network) if values is None else values
    zs = {}
    for layer in derivation.forward:
        # every z of the layer first: a softmax output needs all of them
        for step in layer:
            z = mpmath.fsum([values[w] * values[a] for w, a in step.terms] + [values[step.bias]])
            values[step.z] = zs[step.z] = keep(check(z, f"z of neuron {step.neuron.name!r}"))
        for step in layer:
            a = step.activate(*[values[s] for s in step.args])
            values[step.a] = keep(check(a, f"the activation of neuron {step.neuron.name!r}"))
    return zs


def step_values(derivation: Derivation, network: Network, keep: Keep, policy: str,
                values: dict[Symbol, mpmath.mpf]) -> Values:
    """The backward pass and updates, from the forward pass's `values`."""
    check_loss_domain(derivation, network, values)
    loss = keep(derivation.loss_fn(*[values[s] for s in derivation.loss_args]))
    by_hand = policy == "by-hand"
    local_values = {(f.num, f.den): keep(local_value(f, values, by_hand)) for f in derivation.locals}

    paths: dict[str, tuple[float, ...]] = {}
    gradients: dict[str, float] = {}
    updated: dict[str, float] = {}
    eta = mpmath.mpf(network.learning_rate)
    for gradient in derivation.gradients:
        key = gradient.parameter.key
        products = [keep(mpmath.fprod(local_values[(f.num, f.den)] for f in path.factors))
                    for path in gradient.paths]
        total = keep(mpmath.fsum(products))
        paths[key] = tuple(number(p) for p in products)
        gradients[key] = number(check(total, f"the gradient of {key}", double=True))
        updated[key] = number(keep(check(values[gradient.symbol] - eta * total,
                                         f"the update of {key}", double=True)))
    return Values({s: number(v) for s, v in values.items()}, number(check(loss, "the loss", double=True)),
                  {k: number(v) for k, v in local_values.items()}, paths, gradients, updated)


def number(value: mpmath.mpf) -> float:
    """A double where one holds the value; else the mpf itself.

    A saturated unit has factors like e^-1000 (a double would say 0, and the working
    would show a misleading 0) or their reciprocals (a double would overflow). Such
    intermediate values stay exact; answers are checked to fit a double.
    """
    as_float = float(value)
    if math.isinf(as_float) or (as_float == 0 and value != 0):
        if abs(mpmath.mag(value)) > WRITABLE_BITS:
            raise NumericError(f"a value of the working is about 2^{int(mpmath.mag(value))}, beyond "
                               "any number that can be written down; the network's values are "
                               "too large (a unit saturates completely)")
        return value  # type: ignore[return-value]
    return as_float


def check_loss_domain(derivation: Derivation, network: Network,
                      values: dict[Symbol, mpmath.mpf]) -> None:
    """Cross-entropy takes log of the outputs: say which output leaves its domain."""
    if network.loss not in ("binary_cross_entropy", "cross_entropy"):
        return
    for name, a, _ in derivation.outputs:
        value = values[a]
        inside = 0 < value < 1 if network.loss == "binary_cross_entropy" else value > 0
        if not inside:
            domain = "between 0 and 1 (exclusive)" if network.loss == "binary_cross_entropy" \
                else "greater than 0"
            raise NumericError(
                f"{network.loss} takes the log of each output, so output {name!r} must be "
                f"{domain}, but it is {mpmath.nstr(value, 8)} (z = "
                f"{mpmath.nstr(values[derivation.symbols[network.units[name].z_symbol]], 8)}); use a "
                "sigmoid output, or values that do not saturate it")


def local_value(factor: Local, values: dict[Symbol, mpmath.mpf], by_hand: bool) -> mpmath.mpf:
    if by_hand and factor.hand is not None:
        value = factor.hand(*[values[s] for s in factor.hand_args])
    else:
        value = factor.compute(*[values[s] for s in factor.args])
    return check(value, f"d{factor.num}/d{factor.den}")


def check(value: mpmath.mpf, what: str, double: bool = False) -> mpmath.mpf:
    """Refuse NaN or infinity anywhere (it would print as a wrong number), and, for the
    answers (`double`), values too large for the JSON key's doubles."""
    if not mpmath.isfinite(value) or (double and not math.isfinite(float(value))):
        raise NumericError(f"{what} is {mpmath.nstr(value, 8)}, not a finite number that fits a "
                           "double; the network's values are too large")
    return value
