"""A JSON Schema (draft-07) of the spec format (docs/spec.md), for editors and validators.

`derive schema` prints it. It is built from the words the spec reader itself checks
against (derive.spec: ACTIVATIONS, LOSSES, REDUCTIONS, FORMS, POOL_KINDS,
NOTATION_CHOICES, the keys of Worked, Notation and Constraints, the name and symbol
patterns, the formula grammar's tokens and limits), so the two cannot drift apart.

A schema sees the spec as data (a YAML file read into JSON values), one value at a
time. What it cannot check, derive checks when it reads the file: DERIVE_ONLY lists
those rules, and the schema's description repeats them. Every constraint here is one
the reader enforces, so a spec derive accepts always validates; a spec that validates
may still be refused by derive for one of the rules in DERIVE_ONLY.
"""
from __future__ import annotations

import json
import re
import sys
from typing import Any

from . import __version__
from .spec.documents import MAX_NAME_LENGTH, NAME
from .spec.maps import MAX_SIDE
from .spec.model import (
    ACTIVATION_TABLES,
    ACTIVATIONS,
    DEFAULT_LEAKY_SLOPE,
    FORMS,
    LOSSES,
    MAX_SAMPLES,
    MAX_STEPS,
    NOTATION_CHOICES,
    POOL_KINDS,
    REDUCTIONS,
    TOP_REQUIRED,
    Constraints,
    Draw,
    Notation,
    Worked,
)
from .spec.gradients import NOT_WITH_GRADIENTS
from .spec.parts import LABEL, MAX_PARTS, PART_KEYS
from .spec.notation import MAX_SYMBOL_LENGTH, SYMBOL_TEXT

DRAFT = "http://json-schema.org/draft-07/schema#"
SCHEMA_ID = "urn:derive:spec-schema"

# The losses whose targets must lie in [0, 1] (derive.spec.layers, DataReader.targets).
UNIT_TARGET_LOSSES = ("binary_cross_entropy", "cross_entropy")
# The largest double: .inf (and a number beyond it) is refused.
LARGEST = sys.float_info.max
# Draws: `decimals` from 0 to 10 (derive.spec.numbers, NumberReader.draw).
MAX_DECIMALS = 10

# Rules derive checks and a JSON Schema cannot express (or that concern the YAML text,
# which a schema never sees). tests/test_schema.py has a spec for each that derive
# refuses and the schema lets through.
DERIVE_ONLY = {
    "yaml": "the YAML itself: syntax, one document, duplicate keys (YAML keeps the last, derive "
            "refuses), merge keys (<<), anchors and aliases within limits, at most 1,000,000 bytes "
            "of UTF-8",
    "yaml-1.1": "how PyYAML (YAML 1.1) types a plain scalar: yes/no/on/off are booleans and 2024-01-01 "
                "a date, so they are not text (an editor's YAML 1.2 reads them as text); 7e-1 is a "
                "number to both",
    "number-notation": "numbers written in plain decimal: not 010 (octal), 0x10, 1:30 (sexagesimal) "
                       "or 1_0, which YAML 1.1 reads as other numbers; not .nan; at most 15 significant "
                       "digits; not closer to 0 than the smallest double",
    "whole-number-notation": "a whole number (steps, decimals, shape, stride, padding, size) written "
                             "without a decimal point: 2, not 2.0",
    "unique-names": "every name (input, neuron, map) used once across inputs and all layers",
    "weight-sources": "a weight names an input or a neuron or map of an earlier layer, and is a "
                      "matrix of the map's shape exactly when it comes from a map",
    "targets-name-outputs": "targets name neurons or maps of the last layer, a map's target being a "
                            "matrix of its shape; every sample has the same input and target names, "
                            "in the same order",
    "matrix-shapes": "every row of a matrix has the same length; a drawn matrix has a shape where none "
                     "is known; a kernel's channels are matrix inputs or earlier maps of one shape, "
                     "and its kernels fit them; a pooling window fits its map",
    "draw-range": "a uniform draw's low is below its high",
    "asked-exists": "every asked gradient names a weight (source->neuron) or a neuron (its bias) "
                    "of the network, an asked forward value (z:neuron, a:neuron) a neuron of a dense "
                    "layer; at least one gradient is asked",
    "notation-names": "notation.names name an input, a neuron or a weight (source->neuron) of the "
                      "network, each once; an input has one symbol; y only for a neuron with a target",
    "symbol-grammar": "a symbol's grammar: balanced braces, at most one subscript and one superscript "
                      "per item",
    "symbols-distinct": "every symbol names one thing (no two alike; L and e are taken, and with "
                        "notation.loss_terms the terms L_1, L_2, ...; no pre-activation "
                        "s beside another written z_{s}, which would share its delta)",
    "formula": "a formula parses by derive's grammar, depends on x, and stays within its limits "
               "(nesting, exponents, constants, SymPy's work); one formula per custom name",
    "parts": "each part's label once; a part that changes only the loss to a cross-entropy keeps the "
             "spec's targets, which must then be from 0 to 1; a spec with parts draws no values (it is not "
             "an exam template)",
    "network-size": "limits of the worked key: at most 40 units in a layer and 40 weights into a "
                    "neuron, and 1,000 weights, for the LaTeX diagram; the number of chain-rule "
                    "paths for the path form",
}


def ecma(pattern: re.Pattern[str]) -> str:
    """A reader's regular expression (matched whole, ending in \\Z) as a JSON Schema
    pattern: ECMA 262 has no \\Z, and a pattern is searched for, so anchor it."""
    text = pattern.pattern
    assert text.endswith(r"\Z"), text
    return "^" + text[:-2] + "$"


def escaped(text: str) -> str:
    """`text` matched literally in a pattern valid in both Python and ECMA 262 (with the
    u flag, which allows only syntax characters to be escaped)."""
    return "".join("\\" + ch if ch in r"^$\.*+?()[]{}|/" else ch for ch in text)


NAME_PATTERN = ecma(NAME)
# a weight written source->neuron (spaces are dropped: "x1 -> h1" is x1->h1), or a neuron
NAME_OR_WEIGHT = r"^ *[A-Za-z][A-Za-z0-9_ ]*(?:- *> *[A-Za-z][A-Za-z0-9_ ]*)?$"
FORWARD_ITEM = r"^ *[za] *: *[A-Za-z][A-Za-z0-9_ ]*$"  # an asked forward value: z:h1, a:h1


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{name}"}


def described(text: str, part: dict[str, Any]) -> dict[str, Any]:
    """`part` with a description; a $ref is wrapped, since draft-07 ignores what
    stands beside a $ref."""
    if "$ref" in part:
        return {"description": text, "allOf": [part]}
    return {"description": text, **part}


def mapping(values: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A mapping of at least one name to `values`."""
    return {"type": "object", "minProperties": 1, "propertyNames": ref("name"),
            "additionalProperties": values, **more}


def whole(low: int, high: int, **more: Any) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high, **more}


def formula_patterns() -> list[dict[str, str]]:
    """The tokens of derive.formula's grammar, and an x among them: a necessary
    condition (derive's own parser then checks the grammar and the limits)."""
    from .formula import FUNCTIONS, NUMBER, OPERATORS

    words = "|".join(("x",) + FUNCTIONS)
    operators = "|".join(escaped(op) for op in OPERATORS)
    token = f"[ \\t]|{NUMBER.pattern}|(?:{words})(?![A-Za-z0-9_])|{operators}"
    return [{"pattern": f"^(?:{token})*$"},
            # an x token: the only x in a valid formula that follows an e is the one of exp
            {"pattern": "(?:^|[^e])x"}]


def number_definitions() -> dict[str, Any]:
    """Numbers, draws and matrices, in three ranges: any (`number`), greater than 0
    (`positive`: the learning rate) and from 0 to 1 (`unit`: targets of the
    cross-entropy losses). A draw's every possible value lies in its range."""
    definitions: dict[str, Any] = {}
    ranges = {
        "number": ({"minimum": -LARGEST, "maximum": LARGEST}, "a number, written in plain decimal "
                   "(0.42, -1, 1e-3); derive reads it exactly as written"),
        "positive": ({"exclusiveMinimum": 0, "maximum": LARGEST}, "a number greater than 0"),
        "unit": ({"minimum": 0, "maximum": 1}, "a number from 0 to 1"),
    }
    for kind, (bounds, text) in ranges.items():
        prefix = "" if kind == "number" else f"{kind}_"
        number = ref(f"{prefix}number")
        definitions[f"{prefix}number"] = {"type": "number", **bounds, "description": text}
        for shaped in (False, True):
            also = {"shape": ref("shape")} if shaped else {}
            draw = {
                "type": "object",
                "if": {"required": ["uniform"]},
                "then": {
                    "properties": {
                        "uniform": {"type": "array", "items": number, "minItems": 2, "maxItems": 2,
                                    "description": "[low, high], low < high: drawn uniformly"},
                        "decimals": whole(0, MAX_DECIMALS, default=Draw._field_defaults["decimals"], description="rounded half away "
                                          "from zero to this many places"),
                        **also,
                    },
                    "additionalProperties": False,
                },
                "else": {
                    "required": ["choice"],
                    "properties": {
                        "choice": {"type": "array", "items": number, "minItems": 1,
                                   "description": "one of these values"},
                        **also,
                    },
                    "additionalProperties": False,
                },
            }
            if shaped:
                draw["description"] = ("a whole matrix drawn entry by entry: {uniform: [0, 2], decimals: 0, "
                                       "shape: [4, 4]} (shape may be left out where it is known)")
                definitions[f"{prefix}drawn_matrix"] = draw
            else:
                draw["description"] = ("a value drawn for each exam variant: {uniform: [low, high], "
                                       "decimals: 2} or {choice: [a, b, ...]}")
                definitions[f"{prefix}draw"] = draw
        definitions[f"{prefix}value"] = {
            "description": f"{text}, or (in an exam template) a draw",
            "if": {"type": "object"}, "then": ref(f"{prefix}draw"), "else": number,
        }
        definitions[f"{prefix}matrix"] = {
            "type": "array", "minItems": 1, "maxItems": MAX_SIDE,
            "items": {"type": "array", "minItems": 1, "maxItems": MAX_SIDE, "items": ref(f"{prefix}value")},
            "description": f"a matrix, row by row (at most {MAX_SIDE} x {MAX_SIDE}, rows of one length); an "
                           "entry may be a draw",
        }
        definitions[f"{prefix}entry"] = {
            "description": "a number (or a draw); or, for a map or an image channel, a matrix "
                           "(or a whole matrix drawn)",
            "if": {"type": "object"}, "then": ref(f"{prefix}drawn_matrix"),
            "else": {"if": {"type": "array"}, "then": ref(f"{prefix}matrix"), "else": number},
        }
    for unused in ("positive_drawn_matrix", "positive_matrix", "positive_entry"):
        del definitions[unused]  # only the learning rate is positive, and it is one value
    return definitions


def activation_definitions() -> dict[str, Any]:
    from .formula import MAX_LENGTH

    return {
        "activation": {
            "description": "an activation name, {name: leaky_relu, slope: 0.2}, or a custom activation "
                           '{formula: "x/(1+abs(x))", name: softsign}',
            "if": {"type": "object"},
            "then": {"if": {"required": ["formula"]}, "then": ref("custom_activation"),
                     "else": ref("named_activation")},
            "else": {"type": "string", "enum": list(ACTIVATIONS)},
        },
        "named_activation": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "enum": list(ACTIVATIONS)},
                "slope": {"type": "number", "minimum": -LARGEST, "maximum": LARGEST,
                          "default": DEFAULT_LEAKY_SLOPE, "description": "leaky_relu only: f(z) = slope * z for z <= 0"},
            },
            "additionalProperties": False,
            "if": {"required": ["slope"]},
            "then": {"properties": {"name": {"const": "leaky_relu"}}},
        },
        "custom_activation": {
            "type": "object",
            "required": ["formula"],
            "properties": {
                "formula": {"type": "string", "maxLength": MAX_LENGTH, "allOf": formula_patterns(),
                            "description": "f(x) with numbers, x, + - * / ^ (or **), parentheses and "
                                           "exp log sqrt abs tanh sigmoid sin cos"},
                "name": {"type": "string", "pattern": NAME_PATTERN, "maxLength": MAX_NAME_LENGTH,
                         "not": {"enum": list(ACTIVATIONS)}, "default": "custom",
                         "description": "the activation's name in the text; not a built-in name"},
            },
            "additionalProperties": False,
        },
    }


def layer_definitions() -> dict[str, Any]:
    softmax = {"anyOf": [{"const": "softmax"},
                         {"type": "object", "required": ["name"], "properties": {"name": {"const": "softmax"}}}]}
    map_activation = described("default linear; not softmax", {"allOf": [ref("activation"), {"not": softmax}]})
    return {
        "layer": {
            "description": "a dense layer {activation, neurons}, a convolution {conv, stride, padding, "
                           "activation} or a pooling {pool, kind, size, stride, activation}",
            "type": "object",
            "if": {"required": ["conv"]},
            "then": ref("conv_layer"),
            "else": {"if": {"required": ["pool"]}, "then": ref("pool_layer"), "else": ref("dense_layer")},
        },
        "dense_layer": {
            "type": "object",
            "required": ["activation", "neurons"],
            "properties": {
                "activation": ref("activation"),
                "neurons": mapping(ref("neuron"), description="neuron name -> {bias, weights}"),
            },
            "additionalProperties": False,
        },
        "neuron": {
            "type": "object",
            "required": ["bias", "weights"],
            "properties": {
                "bias": ref("value"),
                "weights": mapping(ref("entry"), description="source -> weight: an input or a neuron of an "
                                   "earlier layer; from a map, a matrix of the map's shape"),
            },
            "additionalProperties": False,
        },
        "neuron_gradients": {
            "type": "object",
            "required": ["bias", "weights"],
            "properties": {
                "bias": ref("number"),
                "weights": mapping(ref("number"), description="source -> the gradient of that weight"),
            },
            "additionalProperties": False,
        },
        "conv_layer": {
            "type": "object",
            "required": ["conv"],
            "properties": {
                "conv": mapping(ref("conv_map"), description="map name -> {bias, kernel}, one output map each"),
                "stride": whole(1, MAX_SIDE, default=1),
                "padding": whole(0, MAX_SIDE, default=0, description="zeros on every side"),
                "activation": map_activation,
            },
            "additionalProperties": False,
        },
        "conv_map": {
            "type": "object",
            "required": ["bias", "kernel"],
            "properties": {
                "bias": ref("value"),
                "kernel": mapping(ref("kernel"), description="input channel (a matrix input or an earlier "
                                  "map) -> its kernel"),
            },
            "additionalProperties": False,
        },
        "kernel": {
            "description": "a matrix, or a whole matrix drawn",
            "if": {"type": "object"}, "then": ref("drawn_matrix"), "else": ref("matrix"),
        },
        "pool_layer": {
            "type": "object",
            "required": ["pool"],
            "properties": {
                "pool": mapping({
                    "type": "object", "required": ["from"],
                    "properties": {"from": {"type": "string", "pattern": NAME_PATTERN,
                                            "description": "the map of an earlier layer it pools"}},
                    "additionalProperties": False,
                }, description="pooled map name -> {from: map}"),
                "kind": {"type": "string", "enum": list(POOL_KINDS), "default": POOL_KINDS[0]},
                "size": whole(1, MAX_SIDE, default=2, description="the window's side"),
                "stride": whole(1, MAX_SIDE, description="default: size"),
                "activation": described("default linear", ref("activation")),
            },
            "additionalProperties": False,
        },
    }


def notation_definitions() -> dict[str, Any]:
    symbol_start = r"^\{*[A-Za-z\\]"  # a letter or an accent first (derive.spec.notation.symbol_form)
    symbol = {"type": "string", "maxLength": MAX_SYMBOL_LENGTH,
              "allOf": [{"pattern": ecma(SYMBOL_TEXT)}, {"pattern": symbol_start}],
              "description": "letters, digits, _, ^, braces, primes and \\hat \\tilde \\bar; no spaces, no "
                             "other commands; starts with a letter or an accent"}
    pre_activation = described("the pre-activation: z_o, z_{h1}, or the author's own (net_{h1}, h_1^{sum})",
                               ref("symbol"))
    choices = {key: {"type": "string", "enum": list(options), "default": getattr(Notation(), key)}
               for key, options in NOTATION_CHOICES.items()}
    return {
        "symbol": symbol,
        "notation": {
            "type": "object",
            "properties": {
                **choices,
                "loss_terms": {"type": "boolean", "default": Notation().loss_terms,
                               "description": "L = L_1 + L_2 + ..., each output's loss term worked, and a "
                                              "gradient reached through several outputs split as dL/dw = "
                                              "dL_1/dw + dL_2/dw (seed 000); needs two or more targets"},
                "names": {
                    "type": "object",
                    "description": "the author's own symbols, by input, neuron or weight (source->neuron)",
                    "propertyNames": {"type": "string", "pattern": NAME_OR_WEIGHT},
                    "additionalProperties": {
                        "if": {"type": "object"},
                        "then": {"type": "object", "properties": {
                            "a": described("the activation", ref("symbol")),
                            "z": pre_activation,
                            "b": described("the bias", ref("symbol")),
                            "y": described("the target (an output neuron with a target)", ref("symbol")),
                        }, "additionalProperties": False},
                        "else": ref("symbol"),
                    },
                },
            },
            "additionalProperties": False,
        },
    }


def top_properties() -> dict[str, Any]:
    worked_defaults = Worked()
    worked = {
        "type": "object",
        "description": "which forms the key shows; --form, --matrix, --closed-form override or add",
        "properties": {
            "form": {"type": "string", "enum": list(FORMS), "default": worked_defaults.form},
            "matrix": {"type": "boolean", "default": worked_defaults.matrix},
            "closed_form": {"type": "boolean", "default": worked_defaults.closed_form},
            "fold_bias": {"type": "boolean", "default": worked_defaults.fold_bias,
                          "description": "the matrix form with the bias folded into the weights, "
                                         "[W b] [a; 1]; implies matrix (matrix: false with it is refused)"},
            "derivations": {"type": "boolean", "default": worked_defaults.derivations,
                            "description": "derive sigma' = a(1 - a) and the output's a - y in steps"},
            "shortcut": {"type": "boolean", "default": worked_defaults.shortcut,
                         "description": "the output delta as a - y, in the delta form: for sigmoid "
                                        "outputs with binary_cross_entropy, or softmax outputs with "
                                        "cross_entropy whose targets (one per output) sum to 1 "
                                        "(derive checks this)"},
            "activation_table": {"type": "string", "enum": list(ACTIVATION_TABLES),
                                 "default": worked_defaults.activation_table,
                                 "description": "the activations the network uses, or all built-in ones"},
            "factored": {"type": "boolean", "default": worked_defaults.factored,
                         "description": "the path form with named shorthands (L_y = dL/dy-hat, "
                                        "dRL(z) = ReLU'(z), ...), each gradient factored: shared "
                                        "factors outside, the paths' differing middles summed in "
                                        "braces (seed 004); not with form: delta"},
        },
        "additionalProperties": False,
        # fold_bias is an option of the matrix form: with matrix: false it is refused
        "not": {"properties": {"fold_bias": {"const": True}, "matrix": {"const": False}},
                "required": ["fold_bias", "matrix"]},
    }
    # every setting of `exam` is a number greater than 0 (derive.spec.reader, constraints)
    exam_defaults = Constraints()
    exam_settings: dict[str, Any] = {key: {"type": "number", "exclusiveMinimum": 0, "maximum": LARGEST}
                                     for key in Constraints._fields}
    refined = {
        "max_abs_z": {"description": "a sigmoid or tanh unit saturates beyond |z| of this: the draw is redone"},
        "max_tries": {"description": "draws per variant before derive exam stops"},
        "relative_tolerance": {"exclusiveMaximum": 1, "description": "a blank accepts this fraction of the "
                               "answer (or half a unit of its last digit, if wider)"},
        "partial_credit": {"type": "integer", "exclusiveMaximum": 100, "description": "percent for a near "
                           "miss, within 10 times the tolerance"},
    }
    for key, settings in exam_settings.items():
        settings.update(refined.get(key, {}))
        if getattr(exam_defaults, key) is not None:
            settings["default"] = getattr(exam_defaults, key)
    data = {"inputs": mapping(ref("entry"), description="input name -> value; a matrix is an image channel"),
            "targets": mapping(ref("entry"), description="output neuron -> target; a map's target is a matrix")}
    return {
        "title": {"type": "string", "default": "Backpropagation", "description": "printed as plain text"},
        **data,
        "layers": {"type": "array", "minItems": 1, "items": ref("layer"),
                   "description": "first hidden layer first, the output layer last"},
        "samples": {"type": "array", "minItems": 1, "maxItems": MAX_SAMPLES,
                    "description": "several training samples instead of inputs and targets",
                    "items": {"type": "object", "required": ["inputs", "targets"], "properties": data,
                              "additionalProperties": False}},
        "reduction": {"type": "string", "enum": list(REDUCTIONS), "default": REDUCTIONS[0],
                      "description": "with samples: the mean or sum of the gradients, one update; or "
                                     "sequential, one update per sample"},
        "steps": whole(1, MAX_STEPS, default=1, description="iterations of gradient descent"),
        "worked": worked,
        "loss": {"type": "string", "enum": list(LOSSES)},
        "learning_rate": described("the learning rate, greater than 0", ref("positive_value")),
        "asked": {"type": "array", "minItems": 1,
                  "description": "the gradients asked for: a weight as source->neuron, a bias by its "
                                 "neuron; and forward values z:neuron, a:neuron and the loss as loss",
                  "items": {"type": "string", "anyOf": [{"pattern": NAME_OR_WEIGHT},
                                                        {"pattern": FORWARD_ITEM}]}},
        "exam": {"type": "object", "description": "how derive exam rejects poor draws and marks answers",
                 "properties": exam_settings, "additionalProperties": False},
        "notation": ref("notation"),
        "parts": parts_property(),
        "gradients": mapping(ref("neuron_gradients"), description="a given-gradient problem: every "
                             "neuron's gradients, {bias, weights} as in its layer (derive checks that "
                             "each neuron and weight of the dense layers has one, and nothing else); "
                             "only the updates are worked"),
    }


def parts_property() -> dict[str, Any]:
    """`parts:` (derive.spec.parts): each part the spec with its loss, learning rate or
    targets overridden; its targets from 0 to 1 with a cross-entropy loss."""
    targets = mapping(ref("entry"), description="output neuron -> target, for this part")
    part = {
        "type": "object", "properties": {
            "label": {"type": "string", "pattern": ecma(LABEL),
                      "description": "its tasks are numbered by it (a.3.1); a, b, c, ... by default"},
            "title": {"type": "string", "description": "its heading, printed as plain text"},
            "loss": {"type": "string", "enum": list(LOSSES)},
            "learning_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": LARGEST},
            "targets": targets,
        },
        "additionalProperties": False,
        "if": {"required": ["loss"], "properties": {"loss": {"enum": list(UNIT_TARGET_LOSSES)}}},
        "then": {"properties": {"targets": {"additionalProperties": ref("unit_entry")}}},
    }
    assert tuple(part["properties"]) == PART_KEYS  # type: ignore[index]
    return {"type": "array", "minItems": 2, "maxItems": MAX_PARTS, "items": part,
            "description": "several parts on one network, worked in turn in one document: each the "
                           "spec with its own loss, learning_rate or targets (not with samples)"}


def parts_rules() -> dict[str, Any]:
    """Parts go with a worked problem of one sample's targets: not with given gradients, and
    with samples a part cannot override the targets (each sample has its own)."""
    return {"if": {"required": ["parts"]}, "then": {
        "not": {"required": ["gradients"]},
        "if": {"required": ["samples"]},
        "then": {"properties": {"parts": {"items": {"not": {"required": ["targets"]}}}}}}}


def unit_targets() -> dict[str, Any]:
    """Targets from 0 to 1 with a cross-entropy loss."""
    targets = {"additionalProperties": ref("unit_entry")}
    return {
        "if": {"required": ["loss"], "properties": {"loss": {"enum": list(UNIT_TARGET_LOSSES)}}},
        "then": {"properties": {"targets": targets,
                                "samples": {"items": {"properties": {"targets": targets}}}}},
    }


def loss_terms_rule() -> dict[str, Any]:
    """notation.loss_terms (derive.lossterms) names each output's loss term: it needs
    targets for two or more outputs (in every sample), so never a given-gradient problem."""
    two = {"minProperties": 2}
    return {"if": {"required": ["notation"],
                   "properties": {"notation": {"required": ["loss_terms"],
                                               "properties": {"loss_terms": {"const": True}}}}},
            "then": {"anyOf": [
                {"required": ["targets"], "properties": {"targets": two}},
                {"required": ["samples"], "properties": {"samples": {"items": {"properties": {"targets": two}}}}},
            ]}}


def schema() -> dict[str, Any]:
    """The JSON Schema of a spec, draft-07."""
    derive_only = " ".join(f"({number}) {rule}." for number, rule in enumerate(DERIVE_ONLY.values(), start=1))
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": "derive spec",
        "description": (
            f"A neural network, its data, a loss and a learning rate, for derive {__version__} (docs/spec.md). "
            "The schema checks every key, name, enum, number and pattern that can be checked value by "
            f"value; derive also checks, when it reads the file: {derive_only}"
        ),
        "type": "object",
        "required": list(TOP_REQUIRED),
        "properties": top_properties(),
        "additionalProperties": False,
        "allOf": [
            {   # given gradients (derive.spec.gradients): none of the keys of a worked problem
                "if": {"required": ["gradients"]},
                "then": {"not": {"anyOf": [{"required": [key]} for key in NOT_WITH_GRADIENTS]}},
                "else": {"required": ["loss"], "allOf": [{
                    # inputs and targets, or samples: never both, never neither
                    "if": {"required": ["samples"]},
                    "then": {"not": {"anyOf": [{"required": ["inputs"]}, {"required": ["targets"]}]}},
                    "else": {"required": ["inputs", "targets"], "not": {"required": ["reduction"]}},
                }]},
            },
            unit_targets(),
            parts_rules(),
            loss_terms_rule(),
        ],
        "definitions": {
            "name": {"type": "string", "pattern": NAME_PATTERN, "maxLength": MAX_NAME_LENGTH,
                     "description": f"starts with a letter; letters, digits and _ (at most {MAX_NAME_LENGTH})"},
            "shape": {"type": "array", "items": whole(1, MAX_SIDE), "minItems": 2, "maxItems": 2,
                      "description": "[rows, columns]"},
            **number_definitions(),
            **activation_definitions(),
            **layer_definitions(),
            **notation_definitions(),
        },
    }


def schema_text() -> str:
    """The schema as `derive schema` prints it: sorted keys, the same bytes every run."""
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"
