"""Stage 1: read a YAML spec safely and validate all of it in one pass.

The YAML is composed into PyYAML's node tree (never constructed into Python objects
by a loader that could run code) so that every problem can name its file, line and
key path. Every problem found is collected; the caller gets one SpecError listing all.

Reading is bounded before any validation: the file's size, how deeply lists and
mappings nest, and how much aliases (`*name`) may repeat (see LimitedLoader).
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import NamedTuple, Union

import yaml
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.events import AliasEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Problem, SpecError

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
MAX_SPEC_BYTES = 1_000_000  # a hand-sized network is a few kB; refuse to parse megabytes
# A spec nests lists and mappings 6 deep (top, layers, a layer, neurons, a neuron,
# weights), 8 with a drawn value ({uniform: [a, b]}). Composing YAML recurses once per
# level, so without a limit a file of 100,000 `[` would exhaust Python's stack; 20
# leaves room and stops that early.
MAX_DEPTH = 20
# Aliases (`*name`) share a node instead of copying it, so a short file can stand for
# an exponentially large document ("billion laughs"). Nothing here expands them, but
# every walk over the tree would see the repeats: so bound the number of aliases and
# the number of nodes they repeat in total (an alias counts the size of what it names).
MAX_ALIASES = 1_000
MAX_ALIAS_NODES = 10_000
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# A number as people write it: 6, -0.5, .5, 5., 1e-3, 2.5E+2. YAML 1.1 (PyYAML) reads
# 1e-3 as text and 010 as octal 8; this is the one notation both sides agree on.
DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*|[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
MAX_NAME_LENGTH = 40
MERGE_TAG = "tag:yaml.org,2002:merge"  # the `<<` key
NULL_TAG = "tag:yaml.org,2002:null"

TOP_REQUIRED = ("layers", "loss", "learning_rate")  # and inputs + targets, or samples
REDUCTIONS = ("mean", "sum", "sequential")
MAX_SAMPLES = 20
FORMS = ("auto", "paths", "delta", "both")  # worked.form and --form: the backward pass shown
POLICIES = ("exact", "by-hand")  # --rounding: how values are carried from step to step
TOP_OPTIONAL = ("inputs", "targets", "samples", "reduction", "title", "asked", "exam", "worked", "steps",
                "notation")
NOTATION_CHOICES = {"parameters": ("layered", "flat"), "index_order": ("from-to", "to-from"),
                    "units": ("layered", "flat")}
# A custom symbol (notation.names) is printed into LaTeX and Markdown math as written,
# so it may use only this: letters, digits, _, ^, braces, primes and three accents.
# Any other command (\input, \write, \def, \catcode), $, %, #, &, ~ or a space could
# run code or break the document it is printed into.
SYMBOL_TEXT = re.compile(r"(?:[A-Za-z0-9_^{}']|\\(?:hat|tilde|bar)(?![A-Za-z]))+\Z")
SYMBOL_TOKEN = re.compile(r"\\(?:hat|tilde|bar)|.")
MAX_SYMBOL_LENGTH = 40


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


class Constraints(NamedTuple):
    """When an exam variant's draw is rejected and drawn again (see derive.exam)."""

    max_abs_z: float = 6.0  # sigmoid/tanh saturation: |z| beyond this
    max_tries: int = 1000  # draws per variant before giving up


class NeuronSpec(NamedTuple):
    name: str
    bias: Value
    weights: tuple[tuple[str, Value], ...]  # (source name, value), in spec order


class LayerSpec(NamedTuple):
    activation: Activation
    neurons: tuple[NeuronSpec, ...]


@dataclass(frozen=True)
class Spec:
    source: str  # file name as the user gave it, for messages
    title: str
    inputs: tuple[tuple[str, Value], ...]
    layers: tuple[LayerSpec, ...]
    targets: tuple[tuple[str, Value], ...]
    loss: str
    learning_rate: Value
    asked: tuple[str, ...] = ()  # parameter keys whose gradients are asked; () = all
    constraints: Constraints = Constraints()
    worked: Worked = Worked()
    steps: int = 1  # gradient-descent iterations, each from the previous one's updated values
    # several samples: each one's inputs and targets (inputs/targets above are the first's)
    samples: tuple[tuple[tuple[tuple[str, Value], ...], tuple[tuple[str, Value], ...]], ...] = ()
    reduction: str = "mean"  # samples: mean or sum of the gradients, one update; or sequential
    notation: Notation = Notation()


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec at `path`; raise SpecError listing every problem."""
    name = str(path)
    try:
        # at most one byte past the limit: /dev/zero or a 4 GB file is refused at once,
        # not read into memory first (a pipe, <(cat spec.yaml), is read like a file)
        with open(path, "rb") as file:
            raw = file.read(MAX_SPEC_BYTES + 1)
    except OSError as err:
        raise SpecError([Problem(name, None, "", f"cannot read file: {err.strerror or err}")]) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError([Problem(name, None, "", f"file is larger than {MAX_SPEC_BYTES:,} bytes, the "
                                 "limit for a spec")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        # name the line of the first bad byte: the user has to find it in an editor
        line = raw[:err.start].count(b"\n") + 1
        raise SpecError([Problem(name, line, "", f"not UTF-8 text: byte 0x{raw[err.start]:02x} at "
                                 f"offset {err.start} cannot be decoded; save the file as UTF-8")]) from None
    return parse_spec(text, name)


def parse_spec(text: str, source: str = "<spec>") -> Spec:
    """Validate spec text; `source` names it in messages."""
    root = compose(text, source)
    reader = Reader(source)
    spec = reader.spec(root)
    if reader.problems or spec is None:
        raise SpecError(reader.problems)
    return spec


class LimitExceeded(Exception):
    """The YAML is beyond one of the reading limits; raised while composing."""

    def __init__(self, mark: Mark, path: str, message: str) -> None:
        super().__init__(message)
        self.mark, self.path, self.message = mark, path, message


class LimitedLoader(yaml.SafeLoader):
    """The safe composer with the reading limits, checked as each node is composed.

    The depth is counted before a list or mapping is opened, so the limit is reached
    after MAX_DEPTH + 1 events, long before the composer's recursion could run deep.
    Every node's size with its aliases expanded is kept (by id: the nodes live as long
    as the loader), so an alias costs its size without anything being expanded. An
    alias to a node that is still open (`&a [*a]`) would make the tree a cycle: refused.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.aliases = 0
        self.repeated = 0  # nodes repeated by aliases so far
        self.sizes: dict[int, int] = {}  # id(node) -> its size with aliases expanded
        self.path: list[str] = []  # key path of the node being composed, for messages

    def compose_node(self, parent: Node | None, index: object) -> Node:
        self.path.append(path_part(parent, index))
        try:
            if self.check_event(AliasEvent):
                return self.compose_alias(parent, index)
            event = self.peek_event()
            if isinstance(event, CollectionStartEvent):
                if self.depth >= MAX_DEPTH:
                    raise LimitExceeded(event.start_mark, self.where(),
                                        f"YAML nesting is too deep: more than {MAX_DEPTH} levels "
                                        "of lists and mappings (a spec needs at most 8)")
                self.depth += 1
            node = super().compose_node(parent, index)
            if isinstance(event, CollectionStartEvent):
                self.depth -= 1
            self.sizes[id(node)] = 1 + sum(self.sizes[id(child)] for child in children(node))
            return node
        finally:
            self.path.pop()

    def compose_alias(self, parent: Node | None, index: object) -> Node:
        event = self.peek_event()
        node = super().compose_node(parent, index)  # an unknown alias is a YAML error there
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            raise LimitExceeded(event.start_mark, self.where(),
                                f"too many YAML aliases: *{event.anchor} is alias number "
                                f"{self.aliases}; the limit is {MAX_ALIASES}")
        size = self.sizes.get(id(node))
        if size is None:
            raise LimitExceeded(event.start_mark, self.where(),
                                f"YAML alias *{event.anchor} is inside the node it names "
                                "(a cycle); write the value out")
        self.repeated += size
        if self.repeated > MAX_ALIAS_NODES:
            raise LimitExceeded(event.start_mark, self.where(),
                                f"YAML aliases repeat too much: up to *{event.anchor} they "
                                f"stand for {self.repeated} nodes; the limit is "
                                f"{MAX_ALIAS_NODES} (write the values out)")
        return node

    def where(self) -> str:
        """The key path being composed; past 8 levels (deeper than any spec) cut short."""
        parts = [part for part in self.path if part]
        path = ""
        for part in parts[:8]:
            path = path + part if part.startswith("[") or not path else f"{path}.{part}"
        return path + "..." if len(parts) > 8 else path


def path_part(parent: Node | None, index: object) -> str:
    """How a node adds to its key path: `[3]` in a list, `key` in a mapping."""
    if isinstance(index, int):
        return f"[{index}]"
    if isinstance(index, ScalarNode):
        return shown(index.value)
    return ""  # the root, or a mapping key


def children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def compose(text: str, source: str) -> Node:
    """YAML text to a node tree, turning every YAML failure into a located SpecError."""
    try:
        root = yaml.compose(text, Loader=LimitedLoader)
    except LimitExceeded as err:
        raise SpecError([Problem(source, err.mark.line + 1, printable(err.path), err.message)]) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(part for part in (err.context, err.problem) if part)
        raise SpecError([Problem(source, line, "", f"YAML syntax error: {what}")]) from None
    except yaml.reader.ReaderError as err:
        # control characters (NUL, ...): the error has an offset, not a line; give the line
        line = text[:err.position].count("\n") + 1
        raise SpecError([Problem(source, line, "", f"YAML error: character U+{err.character:04X} "
                                 f"is not allowed ({err.reason})")]) from None
    except yaml.YAMLError as err:
        raise SpecError([Problem(source, None, "", f"YAML error: {err}")]) from None
    except RecursionError:
        raise SpecError([Problem(source, None, "", "YAML nesting is too deep")]) from None
    if root is None or (isinstance(root, ScalarNode) and root.tag == NULL_TAG and not root.value):
        # nothing, or a bare `---` (an empty document, which YAML composes into a null).
        # line 1: every problem should point somewhere, and the content belongs at the top
        raise SpecError([Problem(source, 1, "", "the file is empty (no YAML content); expected a "
                                 "mapping with keys inputs, layers, targets, loss, learning_rate "
                                 "(or samples for inputs and targets)")])
    return root


def kind_of(node: Node) -> str:
    """How a node reads to a user, for 'expected X, found Y' messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = scalar_value(node)
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {node.value}"
    if isinstance(value, (int, float)):
        return f"the number {node.value}"
    if not isinstance(value, str):  # a date: say so, or "expected text, found the text" reads oddly
        return f"{shown(node.value)!r} (which YAML reads as a {type(value).__name__}; quote it for text)"
    return f"the text {shown(node.value)!r}"


def scalar_value(node: ScalarNode) -> object:
    """The plain value of a scalar node, by YAML's own safe resolution rules.

    SafeConstructor builds only str/int/float/bool/None/timestamps from a scalar: no code.
    A scalar it cannot build (an impossible date, `!!int abc`, an unknown `!tag`, an
    integer too long for Python to convert) is data we cannot read as anything but its
    text; the checks that follow then report it with its location instead of a traceback.
    Any exception counts: PyYAML's constructors fail on an explicitly tagged scalar in
    their own ways (`!!bool maybe`: KeyError, `!!timestamp nope`: AttributeError, an empty
    `!!int`: IndexError), and only this one scalar's text can have caused it.
    """
    try:
        return SafeConstructor().construct_object(node)
    except Exception:  # noqa: BLE001 (see above)
        return node.value


class Reader:
    """Walks the node tree, building the Spec and collecting every problem."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        # Every neuron name written in the file -> its layer number (1-based), and the
        # names of the last layer, read in a pre-pass before any validation: so that a
        # weight from a later neuron is called "later", not "unknown", and a mistake
        # inside the output layer does not make its targets look like non-outputs.
        self.declared: dict[str, int] = {}
        self.outputs: list[str] | None = None
        self.formulas: dict[str, str] = {}  # custom activation name -> its formula

    def problem(self, node: Node | None, path: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.problems.append(Problem(self.source, line, printable(path), printable(message)))

    # --- generic shapes -------------------------------------------------------------

    def mapping(self, node: Node, path: str) -> dict[str, tuple[Node, Node]] | None:
        """A mapping's entries by key, rejecting non-text and duplicate keys."""
        if not isinstance(node, MappingNode):
            self.problem(node, path, f"expected a mapping, found {kind_of(node)}")
            return None
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                # `<<: *anchor` would make keys appear that are not written here; and
                # overriding a merged key would look like a duplicate. Ask for it spelled out.
                self.problem(key_node, path, "YAML merge keys (<<) are not supported; "
                             "write the entries out")
                continue
            if not isinstance(key_node, ScalarNode) or not isinstance(scalar_value(key_node), str):
                self.problem(key_node, path, f"keys must be names, found {kind_of(key_node)}")
                continue
            key = key_node.value
            if key in entries:
                first = entries[key][0].start_mark.line + 1
                self.problem(key_node, join(path, key), f"duplicate key (first given on line {first})")
                continue
            entries[key] = (key_node, value_node)
        return entries

    def keys(self, node: Node, path: str, entries: dict[str, tuple[Node, Node]],
             required: tuple[str, ...], optional: tuple[str, ...]) -> None:
        for key in required:
            if key not in entries:
                self.problem(node, join(path, key), "missing required key")
        allowed = required + optional
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                self.problem(key_node, join(path, key),
                             f"unknown key (expected one of: {', '.join(allowed)})")

    def value(self, node: Node, path: str) -> Value | None:
        """A number, or a draw for exams: {uniform: [low, high], decimals: n} or {choice: [...]}."""
        return self.draw(node, path) if isinstance(node, MappingNode) else self.number(node, path)

    def draw(self, node: Node, path: str) -> Draw | None:
        entries = self.mapping(node, path)
        if entries is None:
            return None
        kinds = [k for k in ("uniform", "choice") if k in entries]
        if len(kinds) != 1:
            self.problem(node, path, "expected a number, or a draw {uniform: [low, high], "
                         "decimals: 2} or {choice: [a, b, ...]}")
            return None
        self.keys(node, path, entries, (kinds[0],), ("decimals",) if kinds[0] == "uniform" else ())
        list_node = entries[kinds[0]][1]
        if not isinstance(list_node, SequenceNode) or not list_node.value:
            self.problem(list_node, join(path, kinds[0]), f"expected a list of numbers, found {kind_of(list_node)}")
            return None
        numbers = [self.number(item, f"{join(path, kinds[0])}[{i}]") for i, item in enumerate(list_node.value)]
        if any(n is None for n in numbers):
            return None
        if kinds[0] == "choice":
            return Draw("choice", options=tuple(numbers))  # type: ignore[arg-type]
        decimals = 2
        if "decimals" in entries:
            decimals_node = entries["decimals"][1]
            found = scalar_value(decimals_node) if isinstance(decimals_node, ScalarNode) else None
            if isinstance(found, bool) or not isinstance(found, int) or not 0 <= found <= 10:
                self.problem(decimals_node, join(path, "decimals"),
                             f"expected a whole number from 0 to 10, found {kind_of(decimals_node)}")
                return None
            decimals = found
        if len(numbers) != 2 or not numbers[0] < numbers[1]:  # type: ignore[operator]
            self.problem(list_node, join(path, "uniform"), "expected [low, high] with low < high")
            return None
        return Draw("uniform", numbers[0], numbers[1], decimals)  # type: ignore[arg-type]

    def number(self, node: Node, path: str) -> float | None:
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, str) and DECIMAL.match(value):
            if node.style is None:  # unquoted 1e-3: a number to anyone but YAML 1.1
                value = float(value)
            else:
                self.problem(node, path, f"expected a number, found {kind_of(node)} (remove the quotes)")
                return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(node, path, f"expected a number, found {kind_of(node)}")
            return None
        try:
            number = float(value)
        except OverflowError:  # a huge YAML integer
            number = math.inf
        if not math.isfinite(number):
            self.problem(node, path, f"expected a finite number, found {shown(node.value)}")
            return None
        if not DECIMAL.match(node.value):
            # 010 (octal 8), 0x10, 1:30 (sexagesimal 90), 1_0: YAML reads a different
            # number than a reader sees, and every printed number must be the intended one
            self.problem(node, path, f"write numbers in plain decimal: YAML reads {shown(node.value)!r} "
                         f"as {value}")
            return None
        if number == 0 and Decimal(node.value) != 0:
            self.problem(node, path, f"{shown(node.value)} is closer to 0 than any number derive "
                         "can compute with (the smallest is about 5e-324); write 0 if 0 is meant")
            return None
        if Decimal(node.value) != Decimal(repr(number)):
            # derive computes with the decimal as written (0.1 is exactly 1/10), recovered from
            # the double; a number with more digits than a double holds would silently change
            self.problem(node, path, f"{shown(node.value)} has more significant digits than derive "
                         "reads exactly (at most 15)")
            return None
        return number

    def text(self, node: Node, path: str) -> str | None:
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, str):
            self.problem(node, path, f"expected text, found {kind_of(node)}")
            return None
        try:
            # "\ud83d\ude00" is how JSON (and YAML) escapes one emoji; PyYAML leaves the
            # two halves apart, and no output could encode them. Join pairs; refuse halves.
            return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        except UnicodeDecodeError as err:
            code = int.from_bytes(err.object[err.start:err.start + 2], "little")
            self.problem(node, path, f"U+{code:04X} is half of a UTF-16 surrogate pair, not a "
                         "character; write the character itself")
            return None

    def name(self, key_node: Node, path: str) -> bool:
        key = key_node.value
        if not NAME.match(key) or len(key) > MAX_NAME_LENGTH:
            self.problem(key_node, path, "names must start with a letter and use only letters, "
                         f"digits and _ (at most {MAX_NAME_LENGTH} characters), found {shown(key)!r}")
            return False
        return True

    def choice(self, node: Node, path: str, options: tuple[str, ...], what: str) -> str | None:
        value = self.text(node, path)
        if value is not None and value not in options:
            self.problem(node, path, f"unknown {what} {shown(value)!r} (valid: {', '.join(options)})")
            return None
        return value

    # --- the spec itself ------------------------------------------------------------

    def spec(self, root: Node) -> Spec | None:
        entries = self.mapping(root, "")
        if entries is None:
            return None
        self.keys(root, "", entries, TOP_REQUIRED, TOP_OPTIONAL)
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
        asked = self.asked(entries["asked"][1], layers) if "asked" in entries else ()
        constraints = self.constraints(entries["exam"][1]) if "exam" in entries else Constraints()
        worked = self.worked(entries["worked"][1]) if "worked" in entries else Worked()
        target_names = names_in(entries["targets"][1] if "targets" in entries
                                else first_sample_part(entries, "targets"))
        notation = self.notation(entries["notation"][1], input_names, layers, target_names) \
            if "notation" in entries else Notation()
        steps = self.steps(entries["steps"][1]) if "steps" in entries else 1
        if self.problems or loss is None or eta is None:
            return None
        return Spec(self.source, title, inputs, layers, targets, loss, eta, asked=asked,
                    constraints=constraints, worked=worked, steps=steps, notation=notation,
                    samples=samples, reduction=reduction or "mean")

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

    def steps(self, node: Node) -> int:
        """steps: N, the number of gradient-descent iterations worked."""
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_STEPS:
            self.problem(node, "steps", f"expected a whole number from 1 to {MAX_STEPS}, found {kind_of(node)}")
            return 1
        return value

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
        return Notation(**settings)  # type: ignore[arg-type]

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
        if key.startswith("z:") and not re.match(r"z(?:[_^']|\Z)", symbol):
            # derive.delta names a neuron's delta by swapping the first letter of its z for
            # \delta: only z with scripts keeps deltas valid LaTeX and distinct
            self.problem(node, path, f"a pre-activation symbol is z with a sub- or superscript "
                         f"(z_1, z_{{h1}}, z'), found {shown(text)}")
            return []
        return [SymbolName(key, symbol, node.start_mark.line + 1, path)]

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
        for key in ("matrix", "closed_form"):
            if key in entries:
                value_node = entries[key][1]
                value = scalar_value(value_node) if isinstance(value_node, ScalarNode) else None
                if not isinstance(value, bool):
                    self.problem(value_node, join("worked", key), f"expected true or false, found {kind_of(value_node)}")
                else:
                    settings[key] = value
        return Worked(**settings)  # type: ignore[arg-type]

    def asked(self, node: Node, layers: tuple[LayerSpec, ...]) -> tuple[str, ...]:
        """Asked gradients: "x1->h1" for a weight, "h1" for the bias of h1."""
        if not isinstance(node, SequenceNode) or not node.value:
            self.problem(node, "asked", f"expected a list such as [x1->h1, h1], found {kind_of(node)}")
            return ()
        known = {f"{source}->{n.name}": f"{source}->{n.name}" for layer in layers
                 for n in layer.neurons for source, _ in n.weights}
        known.update({n.name: f"b:{n.name}" for layer in layers for n in layer.neurons})
        found = []
        for i, item in enumerate(node.value):
            text = self.text(item, f"asked[{i}]")
            if text is None:
                continue
            key = text.replace(" ", "")
            if key not in known:
                self.problem(item, f"asked[{i}]", f"no weight or bias {shown(text)!r} (write a weight "
                             "as source->neuron, a bias as the neuron's name)")
                continue
            found.append(known[key])
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
                elif value is not None:
                    settings[key] = int(value) if key == "max_tries" else value
        return Constraints(**settings)

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
        from .formula import problem  # uses SymPy: imported only for a formula

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


def join(path: str, key: str) -> str:
    key = shown(key)  # a key path names a place; a pasted blob as a key is cut short
    return f"{path}.{key}" if path else key


def listed(names: list[str] | dict[str, int], most: int = 20) -> str:
    """Names for a message, as many as a reader takes in, each cut to a readable length."""
    names = list(names)
    text = ", ".join(shown(name) for name in names[:most])
    return text + f", ... ({len(names)} in all)" if len(names) > most else text


def printable(text: str) -> str:
    """`text` with every character a terminal could act on (newline, ESC, a lone
    surrogate, a bidi override) written as its Python escape: a message is one line
    of plain text, whatever the file contains."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def entry(node: Node, key: str) -> Node | None:
    """The value under `key` in a mapping node, or None; for the pre-pass, which checks nothing."""
    if not isinstance(node, MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return value_node
    return None


def names_in(node: Node | None) -> list[str]:
    """The text keys of a mapping node as written, first occurrence only; no checks."""
    if not isinstance(node, MappingNode):
        return []
    names: dict[str, None] = {}  # a dict keeps order and finds repeats fast in a big file
    for key_node, _ in node.value:
        if isinstance(key_node, ScalarNode) and key_node.tag != MERGE_TAG \
                and isinstance(scalar_value(key_node), str):
            names.setdefault(key_node.value)
    return list(names)


def shown(text: str) -> str:
    """`text` cut to a readable length for a message (a 5000-digit number, a pasted blob)."""
    return text if len(text) <= 40 else text[:37] + "..."


def lowest(value: Value) -> float:
    return value.bounds[0] if isinstance(value, Draw) else value


def highest(value: Value) -> float:
    return value.bounds[1] if isinstance(value, Draw) else value


# --- exam draws ------------------------------------------------------------------------

def has_draws(spec: Spec) -> bool:
    return any(isinstance(v, Draw) for v in spec_values(spec))


def spec_values(spec: Spec) -> list[Value]:
    """Every drawable value, in the fixed order draws are made in."""
    values: list[Value] = [v for _, v in spec.inputs]
    for layer in spec.layers:
        for neuron in layer.neurons:
            values.extend(v for _, v in neuron.weights)
            values.append(neuron.bias)
    values.extend(v for _, v in spec.targets)
    values.append(spec.learning_rate)
    return values


def instantiate(spec: Spec, rng: random.Random) -> Spec:
    """The spec with every draw replaced by a value from `rng`, drawn in a fixed order."""
    def pick(value: Value) -> float:
        if not isinstance(value, Draw):
            return value
        if value.kind == "choice":
            return rng.choice(value.options)
        drawn = Decimal(repr(rng.uniform(value.low, value.high)))
        rounded = float(drawn.quantize(Decimal(1).scaleb(-value.decimals), rounding=ROUND_HALF_UP))
        return rounded + 0.0  # never -0.0

    inputs = tuple((name, pick(v)) for name, v in spec.inputs)
    layers = tuple(
        layer._replace(neurons=tuple(
            n._replace(weights=tuple((source, pick(v)) for source, v in n.weights), bias=pick(n.bias))
            for n in layer.neurons))
        for layer in spec.layers)
    targets = tuple((name, pick(v)) for name, v in spec.targets)
    return replace(spec, inputs=inputs, layers=layers, targets=targets,
                   learning_rate=pick(spec.learning_rate))


def spec_yaml(spec: Spec) -> str:
    """A spec with given values as YAML, in the canonical form (for a drawn variant).

    Every key that shapes the key is kept, so that `derive solve` on the file remakes
    the same key: the samples, steps and worked forms as well as the values."""
    def activation(a: Activation) -> object:
        if a.formula is not None:
            return {"formula": a.formula, "name": a.name}
        return {"name": a.name, "slope": a.slope} if a.name == "leaky_relu" else a.name

    document: dict[str, object] = {"title": spec.title}
    if spec.samples:
        document["samples"] = [{"inputs": dict(inputs), "targets": dict(targets)}
                               for inputs, targets in spec.samples]
    else:
        document["inputs"] = dict(spec.inputs)
    document["layers"] = [{"activation": activation(layer.activation),
                           "neurons": {n.name: {"bias": n.bias, "weights": dict(n.weights)}
                                       for n in layer.neurons}}
                          for layer in spec.layers]
    if spec.samples:
        document["reduction"] = spec.reduction
    else:
        document["targets"] = dict(spec.targets)
    document["loss"] = spec.loss
    document["learning_rate"] = spec.learning_rate
    if spec.steps != 1:
        document["steps"] = spec.steps
    if spec.worked != Worked():
        document["worked"] = {key: value for key, value in spec.worked._asdict().items()
                              if value != getattr(Worked(), key)}
    if spec.asked:
        document["asked"] = [key.removeprefix("b:") for key in spec.asked]
    if spec.notation != Notation():  # so that `derive solve` on a variant names things alike
        document["notation"] = notation_document(spec.notation)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=None)


def notation_document(notation: Notation) -> dict[str, object]:
    """`notation` as the spec's mapping: settings that differ from the default, and the
    names grouped as written (a neuron with only its activation named: just the text)."""
    document: dict[str, object] = {key: getattr(notation, key) for key in NOTATION_CHOICES
                                   if getattr(notation, key) != getattr(Notation(), key)}
    names: dict[str, object] = {}
    for entry in notation.names:
        if "->" in entry.key:
            names[entry.key] = entry.symbol
            continue
        part, name = entry.key.split(":", 1)
        names.setdefault(name, {})[part] = entry.symbol  # type: ignore[index]
    if names:
        document["names"] = {name: (value["a"] if isinstance(value, dict) and list(value) == ["a"]
                                    else value) for name, value in names.items()}
    return document
