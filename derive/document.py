"""The document model: the worked answer as ordered data (built by derive.solution).

Steps hold SymPy objects, a few small math nodes (Partial, LinearSum, Substituted) and
floats; never LaTeX or Markdown text. The renderer decides how each prints, so the
key, the worksheet and the JSON all come from one model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import sympy
from sympy import Symbol

from . import diagram
from .evaluate import Values
from .mathnodes import Applied, LinearSum, Partial, Substituted
from .spec import Notation



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
