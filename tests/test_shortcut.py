"""Worked derivations and the output delta a - y (issue 13, item 3).

Every step of each derivation is checked, in the test's own terms, against sympy.diff
of the definition written here (sigma, the composed binary cross-entropy, softmax with
cross-entropy for n = 2..4 outputs): the printed chain of equalities holds, and it
ends in the result the working uses. The keys that use the shortcut are checked
against tests/oracle.py (sympy.diff of the fully composed loss) and a forward pass
written here; the page-count goal of the issue is measured on the compiled PDFs.
"""
from __future__ import annotations

import math
import random
import re
import subprocess
from pathlib import Path

import pytest
import sympy
import yaml
from click.testing import CliRunner

import oracle
from cli import main
from derive.api import solve
from derive.derivations import (AS, KINDS, YS, ZS, Written, bce_after_sigmoid, sigmoid_derivative,
                                softmax_cross_entropy)
from derive.mathnodes import Applied, Partial
from derive.render import render
from renderers import check_math, compile_tex, math_fragments, overfull_boxes, require

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = ROOT / "problems"
SHORTCUT = PROBLEMS / "seed003_softmax_shortcut.yaml"
SOFTMAX = PROBLEMS / "seed003_softmax.yaml"
BCE = PROBLEMS / "seed002_bce_derivation.yaml"
SAFE_REASON = re.compile(r"[A-Za-z0-9 ,.;:()'=+\-/]*\Z")  # text that is safe inside \text{}

z, a, y = sympy.symbols("z a y")


def test_sigmoid_derivation_is_a_chain_of_equalities_ending_in_a_times_1_minus_a() -> None:
    sigma = 1 / (1 + sympy.exp(-z))  # the definition, written here
    truth = sympy.diff(sigma, z)
    derivation = sigmoid_derivative()
    meaning = {sympy.Function("sigma")(z): sigma, a: sigma}
    for line in derivation.lines:
        value = product(line.right, meaning).doit()
        assert sympy.simplify(value - truth) == 0, line
    (last,) = derivation.lines[-1].right.factors
    assert sympy.expand(last - a * (1 - a)) == 0  # the form the working uses
    assert isinstance(derivation.left, Applied) and derivation.left.prime


def test_bce_after_sigmoid_derivation_ends_in_a_minus_y_and_each_step_holds() -> None:
    s = 1 / (1 + sympy.exp(-z))
    loss = -(y * sympy.log(a) + (1 - y) * sympy.log(1 - a))  # binary cross-entropy of one output
    truth = sympy.diff(loss.subs(a, s), z)  # of the composed loss, in z
    meaning = {Partial(sympy.Symbol("L"), a): sympy.diff(loss, a), Partial(a, z): a * (1 - a)}
    derivation = bce_after_sigmoid()
    for line in derivation.lines:
        value = product(line.right, meaning).subs(a, s)
        assert sympy.simplify(value - truth) == 0, line
    assert sympy.expand(product(derivation.lines[-1].right, {}) - (a - y)) == 0
    # the step the seed writes: (-y/a + (1 - y)/(1 - a)) a(1 - a)
    assert len(derivation.lines[1].right.factors) == 2


@pytest.mark.parametrize("n", [2, 3, 4])
def test_softmax_cross_entropy_derivation_holds_for_n_outputs(n: int) -> None:
    zs = sympy.symbols(f"z1:{n + 1}")
    ys = sympy.symbols(f"y1:{n + 1}")
    total = sum(sympy.exp(v) for v in zs)
    soft = [sympy.exp(v) / total for v in zs]  # softmax, written here
    loss = -sum(t * sympy.log(s) for t, s in zip(ys, soft))
    rng = random.Random(n)
    derivation = softmax_cross_entropy()
    for k in range(n):
        truth = sympy.diff(loss, zs[k])
        for _ in range(3):  # random points with targets summing to 1
            point = {v: rng.uniform(-2, 2) for v in zs}
            raw = [rng.uniform(0, 1) for _ in ys]
            point.update({t: r / sum(raw) for t, r in zip(ys, raw)})
            expected = float(truth.subs(point))
            for line in derivation.lines:
                value = softmax_line(line.right, n, k, zs, ys, soft, loss)
                assert float(value.subs(point)) == pytest.approx(expected, rel=1e-9, abs=1e-12), line
    k_symbol = sympy.Symbol("k", integer=True)
    (last,) = derivation.lines[-1].right.factors
    assert sympy.expand(last - (AS[k_symbol] - YS[k_symbol])) == 0


def test_reasons_are_plain_text_and_every_kind_is_built() -> None:
    built = [sigmoid_derivative(), bce_after_sigmoid(), softmax_cross_entropy()]
    assert [d.kind for d in built] == list(KINDS)
    for derivation in built:
        for line in derivation.lines:
            assert SAFE_REASON.match(line.reason), line.reason


def product(written: Written, meaning: dict) -> sympy.Expr:
    """A one-output derivation step as SymPy: its factors multiplied, each Partial or
    sigma(z) replaced by what it means (given by the test)."""
    assert written.over is None
    result = sympy.Integer(1)
    for factor in written.factors:
        factor = meaning[factor] if isinstance(factor, Partial) else factor
        result *= sympy.sympify(factor).xreplace({k: v for k, v in meaning.items() if isinstance(k, sympy.Basic)})
    return result


def softmax_line(written: Written, n: int, k: int, zs: tuple, ys: tuple, soft: list,
                 loss: sympy.Expr) -> sympy.Expr:
    """A softmax derivation step for output k of n, as SymPy in z_1..z_n and y_1..y_n:
    the sum over m made concrete, a_m, y_m, z_m and the partials given their meaning."""
    m, kk, nn = sympy.Symbol("m", integer=True), sympy.Symbol("k", integer=True), sympy.Symbol("n", integer=True)
    a_syms = sympy.symbols(f"a1:{n + 1}")
    loss_in_a = -sum(t * sympy.log(s) for t, s in zip(ys, a_syms))

    def concrete(expr: object, mm: int) -> sympy.Expr:
        if isinstance(expr, Partial):
            num, den = expr
            if num == sympy.Symbol("L"):  # dL/da_m, L as a function of the outputs
                return sympy.diff(loss_in_a, a_syms[mm]).subs(dict(zip(a_syms, soft)))
            return sympy.diff(soft[mm], zs[k])  # da_m/dz_k
        expr = sympy.sympify(expr).subs({nn: n, kk: k + 1, m: mm + 1}).doit()
        return expr.replace(lambda e: isinstance(e, sympy.Indexed), lambda e: {
            AS: soft, YS: list(ys), ZS: list(zs)}[e.base][int(e.indices[0]) - 1])

    def term(mm: int) -> sympy.Expr:
        return sympy.Mul(*[concrete(f, mm) for f in written.factors])

    if written.over is not None:
        return sympy.Add(*[term(mm) for mm in range(n)])
    return term(0)


# --- the keys that use the shortcut ------------------------------------------------------

def test_softmax_key_works_each_output_delta_as_a_minus_y_and_matches_the_oracle() -> None:
    spec = yaml.safe_load(SHORTCUT.read_text())
    markdown = render(solve(SHORTCUT), "md", 4)
    # the forward pass, written here: the softmax outputs and a - y
    x = spec["inputs"]
    hidden = spec["layers"][0]["neurons"]
    h = [math.tanh(sum(w * x[k] for k, w in n["weights"].items()) + n["bias"]) for n in hidden.values()]
    out = spec["layers"][1]["neurons"]
    zo = [n["weights"]["h1"] * h[0] + n["weights"]["h2"] * h[1] + n["bias"] for n in out.values()]
    soft = [math.exp(v) / sum(math.exp(u) for u in zo) for v in zo]
    target = [spec["targets"][name] for name in out]
    for i, (shown_a, shown_y, shown_delta) in enumerate(re.findall(
            r"\\delta_\{(?:\d)\}\^\{\(2\)\} &= a_\{\d\}\^\{\(2\)\} - y_\{\d\} = (-?[\d.]+) - (-?[\d.]+) = (-?[\d.]+)",
            markdown)):
        assert float(shown_a) == pytest.approx(soft[i], abs=5e-5)
        assert float(shown_y) == target[i]
        assert float(shown_delta) == pytest.approx(soft[i] - target[i], abs=5e-5)
    assert markdown.count("- y_{") >= 3 and "\\delta_{3}^{(2)} &= a_{3}^{(2)} - y_{3}" in markdown
    # no chain through the outputs is worked: no dL/da of the softmax appears in the deltas
    assert "- \\frac{y_{1}}{a_{1}^{(2)}}" not in markdown.split("### Delta form")[1]
    # every gradient (so every delta: a bias's gradient is its delta) is sympy.diff's
    truth = oracle.sympy_gradients(spec)
    key = solve(SHORTCUT).steps[0].values.gradients
    for (kind, *names), value in truth.items():
        name = f"{names[0]}->{names[1]}" if kind == "weight" else f"b:{names[0]}"
        assert float(key[name]) == pytest.approx(value, rel=1e-9, abs=1e-12)
    for i, name in enumerate(out):
        assert truth[("bias", name)] == pytest.approx(soft[i] - target[i], rel=1e-9)


def test_bce_key_derives_and_uses_the_shortcut_and_matches_the_oracle() -> None:
    spec = yaml.safe_load(BCE.read_text())
    markdown = render(solve(BCE), "md", 4)
    assert "### Worked derivations" in markdown
    assert "(derived in Worked derivations)" in markdown
    assert "\\delta_{1}^{(2)} &= a_{1}^{(2)} - y_{1}" in markdown
    truth = oracle.sympy_gradients(spec)
    forward = oracle.forward(spec)
    for name in ("o1", "o2"):  # dL/db = a - y at a sigmoid output with binary cross-entropy
        assert truth[("bias", name)] == pytest.approx(forward[name][1] - spec["targets"][name], rel=1e-9)
    key = solve(BCE).steps[0].values.gradients
    assert float(key["t->o2"]) == pytest.approx(truth[("weight", "t", "o2")], rel=1e-9)
    assert float(key["b:t"]) == pytest.approx(truth[("bias", "t")], rel=1e-9)


def test_by_hand_the_shortcut_is_the_written_a_minus_the_target_exactly() -> None:
    """By hand each value is the written one; the delta shown must be exactly the
    difference of the written a and y (parsed from the key, redone here)."""
    markdown = render(solve(SHORTCUT, policy="by-hand"), "md", 4)
    found = re.findall(r"&= a_\{\d\}\^\{\(2\)\} - y_\{\d\} = (-?[\d.]+) - (-?[\d.]+) = (-?[\d.]+)", markdown)
    assert len(found) == 3
    from decimal import Decimal
    for shown_a, shown_y, shown_delta in found:
        assert Decimal(shown_a) - Decimal(shown_y) == Decimal(shown_delta)


def test_the_shortcut_key_is_at_most_a_third_of_the_path_key_in_pages(tmp_path: Path) -> None:
    """Issue 13's goal, measured: today's softmax key (path form) against the key with
    the shortcut, both compiled by pdflatex, pages counted by pdfinfo."""
    require("pdflatex")
    require("pdfinfo")
    pages = {}
    for path in (SOFTMAX, SHORTCUT):
        pdf, log = compile_tex(render(solve(path), "tex", 4), tmp_path / path.stem)
        assert overfull_boxes(log) == []
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        pages[path.stem] = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)[1])
    assert 3 * pages["seed003_softmax_shortcut"] <= pages["seed003_softmax"], pages


def test_the_shortcut_says_where_it_comes_from_in_both_formats() -> None:
    for fmt in ("md", "tex"):
        text = render(solve(SHORTCUT), fmt, 4)
        delta = text.split("Delta form")[1]
        # derived on one line of the delta form's introduction, ending in a_k - y_k
        assert "\\sum_{m} \\frac{\\partial L}{\\partial {a}_{m}}" in delta
        assert "= {a}_{k} - {y}_{k}$ (the targets sum to 1)" in delta


def test_markdown_of_the_new_keys_renders_in_katex_and_mathjax() -> None:
    require("node")
    require("node_modules")
    for path in (SHORTCUT, BCE):
        assert check_math(math_fragments(render(solve(path), "md", 4))) == []


# --- options -----------------------------------------------------------------------------

def spec_text(worked: str, last: str = "softmax", loss: str = "cross_entropy",
              targets: str = "{o1: 0, o2: 1}") -> str:
    return f"""title: t
inputs: {{x1: 0.5}}
layers:
  - activation: {last}
    neurons:
      o1: {{bias: 0.1, weights: {{x1: 0.3}}}}
      o2: {{bias: -0.2, weights: {{x1: -0.6}}}}
targets: {targets}
loss: {loss}
learning_rate: 0.5
{worked}
"""


def run(tmp_path: Path, text: str, *args: str):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return CliRunner().invoke(main, ["solve", str(path), *args])


def test_the_default_settings_print_exactly_as_without_them(tmp_path: Path) -> None:
    plain = run(tmp_path, spec_text(""))
    spelled = run(tmp_path, spec_text("worked: {derivations: false, shortcut: false, activation_table: used}"))
    assert plain.exit_code == spelled.exit_code == 0
    assert plain.output == spelled.output


@pytest.mark.parametrize("worked, last, loss, targets, message", [
    ("worked: {shortcut: true}", "sigmoid", "half_squared_error", "{o1: 0, o2: 1}",
     "spec.yaml:11: worked.shortcut: the output delta is a - y only for sigmoid outputs with "
     "binary_cross_entropy or softmax outputs with cross_entropy, found sigmoid outputs with half_squared_error"),
    ("worked: {shortcut: true}", "softmax", "cross_entropy", "{o1: 0.5, o2: 0.3}",
     "spec.yaml:11: worked.shortcut: softmax with cross-entropy simplifies to a - y only when every "
     "output has a target and the targets sum to 1, found targets for 2 of 2 outputs summing to 0.8"),
    ("worked: {shortcut: true}", "softmax", "cross_entropy", "{o1: 1}",
     "found targets for 1 of 2 outputs summing to 1"),
    ("worked: {shortcut: true, form: paths}", "softmax", "cross_entropy", "{o1: 0, o2: 1}",
     "worked.shortcut: works the output delta as a - y in the delta form, so it needs form: delta, "
     "both or auto, found form: paths"),
    ("worked: {activation_table: some}", "softmax", "cross_entropy", "{o1: 0, o2: 1}",
     "spec.yaml:11: worked.activation_table: unknown activation table 'some' (valid: used, all)"),
    ("worked: {derivations: 1}", "softmax", "cross_entropy", "{o1: 0, o2: 1}",
     "spec.yaml:11: worked.derivations: expected true or false"),
])
def test_bad_settings_name_file_line_and_key(tmp_path: Path, worked: str, last: str, loss: str,
                                             targets: str, message: str) -> None:
    result = run(tmp_path, spec_text(worked, last, loss, targets))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_form_both_uses_the_shortcut_in_the_delta_part_only(tmp_path: Path) -> None:
    result = run(tmp_path, spec_text("worked: {shortcut: true, form: both}"))
    assert result.exit_code == 0, result.output
    paths, delta = result.output.split("### Delta form")
    assert "\\delta_{1}^{(1)} &= a_{1}^{(1)} - y_{1} = " in delta
    assert "Gradient of $w_{11}^{(1)}$ (2 paths)" in paths  # the path form as before


def test_form_paths_on_the_command_line_shows_the_path_form_without_the_shortcut(tmp_path: Path) -> None:
    result = run(tmp_path, spec_text("worked: {shortcut: true}"), "--form", "paths")
    assert result.exit_code == 0, result.output
    assert "Delta form" not in result.output and "(2 paths)" in result.output


def test_shortcut_alone_turns_auto_into_the_delta_form(tmp_path: Path) -> None:
    result = run(tmp_path, spec_text("worked: {shortcut: true}"))
    assert result.exit_code == 0, result.output
    assert "### Delta form" in result.output and "paths)" not in result.output
    assert "Worked derivations" not in result.output  # derived in the delta form's introduction


def test_derivations_without_a_simplification_or_sigmoid_add_nothing(tmp_path: Path) -> None:
    plain = run(tmp_path, spec_text("", "tanh", "half_squared_error"))
    derived = run(tmp_path, spec_text("worked: {derivations: true}", "tanh", "half_squared_error"))
    assert plain.output == derived.output


def test_the_schema_accepts_the_new_settings() -> None:
    import jsonschema

    from derive.schema import schema
    for worked in ({"derivations": True, "shortcut": True, "activation_table": "all"},
                   {"activation_table": "used"}):
        document = yaml.safe_load(spec_text("")) | {"worked": worked}
        jsonschema.validate(document, schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(spec_text("")) | {"worked": {"activation_table": "some"}}, schema())
