"""Named slips: a wrong answer that a known mistake, made on the student's own values,
explains. Each is what the student would have written with that one mistake, so that
the feedback can name it:

- `update-sign`: w + eta * g instead of w - eta * g;
- `missing-sigma-prime`: a gradient without the factor sigma'(z) of one sigmoid neuron
  (or of all of them);
- `missing-path`: a hidden gradient's sum over paths without one of its paths;
- `half-missing` / `half-extra`: the 1/2 of a squared error dropped (the loss and every
  gradient twice as large) or added where the loss has none (half as large);
- `relu-prime-one`: ReLU'(z) taken as 1 for a unit with z <= 0.
"""
from __future__ import annotations

from typing import Iterator

from ..numeric import Value, product, total, value_of
from .chain import Chain, LocalValues

HALF_MISSING = {"half_squared_error": 2}  # the 1/2 dropped: twice the loss
HALF_EXTRA = {"squared_error": 0.5, "mean_squared_error": 0.5}  # a 1/2 added: half the loss


def slips(chain: Chain, quantity: str) -> Iterator[tuple[str, Value]]:
    """(name, value) of every slip that could explain an answer to `quantity`."""
    kind, _, key = quantity.partition(" ")
    if quantity == "loss":
        yield from half_slips(chain, chain.own["loss"])
    elif kind == "updated":
        yield from sign_slips(chain, key)
    elif kind == "grad":
        yield from gradient_slips(chain, key)


def half_slips(chain: Chain, value: Value) -> Iterator[tuple[str, Value]]:
    loss = chain.key.network.loss
    if loss in HALF_MISSING:
        yield "half-missing", product((value_of(HALF_MISSING[loss]), value))
    if loss in HALF_EXTRA:
        yield "half-extra", product((value_of(0.5), value))


def sign_slips(chain: Chain, key: str) -> Iterator[tuple[str, Value]]:
    """w + eta * g, with the student's g and with the key's."""
    eta = value_of(chain.key.network.learning_rate)
    old = chain.env[next(g.symbol for g in chain.derivation.gradients if g.parameter.key == key)]
    for gradient in (chain.gradient_used(key), value_of(chain.key.values.gradients[key])):
        yield "update-sign", total((old, product((eta, gradient))))


def gradient_slips(chain: Chain, key: str) -> Iterator[tuple[str, Value]]:
    own = chain.gradients[key]
    yield from half_slips(chain, own)
    for name, gradients in derivative_slips(chain):
        yield name, gradients[key]
    paths = chain.path_values(key)
    if len(paths) > 1:
        for path in paths:
            yield "missing-path", total((own, -path))


def derivative_slips(chain: Chain) -> Iterator[tuple[str, dict[str, Value]]]:
    """Every parameter's gradient with sigma' left out (of one sigmoid neuron at a time,
    then of all), and with ReLU' = 1 where z <= 0; worked out once per student."""
    if chain.derivative_slips is None:
        chain.derivative_slips = list(find_derivative_slips(chain))
    yield from chain.derivative_slips


def find_derivative_slips(chain: Chain) -> Iterator[tuple[str, dict[str, Value]]]:
    network, sym = chain.derivation.network, chain.derivation.symbols
    keys = {name: [(sym[u.a_symbol], sym[u.z_symbol]) for u in network.neurons  # type: ignore[index]
                   if u.activation.name == name]  # type: ignore[union-attr]
            for name in ("sigmoid", "relu")}
    sigmoid = [pair for pair in keys["sigmoid"] if pair in chain.locals]
    for pair in sigmoid + ([None] if len(sigmoid) > 1 else []):  # type: ignore[list-item]
        chosen = sigmoid if pair is None else [pair]
        gradients = chain.with_locals(lambda local: set_to_one(local, chosen))
        if gradients is not None:
            yield "missing-sigma-prime", gradients
    dead = [pair for pair in keys["relu"] if pair in chain.locals and chain.env[pair[1]] <= 0]
    gradients = chain.with_locals(lambda local: set_to_one(local, dead))
    if gradients is not None:
        yield "relu-prime-one", gradients


def set_to_one(local: LocalValues, pairs: list) -> bool:
    for pair in pairs:
        local[pair] = value_of(1)
    return bool(pairs)
