"""The `notation` key: flat names, index order, flat units and custom symbols.

Expected symbols are written out by hand from docs/spec.md ("Notation options") and
the seed pages, not taken from the program. Errors go through the command line: exit
code 2 and a message naming file, line and key path.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from canonical import CANONICAL
from cli import main
from derive.api import solve
from derive.errors import SpecError
from derive.network import build_network
from derive.render import render
from derive.spec import Notation, instantiate, parse_spec, spec_yaml, symbol_form

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = ROOT / "problems"

# The 2-2-1 sigmoid network of seed 001 (problems/seed001_sigmoid_221.yaml), without
# notation. Lines: 1 title 2 inputs 3 layers 4 sigmoid 5 neurons 6 h1 7 h2 8 sigmoid
# 9 neurons 10 o 11 targets 12 loss 13 learning_rate; notation starts on line 14.
NET = """\
title: "2-2-1"
inputs: {x1: 0.05, x2: 0.1}
layers:
  - activation: sigmoid
    neurons:
      h1: {bias: 0.35, weights: {x1: 0.15, x2: 0.2}}
      h2: {bias: 0.35, weights: {x1: 0.25, x2: 0.3}}
  - activation: sigmoid
    neurons:
      o: {bias: 0.6, weights: {h1: 0.4, h2: 0.45}}
targets: {o: 0.01}
loss: squared_error
learning_rate: 0.5
"""


def write(tmp_path: Path, text: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def key_of(path: Path, *args: str) -> dict:
    result = CliRunner().invoke(main, ["solve", str(path), "-f", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def symbols(key: dict) -> dict[str, str]:
    """parameter ("x1->h1" or "b:h1") -> its JSON symbol."""
    return {(f"{p['from']}->{p['to']}" if p["kind"] == "weight" else f"b:{p['neuron']}"): p["symbol"]
            for p in key["steps"][0]["parameters"]}


def markdown(path: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["solve", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def error_of(tmp_path: Path, text: str) -> str:
    """The message of a spec that must be refused: exit 2, nothing on stdout."""
    path = write(tmp_path, text)
    result = CliRunner().invoke(main, ["solve", str(path)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert result.stderr.startswith("derive: error:")
    return result.stderr


# --- defaults --------------------------------------------------------------------------


@pytest.mark.parametrize("notation", [
    "notation: {}\n",
    "notation: {parameters: layered, index_order: from-to, units: layered}\n",
    "notation:\n  names: {}\n",
])
def test_default_notation_spelled_out_changes_nothing(tmp_path: Path, notation: str) -> None:
    plain = write(tmp_path, CANONICAL, "plain.yaml")
    spelled = write(tmp_path, CANONICAL + notation, "spelled.yaml")
    for fmt in ("md", "tex", "json"):
        assert render(solve(spelled), fmt) == render(solve(plain), fmt)


def test_a_spec_without_notation_has_the_default() -> None:
    assert parse_spec(CANONICAL).notation == Notation()


# --- parameters: flat ------------------------------------------------------------------


def test_flat_parameters_number_weights_and_biases_in_spec_order(tmp_path: Path) -> None:
    key = key_of(write(tmp_path, NET + "notation: {parameters: flat}\n"))
    # seed 001: h1 = x1 w1 + x2 w2 + b1, h2 = x1 w3 + x2 w4 + b2, o = h1 w5 + h2 w6 + b3
    assert symbols(key) == {
        "x1->h1": "w_{1}", "x2->h1": "w_{2}", "b:h1": "b_{1}",
        "x1->h2": "w_{3}", "x2->h2": "w_{4}", "b:h2": "b_{2}",
        "h1->o": "w_{5}", "h2->o": "w_{6}", "b:o": "b_{3}",
    }


def test_flat_parameters_in_the_working_tables_and_diagram(tmp_path: Path) -> None:
    path = write(tmp_path, NET + "notation: {parameters: flat}\n")
    text = markdown(path)
    assert "| $w_{1}$ | x1 → h1 | $0.15$ |" in text  # given table
    assert "| $b_{3}$ | o | $0.6$ |" in text
    assert r"z_{1}^{(1)} &= w_{1} x_{1} + w_{2} x_{2} + b_{1} \\" in text  # forward pass
    assert r"#### 3.1 Gradient of $w_{5}$ (1 path)" in text  # backward pass
    assert r"w_{6} &\leftarrow 0.45 - 0.5 \cdot" in text  # updates
    assert "| $w_{6}$ | h2 → o | $0.45$ |" in text  # summary
    assert "w_{1, 1}" not in text and "^{(1)}$ | x1" not in text
    tex = render(solve(path), "tex")
    assert r"below:$b_{1} = 0.35$" in tex  # the TikZ diagram's bias label


def test_flat_numbers_count_renamed_weights(tmp_path: Path) -> None:
    """w_5 is the fifth weight even when an earlier one has its own name."""
    key = key_of(write(tmp_path, NET + "notation:\n  parameters: flat\n  names:\n    x1->h1: v\n"))
    assert symbols(key)["x1->h1"] == "v"
    assert symbols(key)["x2->h1"] == "w_{2}"
    assert symbols(key)["h1->o"] == "w_{5}"


def test_seed004_flat_relu_reads_like_the_seed_page() -> None:
    text = markdown(PROBLEMS / "seed004_flat_relu.yaml")
    # the page: z3 = w3 a1 + w5 a2 + b3, z4 = w4 a1 + w6 a2 + b4, y-hat = w7 a3 + w8 a4 + b5
    assert r"z_{1} &= w_{1} x + b_{1} \\" in text
    assert r"z_{3} &= w_{3} a_{1} + w_{5} a_{2} + b_{3} \\" in text
    assert r"z_{4} &= w_{4} a_{1} + w_{6} a_{2} + b_{4} \\" in text
    assert r"z_{\hat{y}} &= w_{7} a_{3} + w_{8} a_{4} + b_{5} \\" in text
    assert r"\hat{y} &= \operatorname{id}\left(z_{\hat{y}}\right)" in text
    # dL/dw1: the multi-path sum through a3 and a4, as on the page
    # dL/dy-hat written 2(y-hat - y), as the seeds write it
    assert (r"&= 2 \left(\hat{y} - y\right) \cdot 1 \cdot w_{7} \cdot \operatorname{ReLU}'\left(z_{3}\right)"
            r" \cdot w_{3} \cdot \operatorname{ReLU}'\left(z_{1}\right) \cdot x \\") in text
    assert (r"&\quad + 2 \left(\hat{y} - y\right) \cdot 1 \cdot w_{8} \cdot \operatorname{ReLU}'\left(z_{4}\right)"
            r" \cdot w_{4} \cdot \operatorname{ReLU}'\left(z_{1}\right) \cdot x \\") in text


def test_seed001_flat_names_json_symbols() -> None:
    key = json.loads(render(solve(PROBLEMS / "seed001_flat_names.yaml"), "json"))
    assert [p["symbol"] for p in key["steps"][0]["parameters"]] == [
        "w_{1}", "w_{2}", "b_{1}", "w_{3}", "w_{4}", "b_{2}", "w_{5}", "w_{6}", "b_{3}"]


# --- index_order -----------------------------------------------------------------------


def test_to_from_swaps_the_indices(tmp_path: Path) -> None:
    default = symbols(key_of(write(tmp_path, CANONICAL, "a.yaml")))
    swapped = symbols(key_of(write(tmp_path, CANONICAL + "notation: {index_order: to-from}\n", "b.yaml")))
    # seed 002: w_21^(1) is from x2 into h1; Nielsen writes it w_12^(1)
    assert default["x2->h1"] == "w_{21}^{(1)}"
    assert swapped["x2->h1"] == "w_{12}^{(1)}"
    assert default["x1->h2"] == "w_{12}^{(1)}"
    assert swapped["x1->h2"] == "w_{21}^{(1)}"
    assert swapped["g2->o"] == "w_{12}^{(3)}"
    assert swapped["b:h2"] == default["b:h2"] == "b_{2}^{(1)}"  # biases have one index
    assert all(swapped[k] == default[k] for k in ("x1->h1", "x2->h2", "h1->g1"))  # i = j


def test_to_from_on_a_skip_connection(tmp_path: Path) -> None:
    skip = CANONICAL.replace("{g1: 0.61, g2: 0.39}", "{g1: 0.61, g2: 0.39, x3: 0.5}")
    key = symbols(key_of(write(tmp_path, skip + "notation: {index_order: to-from}\n")))
    assert key["x3->o"] == r"w_{13}^{(0\to 3)}"  # into o (1st of layer 3) from x3 (3rd input)


def test_to_from_in_the_working(tmp_path: Path) -> None:
    text = markdown(write(tmp_path, CANONICAL + "notation: {index_order: to-from}\n"))
    assert r"z_{1}^{(1)} &= w_{11}^{(1)} x_{1} + w_{12}^{(1)} x_{2} + w_{13}^{(1)} x_{3} + b_{1}^{(1)} \\" in text


def test_index_order_does_not_touch_flat_names(tmp_path: Path) -> None:
    flat = symbols(key_of(write(tmp_path, NET + "notation: {parameters: flat}\n", "a.yaml")))
    both = symbols(key_of(write(tmp_path, NET + "notation: {parameters: flat, index_order: to-from}\n",
                                "b.yaml")))
    assert flat == both


# --- units: flat and custom names ------------------------------------------------------


def test_flat_units(tmp_path: Path) -> None:
    text = markdown(write(tmp_path, CANONICAL + "notation: {units: flat}\n"))
    assert r"a_{5} &= \sigma\left(z_{5}\right)" in text  # o, the fifth neuron
    assert r"z_{3} &= w_{11}^{(2)} a_{1} + w_{21}^{(2)} a_{2} + b_{1}^{(2)} \\" in text


def test_custom_names_everywhere(tmp_path: Path) -> None:
    spec = NET + """\
notation:
  names:
    x1: x
    h1: h_1
    h2: {a: "a'", z: "z_{h2}", b: c}
    o: {a: '\\hat{y}', y: t}
    x2->h1: v_2
"""
    path = write(tmp_path, spec)
    text = markdown(path)
    key = symbols(key_of(path))
    assert key["x2->h1"] == "v_{2}"  # stored in its one printed form
    assert key["b:h2"] == "c"
    assert key["x1->h1"] == "w_{11}^{(1)}"  # not named: the default
    assert r"z_{h_{1}} &= w_{11}^{(1)} x + v_{2} x_{2} + b_{1}^{(1)} \\" in text  # z from h_1
    assert r"h_{1} &= \sigma\left(z_{h_{1}}\right)" in text
    assert r"z_{h2} &= w_{12}^{(1)} x + w_{22}^{(1)} x_{2} + c \\" in text
    assert r"a' &= \sigma\left(z_{h2}\right)" in text
    assert r"z_{\hat{y}} &= w_{11}^{(2)} h_{1} + w_{21}^{(2)} a' + b_{1}^{(2)} \\" in text
    assert r"L = \left(\hat{y} - t\right)^{2}" in text
    assert "Targets: $t = 0.01$ (for o)." in text
    assert "| $x$ (x1) | $0.05$ |" in text
    assert 'u_h1(("h1<br/>h₁<br/>b = 0.35"))' in text  # the diagram: h_{1} as h₁


def test_an_activation_named_a_keeps_the_letter_swap(tmp_path: Path) -> None:
    text = markdown(write(tmp_path, NET + "notation:\n  names: {h1: a_7}\n"))
    assert r"a_{7} &= \sigma\left(z_{7}\right)" in text


def test_delta_form_names_deltas_after_custom_z(tmp_path: Path) -> None:
    spec = NET + "notation:\n  parameters: flat\n  names:\n    h1: h_1\n    h2: {z: z_b}\n    o: \\hat{y}\n"
    text = markdown(write(tmp_path, spec), "--form", "delta")
    assert r"\delta_{\hat{y}} &= " in text
    assert r"\delta_{h_{1}} &= h_{1} \left(1 - h_{1}\right)" in text
    assert r"\delta_{b} &= " in text
    assert r"\frac{\partial L}{\partial w_{5}} &= \delta_{\hat{y}} h_{1}" in text


@pytest.mark.parametrize("text, form", [
    ("w_1", "w_{1}"), ("w_{1}", "w_{1}"), ("{w}_1", "w_{1}"), ("h_1^{sum}", "h_{1}^{sum}"),
    (r"\hat{y}", r"\hat{y}"), (r"\tilde{x}_1", r"\tilde{x}_{1}"), (r"\bar{a}'", r"\bar{a}'"),
    ("a'_1", "a_{1}'"), ("w_{1_2}", "w_{1_{2}}"), ("yhat", "yhat"), (r"\hat{\bar{y}}", r"\hat{\bar{y}}"),
])
def test_symbol_forms(text: str, form: str) -> None:
    assert symbol_form(text) == form


# --- gradients do not depend on the notation -------------------------------------------

NOTATIONS = [
    "notation: {parameters: flat}\n",
    "notation: {index_order: to-from}\n",
    "notation: {units: flat, parameters: flat, index_order: to-from}\n",
    "notation:\n  parameters: flat\n  names:\n    h1: h_1\n    h2: {a: k, z: z_k, b: c}\n"
    "    o: {a: '\\hat{y}', y: t}\n    x1: x\n    h1->o: v\n",
]


def numbers(key: dict) -> list:
    """Everything in a JSON key but the symbols."""
    step = key["steps"][0]
    return [step["forward"], step["loss"], step["outputs"],
            [{k: v for k, v in p.items() if k != "symbol"} for p in step["parameters"]]]


@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize("rounding", ["exact", "by-hand"])
def test_gradients_do_not_depend_on_notation(tmp_path: Path, notation: str, rounding: str) -> None:
    plain = key_of(write(tmp_path, NET, "plain.yaml"), "--rounding", rounding)
    named = key_of(write(tmp_path, NET + notation, "named.yaml"), "--rounding", rounding)
    assert numbers(named) == numbers(plain)
    assert symbols(named) != symbols(plain)


def test_q2_gradients_do_not_depend_on_notation(tmp_path: Path) -> None:
    plain = key_of(write(tmp_path, CANONICAL, "plain.yaml"))
    named = key_of(write(tmp_path, CANONICAL + "notation: {units: flat, parameters: flat}\n",
                         "named.yaml"))
    assert numbers(named) == numbers(plain)


def test_seed001_flat_names_has_seed001s_numbers() -> None:
    plain = json.loads(render(solve(PROBLEMS / "seed001_sigmoid_221.yaml"), "json"))
    named = json.loads(render(solve(PROBLEMS / "seed001_flat_names.yaml"), "json"))
    assert numbers(named) == numbers(plain)


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("symbol, fact", [
    (r"\input{secret}", "no other commands"),
    (r"\write18{rm}", "no other commands"),
    (r"\def\x{y}", "no other commands"),
    (r"\catcode", "no other commands"),
    (r"\hatx", "no other commands"),  # \hat followed by letters is another command
    (r"\mathrm{x}", "no other commands"),
    ("a b", "no spaces"),
    ("'$x$'", "no other commands"),
    ("x%", "no other commands"),
    ("'x#1'", "no other commands"),
    ("x~", "no other commands"),
    ("w_{1,2}", "no other commands"),
    ("'ŷ'", "no other commands"),
    ("x_", "_ needs a letter, a digit or a {group} after it"),
    ("'{x'", "unbalanced braces"),
    ("x}", "unbalanced braces"),
    ("a_1_2", "double subscript"),
    ("a^1^2", "double superscript"),
    ("a^2'", "a prime after a superscript"),
    ("x_{}", "empty braces"),
    ("'1'", "starts with a letter"),
    ("'_1'", "needs something before it"),
    ("w" * 41, "at most 40 characters"),
])
def test_invalid_symbols_are_located_errors(tmp_path: Path, symbol: str, fact: str) -> None:
    message = error_of(tmp_path, NET + f"notation:\n  names:\n    h1: {symbol}\n")
    assert "net.yaml:16: notation.names.h1: " in message
    assert fact in message


def test_an_invalid_symbol_inside_a_mapping_names_its_key(tmp_path: Path) -> None:
    message = error_of(tmp_path, NET + "notation:\n  names:\n    o:\n      b: \\input{x}\n")
    assert "net.yaml:17: notation.names.o.b: " in message


def test_a_symbol_must_be_text(tmp_path: Path) -> None:
    message = error_of(tmp_path, NET + "notation:\n  names:\n    x1->h1: 5\n")
    assert "net.yaml:16: notation.names.x1->h1: expected text, found the number 5" in message


def test_a_custom_z_and_its_z_twin_would_share_a_delta(tmp_path: Path) -> None:
    """net_{h1} (seed 000) is a pre-activation; its delta is delta_{net_{h1}}, as z_{net_{h1}}'s is."""
    message = error_of(tmp_path, NET + "notation:\n  names:\n    h1: {z: s_1}\n    h2: {z: 'z_{s_{1}}'}\n")
    assert "net.yaml:17: notation.names.h2.z: z_{s_{1}} and s_{1} (notation.names.h1.z) would have the same delta" \
        in message


@pytest.mark.parametrize("notation, line, facts", [
    ("notation: flat\n", 14, ["notation: expected a mapping, found the text 'flat'"]),
    ("notation: {parameters: numbered}\n", 14,
     ["notation.parameters: unknown parameters 'numbered' (valid: layered, flat)"]),
    ("notation: {index_order: from_to}\n", 14,
     ["notation.index_order: unknown index order 'from_to' (valid: from-to, to-from)"]),
    ("notation: {units: flat, style: nice}\n", 14, ["notation.style: unknown key"]),
    ("notation:\n  names: [h_1]\n", 15, ["notation.names: expected a mapping, found a list"]),
    ("notation:\n  names:\n    h3: h_3\n", 16, ["notation.names.h3: no input, neuron or weight 'h3'"]),
    ("notation:\n  names:\n    x1->o: w\n", 16, ["notation.names.x1->o: no weight 'x1->o'"]),
    ("notation:\n  names:\n    x1: {a: x}\n", 16, ["notation.names.x1: an input has one symbol"]),
    ("notation:\n  names:\n    h1: {y: t}\n", 16, ["notation.names.h1.y: unknown key (expected one of: a, z, b)"]),
    ("notation:\n  names:\n    o: {w: t}\n", 16, ["notation.names.o.w: unknown key (expected one of: a, z, b, y)"]),
    ("notation:\n  names:\n    x1->h1: v\n    x1 -> h1: u\n", 17,
     ["notation.names.x1 -> h1: 'x1 -> h1' is named twice (first on line 16)"]),
])
def test_notation_shape_errors(tmp_path: Path, notation: str, line: int, facts: list[str]) -> None:
    message = error_of(tmp_path, NET + notation)
    assert f"net.yaml:{line}: " in message
    for fact in facts:
        assert fact in message


@pytest.mark.parametrize("names, line, fact", [
    # two custom names alike, in two spellings of one printed symbol
    ("    h1: h_1\n    h2: h_{1}\n", 18, "h_{1} would name both the activation of h1 and the activation of h2"),
    # a custom name against a flat default (flat: x2->h1 is w_2)
    ("    x1->h1: w_2\n", 17, "w_{2} would name both weight x1->h1 and weight x2->h1"),
    # against the target y
    ("    o: y\n", 17, "y would name both the activation of o and the target of o"),
    # against a derived z: h1's activation h_1 gives it z_{h_{1}}
    ("    h1: h_1\n    h2: {z: 'z_{h_1}'}\n", 18, "z_{h_{1}} would name both the pre-activation of h1 "
     "and the pre-activation of h2"),
    # the reserved loss symbol and Euler's number
    ("    h2->o: L\n", 17, "L would name both the loss L and weight h2->o"),
    ("    x2: e\n", 17, "e would name both Euler's number e"),
    # a bias against a weight
    ("    o: {b: w_5}\n", 17, "w_{5} would name both weight h1->o and the bias of o"),
])
def test_duplicate_symbols_are_located_errors(tmp_path: Path, names: str, line: int, fact: str) -> None:
    # lines: 14 notation, 15 parameters, 16 names, 17 the first name
    message = error_of(tmp_path, NET + "notation:\n  parameters: flat\n  names:\n" + names)
    assert f"net.yaml:{line}: notation.names." in message
    assert fact in message
    assert "every symbol must name one thing" in message


def test_build_network_raises_spec_error_for_duplicates() -> None:
    spec = parse_spec(NET + "notation:\n  names: {h1: q, h2: q}\n", "net.yaml")
    with pytest.raises(SpecError) as caught:
        build_network(spec)
    assert caught.value.problems[0].line == 15
    assert caught.value.problems[0].path == "notation.names.h2"


def test_every_problem_in_notation_is_reported_at_once(tmp_path: Path) -> None:
    message = error_of(tmp_path, NET + "notation:\n  units: none\n  names:\n    h1: \\input{x}\n"
                                       "    h9: h\n")
    assert "3 problems in the spec" in message
    assert "net.yaml:15: notation.units" in message
    assert "net.yaml:17: notation.names.h1" in message
    assert "net.yaml:18: notation.names.h9" in message


# --- exams and renderers -----------------------------------------------------------------


def test_an_exam_variant_keeps_the_notation() -> None:
    """derive exam writes each variant's spec.yaml: solved again, it must name things alike."""
    text = (PROBLEMS / "q2-exam.yaml").read_text(encoding="utf-8")
    text += "notation:\n  parameters: flat\n  index_order: to-from\n  names:\n    o: {a: '\\hat{y}', y: t}\n    x1->h1: v\n"
    template = parse_spec(text, "q2-exam.yaml")
    variant = parse_spec(spec_yaml(instantiate(template, random.Random(1))), "variant.yaml")
    strip = lambda n: n._replace(names=tuple(s._replace(line=None, path="") for s in n.names))  # noqa: E731
    assert strip(variant.notation) == strip(template.notation)
    assert build_network(variant).target_symbols == (("o", "t"),)


def test_custom_symbols_render_in_katex_mathjax_and_latex(tmp_path: Path) -> None:
    from renderers import check_math, compile_tex, math_fragments, require

    spec = NET + ("notation:\n  parameters: flat\n  names:\n    x1: \\tilde{x}_1\n    h1: h'\n"
                  "    h2: {a: '\\bar{h}_{2}^{k}', z: \"z''\"}\n    o: {a: '\\hat{y}', y: 'y_{true}'}\n")
    solution = solve(write(tmp_path, spec))
    require("node")
    for kind in ("solution", "worksheet"):
        assert check_math(math_fragments(render(solution, "md", 4, kind))) == []
    require("latexmk")
    _, log = compile_tex(render(solution, "tex"), tmp_path)
    assert "\n! " not in log
