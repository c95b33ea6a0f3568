"""How large a network derive typesets in LaTeX, checked before any work is done.

The LaTeX document draws the whole network (TikZ: each layer a column, units 2.2 cm
apart, every weight an edge with its label) and writes each neuron's z = sum w*a + b
as one equation. Past some size TeX itself gives up, after a minute or more ("Dimension
too large", "TeX capacity exceeded"): a 70 x 70 layer, one neuron with 100 inputs. Such a
network is refused at once with the reason; Markdown and JSON have no such limit.

The limits leave room: 40 units in a column, 40 weights into a neuron and 1,000 weights
in all compile in well under a minute (a 32 x 32 layer: about 20 s),
with 40-character custom symbols too.
"""
from __future__ import annotations

from .errors import Problem, SpecError
from .spec import Spec

MAX_COLUMN = 40  # units in one layer of the diagram (the inputs are its first column)
MAX_FAN_IN = 40  # weights into one neuron
MAX_WEIGHTS = 1_000  # edges in the diagram


def check_latex_size(spec: Spec) -> None:
    """Raise SpecError, naming the layer or neuron, if the LaTeX document of `spec`
    would be too large for TeX."""
    problems = latex_size_problems(spec)
    if problems:
        raise SpecError(problems)


def latex_size_problems(spec: Spec) -> list[Problem]:
    why = "the LaTeX diagram and working are made for at most"
    instead = "(-f md and -f json have no such limit)"
    problems = []
    if len(spec.inputs) > MAX_COLUMN:
        problems.append(Problem(spec.source, None, "inputs", f"{len(spec.inputs)} inputs; {why} "
                                f"{MAX_COLUMN} units in a layer {instead}"))
    for number, layer in enumerate(spec.layers):
        if len(layer.neurons) > MAX_COLUMN:
            problems.append(Problem(spec.source, None, f"layers[{number}].neurons",
                                    f"{len(layer.neurons)} neurons in one layer; {why} "
                                    f"{MAX_COLUMN} units in a layer {instead}"))
        for neuron in layer.neurons:
            if len(neuron.weights) > MAX_FAN_IN:
                problems.append(Problem(spec.source, None, f"layers[{number}].neurons.{neuron.name}.weights",
                                        f"{len(neuron.weights)} weights into one neuron; {why} "
                                        f"{MAX_FAN_IN} weights into a neuron {instead}"))
    weights = sum(len(n.weights) for layer in spec.layers for n in layer.neurons)
    if weights > MAX_WEIGHTS and not problems:
        problems.append(Problem(spec.source, None, "layers", f"{weights} weights in all; {why} "
                                f"{MAX_WEIGHTS} weights {instead}"))
    return problems
