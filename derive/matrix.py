"""The step in matrix form (seeds 003 and 004): each layer at once, as vectors and matrices.

Forward, layer l: z^(l) = W^(l) a^(l-1) + b^(l) and a^(l) = f(z^(l)), where W^(l) has one
row per neuron of layer l and one column per unit of layer l-1 (0 where the spec has no
such connection) and a^(0) = x. Backward: delta^(L) = dL/da^(L) (.) f'(z^(L)) at the
output, delta^(l) = ((W^(l+1))^T delta^(l+1)) (.) f'(z^(l)) below it, and then
dL/dW^(l) = delta^(l) (a^(l-1))^T and dL/db^(l) = delta^(l). A softmax layer couples its
outputs, so there the elementwise product is replaced by its Jacobian:
delta = (da/dz)^T dL/da.

Every number is taken from the step's Values, not recomputed another way: the deltas
are the bias gradients (dz_j/db_j = 1, so dL/db_j = dL/dz_j), the gradient matrices hold
the weight gradients, f' holds the local derivatives of the backward pass. The one
value computed here is the product (W^(l+1))^T delta^(l+1), which the page shows on the
way to delta^(l); the tests check that it times f' gives the same delta.

The matrix form needs a strictly layered network: a skip connection (a weight from
a layer other than the previous one) has no place in W^(l) a^(l-1), so such a
network gets a sentence saying so instead.

Here each step is one sample (`samples` is 1); a mini-batch's matrices, X as d x m and
dL/dW^(l) = (1/m) Delta^(l) (A^(l-1))^T, come after its last sample (derive.matrix_batch).
With `fold`, each layer is also shown as one product [W b] [a; 1] (FoldedLayer: the same
numbers, b as W's last column). Each numeric line's operands as they print, with the
digits the line needs, are derive.matrix_lines's LayerLines.
"""
from __future__ import annotations

from typing import NamedTuple

from fractions import Fraction
from typing import Callable

import sympy
from sympy import ImmutableMatrix, Symbol

from .derivation import Derivation, L
from .evaluate import Keep, Values, keeper
from .evaluate import number as double  # a double where one holds the value
from .network import Network, Parameter, Unit
from .numeric import Value, product, total, value_of
from .mathnodes import Applied, Grid, Partial
from .matrix_lines import LayerLines, vector_lines
from .document import Section
from .solution import Shown

ZERO = Fraction(0)


class MatrixForward(NamedTuple):
    """z^(l) = W^(l) a^(l-1) + b^(l), a^(l) = f(z^(l)): shapes (rows x cols)(cols x 1) + (rows x 1)."""

    number: int
    is_output: bool
    activation: str
    rows: int  # n_l: neurons of layer l
    cols: int  # n_{l-1}: units of layer l-1
    weight: Symbol  # W^(l)
    bias: Symbol  # b^(l)
    z: Symbol  # z^(l)
    a: Symbol  # a^(l)
    source: Symbol  # a^(l-1), or x for layer 1
    applied: Applied  # f(z^(l))
    weights: Grid  # rows x cols
    biases: Grid  # rows x samples
    inputs: Grid  # cols x samples
    z_values: Grid
    a_values: Grid
    missing: int  # entries of W that are absent connections (shown as 0)


class MatrixBackward(NamedTuple):
    """delta^(l), then dL/dW^(l) = delta^(l) (a^(l-1))^T and dL/db^(l) = delta^(l)."""

    number: int
    is_output: bool
    activation: str
    rows: int
    cols: int
    weight: Symbol
    bias: Symbol
    z: Symbol
    a: Symbol
    source: Symbol
    delta: Symbol  # delta^(l)
    # what flows back into a^(l): dL/da^(L) at the output, (W^(l+1))^T delta^(l+1) below
    upstream: Grid
    loss_formulas: ImmutableMatrix | None  # output: dL/da_k per output neuron (0 if untargeted)
    loss_partial: Partial | None  # output: dL/da^(L)
    next_weight: Symbol | None  # hidden: W^(l+1)
    next_delta: Symbol | None  # hidden: delta^(l+1)
    next_weights_t: Grid | None  # hidden: (W^(l+1))^T, numbers
    next_deltas: Grid | None  # hidden: delta^(l+1), numbers
    elementwise: bool  # f'(z) elementwise; False for softmax (Jacobian)
    derivative: Applied | Partial  # f'(z^(l)), or da^(l)/dz^(l) for softmax
    derivative_values: Grid  # rows x 1 (elementwise), or the Jacobian transposed (softmax)
    deltas: Grid  # rows x samples
    sources_t: Grid  # (a^(l-1))^T: samples x cols
    weight_gradient: Grid  # rows x cols, 0 at absent connections
    bias_gradient: Grid  # rows x 1
    mask: ImmutableMatrix | None  # 1 where a connection exists, when some do not
    updated_weights: Grid
    updated_biases: Grid


class FoldedLayer(NamedTuple):
    """One layer with the bias folded into the weights (seed 004): z = [W b] [a; 1], and
    the gradient of [W b] as one matrix, delta [a; 1]^T. The same numbers as the
    unfolded layer, with b as a last column of W and a 1 below a."""

    block: ImmutableMatrix  # [W b]
    stacked: ImmutableMatrix  # [a; 1]
    entries: ImmutableMatrix  # [W b] with each parameter's own symbol (0 where no connection)
    weights: Grid  # [W b]: rows x (cols + 1)
    inputs: Grid  # [a; 1]: (cols + 1) x 1
    sources_t: Grid  # [a^T 1]
    gradient: Grid  # [dL/dW dL/db]
    mask: ImmutableMatrix | None  # [M 1], when some connection is missing
    updated: Grid  # [W b] after the update


class MatrixForm(NamedTuple):
    layered: bool  # False: a skip connection, or maps; the form is omitted
    skips: tuple[tuple[Symbol, str, str], ...]  # (weight, source, neuron) of each skip connection
    samples: int  # columns of each activation matrix (1: one sample)
    eta: float
    forward: tuple[MatrixForward, ...]  # layer 1 first
    backward: tuple[MatrixBackward, ...]  # output layer first
    folded: tuple[FoldedLayer, ...] = ()  # layer 1 first, when the bias is folded into the weights
    lines: tuple[LayerLines, ...] = ()  # layer 1 first: each numeric line's operands as they print


def vector_symbols(number: int) -> dict[str, Symbol]:
    """The notation of layer `number` as a whole: W^(l), bold b, z, a, delta."""
    sup = f"^{{({number})}}"
    return {"weight": Symbol("W" + sup), "bias": Symbol(r"\mathbf{b}" + sup),
            "z": Symbol(r"\mathbf{z}" + sup), "a": Symbol(r"\mathbf{a}" + sup),
            "delta": Symbol(r"\boldsymbol{\delta}" + sup)}


INPUT_VECTOR = Symbol(r"\mathbf{x}")


def numbers(rows: list[list[object]]) -> Grid:
    return Grid(tuple(tuple(row) for row in rows))


def column(values: list[object]) -> Grid:
    return numbers([[v] for v in values])


def skip_connections(network: Network) -> tuple[tuple[str, str, str], ...]:
    """(weight symbol, source, neuron) of every weight that does not come from the previous layer."""
    return tuple((w.symbol, w.source, unit.name)  # type: ignore[misc]
                 for unit in network.neurons for w in unit.weights
                 if network.units[w.source].layer != unit.layer - 1)  # type: ignore[index]


def matrix_section(derivation: Derivation, values: Values, shown: Shown = Shown(4, False),
                   fold: bool = False) -> Section:
    """The step in matrix form (with the bias folded into the weights when `fold`). Its
    backward chain is computed here, as the page shows it (the vector flowing back, f',
    then delta, each shown), so that by hand every shown vector follows from the shown
    vectors before it; in exact arithmetic it is the backward pass's numbers, and each
    line's operands show the digits it needs to be redone (derive.matrix_lines)."""
    network = derivation.network
    sym = derivation.symbols
    if network.maps:  # a map's weights are a kernel, not a matrix W^(l): no such form
        return Section("matrix", "end", MatrixForm(False, (), 1, network.learning_rate, (), ()))
    skips = skip_connections(network)
    if skips:
        return Section("matrix", "end", MatrixForm(
            False, tuple((sym[s], source, neuron) for s, source, neuron in skips), 1,
            network.learning_rate, (), ()))
    keep = keeper("exact" if shown.check else "by-hand", shown.digits)
    columns = (network.inputs,) + network.layers
    forward = tuple(forward_layer(derivation, values, number, columns)
                    for number in range(1, len(columns)))
    backward: list[MatrixBackward] = []
    deltas: dict[str, Value] = {}
    for number in range(len(network.layers), 0, -1):
        backward.append(backward_layer(derivation, values, number, columns, forward,
                                       backward[-1] if backward else None, deltas, keep, not shown.check))
    folded = tuple(folded_layer(derivation, columns, f, b) for f, b in zip(forward, reversed(backward))) \
        if fold else ()
    eta = value_of(network.learning_rate)
    lines = tuple(vector_lines(f, b, folded[i] if folded else None, eta, shown.digits, shown.check)
                  for i, (f, b) in enumerate(zip(forward, reversed(backward))))
    return Section("matrix", "end", MatrixForm(True, (), 1, network.learning_rate, forward,
                                               tuple(backward), folded, lines))


def folded_layer(derivation: Derivation, columns: tuple[tuple[Unit, ...], ...], f: MatrixForward,
                 b: MatrixBackward) -> FoldedLayer:
    """The layer's matrices with the bias as a last column of W (and a 1 below a)."""
    def beside(left: Grid, right: Grid) -> Grid:
        return Grid(tuple(tuple(l) + tuple(r) for l, r in zip(left.rows, right.rows)))

    layer, below = columns[f.number], columns[f.number - 1]
    sym = derivation.symbols
    entries = ImmutableMatrix([[sym[by_source[s.name].symbol] if s.name in by_source else sympy.Integer(0)
                                for s in below] + [sym[u.bias.symbol]]  # type: ignore[union-attr]
                               for u in layer for by_source in ({w.source: w for w in u.weights},)])
    mask = None if b.mask is None else ImmutableMatrix.hstack(b.mask, ImmutableMatrix([[1]] * f.rows))
    return FoldedLayer(ImmutableMatrix([[f.weight, f.bias]]), ImmutableMatrix([[f.source], [1]]), entries,
                       beside(f.weights, f.biases), Grid(f.inputs.rows + ((1,),)),
                       Grid((b.sources_t.rows[0] + (1,),)), beside(b.weight_gradient, b.bias_gradient), mask,
                       beside(b.updated_weights, b.updated_biases))


def output_of(derivation: Derivation, values: Values, unit: Unit) -> object:
    return values.symbols[derivation.symbols[unit.a_symbol]]


def forward_layer(derivation: Derivation, values: Values, number: int,
                  columns: tuple[tuple[Unit, ...], ...]) -> MatrixForward:
    network, v = derivation.network, values.symbols
    sym = derivation.symbols
    layer, below = columns[number], columns[number - 1]
    names = vector_symbols(number)
    # from the step's values, not the spec's: a later step works with the updated weights
    weights = weight_matrix(network, layer, below, lambda p: v[sym[p.symbol]])
    activation = layer[0].activation.name  # type: ignore[union-attr]
    missing = sum(1 for unit in layer for source in below if not has_weight(unit, source.name))
    return MatrixForward(
        number, number == len(columns) - 1, activation, len(layer), len(below),
        names["weight"], names["bias"], names["z"], names["a"],
        INPUT_VECTOR if number == 1 else vector_symbols(number - 1)["a"],
        Applied(activation, names["z"]), weights,
        column([v[sym[u.bias.symbol]] for u in layer]),  # type: ignore[union-attr]
        column([output_of(derivation, values, u) for u in below]),
        column([v[sym[u.z_symbol]] for u in layer]),  # type: ignore[index]
        column([v[sym[u.a_symbol]] for u in layer]), missing)


def has_weight(unit: Unit, source: str) -> bool:
    return any(w.source == source for w in unit.weights)


def weight_matrix(network: Network, layer: tuple[Unit, ...], below: tuple[Unit, ...],
                  value: Callable[[Parameter], object]) -> Grid:
    """Row j, column i: `value` of the weight from unit i of `below` to neuron j (0 if none)."""
    rows = []
    for unit in layer:
        by_source = {w.source: w for w in unit.weights}
        rows.append([value(by_source[s.name]) if s.name in by_source else ZERO for s in below])
    return numbers(rows)


def backward_layer(derivation: Derivation, values: Values, number: int,
                   columns: tuple[tuple[Unit, ...], ...], forward: tuple[MatrixForward, ...],
                   above: MatrixBackward | None, deltas: dict[str, Value], keep: Keep,
                   by_hand: bool) -> MatrixBackward:
    network, v, sym = derivation.network, values.symbols, derivation.symbols
    layer, below = columns[number], columns[number - 1]
    here = forward[number - 1]
    names = vector_symbols(number)
    is_output = number == len(network.layers)

    loss_formulas = loss_partial = next_weight = next_delta = next_t = next_deltas = None
    if is_output:
        local = {(f.num, f.den): f for f in derivation.locals}
        a_syms = [sym[u.a_symbol] for u in layer]
        loss_formulas = ImmutableMatrix([[local[(L, a)].formula if (L, a) in local else sympy.Integer(0)]
                                         for a in a_syms])
        upstream = [value_of(values.locals.get((L, a), ZERO)) for a in a_syms]
        loss_partial = Partial(L, names["a"])
    else:
        nxt = forward[number]  # layer l+1
        next_weight, next_delta = nxt.weight, vector_symbols(number + 1)["delta"]
        next_t = nxt.weights.T
        next_deltas = above.deltas  # type: ignore[union-attr]
        consumers = columns[number + 1]
        # (W^(l+1))^T delta^(l+1), shown on the way to delta^(l)
        upstream = [keep(total(product((value_of(v[sym[w.symbol]]), deltas[c.name]))
                               for c in consumers for w in c.weights if w.source == u.name))
                    for u in layer]

    activation = here.activation
    elementwise = activation != "softmax"
    if elementwise:
        derivative: Applied | Partial = Applied(activation, names["z"], prime=True)
        slopes = [value_of(activation_derivative(derivation, values, u, u)) for u in layer]
        derivative_values = column(slopes)
        layer_deltas = [keep(product((d, s))) for d, s in zip(upstream, slopes)]
    else:
        derivative = Partial(names["a"], names["z"])
        jacobian = [[value_of(activation_derivative(derivation, values, k, j)) for j in layer] for k in layer]
        derivative_values = numbers(jacobian).T  # shown as (da/dz)^T
        layer_deltas = [keep(total(product((jacobian[k][j], upstream[k])) for k in range(len(layer))))
                        for j in range(len(layer))]
    if not by_hand:  # the working's deltas, computed at its working precision
        layer_deltas = [value_of(values.deltas.get(u.name, ZERO)) for u in layer]
    deltas.update({u.name: d for u, d in zip(layer, layer_deltas)})

    eta = value_of(network.learning_rate)
    gradients = {w.key: keep(product((value_of(output_of(derivation, values, network.units[w.source])),
                                      deltas[u.name])))  # type: ignore[index]
                 for u in layer for w in u.weights}
    gradients.update({u.bias.key: deltas[u.name] for u in layer})  # type: ignore[union-attr]
    updated = {key: keep(total((value_of(v[sym[p.symbol]]), -product((eta, gradients[key])))))
               for u in layer for p in (*u.weights, u.bias) for key in (p.key,)}  # type: ignore[union-attr]
    if not by_hand:  # the same numbers as the working's, to the last bit
        gradients = {key: values.gradients[key] for key in gradients}
        updated = {key: values.updated[key] for key in updated}
    mask = None
    if here.missing:
        mask = ImmutableMatrix([[1 if has_weight(u, s.name) else 0 for s in below] for u in layer])
    return MatrixBackward(
        number, is_output, activation, len(layer), len(below), names["weight"], names["bias"],
        names["z"], names["a"], here.source, names["delta"], column(upstream), loss_formulas,
        loss_partial, next_weight, next_delta, next_t, next_deltas, elementwise, derivative,
        derivative_values, column(layer_deltas),
        numbers([[output_of(derivation, values, s) for s in below]]),
        weight_matrix(network, layer, below, lambda p: gradients[p.key]),
        column([gradients[u.bias.key] for u in layer]), mask,  # type: ignore[union-attr]
        weight_matrix(network, layer, below, lambda p: updated[p.key]),
        column([updated[u.bias.key] for u in layer]))  # type: ignore[union-attr]


def activation_derivative(derivation: Derivation, values: Values, output: Unit, source: Unit) -> object:
    """da_output/dz_source as the backward pass valued it.

    A neuron that feeds no targeted output has no local derivative in the backward pass
    (nothing flows back through it, and its delta is 0); its f'(z) is then valued from
    the derivation's compiled derivative, as the backward pass would have.
    """
    sym = derivation.symbols
    key = (sym[output.a_symbol], sym[source.z_symbol])  # type: ignore[index]
    if key in values.locals:
        return values.locals[key]
    if output.activation.name == "softmax":  # type: ignore[union-attr]
        from .derivation import softmax_rule
        layer = derivation.network.layers[output.layer - 1]
        rule = softmax_rule(len(layer))
        zs = [values.symbols[sym[u.z_symbol]] for u in layer]  # type: ignore[index]
        return double(rule.df[(output.index - 1, source.index - 1)](*zs))
    from .derivation import activation_rule
    rule = activation_rule(output.activation)  # type: ignore[arg-type]
    return double(rule.df(values.symbols[key[1]]))
