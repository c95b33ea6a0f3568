"""The whole spec in one pass: Reader joins the readers of each concern, and reads
the top-level mapping and the options that shape the answer."""
from __future__ import annotations

from pathlib import Path

from yaml.nodes import Node, ScalarNode, SequenceNode

from ..errors import SpecError
from .documents import compose, join, kind_of, names_in, read_spec, scalar_value, shown
from .layers import DataReader, first_sample_part
from .model import (
    ACTIVATION_TABLES,
    FORMS,
    LOSSES,
    MAX_STEPS,
    REDUCTIONS,
    WORKED_OPTIONAL,
    WORKED_REQUIRED,
    Constraints,
    LayerSpec,
    Notation,
    Spec,
    Worked,
    is_forward_item,
    lowest,
)
from .draws import has_draws
from .gradients import GradientReader, inputs_from_weights
from .notation import NotationReader
from .parts import PartsReader


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec at `path`; raise SpecError listing every problem."""
    return parse_spec(read_spec(path), str(path))


def parse_spec(text: str, source: str = "<spec>") -> Spec:
    """Validate spec text; `source` names it in messages."""
    root = compose(text, source)
    reader = Reader(source)
    spec = reader.spec(root)
    if reader.problems or spec is None:
        raise SpecError(reader.problems)
    return spec


class Reader(PartsReader, DataReader, NotationReader, GradientReader):
    """Walks the node tree, building the Spec and collecting every problem."""

    def spec(self, root: Node) -> Spec | None:
        entries = self.mapping(root, "")
        if entries is None:
            return None
        if "gradients" in entries:  # only the updates are worked (derive.spec.gradients)
            return self.given_gradient_spec(root, entries)
        self.keys(root, "", entries, WORKED_REQUIRED, WORKED_OPTIONAL)
        title = "Backpropagation"
        if "title" in entries:
            title = self.text(entries["title"][1], "title") or title
        self.sample_keys(root, entries)
        first = entries["inputs"][1] if "inputs" in entries else first_sample_part(entries, "inputs")
        inputs = self.inputs(first) if first is not None and "inputs" in entries else ()
        # every input name as written, even one whose value is wrong: that value is
        # reported once, not again at every weight that comes from the input
        input_names = names_in(first) if first is not None else []
        layers = self.layers(entries["layers"][1], input_names) if "layers" in entries else ()
        loss = self.choice(entries["loss"][1], "loss", LOSSES, "loss") if "loss" in entries else None
        targets = self.targets(entries["targets"][1], loss) if "targets" in entries else ()
        samples = self.samples(entries["samples"][1], loss, input_names) if "samples" in entries else ()
        if samples:
            inputs, targets = samples[0]
        reduction = self.choice(entries["reduction"][1], "reduction", REDUCTIONS, "reduction") \
            if "reduction" in entries else "mean"
        eta = None
        if "learning_rate" in entries:
            node = entries["learning_rate"][1]
            eta = self.value(node, "learning_rate")
            if eta is not None and lowest(eta) <= 0:
                self.problem(node, "learning_rate", f"must be greater than 0, found {node.value}")
        # a layer that could not be read is reported already; an asked gradient into it
        # is not unknown, so it is checked only against a network read whole
        layer_nodes = entries["layers"][1].value if "layers" in entries and \
            isinstance(entries["layers"][1], SequenceNode) else []
        complete = len(layers) == len(layer_nodes)
        asked = self.asked(entries["asked"][1], layers, complete) if "asked" in entries else ()
        constraints = self.constraints(entries["exam"][1]) if "exam" in entries else Constraints()
        worked = self.worked(entries["worked"][1]) if "worked" in entries else Worked()
        if worked.shortcut and complete and layers and loss is not None:
            self.shortcut_applies(entries["worked"][1], layers[-1], loss, samples or ((inputs, targets),))
        target_names = names_in(entries["targets"][1] if "targets" in entries
                                else first_sample_part(entries, "targets"))
        notation = self.notation(entries["notation"][1], input_names, layers, target_names) \
            if "notation" in entries else Notation()
        steps = self.steps(entries["steps"][1]) if "steps" in entries else 1
        # several parts on one network (derive.spec.parts), each checked against the spec's loss and targets
        parts = self.parts(entries["parts"][1], loss, tuple(t for _, t in samples) or (targets,),
                           bool(samples)) if "parts" in entries else ()
        if parts and worked.shortcut and complete and layers and loss is not None:  # in every part
            self.parts_shortcut(entries["parts"][1], parts, layers[-1], loss, samples or ((inputs, targets),))
        if self.problems or loss is None or eta is None:
            return None
        spec = Spec(self.source, title, inputs, layers, targets, loss, eta, asked=asked,
                    constraints=constraints, worked=worked, steps=steps, notation=notation,
                    samples=samples, reduction=reduction or "mean", parts=parts)
        if parts and has_draws(spec):  # an exam variant's answers are one key's (derive.exam)
            self.problem(entries["parts"][0], "parts", "an exam template cannot have parts (each "
                         "variant's answers are one key's); write one template per part, or give "
                         "numbers instead of uniform/choice")
            return None
        return spec

    def given_gradient_spec(self, root: Node, entries: dict[str, tuple[Node, Node]]) -> Spec | None:
        """A spec that gives every parameter's gradient: layers, learning_rate, gradients
        (inputs optional: named by the weights when left out); no loss, no targets."""
        self.given_gradient_keys(root, entries)
        title = (self.text(entries["title"][1], "title") if "title" in entries else None) or "Backpropagation"
        inputs = self.inputs(entries["inputs"][1]) if "inputs" in entries else ()
        input_names = names_in(entries["inputs"][1]) if "inputs" in entries \
            else inputs_from_weights(entries["layers"][1] if "layers" in entries else None)
        layers = self.layers(entries["layers"][1], input_names) if "layers" in entries else ()
        eta = None
        if "learning_rate" in entries:
            node = entries["learning_rate"][1]
            eta = self.number(node, "learning_rate")
            if eta is not None and eta <= 0:
                self.problem(node, "learning_rate", f"must be greater than 0, found {node.value}")
        layer_nodes = entries["layers"][1].value if "layers" in entries and \
            isinstance(entries["layers"][1], SequenceNode) else []
        complete = bool(layer_nodes) and len(layers) == len(layer_nodes)  # else reported already
        gradients = self.gradients(entries["gradients"][1], layers) if complete else ()
        asked = self.asked(entries["asked"][1], layers, complete) if "asked" in entries else ()
        notation = self.notation(entries["notation"][1], input_names, layers, []) \
            if "notation" in entries else Notation()
        if self.problems or eta is None:
            return None
        spec = Spec(self.source, title, inputs, layers, (), "", eta, asked=asked, notation=notation,
                    gradients=gradients)
        if has_draws(spec):  # an exam variant works a forward and backward pass
            self.problem(entries["gradients"][0], "gradients", "a given-gradient problem gives its "
                         "values: it cannot draw any (write numbers instead of uniform/choice)")
            return None
        return spec

    def steps(self, node: Node) -> int:
        """steps: N, the number of gradient-descent iterations worked."""
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_STEPS:
            self.problem(node, "steps", f"expected a whole number from 1 to {MAX_STEPS}, found {kind_of(node)}")
            return 1
        return value

    def worked(self, node: Node) -> Worked:
        """worked: {form: delta, matrix: true, closed_form: true}"""
        entries = self.mapping(node, "worked")
        if entries is None:
            return Worked()
        self.keys(node, "worked", entries, (), Worked._fields)
        settings: dict[str, object] = {}
        if "form" in entries:
            form = self.choice(entries["form"][1], "worked.form", FORMS, "form")
            if form is not None:
                settings["form"] = form
        if "activation_table" in entries:
            table = self.choice(entries["activation_table"][1], "worked.activation_table", ACTIVATION_TABLES,
                                "activation table")
            if table is not None:
                settings["activation_table"] = table
        for key in ("matrix", "closed_form", "fold_bias", "derivations", "shortcut", "factored"):
            if key in entries:
                value_node = entries[key][1]
                value = scalar_value(value_node) if isinstance(value_node, ScalarNode) else None
                if not isinstance(value, bool):
                    self.problem(value_node, join("worked", key), f"expected true or false, found {kind_of(value_node)}")
                else:
                    settings[key] = value
        if settings.get("fold_bias") and settings.get("matrix") is False:  # an option of the matrix form
            self.problem(entries["fold_bias"][1], "worked.fold_bias",
                         "folds the bias into the matrix form's weights, so it needs matrix: true "
                         "(or leave matrix out), found matrix: false")
        if settings.get("shortcut") and settings.get("form") == "paths":  # derive.shortcut
            self.problem(entries["shortcut"][1], "worked.shortcut",
                         "works the output delta as a - y in the delta form, so it needs form: delta, "
                         "both or auto, found form: paths")
        if settings.get("factored") and settings.get("form") == "delta":  # derive.factored
            self.problem(entries["factored"][1], "worked.factored",
                         "writes the path form's gradients factored, so it needs form: paths, both "
                         "or auto, found form: delta")
        return Worked(**settings)  # type: ignore[arg-type]

    def shortcut_applies(self, node: Node, output: LayerSpec, loss: str, samples: tuple) -> None:
        """worked.shortcut (derive.shortcut): the output delta is a - y only for sigmoid
        outputs with binary cross-entropy, or softmax outputs with cross-entropy where every
        output has a target and the targets sum to 1 (drawn targets: checked per variant)."""
        at = next((value for key, value in node.value if key.value == "shortcut"), node)
        activation = output.activation.name
        if (activation, loss) not in (("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy")):
            self.problem(at, "worked.shortcut", "the output delta is a - y only for sigmoid outputs with "
                         "binary_cross_entropy or softmax outputs with cross_entropy, found "
                         f"{activation} outputs with {loss}")
            return
        if activation != "softmax":
            return
        names = {neuron.name for neuron in output.neurons}
        for _, targets in samples:
            given = dict(targets)
            if not all(isinstance(value, (int, float)) for value in given.values()):
                continue
            if set(given) != names or abs(sum(given.values()) - 1) > 1e-12:
                self.problem(at, "worked.shortcut", "softmax with cross-entropy simplifies to a - y only "
                             "when every output has a target and the targets sum to 1, found targets "
                             f"for {len(given)} of {len(names)} outputs summing to {sum(given.values()):g}")
                return

    def asked(self, node: Node, layers: tuple[LayerSpec, ...], complete: bool = True) -> tuple[str, ...]:
        """Asked gradients: "x1->h1" for a weight, "h1" for the bias of h1; and, so that an
        exam collects the whole chain (derive grade), forward values "z:h1" and "a:h1" of a
        dense neuron, and "loss". A neuron named `loss` keeps meaning its bias."""
        if not isinstance(node, SequenceNode) or not node.value:
            self.problem(node, "asked", f"expected a list such as [x1->h1, h1], found {kind_of(node)}")
            return ()
        known = {"loss": "loss"}
        known.update({f"{source}->{n.name}": f"{source}->{n.name}" for layer in layers
                      for n in layer.neurons for source, _ in n.weights})
        known.update({n.name: f"b:{n.name}" for layer in layers for n in layer.neurons})
        known.update({f"{part}:{n.name}": f"{part}:{n.name}" for layer in layers if layer.kind == "dense"
                      for n in layer.neurons for part in ("z", "a")})
        found = []
        for i, item in enumerate(node.value):
            text = self.text(item, f"asked[{i}]")
            if text is None:
                continue
            key = text.replace(" ", "")
            if key not in known:
                if complete:
                    self.problem(item, f"asked[{i}]", f"no weight or bias {shown(text)!r} (write a weight "
                                 "as source->neuron, a bias as the neuron's name, a forward value as "
                                 "z:neuron or a:neuron, the loss as loss)")
                continue
            found.append(known[key])
        if complete and found and all(is_forward_item(key) for key in found):
            # the worksheet and the exam are a backward pass: its tasks are gradients
            self.problem(node, "asked", "names no weight or bias; list at least one gradient "
                         "(source->neuron or a neuron's name) beside forward values and the loss")
        return tuple(found)

    def constraints(self, node: Node) -> Constraints:
        entries = self.mapping(node, "exam")
        if entries is None:
            return Constraints()
        self.keys(node, "exam", entries, (), Constraints._fields)
        settings = {}
        for key, (_, value_node) in entries.items():
            if key in Constraints._fields:
                value = self.number(value_node, join("exam", key))
                if value is not None and value <= 0:
                    self.problem(value_node, join("exam", key), f"must be greater than 0, found {value_node.value}")
                elif key == "relative_tolerance" and value is not None and value >= 1:
                    self.problem(value_node, join("exam", key), "expected a fraction of the answer below 1 "
                                 f"(0.005 for half a percent), found {value_node.value}")
                elif key == "partial_credit" and value is not None and (value >= 100 or value != int(value)):
                    self.problem(value_node, join("exam", key), "expected a whole percentage from 1 to 99 "
                                 f"(the credit for a near miss), found {value_node.value}")
                elif value is not None:
                    settings[key] = int(value) if key in ("max_tries", "partial_credit") else value
        return Constraints(**settings)
