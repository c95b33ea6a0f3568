"""Stage 5: build the document model (derive.document) from the derivation and the
values: every step's forward lines, loss, local derivatives, gradients with their paths,
and updates, with the task numbers the worksheet shares."""
from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from itertools import count
from typing import Iterator, NamedTuple

import sympy
from sympy import Symbol

from . import checkable
from .derivation import LOSS_TEXT, L, Derivation, Forward, Gradient, Local
from .document import (BackwardLayer, Diagram, DiagramEdge, DiagramNode, ForwardLayer, ForwardLine, Given,
                       GivenValue, GradientBlock, LocalLine, LossBlock, PathLine, Section, Solution, Step,
                       UpdateLine)
from .evaluate import Values
from .maps import split_entry
from .mapview import forward_maps, given_maps
from .mathnodes import Applied, LinearSum, Partial, Substituted, ordered_symbols
from .network import Network, Parameter, Unit


# A map with more entries than this is worked at its first entry only; the key shows all of
# them in the map's matrix (a 10 x 10 map worked entry by entry would fill pages).
WORKED_ENTRIES = 16


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
