"""The matrix form with the bias folded into the weights (issue 13, item 2; seed 004).

Seed 004 writes [z1; z2] = [w1 b1; w2 b2][x; 1] with the shapes (2 x 2)(2 x 1), then
(2 x 2+1)(2+1 x 1) and (1 x 2+1)(2+1 x 1). Checked here against:

* a matrix oracle written in the test (plain Python floats): z = [W b][a; 1] and the
  gradient of [W b] as the one matrix delta [a; 1]^T, layer by layer;
* tests/oracle.py: finite differences and sympy.diff of the composed loss;
* the Markdown read back: each printed folded matrix is the oracle's to its printed
  digits, and each printed product, multiplied here, gives its printed result;
* the spec reader, the CLI flag and the JSON Schema for the new `worked.fold_bias` key.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft7Validator

import oracle
from cli import main
from linecheck import check_markdown, spec_numbers
from test_matrix_batch import (Mat, aligned_rows, beside, chains, close, each, matrices, mm, redo, statement,
                               tr, unit)

from derive.api import solve
from derive.errors import SpecError
from derive.forms import Options
from derive.render import render
from derive.schema import schema
from derive.spec import parse_spec

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = ROOT / "problems" / "seed004_bias_folded.yaml"
Q2 = ROOT / "problems" / "q2.yaml"


def relu(v: float) -> float:
    return v if v > 0 else 0.0


def folded_oracle(spec: dict) -> dict:
    """The seed-004 network layer by layer with [W b] and [a; 1]: z, a, delta and
    dL/d[W b] = delta [a; 1]^T (ReLU, ReLU, linear; L = (y - y_hat)^2)."""
    names = [list(spec["inputs"])]
    blocks = []
    for layer in spec["layers"]:
        neurons = layer["neurons"]
        blocks.append([[float(n["weights"][s]) for s in names[-1]] + [float(n["bias"])] for n in neurons.values()])
        names.append(list(neurons))
    f = {"relu": relu, "linear": lambda v: v}
    df = {"relu": lambda z: 1.0 if z > 0 else 0.0, "linear": lambda z: 1.0}
    acts = [layer["activation"] for layer in spec["layers"]]
    a = [[[float(spec["inputs"][x])] for x in names[0]]]
    z = []
    for block, name in zip(blocks, acts):
        z.append(mm(block, a[-1] + [[1.0]]))
        a.append(each(f[name], z[-1]))
    y = [[float(spec["targets"][o])] for o in names[-1]]
    delta = each(lambda out, t, zz: 2 * (out - t) * df[acts[-1]](zz), a[-1], y, z[-1])
    deltas = [delta]
    for layer in range(len(blocks) - 2, -1, -1):
        w_t = tr([row[:-1] for row in blocks[layer + 1]])
        deltas.insert(0, each(lambda u, zz: u * df[acts[layer]](zz), mm(w_t, deltas[0]), z[layer]))
    gradients = [mm(d, tr(a_prev + [[1.0]])) for d, a_prev in zip(deltas, a)]
    eta = float(spec["learning_rate"])
    return {"blocks": blocks, "z": z, "a": a[1:], "deltas": deltas, "gradients": gradients,
            "updated": [each(lambda w, g: w - eta * g, b, g) for b, g in zip(blocks, gradients)],
            "names": names}


def spec_of(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def matrix_rows(markdown: str) -> list[str]:
    """The rows of display math of the (first) matrix form section."""
    return aligned_rows(markdown.split("## Matrix form\n", 1)[1].split("\n## ", 1)[0])


def agrees(printed: list[list[Decimal]], expected: Mat) -> None:
    assert [len(r) for r in printed] == [len(r) for r in expected]
    for r, row in enumerate(printed):
        for c, value in enumerate(row):
            assert abs(float(value) - expected[r][c]) <= 0.5 * unit(value) + 1e-12, (r, c, value, expected[r][c])


def block(layer: int) -> str:
    return (rf"\left[\begin{{matrix}}W^{{({layer})}} & \mathbf{{b}}^{{({layer})}}\end{{matrix}}\right]")


def test_the_printed_folded_matrices_are_the_oracles() -> None:
    """[W b] as given, [a; 1], z, dL/d[W b] and the updated [W b] of every layer, read
    back from the Markdown, are the oracle's to their printed digits."""
    spec = spec_of(PROBLEM)
    want = folded_oracle(spec)
    rows = matrix_rows(render(solve(PROBLEM), "md"))
    for layer in (1, 2, 3):
        z = statement(rows, rf"\mathbf{{z}}^{{({layer})}} &=")
        operands = matrices(z[1])
        assert [[float(v) for v in row] for row in operands[0]] == want["blocks"][layer - 1]  # given, exactly
        assert operands[1][-1] == [Decimal(1)]  # the 1 below a
        agrees(matrices(z[-1])[-1], want["z"][layer - 1])
        gradient = statement(rows, rf"\frac{{\partial L}}{{\partial {block(layer)}}} &=")
        agrees(matrices(gradient[-1])[-1], want["gradients"][layer - 1])
        assert matrices(gradient[-1])[1][0][-1] == Decimal(1)  # [a^T 1]
        update = statement(rows, rf"{block(layer)} &\leftarrow")
        agrees(matrices(update[-1])[-1], want["updated"][layer - 1])


def test_the_folded_gradients_are_the_finite_differences_and_sympy_diff() -> None:
    """Each entry of dL/d[W b] (full precision, from derive's document model) is the
    oracle's, the finite difference of the loss, and sympy.diff of the composed loss."""
    spec = spec_of(PROBLEM)
    want = folded_oracle(spec)
    fd, exact = oracle.fd_gradients(spec), oracle.sympy_gradients(spec)
    form = next(s.content for s in solve(PROBLEM).steps[0].sections if s.kind == "matrix")
    assert len(form.folded) == 3
    names = want["names"]
    for layer, folded in enumerate(form.folded, 1):
        assert close(folded.gradient.rows, want["gradients"][layer - 1])
        for j, neuron in enumerate(names[layer]):
            keys = [("weight", source, neuron) for source in names[layer - 1]] + [("bias", neuron)]
            for i, key in enumerate(keys):
                entry = float(folded.gradient[j, i])
                assert entry == pytest.approx(fd[key], rel=1e-6, abs=1e-9)
                assert entry == pytest.approx(exact[key], rel=1e-12, abs=1e-15)


def test_a_hand_worked_fold() -> None:
    """One ReLU neuron, x = (2, -1), w = (0.5, 0.25), b = 0.1, y = 1, half squared error:
    z = [0.5 0.25 0.1][2; -1; 1] = 1 - 0.25 + 0.1 = 0.85 = a; delta = a - y = -0.15;
    dL/d[W b] = -0.15 [2 -1 1] = [-0.3 0.15 -0.15]; eta = 1: [0.8 0.1 0.25]."""
    text = """
inputs: {x1: 2, x2: -1}
layers:
  - activation: relu
    neurons:
      o: {bias: 0.1, weights: {x1: 0.5, x2: 0.25}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 1
worked: {fold_bias: true}
"""
    from derive.api import solve_spec
    for policy in ("exact", "by-hand"):
        rows = matrix_rows(render(solve_spec(parse_spec(text, "hand.yaml"), "hand.yaml", policy=policy), "md"))
        assert matrices(statement(rows, r"\mathbf{z}^{(1)} &=")[-1])[-1] == [[Decimal("0.8500")]]
        gradient = statement(rows, rf"\frac{{\partial L}}{{\partial {block(1)}}} &=")
        assert matrices(gradient[-1])[-1] == [[Decimal("-0.3000"), Decimal("0.1500"), Decimal("-0.1500")]]
        assert matrices(statement(rows, rf"{block(1)} &\leftarrow")[-1])[-1] == [
            [Decimal("0.8000"), Decimal("0.1000"), Decimal("0.2500")]]


def test_the_seed_pages_form_entries_and_shapes() -> None:
    """As on the seed page: [w1 b1; w2 b2][x; 1], [w3 w5 b3; w4 w6 b4][a; 1] and
    [w7 w8 b5][a; 1], with the shapes (2 x (1+1))((1+1) x 1) = (2 x 1), ..."""
    markdown = render(solve(PROBLEM), "md")
    rows = matrix_rows(markdown)
    assert r"\left[\begin{matrix}w_{1} & b_{1}\\w_{2} & b_{2}\end{matrix}\right]" in statement(rows, r"\mathbf{z}^{(1)} &=")[0]
    assert (r"\left[\begin{matrix}w_{3} & w_{5} & b_{3}\\w_{4} & w_{6} & b_{4}\end{matrix}\right]"
            in statement(rows, r"\mathbf{z}^{(2)} &=")[0])
    assert r"\left[\begin{matrix}w_{7} & w_{8} & b_{5}\end{matrix}\right]" in statement(rows, r"\mathbf{z}^{(3)} &=")[0]
    for shape in (r"$(2 \times (1+1))((1+1) \times 1) = (2 \times 1)$", r"$(2 \times (2+1))((2+1) \times 1) = (2 \times 1)$",
                  r"$(1 \times (2+1))((2+1) \times 1) = (1 \times 1)$"):
        assert shape in markdown


@pytest.mark.parametrize("policy", ["exact", "by-hand"])
@pytest.mark.parametrize("digits", [2, 4, 6])
def test_every_printed_folded_product_gives_its_printed_result(policy: str, digits: int) -> None:
    """Read back and multiplied here: [W b][a; 1] = z, delta [a^T 1] = dL/d[W b],
    [W b] - eta dL/d[W b] = new [W b] (and the deltas) to within a unit of the last digit;
    and the independent line checker agrees."""
    markdown = render(solve(PROBLEM, policy=policy, digits=digits), "md", digits)
    checked = 0
    for chain in chains(matrix_rows(markdown)):
        for element, result in zip(chain, chain[1:]):
            redone = redo(element)
            if redone is None or not matrices(result):
                continue
            for r, line in enumerate(matrices(result)[0]):
                for c, value in enumerate(line):
                    assert abs(float(value) - redone[r][c]) <= unit(value) + 1e-12, (element[:80], value)
            checked += 1
    assert checked >= 9  # three layers: z, dL/d[W b] and the update each
    report = check_markdown(markdown, policy, spec_numbers(PROBLEM.read_text(encoding="utf-8")))
    assert report.checks and not report.failures and not report.unparsed, report.message(5)


def test_folding_changes_the_layout_not_the_numbers() -> None:
    """The folded form's matrices are the unfolded form's W and b side by side; the rest
    of the key is the same document."""
    spec = spec_of(PROBLEM)
    del spec["worked"]
    path_text = yaml.safe_dump(spec, sort_keys=False)
    from derive.api import solve_spec
    plain = solve_spec(parse_spec(path_text, "p.yaml"), "p.yaml", options=Options(matrix=True))
    folded = solve_spec(parse_spec(path_text, "p.yaml"), "p.yaml", options=Options(fold_bias=True))
    unfolded_form = next(s.content for s in plain.steps[0].sections if s.kind == "matrix")
    folded_form = next(s.content for s in folded.steps[0].sections if s.kind == "matrix")
    assert unfolded_form.forward == folded_form.forward and unfolded_form.backward == folded_form.backward
    for f, b, layer in zip(folded_form.forward, reversed(folded_form.backward), folded_form.folded):
        assert [list(r) for r in layer.weights.rows] == beside(f.weights.rows, f.biases.rows)
        assert [list(r) for r in layer.gradient.rows] == beside(b.weight_gradient.rows, b.bias_gradient.rows)
    before = render(plain, "md").split("## Matrix form")[0]
    assert before == render(folded, "md").split("## Matrix form")[0]


def test_a_missing_connection_folds_with_its_mask() -> None:
    """A weight that is not there stays 0 in [W b], its gradient is masked to 0, and the
    bias column is never masked: [M 1]."""
    text = """
inputs: {x1: 1.5, x2: -0.5}
layers:
  - activation: sigmoid
    neurons:
      h1: {bias: 0.1, weights: {x1: 0.4}}
      h2: {bias: -0.2, weights: {x1: 0.3, x2: 0.8}}
  - activation: linear
    neurons:
      o: {bias: 0.05, weights: {h1: 0.6, h2: -0.7}}
targets: {o: 1}
loss: squared_error
learning_rate: 0.1
worked: {fold_bias: true}
"""
    from derive.api import solve_spec
    solution = solve_spec(parse_spec(text, "m.yaml"), "m.yaml")
    layer = next(s.content for s in solution.steps[0].sections if s.kind == "matrix").folded[0]
    assert layer.mask.tolist() == [[1, 0, 1], [1, 1, 1]]
    assert float(layer.gradient[0, 1]) == 0 and float(layer.gradient[0, 2]) != 0
    assert layer.entries.tolist()[0][1] == 0
    markdown = render(solution, "md")
    report = check_markdown(markdown, "exact", spec_numbers(text))
    assert not report.failures and not report.unparsed, report.message(5)


# --- the spec key, the CLI flag and the schema ------------------------------------------------------

def test_fold_bias_with_matrix_false_is_refused_with_its_place() -> None:
    text = PROBLEM.read_text(encoding="utf-8").replace("worked: {fold_bias: true}",
                                                       "worked: {matrix: false, fold_bias: true}")
    with pytest.raises(SpecError) as error:
        parse_spec(text, "folded.yaml")
    line = text.splitlines().index("worked: {matrix: false, fold_bias: true}") + 1
    [problem] = error.value.problems
    assert (problem.file, problem.line, problem.path) == ("folded.yaml", line, "worked.fold_bias")
    assert "needs matrix: true" in problem.message and "found matrix: false" in problem.message


def test_fold_bias_must_be_true_or_false(tmp_path: Path) -> None:
    text = PROBLEM.read_text(encoding="utf-8").replace("worked: {fold_bias: true}", "worked: {fold_bias: 3}")
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["solve", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "worked.fold_bias: expected true or false, found" in result.stderr and "bad.yaml:" in result.stderr


def test_the_cli_flag_folds_and_implies_the_matrix_form() -> None:
    plain = CliRunner().invoke(main, ["solve", str(Q2)])
    flagged = CliRunner().invoke(main, ["solve", str(Q2), "--fold-bias"])
    assert plain.exit_code == flagged.exit_code == 0
    assert "## Matrix form" not in plain.stdout
    assert "The bias is folded into the weights" in flagged.stdout
    assert r"\frac{\partial L}{\partial " + block(3) + "}" in flagged.stdout
    assert flagged.stdout.startswith(plain.stdout.split("## Matrix form")[0].rsplit("\n## ", 1)[0])


def test_the_schema_knows_fold_bias() -> None:
    validator = Draft7Validator(schema())
    spec = spec_of(PROBLEM)
    assert not list(validator.iter_errors(spec))
    spec["worked"] = {"matrix": False, "fold_bias": True}
    assert list(validator.iter_errors(spec))
    spec["worked"] = {"fold_bias": "yes please"}
    assert list(validator.iter_errors(spec))
