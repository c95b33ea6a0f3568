"""The matrix form for a whole batch, and with the bias folded into the weights (seeds 003, 004).

Seed 003 writes a batch of m samples at once: X is d x m (one column per sample), and
so are A^(l), Z^(l), Y and the deltas Delta^(l); then

    Z^(l) = W^(l) A^(l-1) + b^(l) 1^T      (k x d)(d x m) + (k x m) = (k x m)
    Delta^(L) = A^(L) - Y                  where the loss and the output activation match
    Delta^(L) = dL/dA^(L) (.) f'(Z^(L))    otherwise (column i: sample i's own loss)
    Delta^(l) = ((W^(l+1))^T Delta^(l+1)) (.) f'(Z^(l))
    dL/dW^(l) = (1/m) Delta^(l) (A^(l-1))^T,   dL/db^(l) = (1/m) Delta^(l) 1

with no 1/m for a summed batch. Seed 004 folds the bias into the weights:
z = [W b] [a; 1], shapes (k x (d+1))((d+1) x 1), and the gradient of [W b] is one
matrix, delta [a; 1]^T. Each sample keeps its own vector form (derive.matrix, folded
there too when asked); this module adds the batch's matrices after its last sample.

Every matrix line is one operation on shown matrices, so a student can redo it: under
the exact policy the numbers are the working's and the operands get the digits each
line needs (derive.matrix_lines); by hand each result is computed from the shown
operands and rounded, as a student would (so its last digit can differ from the
path-by-path working's, which rounds at other places).

The batch is not written as one matrix product where it cannot be: a softmax layer
whose delta needs its Jacobian (one per sample) in a batch, or a missing connection
(whose gradient would need a mask); then the samples' vector forms stand alone, and
the section says why.
"""
from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from sympy import ImmutableMatrix, Symbol

from .derivation import Derivation, L
from .evaluate import Keep, Values, keeper
from .matrix import ZERO, activation_derivative, has_weight, numbers, output_of, skip_connections, weight_matrix
from .mathnodes import Applied, Grid, Partial
from .matrix_lines import AFFINE, MINUS, ODOT, PRODUCT, Op, Rows, matmul, minus, scaled, shown_operands, times
from .network import Unit
from .numeric import Value, product, total, value_of
from .document import Section, Step
from .solution import Shown

# (activation, loss) of the output layer whose delta is A - Y; softmax with cross-entropy
# only when every sample's targets add up to 1 (checked per batch)
SHORTCUTS = {("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy"),
             ("linear", "half_squared_error")}
INPUTS, TARGETS = Symbol("X"), Symbol("Y")
ONES, ONES_ROW = Symbol(r"\mathbf{1}"), Symbol(r"\mathbf{1}^{\top}")


class Symbols(NamedTuple):
    """How one layer's matrices are written: W, b, Z, A, Delta with the layer's index."""

    weight: Symbol
    bias: Symbol
    z: Symbol
    a: Symbol
    delta: Symbol


class BatchForward(NamedTuple):
    """Z = W S + b 1^T (or [W b] [S; 1^T]) and A = f(Z), S the layer below's outputs."""

    number: int
    is_output: bool
    activation: str
    rows: int  # k: neurons of this layer
    cols: int  # d: units of the layer below (the folded [W b] has d + 1 columns)
    names: Symbols
    source: Symbol  # X, or A^(l-1)
    block: ImmutableMatrix  # folded: [W b]; else W alone
    stacked: ImmutableMatrix  # folded: [S; 1^T]; else S alone
    entries: ImmutableMatrix | None  # folded: [W b] with each parameter's own symbol
    applied: Applied  # f(Z)
    weights: Grid  # W, or [W b]: the step's values
    line: tuple[Grid, ...]  # the operands of Z = ... as they print: (W, S, b 1^T), or ([W b], [S; 1^T])
    z_values: Grid
    a_values: Grid


class BatchBackward(NamedTuple):
    """Delta^(l), then the gradient of W (or [W b]) and b, and the update."""

    number: int
    is_output: bool
    rows: int
    cols: int
    names: Symbols
    source: Symbol
    stacked: ImmutableMatrix
    shortcut: bool  # output: Delta = A - Y
    difference: tuple[Grid, ...]  # shortcut: (A, Y) as they print
    loss_partial: Partial | None  # output, no shortcut: dL/dA, column i sample i's
    next_weight: Symbol | None  # hidden: W^(l+1)
    next_delta: Symbol | None  # hidden: Delta^(l+1)
    upstream_line: tuple[Grid, ...]  # hidden: ((W^(l+1))^T, Delta^(l+1)) as they print
    upstream: Grid  # dL/dA at the output, (W^(l+1))^T Delta^(l+1) below it
    derivative: Applied  # f'(Z)
    delta_line: tuple[Grid, ...]  # (upstream, f'(Z)) as they print; () for the shortcut
    deltas: Grid
    gradient_line: tuple[Grid, ...]  # (Delta, S^T) or, folded, (Delta, [S^T 1])
    gradient: Grid  # dL/dW, or dL/d[W b]
    bias_line: tuple[Grid, ...]  # unfolded: (Delta, 1)
    bias_gradient: Grid | None  # unfolded
    update_line: tuple[Grid, ...]  # (W, dL/dW), or ([W b], dL/d[W b]), as they print
    updated: Grid
    bias_update_line: tuple[Grid, ...]  # unfolded: (b, dL/db)
    updated_biases: Grid | None
    next_rows: int = 0  # hidden: neurons of layer l+1


class BatchMatrixForm(NamedTuple):
    samples: int  # m: columns of every activation matrix
    mean: bool  # the 1/m of a mean is written
    folded: bool
    eta: object
    inputs: Symbol  # X
    targets: Symbol  # Y
    ones: Symbol  # 1, a column of m ones
    forward: tuple[BatchForward, ...]  # layer 1 first
    backward: tuple[BatchBackward, ...]  # output layer first
    omitted: str = ""  # why the batch is not written in matrices (then nothing else is given)
    by_hand: bool = False  # the by-hand policy: each matrix result rounded from its shown operands


def layer_symbols(number: int) -> Symbols:
    sup = f"^{{({number})}}"
    return Symbols(Symbol("W" + sup), Symbol(r"\mathbf{b}" + sup), Symbol("Z" + sup),
                   Symbol("A" + sup), Symbol(r"\Delta" + sup))


def batch_sections(derivation: Derivation, steps: tuple[Step, ...], values: list[Values],
                   shown: Shown, folded: bool) -> dict[int, Section]:
    """The batch matrix section of each mini-batch, by the index of its last sample's step."""
    sections = {}
    for indices, reduction in batch_groups(steps):
        batch = [values[i] for i in indices]
        why = omitted(derivation, batch)
        if why:
            form = BatchMatrixForm(len(indices), False, folded, derivation.network.learning_rate,
                                   INPUTS, TARGETS, ONES, (), (), omitted=why)
        else:
            form = batch_form(derivation, batch, reduction == "mean", folded, shown)
        sections[indices[-1]] = Section("matrix_batch", "end", form)
    return sections


def batch_groups(steps: tuple[Step, ...]) -> list[tuple[list[int], str]]:
    """(indices of the steps, reduction) of each mini-batch: the step carrying the batch
    update (derive.batch) ends it, and its `size` samples are the steps up to it."""
    groups = []
    for i, step in enumerate(steps):
        batch = next((s.content for s in step.sections if s.kind == "batch"), None)
        if batch is not None:
            size = batch.size  # type: ignore[attr-defined]
            groups.append((list(range(i - size + 1, i + 1)), batch.reduction))  # type: ignore[attr-defined]
    return groups


def omitted(derivation: Derivation, batch: list[Values]) -> str:
    """Why the batch cannot be written as matrix products here; "" when it can."""
    network = derivation.network
    if network.maps or skip_connections(network):
        return "the network is not a stack of full layers (see the matrix form above)"
    columns = (network.inputs,) + network.layers
    for number in range(1, len(columns)):
        if any(not has_weight(u, s.name) for u in columns[number] for s in columns[number - 1]):
            return (f"layer {number} has a missing connection, whose weight is no parameter: every "
                    "product would need a mask")
    for number, layer in enumerate(network.layers, 1):
        if layer[0].activation.name == "softmax" and not (  # type: ignore[union-attr]
                number == len(network.layers) and uses_shortcut(derivation, batch)):
            why = ("" if number < len(network.layers) else
                   ", and with this loss and these targets its delta is not A - Y")
            return (f"the softmax of layer {number} couples its outputs, so each sample's delta is "
                    f"its own Jacobian product, not one entry-by-entry product for the batch{why}")
    return ""


def shortcut_pair(derivation: Derivation) -> bool:
    """The output activation and the loss make dL/dz = a - y (every output has a target)."""
    network = derivation.network
    activation = network.layers[-1][0].activation.name  # type: ignore[union-attr]
    return ((activation, network.loss) in SHORTCUTS
            and len(derivation.outputs) == len(network.layers[-1]))


def uses_shortcut(derivation: Derivation, batch: list[Values]) -> bool:
    if not shortcut_pair(derivation):
        return False
    if derivation.network.loss != "cross_entropy":
        return True
    # softmax with cross-entropy: dL/dz_k = a_k (sum of the y) - y_k, a_k - y_k when they add up to 1
    return all(total(value_of(v.symbols[y]) for _, _, y in derivation.outputs) == 1 for v in batch)


class Context(NamedTuple):
    """What every layer of one batch's form is built from."""

    derivation: Derivation
    batch: list[Values]
    columns: tuple[tuple[Unit, ...], ...]  # the inputs, then each layer's neurons
    forward: tuple[BatchForward, ...]
    folded: bool
    scale: Value  # 1/m for a mean, 1 for a sum
    keep: Keep  # what a value carried on is: itself, or (by hand) the shown decimal
    shown: Shown


def batch_form(derivation: Derivation, batch: list[Values], mean: bool, folded: bool,
               shown: Shown) -> BatchMatrixForm:
    network = derivation.network
    columns = (network.inputs,) + network.layers
    forward = tuple(forward_layer(derivation, batch, number, columns, folded, shown)
                    for number in range(1, len(columns)))
    context = Context(derivation, batch, columns, forward, folded,
                      Fraction(1, len(batch)) if mean else Fraction(1),
                      keeper("exact" if shown.check else "by-hand", shown.digits), shown)
    shortcut = uses_shortcut(derivation, batch)
    backward: list[BatchBackward] = []
    for number in range(len(network.layers), 0, -1):
        backward.append(backward_layer(context, number, backward[-1] if backward else None, shortcut))
    return BatchMatrixForm(len(batch), mean, folded, network.learning_rate, INPUTS, TARGETS, ONES,
                           forward, tuple(backward), by_hand=not shown.check)


def grid(rows: Rows | list[list[object]]) -> Grid:
    return numbers(rows)  # type: ignore[arg-type]


def rows(g: Grid) -> list[list[object]]:
    return [list(row) for row in g.rows]


def kept(c: Context, values: Rows) -> Grid:
    return grid([[c.keep(x) for x in row] for row in values])


def line(c: Context, operands: tuple[Grid, ...], op: Op, result: Grid) -> tuple[Grid, ...]:
    """The operands of the line `op(operands) = result` as they print (derive.matrix_lines)."""
    return shown_operands(operands, op, result, c.shown.digits, c.shown.check)


def per_sample(derivation: Derivation, batch: list[Values], units: tuple[Unit, ...], symbol: str) -> Grid:
    """One row per unit, one column per sample: each unit's z ("z_symbol") or a ("a_symbol")."""
    sym = derivation.symbols
    return grid([[v.symbols[sym[getattr(u, symbol)]] for v in batch] for u in units])


def outputs_below(derivation: Derivation, batch: list[Values], below: tuple[Unit, ...]) -> Grid:
    """S: the outputs of the layer below (the inputs for layer 1), one column per sample."""
    return grid([[output_of(derivation, v, u) for v in batch] for u in below])


def ordered_weights(unit: Unit, below: tuple[Unit, ...]) -> list:
    """The unit's weights in the order of the layer below (the columns of W)."""
    by_source = {w.source: w for w in unit.weights}
    return [by_source[s.name] for s in below]


def forward_layer(derivation: Derivation, batch: list[Values], number: int,
                  columns: tuple[tuple[Unit, ...], ...], folded: bool, shown: Shown) -> BatchForward:
    network, sym, first = derivation.network, derivation.symbols, batch[0]
    layer, below = columns[number], columns[number - 1]
    names = layer_symbols(number)
    source = INPUTS if number == 1 else layer_symbols(number - 1).a
    # from the step's values, not the spec's: a later iteration works with the updated weights
    weights = weight_matrix(network, layer, below, lambda p: first.symbols[sym[p.symbol]])
    biases = [first.symbols[sym[u.bias.symbol]] for u in layer]  # type: ignore[union-attr]
    below_values = outputs_below(derivation, batch, below)
    z_values = per_sample(derivation, batch, layer, "z_symbol")
    activation = layer[0].activation.name  # type: ignore[union-attr]
    entries = None
    if folded:
        weights = grid([list(row) + [b] for row, b in zip(weights.rows, biases)])
        stacked_values = grid(rows(below_values) + [[1] * len(batch)])
        operands = shown_operands((weights, stacked_values), PRODUCT, z_values, shown.digits, shown.check)
        entries = ImmutableMatrix([[sym[w.symbol] for w in ordered_weights(u, below)]
                                   + [sym[u.bias.symbol]] for u in layer])  # type: ignore[union-attr]
        block = ImmutableMatrix([[names.weight, names.bias]])
        stacked = ImmutableMatrix([[source], [ONES_ROW]])
    else:
        repeated = grid([[b] * len(batch) for b in biases])
        operands = shown_operands((weights, below_values, repeated), AFFINE, z_values, shown.digits, shown.check)
        block, stacked = ImmutableMatrix([[names.weight]]), ImmutableMatrix([[source]])
    return BatchForward(number, number == len(columns) - 1, activation, len(layer), len(below), names,
                        source, block, stacked, entries, Applied(activation, names.z), weights, operands,
                        z_values, per_sample(derivation, batch, layer, "a_symbol"))


def backward_layer(c: Context, number: int, above: BatchBackward | None, shortcut: bool) -> BatchBackward:
    derivation, batch = c.derivation, c.batch
    network, sym = derivation.network, derivation.symbols
    layer, below = c.columns[number], c.columns[number - 1]
    here = c.forward[number - 1]
    is_output = number == len(network.layers)
    shortcut = shortcut and is_output

    difference: tuple[Grid, ...] = ()
    upstream_line: tuple[Grid, ...] = ()
    delta_line: tuple[Grid, ...] = ()
    loss_partial = next_weight = next_delta = None
    if is_output:
        upstream = grid([[value_of(v.locals.get((L, sym[u.a_symbol]), ZERO)) for v in batch] for u in layer])
        loss_partial = Partial(L, here.names.a)
    else:
        above_forward = c.forward[number]
        next_weight, next_delta = above_forward.names.weight, above_forward.names.delta
        next_t = weight_matrix(network, c.columns[number + 1], layer,
                               lambda p: batch[0].symbols[sym[p.symbol]]).T
        deltas_above = above.deltas  # type: ignore[union-attr]
        upstream = kept(c, matmul(rows(next_t), rows(deltas_above)))
        upstream_line = line(c, (next_t, deltas_above), PRODUCT, upstream)

    if shortcut:
        targets = grid([[v.symbols[y] for v in batch] for _, _, y in derivation.outputs])
        if c.shown.check:  # the working's a - y of each sample
            deltas = grid([[v.simplified[name] for v in batch] for name, _, _ in derivation.outputs])
        else:
            deltas = kept(c, minus(rows(here.a_values), rows(targets)))
        difference = line(c, (here.a_values, targets), MINUS, deltas)
    else:
        slopes = grid([[value_of(activation_derivative(derivation, v, u, u)) for v in batch] for u in layer])
        if c.shown.check:  # the working's dL/dz of each sample
            deltas = grid([[v.deltas.get(u.name, ZERO) for v in batch] for u in layer])
        else:
            deltas = kept(c, times(rows(upstream), rows(slopes)))
        delta_line = line(c, (upstream, slopes), ODOT, deltas)

    below_t = outputs_below(derivation, batch, below).T
    stacked_t = grid([list(row) + ([1] if c.folded else []) for row in below_t.rows])
    gradient = gradients(c, layer, below, deltas, stacked_t)
    gradient_line = line(c, (deltas, stacked_t), Op("product", c.scale), gradient)
    eta = value_of(network.learning_rate)
    updated = updates(c, layer, below, here.weights, gradient)
    update_line = line(c, (here.weights, gradient), Op("update", eta), updated)

    bias_line: tuple[Grid, ...] = ()
    bias_update_line: tuple[Grid, ...] = ()
    bias_gradient = updated_biases = None
    if not c.folded:  # the bias column of the folded form, on its own
        ones = grid([[1] for _ in batch])
        with_ones = grid([list(row) + [1] for row in below_t.rows])
        bias_gradient = grid([[row[-1]] for row in gradients(c, layer, below, deltas, with_ones).rows])
        bias_line = line(c, (deltas, ones), Op("product", c.scale), bias_gradient)
        biases = grid([[batch[0].symbols[sym[u.bias.symbol]]] for u in layer])  # type: ignore[union-attr]
        both = grid([list(w) + list(b) for w, b in zip(here.weights.rows, biases.rows)])
        both_gradients = grid([list(w) + list(b) for w, b in zip(gradient.rows, bias_gradient.rows)])
        updated_biases = grid([[row[-1]] for row in updates(c, layer, below, both, both_gradients).rows])
        bias_update_line = line(c, (biases, bias_gradient), Op("update", eta), updated_biases)
    return BatchBackward(number, is_output, len(layer), len(below), here.names, here.source, here.stacked,
                         shortcut, difference, loss_partial, next_weight, next_delta, upstream_line, upstream,
                         Applied(here.activation, here.names.z, prime=True), delta_line, deltas,
                         gradient_line, gradient, bias_line, bias_gradient, update_line, updated,
                         bias_update_line, updated_biases, 0 if is_output else len(c.columns[number + 1]))


def parameter_keys(layer: tuple[Unit, ...], below: tuple[Unit, ...], with_bias: bool) -> list[list[str]]:
    """The keys of W's entries row by row, and of b as a last column when `with_bias`."""
    return [[w.key for w in ordered_weights(u, below)] + ([u.bias.key] if with_bias else [])  # type: ignore[union-attr]
            for u in layer]


def gradients(c: Context, layer: tuple[Unit, ...], below: tuple[Unit, ...], deltas: Grid,
              stacked_t: Grid) -> Grid:
    """dL/dW (and, with a last column of ones in `stacked_t`, dL/db beside it).

    By hand: (1/m) Delta S^T from the shown numbers, rounded. Exact: the working's
    gradients, combined over the batch as the batch update combines them."""
    if not c.shown.check:
        return kept(c, matmul(rows(deltas), rows(stacked_t), c.scale))
    keys = parameter_keys(layer, below, len(stacked_t.rows[0]) == len(below) + 1)
    return grid([[combined(c, key) for key in row] for row in keys])


def combined(c: Context, key: str) -> Value:
    """The batch's gradient of one parameter: 1/m (or 1) times the sum of the samples'."""
    return product((c.scale, total(value_of(v.gradients[key]) for v in c.batch)))


def updates(c: Context, layer: tuple[Unit, ...], below: tuple[Unit, ...], old: Grid, gradient: Grid) -> Grid:
    """old - eta * gradient: by hand from the shown numbers; exact, as the batch update computes it."""
    eta = value_of(c.derivation.network.learning_rate)
    if not c.shown.check:
        return kept(c, minus(rows(old), scaled(rows(gradient), eta)))
    keys = parameter_keys(layer, below, len(old.rows[0]) == len(below) + 1)
    return grid([[total((value_of(before), -product((eta, combined(c, key)))))
                  for before, key in zip(old_row, row)] for old_row, row in zip(old.rows, keys)])
