"""The batch in matrix form (issue 13, item 1; seed 003) against independent oracles.

* a matrix oracle written here in plain Python floats (numpy is not a dependency):
  X as a d x m matrix, Z = W X + b 1^T, A = f(Z), the output delta
  (A - Y for the matching pairs, dL/dA (.) f'(Z) otherwise, a Jacobian product per
  column for a softmax), Delta = (W^T Delta) (.) f'(Z) below it, dW = s Delta A^T and
  db = s Delta 1 with s = 1/m (mean) or 1 (sum);
* tests/oracle.py: the batch gradient is the finite difference of the batch's combined
  loss, and the mean (or sum) of the samples' own finite-difference gradients;
* the Markdown read back: every matrix printed in the batch section agrees with the oracle to
  its printed digits, and every printed product (read back and multiplied here)
  gives its printed result to within a unit of its last digit;
* tests/linecheck.py recomputes every numeric line of random batches, both policies.
"""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import math
import random

import pytest
import yaml

import oracle
from linecheck import check_markdown, spec_numbers

from derive.api import solve
from derive.forms import Options
from derive.render import render

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = ROOT / "problems" / "seed003_vectorised_batch.yaml"
BATCH_000 = ROOT / "problems" / "seed000_batch.yaml"


# --- the matrix oracle ---------------------------------------------------------------------------

Mat = list[list[float]]


def mm(a: Mat, b: Mat) -> Mat:
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def tr(a: Mat) -> Mat:
    return [list(col) for col in zip(*a)]


def each(f, *ms: Mat) -> Mat:  # type: ignore[no-untyped-def]
    return [[f(*vals) for vals in zip(*rows)] for rows in zip(*ms)]


def act(name: str, z: Mat) -> Mat:
    if name == "softmax":  # column by column
        cols = []
        for col in tr(z):
            top = max(col)
            e = [math.exp(v - top) for v in col]
            cols.append([v / sum(e) for v in e])
        return tr(cols)
    f = {"sigmoid": lambda v: 1 / (1 + math.exp(-v)), "tanh": math.tanh,
         "relu": lambda v: v if v > 0 else 0.0, "linear": lambda v: v}[name]
    return each(f, z)


def slope(name: str, z: Mat, a: Mat) -> Mat:
    f = {"sigmoid": lambda z, a: a * (1 - a), "tanh": lambda z, a: 1 - a * a,
         "relu": lambda z, a: 1.0 if z > 0 else 0.0, "linear": lambda z, a: 1.0}[name]
    return each(f, z, a)


def loss_slope(loss: str, a: Mat, y: Mat) -> Mat:
    """dL_i/dA, column i for sample i's own loss (summed over the outputs)."""
    n = len(a)
    f = {"half_squared_error": lambda a, y: a - y, "squared_error": lambda a, y: 2 * (a - y),
         "mean_squared_error": lambda a, y: 2 * (a - y) / n,
         "binary_cross_entropy": lambda a, y: (a - y) / (a * (1 - a)),
         "cross_entropy": lambda a, y: -y / a}[loss]
    return each(f, a, y)


def batch_oracle(spec: dict) -> dict[str, Any]:
    """Forward and backward pass of the whole batch as matrices, layer 1 first."""
    samples = spec["samples"]
    inputs = list(samples[0]["inputs"])
    x = [[float(s["inputs"][name]) for s in samples] for name in inputs]
    m = len(samples)
    weights, biases, names, acts = [], [], [inputs], []
    for layer in spec["layers"]:
        neurons = layer["neurons"]
        weights.append([[float(n["weights"][s]) for s in names[-1]] for n in neurons.values()])
        biases.append([float(n["bias"]) for n in neurons.values()])
        names.append(list(neurons))
        acts.append(layer["activation"])
    y = [[float(s["targets"][o]) for s in samples] for o in names[-1]]
    a_s, z_s = [x], []
    for w, b, name in zip(weights, biases, acts):
        z_s.append(each(lambda v, c: v + c, mm(w, a_s[-1]), [[c] * m for c in b]))
        a_s.append(act(name, z_s[-1]))
    scale = 1 / m if spec.get("reduction", "mean") == "mean" else 1.0
    g = loss_slope(spec["loss"], a_s[-1], y)
    if acts[-1] == "softmax":  # J^T g per column, J_kj = a_k (delta_kj - a_j)
        a, cols = tr(a_s[-1]), []
        for i in range(m):
            k = len(a[i])
            jac_t = [[a[i][j] * ((j == r) - a[i][r]) for j in range(k)] for r in range(k)]  # row r: d a_j / d z_r
            cols.append([sum(jac_t[r][j] * g[j][i] for j in range(k)) for r in range(k)])
        delta = tr(cols)
    else:
        delta = each(lambda u, s: u * s, g, slope(acts[-1], z_s[-1], a_s[-1]))
    deltas = [delta]
    for layer in range(len(weights) - 2, -1, -1):
        upstream = mm(tr(weights[layer + 1]), deltas[0])
        deltas.insert(0, each(lambda u, s: u * s, upstream, slope(acts[layer], z_s[layer], a_s[layer + 1])))
    return {"X": x, "Y": y, "Z": z_s, "A": a_s[1:], "Delta": deltas,
            "dW": [each(lambda v: scale * v, mm(d, tr(a))) for d, a in zip(deltas, a_s)],
            "db": [[[scale * sum(row)] for row in d] for d in deltas],
            "W": weights, "b": biases, "eta": float(spec["learning_rate"])}


def close(a: Mat, b: Mat, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return len(a) == len(b) and all(len(r) == len(s) and all(
        math.isclose(float(u), float(v), rel_tol=rel, abs_tol=abs_) for u, v in zip(r, s)) for r, s in zip(a, b))


def beside(a: Mat, b: Mat) -> Mat:
    return [list(r) + list(s) for r, s in zip(a, b)]


# --- reading the Markdown back -------------------------------------------------------------

MATRIX = re.compile(r"\\left\[\\begin\{matrix\}(.*?)\\end\{matrix\}\\right\]")
NUMBER = re.compile(r"^(-?\d+(?:\.\d+)?)(?: \\times 10\^\{(-?\d+)\})?$")


def entry(text: str) -> Decimal:
    found = NUMBER.match(text.strip())
    assert found, f"not a printed number: {text!r}"
    value = Decimal(found.group(1))
    return value.scaleb(int(found.group(2))) if found.group(2) else value


def matrices(row: str) -> list[list[list[Decimal]]]:
    """Every numeric matrix of a row of display math, as printed (a matrix of symbols,
    such as [W b] or [w_1 b_1], is left out)."""
    found = []
    for body in MATRIX.findall(row):
        cells = [line.split("&") for line in body.split(r"\\")]
        if all(NUMBER.match(cell.strip()) for line in cells for cell in line):
            found.append([[entry(cell) for cell in line] for line in cells])
    return found


def unit(value: Decimal) -> float:
    return float(Decimal(1).scaleb(value.as_tuple().exponent))  # type: ignore[arg-type]


def batch_rows(markdown: str) -> list[str]:
    """The rows of display math in the batch's section (split at the row ends)."""
    return aligned_rows(markdown.split("## The batch in matrix form", 1)[1])


def aligned_rows(part: str) -> list[str]:
    """The rows of every aligned display in `part` of a Markdown key."""
    rows: list[str] = []
    for block in re.findall(r"\\begin\{aligned\}\n(.*?)\n\\end\{aligned\}", part, re.S):
        rows.extend(r.strip() for r in block.split("\\\\\n"))
    return rows


def statement(rows: list[str], lhs: str) -> list[str]:
    """The rows of the statement whose left side starts with `lhs`: its row and the `&=` rows after it."""
    start = next(i for i, r in enumerate(rows) if r.startswith(lhs))
    found = [rows[start]]
    for row in rows[start + 1:]:
        if not row.startswith("&="):
            break
        found.append(row)
    return found


def last_matrix(rows: list[str]) -> list[list[Decimal]]:
    return matrices(rows[-1])[-1]


def agrees(printed: list[list[Decimal]], expected: Mat) -> None:
    """Each printed entry is the expected value rounded at its last digit (half a unit)."""
    assert [len(row) for row in printed] == [len(row) for row in expected]
    for r, row in enumerate(printed):
        for c, value in enumerate(row):
            want = expected[r][c]
            assert abs(float(value) - want) <= 0.5 * unit(value) + 1e-12, (r, c, value, want)


def spec_of(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- the problem of seed 003 ----------------------------------------------------------------

def test_the_printed_batch_matrices_are_the_oracles() -> None:
    """Every printed matrix of the batch section: X, Y, Z, A, Delta, dW, db and the
    updates, read back from the Markdown, is the oracle's to its printed digits."""
    spec = spec_of(PROBLEM)
    want = batch_oracle(spec)
    rows = batch_rows(render(solve(PROBLEM), "md"))
    for layer in (1, 2):
        z = statement(rows, f"Z^{{({layer})}} &=")
        agrees(last_matrix(z), want["Z"][layer - 1])
        agrees(last_matrix(statement(rows, f"A^{{({layer})}} &=")), want["A"][layer - 1])
        agrees(last_matrix(statement(rows, fr"\Delta^{{({layer})}} &=")), want["Delta"][layer - 1])
        agrees(last_matrix(statement(rows, fr"\frac{{\partial L}}{{\partial W^{{({layer})}}}} &=")),
               want["dW"][layer - 1])
        bias = last_matrix(statement(rows, fr"\frac{{\partial L}}{{\partial \mathbf{{b}}^{{({layer})}}}} &="))
        agrees(bias, want["db"][layer - 1])
        updated = each(lambda w, g: w - want["eta"] * g, want["W"][layer - 1], want["dW"][layer - 1])
        agrees(last_matrix(statement(rows, f"W^{{({layer})}} &\\leftarrow")), updated)
    # the inputs and targets as columns, one per sample, exactly as given
    first = matrices(statement(rows, "Z^{(1)} &=")[1])
    assert [[float(v) for v in row] for row in first[1]] == want["X"]
    difference = matrices(statement(rows, r"\Delta^{(2)} &=")[1])
    assert [[float(v) for v in row] for row in difference[1]] == want["Y"]


def test_the_output_delta_is_a_minus_y_for_softmax_with_cross_entropy() -> None:
    """The shortcut is the general delta: J^T dL/dA per column equals A - Y (one-hot)."""
    want = batch_oracle(spec_of(PROBLEM))
    assert close(want["Delta"][-1], each(lambda a, y: a - y, want["A"][-1], want["Y"]))
    rows = batch_rows(render(solve(PROBLEM), "md"))
    assert statement(rows, r"\Delta^{(2)} &=")[0] == r"\Delta^{(2)} &= A^{(2)} - Y"


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_batch_gradients_are_the_oracles_and_the_mean_of_the_samples(reduction: str) -> None:
    """derive's batch matrices (full precision) = the oracle = finite differences of the
    combined loss (tests/oracle.py) = the mean (or sum) of each sample's own gradients."""
    spec = spec_of(PROBLEM)
    spec["reduction"] = reduction
    want = batch_oracle(spec)
    combined = oracle.fd_gradients(spec)
    per_sample = []
    for sample in spec["samples"]:
        single = {k: v for k, v in spec.items() if k not in ("samples", "reduction")}
        single.update(inputs=sample["inputs"], targets=sample["targets"])
        per_sample.append(oracle.fd_gradients(single))
    scale = 1 / len(per_sample) if reduction == "mean" else 1
    form = batch_form_of(solve_text(spec))
    names = [list(spec["samples"][0]["inputs"])] + [list(layer["neurons"]) for layer in spec["layers"]]
    for b in form.backward:
        below, layer = names[b.number - 1], names[b.number]
        for j, neuron in enumerate(layer):
            for i, source in enumerate(below):
                key = ("weight", source, neuron)
                shown = float(b.gradient[j, i])
                assert shown == pytest.approx(want["dW"][b.number - 1][j][i], rel=1e-9, abs=1e-12)
                assert shown == pytest.approx(combined[key], rel=1e-5, abs=1e-8)
                assert shown == pytest.approx(scale * sum(g[key] for g in per_sample), rel=1e-5, abs=1e-8)
            key = ("bias", neuron)
            shown = float(b.bias_gradient[j, 0])
            assert shown == pytest.approx(want["db"][b.number - 1][j][0], rel=1e-9, abs=1e-12)
            assert shown == pytest.approx(combined[key], rel=1e-5, abs=1e-8)


def solve_text(spec: dict, policy: str = "exact", digits: int = 4, options: Options = Options(matrix=True)):
    from derive.api import solve_spec
    from derive.spec import parse_spec
    return solve_spec(parse_spec(yaml.safe_dump(spec, sort_keys=False), "<test>"), "<test>",
                      policy=policy, digits=digits, options=options)


def batch_form_of(solution) -> Any:
    found = [s.content for step in solution.steps for s in step.sections if s.kind == "matrix_batch"]
    assert len(found) == 1, "one batch section"
    return found[0]


def test_the_batch_gradients_are_the_batch_updates() -> None:
    """The section's gradients and new values are the batch update's (derive.batch), entry by entry."""
    solution = solve(PROBLEM)
    update = next(s.content for step in solution.steps for s in step.sections if s.kind == "batch")
    combined = {row.key: float(row.combined) for row in update.rows}
    new = {row.key: float(row.new) for row in update.rows}
    spec = spec_of(PROBLEM)
    names = [list(spec["samples"][0]["inputs"])] + [list(layer["neurons"]) for layer in spec["layers"]]
    for b in batch_form_of(solution).backward:
        for j, neuron in enumerate(names[b.number]):
            for i, source in enumerate(names[b.number - 1]):
                assert float(b.gradient[j, i]) == pytest.approx(combined[f"{source}->{neuron}"], rel=1e-12)
                assert float(b.updated[j, i]) == pytest.approx(new[f"{source}->{neuron}"], rel=1e-12)
            assert float(b.bias_gradient[j, 0]) == pytest.approx(combined[f"b:{neuron}"], rel=1e-12)
            assert float(b.updated_biases[j, 0]) == pytest.approx(new[f"b:{neuron}"], rel=1e-12)


# --- hand-derived values -----------------------------------------------------------------------

def test_a_hand_worked_batch() -> None:
    """One linear neuron, half squared error, two samples, mean: worked by hand.

    x = (1, 2) and (3, -1), w = (0.5, -0.25), b = 0.1, y = (1, 0).
    z1 = 0.5 - 0.5 + 0.1 = 0.1, z2 = 1.5 + 0.25 + 0.1 = 1.85; Delta = A - Y = (-0.9, 1.85)
    dW = 1/2 (-0.9 (1, 2) + 1.85 (3, -1)) = 1/2 (4.65, -3.65) = (2.325, -1.825)
    db = 1/2 (-0.9 + 1.85) = 0.475; eta = 0.1: w = (0.2675, -0.0675), b = 0.0525."""
    spec = {"samples": [{"inputs": {"x1": 1, "x2": 2}, "targets": {"o": 1}},
                        {"inputs": {"x1": 3, "x2": -1}, "targets": {"o": 0}}],
            "reduction": "mean",
            "layers": [{"activation": "linear", "neurons": {"o": {"bias": 0.1, "weights": {"x1": 0.5, "x2": -0.25}}}}],
            "loss": "half_squared_error", "learning_rate": 0.1}
    for policy in ("exact", "by-hand"):
        rows = batch_rows(render(solve_text(spec, policy), "md"))
        assert statement(rows, r"\Delta^{(1)} &=")[0] == r"\Delta^{(1)} &= A^{(1)} - Y"  # linear + half SE
        assert last_matrix(statement(rows, r"\Delta^{(1)} &=")) == [[Decimal("-0.9000"), Decimal("1.8500")]]
        assert last_matrix(statement(rows, r"\frac{\partial L}{\partial W^{(1)}} &=")) == [
            [Decimal("2.3250"), Decimal("-1.8250")]]
        assert last_matrix(statement(rows, r"\frac{\partial L}{\partial \mathbf{b}^{(1)}} &=")) == [[Decimal("0.4750")]]
        assert last_matrix(statement(rows, r"W^{(1)} &\leftarrow")) == [[Decimal("0.2675"), Decimal("-0.0675")]]
        assert last_matrix(statement(rows, r"\mathbf{b}^{(1)} &\leftarrow")) == [[Decimal("0.0525")]]


# --- every printed product, read back and multiplied here ------------------------------------

def chains(rows: list[str]) -> list[list[str]]:
    """Each statement (a row with a left side and its `&=` rows) as its chain of elements."""
    found: list[list[str]] = []
    for row in rows:
        right = row.split("&=", 1)[1] if "&=" in row else row.split("&\\leftarrow", 1)[-1]
        parts = [p.strip() for p in right.split(" = ")]
        if row.startswith("&=") and found:
            found[-1].extend(parts)
        else:
            found.append(parts)
    return found


def redo(element: str) -> Mat | None:
    """A printed operation on printed matrices, done here; None for a symbolic element."""
    mats = [[[float(v) for v in row] for row in m] for m in matrices(element)]
    if len(mats) < 2:
        return None
    frac = re.match(r"\\frac\{1\}\{(\d+)\}", element)
    scale = 1 / int(frac.group(1)) if frac else 1.0
    update = re.search(r"\\right\] - (\d+(?:\.\d+)?) \\cdot", element)
    if r"\odot" in element and len(mats) == 3:  # (M0 M1) (.) M2: the vector form's chained line
        return each(lambda u, v: u * v, mm(mats[0], mats[1]), mats[2])
    if r"\odot" in element:
        return each(lambda u, v: u * v, mats[0], mats[1])
    if update:
        eta = float(update.group(1))
        return each(lambda w, g: w - eta * g, mats[0], mats[1])
    if r"\right] - \left[" in element:
        return each(lambda u, v: u - v, mats[0], mats[1])
    if r"\right] + \left[" in element:
        return each(lambda u, v: u + v, mm(mats[0], mats[1]), mats[2])
    product = mm(mats[0], mats[1])
    for more in mats[2:]:  # J^T (W^T delta): a softmax's chained line
        product = mm(product, more)
    return each(lambda v: scale * v, product)


def products_follow(markdown: str) -> int:
    """Each printed operation of the batch section (s M1 M2, M1 M2 + M3, M1 - M2, M1 (.) M2,
    M1 - eta . M2), redone here from its printed operands, gives the printed matrix after
    its `=` to within one unit of that matrix's last digits. Returns how many were redone."""
    checked = 0
    for chain in chains(batch_rows(markdown)):
        for element, result in zip(chain, chain[1:]):
            redone = redo(element)
            if redone is None:
                continue
            printed = matrices(result)
            assert len(printed) == 1, (element[:60], result[:60])
            for r, line in enumerate(printed[0]):
                for c, value in enumerate(line):
                    assert abs(float(value) - redone[r][c]) <= unit(value) + 1e-12, (element[:80], r, c, value)
            checked += 1
    return checked


@pytest.mark.parametrize("policy", ["exact", "by-hand"])
@pytest.mark.parametrize("digits", [2, 4])
def test_every_printed_product_gives_its_printed_result(policy: str, digits: int) -> None:
    markdown = render(solve(PROBLEM, policy=policy, digits=digits), "md", digits)
    # forward 2, shortcut 1, upstream 1, hidden delta 1, 2 x (dW, db), 2 x (W, b) updates
    assert products_follow(markdown) == 13


# --- the general delta, a sum, the bias folded in, and random batches ------------------------------

def test_a_general_output_delta_with_the_bias_folded_and_a_summed_batch() -> None:
    """Seed 000's batch (sigmoid outputs, half squared error over two outputs: no a - y
    for sigmoid) summed, with the bias folded: dL/d[W b] = Delta [A; 1^T]^T."""
    spec = spec_of(BATCH_000)
    spec["reduction"] = "sum"
    want = batch_oracle(spec)
    solution = solve_text(spec, options=Options(matrix=True, fold_bias=True))
    form = batch_form_of(solution)
    assert form.folded and not form.mean
    for b in form.backward:
        assert close(b.gradient.rows, beside(want["dW"][b.number - 1], want["db"][b.number - 1]))
        assert not b.shortcut
    rows = batch_rows(render(solution, "md"))
    top = r"\frac{\partial L}{\partial \left[W^{(2)}\ \mathbf{b}^{(2)}\right]} &="
    assert statement(rows, top)[0].endswith(r"\Delta^{(2)} \left[\begin{matrix}A^{(1)}\\\mathbf{1}^{\top}\end{matrix}\right]^{\top}")
    agrees(last_matrix(statement(rows, top)), beside(want["dW"][1], want["db"][1]))
    assert r"\frac{\partial L}{\partial A^{(2)}} &=" in "\n".join(rows)  # the general output delta
    products_follow(render(solution, "md"))


def random_spec(rng: random.Random) -> dict:
    """A random layered batch: teacher-like two-decimal values, several activations and
    output pairs, mean or sum."""
    d, hidden, m = rng.randint(1, 3), rng.randint(1, 3), rng.randint(2, 4)
    output, loss, k = [("sigmoid", "binary_cross_entropy", 1), ("softmax", "cross_entropy", 3),
                       ("linear", "half_squared_error", 2), ("sigmoid", "squared_error", 2),
                       ("tanh", "mean_squared_error", 2)][rng.randrange(5)]

    def value() -> float:
        return round(rng.uniform(-1, 1), 2)

    inputs = [f"x{i + 1}" for i in range(d)]
    hiddens = [f"h{i + 1}" for i in range(hidden)]
    outs = [f"o{i + 1}" for i in range(k)]

    def target(i: int) -> list[float]:
        if loss == "cross_entropy":
            hot = rng.randrange(k)
            return [1.0 if j == hot else 0.0 for j in range(k)]
        if output == "sigmoid":
            return [float(rng.randrange(2)) for _ in range(k)]
        return [value() for _ in range(k)]

    return {"samples": [{"inputs": {x: value() for x in inputs},
                         "targets": dict(zip(outs, target(i)))} for i in range(m)],
            "reduction": rng.choice(["mean", "sum"]),
            "layers": [{"activation": rng.choice(["sigmoid", "tanh", "relu", "linear"]),
                        "neurons": {h: {"bias": value(), "weights": {x: value() for x in inputs}} for h in hiddens}},
                       {"activation": output,
                        "neurons": {o: {"bias": value(), "weights": {h: value() for h in hiddens}} for o in outs}}],
            "loss": loss, "learning_rate": 0.5}


@pytest.mark.parametrize("seed", range(8))
def test_random_batches_against_the_oracle_and_the_line_checker(seed: int) -> None:
    rng = random.Random(seed)
    spec = random_spec(rng)
    fold = bool(seed % 2)
    want = batch_oracle(spec)
    options = Options(matrix=True, fold_bias=fold)
    form = batch_form_of(solve_text(spec, options=options))
    for b in form.backward:
        expected = want["dW"][b.number - 1]
        if fold:
            expected = beside(expected, want["db"][b.number - 1])
        else:
            assert close(b.bias_gradient.rows, want["db"][b.number - 1])
        assert close(b.gradient.rows, expected)
        assert close(b.deltas.rows, want["Delta"][b.number - 1])
    given = spec_numbers(yaml.safe_dump(spec))
    for policy in ("exact", "by-hand"):
        for digits in (2, 4):
            markdown = render(solve_text(spec, policy, digits, options), "md", digits)
            report = check_markdown(markdown, policy, given)
            assert not report.unparsed and not report.failures, report.message(5)
            products_follow(markdown)


# --- where the batch is not one product per layer ------------------------------------------------

def test_a_hidden_softmax_keeps_the_samples_forms_and_says_why() -> None:
    spec = spec_of(PROBLEM)
    spec["layers"][0]["activation"] = "softmax"
    solution = solve_text(spec)
    form = batch_form_of(solution)
    assert "softmax of layer 1" in form.omitted and form.forward == ()
    assert sum(s.kind == "matrix" for step in solution.steps for s in step.sections) == len(solution.steps)
    markdown = render(solution, "md")
    assert "The batch is not written as one matrix product per layer: the softmax of layer 1" in markdown


def test_a_missing_connection_keeps_the_samples_forms() -> None:
    spec = spec_of(PROBLEM)
    del spec["layers"][1]["neurons"]["o1"]["weights"]["h2"]
    form = batch_form_of(solve_text(spec))
    assert "missing connection" in form.omitted


def test_a_softmax_without_one_hot_targets_is_not_a_minus_y() -> None:
    """Cross-entropy with targets that do not add up to 1: dL/dz = a (sum of y) - y, not
    a - y, and the softmax's Jacobian differs per sample: no batch product, and derive says so."""
    spec = spec_of(PROBLEM)
    spec["samples"][0]["targets"] = {"o1": 0.5, "o2": 0.25, "o3": 0.5}
    want = batch_oracle(spec)
    assert not close(want["Delta"][-1], each(lambda a, y: a - y, want["A"][-1], want["Y"]), 1e-6, 1e-6)
    form = batch_form_of(solve_text(spec))
    assert "softmax of layer 2" in form.omitted and "not A - Y" in form.omitted


def test_sequential_samples_get_no_batch_section() -> None:
    solution = solve(ROOT / "problems" / "seed000_sequential.yaml", options=Options(matrix=True))
    assert not [s for step in solution.steps for s in step.sections if s.kind == "matrix_batch"]


def test_the_batch_section_is_deterministic() -> None:
    assert render(solve(PROBLEM), "md") == render(solve(PROBLEM), "md")
    assert render(solve(PROBLEM), "tex") == render(solve(PROBLEM), "tex")
