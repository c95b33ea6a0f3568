"""Reading numbers: plain decimals that derive reads exactly as written, or draws for exams."""
from __future__ import annotations

import math
import re
from decimal import Decimal

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .documents import DocumentReader, join, kind_of, scalar_value, shown
from .model import Draw, Value

# A number as people write it: 6, -0.5, .5, 5., 1e-3, 2.5E+2. YAML 1.1 (PyYAML) reads
# 1e-3 as text and 010 as octal 8; this is the one notation both sides agree on.
DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*|[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")


class NumberReader(DocumentReader):
    """Numbers and drawn values, each checked to be the number a reader of the file sees."""

    def value(self, node: Node, path: str) -> Value | None:
        """A number, or a draw for exams: {uniform: [low, high], decimals: n} or {choice: [...]}."""
        return self.draw(node, path) if isinstance(node, MappingNode) else self.number(node, path)

    def draw(self, node: Node, path: str, also: tuple[str, ...] = ()) -> Draw | None:
        """A draw; `also` names further keys the caller reads (a matrix draw's shape)."""
        entries = self.mapping(node, path)
        if entries is None:
            return None
        kinds = [k for k in ("uniform", "choice") if k in entries]
        if len(kinds) != 1:
            self.problem(node, path, "expected a number, or a draw {uniform: [low, high], "
                         "decimals: 2} or {choice: [a, b, ...]}")
            return None
        self.keys(node, path, entries, (kinds[0],), (("decimals",) if kinds[0] == "uniform" else ()) + also)
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
