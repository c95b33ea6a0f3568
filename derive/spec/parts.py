"""`parts:` several parts on one network (seed 002: part (a) with the squared error,
part (b) with cross-entropy), read and checked.

    parts:
      - {label: a, title: "Squared error"}
      - {label: b, title: "Cross-entropy", loss: binary_cross_entropy}

Each part is the spec itself with a few keys overridden: `loss`, `learning_rate` and
`targets`, the keys that change what is computed from the forward pass but never the
network's shape; `label` (what its tasks are numbered by: a.3.1) and `title` (its
heading). Everything else (inputs, layers, notation, worked forms, asked) is shared.
A part is checked as the spec would be with its keys in place: its targets against
its loss, and the spec's own targets against a part that changes only the loss.
"""
from __future__ import annotations

import re

from yaml.nodes import Node, SequenceNode

from .documents import join, kind_of, shown
from .layers import DataReader
from .model import LOSSES, Draw, LayerSpec, PartSpec, Value

PART_KEYS = ("label", "title", "loss", "learning_rate", "targets")
MAX_PARTS = 10  # parts of one question; beyond this it is several questions
# a label is how the tasks are numbered (a.3.1) and the heading names it, "Part (a)": a few
# small letters (a, b, ..., or i, ii, iv), never S1 (the samples' prefix) or a digit
LABEL = re.compile(r"[a-z]{1,4}\Z")
PROBABILITY_LOSSES = ("binary_cross_entropy", "cross_entropy")  # targets between 0 and 1


class PartsReader(DataReader):
    """`parts:`, read after the spec's own loss and targets (a part is checked against them)."""

    def parts(self, node: Node, loss: str | None, targets: tuple[tuple[tuple[str, Value], ...], ...],
              samples: bool) -> tuple[PartSpec, ...]:
        """The parts; `targets` holds the spec's own targets (each sample's), which a part
        that overrides only the loss must still suit; with `samples` a part cannot override
        the targets (they are each sample's)."""
        if not isinstance(node, SequenceNode) or not 2 <= len(node.value) <= MAX_PARTS:
            self.problem(node, "parts", f"expected a list of 2 to {MAX_PARTS} parts such as "
                         "[{label: a, loss: half_squared_error}, {label: b, loss: binary_cross_entropy}], "
                         f"found {kind_of(node) if not isinstance(node, SequenceNode) else len(node.value)}")
            return ()
        found: list[PartSpec] = []
        labels: dict[str, int] = {}
        for i, item in enumerate(node.value):
            part = self.part(item, i, loss, targets, samples)
            if part is None:
                continue
            if part.label in labels:
                self.problem(item, f"parts[{i}].label", f"label {part.label!r} is already the label of "
                             f"parts[{labels[part.label]}]; each part needs its own")
                continue
            labels[part.label] = i
            found.append(part)
        return tuple(found)

    def part(self, node: Node, i: int, loss: str | None, targets: tuple[tuple[tuple[str, Value], ...], ...],
             samples: bool) -> PartSpec | None:
        path = f"parts[{i}]"
        entries = self.mapping(node, path)
        if entries is None:
            return None
        before = len(self.problems)
        self.keys(node, path, entries, (), PART_KEYS)
        label = self.label(entries["label"][1], join(path, "label")) if "label" in entries else default_label(i)
        title = (self.text(entries["title"][1], join(path, "title")) or "") if "title" in entries else ""
        part_loss = self.choice(entries["loss"][1], join(path, "loss"), LOSSES, "loss") \
            if "loss" in entries else None
        eta = self.learning_rate(entries["learning_rate"][1], join(path, "learning_rate")) \
            if "learning_rate" in entries else None
        part_targets = None
        if "targets" in entries:
            part_targets = self.part_targets(entries["targets"], join(path, "targets"), part_loss or loss, samples)
        elif part_loss is not None:  # the spec's own targets must suit this part's loss
            self.targets_suit(entries["loss"][1], join(path, "loss"), part_loss, targets)
        if len(self.problems) > before or label is None:
            return None
        return PartSpec(label, title, part_loss, eta, part_targets)

    def parts_shortcut(self, node: SequenceNode, parts: tuple[PartSpec, ...], output: LayerSpec, loss: str,
                       samples: tuple) -> None:
        """worked.shortcut (the output delta as a - y) is used in every part, so it must hold
        for each part's loss and targets too; a problem is reported at the part."""
        if len(parts) != len(node.value):  # a part could not be read: reported already
            return
        for item, part in zip(node.value, parts):
            if part.loss is not None or part.targets is not None:
                # the rule is the spec's own (derive.spec.reader.Reader.shortcut_applies)
                self.shortcut_applies(item, output, part.loss or loss,  # type: ignore[attr-defined]
                                      samples if part.targets is None else ((samples[0][0], part.targets),))

    def label(self, node: Node, path: str) -> str | None:
        text = self.text(node, path)
        if text is not None and not LABEL.match(text):
            self.problem(node, path, "expected 1 to 4 small letters (a, b, ... or i, ii, ...), "
                         f"found {shown(text)!r}")
            return None
        return text

    def learning_rate(self, node: Node, path: str) -> float | None:
        value = self.number(node, path)  # a number: a part's values are given, never drawn
        if value is not None and value <= 0:
            self.problem(node, path, f"must be greater than 0, found {node.value}")
            return None
        return value

    def part_targets(self, pair: tuple[Node, Node], path: str, loss: str | None,
                     samples: bool) -> tuple[tuple[str, float], ...] | None:
        key_node, node = pair
        if samples:
            self.problem(key_node, path, "the spec gives samples, each with its own targets, so a part "
                         "cannot override them; override loss or learning_rate only")
            return None
        targets = self.targets(node, loss, path)
        drawn = [name for name, value in targets if isinstance(value, Draw)]
        if drawn:
            self.problem(node, join(path, drawn[0]), "a part's target is a number (a part cannot draw values)")
            return None
        return targets  # type: ignore[return-value]

    def targets_suit(self, node: Node, path: str, loss: str,
                     targets: tuple[tuple[tuple[str, Value], ...], ...]) -> None:
        """A part that changes only the loss keeps the spec's targets: a cross-entropy
        needs them between 0 and 1 (the spec's own loss may not have)."""
        if loss not in PROBABILITY_LOSSES:
            return
        for sample in targets:
            for name, value in sample:
                if isinstance(value, Draw):
                    continue  # an exam template: refused as a whole (parts_without_draws)
                if not all(0 <= cell <= 1 for cell in cells(value)):
                    self.problem(node, path, f"{loss} needs targets between 0 and 1, and this part keeps "
                                 f"the spec's targets, where {shown(name)!r} is not; give the part its "
                                 "own targets")
                    return


def default_label(i: int) -> str:
    """The label of the part at index `i` when it gives none: a, b, c, ..."""
    return chr(ord("a") + i)


def cells(value: object) -> list[float]:
    """A target's numbers: a map's matrix row by row, or the one number."""
    if isinstance(value, tuple):
        return [cell for row in value for cell in row]
    return [value]  # type: ignore[list-item]
