"""Reading a spec file into a YAML node tree, and the ground every reader stands on.

The YAML is composed into PyYAML's node tree (never constructed into Python objects
by a loader that could run code) so that every problem can name its file, line and
key path. Every problem found is collected in one list (DocumentReader.problems) that
the readers of each concern add to; the caller gets one SpecError listing all.

Reading is bounded before any validation: the file's size, how deeply lists and
mappings nest, and how much aliases (`*name`) may repeat (see LimitedLoader).
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.error import Mark
from yaml.events import AliasEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import Problem, SpecError

try:
    from yaml._yaml import CParser  # libyaml, where PyYAML was built with it
except ImportError:  # pragma: no cover (then every file is composed in pure Python)
    CParser = None  # type: ignore[assignment,misc]
NON_PRINTABLE = Reader.NON_PRINTABLE  # what PyYAML's reader refuses (libyaml's may not)

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
MAX_NAME_LENGTH = 40
MERGE_TAG = "tag:yaml.org,2002:merge"  # the `<<` key
NULL_TAG = "tag:yaml.org,2002:null"


def read_spec(path: str | Path) -> str:
    """The text of the spec file at `path`; raise SpecError if it cannot be read, is
    larger than MAX_SPEC_BYTES or is not UTF-8."""
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
    return text


class LimitExceeded(Exception):
    """The YAML is beyond one of the reading limits; raised while composing."""

    def __init__(self, mark: Mark, path: str, message: str) -> None:
        super().__init__(message)
        self.mark, self.path, self.message = mark, path, message


class Limits:
    """The reading limits, checked as each node is composed (mixed into a loader).

    The depth is counted before a list or mapping is opened, so the limit is reached
    after MAX_DEPTH + 1 events, long before the composer's recursion could run deep.
    Every node's size with its aliases expanded is kept (by id: the nodes live as long
    as the loader), so an alias costs its size without anything being expanded. An
    alias to a node that is still open (`&a [*a]`) would make the tree a cycle: refused.
    """

    def start_limits(self) -> None:
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


class LimitedLoader(Limits, yaml.SafeLoader):
    """The safe composer with the reading limits, in pure Python (PyYAML's own parser)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.start_limits()


if CParser is not None:
    class FastLoader(Limits, Composer, CParser, SafeConstructor, Resolver):  # type: ignore[misc]
        """The same composer with the limits, on libyaml's parser (4x faster on a wide
        network's spec): the events are libyaml's, the nodes and limits derive's own. Used
        only on text it reads exactly as LimitedLoader does (see compose)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.start_limits()

        def compose_scalar_node(self, anchor: str | None) -> Node:
            node = super().compose_scalar_node(anchor)
            if node.style == "":  # libyaml's plain style; PyYAML's is None (derive.spec.numbers reads it)
                node.style = None
            return node
else:  # pragma: no cover
    FastLoader = None  # type: ignore[assignment,misc]


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
    """YAML text to a node tree, turning every YAML failure into a located SpecError.

    Printable text is composed on libyaml's parser where PyYAML has it; anything that
    fails there (a syntax error, a limit) is composed again in pure Python, whose
    messages derive reports, so a file reads the same either way."""
    if FastLoader is not None and not NON_PRINTABLE.search(text):
        try:
            return document_root(yaml.compose(text, Loader=FastLoader), source)
        except (LimitExceeded, yaml.YAMLError, RecursionError):
            pass  # the pure-Python composer below says what is wrong, as it always did
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
    return document_root(root, source)


def document_root(root: Node | None, source: str) -> Node:
    """The composed document, or SpecError for an empty one."""
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


class DocumentReader:
    """The shared ground of the readers: the source, the one list of problems every
    reader adds to, and the generic shapes (mappings, keys, text, names, choices)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, node: Node | None, path: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.problems.append(Problem(self.source, line, printable(path), printable(message)))

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
