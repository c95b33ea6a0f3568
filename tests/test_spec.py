"""derive.spec: every problem found in one pass, each with file, line and key path.

Each bad spec is the canonical form of DESIGN.md with one small edit. The expected line
numbers were counted by hand from CANONICAL below (line 1 is `title:`), not copied from
the program's output.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from canonical import CANONICAL, VALID_ACTIVATIONS, VALID_LOSSES

ROOT = Path(__file__).resolve().parent.parent

from derive.errors import DeriveError, SpecError
from derive.spec import (
    ACTIVATIONS,
    LOSSES,
    MAX_SPEC_BYTES,
    Activation,
    LayerSpec,
    NeuronSpec,
    Spec,
    load_spec,
    parse_spec,
)

# Line numbers of CANONICAL are listed in canonical.py.

def edit(old: str, new: str, text: str = CANONICAL) -> str:
    """CANONICAL with one exact, unique piece replaced: the edit is visible in the test."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def problems(text: str) -> list[str]:
    """Every problem parse_spec reports for `text`, as printed."""
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "q2.yaml")
    return [str(problem) for problem in caught.value.problems]


def only_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def find(found: list[str], prefix: str) -> str:
    """The one problem starting with `prefix` (file:line: key.path:)."""
    matches = [p for p in found if p.startswith(prefix)]
    assert len(matches) == 1, (prefix, found)
    return matches[0]


# --- the canonical form --------------------------------------------------------------


def test_canonical_form_parses_with_the_expected_values():
    spec = parse_spec(CANONICAL, "q2.yaml")
    assert spec == Spec(
        source="q2.yaml",
        title="Question 2",
        inputs=(("x1", 6.0), ("x2", 2.0), ("x3", 5.0)),
        layers=(
            LayerSpec(Activation("relu"), (
                NeuronSpec("h1", 0.01, (("x1", 0.42), ("x2", 0.72), ("x3", 0.21))),
                NeuronSpec("h2", 0.01, (("x1", 0.11), ("x2", 0.30), ("x3", 0.65))),
            )),
            LayerSpec(Activation("sigmoid"), (
                NeuronSpec("g1", 0.05, (("h1", 0.17), ("h2", 0.29))),
                NeuronSpec("g2", 0.05, (("h1", 0.91), ("h2", 0.90))),
            )),
            LayerSpec(Activation("sigmoid"), (
                NeuronSpec("o", 0.08, (("g1", 0.61), ("g2", 0.39))),
            )),
        ),
        targets=(("o", 1.0),),
        loss="half_squared_error",
        learning_rate=0.7,
    )
    # numbers are floats, never bools or YAML-specific types
    assert all(type(value) is float for _, value in spec.inputs)


def test_problems_q2_is_the_canonical_form():
    from dataclasses import replace

    spec = load_spec(ROOT / "problems" / "q2.yaml")
    assert replace(spec, source="q2.yaml") == parse_spec(CANONICAL, "q2.yaml")


def test_title_is_optional():
    spec = parse_spec(edit('title: "Question 2"\n', ""), "q2.yaml")
    assert spec.title  # a default heading


def test_scientific_notation_is_a_number():
    # PyYAML (YAML 1.1) alone would read 7e-1 as the text '7e-1'
    spec = parse_spec(edit("learning_rate: 0.7", "learning_rate: 7e-1"), "q2.yaml")
    assert spec.learning_rate == 0.7


def test_leaky_relu_gets_a_default_slope():
    spec = parse_spec(edit("activation: relu", "activation: leaky_relu"), "q2.yaml")
    assert spec.layers[0].activation.name == "leaky_relu"
    assert spec.layers[0].activation.slope is not None


def test_spec_error_is_a_derive_error_with_exit_code_2():
    with pytest.raises(SpecError) as caught:
        parse_spec("", "q2.yaml")
    assert isinstance(caught.value, DeriveError)
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith("q2.yaml:1: ")


def test_constants_match_the_design():
    assert ", ".join(ACTIVATIONS) == VALID_ACTIVATIONS
    assert ", ".join(LOSSES) == VALID_LOSSES


# --- the issue's example, exactly ----------------------------------------------------


def test_unknown_neuron_is_reported_as_in_the_issue():
    text = edit("g1: {bias: 0.05, weights: {h1: 0.17", "g1: {bias: 0.05, weights: {h3: 0.17")
    assert only_problem(text) == (
        "q2.yaml:10: layers[1].neurons.g1.weights: unknown neuron 'h3' (known: x1, x2, x3, h1, h2)")


# --- one pass: every independent problem in one SpecError ----------------------------


def test_several_independent_errors_are_all_reported_in_one_pass():
    text = CANONICAL
    text = edit("x2: 2,", "x2: two,", text)                              # line 2
    text = edit("activation: relu", "activation: rectifier", text)      # line 4
    text = edit("weights: {h1: 0.17", "weights: {h3: 0.17", text)        # line 10
    text = edit("loss: half_squared_error", "loss: hinge", text)        # line 16
    text = edit("learning_rate: 0.7\n", "learning_rate: -0.7\nmomentum: 0.9\n", text)  # 17, 18
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "q2.yaml")
    found = [str(p) for p in caught.value.problems]
    assert len(found) == 6, found
    find(found, "q2.yaml:2: inputs.x2: expected a number")
    find(found, "q2.yaml:4: layers[0].activation: unknown activation 'rectifier'")
    find(found, "q2.yaml:10: layers[1].neurons.g1.weights: unknown neuron 'h3'")
    find(found, "q2.yaml:16: loss: unknown loss 'hinge'")
    find(found, "q2.yaml:17: learning_rate: must be greater than 0")
    find(found, "q2.yaml:18: momentum: unknown key")
    # in file order, and all in the one message
    assert [p.line for p in caught.value.problems] == [2, 4, 10, 16, 17, 18]
    assert str(caught.value).startswith("6 problems in the spec:\n")
    for problem in found:
        assert problem in str(caught.value)


def test_a_bad_input_value_is_reported_once_not_at_every_weight():
    # x1 is still a named input; its weights must not be "unknown neuron 'x1'"
    assert only_problem(edit("x1: 6,", "x1: six,")).startswith("q2.yaml:2: inputs.x1: ")


def test_a_mistake_in_the_output_layer_does_not_disown_its_targets():
    # o is still the output neuron; targets: {o: 1} must not be "not an output neuron"
    text = edit("o: {bias: 0.08", "o: {bias: abc")
    assert only_problem(text).startswith("q2.yaml:14: layers[2].neurons.o.bias: ")


def test_a_malformed_neuron_name_is_reported_once():
    text = edit("h2: {bias: 0.01", "h-2: {bias: 0.01")
    text = edit("{h1: 0.17, h2: 0.29}", "{h1: 0.17, h-2: 0.29}", text)
    text = edit("{h1: 0.91, h2: 0.90}", "{h1: 0.91, h-2: 0.90}", text)
    message = only_problem(text)
    assert message.startswith("q2.yaml:7: layers[0].neurons.h-2: names must start with a letter")
    # g2 still names h2, which no longer exists: that one is a real second problem
    text = edit("h2: {bias: 0.01", "h-2: {bias: 0.01")
    found = problems(text)
    find(found, "q2.yaml:7: layers[0].neurons.h-2: names must start with a letter")
    find(found, "q2.yaml:10: layers[1].neurons.g1.weights: unknown neuron 'h2' (known: x1, x2, x3, h1, h-2)")
    find(found, "q2.yaml:11: layers[1].neurons.g2.weights: unknown neuron 'h2'")


# --- YAML syntax ---------------------------------------------------------------------


def test_yaml_syntax_error_has_its_line():
    text = edit("learning_rate: 0.7", "learning_rate: 0.7: 1")
    message = only_problem(text)
    assert message.startswith("q2.yaml:17: YAML syntax error: ")
    assert "mapping values are not allowed here" in message


def test_unclosed_flow_sequence_points_at_the_end_of_the_file():
    text = edit("learning_rate: 0.7", "learning_rate: [0.7")
    assert only_problem(text).startswith("q2.yaml:18: YAML syntax error: ")


def test_tab_indentation_is_a_yaml_syntax_error():
    text = edit("  - activation: relu", "\t- activation: relu")
    assert only_problem(text).startswith("q2.yaml:4: YAML syntax error: ")


def test_control_character_is_reported_with_its_line():
    text = edit("x2: 2,", "x2: 2\x00,")
    message = only_problem(text)
    assert message.startswith("q2.yaml:2: YAML error: ")
    assert "U+0000" in message


def test_two_documents_are_a_syntax_error():
    message = only_problem(CANONICAL + "---\ntitle: again\n")
    assert message.startswith("q2.yaml:18: YAML syntax error: ")
    assert "single document" in message


# --- the whole file has the wrong shape ----------------------------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(text):
    message = only_problem(text)
    assert message.startswith("q2.yaml:1: the file is empty")
    assert "inputs, layers, targets, loss, learning_rate" in message


def test_file_that_is_a_list():
    assert only_problem("- 1\n- 2\n") == "q2.yaml:1: expected a mapping, found a list"


def test_file_that_is_a_scalar():
    assert only_problem("hello\n") == "q2.yaml:1: expected a mapping, found the text 'hello'"
    # the line is where the value is, after the comment
    assert only_problem("# a comment\n42\n") == "q2.yaml:2: expected a mapping, found the number 42"


def test_file_that_is_null():
    assert only_problem("null\n") == "q2.yaml:1: expected a mapping, found nothing (null)"


# --- missing and extra keys ----------------------------------------------------------


def test_missing_top_level_key():
    # the top-level mapping starts on line 1
    assert only_problem(edit("loss: half_squared_error\n", "")) == "q2.yaml:1: loss: missing required key"


def test_missing_neuron_key():
    text = edit("o: {bias: 0.08, weights:", "o: {weights:")
    assert only_problem(text) == "q2.yaml:14: layers[2].neurons.o.bias: missing required key"


def test_missing_layer_key():
    text = edit("  - activation: relu\n    neurons:\n", "  - neurons:\n")
    # the layer mapping now starts on line 4 with `neurons:`
    assert only_problem(text) == "q2.yaml:4: layers[0].activation: missing required key"


def test_extra_top_level_key():
    message = only_problem(CANONICAL + "momentum: 0.9\n")
    assert message.startswith("q2.yaml:18: momentum: unknown key")
    for key in ("inputs", "layers", "targets", "loss", "learning_rate", "title"):
        assert key in message


def test_extra_neuron_key_is_a_typo_not_ignored():
    text = edit("h1: {bias: 0.01,", "h1: {bias: 0.01, bais: 0.02,")
    message = only_problem(text)
    assert message == "q2.yaml:6: layers[0].neurons.h1.bais: unknown key (expected one of: bias, weights)"


def test_extra_layer_key():
    text = edit("  - activation: relu\n", "  - activation: relu\n    dropout: 0.5\n")
    message = only_problem(text)
    assert message.startswith("q2.yaml:5: layers[0].dropout: unknown key")


# --- numbers -------------------------------------------------------------------------


def test_non_numeric_number():
    assert only_problem(edit("x2: 2,", "x2: two,")) == \
        "q2.yaml:2: inputs.x2: expected a number, found the text 'two'"


@pytest.mark.parametrize("written", [".inf", "-.inf", ".nan", ".NaN", "1.0e+999", "1e999"])
def test_non_finite_number(written):
    text = edit("x3: 0.21}", f"x3: {written}}}")
    assert only_problem(text) == \
        f"q2.yaml:6: layers[0].neurons.h1.weights.x3: expected a finite number, found {written}"


def test_huge_integer_is_not_finite_and_no_traceback():
    text = edit("x1: 6,", "x1: " + "9" * 5000 + ",")  # more digits than Python converts by default
    message = only_problem(text)
    assert message.startswith("q2.yaml:2: inputs.x1: expected a finite number, found 999")
    assert len(message) < 200  # the number is cut short in the message


@pytest.mark.parametrize("written", ["true", "false", "yes", "no", "on", "off", "True"])
def test_booleans_are_not_numbers(written):
    text = edit("g1: {bias: 0.05,", f"g1: {{bias: {written},")
    assert only_problem(text) == \
        f"q2.yaml:10: layers[1].neurons.g1.bias: expected a number, found the boolean {written}"


def test_null_is_not_a_number():
    text = edit("learning_rate: 0.7", "learning_rate:")
    assert only_problem(text) == "q2.yaml:17: learning_rate: expected a number, found nothing (null)"


def test_quoted_number_is_text():
    message = only_problem(edit("x1: 6,", 'x1: "6",'))
    assert message.startswith("q2.yaml:2: inputs.x1: expected a number, found the text '6'")
    assert "remove the quotes" in message


@pytest.mark.parametrize("written, read_as", [("010", "8"), ("0x10", "16"), ("1:30", "90"), ("1_0", "10")])
def test_numbers_yaml_reads_differently_are_refused(written, read_as):
    # YAML 1.1 reads 010 as octal 8, 1:30 as 90: a silently different number
    message = only_problem(edit("x1: 6,", f"x1: {written},"))
    assert message.startswith("q2.yaml:2: inputs.x1: write numbers in plain decimal")
    assert f"{written!r}" in message and read_as in message


def test_a_list_is_not_a_number():
    assert only_problem(edit("x1: 6,", "x1: [6],")) == "q2.yaml:2: inputs.x1: expected a number, found a list"


@pytest.mark.parametrize("written", ["0", "-0.7"])
def test_learning_rate_must_be_positive(written):
    text = edit("learning_rate: 0.7", f"learning_rate: {written}")
    assert only_problem(text) == f"q2.yaml:17: learning_rate: must be greater than 0, found {written}"


def test_a_date_is_not_a_number():
    assert only_problem(edit("x1: 6,", "x1: 2024-01-01,")) == (
        "q2.yaml:2: inputs.x1: expected a number, found '2024-01-01' "
        "(which YAML reads as a date; quote it for text)")


def test_an_impossible_date_is_text_not_a_traceback():
    # 2024-02-30 resolves as a timestamp that cannot be built
    assert only_problem(edit("x1: 6,", "x1: 2024-02-30,")) == \
        "q2.yaml:2: inputs.x1: expected a number, found the text '2024-02-30'"


def test_explicit_tag_that_cannot_be_built_is_reported_not_raised():
    assert only_problem(edit("x1: 6,", "x1: !!int abc,")) == \
        "q2.yaml:2: inputs.x1: expected a number, found the text 'abc'"


# --- activations and losses ----------------------------------------------------------


def test_unknown_activation_lists_the_valid_ones():
    assert only_problem(edit("activation: relu", "activation: rectifier")) == (
        f"q2.yaml:4: layers[0].activation: unknown activation 'rectifier' (valid: {VALID_ACTIVATIONS})")


def test_activation_names_are_case_sensitive():
    text = edit("  - activation: sigmoid\n    neurons:\n      o:", "  - activation: Sigmoid\n    neurons:\n      o:")
    assert only_problem(text) == (
        f"q2.yaml:12: layers[2].activation: unknown activation 'Sigmoid' (valid: {VALID_ACTIVATIONS})")


def test_activation_that_is_not_text():
    assert only_problem(edit("activation: relu", "activation: 3")) == \
        "q2.yaml:4: layers[0].activation: expected text, found the number 3"


def test_unknown_loss_lists_the_valid_ones():
    assert only_problem(edit("loss: half_squared_error", "loss: hinge")) == (
        f"q2.yaml:16: loss: unknown loss 'hinge' (valid: {VALID_LOSSES})")


# --- references between neurons ------------------------------------------------------


def test_reference_to_a_later_layer():
    text = edit("h1: {bias: 0.01, weights: {x1: 0.42", "h1: {bias: 0.01, weights: {g1: 0.42")
    message = only_problem(text)
    assert message.startswith("q2.yaml:6: layers[0].neurons.h1.weights: 'g1' is a neuron of layers[1], "
                              "a later layer")
    assert "earlier layers" in message


def test_reference_to_the_output_from_the_first_layer():
    text = edit("h2: {bias: 0.01, weights: {x1: 0.11", "h2: {bias: 0.01, weights: {o: 0.11")
    assert only_problem(text).startswith(
        "q2.yaml:7: layers[0].neurons.h2.weights: 'o' is a neuron of layers[2], a later layer")


@pytest.mark.parametrize("source", ["g1", "g2"])  # an earlier and a later neuron of the same layer
def test_reference_within_the_same_layer(source):
    text = edit("g2: {bias: 0.05, weights: {h1: 0.91", f"g2: {{bias: 0.05, weights: {{{source}: 0.91")
    assert only_problem(text).startswith(
        f"q2.yaml:11: layers[1].neurons.g2.weights: '{source}' is a neuron of the same layer")


def test_skip_connection_to_an_input_is_allowed():
    spec = parse_spec(edit("{g1: 0.61, g2: 0.39}", "{g1: 0.61, g2: 0.39, x1: 0.5}"), "q2.yaml")
    assert spec.layers[2].neurons[0].weights[-1] == ("x1", 0.5)


def test_neuron_without_weights():
    text = edit("o: {bias: 0.08, weights: {g1: 0.61, g2: 0.39}}", "o: {bias: 0.08, weights: {}}")
    assert only_problem(text) == "q2.yaml:14: layers[2].neurons.o.weights: a neuron needs at least one weight"


# --- duplicates ----------------------------------------------------------------------


def test_duplicate_neuron_name_across_layers():
    text = edit("g2: {bias: 0.05", "h2: {bias: 0.05")
    found = problems(text)
    assert find(found, "q2.yaml:11: layers[1].neurons.h2: ") == \
        "q2.yaml:11: layers[1].neurons.h2: duplicate name: 'h2' is already a neuron of layers[0]"
    # and o's weight from g2, which is gone, is reported too
    find(found, "q2.yaml:14: layers[2].neurons.o.weights: unknown neuron 'g2'")


def test_neuron_named_like_an_input():
    text = edit("o: {bias", "x1: {bias")
    text = edit("targets: {o: 1}", "targets: {x1: 1}", text)
    found = problems(text)
    assert find(found, "q2.yaml:14: layers[2].neurons.x1: ") == \
        "q2.yaml:14: layers[2].neurons.x1: duplicate name: 'x1' is already an input"


def test_duplicate_neuron_key_in_one_layer_is_an_error_not_last_one_wins():
    text = edit("g2: {bias: 0.05", "g1: {bias: 0.05")
    found = problems(text)
    assert find(found, "q2.yaml:11: layers[1].neurons.g1: ") == \
        "q2.yaml:11: layers[1].neurons.g1: duplicate key (first given on line 10)"


def test_duplicate_top_level_key():
    assert only_problem(CANONICAL + "loss: squared_error\n") == \
        "q2.yaml:18: loss: duplicate key (first given on line 16)"


def test_duplicate_key_in_a_flow_mapping():
    assert only_problem(edit("x3: 5}", "x3: 5, x2: 3}")) == \
        "q2.yaml:2: inputs.x2: duplicate key (first given on line 2)"


def test_duplicate_weight():
    text = edit("{g1: 0.61, g2: 0.39}", "{g1: 0.61, g2: 0.39, g1: 0.5}")
    assert only_problem(text) == "q2.yaml:14: layers[2].neurons.o.weights.g1: duplicate key (first given on line 14)"


# --- names ---------------------------------------------------------------------------


def test_input_name_must_be_an_identifier():
    text = edit("x3: 5}", "x3: 5, 3x: 1}")
    assert only_problem(text).startswith("q2.yaml:2: inputs.3x: names must start with a letter")


def test_keys_must_be_text():
    assert only_problem(edit("x3: 5}", "x3: 5, 4: 1}")) == \
        "q2.yaml:2: inputs: keys must be names, found the number 4"


# --- targets -------------------------------------------------------------------------


def test_target_that_is_a_hidden_neuron():
    assert only_problem(edit("targets: {o: 1}", "targets: {g1: 1}")) == \
        "q2.yaml:15: targets.g1: 'g1' is not an output neuron (outputs: o)"


def test_target_that_is_an_input():
    assert only_problem(edit("targets: {o: 1}", "targets: {o: 1, x1: 0}")) == \
        "q2.yaml:15: targets.x1: 'x1' is not an output neuron (outputs: o)"


def test_target_that_does_not_exist():
    assert only_problem(edit("targets: {o: 1}", "targets: {out: 1}")) == \
        "q2.yaml:15: targets.out: 'out' is not an output neuron (outputs: o)"


def test_no_targets():
    assert only_problem(edit("targets: {o: 1}", "targets: {}")) == \
        "q2.yaml:15: targets: expected at least one target"


def test_cross_entropy_targets_between_0_and_1():
    text = edit("targets: {o: 1}", "targets: {o: 2}")
    text = edit("loss: half_squared_error", "loss: binary_cross_entropy", text)
    assert only_problem(text) == \
        "q2.yaml:15: targets.o: binary_cross_entropy needs targets between 0 and 1, found 2"


# --- layers --------------------------------------------------------------------------


def test_layer_with_no_neurons():
    text = edit("      g2: {bias: 0.05, weights: {h1: 0.91, h2: 0.90}}\n",
                "      g2: {bias: 0.05, weights: {h1: 0.91, h2: 0.90}}\n"
                "  - activation: tanh\n"
                "    neurons: {}\n")
    # the new layer is layers[2]; its neurons are on line 13
    assert only_problem(text) == "q2.yaml:13: layers[2].neurons: a layer needs at least one neuron"


def test_layer_with_neurons_left_empty():
    text = edit("      g2: {bias: 0.05, weights: {h1: 0.91, h2: 0.90}}\n",
                "      g2: {bias: 0.05, weights: {h1: 0.91, h2: 0.90}}\n"
                "  - activation: tanh\n"
                "    neurons:\n")
    # `neurons:` with nothing: the null value sits on line 13, where the key is
    assert only_problem(text) == "q2.yaml:13: layers[2].neurons: a layer needs at least one neuron"


def test_no_layers():
    text = CANONICAL.split("layers:\n")[0] + "layers: []\n" + "targets:" + CANONICAL.split("targets:")[1]
    # layers: [] is line 3; targets cannot be checked against a missing output layer
    assert only_problem(text) == "q2.yaml:3: layers: expected at least one layer"


def test_layers_not_a_list():
    text = CANONICAL.split("layers:\n")[0] + "layers: relu\n" + "targets:" + CANONICAL.split("targets:")[1]
    assert only_problem(text) == "q2.yaml:3: layers: expected a list of layers, found the text 'relu'"


# --- spec text is data -------------------------------------------------------------


def test_python_tags_do_not_run_code(tmp_path):
    marker = tmp_path / "ran"
    text = edit('title: "Question 2"', f'title: !!python/object/apply:os.system ["touch {marker}"]')
    assert only_problem(text) == "q2.yaml:1: title: expected text, found a list"
    assert not marker.exists()
    text = edit("x1: 6,", "x1: !!python/name:os.system ,")
    assert only_problem(text).startswith("q2.yaml:2: inputs.x1: expected a number")


def test_an_arithmetic_expression_is_text_not_evaluated():
    assert only_problem(edit("x1: 6,", "x1: 2*3,")) == \
        "q2.yaml:2: inputs.x1: expected a number, found the text '2*3'"
    assert only_problem(edit("learning_rate: 0.7", "learning_rate: exp(1)")) == \
        "q2.yaml:17: learning_rate: expected a number, found the text 'exp(1)'"


def test_merge_keys_are_refused():
    text = edit("h2: {bias: 0.01,", "h2: {<<: {bias: 0.01},")
    found = problems(text)
    find(found, "q2.yaml:7: layers[0].neurons.h2: YAML merge keys (<<) are not supported")


def test_aliases_are_plain_data():
    text = edit("inputs: {x1: 6, x2: 2, x3: 5}", "inputs: {x1: &six 6, x2: 2, x3: *six}")
    assert parse_spec(text, "q2.yaml").inputs == (("x1", 6.0), ("x2", 2.0), ("x3", 6.0))


def test_many_aliases_do_not_blow_up():
    # a "billion laughs" document: refused at the alias where the repetition passes the
    # limit (10 nodes, then 10 aliases of 10, ... : *a2 stands for more than 10000)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    text = "\n".join(lines) + "\n" + CANONICAL
    found = problems(text)
    assert any(p.startswith("q2.yaml:4: a3[7]: YAML aliases repeat too much") for p in found), found


def test_deep_nesting_is_an_error_not_a_crash():
    assert only_problem("[" * 100_000 + "]" * 100_000).startswith(
        "q2.yaml:1: [0][0][0][0][0][0][0][0]...: YAML nesting is too deep: more than 20 levels")


def test_spec_module_never_evaluates_text():
    for path in sorted((ROOT / "derive" / "spec").glob("*.py")):
        source = path.read_text()
        for forbidden in ("eval(", "exec(", "sympify", "yaml.load(", "unsafe_load", "full_load",
                          "FullLoader", "UnsafeLoader", "Loader=yaml.Loader"):
            assert forbidden not in source, (path.name, forbidden)


# --- files ---------------------------------------------------------------------------


def test_load_spec_reads_a_file(tmp_path):
    path = tmp_path / "q2.yaml"
    path.write_text(CANONICAL, encoding="utf-8")
    assert load_spec(path) == parse_spec(CANONICAL, str(path))


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value.problems[0]).startswith(f"{path}: cannot read file")
    assert "No such file" in str(caught.value)


def test_directory_as_spec(tmp_path):
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path)
    assert str(caught.value.problems[0]).startswith(f"{tmp_path}: cannot read file")


def test_non_utf8_file(tmp_path):
    path = tmp_path / "q2.yaml"
    # Latin-1 é in the title on line 1
    path.write_bytes(CANONICAL.replace('"Question 2"', '"Qu\xe9stion 2"').encode("latin-1"))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value.problems[0])
    assert message.startswith(f"{path}:1: not UTF-8 text")
    assert "0xe9" in message


def test_non_utf8_byte_later_in_the_file(tmp_path):
    path = tmp_path / "q2.yaml"
    path.write_bytes(edit("loss: half_squared_error", "loss: half_squared_error # \xff").encode("latin-1"))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value.problems[0]).startswith(f"{path}:16: not UTF-8 text")


def test_utf16_file_is_not_utf8(tmp_path):
    path = tmp_path / "q2.yaml"
    path.write_bytes(CANONICAL.encode("utf-16"))
    with pytest.raises(SpecError, match="not UTF-8 text"):
        load_spec(path)


def test_utf8_with_bom_is_fine(tmp_path):
    path = tmp_path / "q2.yaml"
    path.write_bytes(CANONICAL.encode("utf-8-sig"))
    assert load_spec(path).title == "Question 2"


def test_too_large_file(tmp_path):
    path = tmp_path / "q2.yaml"
    path.write_bytes(CANONICAL.encode() + b"#" * MAX_SPEC_BYTES)
    with pytest.raises(SpecError, match="limit"):
        load_spec(path)
