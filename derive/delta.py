"""The backward pass in delta form: each neuron's delta worked once and reused.

delta_j = dL/dz_j. At an output, delta_j = dL/da_j * f'(z_j); at a hidden neuron,
delta_j = f'(z_j) * sum over the neurons k it feeds of w_jk * delta_k. Then
dL/dw_ij = a_i * delta_j and dL/db_j = delta_j. The sum over paths of the path form
is the same number, factored: every delta is computed once, so the work grows with
the number of edges instead of the number of paths.

The numbers are derive.evaluate's (Values.deltas, and by hand the gradients it takes
from them); this module lays them out, each line with its formula and the numbers
substituted.
"""
from __future__ import annotations

from typing import NamedTuple

import sympy
from sympy import Symbol

from .derivation import L, Derivation
from .spec.notation import Z_LETTER
from .evaluate import Values
from .network import Unit
from .mapview import MapMatrix, backward_maps
from .mathnodes import Substituted, ordered_symbols
from .document import Section
from .solution import Shown


class DeltaLine(NamedTuple):
    """delta = factor * (term + term + ...), or, with no factor, the sum of the terms.

    Kept apart (not one SymPy product) so that a long sum can break across lines.
    """

    neuron: str
    delta: Symbol
    factor: sympy.Expr | None  # f'(z) of an elementwise activation
    terms: tuple[sympy.Expr, ...]  # dL/da and w_jk * delta_k, in the network's symbols
    factor_numbers: Substituted | None
    term_numbers: tuple[Substituted, ...]
    value: object


class DeltaGradient(NamedTuple):
    task: str | None  # the worksheet task it answers, as in the path form
    key: str
    symbol: Symbol
    formula: sympy.Expr  # a_i * delta_j, or delta_j for a bias
    numbers: Substituted | None  # None where the formula is delta_j itself: nothing to substitute
    value: object


class DeltaLayer(NamedTuple):
    number: int
    is_output: bool
    deltas: tuple[DeltaLine, ...]
    gradients: tuple[DeltaGradient, ...]
    maps: tuple[MapMatrix, ...] = ()  # a layer of maps: dL/dA and the delta map, as matrices
    compact: tuple[MapMatrix, ...] = ()  # ... and each kernel's gradient as X * delta
    shortcut: object = None  # the output's deltas worked as a - y: derive.shortcut.Shortcut


def delta_symbol(unit: Unit) -> Symbol:
    """delta_j^(l), written like the neuron's z_j^(l); a pre-activation not written z
    (notation.names: net_{h1}, h_1^{sum}) gives delta_{net_{h1}}."""
    z = unit.z_symbol
    if Z_LETTER.match(z):  # type: ignore[arg-type]
        return Symbol("\\delta" + z[1:])  # type: ignore[index]
    return Symbol(f"\\delta_{{{z}}}")


def delta_section(derivation: Derivation, values: Values, tasks: dict[str, str | None] | None = None,
                  shown: Shown = Shown(4, False), shortcut: object = None) -> Section:
    """The delta-form backward pass; `tasks` numbers the asked gradients (by parameter key).
    With `shortcut` (derive.shortcut.Shortcut) each output's delta is worked as a - y."""
    tasks = tasks or {}
    network = derivation.network
    known = dict(values.symbols)
    known.update({delta_symbol(u): values.deltas[u.name] for u in network.neurons if u.name in values.deltas})
    layers = []
    for number in range(len(network.layers), 0, -1):
        units = network.layers[number - 1]
        output = number == len(network.layers)
        if shortcut and output:  # delta_k = a_k - y_k (derive.shortcut)
            from .shortcut import shortcut_lines
            lines = shortcut_lines(derivation, values, shown)
        else:
            lines = tuple(delta_line(derivation, unit, values.deltas[unit.name], known, shown, values.locals)
                          for unit in units if unit.name in values.deltas)
        # each parameter once, where it is first used (a shared one: its first map entry)
        gradients = tuple(delta_gradient(derivation, parameter, values, known, tasks, shown)
                          for unit in units if unit.name in values.deltas
                          for parameter in unit.parameters
                          if network.uses[parameter.key][0] is parameter)
        gradients += tuple(delta_gradient(derivation, parameter, values, known, tasks, shown)
                           for parameter in network.idle if network.units[parameter.neuron] in units)
        layers.append(DeltaLayer(number, output, lines, gradients, *backward_maps(derivation, values, number),
                                 shortcut=shortcut if output else None))
    return Section("delta", "backward", tuple(layers))


def flowing(edge: object, consumer: Unit, routes: dict) -> sympy.Expr | None:
    """dz_c/da_k times delta_c for one consumer c: the weight on the edge times delta_c;
    through a max-pool unit delta_c itself where a_k is the window's (first) maximum and
    nothing where it is not, as a teacher writes it; through a mean, delta_c / n."""
    delta = delta_symbol(consumer)
    if consumer.pool == "max":
        return delta if routes[(edge.num, edge.den)] == 1 else None  # type: ignore[attr-defined]
    return edge.formula * delta  # type: ignore[attr-defined]


def delta_line(derivation: Derivation, unit: Unit, value: object, known: dict[Symbol, object],
               shown: Shown, routes: dict) -> DeltaLine:
    """delta_j as the sum over the outputs k of j's activation (j itself, or its softmax
    layer) of da_k/dz_j times what flows back into a_k."""
    network, sym = derivation.network, derivation.symbols
    local = {(f.num, f.den): f for f in derivation.locals}
    z = sym[unit.z_symbol]  # type: ignore[index]
    terms = []
    for k in network.layers[unit.layer - 1]:
        a_k = sym[k.a_symbol]
        if (a_k, z) not in local:
            continue
        inner = [local[(L, a_k)].formula] if (L, a_k) in local else []
        inner += [flowing(local[(sym[network.units[c].z_symbol], a_k)], network.units[c], routes)  # type: ignore[index]
                  for c in network.consumers[k.name] if delta_symbol(network.units[c]) in known]
        inner = [term for term in inner if term is not None] or [sympy.Integer(0)]
        terms.append((local[(a_k, z)].formula, inner))
    if len(terms) == 1:  # elementwise: f'(z) times the sum of what flows back
        factor, summands = terms[0][0], tuple(terms[0][1])
        whole = sympy.Mul(factor, sympy.Add(*summands, evaluate=False), evaluate=False)
    else:  # softmax: one term per output of the layer
        factor, summands = None, tuple(sympy.Mul(f, sympy.Add(*inner), evaluate=False) for f, inner in terms)
        whole = sympy.Add(*summands, evaluate=False)
    # one set of numbers for the whole line, so that it can be redone (derive.checkable)
    numbers = shown.formula(whole, {s: known[s] for s in ordered_symbols(whole)}, value).values
    return DeltaLine(unit.name, delta_symbol(unit), factor, summands,
                     Substituted(factor, pick(numbers, factor)) if factor is not None else None,
                     tuple(Substituted(t, pick(numbers, t)) for t in summands), value)


def pick(numbers: dict[Symbol, object], expr: sympy.Expr) -> dict[Symbol, object]:
    return {s: numbers[s] for s in ordered_symbols(expr)}


def delta_gradient(derivation: Derivation, parameter: object, values: Values, known: dict[Symbol, object],
                   tasks: dict[str, str | None], shown: Shown) -> DeltaGradient:
    """dL/dw = a_i delta_j (dL/db = delta_j); for a shared parameter, the sum of these
    over its uses (a kernel weight: one term per position of the map)."""
    network, sym = derivation.network, derivation.symbols
    key = parameter.key  # type: ignore[attr-defined]
    value = values.delta_gradients[key]
    # uses whose neuron feeds nothing targeted carry no delta (nothing flows there)
    terms = [delta_symbol(network.units[use.neuron]) if use.kind == "bias" else
             sympy.Mul(sym[network.units[use.source].a_symbol], delta_symbol(network.units[use.neuron]),  # type: ignore[index]
                       evaluate=False)
             for use in network.uses[key] if delta_symbol(network.units[use.neuron]) in known]
    if not terms:
        return DeltaGradient(tasks.get(key), key, sym[parameter.symbol], sympy.Integer(0), None, value)  # type: ignore[attr-defined]
    if len(terms) == 1 and parameter.kind == "bias":  # type: ignore[attr-defined]
        return DeltaGradient(tasks.get(key), key, sym[parameter.symbol], terms[0], None, value)  # type: ignore[attr-defined]
    formula = terms[0] if len(terms) == 1 else sympy.Add(*terms, evaluate=False)
    numbers = shown.formula(formula, {s: known[s] for s in ordered_symbols(formula)}, value)
    return DeltaGradient(tasks.get(key), key, sym[parameter.symbol], formula, numbers, value)  # type: ignore[attr-defined]
