"""Drawn values for exams: whether a spec draws any, one variant's values drawn, and a
variant written back as a spec."""
from __future__ import annotations

import random
import re
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import yaml

from .model import NOTATION_CHOICES, Activation, Draw, LayerSpec, Notation, Spec, Value, Worked


def has_draws(spec: Spec) -> bool:
    return any(isinstance(v, Draw) for v in spec_values(spec))


def spec_values(spec: Spec) -> list[Value]:
    """Every drawable value, in the fixed order draws are made in (a matrix row by row)."""
    values: list[Value] = [v for _, v in spec.inputs]
    for layer in spec.layers:
        for neuron in layer.neurons:
            values.extend(v for _, v in neuron.weights if v is not None)  # a pooled map's source: None
            values.append(neuron.bias)
    values.extend(v for _, v in spec.targets)
    values.append(spec.learning_rate)
    return [cell for value in values for cell in cells(value)]


def cells(value: object) -> list[Value]:
    """A matrix's entries row by row; a number or a draw alone."""
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return [cell for row in value for cell in row]
    return [value]  # type: ignore[list-item]


def instantiate(spec: Spec, rng: random.Random) -> Spec:
    """The spec with every draw replaced by a value from `rng`, drawn in a fixed order."""
    def pick(value: Value) -> float:
        if isinstance(value, tuple) and value and isinstance(value[0], tuple):  # a matrix
            return tuple(tuple(pick(cell) for cell in row) for row in value)  # type: ignore[return-value]
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
            n._replace(weights=tuple((source, pick(v) if v is not None else None) for source, v in n.weights),
                       bias=pick(n.bias))
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

    def layer_document(layer: LayerSpec) -> dict[str, object]:
        if layer.kind == "conv":
            return {"conv": {n.name: {"bias": n.bias, "kernel": named(n.weights)} for n in layer.neurons},
                    "stride": layer.stride, "padding": layer.padding, "activation": activation(layer.activation)}
        if layer.kind == "pool":
            return {"pool": {n.name: {"from": n.weights[0][0]} for n in layer.neurons}, "kind": layer.pool,
                    "size": layer.size, "stride": layer.stride, "activation": activation(layer.activation)}
        return {"activation": activation(layer.activation),
                "neurons": {n.name: {"bias": n.bias, "weights": named(n.weights)} for n in layer.neurons}}

    document: dict[str, object] = {"title": spec.title}
    if spec.samples:
        document["samples"] = [{"inputs": named(inputs), "targets": named(targets)}
                               for inputs, targets in spec.samples]
    else:
        document["inputs"] = named(spec.inputs)
    document["layers"] = [layer_document(layer) for layer in spec.layers]
    if spec.samples:
        document["reduction"] = spec.reduction
    else:
        document["targets"] = named(spec.targets)
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
    return dump_yaml(document)


# The characters libyaml's emitter writes exactly as PyYAML's pure-Python one does (with
# allow_unicode): printable ones that need no escape. For others (a tab, a line break,
# NEL, U+2028/9, a BOM, anything beyond the BMP) the two escape or fold differently.
LIBYAML_SAFE = "[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]*"
FAST_DUMPER = getattr(yaml, "CSafeDumper", None)  # None where PyYAML was built without libyaml


@lru_cache(maxsize=1)
def libyaml_safe() -> re.Pattern[str]:
    """LIBYAML_SAFE compiled, when first needed: compiling it takes milliseconds, which
    every `derive solve` would pay at import for nothing."""
    return re.compile(LIBYAML_SAFE)


def written_alike(text: str) -> bool:
    """Whether libyaml writes `text` as PyYAML does (ASCII: printable, no tab or break)."""
    return text.isprintable() if text.isascii() else bool(libyaml_safe().fullmatch(text))


def dump_yaml(document: object) -> str:
    """yaml.safe_dump(document) in the canonical form, byte for byte: through libyaml
    where every string allows it (an exam writes a spec.yaml per variant, and the
    pure-Python emitter was most of that time), else through PyYAML's own emitter."""
    options = {"sort_keys": False, "allow_unicode": True, "default_flow_style": None}
    if FAST_DUMPER is not None and all(written_alike(text) for text in strings(document)):
        return yaml.dump(document, Dumper=FAST_DUMPER, **options)  # type: ignore[arg-type]
    return yaml.safe_dump(document, **options)  # type: ignore[arg-type]


def strings(document: object) -> list[str]:
    """Every string of a document of dicts, lists and scalars, keys included."""
    if isinstance(document, str):
        return [document]
    if isinstance(document, dict):
        return [text for key, value in document.items() for text in strings(key) + strings(value)]
    if isinstance(document, (list, tuple)):
        return [text for item in document for text in strings(item)]
    return []


def named(pairs: tuple[tuple[str, object], ...]) -> dict[str, object]:
    """(name, value) pairs as a mapping, a matrix as a list of rows (YAML has no tuples)."""
    return {name: [list(row) for row in value] if isinstance(value, tuple) else value
            for name, value in pairs}


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
