"""Reading the network and its data: activations, layers and neurons, then inputs,
targets and samples.

The readers build on each other: a layer reads its activation, and targets are
checked against the last layer found by LayerReader's pre-pass.
"""
from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .documents import MAX_NAME_LENGTH, NAME, entry, join, kind_of, listed, names_in, scalar_value, shown
from .model import (
    ACTIVATIONS,
    DEFAULT_LEAKY_SLOPE,
    MAX_SAMPLES,
    Activation,
    LayerSpec,
    NeuronSpec,
    Value,
    highest,
    lowest,
)
from .numbers import NumberReader


class ActivationReader(NumberReader):
    """A layer's activation: a built-in by name (leaky_relu with its slope) or a formula."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.formulas: dict[str, str] = {}  # custom activation name -> its formula

    def activation(self, node: Node, path: str) -> Activation | None:
        if isinstance(node, MappingNode):
            entries = self.mapping(node, path)
            if entries is None:
                return None
            if "formula" in entries:
                return self.formula(node, path, entries)
            self.keys(node, path, entries, ("name",), ("slope",))
            if "name" not in entries:
                return None
            name = self.choice(entries["name"][1], join(path, "name"), ACTIVATIONS, "activation")
            slope = None
            if "slope" in entries:
                slope_node = entries["slope"][1]
                slope = self.number(slope_node, join(path, "slope"))
                if name is not None and name != "leaky_relu":
                    self.problem(slope_node, join(path, "slope"), "only leaky_relu takes a slope")
                    return None
            if name is None:
                return None
            if name == "leaky_relu":
                return Activation(name, DEFAULT_LEAKY_SLOPE if slope is None else slope)
            return Activation(name)
        name = self.choice(node, path, ACTIVATIONS, "activation")
        if name is None:
            return None
        return Activation(name, DEFAULT_LEAKY_SLOPE if name == "leaky_relu" else None)

    def formula(self, node: Node, path: str, entries: dict[str, tuple[Node, Node]]) -> Activation | None:
        """A custom activation {formula: "x/(1+abs(x))", name: softsign}; the name (for the
        text, default "custom") is optional. The formula is read by derive.formula's own
        parser, never evaluated as code; a mistake is reported at its column."""
        from ..formula import problem  # uses SymPy: imported only for a formula

        self.keys(node, path, entries, ("formula",), ("name",))
        name: str | None = "custom"
        if "name" in entries:
            name_node = entries["name"][1]
            name = self.text(name_node, join(path, "name"))
            if name is not None and (not NAME.match(name) or len(name) > MAX_NAME_LENGTH):
                self.problem(name_node, join(path, "name"), "a formula's name starts with a letter and "
                             f"uses only letters, digits and _ (at most {MAX_NAME_LENGTH} characters), "
                             f"found {shown(name)!r}")
                name = None
            elif name in ACTIVATIONS:
                self.problem(name_node, join(path, "name"), f"{name!r} is a built-in activation; give "
                             "the formula a name of its own, or write the activation without a formula")
                name = None
        formula_node = entries["formula"][1]
        text = self.text(formula_node, join(path, "formula"))
        message = problem(text) if text is not None else None
        if message is not None:
            self.problem(formula_node, join(path, "formula"), message)
            return None
        if name is None or text is None:
            return None
        first = self.formulas.setdefault(name, text)
        if first != text:
            self.problem(formula_node, join(path, "formula"), f"the name {name!r} is already given to "
                         f'the formula "{first}"; give this formula a name of its own')
            return None
        return Activation(name, formula=text)


class LayerReader(ActivationReader):
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
            names = names_in(entry(layer_node, "neurons"))
            for name in names:
                self.declared.setdefault(name, number)
        if layer_nodes and isinstance(entry(layer_nodes[-1], "neurons"), MappingNode):
            self.outputs = names_in(entry(layer_nodes[-1], "neurons"))

    def layer(self, node: Node, path: str, number: int, layer_of: dict[str, int]) -> LayerSpec | None:
        entries = self.mapping(node, path)
        if entries is None:
            return None
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
            value = self.value(value_node, join(join(path, "weights"), source))
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
            value = self.value(value_node, join(path, key))
            if outputs is not None and key not in outputs:
                self.problem(key_node, join(path, key),
                             f"{shown(key)!r} is not an output neuron (outputs: {listed(outputs)})")
                continue
            if value is not None and loss in ("binary_cross_entropy", "cross_entropy") \
                    and not 0 <= lowest(value) <= highest(value) <= 1:
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
