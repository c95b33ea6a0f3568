"""The spec as read: its data classes and the words a spec is written in.

A value the spec gives is a number or, for exams, a Draw made afresh for every variant
(see derive.spec.draws); `lowest` and `highest` bound either kind.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Union

ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "softmax")
LOSSES = (
    "squared_error",
    "half_squared_error",
    "mean_squared_error",
    "binary_cross_entropy",
    "cross_entropy",
)
DEFAULT_LEAKY_SLOPE = 0.01
MAX_STEPS = 50  # iterations written out; beyond this nobody reads the working

# every spec; a worked problem also needs a loss (WORKED_REQUIRED) and inputs + targets, or
# samples; a given-gradient problem needs its gradients instead (derive.spec.gradients)
TOP_REQUIRED = ("layers", "learning_rate")
WORKED_REQUIRED = ("layers", "loss", "learning_rate")
REDUCTIONS = ("mean", "sum", "sequential")
MAX_SAMPLES = 20
FORMS = ("auto", "paths", "delta", "both")  # worked.form and --form: the backward pass shown
ACTIVATION_TABLES = ("used", "all")  # worked.activation_table (derive.table)
POLICIES = ("exact", "by-hand")  # --rounding: how values are carried from step to step
TOP_OPTIONAL = ("inputs", "targets", "samples", "reduction", "title", "asked", "exam", "worked", "steps",
                "notation", "gradients", "loss", "parts")
WORKED_OPTIONAL = tuple(key for key in TOP_OPTIONAL if key not in WORKED_REQUIRED + ("gradients",))
NOTATION_CHOICES = {"parameters": ("layered", "flat"), "index_order": ("from-to", "to-from"),
                    "units": ("layered", "flat"),
                    # the signs of the working (derive.latex.House): the loss's letter, the
                    # learning rate's, the multiplication sign (seeds 002 and 003)
                    "loss": ("L", "J"), "learning_rate": ("eta", "alpha"), "times": ("dot", "cross")}


class Activation(NamedTuple):
    name: str
    slope: float | None = None  # leaky_relu only
    formula: str | None = None  # a custom activation: f(x) as written (see derive.formula)


class Draw(NamedTuple):
    """A value drawn afresh for every exam variant instead of given."""

    kind: str  # "uniform" or "choice"
    low: float = 0.0  # uniform: the range
    high: float = 0.0
    decimals: int = 2  # uniform: rounded (half away from zero) to this many places
    options: tuple[float, ...] = ()  # choice: the values to pick from

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.low, self.high) if self.kind == "uniform" else (min(self.options), max(self.options))


Value = Union[float, Draw]


class Worked(NamedTuple):
    """Which worked forms the answer shows (the CLI's --form/--matrix/--closed-form
    override or add to these)."""

    form: str = "auto"  # "auto", "paths", "delta" or "both"
    matrix: bool = False
    closed_form: bool = False
    fold_bias: bool = False  # the matrix form with [W b] [a; 1] (seed 004); implies matrix
    # worked derivations and the output delta a - y (derive.derivations, derive.shortcut)
    derivations: bool = False
    shortcut: bool = False  # in the delta form; implies it where the form is auto
    activation_table: str = "used"  # ACTIVATION_TABLES: the network's activations, or all built-ins
    factored: bool = False  # the path form with named shorthands, each gradient factored (derive.factored)


class SymbolName(NamedTuple):
    """One custom symbol of `notation.names`, with where it was written (for messages)."""

    key: str  # "a:x1" (an input or a neuron's activation), "z:h1", "b:h1", "y:o", or "x1->h1"
    symbol: str  # in the form of symbol_form: w_1 is kept as w_{1}
    line: int | None = None
    path: str = ""


class Notation(NamedTuple):
    """How the working names things (docs/spec.md, "Notation options"); derive.network
    turns it into the symbols."""

    parameters: str = "layered"  # or "flat": w_1, w_2, ... and b_1, b_2, ... in spec order
    index_order: str = "from-to"  # w_{ij}: from unit i to neuron j; or "to-from" (Nielsen)
    units: str = "layered"  # or "flat": a_1, a_2, ... and z_1, z_2, ... over all neurons
    names: tuple[SymbolName, ...] = ()
    loss: str = "L"  # or "J" (seed 003): the loss's letter
    learning_rate: str = "eta"  # or "alpha" (seed 002)
    times: str = "dot"  # or "cross": a x b instead of a . b in the numbers
    # L = L_1 + L_2 + ...: each output's loss term named, and a gradient reached through
    # several outputs split as dL/dw = dL_1/dw + dL_2/dw (seed 000; derive.lossterms)
    loss_terms: bool = False


class Constraints(NamedTuple):
    """When an exam variant's draw is rejected and drawn again (see derive.exam)."""

    max_abs_z: float = 6.0  # sigmoid/tanh saturation: |z| beyond this
    max_tries: int = 1000  # draws per variant before giving up
    # how answers are marked (moodle.xml, answers.json): a blank's tolerance is at least
    # this fraction of the answer's magnitude (default: half a unit of its last digit)
    relative_tolerance: float | None = None
    partial_credit: int | None = None  # percent for a near miss: within 10x the tolerance


Matrix = tuple[tuple[Value, ...], ...]  # rows: an image channel, a kernel, a map's weights or targets
LAYER_KINDS = ("dense", "conv", "pool")
POOL_KINDS = ("max", "average")


class NeuronSpec(NamedTuple):
    """A dense neuron; in a conv layer, a map (its weights: one kernel per input
    channel); in a pool layer, a pooled map (its one weight: the map it pools, None)."""

    name: str
    bias: Value
    weights: tuple[tuple[str, Value | Matrix | None], ...]  # (source name, value), in spec order


class LayerSpec(NamedTuple):
    activation: Activation
    neurons: tuple[NeuronSpec, ...]
    kind: str = "dense"  # LAYER_KINDS
    stride: int = 1  # conv and pool
    padding: int = 0  # conv: zeros on every side
    pool: str = "max"  # pool: POOL_KINDS
    size: int = 0  # pool: the window's side


@dataclass(frozen=True)
class Spec:
    source: str  # file name as the user gave it, for messages
    title: str
    inputs: tuple[tuple[str, Value], ...]
    layers: tuple[LayerSpec, ...]
    targets: tuple[tuple[str, Value], ...]
    loss: str
    learning_rate: Value
    # parameter keys whose gradients are asked (() = all), and forward items: "z:h1", "a:h1", "loss"
    asked: tuple[str, ...] = ()
    constraints: Constraints = Constraints()
    worked: Worked = Worked()
    steps: int = 1  # gradient-descent iterations, each from the previous one's updated values
    # several samples: each one's inputs and targets (inputs/targets above are the first's)
    samples: tuple[tuple[tuple[tuple[str, Value], ...], tuple[tuple[str, Value], ...]], ...] = ()
    reduction: str = "mean"  # samples: mean or sum of the gradients, one update; or sequential
    notation: Notation = Notation()
    # a given-gradient problem (derive.given): parameter key ("x1->h1", "b:h1") -> its
    # given gradient; only the updates are worked, and loss and targets are not used
    gradients: tuple[tuple[str, float], ...] = ()
    # several parts on one network (seed 002; derive.parts): each part this spec with a
    # few keys overridden (loss, learning_rate, targets), worked in turn in one document
    parts: tuple[PartSpec, ...] = ()


class PartSpec(NamedTuple):
    """One part of a spec with `parts:` (derive.spec.parts): its label ("a"), its
    heading, and the keys it overrides (None: the spec's own)."""

    label: str
    title: str
    loss: str | None = None
    learning_rate: float | None = None
    targets: tuple[tuple[str, float], ...] | None = None


def is_forward_item(asked: str) -> bool:
    """Whether an `asked` entry is a forward value ("z:h1", "a:h1") or the loss, not a
    parameter's gradient ("x1->h1", "b:h1")."""
    return asked == "loss" or asked.startswith(("z:", "a:"))


def asked_parameters(asked: tuple[str, ...]) -> tuple[str, ...]:
    """The parameter keys among `asked` entries, in their order."""
    return tuple(key for key in asked if not is_forward_item(key))


def lowest(value: Value) -> float:
    return value.bounds[0] if isinstance(value, Draw) else value


def highest(value: Value) -> float:
    return value.bounds[1] if isinstance(value, Draw) else value
