"""Named shorthands and factored gradients (issue 13, item 6; seed 004; derive.factored).

The factored gradients of problems/seed004_shorthand.yaml are checked in the test's own
terms: the value against sympy.diff of the network's loss composed here by hand, and the
factored form, read back as SymPy, equal (sympy.expand) to the sum of the path products
written out here. Random networks of the same shape, and wider ones (three middles per
gradient, one row each), are checked against tests/oracle.py and the line checker; a
spec asking for the factored form with the delta form is refused with its line.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import sympy
import yaml
from click.testing import CliRunner

import oracle
from cli import main
from derive.api import solve
from derive.checkable import Operand
from derive.latex import tex
from derive.mathnodes import Applied
from linecheck import check_markdown, spec_numbers
from renderers import check_math, compile_tex, math_fragments, overfull_boxes

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = ROOT / "problems" / "seed004_shorthand.yaml"

# --- the seed's network, composed here ----------------------------------------------------

x, y = sympy.symbols("x y")
w1, w2, w3, w4, w5, w6, w7, w8 = sympy.symbols("w1:9")
b1, b2, b3, b4, b5 = sympy.symbols("b1:6")


def relu(z: sympy.Expr) -> sympy.Expr:
    return sympy.Piecewise((z, z > 0), (0, True))


def seed_loss() -> sympy.Expr:
    """L = (y - y_hat)^2 of the 1-2-2-1 ReLU network, as the seed page writes it:
    z_3 = w_3 a_1 + w_5 a_2 + b_3, z_4 = w_4 a_1 + w_6 a_2 + b_4."""
    a1, a2 = relu(w1 * x + b1), relu(w2 * x + b2)
    a3, a4 = relu(w3 * a1 + w5 * a2 + b3), relu(w4 * a1 + w6 * a2 + b4)
    return (y - (w7 * a3 + w8 * a4 + b5)) ** 2


def seed_values(spec: dict) -> dict[sympy.Symbol, float]:
    """The spec's numbers by the seed's names (h2->g1 is w_5, h1->g2 is w_4)."""
    layers = [layer["neurons"] for layer in spec["layers"]]
    h1, h2 = layers[0]["h1"], layers[0]["h2"]
    g1, g2 = layers[1]["g1"], layers[1]["g2"]
    out = layers[2]["y_hat"]
    return {x: spec["inputs"]["x"], y: spec["targets"]["y_hat"],
            w1: h1["weights"]["x"], w2: h2["weights"]["x"], b1: h1["bias"], b2: h2["bias"],
            w3: g1["weights"]["h1"], w5: g1["weights"]["h2"], b3: g1["bias"],
            w4: g2["weights"]["h1"], w6: g2["weights"]["h2"], b4: g2["bias"],
            w7: out["weights"]["g1"], w8: out["weights"]["g2"], b5: out["bias"]}


# the derive symbol of each parameter, by the seed's name
SYMBOL = {str(s): s for s in (w1, w2, w3, w4, w5, w6, w7, w8, b1, b2, b3, b4, b5)}


def oracle_gradients(spec: dict) -> dict[str, float]:
    values = seed_values(spec)
    loss = seed_loss()
    return {name: float(sympy.diff(loss, s).subs(values)) for name, s in SYMBOL.items()}


def blocks(solution: object) -> dict[str, object]:
    """Each gradient block of the first step, by its symbol's name without braces (w1)."""
    found = {}
    for layer in solution.steps[0].backward:  # type: ignore[attr-defined]
        for block in layer.gradients:
            found[block.symbol.name.replace("_{", "").replace("}", "").replace("_", "")] = block
    return found


def number(value: object) -> float:
    return float(value.value if isinstance(value, Operand) else value)  # type: ignore[arg-type]


def factored_value(f: object) -> float:
    """head x (sum of the middles' products) x tail, from the factored numbers."""
    def prod(factors: tuple) -> float:
        result = 1.0
        for factor in factors:
            result *= number(factor)
        return result
    inside = sum(prod(m) for m in f.middle_numbers) if f.middle_numbers else 1.0  # type: ignore[attr-defined]
    return prod(f.head_numbers) * inside * prod(f.tail_numbers)  # type: ignore[attr-defined]


def test_the_seed_problem_factored_values_match_sympy_diff_of_the_composed_loss() -> None:
    spec = yaml.safe_load(PROBLEM.read_text())
    truth = oracle_gradients(spec)
    found = blocks(solve(PROBLEM))
    assert set(found) == set(truth)
    for name, value in truth.items():
        f = found[name].factored
        assert f is not None, name
        assert factored_value(f) == pytest.approx(value, abs=1e-12), name
        assert float(found[name].value) == pytest.approx(value, abs=1e-12), name
    # hand-derived: y_hat = 1.5 * 0.68 + 0.2 = 1.22, L_y = 2 (1.22 - 1) = 0.44, z_4 = -0.14 (dead),
    # dL/dw_1 = 0.44 {1.5 * 1 * 0.6 + (-0.8) * 0 * 0.2} * 1 * 2 = 0.792
    assert truth["w1"] == pytest.approx(0.792)
    assert truth["w4"] == 0 and truth["b2"] == pytest.approx(0.44 * 1.5 * -0.4)


# the meaning of each printed symbol, for reading the factored form back as SymPy
Ly, d1, d2, d3, d4, a1, a2, a3, a4 = sympy.symbols("L_y d1 d2 d3 d4 a1 a2 a3 a4")
MEANING = {"L_{y}": Ly, "x": x, "a_{1}": a1, "a_{2}": a2, "a_{3}": a3, "a_{4}": a4,
           **{rf"\operatorname{{dRL}}\left(z_{{{k}}}\right)": d for k, d in zip("1234", (d1, d2, d3, d4))},
           **{f"w_{{{k}}}": s for k, s in zip("12345678", (w1, w2, w3, w4, w5, w6, w7, w8))}}

# every path of each gradient as a product, written from the seed's network by hand
PATHS = {
    "w7": [Ly * a3], "w8": [Ly * a4], "b5": [Ly],
    "w3": [Ly * w7 * d3 * a1], "w5": [Ly * w7 * d3 * a2], "b3": [Ly * w7 * d3],
    "w4": [Ly * w8 * d4 * a1], "w6": [Ly * w8 * d4 * a2], "b4": [Ly * w8 * d4],
    "w1": [Ly * w7 * d3 * w3 * d1 * x, Ly * w8 * d4 * w4 * d1 * x],
    "b1": [Ly * w7 * d3 * w3 * d1, Ly * w8 * d4 * w4 * d1],
    "w2": [Ly * w7 * d3 * w5 * d2 * x, Ly * w8 * d4 * w6 * d2 * x],
    "b2": [Ly * w7 * d3 * w5 * d2, Ly * w8 * d4 * w6 * d2],
}


def as_sympy(factor: object) -> sympy.Expr:
    if factor == 1:
        return sympy.Integer(1)
    if isinstance(factor, Applied):  # dRL(z_3), by its printed form
        return MEANING[tex(factor)]
    return MEANING[factor.name]  # type: ignore[attr-defined]


def test_the_factored_form_expands_to_the_sum_of_the_path_products() -> None:
    found = blocks(solve(PROBLEM))
    for name, paths in PATHS.items():
        f = found[name].factored

        def prod(factors: tuple) -> sympy.Expr:
            return sympy.Mul(*[as_sympy(s) for s in factors])
        inside = sympy.Add(*[prod(m) for m in f.middles]) if f.middles else sympy.Integer(1)
        written = prod(f.head) * inside * prod(f.tail)
        assert sympy.expand(written - sympy.Add(*paths)) == 0, name
        # the seed's form: the paths' shared head and tail stand outside the braces
        assert (len(f.middles), len(found[name].paths)) == ((2, 2) if len(paths) == 2 else (0, 1)), name
    w1_form = found["w1"].factored
    assert [as_sympy(s) for s in w1_form.head] == [Ly]
    assert [as_sympy(s) for s in w1_form.tail] == [d1, x]


def test_the_key_defines_each_shorthand_once_and_prints_the_seed_form() -> None:
    result = CliRunner().invoke(main, ["solve", str(PROBLEM), "-f", "md"])
    assert result.exit_code == 0, result.output
    key = result.stdout
    assert key.count(r"L_{y} &= \frac{\partial L}{\partial \hat{y}}") == 1
    assert key.count(r"\operatorname{dRL}\left(z\right) &= \operatorname{ReLU}'\left(z\right)") == 1
    assert (r"&= L_{y} \cdot \{w_{7} \cdot \operatorname{dRL}\left(z_{3}\right) \cdot w_{3} + "
            r"w_{8} \cdot \operatorname{dRL}\left(z_{4}\right) \cdot w_{4}\} \cdot "
            r"\operatorname{dRL}\left(z_{1}\right) \cdot x \\") in key
    # the numbers as given (1.5, 0.6, -0.8, 0.2, x = 2) and the dead unit's 0
    assert r"&= 0.4400 \cdot \{1.5 \cdot 1 \cdot 0.6 + \left(-0.8\right) \cdot 0 \cdot 0.2\} \cdot 1 \cdot 2 \\" in key
    report = check_markdown(key, "exact", spec_numbers(PROBLEM.read_text()))
    assert report.checks and not report.failures and not report.unparsed and not report.low_sig


def test_the_numbers_and_the_json_key_do_not_change(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    spec = yaml.safe_load(PROBLEM.read_text())
    del spec["worked"]
    plain.write_text(yaml.safe_dump(spec))
    keys = [CliRunner().invoke(main, ["solve", str(p), "-f", "json"]) for p in (PROBLEM, plain)]
    assert all(k.exit_code == 0 for k in keys)
    assert json.loads(keys[0].stdout)["steps"] == json.loads(keys[1].stdout)["steps"]


def test_by_hand_and_delta_keep_their_own_forms() -> None:
    for args in (["--rounding", "by-hand"], ["--form", "delta"]):
        result = CliRunner().invoke(main, ["solve", str(PROBLEM), "-f", "md", *args])
        assert result.exit_code == 0, result.output
        assert r"\cdot \{" not in result.stdout and "Shorthands" not in result.stdout, args


def test_factored_with_the_delta_form_is_refused_with_its_line(tmp_path: Path) -> None:
    text = PROBLEM.read_text().replace("  factored: true", "  form: delta\n  factored: true")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("  factored: true"))
    result = CliRunner().invoke(main, ["solve", str(bad), "-f", "md"])
    assert result.exit_code == 2
    assert f"{bad}:{line}" in result.output and "worked.factored" in result.output
    assert "form: delta" in result.output and "Traceback" not in result.output


def test_factored_must_be_true_or_false(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(PROBLEM.read_text().replace("factored: true", "factored: yes please"))
    result = CliRunner().invoke(main, ["solve", str(bad), "-f", "md"])
    assert result.exit_code == 2
    assert "worked.factored" in result.output and "expected true or false" in result.output


# --- random and wider networks -------------------------------------------------------------

def network_spec(rng: random.Random, width: int, activation: str, decimals: int) -> dict:
    """1-width-width-1 with random values (teacher-like with 1 decimal, or 3), a linear output."""
    def value() -> float:
        return round(rng.uniform(-1, 1), decimals)
    hidden1 = {f"h{i}": {"bias": value(), "weights": {"x": value()}} for i in range(1, width + 1)}
    hidden2 = {f"g{i}": {"bias": value(), "weights": {h: value() for h in hidden1}} for i in range(1, width + 1)}
    out = {"o": {"bias": value(), "weights": {g: value() for g in hidden2}}}
    return {"title": "random", "inputs": {"x": round(rng.uniform(0.5, 2), 1)},
            "layers": [{"activation": activation, "neurons": hidden1},
                       {"activation": activation, "neurons": hidden2},
                       {"activation": "linear", "neurons": out}],
            "targets": {"o": 1}, "loss": "squared_error", "learning_rate": 0.1,
            "worked": {"factored": True}}


CASES = [(seed, width, activation, decimals)
         for seed, (width, activation, decimals) in enumerate(
             [(2, "relu", 1), (2, "relu", 3), (2, "sigmoid", 2), (3, "tanh", 3), (3, "relu", 1), (3, "sigmoid", 3)])]


@pytest.mark.parametrize("seed, width, activation, decimals", CASES)
def test_random_networks_match_the_oracle_and_every_line_recomputes(
        tmp_path: Path, seed: int, width: int, activation: str, decimals: int) -> None:
    spec = network_spec(random.Random(seed), width, activation, decimals)
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(spec))
    truth = oracle.sympy_gradients(spec)
    solution = solve(path)
    short = {"relu": "dRL", "sigmoid": "dSG", "tanh": "dTH"}[activation]
    for layer in solution.steps[0].backward:
        for block in layer.gradients:
            f = block.factored
            assert f is not None
            assert len(f.middles) == (width if layer.number == 1 else 0)
            assert f.broken == (width > 2 and layer.number == 1)
    by_value = sorted(float(b.value) for layer in solution.steps[0].backward for b in layer.gradients)
    by_factors = sorted(factored_value(b.factored) for layer in solution.steps[0].backward for b in layer.gradients)
    assert by_factors == pytest.approx(sorted(truth.values()), abs=1e-9)
    assert by_value == pytest.approx(sorted(truth.values()), abs=1e-9)
    result = CliRunner().invoke(main, ["solve", str(path), "-f", "md"])
    assert result.exit_code == 0, result.output
    assert rf"\operatorname{{{short}}}\left(z\right)" in result.stdout
    report = check_markdown(result.stdout, "exact", spec_numbers(path.read_text()))
    assert report.checks and not report.failures and not report.unparsed, report.message(10)


def test_the_key_renders_in_katex_mathjax_and_latex(tmp_path: Path) -> None:
    spec = network_spec(random.Random(4), 3, "relu", 1)  # three middles: the broken rows
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(spec))
    for problem in (PROBLEM, path):
        md = CliRunner().invoke(main, ["solve", str(problem), "-f", "md"]).stdout
        assert check_math(math_fragments(md)) == []
        tex = CliRunner().invoke(main, ["solve", str(problem), "-f", "tex"]).stdout
        _, log = compile_tex(tex, tmp_path / problem.stem)
        assert overfull_boxes(log) == []
        html = CliRunner().invoke(main, ["solve", str(problem), "-f", "html"])  # MathML, row by row
        assert html.exit_code == 0, html.output


def test_an_exam_variant_is_factored_as_derive_solve_factors_its_spec(tmp_path: Path) -> None:
    """An exam key is the key `derive solve` makes of the variant's spec.yaml: factored,
    and in the spec's notation (alpha), as the template asks."""
    template = tmp_path / "exam.yaml"
    template.write_text((ROOT / "problems" / "q2-exam.yaml").read_text(encoding="utf-8")
                        + "worked: {factored: true}\nnotation: {learning_rate: alpha}\n", encoding="utf-8")
    folder = tmp_path / "exam"
    made = CliRunner().invoke(main, ["exam", str(template), "--variants", "2", "--seed", "5",
                                     "-o", str(folder), "-q", "--no-pdf"])
    assert made.exit_code == 0, made.output
    for variant in ("variant-01", "variant-02"):
        key = (folder / variant / "key.md").read_text(encoding="utf-8")
        solved = CliRunner().invoke(main, ["solve", str(folder / variant / "spec.yaml")])
        assert solved.exit_code == 0, solved.output
        assert key == solved.stdout
        assert "dRL" in key and r"\alpha" in key and "L_{y}" in key
