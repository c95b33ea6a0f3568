"""Reading the network and its data: activations, layers and neurons, then inputs,
targets and samples.

The readers build on each other: a layer reads its activation, and targets are
checked against the last layer found by LayerReader's pre-pass.
"""
from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .documents import entry, join, kind_of, listed, names_in, scalar_value, shown
from .maps import MapReader
from .model import (
    MAX_SAMPLES,
    Draw,
    LayerSpec,
    NeuronSpec,
    Value,
    highest,
    lowest,
)


class LayerReader(MapReader):
    """The layers and their neurons, with weights that may only point backwards."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        # Every neuron name written in the file -> its layer number (1-based), and the
        # names of the last layer, read in a pre-pass before any validation: so that a
        # weight from a later neuron is called "later", not "unknown", and a mistake
        # inside the output layer does not make its targets look like non-outputs.
        self.declared: dict[str, int] = {}
        self.outputs: list[str] | None = None

    def layers(self, node: Node, input_names: list[str]) -> tuple[LayerSpec, ...]:
        if not isinstance(node, SequenceNode):
            self.problem(node, "layers", f"expected a list of layers, found {kind_of(node)}")
            return ()
        if not node.value:
            self.problem(node, "layers", "expected at least one layer")
        self.declare(node.value)
        # name -> layer number (0 for inputs), to check that weights point backwards
        layer_of = {name: 0 for name in input_names}
        layers = []
        for index, layer_node in enumerate(node.value):
            layer = self.layer(layer_node, f"layers[{index}]", index + 1, layer_of)
            if layer is not None:
                layers.append(layer)
        return tuple(layers)

    def declare(self, layer_nodes: list[Node]) -> None:
        """The pre-pass: note every neuron name and the output names; report nothing."""
        for number, layer_node in enumerate(layer_nodes, start=1):
            for name in names_in(self.units_node(layer_node)):
                self.declared.setdefault(name, number)
        if layer_nodes and isinstance(self.units_node(layer_nodes[-1]), MappingNode):
            self.outputs = names_in(self.units_node(layer_nodes[-1]))

    @staticmethod
    def units_node(layer_node: Node) -> Node | None:
        """What a layer names: its neurons, or a conv or pool layer's maps."""
        for key in ("neurons", "conv", "pool"):
            found = entry(layer_node, key)
            if found is not None:
                return found
        return None

    def layer(self, node: Node, path: str, number: int, layer_of: dict[str, int]) -> LayerSpec | None:
        entries = self.mapping(node, path)
        if entries is None:
            return None
        if "conv" in entries:
            self.keys(node, path, entries, ("conv",), ("stride", "padding", "activation"))
            return self.conv_layer(entries, path, number, layer_of)
        if "pool" in entries:
            self.keys(node, path, entries, ("pool",), ("kind", "size", "stride", "activation"))
            return self.pool_layer(entries, path, number, layer_of)
        self.keys(node, path, entries, ("activation", "neurons"), ())
        activation = self.activation(entries["activation"][1], join(path, "activation")) \
            if "activation" in entries else None
        if "neurons" not in entries:
            return None
        neurons_node = entries["neurons"][1]
        if isinstance(neurons_node, ScalarNode) and scalar_value(neurons_node) is None:
            # `neurons:` with nothing after it is the same mistake as `neurons: {}`
            self.problem(neurons_node, join(path, "neurons"), "a layer needs at least one neuron")
            return None
        neuron_entries = self.mapping(neurons_node, join(path, "neurons"))
        if neuron_entries is None:
            return None
        if not neuron_entries:
            self.problem(neurons_node, join(path, "neurons"), "a layer needs at least one neuron")
        earlier = dict(layer_of)  # weights may only name inputs and earlier layers
        neurons = []
        for key, (key_node, value_node) in neuron_entries.items():
            neuron_path = join(join(path, "neurons"), key)
            if key in layer_of:
                where = "an input" if layer_of[key] == 0 else f"a neuron of layers[{layer_of[key] - 1}]"
                self.problem(key_node, neuron_path, f"duplicate name: {shown(key)!r} is already {where}")
                continue
            # registered even if the name is malformed: that is reported once, here,
            # not again at every weight that comes from this neuron
            self.name(key_node, neuron_path)
            layer_of[key] = number
            neuron = self.neuron(value_node, neuron_path, key, number, earlier)
            if neuron is not None:
                neurons.append(neuron)
        if activation is None or len(neurons) != len(neuron_entries):
            return None
        return LayerSpec(activation, tuple(neurons))

    def neuron(self, node: Node, path: str, name: str, number: int,
               earlier: dict[str, int]) -> NeuronSpec | None:
        entries = self.mapping(node, path)
        if entries is None:
            return None
        self.keys(node, path, entries, ("bias", "weights"), ())
        bias = self.value(entries["bias"][1], join(path, "bias")) if "bias" in entries else None
        if "weights" not in entries:
            return None
        weights_node = entries["weights"][1]
        weight_entries = self.mapping(weights_node, join(path, "weights"))
        if weight_entries is None:
            return None
        if not weight_entries:
            self.problem(weights_node, join(path, "weights"), "a neuron needs at least one weight")
        weights = []
        for source, (key_node, value_node) in weight_entries.items():
            # from a map, a weight matrix of the map's shape; from a scalar unit, a number
            value = self.matrix(value_node, join(join(path, "weights"), source), self.shapes[source]) \
                if source in self.shapes and source in earlier else \
                self.value(value_node, join(join(path, "weights"), source))
            if source not in earlier:
                self.problem(key_node, join(path, "weights"), self.bad_source(source, number, earlier))
                continue
            if value is not None:
                weights.append((source, value))
        if bias is None or len(weights) != len(weight_entries):
            return None
        return NeuronSpec(name, bias, tuple(weights))

    def bad_source(self, source: str, number: int, earlier: dict[str, int]) -> str:
        """Why a weight of a neuron in layer `number` may not come from `source`."""
        where = self.declared.get(source)
        rule = "weights may only come from inputs and earlier layers"
        if where == number:
            return f"{shown(source)!r} is a neuron of the same layer; {rule}"
        if where is not None and where > number:
            return f"{shown(source)!r} is a neuron of layers[{where - 1}], a later layer; {rule}"
        return f"unknown neuron {shown(source)!r} (known: {listed(earlier)})"


class DataReader(LayerReader):
    """What the network is given and should give: inputs and targets, or samples of both."""

    def sample_keys(self, root: Node, entries: dict[str, tuple[Node, Node]]) -> None:
        """Either inputs and targets (one sample), or samples: never both, never neither."""
        if "samples" in entries:
            for key in ("inputs", "targets"):
                if key in entries:
                    self.problem(entries[key][0], key, "give either inputs and targets, or samples, not both")
        else:
            for key in ("inputs", "targets"):
                if key not in entries:
                    self.problem(root, key, "missing required key (or give samples)")
            if "reduction" in entries:
                self.problem(entries["reduction"][0], "reduction", "reduction goes with samples")

    def samples(self, node: Node, loss: str | None, input_names: list[str]
                ) -> tuple[tuple[tuple[tuple[str, Value], ...], tuple[tuple[str, Value], ...]], ...]:
        """samples: [{inputs: {...}, targets: {...}}, ...], all with the same names."""
        if not isinstance(node, SequenceNode) or not node.value:
            self.problem(node, "samples", f"expected a list of {{inputs, targets}}, found {kind_of(node)}")
            return ()
        if len(node.value) > MAX_SAMPLES:
            self.problem(node, "samples", f"at most {MAX_SAMPLES} samples are worked by hand, found {len(node.value)}")
            return ()
        found = []
        target_names: list[str] | None = None
        for i, item in enumerate(node.value):
            path = f"samples[{i}]"
            entries = self.mapping(item, path)
            if entries is None:
                continue
            self.keys(item, path, entries, ("inputs", "targets"), ())
            if "inputs" not in entries or "targets" not in entries:
                continue
            inputs = self.inputs(entries["inputs"][1], join(path, "inputs"))
            targets = self.targets(entries["targets"][1], loss, join(path, "targets"))
            if [name for name, _ in inputs] != input_names:
                self.problem(entries["inputs"][1], join(path, "inputs"),
                             f"every sample needs the inputs {listed(input_names)}, in that order")
            if target_names is None:
                target_names = [name for name, _ in targets]
            elif [name for name, _ in targets] != target_names:
                self.problem(entries["targets"][1], join(path, "targets"),
                             f"every sample needs the targets {listed(target_names)}, in that order")
            found.append((inputs, targets))
        return tuple(found)

    def inputs(self, node: Node, path: str = "inputs") -> tuple[tuple[str, float], ...]:
        entries = self.mapping(node, path)
        if entries is None:
            return ()
        if not entries:
            self.problem(node, path, "expected at least one input")
        found = []
        for key, (key_node, value_node) in entries.items():
            if isinstance(value_node, SequenceNode) and value_node.value and \
                    all(isinstance(row, SequenceNode) for row in value_node.value):  # an image channel
                value = self.matrix(value_node, join(path, key))
                rows = value_node.value
                if rows and all(isinstance(r, SequenceNode) and len(r.value) == len(rows[0].value) for r in rows):
                    # its shape even if a cell is wrong: reported once, not again where it is used
                    self.shapes[key] = (len(rows), len(rows[0].value))
            elif isinstance(value_node, MappingNode) and "shape" in (self.mapping(value_node, join(path, key)) or {}):
                value = self.matrix(value_node, join(path, key))  # a drawn image channel
                if value is not None:
                    self.shapes[key] = (len(value), len(value[0]))  # type: ignore[arg-type]
            else:
                value = self.value(value_node, join(path, key))
            if self.name(key_node, join(path, key)) and value is not None:
                found.append((key, value))
        return tuple(found)

    def targets(self, node: Node, loss: str | None, path: str = "targets") -> tuple[tuple[str, float], ...]:
        entries = self.mapping(node, path)
        if entries is None:
            return ()
        if not entries:
            self.problem(node, path, "expected at least one target")
        # the last layer as written (None: no readable last layer, nothing to check against)
        outputs = self.outputs
        found = []
        for key, (key_node, value_node) in entries.items():
            # a map's targets: a matrix of its shape (the loss sums over every entry)
            if isinstance(value_node, SequenceNode) and key not in self.shapes:
                self.problem(value_node, join(path, key), f"{shown(key)!r} is a neuron: its target is a "
                             "number (a matrix is the target of a map)")
                continue
            value = self.matrix(value_node, join(path, key), self.shapes.get(key)) \
                if key in self.shapes else self.value(value_node, join(path, key))
            if outputs is not None and key not in outputs:
                self.problem(key_node, join(path, key),
                             f"{shown(key)!r} is not an output neuron (outputs: {listed(outputs)})")
                continue
            matrix = isinstance(value, tuple) and not isinstance(value, Draw)  # a Draw is a tuple too
            cells = [c for row in value for c in row] if matrix else [value]  # type: ignore[union-attr]
            if value is not None and loss in ("binary_cross_entropy", "cross_entropy") \
                    and not all(0 <= lowest(c) <= highest(c) <= 1 for c in cells):
                self.problem(value_node, join(path, key),
                             f"{loss} needs targets between 0 and 1, found {value_node.value}")
                continue
            if value is not None:
                found.append((key, value))
        return tuple(found)


def first_sample_part(entries: dict[str, tuple[Node, Node]], key: str) -> Node | None:
    """The `key` mapping of the first sample, for the names the layers may refer to."""
    node = entries.get("samples", (None, None))[1]
    if isinstance(node, SequenceNode) and node.value and isinstance(node.value[0], MappingNode):
        for key_node, value_node in node.value[0].value:
            if isinstance(key_node, ScalarNode) and key_node.value == key:
                return value_node
    return None
