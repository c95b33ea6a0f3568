"""Reading a layer's activation: a built-in by name (leaky_relu with its slope), or a
custom formula (derive.formula checks it; the text is never evaluated as code)."""
from __future__ import annotations

from yaml.nodes import MappingNode, Node

from .documents import MAX_NAME_LENGTH, NAME, join, shown
from .model import ACTIVATIONS, DEFAULT_LEAKY_SLOPE, Activation
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
