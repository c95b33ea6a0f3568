"""Stage 5: the document model, the worked answer as ordered data.

Steps hold SymPy objects, a few small math nodes (Partial, LinearSum, Substituted) and
floats; never LaTeX or Markdown text. The renderer decides how each prints, so the
key, the worksheet and the JSON all come from one model.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import count
from typing import Iterator, NamedTuple

import sympy
from sympy import Symbol

from . import checkable, diagram
from .derivation import LOSS_TEXT, L, Derivation, Forward, Gradient, Local
from .evaluate import Values
from .maps import split_entry
from .mapview import forward_maps, given_maps
from .mathnodes import Applied, LinearSum, Partial, Substituted, ordered_symbols
from .network import Network, Parameter, Unit
from .spec import Notation


# --- the steps -----------------------------------------------------------------------------

# A map with more entries than this is worked at its first entry only; the key shows all of
# them in the map's matrix (a 10 x 10 map worked entry by entry would fill pages).
WORKED_ENTRIES = 16


class Section(NamedTuple):
    """An optional part of the answer, rendered by the template `_<kind>.<format>.j2`.

    `place` says where: "start" (before the forward pass), "backward" (after the
    path-by-path blocks, or instead of them in delta form), or "end" (after the summary).
    """

    kind: str
    place: str
    content: object


class GivenValue(NamedTuple):
    symbol: Symbol
    name: str  # the spec's name for it (x1, h1 -> g2, ...)
    value: float


class ForwardLine(NamedTuple):
    task: str | None  # "1.k": the worksheet task this line answers (first iteration only)
    neuron: str
    z: Symbol
    z_formula: LinearSum | sympy.Expr  # a pooling unit's: max(...) or the mean
    z_numbers: Substituted
    z_value: float
    a: Symbol
    activation: str
    applied: Applied  # f(z) by name
    f_of_z: Substituted  # f(z) written out, in this neuron's z
    a_numbers: Substituted | None  # None for the identity: a = z, nothing to substitute
    a_value: float
    worked: bool = True  # False: an entry of a large map, shown only in the map's matrix


class ForwardLayer(NamedTuple):
    number: int
    is_output: bool
    activation: str
    lines: tuple[ForwardLine, ...]
    maps: tuple = ()  # a layer of maps: each as a matrix (derive.mapview.MapMatrix)
    ties: tuple = ()  # max pooling: windows whose maximum appears more than once (mapview.Tie)
    partly: tuple[str, ...] = ()  # maps too large to work entry by entry: only the first entry is


class LossBlock(NamedTuple):
    task: str | None
    name: str  # e.g. "half squared error"
    formula: sympy.Expr
    numbers: Substituted
    value: float


class LocalLine(NamedTuple):
    """One local derivative, worked: formula, numbers, value (and why, for ReLU)."""

    partial: Partial
    formula: sympy.Expr
    numbers: Substituted | None  # None for a constant (id' = 1): it is its own value
    value: float
    z_value: float | None  # for activation derivatives: the z it was taken at
    piecewise: bool  # ReLU-like: the value depends on the sign of z
    applied: Applied | None  # f'(z) by name, for activation derivatives


class PathLine(NamedTuple):
    chain: tuple[Partial, ...]
    formulas: tuple[object, ...]  # SymPy expressions, or Applied for ReLU'(z)
    numbers: tuple[float, ...]
    value: float
    dead: tuple[tuple[Symbol, float], ...]  # (z, value) of ReLU-like units that zero this path


class GradientBlock(NamedTuple):
    task: str | None  # "3.k" when asked, numbered in the order the backward pass works them
    key: str
    kind: str  # "weight" or "bias"
    symbol: Symbol
    paths: tuple[PathLine, ...]
    value: float
    dead: tuple[tuple[Symbol, float], ...]  # ReLU-like units at z <= 0 on any path, once each
    terms: tuple[object, ...] = ()  # the path values as the line adding them up shows them
    factored: object = None  # worked.factored: the paths factored with shorthands (derive.factored.Factored)
    # notation.loss_terms: the paths split by the output whose loss term they start from,
    # dL/dw = dL_1/dw + dL_2/dw (derive.lossterms.SplitGradient); None: worked as one sum
    split: object = None

    @property
    def rows(self) -> int:
        """About how many handwritten rows its working takes, for a worksheet's answer
        space: per path its partials, formulas and numbers (a long chain wraps every five
        factors), the sum of the paths, the result; in the delta form, a_i delta_j and the result."""
        if not self.paths:
            return 2
        per_path = sum(3 * -(-len(path.chain) // 5) for path in self.paths)
        return per_path + (len(self.paths) > 1) + 1

    @property
    def fits_page(self) -> bool:
        """Short enough to keep on one page (a row of partial fractions is two lines high);
        a longer block may break across pages."""
        return self.rows <= 20


class BackwardLayer(NamedTuple):
    number: int
    is_output: bool
    locals: tuple[LocalLine, ...]
    gradients: tuple[GradientBlock, ...]
    combined: tuple[LocalLine, ...] = ()  # dL/dz_k = a_k - y_k, where that simplification holds
    combined_kind: str = ""  # "softmax-ce" or "sigmoid-bce"


class UpdateLine(NamedTuple):
    task: str | None  # "4.k" when asked
    key: str
    kind: str
    name: str  # "x1 -> h1" or "bias of h1"
    symbol: Symbol
    old: float
    gradient: float
    new: float
    old_shown: object = None  # old and gradient as the update line shows them
    gradient_shown: object = None


@dataclass(frozen=True)
class Step:
    number: int  # the iteration, from 1
    forward: tuple[ForwardLayer, ...]
    loss: LossBlock
    backward: tuple[BackwardLayer, ...]  # output layer first
    eta: float
    updates: tuple[UpdateLine, ...]  # spec order
    outputs: tuple[tuple[str, float], ...]  # (neuron, a) per targeted output
    values: Values
    sections: tuple[Section, ...] = ()  # extra worked forms of this step (delta, matrix)
    sample: int | None = None  # which sample, when the spec gives several
    part: str | None = None  # which part (its label), when the spec has parts (derive.parts)
    # a later part's step whose forward pass is the same as the first part's: the label of
    # that part, where it is worked (the templates say so instead of working it again)
    forward_as: str = ""
    # notation.loss_terms: the loss as L_1 + L_2 + ..., each output's term worked
    # (derive.lossterms.LossTerms); None: the loss worked as one formula
    loss_terms: object = None


class DiagramNode(NamedTuple):
    name: str
    symbol: Symbol  # its output: x_i or a_j^(l)
    column: int  # 0 for inputs, l for layer l
    row: float  # position in its column, centred on 0
    bias: float | None  # neurons only
    bias_symbol: Symbol | None
    kind: str = "neuron"  # "input", "neuron", or a pooling unit's "max" / "average"
    value: object = None  # inputs only: its given value


class DiagramEdge(NamedTuple):
    source: str
    target: str
    symbol: Symbol | None  # None: an edge into a pooling unit, which carries no weight
    value: float | None
    skip: bool  # jumps over at least one layer


class Diagram(NamedTuple):
    """The network as a picture: units in columns, one edge per weight."""

    nodes: tuple[DiagramNode, ...]
    edges: tuple[DiagramEdge, ...]
    columns: int
    rows: int  # the widest column

    @property
    def layout(self) -> diagram.Layout:
        """Where the LaTeX picture puts each unit and label (derive.diagram): worked out
        when a LaTeX document asks for it, once per diagram."""
        index = {node.name: i for i, node in enumerate(self.nodes)}
        units = tuple(diagram.Unit(
            node.column, node.row, node.symbol.name, node.kind,
            (None if node.value is None else diagram.number_tex(node.value)) if node.kind == "input" else
            f"{node.bias_symbol.name} = {diagram.number_tex(node.bias)}" if node.bias_symbol is not None
            else node.kind if node.kind in ("max", "average") else None)
            for node in self.nodes)
        links = tuple(diagram.Link(index[edge.source], index[edge.target],
                                   None if edge.value is None else diagram.number_tex(edge.value))
                      for edge in self.edges)
        return diagram.lay_out(units, links)


class Given(NamedTuple):
    inputs: tuple[GivenValue, ...]
    weights: tuple[GivenValue, ...]
    biases: tuple[GivenValue, ...]
    targets: tuple[GivenValue, ...]
    predictions: tuple[tuple[Symbol, Symbol], ...]  # (y-hat symbol, a symbol) per target
    loss_name: str
    loss_formula: sympy.Expr
    eta: float
    # (activation, width, role, maps) per layer: maps is "" for neurons, else what the
    # width counts ("conv maps of 3 x 3")
    layers: tuple[tuple[str, int, str, str], ...]
    diagram: Diagram | None  # None for a network of maps: too many units to draw one by one
    maps: tuple = ()  # image channels and kernels as matrices (derive.mapview.MapMatrix)
    conventions: tuple[str, ...] = ()  # which map conventions the key states: conv, max, average
    samples: tuple[tuple[int, tuple[float, ...], tuple[float, ...]], ...] = ()  # (n, inputs, targets)


@dataclass(frozen=True)
class Solution:
    title: str
    given: Given
    steps: tuple[Step, ...]
    policy: str = "exact"  # rounding policy the values were computed with (spec.POLICIES)
    digits: int = 4  # decimal places of the rounding rule (derive.rounding)
    form: str = "paths"  # the backward pass shown: "paths", "delta" or "both"
    form_reason: str = ""  # why, when derive chose the form itself
    sections: tuple[Section, ...] = ()  # extra parts of the whole answer (activation table, ...)
    # "worked": forward pass, loss, backward pass, updates; "updates": the gradients are
    # given and only the updates are worked (derive.given; templates *_updates.*.j2)
    kind: str = "worked"
    # the spec's notation: the renderer takes the loss's letter, the learning rate's and the
    # multiplication sign from it (derive.latex.House); the symbols are already in the steps
    notation: Notation = Notation()
    # several parts on one network (derive.parts; kind "parts"): each part's own answer; the
    # steps above are theirs, in order, and `given` holds what the parts share
    parts: tuple[Part, ...] = ()


class Part(NamedTuple):
    """One part of a spec with parts: its label ("a"), heading, and its own answer (the
    spec with the part's loss, learning rate and targets)."""

    label: str
    title: str
    solution: Solution
    loss: str = ""  # the part's loss, as the spec names it (half_squared_error, ...)


# --- building ------------------------------------------------------------------------------

class Run(NamedTuple):
    """One worked forward/backward pass: on which values, and what follows it."""

    network: Network
    values: Values
    iteration: int
    sample: int | None = None  # 1-based, when the spec gives several samples
    updates: bool = True  # False for a sample inside a batch: the batch updates once
    batch: Section | None = None  # the batch update, after the batch's last sample


def build_solution(derivation: Derivation, values: Values, network: Network | None = None,
                   policy: str = "exact", asked: tuple[str, ...] = (),
                   later: tuple[tuple[Network, Values], ...] = (), digits: int = 4) -> Solution:
    """The worked answer for one sample; `later` holds each further iteration."""
    network = network or derivation.network
    runs = [Run(network, values, 1)] + [Run(n, v, i) for i, (n, v) in enumerate(later, 2)]
    return build_runs(derivation, runs, policy, asked, digits)


def build_runs(derivation: Derivation, runs: list[Run], policy: str = "exact",
               asked: tuple[str, ...] = (), digits: int = 4, part: str = "") -> Solution:
    """The worked answer; `asked` (parameter keys, () for all) are the numbered tasks,
    which the first pass carries. `digits` is the display rule's, which decides how many
    digits each line's operands show (derive.checkable) under the exact policy. `part`
    begins every task number: "a." in part (a) of a spec with parts."""
    network = runs[0].network
    asked_keys = set(asked or (p.key for p in network.parameters))
    shown = Shown(digits, policy == "exact")
    steps = []
    for run in runs:
        # the first iteration's tasks: each sample's own, named S2.1.3 for sample 2 when
        # there are several; a batch's combined gradients and its one update are 3.k, 4.k
        first = run.iteration == 1
        prefix = part + (f"S{run.sample}." if run.sample is not None else "")
        step = step_of(derivation, run.values, run.network, asked_keys if first else set(),
                       run.iteration, shown, prefix)
        batch = run.batch
        if batch is not None and first:
            batch = batch._replace(content=batch_tasks(batch.content, step, prefix, part))
        step = replace(step, sample=run.sample, updates=step.updates if run.updates else (),
                       sections=(batch,) if batch else ())
        steps.append(step)
    iterations = runs[-1].iteration
    sections = (Section("loss_table", "end", loss_rows(steps)),) if iterations > 1 else ()
    given = given_of(derivation, network)
    samples = tuple((run.sample, tuple(u.value for u in run.network.inputs),  # type: ignore[misc]
                     tuple(value for _, value in run.network.targets))
                    for run in runs if run.sample is not None and run.iteration == 1)
    return Solution(network.title, given._replace(samples=samples), tuple(steps), policy, digits,
                    sections=sections)


def batch_tasks(batch: object, step: Step, prefix: str, part: str = "") -> object:
    """The batch update's rows with their tasks: a combined gradient takes its samples'
    task number without the sample (S3.3.5 -> 3.5), its update the next 4.k in spec order
    (each begun with the `part`'s prefix, a.3.5, in a spec with parts)."""
    gradient_task = {block.key: part + block.task.removeprefix(prefix) for layer in step.backward
                     for block in layer.gradients if block.task}
    updates = count(1)
    rows = tuple(row._replace(task=gradient_task.get(row.key),
                              update_task=f"{part}4.{next(updates)}" if row.key in gradient_task else None)
                 for row in batch.rows)  # type: ignore[attr-defined]
    return batch._replace(rows=rows)  # type: ignore[attr-defined]


def loss_rows(steps: list[Step]) -> tuple[tuple[int, float], ...]:
    """The loss of each iteration: a batch's shown total where there is one."""
    rows: dict[int, float] = {}
    for step in steps:
        batch = next((s.content for s in step.sections if s.kind == "batch"), None)
        if batch is not None:
            rows[step.number] = batch.loss  # type: ignore[attr-defined]
        elif step.updates:
            rows[step.number] = step.loss.value
    return tuple(rows.items())


def given_of(derivation: Derivation, network: Network) -> Given:
    sym = derivation.symbols
    # an image channel and a kernel show as matrices (maps), not entry by entry
    inputs = tuple(GivenValue(sym[u.a_symbol], u.name, u.value)  # type: ignore[arg-type]
                   for u in network.inputs if not split_entry(u.name))
    weights = tuple(GivenValue(sym[p.symbol], parameter_name(p), p.value)
                    for p in network.parameters if p.kind == "weight" and not is_kernel(p))
    biases = tuple(GivenValue(sym[p.symbol], map_of(p.neuron) if p.shared else p.neuron, p.value)
                   for p in network.parameters if p.kind == "bias")
    y_of = dict(network.target_symbols)
    targets = tuple(GivenValue(sym[y_of[name]], name, value) for name, value in network.targets)
    predictions = tuple((Symbol(r"\hat{y}" if len(network.targets) == 1 else rf"\hat{{y}}_{{{i}}}"), a)
                        for i, (_, a, _) in enumerate(derivation.outputs, 1))
    layers = tuple(layer_text(layer, "output" if i == len(network.layers) else "hidden")
                   for i, layer in enumerate(network.layers, 1))
    has_maps = any(split_entry(u.name) for u in network.inputs + network.neurons)
    return Given(inputs, weights, biases, targets, predictions, LOSS_TEXT[network.loss],
                 sympy.Eq(L, derivation.loss, evaluate=False), network.learning_rate, layers,
                 None if has_maps else diagram_of(derivation.symbols, network), given_maps(network),
                 map_conventions(network))


def map_conventions(network: Network) -> tuple[str, ...]:
    """The conventions a key of this network must state: "conv" (cross-correlation,
    indices, padding, output size), "channels" (how a kernel slice is named), "max" and
    "average" (how pooling passes gradients)."""
    kinds = {info.kind for info in network.maps} | {u.pool for u in network.neurons if u.pool}
    if any(len(info.sources) > 1 for info in network.maps if info.kind == "conv"):
        kinds.add("channels")
    return tuple(kind for kind in ("conv", "channels", "max", "average") if kind in kinds)


def is_kernel(p: Parameter) -> bool:
    return bool(p.shared and p.shared.startswith("k:"))


def map_of(unit: str) -> str:
    place = split_entry(unit)
    return place[0] if place else unit


def parameter_name(p: Parameter) -> str:
    """A weight as the Given table names it: its edge, or a kernel entry by map, channel and place."""
    if is_kernel(p):
        _, map_name, channel, place = p.shared.split(":")
        return f"kernel of {map_name} on {channel}, [{place}]"
    return f"{p.source} → {p.neuron}"


def layer_text(layer: tuple[Unit, ...], role: str) -> tuple[str, int, str, str]:
    """(activation, width, role, maps): a layer of maps counts its maps, with their shape."""
    activation = layer[0].activation.name  # type: ignore[union-attr]
    places = [split_entry(u.name) for u in layer]
    if not all(places):
        return activation, len(layer), role, ""
    maps = list(dict.fromkeys(p[0] for p in places))  # type: ignore[index]
    rows, cols = max(p[1] for p in places), max(p[2] for p in places)  # type: ignore[index]
    kind = f"{layer[0].pool}-pooled" if layer[0].pool else "conv"
    return activation, len(maps), role, f"{kind} {'map' if len(maps) == 1 else 'maps'} of {rows} × {cols}"


def diagram_of(sym: dict[str, Symbol], network: Network) -> Diagram:
    """The network as a picture; `sym` maps each symbol's LaTeX to its Symbol."""
    columns = (network.inputs,) + network.layers
    nodes = tuple(
        DiagramNode(unit.name, sym[unit.a_symbol], c, j - (len(column) - 1) / 2,
                    unit.bias.value if unit.bias else None,
                    sym[unit.bias.symbol] if unit.bias else None,
                    "input" if c == 0 else unit.pool or "neuron", unit.value if c == 0 else None)
        for c, column in enumerate(columns) for j, unit in enumerate(column))
    # every edge: each use of a shared weight is an edge of its own, and a pooling
    # unit's edges carry no weight
    edges = tuple(
        DiagramEdge(source, unit.name, sym[p.symbol] if p else None, p.value if p else None,
                    unit.layer - network.units[source].layer > 1)
        for unit in network.neurons
        for source, p in [(w.source, w) for w in unit.weights] + [(s, None) for s in unit.sources])
    return Diagram(nodes, edges, len(columns), max(len(c) for c in columns))


class Shown(NamedTuple):
    """How a line's operands print. Under the exact policy (`check`), each line is redone
    from its shown operands (derive.checkable) and they get the extra digits it needs;
    by hand, every result already follows from the shown operands."""

    digits: int
    check: bool

    def formula(self, expr: object, values: dict[Symbol, object], result: object) -> Substituted:
        if self.check:
            values = checkable.formula_line(expr, values, result, self.digits)
        return Substituted(expr, values)

    def paths(self, paths: tuple[tuple[object, ...], ...], values: tuple[object, ...],
              result: object) -> tuple[tuple[object, ...], ...]:
        return checkable.paths_block(paths, values, result, self.digits) if self.check else paths

    def sum(self, numbers: tuple[object, ...], result: object,
            scale: Fraction = Fraction(1)) -> tuple[object, ...]:
        return checkable.sum_line(numbers, result, self.digits, scale) if self.check else numbers

    def update(self, old: object, eta: object, gradient: object, new: object) -> tuple[object, object]:
        if self.check:
            return checkable.update_line(old, eta, gradient, new, self.digits)
        return old, gradient


def step_of(derivation: Derivation, values: Values, network: Network, asked: set[str],
            number: int, shown: Shown = Shown(4, False), prefix: str = "") -> Step:
    """One iteration's working; only the first carries worksheet task numbers (each
    begun with `prefix`: the sample's, when there are several)."""
    v = values.symbols
    tasks = count(1)
    first = number == 1
    large = {info.name for info in network.maps if info.layer and info.rows * info.cols > WORKED_ENTRIES}
    forward = []
    for i, layer in enumerate(derivation.forward, 1):
        lines = []
        for f in layer:
            place = split_entry(f.neuron.name)
            if place and place[0] in large and place[1:] != (1, 1):  # values only, for the JSON
                lines.append(forward_line(f, v, None, Shown(shown.digits, False))._replace(worked=False))
            else:
                lines.append(forward_line(f, v, f"{prefix}1.{next(tasks)}" if first else None, shown))
        partly = tuple(info.name for info in network.maps if info.layer == i and info.name in large)
        forward.append(ForwardLayer(i, i == len(derivation.forward), layer[0].name, tuple(lines),
                                    *forward_maps(derivation, values, i), partly))
    loss = LossBlock(f"{prefix}2" if first else None, LOSS_TEXT[network.loss], derivation.loss,
                     shown.formula(derivation.loss, {s: v[s] for s in derivation.loss_args}, values.loss),
                     values.loss)
    tasks = count(1)
    backward = tuple(backward_layer(derivation, values, number, tasks, asked, shown, prefix)
                     for number in range(len(network.layers), 0, -1))
    tasks = count(1)
    eta = network.learning_rate
    updates = []
    for g in derivation.gradients:
        key = g.parameter.key
        old, gradient, new = v[g.symbol], values.gradients[key], values.updated[key]
        updates.append(UpdateLine(f"{prefix}4.{next(tasks)}" if key in asked else None, key, g.parameter.kind,
                                  update_name(g.parameter.kind, g.parameter.source, g.parameter.neuron),
                                  g.symbol, old, gradient, new, *shown.update(old, eta, gradient, new)))
    outputs = tuple((name, v[a]) for name, a, _ in derivation.outputs)
    return Step(number, tuple(forward), loss, backward, network.learning_rate, tuple(updates), outputs, values)


def update_name(kind: str, source: str | None, neuron: str) -> str:
    return f"{source} → {neuron}" if kind == "weight" else f"bias of {neuron}"


def forward_line(f: Forward, v: dict[Symbol, object], task: str | None, shown: Shown) -> ForwardLine:
    z_formula: LinearSum | sympy.Expr
    if f.pool:  # max(a_1, ..., a_n) or (a_1 + ... + a_n) / n
        z_formula = pooling_formula(f.pool, f.sources)
        used = {s: v[s] for s in f.sources}
    else:
        z_formula = LinearSum(f.terms, f.bias)
        used = {s: v[s] for pair in f.terms for s in pair} | {f.bias: v[f.bias]}
    a_used = {g: v[s] for g, s in zip(f.generic, f.args)}
    return ForwardLine(task, f.neuron.name, f.z, z_formula, shown.formula(z_formula, used, v[f.z]), v[f.z],
                       f.a, f.name, Applied(f.name, f.z), Substituted(f.shown, dict(zip(f.generic, f.args))),
                       None if f.shown.is_Symbol else shown.formula(f.shown, a_used, v[f.a]), v[f.a])


def pooling_formula(pool: str, sources: tuple[Symbol, ...]) -> sympy.Expr:
    if pool == "max":
        return sympy.Max(*sources, evaluate=False)
    return sympy.Mul(sympy.Rational(1, len(sources)), sympy.Add(*sources, evaluate=False), evaluate=False)


def backward_layer(derivation: Derivation, values: Values, number: int,
                   tasks: Iterator[int], asked: set[str], shown: Shown, prefix: str = "") -> BackwardLayer:
    """One layer of the backward pass: the local derivatives it introduces, then its gradients.

    A layer introduces dL/da for its targeted outputs and da/dz for each neuron; every
    other factor on its paths is a weight or an activation already on the page, or was
    worked in a later layer's block above.
    """
    by_key = {(f.num, f.den): f for f in derivation.locals}
    sym = derivation.symbols
    units = derivation.network.layers[number - 1]
    softmax = units[0].activation.name == "softmax"  # type: ignore[union-attr]
    wanted = [(L, sym[u.a_symbol]) for u in units] + [
        (sym[k.a_symbol], sym[j.z_symbol])  # type: ignore[index]
        for k in units for j in (units if softmax else (k,))]
    lines = tuple(local_line(by_key[key], values, shown) for key in wanted if key in by_key)
    gradients = tuple(gradient_block(g, values, f"{prefix}3.{next(tasks)}" if g.parameter.key in asked else None,
                                     shown)
                      for g in derivation.gradients
                      if derivation.network.units[g.parameter.neuron].layer == number)
    is_output = number == len(derivation.network.layers)
    kind = combined_kind(derivation) if is_output else ""
    combined = combined_lines(derivation, values, shown) if kind else ()
    return BackwardLayer(number, is_output, lines, gradients, combined, kind)


def combined_kind(derivation: Derivation) -> str:
    """Where dL/dz_k collapses to a_k - y_k: sigmoid with binary cross-entropy (always),
    softmax with cross-entropy when every output has a target and the targets sum to 1."""
    network = derivation.network
    activation = network.layers[-1][0].activation.name  # type: ignore[union-attr]
    if activation == "sigmoid" and network.loss == "binary_cross_entropy":
        return "sigmoid-bce"
    if activation == "softmax" and network.loss == "cross_entropy" \
            and len(network.targets) == len(network.layers[-1]) \
            and abs(sum(value for _, value in network.targets) - 1) < 1e-12:
        return "softmax-ce"
    return ""


def combined_lines(derivation: Derivation, values: Values, shown: Shown) -> tuple[LocalLine, ...]:
    """dL/dz_k = a_k - y_k, where the chain through the outputs simplifies to it."""
    lines = []
    for name, a, y in derivation.outputs:
        z = derivation.symbols[derivation.network.units[name].z_symbol]  # type: ignore[index]
        formula, value = a - y, values.simplified[name]
        lines.append(LocalLine(Partial(L, z), formula,
                               shown.formula(formula, {a: values.symbols[a], y: values.symbols[y]}, value),
                               value, None, False, None))
    return tuple(lines)


def local_line(factor: Local, values: Values, shown: Shown) -> LocalLine:
    v = values.symbols
    used = {s: v[s] for s in ordered_symbols(factor.formula)}
    z_value = v[factor.den] if factor.kind == "activation" else None
    value = values.locals[(factor.num, factor.den)]
    # a constant (id' = 1, dz/db = 1) has no numbers to substitute, and is its own value
    numbers = shown.formula(factor.formula, used, value) if used else None
    return LocalLine(Partial(factor.num, factor.den), factor.formula, numbers,
                     value, z_value, isinstance(factor.formula, sympy.Piecewise),
                     Applied(factor.activation, factor.den, prime=True)
                     if factor.activation and factor.activation != "softmax" else None)


def gradient_block(gradient: Gradient, values: Values, task: str | None, shown: Shown) -> GradientBlock:
    """A gradient as the sum over its paths: each path's product, the path values added
    up (when there are several), the total. In the delta form (no path was built or
    multiplied out) the block carries the task, the gradient and its value only."""
    key = gradient.parameter.key
    value = values.gradients[key]
    path_values = values.paths[key]
    if not path_values:  # no path: nothing to check line by line
        return GradientBlock(task, key, gradient.parameter.kind, gradient.symbol, (), value, (), ())
    factors = tuple(tuple(values.locals[(f.num, f.den)] for f in path.factors) for path in gradient.paths)
    # the sum line first: how it shows the path values is what each product must land on
    terms = shown.sum(path_values, value) if len(path_values) > 1 else ()
    numbers = shown.paths(factors, terms or (value,), value)
    paths = []
    for path, path_value, path_numbers, raw in zip(gradient.paths, path_values, numbers, factors):
        dead = tuple((f.den, values.symbols[f.den]) for f, n in zip(path.factors, raw)
                     if f.kind == "activation" and n == 0 and isinstance(f.formula, sympy.Piecewise))
        paths.append(PathLine(tuple(Partial(f.num, f.den) for f in path.factors),
                              tuple(path_formula(f) for f in path.factors), path_numbers, path_value, dead))
    dead = tuple(dict.fromkeys(pair for path in paths for pair in path.dead))
    return GradientBlock(task, key, gradient.parameter.kind, gradient.symbol, tuple(paths), value, dead,
                         terms)


def path_formula(factor: Local) -> object:
    """A factor's formula inside a chain: a case split reads better as ReLU'(z)."""
    if isinstance(factor.formula, sympy.Piecewise) and factor.activation:
        return Applied(factor.activation, factor.den, prime=True)
    return factor.formula
