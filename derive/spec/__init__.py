"""Stage 1: read a YAML spec safely and validate all of it in one pass.

The YAML is composed into PyYAML's node tree (never constructed into Python objects
by a loader that could run code) so that every problem can name its file, line and
key path. Every problem found is collected; the caller gets one SpecError listing all.

Reading is bounded before any validation: the file's size, how deeply lists and
mappings nest, and how much aliases (`*name`) may repeat (see LimitedLoader).

The package is split by concern (issue 10), each reader a mixin adding to the one
list of problems of documents.DocumentReader:

- model: the Spec and its parts, and the words a spec is written in (ACTIVATIONS, FORMS, ...)
- documents: the file and its size limit, YAML composition with its limits and line
  numbers, the safe reading of a node, the generic shapes (mappings, keys, text, names)
- numbers: numbers as written (plain decimal, exact in a double) and drawn values
- layers: activations, layers and neurons, inputs, targets and samples
- notation: notation options and the grammar of a custom symbol
- gradients: a given-gradient problem's `gradients` (only the updates are worked)
- reader: Reader, joining the readers; the top level and its options; load_spec, parse_spec
- draws: drawn values for exams: has_draws, instantiate, spec_yaml

Every name is imported here, so `from derive.spec import X` works as it always has.
"""
from __future__ import annotations

from .documents import (
    MAX_ALIAS_NODES,
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_NAME_LENGTH,
    MAX_SPEC_BYTES,
    MERGE_TAG,
    NAME,
    NULL_TAG,
    DocumentReader,
    LimitedLoader,
    LimitExceeded,
    children,
    compose,
    entry,
    join,
    kind_of,
    listed,
    names_in,
    path_part,
    printable,
    read_spec,
    scalar_value,
    shown,
)
from .activations import ActivationReader
from .draws import has_draws, instantiate, notation_document, spec_values, spec_yaml
from .layers import DataReader, LayerReader, first_sample_part
from .maps import MapReader, conv_size
from .model import (
    ACTIVATIONS,
    DEFAULT_LEAKY_SLOPE,
    FORMS,
    LAYER_KINDS,
    LOSSES,
    MAX_SAMPLES,
    MAX_STEPS,
    NOTATION_CHOICES,
    POLICIES,
    POOL_KINDS,
    REDUCTIONS,
    TOP_OPTIONAL,
    TOP_REQUIRED,
    Activation,
    Constraints,
    Draw,
    LayerSpec,
    Matrix,
    NeuronSpec,
    Notation,
    Spec,
    SymbolName,
    Value,
    Worked,
    highest,
    lowest,
)
from .notation import MAX_SYMBOL_LENGTH, SYMBOL_TEXT, SYMBOL_TOKEN, NotationReader, symbol_form
from .numbers import DECIMAL, NumberReader
from .reader import Reader, load_spec, parse_spec

__all__ = [
    # model
    "ACTIVATIONS", "DEFAULT_LEAKY_SLOPE", "FORMS", "LOSSES", "MAX_SAMPLES", "MAX_STEPS",
    "NOTATION_CHOICES", "POLICIES", "REDUCTIONS", "TOP_OPTIONAL", "TOP_REQUIRED",
    "LAYER_KINDS", "POOL_KINDS", "Matrix",
    "Activation", "Constraints", "Draw", "LayerSpec", "NeuronSpec", "Notation", "Spec",
    "SymbolName", "Value", "Worked", "highest", "lowest",
    # documents
    "MAX_ALIAS_NODES", "MAX_ALIASES", "MAX_DEPTH", "MAX_NAME_LENGTH", "MAX_SPEC_BYTES",
    "MERGE_TAG", "NAME", "NULL_TAG", "DocumentReader", "LimitExceeded", "LimitedLoader",
    "children", "compose", "entry", "join", "kind_of", "listed", "names_in", "path_part",
    "printable", "read_spec", "scalar_value", "shown",
    # numbers
    "DECIMAL", "NumberReader",
    # layers
    "ActivationReader", "DataReader", "LayerReader", "MapReader", "conv_size", "first_sample_part",
    # notation
    "MAX_SYMBOL_LENGTH", "SYMBOL_TEXT", "SYMBOL_TOKEN", "NotationReader", "symbol_form",
    # reader
    "Reader", "load_spec", "parse_spec",
    # draws
    "has_draws", "instantiate", "notation_document", "spec_values", "spec_yaml",
]
