"""The extra worked forms against independent oracles: matrix form, closed form, delta form.

Every number of the matrix form must be a gradient of the backward pass and agree with
central finite differences of the oracle's loss (tests/oracle.py, which imports nothing
from derive). Every closed-form gradient, turned back into one SymPy expression with the
spec's numbers, must equal both the finite differences and sympy.diff of the oracle's
independently composed loss, at the spec's values and at random ones. The delta form's
deltas times activations must give the finite differences too. The two problems that
ask for these forms are compiled with LaTeX and their Markdown math rendered.
"""
from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
import re
from pathlib import Path

import mpmath
import oracle
import pytest
import sympy
import yaml
from canonical import DENSE_PROBLEMS as PROBLEMS  # the dense oracle's; CNNs below and in test_cnn.py
from canonical import PROBLEMS as EVERY_PROBLEM
from renderers import check_math, compile_tex, math_fragments, overfull_boxes, require

from derive.api import solve
from derive.closedform import MAX_PARAMETERS, ClosedForm, Composed
from derive.delta import delta_section
from derive.derivation import derive
from derive.evaluate import evaluate
from derive.forms import Options
from derive.matrix import MatrixForm
from derive.network import build_network
from derive.render import render
from derive.mathnodes import Applied, Grid
from derive.document import Solution
from derive.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
MATRIX_PROBLEM = ROOT / "problems" / "seed004_matrix.yaml"
CLOSED_PROBLEM = ROOT / "problems" / "seed001_closed_form.yaml"
BOTH = Options(matrix=True, closed_form=True)
ABS, REL = 1e-6, 1e-5  # central differences with h = 1e-6 are good to about 1e-9


def spec_dict(path: Path, sample: int = 1) -> dict:
    """The spec as the oracle reads it, for one sample (1-based): a spec with
    `samples:` becomes the single-sample spec of that sample, so that the oracle's
    gradients are that sample's (a batch's total is checked by the batch's own tests)."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    if "samples" in spec:
        chosen = spec.pop("samples")[sample - 1]
        spec.pop("reduction", None)
        spec.update(inputs=chosen["inputs"], targets=chosen["targets"])
    return spec


def as_matrices(content: object) -> object:
    """The matrix form's numbers (derive's Grids) as SymPy matrices, so that the test does
    the matrix arithmetic itself; any other section as it is."""
    if not isinstance(content, MatrixForm):
        return content

    def part(item: object) -> object:
        return item._replace(**{k: sympy.Matrix([[exact(x) for x in row] for row in v.rows])
                                for k, v in item._asdict().items() if isinstance(v, Grid)})  # type: ignore[attr-defined]

    def exact(x: object) -> sympy.Expr:  # a double as its exact binary value: float() gives it back
        return sympy.Float(x) if isinstance(x, mpmath.mpf) else sympy.Rational(x)
    return content._replace(forward=tuple(part(f) for f in content.forward),
                            backward=tuple(part(b) for b in content.backward))


def sample_count(path: Path) -> int:
    return len(yaml.safe_load(path.read_text(encoding="utf-8")).get("samples", [None]))


def oracle_key(key: str) -> tuple[str, ...]:
    """derive's parameter key ('x1->h1', 'b:h1') as the oracle's."""
    if key.startswith("b:"):
        return ("bias", key[2:])
    source, target = key.split("->")
    return ("weight", source, target)


ORACLE_ACTIVATIONS = {"linear", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "softmax"}


def oracle_supports(spec: dict) -> bool:
    """The oracle knows the built-in activations only (not formula activations)."""
    return all(layer["activation"] in ORACLE_ACTIVATIONS if isinstance(layer["activation"], str)
               else "formula" not in layer["activation"]
               and layer["activation"].get("name") in ORACLE_ACTIVATIONS
               for layer in spec["layers"])


def section(solution: Solution, kind: str) -> object:
    """The one section of `kind` of the (first) step or of the whole solution."""
    found = [as_matrices(s.content) for s in solution.steps[0].sections + solution.sections if s.kind == kind]
    assert len(found) == 1, f"expected one {kind} section"
    return found[0]


def close(a: float, b: float) -> bool:
    return a == pytest.approx(b, rel=REL, abs=ABS)


FD_CACHE: dict[tuple[Path, int], dict] = {}


def fd_of(problem: Path, sample: int = 1) -> dict | None:
    """The oracle's finite differences for one sample at the spec's values (None: the
    oracle does not know the problem's activations)."""
    if (problem, sample) not in FD_CACHE:
        spec = spec_dict(problem, sample)
        FD_CACHE[(problem, sample)] = oracle.fd_gradients(spec) if oracle_supports(spec) else None
    return FD_CACHE[(problem, sample)]


def layered(path: Path) -> bool:
    spec = spec_dict(path)
    known = [set(spec["inputs"])]
    if any("neurons" not in layer for layer in spec["layers"]):
        return False  # conv or pool layers: no matrix form of their own
    for layer in spec["layers"]:
        if any(set(n["weights"]) - known[-1] for n in layer["neurons"].values()):
            return False
        known.append(set(layer["neurons"]))
    return True


LAYERED = [p for p in PROBLEMS if layered(p)]


@pytest.mark.parametrize("problem", LAYERED, ids=lambda p: p.stem)
def test_matrix_gradients_are_the_gradients_and_the_finite_differences(problem: Path) -> None:
    """Every step's matrices hold that step's gradients; those of a step at the spec's
    values (the first, or each sample of a first batch) are the oracle's finite
    differences for its sample."""
    solution = solve(problem, options=Options(matrix=True))
    network = build_network(load_spec(problem))
    columns = (network.inputs,) + network.layers
    for number, step in enumerate(solution.steps):
        form = as_matrices(next(s.content for s in step.sections if s.kind == "matrix"))
        assert isinstance(form, MatrixForm) and form.layered
        values = step.values
        at_start = step.number == 1 and (step.sample in (None, 1) or not any(
            s.updates for s in solution.steps[:number]))  # no update before it
        fd = fd_of(problem, step.sample or 1) if at_start else None
        for b in form.backward:
            layer, below = columns[b.number], columns[b.number - 1]
            for j, unit in enumerate(layer):
                weights = {w.source: w.key for w in unit.weights}
                for i, source in enumerate(below):
                    entry = float(b.weight_gradient[j, i])
                    if source.name not in weights:
                        assert entry == 0 and b.mask is not None and b.mask[j, i] == 0
                        continue
                    key = weights[source.name]
                    assert entry == float(values.gradients[key])
                    if step.updates:
                        assert float(b.updated_weights[j, i]) == float(values.updated[key])
                    if fd is not None:
                        assert close(entry, fd[oracle_key(key)]), (key, entry, fd[oracle_key(key)])
                bias = unit.bias.key
                assert float(b.bias_gradient[j, 0]) == float(values.gradients[bias])
                assert float(b.deltas[j, 0]) == float(values.gradients[bias])  # delta_j = dL/db_j
                if fd is not None:
                    assert close(float(b.bias_gradient[j, 0]), fd[oracle_key(bias)])
        if number > 0 and solution.steps[number - 1].updates:  # starts from the last updates
            previous = as_matrices(next(s.content for s in solution.steps[number - 1].sections
                                        if s.kind == "matrix"))
            assert [f.weights for f in form.forward] == [b.updated_weights for b in previous.backward[::-1]]


@pytest.mark.parametrize("problem", LAYERED, ids=lambda p: p.stem)
def test_matrix_shapes_and_products_agree(problem: Path) -> None:
    """Each shown product gives the shown result: W a + b = z, f'(z) and the deltas,
    delta a^T = dL/dW, and W - eta dL/dW = the update."""
    form = section(solve(problem, options=Options(matrix=True)), "matrix")
    network = build_network(load_spec(problem))
    widths = [len(network.inputs)] + [len(layer) for layer in network.layers]
    assert [f.number for f in form.forward] == list(range(1, len(widths)))
    assert [b.number for b in form.backward] == list(range(len(widths) - 1, 0, -1))
    for f in form.forward:
        rows, cols = widths[f.number], widths[f.number - 1]
        assert (f.rows, f.cols) == (rows, cols)
        assert f.weights.shape == (rows, cols)
        assert f.inputs.shape == (cols, form.samples)
        assert f.biases.shape == f.z_values.shape == f.a_values.shape == (rows, form.samples)
        z = f.weights * f.inputs + f.biases
        assert all(close(float(z[j]), float(f.z_values[j])) for j in range(rows))
        if f.number > 1:  # a^(l-1) is the layer below's a
            assert f.inputs == form.forward[f.number - 2].a_values
    for b in form.backward:
        rows, cols = widths[b.number], widths[b.number - 1]
        assert b.deltas.shape == b.upstream.shape == (rows, 1)
        assert b.sources_t.shape == (1, cols)
        assert b.weight_gradient.shape == b.updated_weights.shape == (rows, cols)
        if b.elementwise:
            delta = [float(b.upstream[j]) * float(b.derivative_values[j]) for j in range(rows)]
        else:
            assert b.derivative_values.shape == (rows, rows)
            delta = list(b.derivative_values.T * b.upstream)
        assert all(close(float(d), float(b.deltas[j])) for j, d in enumerate(delta))
        if not b.is_output:
            upstream = b.next_weights_t * b.next_deltas
            assert all(close(float(upstream[j]), float(b.upstream[j])) for j in range(rows))
        outer = b.deltas * b.sources_t
        forward = form.forward[b.number - 1]
        for j in range(rows):
            for i in range(cols):
                expected = float(outer[j, i]) if b.mask is None or b.mask[j, i] else 0.0
                assert close(float(b.weight_gradient[j, i]), expected)
                assert close(float(b.updated_weights[j, i]),
                             float(forward.weights[j, i]) - form.eta * float(b.weight_gradient[j, i]))


def test_matrix_form_by_hand_is_its_own_working_from_its_shown_numbers() -> None:
    """By hand, each entry of dL/dW is the shown delta times the shown activation, written
    down by the display rule (4 places, at least 3 significant figures), and that
    value is what its update uses."""
    solution = solve(ROOT / "problems" / "q2.yaml", policy="by-hand", options=Options(matrix=True))
    form = section(solution, "matrix")
    for b in form.backward:
        for j in range(b.weight_gradient.rows):
            for i in range(b.weight_gradient.cols):
                delta, source = (Fraction(str(x)) for x in (b.deltas[j, 0], b.sources_t[0, i]))
                shown = written(Decimal(delta.numerator * source.numerator) /
                                Decimal(delta.denominator * source.denominator))
                assert Fraction(str(b.weight_gradient[j, i])) == Fraction(shown), (j, i)


def written(value: Decimal) -> Decimal:
    """docs/spec.md's rule, at 4 places: half away from zero, at least 3 significant
    figures; below 10^-4, 4 significant figures (shown in scientific form)."""
    if value == 0:
        return value
    places = 4 - 1 - value.adjusted() if value.adjusted() < -4 else max(4, 3 - 1 - value.adjusted())
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


SPARSE = """\
title: sparse
inputs: {x1: 0.5, x2: -1.0, x3: 2.0}
layers:
  - activation: tanh
    neurons:
      h1: {bias: 0.1, weights: {x1: 0.4, x3: -0.6}}
      h2: {bias: -0.2, weights: {x2: 0.3}}
  - activation: sigmoid
    neurons:
      o: {bias: 0.05, weights: {h1: 0.7, h2: -0.4}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.5
"""

SKIP = """\
title: skip
inputs: {x1: 0.5, x2: -1.0}
layers:
  - activation: sigmoid
    neurons:
      h1: {bias: 0.1, weights: {x1: 0.4, x2: -0.6}}
  - activation: sigmoid
    neurons:
      o: {bias: 0.05, weights: {h1: 0.7, x2: 0.2}}
targets: {o: 0}
loss: squared_error
learning_rate: 0.5
"""


def test_sparse_layer_has_zeros_and_a_mask(tmp_path: Path) -> None:
    path = tmp_path / "sparse.yaml"
    path.write_text(SPARSE)
    solution = solve(path, options=Options(matrix=True))
    form = section(solution, "matrix")
    first = form.forward[0]
    assert first.missing == 3
    assert first.weights == sympy.Matrix([[sympy.Rational("0.4"), 0, sympy.Rational("-0.6")],
                                          [0, sympy.Rational("0.3"), 0]])
    hidden = form.backward[-1]
    assert hidden.mask == sympy.ImmutableMatrix([[1, 0, 1], [0, 1, 0]])
    assert hidden.weight_gradient[0, 1] == 0 and hidden.updated_weights[0, 1] == 0
    fd = oracle.fd_gradients(yaml.safe_load(SPARSE))
    assert close(float(hidden.weight_gradient[1, 1]), fd[("weight", "x2", "h2")])
    md = render(solution, "md")
    assert r"\odot M" in md and "3 entries of $W^{(1)}$ are 0" in md


def test_skip_connection_omits_the_matrix_form_with_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "skip.yaml"
    path.write_text(SKIP)
    solution = solve(path, options=Options(matrix=True))
    form = section(solution, "matrix")
    assert not form.layered and form.forward == () and len(form.skips) == 1
    md = render(solution, "md")
    assert "needs a strictly layered network" in md
    assert "$w_{21}^{(0\\to 2)}$ (x2 → o) skips a layer" in md


# --- closed form -----------------------------------------------------------------------------

Z = sympy.Symbol("z")
# the activations written independently of derive's tables
DEFINITIONS = {
    "sigmoid": 1 / (1 + sympy.exp(-Z)),
    "tanh": sympy.tanh(Z),
    "relu": sympy.Piecewise((0, Z <= 0), (Z, True)),
    "softplus": sympy.log(1 + sympy.exp(Z)),
    "linear": Z,
}


def activation(name: str, prime: bool, arg: sympy.Expr, slope: float = 0.01) -> sympy.Expr:
    if name == "leaky_relu":
        f = sympy.Piecewise((slope * Z, Z <= 0), (Z, True))
    else:
        f = DEFINITIONS[name]
    if prime:
        # d/dz with the hand convention at 0 (ReLU'(0) = 0): Piecewise keeps the z <= 0 branch
        f = sympy.piecewise_fold(sympy.diff(f, Z))
    return f.xreplace({Z: arg})


def as_sympy(obj: object, known: dict[sympy.Symbol, sympy.Expr]) -> sympy.Expr:
    """A closed-form node as one SymPy expression, symbols replaced by `known`."""
    if isinstance(obj, Composed):
        inner = sympy.Add(*[as_sympy(w, known) * as_sympy(u, known) for w, u in obj.terms],
                          as_sympy(obj.bias, known))
        return activation(obj.activation, False, inner) if obj.activation else inner
    if isinstance(obj, Applied):
        return activation(obj.activation, obj.prime, as_sympy(obj.arg, known))
    if isinstance(obj, tuple):  # a product of factors
        return sympy.Mul(*[as_sympy(f, known) for f in obj])
    return obj.xreplace(known)  # type: ignore[attr-defined]


def gradient_expr(g: object, known: dict) -> sympy.Expr:
    if not g.middles:  # type: ignore[attr-defined]
        return as_sympy(g.prefix, known)  # type: ignore[attr-defined]
    total = sympy.Add(*[as_sympy(m, known) for m in g.middles])  # type: ignore[attr-defined]
    return as_sympy(g.prefix, known) * total * as_sympy(g.suffix, known)  # type: ignore[attr-defined]


def closed_form_of(problem: Path) -> tuple[ClosedForm, dict, dict[str, sympy.Symbol]]:
    """The closed form, the spec dict, and derive's parameter symbols by key."""
    network = build_network(load_spec(problem))
    derivation = derive(network)
    from derive.closedform import closed_form_section
    form = closed_form_section(derivation).content
    symbols = {p.key: derivation.symbols[p.symbol] for p in network.parameters}
    return form, spec_dict(problem), symbols


def in_oracle_symbols(form: ClosedForm, spec: dict, symbols: dict[str, sympy.Symbol]
                      ) -> tuple[dict, dict]:
    """(known, parameters): every closed-form symbol as an expression in the oracle's
    parameter symbols, the inputs and targets as the spec's numbers."""
    known: dict[sympy.Symbol, sympy.Expr] = {
        key_symbol: oracle._symbol(oracle_key(key)) for key, key_symbol in symbols.items()}
    known.update({x: sympy.Float(v) for x, v in zip(form.inputs, spec["inputs"].values())})
    known.update({y: sympy.Float(v) for y, v in zip(form.targets, spec["targets"].values())})
    for definition in form.definitions:  # layer by layer: each uses only earlier z's
        known[definition.z] = as_sympy(definition.formula, known)
    for prediction in form.predictions:
        known[prediction.symbol] = as_sympy(prediction.nested, known)
    return known, {oracle._symbol(oracle_key(key)): key for key in symbols}


def values_at(spec: dict, rng: random.Random | None) -> dict[sympy.Symbol, sympy.Float]:
    """The spec's parameter values, or random ones."""
    return {oracle._symbol(k): sympy.Float(v if rng is None else rng.uniform(-1.5, 1.5))
            for k, v in oracle._values(spec).items()}


def number(expr: sympy.Expr, at: dict) -> float:
    return float(expr.xreplace(at).evalf(30))


WRITTEN_OUT = [p for p in PROBLEMS if oracle_supports(spec_dict(p))
               and len(oracle.parameters(spec_dict(p))) <= MAX_PARAMETERS
               and all(layer["activation"] != "softmax" for layer in spec_dict(p)["layers"])]


@pytest.mark.parametrize("problem", WRITTEN_OUT, ids=lambda p: p.stem)
def test_closed_form_gradients_equal_finite_differences_and_sympy_diff(problem: Path) -> None:
    form, spec, symbols = closed_form_of(problem)
    assert form.omitted == "" and len(form.gradients) == len(symbols)
    known, _ = in_oracle_symbols(form, spec, symbols)
    composed = oracle.sympy_loss(spec)
    loss = form.loss.xreplace(known)
    fd = fd_of(problem)
    rng = random.Random(f"closed form {problem.stem}")
    points = [values_at(spec, None)] + [values_at(spec, rng) for _ in range(3)]
    for at in points:  # the nested loss is the oracle's loss
        assert number(loss, at) == pytest.approx(number(composed, at), rel=1e-12, abs=1e-12)
    for g in form.gradients:
        ours = gradient_expr(g, known)
        theirs = sympy.diff(composed, oracle._symbol(oracle_key(g.key)))
        assert close(number(ours, points[0]), fd[oracle_key(g.key)]), g.key
        for at in points:
            assert number(ours, at) == pytest.approx(number(theirs, at), rel=1e-10, abs=1e-12), g.key


@pytest.mark.parametrize("problem", WRITTEN_OUT, ids=lambda p: p.stem)
def test_closed_form_gradients_value_to_the_backward_pass(problem: Path) -> None:
    """With the step's numbers, each closed form gives the gradient derive printed."""
    form, spec, symbols = closed_form_of(problem)
    known, _ = in_oracle_symbols(form, spec, symbols)
    values = solve(problem).steps[0].values
    at = values_at(spec, None)
    for g in form.gradients:
        assert number(gradient_expr(g, known), at) == pytest.approx(values.gradients[g.key],
                                                                    rel=1e-12, abs=1e-15)


def test_closed_form_factors_shared_path_ends() -> None:
    """q2's first-layer gradients: two paths, the loss end and the parameter end taken out."""
    form, _, _ = closed_form_of(ROOT / "problems" / "q2.yaml")
    g = next(g for g in form.gradients if g.key == "x1->h1")
    assert g.paths == 2 and len(g.middles) == 2
    assert [type(f).__name__ for f in g.suffix] == ["Applied", "Symbol"]
    assert g.suffix[0].activation == "relu" and g.suffix[0].prime
    assert len(g.prefix) == 2  # dL/dy-hat and sigma'(z^(3))
    single = next(g for g in form.gradients if g.key == "b:o")
    assert single.paths == 1 and single.middles == () and len(single.prefix) == 2


def test_closed_form_of_seed001_reads_like_the_seed() -> None:
    md = render(solve(CLOSED_PROBLEM), "md")
    text = md[md.index("## Closed form"):]
    assert r"L = \left(\hat{y} - y\right)^{2}" in text
    assert (r"\frac{\partial L}{\partial w_{11}^{(1)}} &= 2 \left(\hat{y} - y\right) \cdot "
            r"\sigma'\left(z_{1}^{(2)}\right) \cdot w_{11}^{(2)} \cdot \sigma'\left(z_{1}^{(1)}\right) "
            r"\cdot x_{1}") in text
    assert r"\sigma\left(w_{11}^{(2)} \sigma\left(w_{11}^{(1)} x_{1}" in text  # nested y-hat


def test_large_and_softmax_networks_say_the_closed_form_is_omitted() -> None:
    deep = render(solve(ROOT / "problems" / "deep_34442.yaml", options=Options(closed_form=True)), "md")
    assert re.search(r"This network has \d+ parameters: .* so the closed form is omitted", deep)
    softmax = [p for p in PROBLEMS if any(layer["activation"] == "softmax"
                                          for layer in spec_dict(p)["layers"])]
    for problem in softmax:
        md = render(solve(problem, options=Options(closed_form=True)), "md")
        assert "the closed form is omitted" in md


# --- delta form ------------------------------------------------------------------------------

@pytest.mark.parametrize("problem", list(PROBLEMS), ids=lambda p: p.stem)
def test_delta_times_activation_is_the_finite_difference(problem: Path) -> None:
    # derive's network carries the first sample's inputs; the oracle evaluates formula
    # activations too (its own safe evaluator), so every problem is checked here
    fd = oracle.fd_gradients(spec_dict(problem, 1))
    network = build_network(load_spec(problem))
    derivation = derive(network)
    values = evaluate(derivation)
    layers = delta_section(derivation, values).content
    deltas = {line.neuron: line.value for layer in layers for line in layer.deltas}
    sym = derivation.symbols
    for parameter in network.parameters:
        delta = deltas.get(parameter.neuron, 0.0)  # no line: no targeted output downstream
        if parameter.kind == "weight":
            a = values.symbols[sym[network.units[parameter.source].a_symbol]]
            value = a * delta
        else:
            value = delta
        assert close(float(value), fd[oracle_key(parameter.key)]), parameter.key


# --- the two problems through the real renderers ---------------------------------------------

@pytest.mark.parametrize("problem", [MATRIX_PROBLEM, CLOSED_PROBLEM, ROOT / "problems" / "q2.yaml"],
                         ids=lambda p: p.stem)
def test_forms_compile_without_overfull_boxes(problem: Path, tmp_path: Path) -> None:
    require("latexmk")
    _, log = compile_tex(render(solve(problem, options=BOTH), "tex"), tmp_path)
    assert not re.search(r"^! ", log, re.MULTILINE), "TeX reported an error"
    assert overfull_boxes(log, limit_pt=1.0) == []


@pytest.mark.parametrize("problem", [MATRIX_PROBLEM, CLOSED_PROBLEM, ROOT / "problems" / "q2.yaml"],
                         ids=lambda p: p.stem)
def test_forms_markdown_math_renders(problem: Path) -> None:
    require("node_modules")
    md = render(solve(problem, options=BOTH), "md")
    assert "## Matrix form" in md and "## Closed form" in md
    assert check_math(math_fragments(md)) == []


@pytest.mark.parametrize("problem", list(EVERY_PROBLEM), ids=lambda p: p.stem)
def test_every_problem_renders_with_both_forms(problem: Path) -> None:
    """Whatever the network (softmax, skip connections, custom activations, iterations),
    asking for both forms gives a document: the form, or a sentence saying why not."""
    solution = solve(problem, options=BOTH)
    md, tex = render(solution, "md"), render(solution, "tex")
    assert md.count("## Matrix form") == len(solution.steps) == tex.count(r"\section*{Matrix form}")
    closed = len(solution.parts) or 1  # a spec with parts: each part's own (it writes out its loss)
    assert md.count("## Closed form") == closed == tex.count(r"\section*{Closed form}")


def test_problem_files_ask_for_their_form() -> None:
    assert load_spec(MATRIX_PROBLEM).worked.matrix
    assert load_spec(CLOSED_PROBLEM).worked.closed_form
    assert "## Matrix form" in render(solve(MATRIX_PROBLEM), "md")
    assert "## Closed form" in render(solve(CLOSED_PROBLEM), "md")
    for path in (MATRIX_PROBLEM, CLOSED_PROBLEM):
        assert path.read_text().startswith("# Seed 00")
