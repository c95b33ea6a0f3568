"""`derive schema` (issue 15, item 4): a JSON Schema (draft-07) of the spec, checked with
a real validator (jsonschema's Draft7Validator).

- The schema is itself valid draft-07, and `derive schema` prints exactly it.
- Every problem in problems/ validates, and so does every spec of VALID (derive accepts
  each): the schema refuses nothing derive accepts.
- Every spec of INVALID (the spec error classes of the tests: test_spec, test_cnn,
  test_notation, test_formula, test_exam, test_input_limits, and mutations of valid
  specs) is refused by `derive solve` (exit 2) and by the schema.
- DERIVE_ONLY_CASES: the rules a schema cannot express (derive.schema.DERIVE_ONLY,
  repeated in the schema's description), each with specs that derive refuses and the
  schema lets through, so the list stays honest.

An editor reads YAML 1.2, PyYAML YAML 1.1; the specs here are read as an editor would
(`editor_yaml`: 7e-1 a number, yes and 2024-01-01 text). problems/ is read both ways.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft7Validator

from canonical import CANONICAL
from cli import main
from derive.errors import SpecError
from derive.schema import DERIVE_ONLY, DRAFT, UNIT_TARGET_LOSSES, schema, schema_text
from derive.spec import (
    ACTIVATIONS,
    FORMS,
    LOSSES,
    NOTATION_CHOICES,
    POOL_KINDS,
    REDUCTIONS,
    TOP_OPTIONAL,
    TOP_REQUIRED,
    Constraints,
    Notation,
    Worked,
    has_draws,
    parse_spec,
)

ROOT = Path(__file__).resolve().parent.parent
PROBLEM_FILES = sorted((ROOT / "problems").glob("*.yaml"))
SCHEMA = schema()
VALIDATOR = Draft7Validator(SCHEMA)


class EditorLoader(yaml.SafeLoader):
    """PyYAML's safe loader, typing plain scalars as YAML 1.2 (the YAML language server)
    does where it matters here: only true/false are booleans, no dates, and 7e-1 is a
    number (YAML 1.1 wants a dot)."""


EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
EditorLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                   list("tTfF"))
EditorLoader.add_implicit_resolver("tag:yaml.org,2002:float",
                                   re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
                                   list("-+0123456789."))


def editor_yaml(text: str) -> Any:
    return yaml.load(text, Loader=EditorLoader)  # noqa: S506 (a SafeLoader)


def schema_errors(text: str) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(editor_yaml(text))]


def solve(text: str, tmp_path: Path, *args: str):
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(main, ["solve", str(path), *args])


def assert_derive_refuses(text: str, tmp_path: Path, *args: str) -> None:
    """`derive solve` exits 2 with a spec error; an exam template for a reason of its own,
    not only for being a template (which `derive solve` refuses whatever it holds)."""
    result = solve(text, tmp_path, *args)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert result.stderr.startswith("derive: error:") and "Traceback" not in result.output, result.output
    try:
        spec = parse_spec(text, "spec.yaml")
    except SpecError:
        return
    assert not has_draws(spec), f"refused only as an exam template: {result.stderr}"


def assert_derive_accepts(text: str, tmp_path: Path) -> None:
    spec = parse_spec(text, "spec.yaml")
    if not has_draws(spec):
        result = solve(text, tmp_path, "-f", "json")
        assert result.exit_code == 0, result.output


def edit(old: str, new: str, text: str = CANONICAL) -> str:
    """`text` with one exact, unique piece replaced."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def read(name: str) -> str:
    return (ROOT / "problems" / name).read_text(encoding="utf-8")


Q2 = CANONICAL
CNN = read("cnn_example.yaml")
EXAM = read("q2-exam.yaml")
CNN_EXAM = read("cnn-exam.yaml")
CUSTOM = read("custom_activation.yaml")
# a 2-2-1 network for notation
from test_notation import NET  # noqa: E402
BATCH = """\
samples:
  - inputs: {x1: 1, x2: 2}
    targets: {o: 1}
  - inputs: {x1: 0.5, x2: -1}
    targets: {o: 0}
reduction: mean
layers:
  - activation: sigmoid
    neurons:
      o: {bias: 0.1, weights: {x1: 0.5, x2: -0.25}}
loss: half_squared_error
learning_rate: 0.5
"""
SAMPLES = "  - inputs: {x1: 1, x2: 2}\n    targets: {o: 1}\n  - inputs: {x1: 0.5, x2: -1}\n    targets: {o: 0}\n"
KERNEL = "{x: [[0.2, -0.1], [0.0, 0.3]]}}"  # c1's kernel in cnn_example.yaml


def names(symbols: str, text: str = NET) -> str:
    return text + "notation:\n  names:\n" + symbols


def activation(value: str, text: str = Q2) -> str:
    return edit("activation: relu", f"activation: {value}", text)


def formula(value: str) -> str:
    return activation(f"{{formula: {json.dumps(value)}}}")


def exam(setting: str) -> str:
    return edit("exam: {max_abs_z: 6, max_tries: 1000}", f"exam: {setting}", EXAM)


def cnn_layer(old: str, new: str) -> str:
    return edit(old, new, CNN)


def nested(function: str, depth: int) -> str:
    return f"{function}(" * depth + "x" + ")" * depth


# --- specs derive accepts: the schema must accept them too --------------------------------

VALID = {
    **{f"activation-{name}": activation(name) for name in ACTIVATIONS if name != "softmax"},
    "notation-z-not-z": names("    h1: {z: s_1}\n"),  # seed 001's h_1^{sum}, seed 000's net_{h1}
    "notation-z-z-letters": names("    h1: {z: zeta}\n"),
    "activation-softmax-output": edit("neurons:\n      o: {bias: 0.08, weights: {g1: 0.61, g2: 0.39}}\n"
                                      "targets: {o: 1}\nloss: half_squared_error",
                                      "neurons:\n      o: {bias: 0.08, weights: {g1: 0.61, g2: 0.39}}\n"
                                      "      p: {bias: 0.1, weights: {g1: 0.2, g2: 0.3}}\n"
                                      "targets: {o: 1, p: 0}\nloss: cross_entropy",
                                      edit("  - activation: sigmoid\n    neurons:\n      o:",
                                           "  - activation: softmax\n    neurons:\n      o:")),
    "leaky-with-slope": activation("{name: leaky_relu, slope: 0.2}"),
    "leaky-negative-slope": activation("{name: leaky_relu, slope: -0.5}"),
    "activation-as-mapping": activation("{name: tanh}"),
    "formula-named": activation('{formula: "x/(1+abs(x))", name: softsign}'),
    "formula-default-name": formula("x*sigmoid(x)"),
    "formula-every-token": formula("0.5*x*(1+tanh(0.7978845608*(x+0.044715*x**3))) - .5e-3*exp(-x^2)/2"),
    "formula-functions": formula("log(1+exp(x)) + sqrt(abs(x)+1) + sin(x)*cos(x)\t+ x"),
    "exponent-number": edit("learning_rate: 0.7", "learning_rate: 7e-1"),
    "negative-exponent-weight": edit("x3: 0.21}", "x3: 2.1E-1}"),
    "signed-numbers": edit("{x1: 6, x2: 2, x3: 5}", "{x1: +6, x2: -2, x3: 5.}"),
    "no-title": edit('title: "Question 2"\n', ""),
    "empty-title": edit('title: "Question 2"', 'title: ""'),
    "title-looks-like-a-number": edit('title: "Question 2"', 'title: "2"'),
    "keys-in-any-order": "learning_rate: 0.7\nloss: half_squared_error\n" + Q2.split("learning_rate")[0]
                         .replace("loss: half_squared_error\n", ""),
    "skip-connection": edit("{g1: 0.61, g2: 0.39}", "{g1: 0.61, g2: 0.39, x1: 0.5}"),
    "long-name": Q2.replace("h1", "h" * 40),
    "asked": Q2 + "asked: [x1->h1, h1, g1 -> o, o]\n",
    "worked": Q2 + "worked: {form: delta, matrix: true, closed_form: false}\n",
    **{f"worked-{form}": Q2 + f"worked: {{form: {form}}}\n" for form in FORMS},
    "steps-50": Q2 + "steps: 50\n",
    "steps-1": Q2 + "steps: 1\n",
    "exam-on-a-plain-spec": Q2 + "exam: {max_abs_z: 4.5, max_tries: 10}\n",
    "samples-mean": BATCH,
    "samples-sum": edit("reduction: mean", "reduction: sum", BATCH),
    "samples-sequential-steps": edit("reduction: mean", "reduction: sequential\nsteps: 2", BATCH),
    "samples-default-reduction": edit("reduction: mean\n", "", BATCH),
    "samples-bce-0-and-1": edit("loss: half_squared_error", "loss: binary_cross_entropy", BATCH),
    "one-sample": edit(SAMPLES, "  - inputs: {x1: 1, x2: 2}\n    targets: {o: 1}\n", BATCH),
    "twenty-samples": edit(SAMPLES, SAMPLES * 10, BATCH),
    "bce-targets-at-the-ends": edit("targets: {o: 1}", "targets: {o: 0}",
                                    edit("loss: half_squared_error", "loss: binary_cross_entropy")),
    "notation-options": NET + "notation: {parameters: flat, index_order: to-from, units: flat}\n",
    "notation-defaults": NET + "notation: {parameters: layered, index_order: from-to, units: layered}\n",
    "notation-empty": NET + "notation: {}\n",
    "notation-names-empty": NET + "notation:\n  names: {}\n",
    "names-symbols": names("    x1: x\n    x2: \\tilde{x}'\n    h1: h_1\n    h2: {a: h_2, z: '{z}_{h2}', b: '\\bar{b}'}\n"
                           "    o: {a: '\\hat{y}', z: z_o, b: b_o, y: t}\n    h2->o: w_5\n    x1 -> h1: w^{1}_{11}\n"),
    "names-z-with-prime": names("    h1: {z: z'}\n"),
    "names-longest-symbol": names("    h1: " + "w" * 40 + "\n"),
    # 4 x 4, padding 1, stride 2: 3 x 3 maps, pooled 2 x 2 (the weights' shape)
    "cnn-stride-padding": cnn_layer("    stride: 1                 # default 1\n    padding: 0",
                                    "    stride: 2\n    padding: 1"),
    "cnn-average-pool": cnn_layer("kind: max", "kind: average"),
    "cnn-defaults": cnn_layer("    stride: 1                 # default 1\n    padding: 0                # zeros on "
                              "every side, default 0\n", ""),
    "cnn-leaky-map": cnn_layer("activation: relu          # applied", "activation: {name: leaky_relu, slope: 0.1}  #"),
    "cnn-pool-activation": cnn_layer("    stride: 1                 # default: size",
                                     "    stride: 1\n    activation: tanh"),
    "draw-every-kind": edit("x1: {uniform: [0, 2], decimals: 1}", "x1: {uniform: [0, 2], decimals: 0}",
                            edit("x2: {uniform: [0, 2], decimals: 1}", "x2: {uniform: [0, 2], decimals: 10}",
                                 edit("x3: {uniform: [0, 2], decimals: 1}", "x3: {choice: [1.5]}", EXAM))),
    "draw-learning-rate-uniform": edit("learning_rate: {choice: [0.1, 0.5, 0.7]}",
                                       "learning_rate: {uniform: [0.05, 0.5]}", EXAM),
    "exam-marking": exam("{max_abs_z: 6, max_tries: 2.5, relative_tolerance: 0.005, partial_credit: 50}"),
    "exam-partial-credit-written-with-a-point": exam("{partial_credit: 50.0}"),
    "draw-matrix-shape-known": edit("p1: [[0.4, -0.2], [0.1, 0.3]]", "p1: {uniform: [-1, 1]}", CNN_EXAM),
    "draw-matrix-shape-given": edit("p1: [[0.4, -0.2], [0.1, 0.3]]", "p1: {choice: [-1, 1], shape: [2, 2]}", CNN_EXAM),
    "draw-kernel-second-channel-without-shape": edit(
        "x: {uniform: [0, 2], decimals: 0, shape: [4, 4]}",
        "x: {uniform: [0, 2], decimals: 0, shape: [4, 4]}\n  y: {choice: [0, 1], shape: [4, 4]}",
        edit("kernel: {x: [[0.2, -0.1], [0.0, 0.3]]}", "kernel: {x: [[0.2, -0.1], [0.0, 0.3]], y: {uniform: [0, 1]}}",
             CNN_EXAM)),
    "draw-bce-target": edit("targets: {o: 1}", "targets: {o: {uniform: [0, 1], decimals: 1}}", CNN_EXAM),
}


@pytest.mark.parametrize("path", PROBLEM_FILES, ids=[p.name for p in PROBLEM_FILES])
def test_every_problem_validates(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for data in (yaml.safe_load(text), editor_yaml(text)):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(data)]
        assert not errors, errors


@pytest.mark.parametrize("name", list(VALID))
def test_specs_derive_accepts_validate(name: str, tmp_path: Path) -> None:
    text = VALID[name]
    assert_derive_accepts(text, tmp_path)
    assert not schema_errors(text)


# --- specs derive refuses: the schema must refuse them too ----------------------------------

INVALID = {
    # the file's shape
    "empty-file": "",
    "only-a-comment": "# only a comment\n",
    "empty-document": "---\n",
    "a-list": "- 1\n- 2\n",
    "a-text": "hello\n",
    "a-number": "42\n",
    "null": "null\n",
    # keys
    "missing-loss": edit("loss: half_squared_error\n", ""),
    "missing-layers": Q2.split("layers:")[0] + "targets:" + Q2.split("targets:")[1],
    "missing-learning-rate": edit("learning_rate: 0.7\n", ""),
    "missing-inputs": edit("inputs: {x1: 6, x2: 2, x3: 5}\n", ""),
    "missing-targets": edit("targets: {o: 1}\n", ""),
    "unknown-top-key": Q2 + "momentum: 0.9\n",
    "misspelt-top-key": edit("learning_rate:", "learningrate:"),
    "samples-and-inputs": "inputs: {x1: 1, x2: 2}\n" + BATCH,
    "samples-and-targets": "targets: {o: 1}\n" + BATCH,
    "reduction-without-samples": Q2 + "reduction: mean\n",
    "unknown-reduction": edit("reduction: mean", "reduction: median", BATCH),
    "samples-empty": edit(SAMPLES, "", BATCH).replace("samples:\n", "samples: []\n"),
    "samples-not-a-list": edit(SAMPLES, "    inputs: {x1: 1, x2: 2}\n    targets: {o: 1}\n", BATCH),
    "too-many-samples": edit(SAMPLES, SAMPLES * 10 + "  - inputs: {x1: 1, x2: 2}\n    targets: {o: 1}\n", BATCH),
    "sample-extra-key": edit("    targets: {o: 0}\n", "    targets: {o: 0}\n    weight: 2\n", BATCH),
    "sample-without-targets": edit("    targets: {o: 0}\n", "", BATCH),
    "sample-bce-target-2": edit("targets: {o: 0}", "targets: {o: 2}",
                                edit("loss: half_squared_error", "loss: binary_cross_entropy", BATCH)),
    "steps-0": Q2 + "steps: 0\n",
    "steps-51": Q2 + "steps: 51\n",
    "steps-text": Q2 + "steps: many\n",
    "steps-boolean": Q2 + "steps: true\n",
    "title-a-number": edit('title: "Question 2"', "title: 2"),
    "title-a-list": edit('title: "Question 2"', "title: [Question, 2]"),
    "title-null": edit('title: "Question 2"', "title:"),
    # layers
    "layers-empty": Q2.split("layers:\n")[0] + "layers: []\n" + "targets:" + Q2.split("targets:")[1],
    "layers-not-a-list": Q2.split("layers:\n")[0] + "layers: relu\n" + "targets:" + Q2.split("targets:")[1],
    "layer-not-a-mapping": edit("targets:", "  - relu\ntargets:"),
    "layer-extra-key": edit("  - activation: relu\n", "  - activation: relu\n    dropout: 0.5\n"),
    "layer-without-activation": edit("  - activation: relu\n    neurons:\n", "  - neurons:\n"),
    "layer-without-neurons": edit("targets:", "  - activation: tanh\ntargets:"),
    "neurons-empty": edit("targets:", "  - activation: tanh\n    neurons: {}\ntargets:"),
    "neurons-left-empty": edit("targets:", "  - activation: tanh\n    neurons:\ntargets:"),
    "neurons-a-list": edit("targets:", "  - activation: tanh\n    neurons: [h9]\ntargets:"),
    "neuron-extra-key": edit("h1: {bias: 0.01,", "h1: {bias: 0.01, bais: 0.02,"),
    "neuron-without-bias": edit("o: {bias: 0.08, weights:", "o: {weights:"),
    "neuron-without-weights": edit("o: {bias: 0.08, weights: {g1: 0.61, g2: 0.39}}", "o: {bias: 0.08}"),
    "neuron-without-any-weight": edit("o: {bias: 0.08, weights: {g1: 0.61, g2: 0.39}}", "o: {bias: 0.08, weights: {}}"),
    "neuron-a-number": edit("o: {bias: 0.08, weights: {g1: 0.61, g2: 0.39}}", "o: 0.08"),
    "weights-a-list": edit("{g1: 0.61, g2: 0.39}", "[0.61, 0.39]"),
    "neuron-name-malformed": Q2.replace("h2", "h-2"),
    "neuron-name-too-long": Q2.replace("h1", "h" * 41),
    "neuron-name-with-a-space": Q2.replace("g1", '"g 1"'),
    "input-name-malformed": edit("x3: 5}", "x3: 5, 3x: 1}"),
    "input-name-a-number": edit("x3: 5}", "x3: 5, 4: 1}"),
    "inputs-empty": edit("inputs: {x1: 6, x2: 2, x3: 5}", "inputs: {}"),
    "inputs-a-list": edit("inputs: {x1: 6, x2: 2, x3: 5}", "inputs: [6, 2, 5]"),
    # numbers
    "number-a-word": edit("x2: 2,", "x2: two,"),
    "number-quoted": edit("x1: 6,", 'x1: "6",'),
    "number-quoted-exponent": edit("x1: 6,", "x1: '6e0',"),
    **{f"number-boolean-{word}": edit("g1: {bias: 0.05,", f"g1: {{bias: {word},") for word in
       ("true", "false", "True", "yes", "no", "on", "off")},
    "number-null": edit("learning_rate: 0.7", "learning_rate:"),
    "number-in-a-list": edit("x1: 6,", "x1: [6],"),
    **{f"number-infinite-{written}": edit("x3: 0.21}", f"x3: {written}}}") for written in
       (".inf", "-.inf", ".Inf", "1.0e+999", "1e999", "-1e400")},
    "number-a-date": edit("x1: 6,", "x1: 2024-01-01,"),
    "number-an-impossible-date": edit("x1: 6,", "x1: 2024-02-30,"),
    "number-an-expression": edit("x1: 6,", "x1: 2*3,"),
    "number-a-function": edit("learning_rate: 0.7", "learning_rate: exp(1)"),
    "number-a-mapping": edit("x1: 6,", "x1: {value: 6},"),
    "learning-rate-0": edit("learning_rate: 0.7", "learning_rate: 0"),
    "learning-rate-negative": edit("learning_rate: 0.7", "learning_rate: -0.7"),
    "bias-a-string": edit("o: {bias: 0.08", "o: {bias: abc"),
    # activations and losses
    "activation-unknown": activation("rectifier"),
    "activation-capitalised": edit("  - activation: sigmoid\n    neurons:\n      o:",
                                   "  - activation: Sigmoid\n    neurons:\n      o:"),
    "activation-a-number": activation("3"),
    "activation-a-list": activation("[relu]"),
    "activation-mapping-unknown-name": activation("{name: swish}"),
    "activation-mapping-without-name": activation("{slope: 0.1}"),
    "activation-mapping-extra-key": activation("{name: leaky_relu, alpha: 0.1}"),
    "slope-on-relu": activation("{name: relu, slope: 0.1}"),
    "slope-a-word": activation("{name: leaky_relu, slope: steep}"),
    "formula-named-like-a-built-in": activation('{formula: "x", name: relu}'),
    "formula-name-two-words": activation('{formula: "x", name: "two words"}'),
    "formula-name-a-number": activation('{formula: "x", name: 3}'),
    "formula-a-number": activation("{formula: 2}"),
    "formula-with-a-slope": activation('{formula: "x", slope: 0.1}'),
    **{f"formula-{text!r}": formula(text) for text in (
        "x @ 2", "x.__class__", "X", "e^x", "pi*x", "max(x, 0)", "exp(x, 2)", "2 + 3", "", "   ",
        "x_1", "xx", "x" + "+x" * 100, "__import__('os').system('touch PWNED')", "1e5")},
    "loss-unknown": edit("loss: half_squared_error", "loss: hinge"),
    "loss-a-number": edit("loss: half_squared_error", "loss: 2"),
    "loss-a-list": edit("loss: half_squared_error", "loss: [squared_error]"),
    "bce-target-2": edit("targets: {o: 1}", "targets: {o: 2}", edit("loss: half_squared_error",
                                                                     "loss: binary_cross_entropy")),
    "ce-target-negative": edit("targets: {o: 1}", "targets: {o: -0.5}", edit("loss: half_squared_error",
                                                                              "loss: cross_entropy")),
    # targets
    "targets-empty": edit("targets: {o: 1}", "targets: {}"),
    "targets-a-list": edit("targets: {o: 1}", "targets: [1]"),
    "target-a-word": edit("targets: {o: 1}", "targets: {o: one}"),
    "target-a-list-for-a-neuron": edit("targets: {o: 1}", "targets: {o: [1]}"),
    # asked, worked, exam
    "asked-not-a-list": Q2 + "asked: x1->h1\n",
    "asked-empty": Q2 + "asked: []\n",
    "asked-a-number": Q2 + "asked: [5]\n",
    "asked-not-a-weight": Q2 + "asked: [x1=>h1]\n",
    "worked-not-a-mapping": Q2 + "worked: delta\n",
    "worked-unknown-form": Q2 + "worked: {form: chains}\n",
    "worked-matrix-a-word": Q2 + "worked: {matrix: please}\n",
    "worked-unknown-key": Q2 + "worked: {style: compact}\n",
    "exam-not-a-mapping": Q2 + "exam: strict\n",
    "exam-unknown-key": exam("{max_z: 6}"),
    "exam-max-tries-0": exam("{max_tries: 0}"),
    "exam-max-abs-z-negative": exam("{max_abs_z: -1}"),
    "exam-max-abs-z-a-word": exam("{max_abs_z: six}"),
    "exam-relative-tolerance-2": exam("{relative_tolerance: 2}"),
    "exam-relative-tolerance-negative": exam("{relative_tolerance: -0.1}"),
    "exam-partial-credit-150": exam("{partial_credit: 150}"),
    "exam-partial-credit-12.5": exam("{partial_credit: 12.5}"),
    "exam-partial-credit-0": exam("{partial_credit: 0}"),
    # notation
    "notation-not-a-mapping": NET + "notation: flat\n",
    "notation-unknown-parameters": NET + "notation: {parameters: numbered}\n",
    "notation-unknown-index-order": NET + "notation: {index_order: from_to}\n",
    "notation-unknown-units": NET + "notation: {units: none}\n",
    "notation-unknown-key": NET + "notation: {units: flat, style: nice}\n",
    "notation-names-a-list": NET + "notation:\n  names: [h_1]\n",
    "notation-names-unknown-part": names("    o: {w: t}\n"),
    "notation-names-malformed-key": names("    h-1: h\n"),
    "notation-symbol-a-number": names("    x1->h1: 5\n"),
    "notation-symbol-a-list": names("    h1: [h_1]\n"),
    **{f"symbol-{symbol}": names(f"    h1: {symbol}\n") for symbol in (
        r"\input{secret}", r"\write18{rm}", r"\def\x{y}", r"\catcode", r"\hatx", r"\mathrm{x}", "a b", "'$x$'",
        "x%", "'x#1'", "x~", "w_{1,2}", "'ŷ'", "'1'", "'_1'", "w" * 41, "''")},
    "symbol-in-a-mapping": names("    o:\n      b: \\input{x}\n"),
    # drawn values (exam templates)
    "draw-both-kinds": edit("x1: {uniform: [0, 2], decimals: 1}", "x1: {uniform: [0, 2], choice: [1]}", EXAM),
    "draw-neither-kind": edit("x1: {uniform: [0, 2], decimals: 1}", "x1: {decimals: 1}", EXAM),
    "draw-uniform-three": edit("x1: {uniform: [0, 2], decimals: 1}", "x1: {uniform: [0, 1, 2]}", EXAM),
    "draw-uniform-one": edit("x1: {uniform: [0, 2], decimals: 1}", "x1: {uniform: [2]}", EXAM),
    "draw-uniform-a-word": edit("x1: {uniform: [0, 2], decimals: 1}", "x1: {uniform: [zero, 2]}", EXAM),
    "draw-uniform-not-a-list": edit("x1: {uniform: [0, 2], decimals: 1}", "x1: {uniform: 2}", EXAM),
    "draw-choice-empty": edit("targets: {o: {choice: [0, 1]}}", "targets: {o: {choice: []}}", EXAM),
    "draw-choice-with-decimals": edit("targets: {o: {choice: [0, 1]}}", "targets: {o: {choice: [0, 1], decimals: 1}}", EXAM),
    "draw-decimals-11": edit("x1: {uniform: [0, 2], decimals: 1}", "x1: {uniform: [0, 2], decimals: 11}", EXAM),
    "draw-decimals-negative": edit("x1: {uniform: [0, 2], decimals: 1}", "x1: {uniform: [0, 2], decimals: -1}", EXAM),
    "draw-decimals-a-word": edit("x1: {uniform: [0, 2], decimals: 1}", "x1: {uniform: [0, 2], decimals: two}", EXAM),
    "draw-unknown-key": edit("x1: {uniform: [0, 2], decimals: 1}", "x1: {uniform: [0, 2], seed: 3}", EXAM),
    "draw-shape-on-a-bias": edit("bias: {uniform: [-0.3, 0.3], decimals: 1}",
                                 "bias: {uniform: [-0.3, 0.3], decimals: 1, shape: [2, 2]}", CNN_EXAM),
    "draw-learning-rate-0": edit("learning_rate: {choice: [0.1, 0.5, 0.7]}", "learning_rate: {choice: [0, 0.5]}", EXAM),
    "draw-learning-rate-negative": edit("learning_rate: {choice: [0.1, 0.5, 0.7]}",
                                        "learning_rate: {uniform: [-0.1, 0.5]}", EXAM),
    "draw-bce-target-beyond-1": edit("targets: {o: 1}", "targets: {o: {uniform: [0, 2]}}", CNN_EXAM),
    "draw-shape-one-side": edit("shape: [4, 4]", "shape: [4]", CNN_EXAM),
    "draw-shape-0": edit("shape: [4, 4]", "shape: [0, 4]", CNN_EXAM),
    "draw-shape-13": edit("shape: [4, 4]", "shape: [13, 13]", CNN_EXAM),
    "draw-shape-a-fraction": edit("shape: [4, 4]", "shape: [4, 4.5]", CNN_EXAM),
    "draw-kernel-shape-one-side": cnn_layer(KERNEL, "{x: {uniform: [0, 1], shape: [2]}}}"),
    "draw-in-a-kernel-cell-unknown-key": cnn_layer(KERNEL, "{x: [[0.2, {uniform: [0, 1], shape: [2, 2]}], [0.0, 0.3]]}}"),
    # convolution and pooling
    "kernel-cell-a-word": cnn_layer(KERNEL, "{x: [[0.2, abc], [0.0, 0.3]]}}"),
    "kernel-a-number": cnn_layer(KERNEL, "{x: 0.5}}"),
    "kernel-a-flat-list": cnn_layer(KERNEL, "{x: [0.2, -0.1, 0.0, 0.3]}}"),
    "kernel-an-empty-row": cnn_layer(KERNEL, "{x: [[], [0.0, 0.3]]}}"),
    "kernel-not-a-mapping": cnn_layer(KERNEL, "[[0.2, -0.1], [0.0, 0.3]]}"),
    "kernel-empty": cnn_layer(KERNEL, "{}}"),
    "matrix-13-by-13": cnn_layer("  x: [[1, 0, 2, 1],", "  y: " + json.dumps([[1] * 13] * 13) + "\n  x: [[1, 0, 2, 1],"),
    "conv-map-extra-key": cnn_layer("c1: {bias: 0.1, ", "c1: {bias: 0.1, dilation: 2, "),
    "conv-map-without-bias": cnn_layer("c1: {bias: 0.1,  kernel", "c1: {kernel"),
    "conv-map-without-kernel": cnn_layer("c1: {bias: 0.1,  kernel: " + KERNEL, "c1: {bias: 0.1}"),
    "conv-empty": re.sub(r"  - conv: .*\n.*\n.*\n", "  - conv: {}\n", CNN, count=1),
    "conv-stride-0": cnn_layer("stride: 1                 # default 1", "stride: 0"),
    "conv-stride-negative": cnn_layer("stride: 1                 # default 1", "stride: -1"),
    "conv-stride-a-word": cnn_layer("stride: 1                 # default 1", "stride: one"),
    "conv-stride-a-fraction": cnn_layer("stride: 1                 # default 1", "stride: 1.5"),
    "conv-padding-negative": cnn_layer("padding: 0 ", "padding: -1 "),
    "conv-padding-13": cnn_layer("padding: 0 ", "padding: 13 "),
    "conv-softmax": cnn_layer("activation: relu          # applied", "activation: softmax  #"),
    "conv-softmax-mapping": cnn_layer("activation: relu          # applied", "activation: {name: softmax}  #"),
    "conv-unknown-key": cnn_layer("    padding: 0 ", "    dilation: 2\n    padding: 0 "),
    "conv-and-neurons": cnn_layer("    padding: 0 ", "    neurons: {}\n    padding: 0 "),
    "pool-kind-unknown": cnn_layer("kind: max", "kind: min"),
    "pool-size-0": cnn_layer("size: 2", "size: 0"),
    "pool-stride-0": cnn_layer("stride: 1                 # default: size", "stride: 0"),
    "pool-map-extra-key": cnn_layer("p1: {from: c1}", "p1: {from: c1, size: 2}"),
    "pool-map-without-from": cnn_layer("p1: {from: c1}", "p1: {}"),
    "pool-from-a-number": cnn_layer("p1: {from: c1}", "p1: {from: 1}"),
    "pool-from-a-list": cnn_layer("p1: {from: c1}", "p1: {from: [c1]}"),
    "pool-empty": cnn_layer("      p1: {from: c1}\n      p2: {from: c2}\n", "      {}\n").replace("  - pool:\n      {}",
                                                                                                   "  - pool: {}"),
    "pool-padding": cnn_layer("kind: max", "kind: max\n    padding: 1"),
    "weights-from-a-map-a-flat-list": cnn_layer("p1: [[0.4, -0.2], [0.1, 0.3]]", "p1: [0.4, -0.2, 0.1, 0.3]"),
    "weights-an-empty-matrix": cnn_layer("p1: [[0.4, -0.2], [0.1, 0.3]]", "p1: [[]]"),
    "weights-a-matrix-cell-a-word": cnn_layer("p1: [[0.4, -0.2], [0.1, 0.3]]", "p1: [[0.4, high], [0.1, 0.3]]"),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_specs_derive_refuses_fail_the_schema(name: str, tmp_path: Path) -> None:
    text = INVALID[name]
    assert_derive_refuses(text, tmp_path)
    assert schema_errors(text), "the schema accepts a spec derive refuses"


# --- what only derive checks ---------------------------------------------------------------

DERIVE_ONLY_CASES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("yaml", "duplicate-top-level-key", Q2 + "loss: squared_error\n", ()),
    ("yaml", "duplicate-weight", edit("{g1: 0.61, g2: 0.39}", "{g1: 0.61, g2: 0.39, g1: 0.5}"), ()),
    ("yaml", "merge-key", edit("h2: {bias: 0.01,", "h2: {<<: {bias: 0.01},"), ()),
    ("yaml-1.1", "title-yes", edit('title: "Question 2"', "title: yes"), ()),
    ("yaml-1.1", "title-a-date", edit('title: "Question 2"', "title: 2024-01-01"), ()),
    ("yaml-1.1", "title-off", edit('title: "Question 2"', "title: off"), ()),
    ("number-notation", "octal", edit("x1: 6,", "x1: 010,"), ()),
    ("number-notation", "hexadecimal", edit("x1: 6,", "x1: 0x10,"), ()),
    ("number-notation", "sexagesimal", edit("x1: 6,", "x1: 1:30,"), ()),
    ("number-notation", "underscore", edit("x1: 6,", "x1: 1_0,"), ()),
    ("number-notation", "nan", edit("learning_rate: 0.7", "learning_rate: .nan"), ()),
    ("number-notation", "17-digits", edit("x1: 6,", "x1: 0.12345678901234567,"), ()),
    ("number-notation", "below-every-double", edit("x1: 6,", "x1: 1e-400,"), ()),
    ("whole-number-notation", "steps-2.0", Q2 + "steps: 2.0\n", ()),
    ("whole-number-notation", "stride-1.0", cnn_layer("stride: 1                 # default 1", "stride: 1.0"), ()),
    ("unique-names", "neuron-named-like-an-input", edit("targets: {o: 1}", "targets: {x1: 1}", edit("o: {bias", "x1: {bias")), ()),
    ("unique-names", "a-name-in-two-layers", edit("g2: {bias: 0.05", "h2: {bias: 0.05"), ()),
    ("weight-sources", "unknown-neuron", edit("weights: {h1: 0.17", "weights: {h3: 0.17"), ()),
    ("weight-sources", "a-later-layer", edit("weights: {x1: 0.42", "weights: {g1: 0.42"), ()),
    ("weight-sources", "the-same-layer", edit("g2: {bias: 0.05, weights: {h1: 0.91", "g2: {bias: 0.05, weights: {g1: 0.91"), ()),
    ("weight-sources", "a-matrix-from-a-neuron", edit("{g1: 0.61,", "{g1: [[0.61]],"), ()),
    ("weight-sources", "a-number-from-a-map", cnn_layer("p1: [[0.4, -0.2], [0.1, 0.3]]", "p1: 0.4"), ()),
    ("targets-name-outputs", "a-hidden-neuron", edit("targets: {o: 1}", "targets: {g1: 1}"), ()),
    ("targets-name-outputs", "no-such-output", edit("targets: {o: 1}", "targets: {out: 1}"), ()),
    ("targets-name-outputs", "a-matrix-for-a-neuron", edit("targets: {o: 1}", "targets: {o: [[1]]}"), ()),
    ("targets-name-outputs", "samples-with-other-inputs", edit("inputs: {x1: 0.5, x2: -1}", "inputs: {x2: -1, x1: 0.5}", BATCH), ()),
    ("matrix-shapes", "ragged-kernel", cnn_layer(KERNEL, "{x: [[0.2, -0.1, 0.5], [0.0, 0.3]]}}"), ()),
    ("matrix-shapes", "weights-of-the-wrong-shape", cnn_layer(KERNEL, "{x: [[0.2, -0.1, 0.5], [0.0, 0.3, 0.1]]}}"), ()),
    ("matrix-shapes", "drawn-kernel-without-shape", cnn_layer(KERNEL, "{x: {uniform: [0, 1]}}}"), ()),
    ("matrix-shapes", "pool-window-too-large", cnn_layer("size: 2", "size: 4"), ()),
    ("matrix-shapes", "kernel-on-a-map-of-its-own-layer", cnn_layer("c2: {bias: -0.1, kernel: {x:", "c2: {bias: -0.1, kernel: {c1:"), ()),
    ("draw-range", "uniform-low-above-high", edit("x1: {uniform: [0, 2], decimals: 1}", "x1: {uniform: [2, 0]}", EXAM), ()),
    ("asked-exists", "asked-no-such-weight", Q2 + "asked: [x1->o]\n", ()),
    ("notation-names", "names-no-such-neuron", names("    h3: h_3\n"), ()),
    ("notation-names", "names-no-such-weight", names("    x1->o: w\n"), ()),
    ("notation-names", "an-input-with-parts", names("    x1: {a: x}\n"), ()),
    ("notation-names", "y-of-a-hidden-neuron", names("    h1: {y: t}\n"), ()),
    ("notation-names", "named-twice", names("    x1->h1: v\n    x1 -> h1: u\n"), ()),
    *[("symbol-grammar", f"symbol-{symbol}", names(f"    h1: {symbol}\n"), ())
      for symbol in ("x_", "'{x'", "x}", "a_1_2", "a^1^2", "a^2'", "x_{}")],
    ("symbols-distinct", "delta-twins", names("    h1: {z: 'z_{s}'}\n    h2: {z: s}\n"), ()),
    ("symbols-distinct", "two-alike", names("    h1: h_1\n    h2: h_{1}\n"), ()),
    ("symbols-distinct", "the-loss", names("    h2->o: L\n"), ()),
    ("symbols-distinct", "euler", names("    x2: e\n"), ()),
    ("formula", "exponent-uses-x", formula("x^x"), ()),
    ("formula", "grows-too-fast", formula("exp(exp(x))"), ()),
    ("formula", "division-by-zero", formula("x/0"), ()),
    ("formula", "no-operator", formula("2x"), ()),
    ("formula", "double-slash", formula("x // 2"), ()),
    ("formula", "does-not-depend-on-x", formula("x - x"), ()),
    ("formula", "too-much-work", formula(nested("tanh", 12)), ()),
    ("formula", "one-name-two-formulas", edit("  - activation: sigmoid\n    neurons:\n      o:",
                                              '  - activation: {formula: "x*sigmoid(x)", name: softsign}\n'
                                              "    neurons:\n      o:", CUSTOM), ()),
    ("network-size", "41-units-in-a-layer",
     "inputs: {" + ", ".join(f"x{i}: 0.5" for i in range(41)) + "}\nlayers:\n  - activation: sigmoid\n    neurons:\n"
     "      o: {bias: 0.1, weights: {" + ", ".join(f"x{i}: 0.25" for i in range(41)) + "}}\n"
     "targets: {o: 1}\nloss: half_squared_error\nlearning_rate: 0.5\n", ("-f", "tex")),
    ("network-size", "too-many-paths", read("deep_34442.yaml"), ("--form", "paths", "--max-paths", "31")),
    ("parts", "part-label-twice", Q2 + "parts: [{label: a}, {label: a, loss: squared_error}]\n", ()),
    ("parts", "cross-entropy-part-keeps-a-target-of-3",
     edit("targets: {o: 1}", "targets: {o: 3}") + "parts: [{}, {loss: binary_cross_entropy}]\n", ()),
    ("parts", "parts-in-an-exam-template", EXAM + "parts: [{}, {loss: binary_cross_entropy}]\n", ()),
]


# what derive says for each, so that a case is refused for its rule, not for a slip in the edit
REASONS = {
    "duplicate-top-level-key": "loss: duplicate key", "duplicate-weight": "weights.g1: duplicate key",
    "merge-key": "merge keys (<<) are not supported", "title-yes": "title: expected text, found the boolean yes",
    "title-a-date": "title: expected text, found '2024-01-01'", "title-off": "title: expected text, found the boolean off",
    "octal": "write numbers in plain decimal", "hexadecimal": "write numbers in plain decimal",
    "sexagesimal": "write numbers in plain decimal", "underscore": "write numbers in plain decimal",
    "nan": "learning_rate: expected a finite number", "17-digits": "more significant digits",
    "below-every-double": "closer to 0 than any number", "steps-2.0": "steps: expected a whole number",
    "stride-1.0": "layers[0].stride: expected a whole number",
    "neuron-named-like-an-input": "duplicate name: 'x1' is already an input",
    "a-name-in-two-layers": "duplicate name: 'h2' is already a neuron", "unknown-neuron": "unknown neuron 'h3'",
    "a-later-layer": "a later layer", "the-same-layer": "a neuron of the same layer",
    "a-matrix-from-a-neuron": "weights.g1: expected a number, found a list",
    "a-number-from-a-map": "weights.p1: expected a matrix", "a-hidden-neuron": "'g1' is not an output neuron",
    "no-such-output": "'out' is not an output neuron",
    "names-no-such-neuron": "no input, neuron or weight 'h3'", "names-no-such-weight": "no weight 'x1->o'", "a-matrix-for-a-neuron": "its target is a number",
    "samples-with-other-inputs": "every sample needs the inputs x1, x2, in that order",
    "ragged-kernel": "every row needs the same length", "weights-of-the-wrong-shape": "expected a 2 x 1 matrix",
    "drawn-kernel-without-shape": "a drawn matrix needs its shape", "pool-window-too-large": "window does not fit",
    "kernel-on-a-map-of-its-own-layer": "'c1' is not a matrix input or a map of an earlier layer",
    "uniform-low-above-high": "low < high", "asked-no-such-weight": "no weight or bias 'x1->o'",
    "an-input-with-parts": "an input has one symbol", "y-of-a-hidden-neuron": "h1.y: unknown key",
    "named-twice": "is named twice", "symbol-x_": "_ needs a letter", "symbol-'{x'": "unbalanced braces",
    "symbol-x}": "unbalanced braces", "symbol-a_1_2": "a double subscript", "symbol-a^1^2": "a double superscript",
    "symbol-a^2'": "a prime after a superscript", "symbol-x_{}": "empty braces",
    "delta-twins": "would have the same delta", "two-alike": "h_{1} would name both",
    "the-loss": "L would name both the loss", "euler": "Euler's number", "exponent-uses-x": "uses x",
    "grows-too-fast": "can grow too large", "division-by-zero": "division by zero", "no-operator": "write * to multiply",
    "double-slash": "unexpected '/'", "does-not-depend-on-x": "does not depend on x",
    "too-much-work": "SymPy cannot work with the formula", "one-name-two-formulas": "is already given to the formula",
    "41-units-in-a-layer": "at most 40", "too-many-paths": "32 chain-rule paths and the limit is 31",
    "part-label-twice": "parts[1].label: label 'a' is already the label of parts[0]",
    "cross-entropy-part-keeps-a-target-of-3": "parts[1].loss: binary_cross_entropy needs targets between 0 and 1",
    "parts-in-an-exam-template": "parts: an exam template cannot have parts",
}


@pytest.mark.parametrize("rule, name, text, args", DERIVE_ONLY_CASES,
                         ids=[f"{rule}:{name}" for rule, name, _, _ in DERIVE_ONLY_CASES])
def test_rules_only_derive_checks(rule: str, name: str, text: str, args: tuple[str, ...], tmp_path: Path) -> None:
    """A spec the schema lets through, refused by derive for a rule the schema's
    description names."""
    assert rule in DERIVE_ONLY
    assert_derive_refuses(text, tmp_path, *args)
    assert REASONS[name] in solve(text, tmp_path, *args).stderr
    assert not schema_errors(text), "the schema checks this: move the case to INVALID"


def test_every_rule_only_derive_checks_has_a_case() -> None:
    assert {rule for rule, *_ in DERIVE_ONLY_CASES} == set(DERIVE_ONLY)
    assert sorted(name for _, name, _, _ in DERIVE_ONLY_CASES) == sorted(REASONS)
    for rule in DERIVE_ONLY.values():
        assert rule in SCHEMA["description"]


def test_cases_are_distinct() -> None:
    texts = list(VALID.values()) + list(INVALID.values()) + [text for _, _, text, _ in DERIVE_ONLY_CASES]
    assert len(set(texts)) == len(texts)


# --- the schema itself --------------------------------------------------------------------


def test_the_schema_is_valid_draft_07() -> None:
    Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == DRAFT == "http://json-schema.org/draft-07/schema#"
    assert SCHEMA["$id"] and SCHEMA["title"]


def test_derive_schema_prints_it() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout) == SCHEMA
    # stable: sorted keys, the same bytes every run
    assert result.stdout == schema_text() == json.dumps(SCHEMA, indent=2, sort_keys=True) + "\n"
    assert CliRunner().invoke(main, ["schema"]).stdout == result.stdout


def test_the_schema_uses_the_readers_words() -> None:
    """Built from derive.spec's constants: a key or a word added to the reader shows up
    here (or fails this test), so the two cannot drift apart."""
    properties = SCHEMA["properties"]
    definitions = SCHEMA["definitions"]
    assert set(properties) == set(TOP_REQUIRED + TOP_OPTIONAL)
    assert SCHEMA["required"] == list(TOP_REQUIRED)
    assert properties["loss"]["enum"] == list(LOSSES)
    assert properties["reduction"]["enum"] == list(REDUCTIONS)
    assert set(properties["worked"]["properties"]) == set(Worked._fields)
    assert properties["worked"]["properties"]["form"]["enum"] == list(FORMS)
    assert set(properties["exam"]["properties"]) == set(Constraints._fields)
    assert definitions["activation"]["else"]["enum"] == list(ACTIVATIONS)
    assert definitions["named_activation"]["properties"]["name"]["enum"] == list(ACTIVATIONS)
    assert definitions["pool_layer"]["properties"]["kind"]["enum"] == list(POOL_KINDS)
    notation = definitions["notation"]["properties"]
    assert set(notation) == set(Notation._fields)
    for key, options in NOTATION_CHOICES.items():
        assert notation[key]["enum"] == list(options)


@pytest.mark.parametrize("loss", LOSSES)
def test_targets_from_0_to_1_for_the_losses_the_reader_restricts(loss: str, tmp_path: Path) -> None:
    text = edit("targets: {o: 1}", "targets: {o: 2}", edit("loss: half_squared_error", f"loss: {loss}"))
    if loss in UNIT_TARGET_LOSSES:
        assert_derive_refuses(text, tmp_path)
        assert schema_errors(text)
    else:
        assert_derive_accepts(text, tmp_path)
        assert not schema_errors(text)


def test_patterns_are_ecma_262() -> None:
    """An editor matches the patterns as JavaScript regular expressions (with the u flag
    where it can); compile each there."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    patterns = sorted({value for value in walk(SCHEMA, "pattern")})
    script = ("const ps = JSON.parse(process.argv[1]); for (const p of ps) { new RegExp(p, 'u'); new RegExp(p); }"
              " console.log(ps.length)")
    result = subprocess.run([node, "-e", script, json.dumps(patterns)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == str(len(patterns)), result.stderr


def walk(node: Any, key: str) -> list[Any]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == key] + [x for v in node.values() for x in walk(v, key)]
    if isinstance(node, list):
        return [x for v in node for x in walk(v, key)]
    return []


def test_docs_show_the_editor_line(tmp_path: Path) -> None:
    """docs/spec.md opens its example with the YAML language server's line; with the
    schema beside it, the example validates, and derive reads it (the line is a comment)."""
    docs = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    assert "derive schema" in docs
    example = docs.split("```yaml\n", 1)[1].split("```", 1)[0]
    first = example.splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match, first
    (tmp_path / match.group(1)).write_text(schema_text(), encoding="utf-8")
    (tmp_path / "question2.yaml").write_text(example, encoding="utf-8")
    linked = json.loads((tmp_path / match.group(1)).read_text(encoding="utf-8"))
    assert not list(Draft7Validator(linked).iter_errors(yaml.safe_load(example)))
    assert_derive_accepts(example, tmp_path)
