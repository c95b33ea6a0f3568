"""Notation options (docs/spec.md, "Notation options") and the grammar of a custom symbol."""
from __future__ import annotations

import re

from yaml.nodes import MappingNode, Node, ScalarNode

from ..errors import Problem
from .documents import join, kind_of, listed, scalar_value, shown
from .layers import LayerReader
from .model import NOTATION_CHOICES, LayerSpec, Notation, SymbolName

# A custom symbol (notation.names) is printed into LaTeX and Markdown math as written,
# so it may use only this: letters, digits, _, ^, braces, primes and three accents.
# Any other command (\input, \write, \def, \catcode), $, %, #, &, ~ or a space could
# run code or break the document it is printed into.
SYMBOL_TEXT = re.compile(r"(?:[A-Za-z0-9_^{}']|\\(?:hat|tilde|bar)(?![A-Za-z]))+\Z")
SYMBOL_TOKEN = re.compile(r"\\(?:hat|tilde|bar)|.")
MAX_SYMBOL_LENGTH = 40
# a pre-activation written as the letter z with scripts (z_1, z_{h1}, z'): its delta swaps
# the letter (\delta_1); any other symbol s (net_{h1}, h_1^{sum}) has the delta \delta_{s}
Z_LETTER = re.compile(r"z(?=[_^']|\Z)")


def symbol_form(text: str) -> str:
    """A custom symbol in its one printed form (w_1 and {w}_{1} are both w_{1}); raises
    ValueError saying what is wrong if `text` is not a symbol.

    The grammar is small: an item is a letter, a digit, an accent (\\hat{y}) or a
    braced group, with at most one subscript and one superscript (or primes) after it.
    It keeps to what LaTeX, KaTeX and MathJax all accept (no double subscripts, no
    unbalanced braces), and the one form lets duplicates be found by how they print.
    """
    if len(text) > MAX_SYMBOL_LENGTH:
        raise ValueError(f"a symbol has at most {MAX_SYMBOL_LENGTH} characters")
    if not SYMBOL_TEXT.match(text):
        raise ValueError("a symbol may use only letters, digits, _, ^, {}, primes (') and "
                         "\\hat, \\tilde, \\bar (no spaces, no other commands)")
    tokens = SYMBOL_TOKEN.findall(text)
    form, end, _ = _symbol_items(tokens, 0)
    if end < len(tokens):
        raise ValueError("unbalanced braces: a } without its {")
    first = form.lstrip("{")[0]
    if not (first.isalpha() or first == "\\"):
        raise ValueError("a symbol starts with a letter or an accent")
    return form


def _symbol_items(tokens: list[str], i: int) -> tuple[str, int, bool]:
    """Items up to a closing brace (or the end): their form, the index reached, and
    whether they are one item without scripts (whose braces can go: {w}_1 is w_1)."""
    items = []
    while i < len(tokens) and tokens[i] != "}":
        base, i = _symbol_base(tokens, i)
        sub = sup = None
        primes = 0
        while i < len(tokens) and tokens[i] in ("_", "^", "'"):
            mark = tokens[i]
            if mark == "_" and sub is not None:
                raise ValueError("a double subscript: put one in braces, e.g. w_{1_2}")
            if mark == "^" and (sup is not None or primes):
                raise ValueError("a double superscript: put one in braces, e.g. w^{(1)}")
            if mark == "'" and sup is not None:
                raise ValueError("a prime after a superscript: write it before, e.g. w'^{2}")
            if mark == "'":
                primes, i = primes + 1, i + 1
            elif mark == "_":
                sub, i = _symbol_argument(tokens, i + 1, mark)
            else:
                sup, i = _symbol_argument(tokens, i + 1, mark)
        items.append(base + (f"_{{{sub}}}" if sub is not None else "") + "'" * primes
                     + (f"^{{{sup}}}" if sup is not None else ""))
        scripted = sub is not None or sup is not None or primes > 0
    return "".join(items), i, len(items) == 1 and not scripted


def _symbol_base(tokens: list[str], i: int) -> tuple[str, int]:
    token = tokens[i]
    if token.isalnum():
        return token, i + 1
    if token.startswith("\\"):
        argument, i = _symbol_argument(tokens, i + 1, token)
        return f"{token}{{{argument}}}", i
    if token == "{":
        inner, i, simple = _symbol_group(tokens, i)
        return (inner if simple else f"{{{inner}}}"), i
    raise ValueError(f"{token} needs something before it")


def _symbol_argument(tokens: list[str], i: int, after: str) -> tuple[str, int]:
    """What follows _, ^ or an accent: one letter or digit, or a braced group."""
    if i < len(tokens) and tokens[i].isalnum():
        return tokens[i], i + 1
    if i < len(tokens) and tokens[i] == "{":
        inner, i, _ = _symbol_group(tokens, i)
        return inner, i
    raise ValueError(f"{after} needs a letter, a digit or a {{group}} after it")


def _symbol_group(tokens: list[str], i: int) -> tuple[str, int, bool]:
    inner, i, simple = _symbol_items(tokens, i + 1)
    if i >= len(tokens):
        raise ValueError("unbalanced braces: a { without its }")
    if not inner:
        raise ValueError("empty braces {}")
    return inner, i + 1, simple


class NotationReader(LayerReader):
    """notation: settings, and custom symbols for the inputs, neurons and weights read."""

    def notation(self, node: Node, input_names: list[str], layers: tuple[LayerSpec, ...],
                 target_names: list[str]) -> Notation:
        """notation: {parameters: flat, index_order: to-from, units: flat, names: {...}}"""
        entries = self.mapping(node, "notation")
        if entries is None:
            return Notation()
        self.keys(node, "notation", entries, (), Notation._fields)
        settings: dict[str, object] = {}
        for key, options in NOTATION_CHOICES.items():
            if key in entries:
                value = self.choice(entries[key][1], join("notation", key), options, key.replace("_", " "))
                if value is not None:
                    settings[key] = value
        if "names" in entries:
            settings["names"] = self.symbol_names(entries["names"][1], input_names, layers, target_names)
        if "loss_terms" in entries:
            self.loss_terms(entries["loss_terms"][1], target_names, settings)
        self.distinct_deltas(settings.get("names", ()))  # type: ignore[arg-type]
        for name in settings.get("names", ()):  # type: ignore[attr-defined]
            if name.symbol == settings.get("loss"):  # L is taken always (derive.network), J when chosen
                self.problems.append(Problem(self.source, name.line, name.path, f"{name.symbol} would name "
                                             f"both the loss {name.symbol} and this; every symbol must name one thing"))
        return Notation(**settings)  # type: ignore[arg-type]

    def loss_terms(self, node: Node, target_names: list[str], settings: dict[str, object]) -> None:
        """loss_terms: true (seed 000, derive.lossterms): L = L_1 + L_2 + ..., the term of each
        output with a target, so it needs two or more; their symbols L_{k} (J_{k} with loss: J)
        are then taken, and no symbol of names may be one."""
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, bool):
            self.problem(node, "notation.loss_terms", f"expected true or false, found {kind_of(node)}")
            return
        if value and len(target_names) < 2:
            self.problem(node, "notation.loss_terms", "names the loss term of each output (L = L_1 + L_2 "
                         "+ ...), so it needs targets for two or more outputs, found "
                         f"{len(target_names)}")
            return
        settings["loss_terms"] = value
        letter = settings.get("loss", "L")
        taken = {f"{letter}_{{{k}}}": name for k, name in enumerate(target_names, 1)} if value else {}
        for name in settings.get("names", ()):  # type: ignore[attr-defined]
            if name.symbol in taken:
                self.problems.append(Problem(self.source, name.line, name.path, f"{name.symbol} would name "
                                             f"both the loss term of {taken[name.symbol]} (notation.loss_terms) "
                                             "and this; every symbol must name one thing"))

    def distinct_deltas(self, names: tuple[SymbolName, ...]) -> None:
        """A pre-activation named other than z (net_{h1}, h_1^{sum}: seeds 000, 001) has the
        delta \\delta_{net_{h1}} (derive.delta), as z_{net_{h1}} has: the two cannot both be given."""
        given = {name.symbol: name for name in names if name.key.startswith("z:")}
        for symbol, name in given.items():
            twin = given.get(f"z_{{{symbol}}}")
            if not Z_LETTER.match(symbol) and twin is not None:
                self.problems.append(Problem(self.source, twin.line, twin.path, f"{twin.symbol} and "
                                             f"{symbol} ({name.path}) would have the same delta "
                                             f"\\delta_{{{symbol}}}; rename one"))

    def symbol_names(self, node: Node, input_names: list[str], layers: tuple[LayerSpec, ...],
                     target_names: list[str]) -> tuple[SymbolName, ...]:
        """names: {x1: x, h1: h_1, o: {a: \\hat{y}, z: z_o, b: b_o, y: y_o}, x1->h1: w_1}"""
        entries = self.mapping(node, "notation.names")
        if entries is None:
            return ()
        weights = {f"{source}->{n.name}" for layer in layers for n in layer.neurons for source, _ in n.weights}
        found: list[SymbolName] = []
        given: dict[str, int] = {}  # what is named -> line, to catch x1->h1 and "x1 -> h1"
        for key, (key_node, value_node) in entries.items():
            path = join("notation.names", key)
            name = key.replace(" ", "")
            if name in given:
                self.problem(key_node, path, f"{shown(key)!r} is named twice (first on line {given[name]})")
                continue
            given[name] = key_node.start_mark.line + 1
            if "->" in name:
                neuron = name.split("->")[-1]
                if name in weights:
                    found.extend(self.symbol_name(value_node, path, name))
                elif neuron not in self.declared or neuron in {n.name for layer in layers for n in layer.neurons}:
                    self.problem(key_node, path, f"no weight {shown(key)!r} (a weight is source->neuron, "
                                 "as in the neuron's weights)")
                # else: the neuron was written but has a problem of its own, reported there
            elif name in input_names:
                if isinstance(value_node, MappingNode):
                    self.problem(value_node, path, "an input has one symbol: write it as text, e.g. x")
                else:
                    found.extend(self.symbol_name(value_node, path, f"a:{name}"))
            elif name in self.declared:
                found.extend(self.neuron_names(value_node, path, name, name in target_names))
            else:
                self.problem(key_node, path, f"no input, neuron or weight {shown(key)!r} (known: "
                             f"{listed(input_names + list(self.declared))}; a weight is source->neuron)")
        return tuple(found)

    def neuron_names(self, node: Node, path: str, name: str, output: bool) -> list[SymbolName]:
        """A neuron's symbols: its activation's as text, or a mapping of a, z, b (and y for
        an output with a target)."""
        if not isinstance(node, MappingNode):
            return self.symbol_name(node, path, f"a:{name}")
        entries = self.mapping(node, path)
        if entries is None:
            return []
        self.keys(node, path, entries, (), ("a", "z", "b", "y") if output else ("a", "z", "b"))
        found = []
        for part in ("a", "z", "b", "y"):
            if part in entries and (part != "y" or output):
                found.extend(self.symbol_name(entries[part][1], join(path, part), f"{part}:{name}"))
        return found

    def symbol_name(self, node: Node, path: str, key: str) -> list[SymbolName]:
        """One custom symbol, checked against the whitelist grammar (see symbol_form)."""
        text = self.text(node, path)
        if text is None:
            return []
        try:
            symbol = symbol_form(text)
        except ValueError as err:
            # shown as written: repr would double the backslash of \hat{y}
            self.problem(node, path, f"{err}; found {shown(text)}")
            return []
        return [SymbolName(key, symbol, node.start_mark.line + 1, path)]
