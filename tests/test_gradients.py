"""derive's numbers against the independent oracle (tests/oracle.py) and hand values.

Every expected value here comes from outside the `derive` package: the oracle's central
finite differences, the oracle's sympy.diff of the fully composed loss, plain arithmetic
on a spec, or a number printed in DESIGN.md / seeds/READING.md. The product is only ever
on the "actual" side of a comparison.

Parameter keys: the oracle's ("weight", src, dst) / ("bias", neuron) are the product's
"src->dst" / "b:neuron".
"""
from __future__ import annotations

import json
import math
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import sympy
import yaml
from click.testing import CliRunner

import cnn_oracle
from exact_oracle import exact_gradients, load_exact
from oracle import fd_gradients, forward, loss, parameters, sympy_gradients
from random_specs import ACTIVATIONS, _activation, _compatible_losses, random_spec

from cli import main
from derive.api import solve
from derive.derivation import derive
from derive.evaluate import Values, evaluate
from derive.forms import Options
from derive.network import build_network
from derive.solution import build_solution
from derive.spec import load_spec, parse_spec

PROBLEMS_DIR = Path(__file__).resolve().parent.parent / "problems"
from canonical import DENSE_SINGLE_SAMPLE as PROBLEMS  # noqa: E402  (one sample, given values; CNNs: test_cnn.py)
# What the oracle raises for a spec feature it does not implement (unknown activation,
# loss or reduction: ValueError; a key it does not read: KeyError).
ORACLE_UNSUPPORTED = (ValueError, KeyError, NotImplementedError)

FD_TOL = 1e-6  # central differences with h = 1e-6: error ~1e-10 * L, far inside this
SYMPY_REL, SYMPY_ABS = 1e-9, 1e-12  # two exact routes: agree to rounding
# sympy.diff of the whole composed loss costs ~11 s for the 66-parameter 3-4-4-4-2 problem
# (computed once per file); larger problems are skipped by name, never silently.
SYMPY_MAX_PARAMETERS = 70


def key_of(oracle_key: tuple[str, ...]) -> str:
    if oracle_key[0] == "weight":
        return f"{oracle_key[1]}->{oracle_key[2]}"
    return f"b:{oracle_key[1]}"


def spec_value(spec: dict[str, Any], oracle_key: tuple[str, ...]) -> float:
    """A parameter's value read straight from the spec dict."""
    for layer in spec["layers"]:
        for name, neuron in layer["neurons"].items():
            if oracle_key == ("bias", name):
                return float(neuron["bias"])
            if oracle_key[0] == "weight" and oracle_key[2] == name:
                return float(neuron["weights"][oracle_key[1]])
    raise KeyError(oracle_key)


def close(actual: float, expected: float, tol: float) -> bool:
    return abs(actual - expected) <= tol * max(1.0, abs(expected))


def assert_gradients(values: Values, expected: dict[tuple[str, ...], float], *, tol: float = 0.0,
                     rel: float = 0.0, abs_: float = 0.0, label: str = "") -> None:
    """Product gradients equal `expected` (oracle keys), same parameter set."""
    assert set(values.gradients) == {key_of(k) for k in expected}, label
    bad = []
    for okey, want in expected.items():
        got = values.gradients[key_of(okey)]
        ok = close(got, want, tol) if tol else got == pytest.approx(want, rel=rel, abs=abs_)
        if not ok:
            bad.append((key_of(okey), got, want))
    assert not bad, f"{label}: (parameter, product, oracle): {bad}"


# --------------------------------------------------------------------------- the problems

@lru_cache(maxsize=None)
def problem_spec(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def problem_values(path: Path) -> Values:
    return solve(path).steps[0].values


@lru_cache(maxsize=None)
def _oracle(name: str, path: Path) -> Any:
    function = {"fd": fd_gradients, "sympy": sympy_gradients, "loss": loss,
                "parameters": parameters}[name]
    try:
        return function(problem_spec(path))
    except ORACLE_UNSUPPORTED as err:
        return err


def oracle_or_skip(name: str, path: Path) -> Any:
    """An oracle result for a problem, computed once; a spec feature the oracle lacks
    skips *visibly* (pytest -ra lists the reason)."""
    if name == "sympy" and len(parameters(problem_spec(path))) > SYMPY_MAX_PARAMETERS:
        pytest.skip(f"{path.name} has more than {SYMPY_MAX_PARAMETERS} parameters: too slow for "
                    "sympy.diff of the composed loss; finite differences still cover it")
    result = _oracle(name, path)
    if isinstance(result, Exception):
        pytest.skip(f"oracle does not support a feature of {path.name}: {result!r}")
    return result


problem_ids = [p.stem for p in PROBLEMS]


def test_problems_exist() -> None:
    assert PROBLEMS, f"no problems found in {PROBLEMS_DIR}"
    assert PROBLEMS_DIR / "q2.yaml" in PROBLEMS


@pytest.mark.parametrize("path", PROBLEMS, ids=problem_ids)
def test_problem_gradients_match_finite_differences(path: Path) -> None:
    expected = oracle_or_skip("fd", path)
    assert_gradients(problem_values(path), expected, tol=FD_TOL, label=path.name)


@pytest.mark.parametrize("path", PROBLEMS, ids=problem_ids)
def test_problem_gradients_match_sympy(path: Path) -> None:
    expected = oracle_or_skip("sympy", path)
    assert_gradients(problem_values(path), expected, rel=SYMPY_REL, abs_=SYMPY_ABS, label=path.name)


@pytest.mark.parametrize("path", PROBLEMS, ids=problem_ids)
def test_problem_loss_matches_oracle(path: Path) -> None:
    expected = oracle_or_skip("loss", path)
    assert problem_values(path).loss == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("path", PROBLEMS, ids=problem_ids)
def test_problem_updates_are_one_sgd_step(path: Path) -> None:
    spec = problem_spec(path)
    keys = oracle_or_skip("parameters", path)
    expected = oracle_or_skip("fd", path)
    values = problem_values(path)
    eta = float(spec["learning_rate"])
    assert set(values.updated) == {key_of(k) for k in keys}
    for okey in keys:
        key, old = key_of(okey), spec_value(spec, okey)
        # exactly the product's own gradient applied (nothing re-rounded in between) ...
        assert values.updated[key] == pytest.approx(old - eta * values.gradients[key],
                                                    rel=1e-15, abs=1e-15), key
        # ... and the right step: value - eta * (the oracle's gradient)
        assert close(values.updated[key], old - eta * expected[okey], eta * FD_TOL), key


@lru_cache(maxsize=None)
def problem_path_values(path: Path) -> Values:
    """The problem worked path by path (solve works a problem of many paths in delta form)."""
    return evaluate(derive(build_network(load_spec(path)), form="paths"))


@pytest.mark.parametrize("path", PROBLEMS, ids=problem_ids)
def test_problem_paths_sum_to_gradient(path: Path) -> None:
    expected = oracle_or_skip("fd", path)
    values = problem_path_values(path)
    assert set(values.paths) == set(values.gradients)
    for okey, want in expected.items():
        key = key_of(okey)
        assert len(values.paths[key]) >= 1, key
        assert math.fsum(values.paths[key]) == pytest.approx(values.gradients[key], rel=1e-14, abs=1e-17)
        assert close(math.fsum(values.paths[key]), want, FD_TOL), key
        # the key's own gradient (from the deltas, where it is worked in delta form)
        assert problem_values(path).gradients[key] == pytest.approx(values.gradients[key], rel=1e-12, abs=1e-300)


# --------------------------------------------------------------------------- q2 by hand

def printed(actual: float, text: str) -> bool:
    """`actual` shows as `text` when rounded to text's number of decimal places."""
    places = len(text.split(".")[1]) if "." in text else 0
    return abs(actual - float(text)) <= 0.5 * 10.0 ** -places + 1e-15


def q2_json() -> dict[str, Any]:
    import json

    from derive.render import render
    return json.loads(render(solve(PROBLEMS_DIR / "q2.yaml"), "json"))


def test_q2_forward_by_plain_arithmetic() -> None:
    step = q2_json()["steps"][0]
    # seeds/READING.md, 002: "the page checks: z1 = 5.02, z2 = 4.52"; ReLU passes them on
    assert 0.42 * 6 + 0.72 * 2 + 0.21 * 5 + 0.01 == pytest.approx(5.02)
    assert step["forward"]["h1"]["z"] == pytest.approx(5.02, abs=1e-12)
    assert step["forward"]["h2"]["z"] == pytest.approx(4.52, abs=1e-12)
    assert step["forward"]["h1"]["a"] == pytest.approx(5.02, abs=1e-12)
    assert step["forward"]["h2"]["a"] == pytest.approx(4.52, abs=1e-12)
    # READING.md: "a3 ~ 0.734, L ~ 0.0353"; DESIGN.md JSON: a of o is 0.7349
    assert printed(step["forward"]["o"]["a"], "0.7349")
    assert printed(step["forward"]["o"]["a"], "0.735")


def test_q2_matches_design_md_answer_key() -> None:
    # the JSON example in DESIGN.md ("JSON answer key — the canonical minimum")
    step = q2_json()["steps"][0]
    assert printed(step["loss"], "0.035127")
    params = {(p["kind"], p.get("from"), p.get("to"), p.get("neuron")): p for p in step["parameters"]}
    w = params[("weight", "x1", "h1", None)]
    assert w["symbol"] == "w_{11}^{(1)}"
    assert w["value"] == 0.42
    assert printed(w["gradient"], "-0.0028708")
    assert printed(w["updated"], "0.4220096")
    b = params[("bias", None, None, "h1")]
    assert b["symbol"] == "b_{1}^{(1)}"
    assert b["value"] == 0.01
    assert printed(b["gradient"], "-0.0004785")
    assert printed(b["updated"], "0.0103349")


def test_q2_hidden_layer_one_gradients_have_two_paths() -> None:
    # READING.md, 002: "at hidden layer 1 every gradient is a sum over two paths"
    values = problem_values(PROBLEMS_DIR / "q2.yaml")
    first = [f"{x}->{h}" for h in ("h1", "h2") for x in ("x1", "x2", "x3")] + ["b:h1", "b:h2"]
    for key in first:
        assert len(values.paths[key]) == 2, key
    for key in ("h1->g1", "h2->g1", "b:g1", "h1->g2", "h2->g2", "b:g2", "g1->o", "g2->o", "b:o"):
        assert len(values.paths[key]) == 1, key


# --------------------------------------------------------------------------- seed 000

def test_seed000_outputs_and_dead_unit() -> None:
    path = PROBLEMS_DIR / "seed000_dead_relu.yaml"
    import json

    from derive.render import render
    sol = solve(path)
    step = json.loads(render(sol, "json"))["steps"][0]
    # seeds/READING.md, 000: outputs ~ 0.432907 and 0.608259; hidden activations (0.1, 0, 0.9)
    assert printed(step["forward"]["o1"]["a"], "0.432907")
    assert printed(step["forward"]["o2"]["a"], "0.608259")
    assert [step["forward"][h]["a"] for h in ("h1", "h2", "h3")] == pytest.approx([0.1, 0.0, 0.9])
    assert step["forward"]["h2"]["z"] == pytest.approx(-0.3)
    # dL1/do1 = -0.567093 and dL2/do2 = 0.608259 (READING.md), times sigma' = o(1 - o)
    values = sol.steps[0].values
    assert values.gradients["b:o1"] == pytest.approx(-0.567093 * 0.432907 * (1 - 0.432907), rel=2e-6)
    assert values.gradients["b:o2"] == pytest.approx(0.608259 * 0.608259 * (1 - 0.608259), rel=2e-6)
    # the dead unit: exactly zero, not merely small
    for key in ("x1->h2", "x2->h2", "x3->h2", "b:h2"):
        assert values.gradients[key] == 0.0, key
        assert all(p == 0.0 for p in values.paths[key]), key
        # unchanged, exactly the spec's decimal
        assert values.updated[key] == Fraction({"x1->h2": "-0.3", "x2->h2": "0.4", "x3->h2": "-0.2",
                                                "b:h2": "-0.2"}[key])
    # one path through each output for every hidden parameter (READING.md: dL1/dw + dL2/dw)
    for key in ("x1->h1", "b:h1", "x3->h3", "b:h3"):
        assert len(values.paths[key]) == 2, key


# --------------------------------------------------------------------------- random networks

def product_values(spec: dict[str, Any]) -> Values:
    """The product pipeline on a spec dict, through its YAML text like a user file."""
    text = yaml.safe_dump(spec, sort_keys=False)
    derivation = derive(build_network(parse_spec(text, f"<{spec['title']}>")))
    values = evaluate(derivation)
    build_solution(derivation, values)  # the document model must build too
    return values


def random_cases() -> list[tuple[str, int, dict[str, Any]]]:
    """(id, seed, random_spec options): fixed seeds over several shapes."""
    cases = [(f"default-{s}", s, {}) for s in range(150)]  # up to 4 layers of width 4
    cases += [(f"deep-{s}", s, {"max_layers": 5, "max_width": 3}) for s in range(1000, 1040)]
    cases += [(f"wide-{s}", s, {"max_layers": 2, "max_width": 6}) for s in range(2000, 2030)]
    cases += [(f"single-{s}", s, {"max_layers": 1, "max_width": 4}) for s in range(3000, 3020)]
    for i, act in enumerate(ACTIVATIONS):  # every activation alone, in every layer
        cases += [(f"{act}-{s}", s, {"activations": (act,)}) for s in range(4000 + 100 * i, 4012 + 100 * i)]
    return cases


RANDOM_CASES = random_cases()


@lru_cache(maxsize=None)
def _spec_yaml(seed: int, options: tuple[tuple[str, Any], ...]) -> str:
    return yaml.safe_dump(random_spec(seed, **dict(options)), sort_keys=False)


def case_spec(seed: int, options: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(_spec_yaml(seed, tuple(sorted(options.items()))))  # a fresh copy


@pytest.mark.parametrize("seed, options", [(s, o) for _, s, o in RANDOM_CASES],
                         ids=[i for i, _, _ in RANDOM_CASES])
def test_random_network_matches_finite_differences(seed: int, options: dict[str, Any]) -> None:
    spec = case_spec(seed, options)
    values = product_values(spec)
    assert_gradients(values, fd_gradients(spec), tol=FD_TOL, label=f"seed {seed} {options}")
    assert values.loss == pytest.approx(loss(spec), rel=1e-12, abs=1e-15)
    eta = float(spec["learning_rate"])
    for okey in parameters(spec):
        key = key_of(okey)
        assert math.fsum(values.paths[key]) == pytest.approx(values.gradients[key], rel=1e-12, abs=1e-15)
        assert values.updated[key] == pytest.approx(spec_value(spec, okey) - eta * values.gradients[key],
                                                    rel=1e-15, abs=1e-15)


def test_random_cases_cover_the_generator() -> None:
    """The fixed seeds above reach every combination the generator can make."""
    assert len(RANDOM_CASES) >= 200
    seen_last: set[tuple[str, str]] = set()
    seen_hidden: set[str] = set()
    sparse = skip = custom_slope = multi_output = 0
    for _, seed, options in RANDOM_CASES:
        spec = case_spec(seed, options)
        acts = [_activation(layer)[0] for layer in spec["layers"]]
        seen_last.add((acts[-1], spec["loss"]))
        seen_hidden.update(acts[:-1])
        custom_slope += any(isinstance(layer["activation"], dict) for layer in spec["layers"])
        multi_output += len(spec["targets"]) > 1
        previous = list(spec["inputs"])
        for layer in spec["layers"]:
            for neuron in layer["neurons"].values():
                sources = set(neuron["weights"])
                sparse += not set(previous) <= sources
                skip += bool(sources - set(previous))
            previous = list(layer["neurons"])
    combos = {(a, l) for a in ACTIVATIONS for l in _compatible_losses(a)}
    assert seen_last == combos, combos - seen_last
    assert seen_hidden == set(ACTIVATIONS)
    assert sparse >= 20 and skip >= 20 and custom_slope >= 10 and multi_output >= 50


SYMPY_SEEDS = range(500, 530)


@pytest.mark.parametrize("seed", SYMPY_SEEDS)
def test_small_random_network_matches_sympy(seed: int) -> None:
    # small: sympy.diff of stacked ReLU layers grows fast (see oracle._act_sym)
    spec = random_spec(seed, max_layers=3, max_width=2)
    assert_gradients(product_values(spec), sympy_gradients(spec), rel=SYMPY_REL, abs_=SYMPY_ABS,
                     label=f"seed {seed}")


# --------------------------------------------------------------------------- edge cases

def kink_spec(activation: Any) -> dict[str, Any]:
    """z of h is exactly 0 (dyadic numbers: the float arithmetic is exact)."""
    return {"title": "kink", "inputs": {"x": 1},
            "layers": [{"activation": activation,
                        "neurons": {"h": {"bias": -0.5, "weights": {"x": 0.5}}}},
                       {"activation": "linear", "neurons": {"o": {"bias": 0.25, "weights": {"h": 2}}}}],
            "targets": {"o": 1}, "loss": "squared_error", "learning_rate": 0.125}


@pytest.mark.parametrize("activation, slope_at_zero", [
    ("relu", "0"), ("leaky_relu", "0.01"), ({"name": "leaky_relu", "slope": 0.25}, "0.25")])
def test_relu_family_at_exactly_zero(activation: Any, slope_at_zero: str) -> None:
    """At z = 0 finite differences are undefined; the convention (DESIGN: ReLU' = 0 there,
    the z <= 0 branch) is the oracle's sympy Piecewise, and easy by hand too."""
    spec = kink_spec(activation)
    assert forward(spec)["h"][0] == 0.0
    values = product_values(spec)
    assert_gradients(values, sympy_gradients(spec), rel=SYMPY_REL, abs_=SYMPY_ABS, label=str(activation))
    # by hand: o = 2*f(0) + 0.25 = 0.25, dL/do = 2(o - 1) = -1.5, dL/dz_h = -1.5 * 2 * f'(0)
    # (exactly: every value here is a decimal, computed exactly)
    assert values.gradients["b:o"] == Fraction("-1.5")
    assert values.gradients["b:h"] == -3 * Fraction(slope_at_zero)
    assert values.gradients["x->h"] == -3 * Fraction(slope_at_zero)


def test_loss_sums_over_targeted_outputs_only() -> None:
    """targets may name some of the outputs; mean_squared_error divides by their number."""
    spec = {"title": "partial targets", "inputs": {"x": 0.3},
            "layers": [{"activation": "sigmoid", "neurons": {
                "o1": {"bias": 0.1, "weights": {"x": 0.5}},
                "o2": {"bias": -0.2, "weights": {"x": 0.7}},
                "o3": {"bias": 0.0, "weights": {"x": -0.7}}}}],
            "targets": {"o1": 1, "o3": 0}, "loss": "mean_squared_error", "learning_rate": 0.1}
    values = product_values(spec)
    fw = forward(spec)
    assert values.loss == pytest.approx(((1 - fw["o1"][1]) ** 2 + fw["o3"][1] ** 2) / 2, rel=1e-14)
    assert values.loss == pytest.approx(loss(spec), rel=1e-14)
    assert_gradients(values, sympy_gradients(spec), rel=SYMPY_REL, abs_=SYMPY_ABS)
    assert values.gradients["x->o2"] == 0.0 and values.gradients["b:o2"] == 0.0
    assert values.paths["b:o2"] == ()  # nothing downstream of o2 reaches the loss


def saturated_spec(z: float) -> dict[str, Any]:
    return {"title": "saturated", "inputs": {"x": 1},
            "layers": [{"activation": "sigmoid", "neurons": {"o": {"bias": 0, "weights": {"x": z}}}}],
            "targets": {"o": 0.3}, "loss": "binary_cross_entropy", "learning_rate": 0.1}


@pytest.mark.parametrize("z", [-700.0, -40.0, -5.0, 3.0, 10.0])
def test_saturated_sigmoid_binary_cross_entropy(z: float) -> None:
    """Far into the tails the values are tiny but finite and still right."""
    spec = saturated_spec(z)
    values = product_values(spec)
    assert values.loss == pytest.approx(loss(spec), rel=1e-12)
    # sigmoid + BCE: dL/dz = a - y (READING.md, 003), and dz/dw = x = 1
    a = 1 / (1 + math.exp(-z))
    assert values.gradients["b:o"] == pytest.approx(a - 0.3, rel=1e-9)
    assert values.gradients["x->o"] == pytest.approx(a - 0.3, rel=1e-9)


@pytest.mark.parametrize("z", [20.0, 30.0, 35.0])
def test_saturated_sigmoid_binary_cross_entropy_prints_right_digits(z: float) -> None:
    """sigma(z) rounds to within 1e-16 of 1 here, so 1 - a computed from the stored a has
    few correct digits. The oracle shares the weakness (float / 15-digit sympy), so the
    expected values are closed forms: dL/dz = a - y and L = 0.7 z + log(1 + e^-z)."""
    from derive.latex import format_number
    values = product_values(saturated_spec(z))
    exact_gradient = 1 / (1 + math.exp(-z)) - 0.3
    exact_loss = 0.7 * z + math.log1p(math.exp(-z))
    assert format_number(values.gradients["b:o"], 4).text == format_number(exact_gradient, 4).text
    assert format_number(values.loss, 4).text == format_number(exact_loss, 4).text


# --------------------------------------------------------------------------- delta form: no paths

DENSE_232 = {
    "title": "2-3-2 sigmoid", "inputs": {"x1": 0.35, "x2": -0.9},
    "layers": [
        {"activation": "sigmoid", "neurons": {
            "h1": {"bias": 0.1, "weights": {"x1": 0.15, "x2": -0.2}},
            "h2": {"bias": -0.3, "weights": {"x1": 0.4, "x2": 0.25}},
            "h3": {"bias": 0.05, "weights": {"x1": -0.5, "x2": 0.3}}}},
        {"activation": "sigmoid", "neurons": {
            "o1": {"bias": 0.2, "weights": {"h1": 0.6, "h2": -0.1, "h3": 0.45}},
            "o2": {"bias": -0.15, "weights": {"h1": -0.35, "h2": 0.5, "h3": 0.2}}}}],
    "targets": {"o1": 1, "o2": 0}, "loss": "half_squared_error", "learning_rate": 0.5}


def deep_narrow(layers: int = 20) -> dict[str, Any]:
    """`layers` sigmoid layers of width 2: 2^(layers - 1) paths per first-layer weight."""
    spec: dict[str, Any] = {"title": f"{layers} layers of 2", "inputs": {"x1": 0.5, "x2": -0.25},
                            "layers": [], "targets": {}, "loss": "half_squared_error",
                            "learning_rate": 0.1}
    sources = ["x1", "x2"]
    for layer in range(1, layers + 1):
        names = [f"n{layer}_{j}" for j in (1, 2)]
        spec["layers"].append({"activation": "sigmoid", "neurons": {
            name: {"bias": round(0.1 * ((layer + j) % 5) - 0.2, 2),
                   "weights": {s: round(0.9 - 0.3 * ((layer * 3 + j * 2 + k) % 7), 2)
                               for k, s in enumerate(sources)}}
            for j, name in enumerate(names)}})
        sources = names
    spec["targets"] = {sources[0]: 1, sources[1]: 0}
    return spec


def json_gradients(path: Path, *options: str) -> dict[str, dict[str, Any]]:
    """The JSON key's parameters by symbol, from `derive solve PATH -f json OPTIONS`."""
    result = CliRunner().invoke(main, ["solve", str(path), "-f", "json", *options])
    assert result.exit_code == 0, result.output
    return {entry["symbol"]: entry for entry in json.loads(result.stdout)["steps"][0]["parameters"]}


def written(spec: dict[str, Any], folder: Path) -> Path:
    path = folder / "net.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


DELTA_CASES = ["dense_232", "seed003_softmax.yaml", "deep_34442.yaml", "cnn_example.yaml",
               "cnn_average_pool.yaml", "cnn_two_channels.yaml"]


@pytest.mark.parametrize("case", DELTA_CASES)
@pytest.mark.parametrize("policy", ["exact", "by-hand"])
def test_delta_form_gradients_equal_the_path_form(case: str, policy: str, tmp_path: Path) -> None:
    """--form delta (no path built) gives the path form's gradients, and its JSON key
    lists no path values; the path form's sum over paths is the independent route."""
    path = written(DENSE_232, tmp_path) if case == "dense_232" else PROBLEMS_DIR / case
    by_paths = json_gradients(path, "--form", "paths", "--max-paths", "5000", "--rounding", policy)
    by_deltas = json_gradients(path, "--form", "delta", "--rounding", policy)
    assert list(by_deltas) == list(by_paths)
    for symbol, entry in by_deltas.items():
        want = by_paths[symbol]
        assert entry["paths"] == [], symbol
        if policy == "exact":  # by hand each form rounds its own working
            assert entry["gradient"] == pytest.approx(want["gradient"], rel=1e-12, abs=1e-300), symbol
            assert entry["updated"] == pytest.approx(want["updated"], rel=1e-12, abs=1e-300), symbol
            assert math.fsum(want["paths"]) == pytest.approx(want["gradient"], rel=1e-12, abs=1e-15), symbol


@pytest.mark.parametrize("case", ["dense_232", "cnn_example.yaml", "cnn_two_channels.yaml"])
def test_delta_form_gradients_equal_the_oracles(case: str, tmp_path: Path) -> None:
    """Against backpropagation written outside derive: tests/exact_oracle.py (dense) and
    tests/cnn_oracle.py (maps), both in exact decimals and 50+ digit mpmath."""
    if case == "dense_232":
        path = written(DENSE_232, tmp_path)
        want = {key_of(k): v for k, v in exact_gradients(load_exact(path.read_text())).items()}
        got = dict(solve(path, options=Options("delta")).steps[0].values.gradients)
    else:
        path = PROBLEMS_DIR / case
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        from test_cnn import oracle_key
        shown = json_gradients(path, "--form", "delta")
        want = {oracle_key(entry): cnn_oracle.gradients(spec)[oracle_key(entry)] for entry in shown.values()}
        got = {oracle_key(entry): entry["gradient"] for entry in shown.values()}
    assert set(got) == set(want)
    for key, value in got.items():
        assert float(value) == pytest.approx(float(want[key]), rel=1e-12, abs=1e-15), key


def test_delta_form_of_relu_networks_stays_exact() -> None:
    """Decimal inputs, ReLU and linear units: every gradient is an exact Fraction in
    both forms, and the same one."""
    for seed in range(4000, 4012):  # every layer ReLU (see random_cases)
        text = _spec_yaml(seed, (("activations", ("relu",)),))
        network = build_network(parse_spec(text, f"<relu {seed}>"))
        by_deltas = evaluate(derive(network, form="delta"))
        by_paths = evaluate(derive(network, form="paths"))
        for key, value in by_paths.gradients.items():
            assert isinstance(value, Fraction) and by_deltas.gradients[key] == value, (seed, key)
            assert by_deltas.updated[key] == by_paths.updated[key], (seed, key)


@pytest.mark.parametrize("seed, options", [(s, o) for _, s, o in RANDOM_CASES[::3]],
                         ids=[i for i, _, _ in RANDOM_CASES[::3]])
def test_delta_form_registers_the_locals_the_paths_use(seed: int, options: dict[str, Any]) -> None:
    """The delta form's sweep registers exactly the local derivatives the path
    enumeration does (sparse layers, skip connections, untargeted outputs), and its
    gradients are the sums over the paths."""
    text = _spec_yaml(seed, tuple(sorted(options.items())))
    network = build_network(parse_spec(text, f"<seed {seed}>"))
    delta, paths = derive(network, form="delta"), derive(network, form="paths")
    assert all(g.paths == () for g in delta.gradients) and not delta.has_paths
    assert {(f.num, f.den) for f in delta.locals} == {(f.num, f.den) for f in paths.locals}
    assert delta.worst_paths == paths.worst_paths == max((len(g.paths) for g in paths.gradients), default=0)
    by_deltas, by_paths = evaluate(delta), evaluate(paths)
    assert set(by_deltas.paths) == set(by_paths.paths) and all(v == () for v in by_deltas.paths.values())
    for key, value in by_paths.gradients.items():
        assert by_deltas.gradients[key] == pytest.approx(value, rel=1e-12, abs=1e-300), key


@pytest.mark.parametrize("name", ["cnn_example.yaml", "cnn_average_pool.yaml", "cnn_map_output.yaml",
                                  "cnn_two_channels.yaml"])
def test_delta_form_of_a_cnn_registers_the_locals_the_paths_use(name: str) -> None:
    network = build_network(load_spec(PROBLEMS_DIR / name))
    delta, paths = derive(network, form="delta"), derive(network, form="paths", max_paths=5000)
    assert {(f.num, f.den) for f in delta.locals} == {(f.num, f.den) for f in paths.locals}
    # each max-pooling unit's routing, built as SymPy would evaluate it
    routes = [f for f in paths.locals if f.kind == "edge" and isinstance(f.formula, sympy.Piecewise)]
    assert bool(routes) == any(unit.pool == "max" for unit in network.neurons)
    for factor in routes:
        (_, condition), _ = factor.formula.args
        sources = [s for s in factor.args if s != factor.den]
        position = factor.args.index(factor.den)
        above = [factor.den > s for s in sources[:position]] + [factor.den >= s for s in sources[position:]]
        evaluated = sympy.Piecewise((1, sympy.And(*above)), (0, True))
        assert factor.formula == evaluated and sympy.srepr(factor.formula) == sympy.srepr(evaluated)


def test_deep_narrow_network_solves_in_delta_form_without_paths(tmp_path: Path) -> None:
    """20 sigmoid layers of width 2: 2^19 paths per first-layer weight, none built."""
    spec = deep_narrow(20)
    path = written(spec, tmp_path)
    network = build_network(load_spec(path))
    derivation = derive(network, form="delta")
    assert derivation.worst_paths == 2 ** 19 and derivation.form == "delta"
    assert len(derivation.gradients) == 20 * 6
    assert all(g.paths == () for g in derivation.gradients)
    auto = derive(network, form="auto")  # too many paths to print: delta, and none built
    assert auto.form == "delta" and all(g.paths == () for g in auto.gradients)
    solution = solve(path, options=Options("delta"))
    values = solution.steps[0].values
    blocks = [block for layer in solution.steps[0].backward for block in layer.gradients]
    assert len(blocks) == 120 and all(block.paths == () and block.terms == () for block in blocks)
    want = {key_of(k): v for k, v in exact_gradients(load_exact(path.read_text())).items()}
    assert set(values.gradients) == set(want)
    for key, value in values.gradients.items():
        assert float(value) == pytest.approx(float(want[key]), rel=1e-12, abs=1e-300), key
    # the path form would build 2^19 paths per weight: refused, and the delta form named
    result = CliRunner().invoke(main, ["solve", str(path), "--form", "paths", "-f", "json"])
    assert result.exit_code != 0 and "--form delta" in result.output


def test_closed_form_in_delta_form(tmp_path: Path) -> None:
    """The closed form is read off the paths: asked for beside the delta form, they are
    built for it, and the gradients still come from the deltas."""
    path = written(DENSE_232, tmp_path)
    network = build_network(load_spec(path))
    derivation = derive(network, form="delta", closed_form=True)
    assert derivation.form == "delta" and derivation.has_paths
    assert all(len(g.paths) >= 1 for g in derivation.gradients)
    values = evaluate(derivation)
    assert all(v == () for v in values.paths.values())
    solution = solve(path, options=Options("delta", closed_form=True))
    assert any(s.kind == "closed_form" for s in solution.sections)
    # too many parameters for a closed form: it is omitted, and no path is built
    assert not derive(build_network(parse_spec(yaml.safe_dump(deep_narrow(6)), "<deep>")),
                      form="delta", closed_form=True).has_paths

