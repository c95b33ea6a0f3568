"""A given-gradient problem (seed 000, part 2): the spec gives each parameter's gradient
("suppose this is the average gradient of one batch") and asks only for the updates.

The spec is the usual one with `gradients:` beside `layers` and `learning_rate`, written
in the shape of the layers it refers to, so that a teacher copies the neurons and puts
gradients where the values were:

    gradients:
      h1: {bias: -0.0287, weights: {x1: -0.0287, x2: -0.0574}}

Every weight and bias needs its gradient (a missing one is an error at its neuron, not a
silent 0), and no gradient may name a weight or neuron that is not in the layers.
`inputs` is optional (the updates do not use it): without it the inputs are the weights'
sources that are not neurons, in the order they are first written. There is no loss,
no targets, no samples: nothing is computed from them.
"""
from __future__ import annotations

from yaml.nodes import MappingNode, Node, SequenceNode

from .documents import entry, join, listed, names_in, shown
from .layers import LayerReader
from .model import LayerSpec

# what a given-gradient problem reads at the top level (everything else is an error there)
GRADIENT_REQUIRED = ("layers", "learning_rate", "gradients")
GRADIENT_OPTIONAL = ("title", "inputs", "asked", "notation")
# the keys of a worked problem that mean nothing here, with the reason given to the user
NOT_WITH_GRADIENTS = {
    "targets": "the gradients are given, so no targets are needed",
    "loss": "the gradients are given, so no loss is computed",
    "samples": "the gradients are given (an average over a batch is given as one gradient)",
    "reduction": "the gradients are given (an average over a batch is given as one gradient)",
    "steps": "only one update can follow from given gradients",
    "worked": "there is no backward pass to work: the gradients are given",
    "exam": "a given-gradient problem is not an exam template",
    "parts": "the parts of a problem differ in their loss, and here the gradients are given",
}


def inputs_from_weights(layers_node: Node | None) -> list[str]:
    """The sources of the layers' weights that are no neuron, in the order first written:
    the input names when the spec leaves `inputs` out. Nothing is checked here."""
    layer_nodes = layers_node.value if isinstance(layers_node, SequenceNode) else []
    neurons = {name for layer in layer_nodes for name in names_in(entry(layer, "neurons"))}
    found: dict[str, None] = {}
    for layer in layer_nodes:
        neurons_node = entry(layer, "neurons")
        if not isinstance(neurons_node, MappingNode):
            continue
        for _, neuron in neurons_node.value:
            for source in names_in(entry(neuron, "weights")):
                if source not in neurons:
                    found.setdefault(source)
    return list(found)


class GradientReader(LayerReader):
    """`gradients:` of a given-gradient problem, checked against the layers read."""

    def given_gradient_keys(self, root: Node, entries: dict[str, tuple[Node, Node]]) -> None:
        """The top-level keys of a given-gradient problem: a worked problem's keys that
        mean nothing here are named with the reason, rather than silently ignored."""
        for key, (key_node, _) in entries.items():
            if key in NOT_WITH_GRADIENTS:
                self.problem(key_node, key, f"not used with gradients: {NOT_WITH_GRADIENTS[key]}")
        allowed = GRADIENT_REQUIRED + GRADIENT_OPTIONAL + tuple(NOT_WITH_GRADIENTS)
        known = {key: pair for key, pair in entries.items() if key in allowed}
        self.keys(root, "", known, GRADIENT_REQUIRED, GRADIENT_OPTIONAL + tuple(NOT_WITH_GRADIENTS))
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                self.problem(key_node, key, "unknown key (with gradients, expected one of: "
                             f"{', '.join(GRADIENT_REQUIRED + GRADIENT_OPTIONAL)})")

    def gradients(self, node: Node, layers: tuple[LayerSpec, ...]) -> tuple[tuple[str, float], ...]:
        """gradients: {neuron: {bias: g, weights: {source: g, ...}}, ...} for every neuron
        of `layers`, as parameter keys ("x1->h1", "b:h1") in the network's order."""
        entries = self.mapping(node, "gradients")
        if entries is None:
            return ()
        neurons = {n.name: n for layer in layers for n in layer.neurons}
        if any(layer.kind != "dense" for layer in layers):
            self.problem(node, "gradients", "given gradients are for dense layers (neurons); "
                         "this network has a conv or pool layer")
            return ()
        found: dict[str, float] = {}
        for name, (key_node, value_node) in entries.items():
            path = join("gradients", name)
            if name not in neurons:
                self.problem(key_node, path, f"no neuron {shown(name)!r} in the layers "
                             f"(neurons: {listed(list(neurons))})")
                continue
            found.update(self.neuron_gradients(value_node, path, neurons[name]))
        for layer in layers:
            for neuron in layer.neurons:
                if neuron.name not in entries:
                    self.problem(node, join("gradients", neuron.name), "missing: every weight and "
                                 f"bias needs its gradient; give {neuron.name}: {{bias: ..., weights: "
                                 f"{{{', '.join(f'{s}: ...' for s, _ in neuron.weights)}}}}}")
        order = [key for layer in layers for n in layer.neurons
                 for key in [f"{s}->{n.name}" for s, _ in n.weights] + [f"b:{n.name}"]]
        return tuple((key, found[key]) for key in order if key in found)

    def neuron_gradients(self, node: Node, path: str, neuron: object) -> dict[str, float]:
        """One neuron's {bias: g, weights: {source: g}}: each weight of the neuron once."""
        entries = self.mapping(node, path)
        if entries is None:
            return {}
        self.keys(node, path, entries, ("bias", "weights"), ())
        name = neuron.name  # type: ignore[attr-defined]
        sources = [source for source, _ in neuron.weights]  # type: ignore[attr-defined]
        found: dict[str, float] = {}
        if "bias" in entries:
            value = self.number(entries["bias"][1], join(path, "bias"))
            if value is not None:
                found[f"b:{name}"] = value
        if "weights" not in entries:
            return found
        weights_node = entries["weights"][1]
        weights = self.mapping(weights_node, join(path, "weights"))
        if weights is None:
            return found
        for source, (key_node, value_node) in weights.items():
            where = join(join(path, "weights"), source)
            if source not in sources:
                self.problem(key_node, where, f"{name} has no weight from {shown(source)!r} "
                             f"(its weights come from: {listed(sources)})")
                continue
            value = self.number(value_node, where)
            if value is not None:
                found[f"{source}->{name}"] = value
        missing = [source for source in sources if source not in weights]
        if missing:
            self.problem(weights_node, join(path, "weights"), f"missing the gradient of the weight"
                         f"{'s' if len(missing) > 1 else ''} from {listed(missing)}")
        return found
