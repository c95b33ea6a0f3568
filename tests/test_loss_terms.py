"""Per-output loss terms, notation.loss_terms (issue 13, item 6; seed 000).

With two or more outputs, L = L_1 + L_2 + ..., L_k the loss term of output k, and a
gradient reached through several outputs is written dL/dw = dL_1/dw + dL_2/dw, each
dL_k/dw the chain through output k. Checked here against an oracle written in this file:
each L_k composed with SymPy from the spec as yaml.safe_load reads it (the network's
forward pass as one expression per output), differentiated with sympy.diff for every
parameter; the seed page's own products for the hidden weight w_11^(1) (-0.567093 x
0.24549853 x 0.1, 0.608259 x 0.23827999 x (-0.3)); the printed terms adding to the
printed sum, read back from the Markdown; the line checker (tests/linecheck.py) on random
networks under both rounding policies; and the spec errors. The problem-wide tests
(goldens, KaTeX/MathJax, pdflatex, line checks) run on problems/seed000_loss_terms.yaml
as on every problem.
"""
from __future__ import annotations

import json
import random
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sympy
import yaml
from click.testing import CliRunner

from cli import main
from derive.api import solve
from derive.schema import schema
from linecheck import check_markdown, spec_numbers

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "problems" / "seed000_loss_terms.yaml"
DEAD_RELU = ROOT / "problems" / "seed000_dead_relu.yaml"  # the same network without the key


# --- the oracle: each L_k composed and differentiated by SymPy --------------------------

def act(name: str, z: sympy.Expr) -> sympy.Expr:
    """An elementwise activation of z (softmax is done over the layer in `outputs`)."""
    if name == "sigmoid":
        return 1 / (1 + sympy.exp(-z))
    if name == "tanh":
        return sympy.tanh(z)
    if name == "relu":
        return sympy.Piecewise((z, z > 0), (0, True))
    if name == "linear":
        return z
    raise ValueError(name)


def composed(spec: dict[str, Any]) -> tuple[dict[str, sympy.Expr], dict[tuple[str, ...], sympy.Symbol]]:
    """Each neuron's output as one expression in the parameters (inputs as numbers), and
    the parameter symbols by key: ("weight", source, neuron) or ("bias", neuron)."""
    values: dict[str, sympy.Expr] = {name: sympy.nsimplify(v) for name, v in spec["inputs"].items()}
    params: dict[tuple[str, ...], sympy.Symbol] = {}
    for number, layer in enumerate(spec["layers"]):
        zs = {}
        for neuron, body in layer["neurons"].items():
            b = params[("bias", neuron)] = sympy.Symbol(f"b_{neuron}")
            terms = []
            for source in body["weights"]:
                w = params[("weight", source, neuron)] = sympy.Symbol(f"w_{source}_{neuron}")
                terms.append(w * values[source])
            zs[neuron] = sympy.Add(*terms) + b
        if layer["activation"] == "softmax":
            denominator = sympy.Add(*[sympy.exp(z) for z in zs.values()])
            values.update({n: sympy.exp(z) / denominator for n, z in zs.items()})
        else:
            values.update({n: act(layer["activation"], z) for n, z in zs.items()})
    return values, params


def loss_term(kind: str, a: sympy.Expr, y: Any, outputs: int) -> sympy.Expr:
    """L_k: the part of the loss that belongs to one output (the seed's L1, L2)."""
    y = sympy.nsimplify(y)
    if kind == "half_squared_error":
        return sympy.Rational(1, 2) * (a - y) ** 2
    if kind == "squared_error":
        return (a - y) ** 2
    if kind == "mean_squared_error":
        return (a - y) ** 2 / outputs
    if kind == "binary_cross_entropy":
        return -(y * sympy.log(a) + (1 - y) * sympy.log(1 - a))
    if kind == "cross_entropy":
        return -y * sympy.log(a)
    raise ValueError(kind)


def oracle(spec: dict[str, Any]) -> tuple[list[float], dict[tuple[str, ...], list[float]]]:
    """(L_k per output, and for each parameter dL_k/dw per output), in target order."""
    outputs, params = composed(spec)
    at = {symbol: sympy.nsimplify(value_of(spec, key)) for key, symbol in params.items()}
    targets = spec["targets"]
    terms = [loss_term(spec["loss"], outputs[name], y, len(targets)) for name, y in targets.items()]
    losses = [float(term.xreplace(at).evalf(30)) for term in terms]
    gradients = {key: [float(sympy.diff(term, symbol).xreplace(at).evalf(30)) for term in terms]
                 for key, symbol in params.items()}
    return losses, gradients


def value_of(spec: dict[str, Any], key: tuple[str, ...]) -> float:
    for layer in spec["layers"]:
        for neuron, body in layer["neurons"].items():
            if key == ("bias", neuron):
                return body["bias"]
            if key[0] == "weight" and key[2] == neuron:
                return body["weights"][key[1]]
    raise KeyError(key)


def parameter_key(key: str) -> tuple[str, ...]:
    """derive's parameter key ("x1->h1", "b:h1") as the oracle's."""
    if "->" in key:
        source, neuron = key.split("->")
        return ("weight", source, neuron)
    return ("bias", key.split(":")[-1])


def blocks(solution: Any) -> list[Any]:
    return [block for layer in solution.steps[0].backward for block in layer.gradients]


# --- the seed problem -----------------------------------------------------------------

def test_every_term_of_the_seed_problem_is_the_derivative_of_its_loss_term() -> None:
    spec = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    losses, gradients = oracle(spec)
    solution = solve(SEED)
    step = solution.steps[0]
    assert [str(t.symbol) for t in step.loss_terms.terms] == ["L_{1}", "L_{2}"]
    for term, expected in zip(step.loss_terms.terms, losses):
        assert float(term.value) == pytest.approx(expected, rel=1e-12)
    assert float(step.loss.value) == pytest.approx(sum(losses), rel=1e-12)
    checked = 0
    for block in blocks(solution):
        expected = gradients[parameter_key(block.key)]
        neuron = parameter_key(block.key)[-1]
        numbers = [int(str(term.partial.num)[3:-1]) for term in block.split.terms]  # L_{k}
        # an output's weight or bias reaches its own term only (the seed: dL/dw = dL1/dw = ...);
        # a hidden one reaches both outputs
        assert numbers == ([int(neuron[1])] if neuron.startswith("o") else [1, 2]), block.key
        for k, term in zip(numbers, block.split.terms):
            assert float(term.value) == pytest.approx(expected[k - 1], rel=1e-12, abs=1e-15)
            checked += 1
        assert float(block.value) == pytest.approx(sum(expected), rel=1e-12, abs=1e-15)
    assert checked == 8 + 12 * 2  # 8 output-layer parameters with one term, 12 hidden with two


def test_the_seed_page_products_for_w11() -> None:
    """Seed 000 works dL/dw for the weight x1 -> h1 as (-0.567093)(0.24549853)(0.1)(1)(1)
    through o1 plus (0.608259)(0.23827999)(-0.3)(1)(1) through o2; its factors are right."""
    split = next(b for b in blocks(solve(SEED)) if b.key == "x1->h1").split
    first, second = (float(term.value) for term in split.terms)
    assert first == pytest.approx(-0.567093 * 0.24549853 * 0.1, rel=1e-5)
    assert second == pytest.approx(0.608259 * 0.23827999 * -0.3, rel=1e-5)


def markdown(path: Path, *options: str) -> str:
    result = CliRunner().invoke(main, ["solve", str(path), "-f", "md", *options])
    assert result.exit_code == 0, result.output
    return result.stdout


def shown_number(text: str) -> Fraction:
    """A number as the key prints it: 0.1608, \\left(-0.0139\\right), 1.7 \\times 10^{-5}."""
    text = text.replace(r"\left(", "").replace(r"\right)", "").strip()
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)(?: \\times 10\^\{(-?\d+)\})?", text)
    assert match, text
    value = Fraction(match.group(1))
    return value * Fraction(10) ** int(match.group(2)) if match.group(2) else value


def unit(text: str) -> Fraction:
    digits = text.replace(r"\left(", "").replace(r"\right)", "").strip()
    places = len(digits.split(".")[1]) if "." in digits else 0
    return Fraction(1, 10 ** places)


def test_the_printed_terms_add_up_to_the_printed_gradient() -> None:
    """Read back from the Markdown: each gradient of two terms shows dL_1/dw = ... = v_1,
    dL_2/dw = ... = v_2, and dL/dw = v_1 + v_2 = total, where v_1 + v_2 is the total to
    within its last digit and each v_k is the oracle's dL_k/dw as shown."""
    text = markdown(SEED)
    spec = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    _, gradients = oracle(spec)
    sections = re.split(r"\n#### ", text)[1:]
    parameters = blocks(solve(SEED))
    seen = 0
    for section in sections:
        if "(2 paths)" not in section.splitlines()[0]:
            continue
        math = section.split("$$")[1].replace(r"\begin{aligned}", "").replace(r"\end{aligned}", "")
        rows = [row.strip() for row in math.split(r"\\")]
        # each term's value: the row ending its working, just before the next term or the sum
        starts = [i for i, row in enumerate(rows) if row.startswith(r"\frac{\partial L")]
        assert len(starts) == 4, math  # dL/dw = dL1 + dL2; dL1/dw; dL2/dw; dL/dw = sum
        values = [rows[i - 1].removeprefix("&=").strip() for i in starts[2:]]
        total_row = rows[starts[3]].split("&=")[1]
        shown_terms = [t.strip() for t in total_row.split(" + ")]
        assert [shown_number(v) for v in values] == [shown_number(t) for t in shown_terms]
        result = rows[starts[3] + 1].removeprefix("&=").strip()
        total = sum(shown_number(t) for t in shown_terms)
        assert abs(total - shown_number(result)) <= unit(result)
        seen += 1
        # the shown term values are the oracle's, rounded to their shown digits
        heading = section.splitlines()[0]
        parameter = next(b for b in parameters if f"${b.symbol}$" in heading)
        for shown, exact in zip(values, gradients[parameter_key(parameter.key)]):
            assert abs(shown_number(shown) - Fraction(exact)) <= unit(shown) / 2 + Fraction(1, 10**12)
    assert seen == 12  # every hidden-layer weight and bias


def test_the_loss_section_writes_each_term() -> None:
    text = markdown(SEED)
    loss = text.split("## 2. Loss")[1].split("## 3.")[0]
    assert r"L &= L_{1} + L_{2} \\" in loss
    assert r"L_{1} &= \frac{\left(a_{1}^{(2)} - y_{1}\right)^{2}}{2} \\" in loss
    # 1/2 (0.4329 - 1)^2 = 0.1608 and 1/2 (0.6083 - 0)^2 = 0.1850, by hand: their sum 0.3458
    assert r"= 0.1608 \\" in loss and r"= 0.1850 \\" in loss
    assert r"L &= 0.1608 + 0.1850 \\" in loss and r"&= 0.3458 && \text{(2)}" in loss


def test_the_local_derivative_at_an_output_is_written_for_its_term() -> None:
    text = markdown(SEED)
    assert r"\frac{\partial L_{1}}{\partial a_{1}^{(2)}} &= a_{1}^{(2)} - y_{1}" in text
    assert r"\frac{\partial L_{2}}{\partial a_{2}^{(2)}} &= a_{2}^{(2)} - y_{2}" in text
    assert r"\frac{\partial L}{\partial a_{1}^{(2)}}" not in text


def test_nothing_else_changes() -> None:
    """The JSON key is the same as without the option (only the notation differs), and
    the same network without the key prints no loss term."""
    plain = json.loads(CliRunner().invoke(main, ["solve", str(DEAD_RELU), "-f", "json"]).stdout)
    split = json.loads(CliRunner().invoke(main, ["solve", str(SEED), "-f", "json"]).stdout)
    plain.pop("title"), split.pop("title")
    assert plain == split
    assert "L_{1}" not in markdown(DEAD_RELU)


# --- random networks: the oracle and the line checker ----------------------------------

def random_spec(seed: int) -> str:
    """A dense network with two or three outputs, one or two hidden layers, and a loss
    that suits its outputs; teacher-like values (two decimals) or random ones."""
    rng = random.Random(seed)
    value = (lambda: round(rng.uniform(-1, 1), 2)) if seed % 2 else (lambda: round(rng.uniform(-1, 1), 6))
    inputs = {f"x{i}": value() for i in range(1, rng.randint(2, 3) + 1)}
    hidden = [rng.choice(["sigmoid", "tanh", "relu"]) for _ in range(rng.randint(1, 2))]
    output, loss = rng.choice([("sigmoid", "half_squared_error"), ("sigmoid", "binary_cross_entropy"),
                               ("linear", "mean_squared_error"), ("linear", "squared_error"),
                               ("softmax", "cross_entropy")])
    widths = [rng.randint(2, 3) for _ in hidden] + [rng.randint(2, 3)]
    lines = [f'title: "random {seed}"', "inputs: " + flow(inputs), "layers:"]
    previous = list(inputs)
    for number, (activation, width) in enumerate(zip(hidden + [output], widths)):
        names = [f"{'o' if number == len(hidden) else 'h' + str(number + 1) + '_'}{j}" for j in range(1, width + 1)]
        lines += [f"  - activation: {activation}", "    neurons:"]
        lines += [f"      {n}: {{bias: {value()}, weights: {flow({p: value() for p in previous})}}}" for n in names]
        previous = names
    if output == "softmax":
        targets = {n: 0 for n in previous}
        targets[rng.choice(previous)] = 1
    elif loss == "binary_cross_entropy":
        targets = {n: rng.choice([0, 1, 0.25]) for n in previous}
    else:
        targets = {n: value() for n in previous}
    lines += ["targets: " + flow(targets), f"loss: {loss}", "learning_rate: 0.1",
              "notation:", "  loss_terms: true", ""]
    return "\n".join(lines)


def flow(mapping: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in mapping.items()) + "}"


RANDOM = range(1, 13)


@pytest.mark.parametrize("seed", RANDOM)
def test_random_networks_against_the_oracle(seed: int, tmp_path: Path) -> None:
    text = random_spec(seed)
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    spec = yaml.safe_load(text)
    losses, gradients = oracle(spec)
    solution = solve(path, options=_paths())
    step = solution.steps[0]
    for term, expected in zip(step.loss_terms.terms, losses):
        assert float(term.value) == pytest.approx(expected, rel=1e-9, abs=1e-14)
    for block in blocks(solution):
        expected = gradients[parameter_key(block.key)]
        for term in block.split.terms:
            k = int(str(term.partial.num)[3:-1]) - 1
            assert float(term.value) == pytest.approx(expected[k], rel=1e-9, abs=1e-14), block.key
            # every path of dL_k/dw starts at output k's term
            assert all(str(path.chain[0].num) == str(term.partial.num) for path in term.paths)
        # the outputs with no term are those no path reaches: their dL_k/dw is 0
        named = {int(str(t.partial.num)[3:-1]) - 1 for t in block.split.terms}
        assert all(expected[k] == pytest.approx(0, abs=1e-15) for k in range(len(expected)) if k not in named)


def _paths() -> Any:
    from derive.forms import Options
    return Options(form="paths")


@pytest.mark.parametrize("policy", ["exact", "by-hand"])
@pytest.mark.parametrize("seed", RANDOM)
def test_random_keys_recompute_line_by_line(seed: int, policy: str, tmp_path: Path) -> None:
    text = random_spec(seed)
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    key = markdown(path, "--form", "paths", "--rounding", policy)
    assert "L_{1}" in key
    report = check_markdown(key, policy, spec_numbers(text))
    assert report.checks and not report.unparsed and not report.failures, report.message(10)


# --- what is refused -------------------------------------------------------------------

def refused(text: str, tmp_path: Path) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["solve", str(path), "-f", "md"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


def seed_with(old: str, new: str) -> str:
    text = SEED.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new)


def test_one_target_is_refused(tmp_path: Path) -> None:
    message = refused(seed_with("targets: {o1: 1, o2: 0}", "targets: {o1: 1}"), tmp_path)
    assert "bad.yaml:21: notation.loss_terms:" in message
    assert "two or more outputs, found 1" in message


def test_not_a_boolean_is_refused(tmp_path: Path) -> None:
    message = refused(seed_with("loss_terms: true", "loss_terms: split"), tmp_path)
    assert "bad.yaml:21: notation.loss_terms: expected true or false" in message


@pytest.mark.parametrize("letter, symbol", [("L", "L_1"), ("J", "J_{2}")])
def test_a_name_that_is_a_loss_term_is_refused(letter: str, symbol: str, tmp_path: Path) -> None:
    extra = f"  loss: {letter}\n" if letter == "J" else ""
    text = seed_with("  loss_terms: true\n", f"  loss_terms: true\n{extra}  names:\n    h1: {symbol}\n")
    message = refused(text, tmp_path)
    assert "notation.names.h1" in message and "the loss term of o" in message


def test_the_loss_called_j_names_its_terms_j(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    path.write_text(seed_with("  loss_terms: true\n", "  loss_terms: true\n  loss: J\n"), encoding="utf-8")
    text = markdown(path)
    assert r"J &= J_{1} + J_{2} \\" in text
    assert r"\frac{\partial J}{\partial w_{11}^{(1)}} &= \frac{\partial J_{1}}{\partial w_{11}^{(1)}} + " \
           r"\frac{\partial J_{2}}{\partial w_{11}^{(1)}} \\" in text
    assert "L_{1}" not in text


def test_the_schema_knows_the_key() -> None:
    validator = jsonschema.Draft7Validator(schema())
    spec = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    assert not list(validator.iter_errors(spec))
    spec["targets"] = {"o1": 1}
    assert list(validator.iter_errors(spec)), "one target with loss_terms passes the schema"
    spec["targets"] = {"o1": 1, "o2": 0}
    spec["notation"]["loss_terms"] = "yes"
    assert list(validator.iter_errors(spec))


def test_by_hand_terms_that_do_not_add_up_leave_the_loss_whole(tmp_path: Path) -> None:
    """By hand, L_1 and L_2 are each rounded, and their rounded sum can miss L (rounded
    once, from the whole) by a unit: there the sum line is the whole loss's formula with
    its numbers, which gives the shown L; in the exact policy the terms are added."""
    path = tmp_path / "spec.yaml"
    path.write_text(random_spec(5), encoding="utf-8")
    exact, by_hand = (markdown(path, "--rounding", policy).split("## 2. Loss")[1].split("## 3.")[0]
                      for policy in ("exact", "by-hand"))
    terms = [shown_number(t) for t in re.findall(r"= (-?\d+\.\d+) \\\\\n", by_hand)]
    total = re.search(r"&= (-?\d+\.\d+) && \\text\{\(2\)\}", by_hand).group(1)
    assert len(terms) == 2 and sum(terms) != shown_number(total)  # the case this is about
    assert r"L &= - 0 \cdot \log" in by_hand
    assert re.search(r"L &= \d+\.\d+ \+ \d+\.\d+ \\\\", exact)
