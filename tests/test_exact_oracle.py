"""derive against the exact-decimal oracle (exact_oracle.py), and that oracle's own checks.

Issue 9: a teacher writes x1 = 3, w = 0.1, b = -0.3 to put a ReLU unit at exactly z = 0;
the key must take the z <= 0 branch there. The float oracle cannot see this (its own
forward pass gets 3 * 0.1 - 0.3 = 5.5e-17), so this file checks derive against an oracle
that reads the spec's decimals exactly, on 1,000 random networks written the way teachers
write them (teacher_specs.py), with units at exactly z = 0 and unused inputs among them.

Sections: the oracle by hand; the oracle against sympy (exact Rationals) and the float
oracle; the generator; derive against the oracle. Only the last imports `derive`, and
only to run it.

Run the survey that categorises derive's failures: python tests/test_exact_oracle.py
"""
from __future__ import annotations

import copy
import json
import math
import sys
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import sympy
import yaml

sys.path.insert(0, str(Path(__file__).parent))  # for `python tests/test_exact_oracle.py`

from canonical import CANONICAL  # noqa: E402
from exact_oracle import (MP, ExactKey, exact_activation, exact_forward, exact_number,  # noqa: E402
                          exact_solve, is_exact, kink_units, load_exact, sympy_exact_gradients,
                          sympy_exact_loss, to_mp, unused_inputs)
from oracle import _symbol, fd_gradients, parameters, sympy_gradients  # noqa: E402
from random_specs import random_spec  # noqa: E402
from teacher_specs import teacher_spec  # noqa: E402

N_NETWORKS = 1000  # issue 9, "Done when": >= 1,000 random networks with decimal values
N_SYMPY = 300  # oracle vs sympy cross-checks (small networks: sympy.diff is slow)
REL, ABS = 1e-9, 1e-13  # derive (doubles) vs the oracle (exact / 60 digits)
ZERO_ABS = 1e-15  # a gradient that is exactly 0 must show as 0 (or within this)

F = Fraction

ISSUE_UNIT = """
inputs: {x1: 3}
layers:
  - activation: relu
    neurons:
      o: {bias: -0.3, weights: {x1: 0.1}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.5
"""

# Two layers, a unit at exactly 0 in each (values worked by hand in test_deep_zero_by_hand)
DEEP_ZERO = """
inputs: {x1: 2, x2: 0.5}
layers:
  - activation: relu
    neurons:
      h1: {bias: -0.5, weights: {x1: 0.3, x2: -0.2}}
      h2: {bias: 0.1, weights: {x1: 0.1, x2: 0.4}}
  - activation: {name: leaky_relu, slope: 0.2}
    neurons:
      o: {bias: 0.2, weights: {h1: 0.7, h2: -0.4}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.5
"""

UNUSED_INPUT = """
inputs: {x1: 1, x2: 5, x3: 0.5}
layers:
  - activation: sigmoid
    neurons:
      h: {bias: 0.1, weights: {x1: 0.4, x3: -0.2}}
  - activation: linear
    neurons:
      o: {bias: 0, weights: {h: 0.5}}
targets: {o: 1}
loss: squared_error
learning_rate: 0.1
"""

SEED000_YAML = """
inputs: {x1: 1, x2: 2, x3: 3}
layers:
  - activation: relu
    neurons:
      h1: {bias: -0.1, weights: {x1: 0.1, x2: 0.2, x3: -0.1}}
      h2: {bias: -0.2, weights: {x1: -0.3, x2: 0.4, x3: -0.2}}
      h3: {bias: 0.1, weights: {x1: 0.5, x2: 0.6, x3: -0.3}}
  - activation: sigmoid
    neurons:
      o1: {bias: -0.1, weights: {h1: 0.1, h2: -0.1, h3: -0.2}}
      o2: {bias: 0.2, weights: {h1: -0.3, h2: 0.2, h3: 0.3}}
targets: {o1: 1, o2: 0}
loss: half_squared_error
learning_rate: 0.5
"""


def with_activation(text: str, activation: str) -> dict[str, Any]:
    spec = yaml.safe_load(text)
    spec["layers"][-1]["activation"] = yaml.safe_load(activation)
    return spec


# =========================================================================== the oracle by hand

def test_exact_number_reads_the_typed_decimal() -> None:
    assert exact_number(0.1) == F(1, 10) and exact_number(-0.3) == F(-3, 10)
    assert exact_number(3) == 3 and exact_number(0.25) == F(1, 4) and exact_number(1e-3) == F(1, 1000)
    assert 3 * 0.1 - 0.3 > 0  # the double arithmetic this oracle exists to avoid
    assert 3 * exact_number(0.1) - exact_number(0.3) == 0
    with pytest.raises(TypeError):
        exact_number(True)
    # reading the YAML text itself gives the same numbers as reading the floats' reprs
    text = "a: 0.1\nb: -0.30\nc: 1.0e-3\nd: 7\ne: 0.123456789012345"
    assert load_exact(text) == {"a": F(1, 10), "b": F(-3, 10), "c": F(1, 1000), "d": 7,
                                "e": F(123456789012345, 10**15)}
    assert {k: exact_number(v) for k, v in yaml.safe_load(text).items()} == load_exact(text)


def test_issue_unit_relu_by_hand() -> None:
    # issue 9 item 1. z = 3 * 0.1 - 0.3 = 0 exactly; ReLU(0) = 0; L = 1/2 (0 - 1)^2 = 1/2.
    # dL/da = a - y = -1, ReLU'(0) = 0 (z <= 0 branch), so dL/dz = 0: both gradients 0,
    # and nothing moves.
    key = exact_solve(yaml.safe_load(ISSUE_UNIT))
    assert key.forward["o"] == (0, 0) and all(map(is_exact, key.forward["o"]))
    assert key.loss == F(1, 2)
    assert key.gradients == {("weight", "x1", "o"): 0, ("bias", "o"): 0}
    assert all(is_exact(g) for g in key.gradients.values())
    assert key.updated == {("weight", "x1", "o"): F(1, 10), ("bias", "o"): F(-3, 10)}
    assert kink_units(yaml.safe_load(ISSUE_UNIT)) == ["o"]


@pytest.mark.parametrize("activation, slope", [
    ("{name: leaky_relu, slope: 0.1}", F(1, 10)), ("leaky_relu", F(1, 100))])
def test_issue_unit_leaky_by_hand(activation: str, slope: Fraction) -> None:
    # z = 0, a = s * 0 = 0, L = 1/2. dL/dz = leaky'(0) * (a - y) = s * (-1) = -s;
    # dL/dw = x1 * (-s) = -3s, dL/db = -s; with eta = 0.5: w <- 0.1 + 1.5s, b <- -0.3 + 0.5s.
    # slope 0.1: -0.3, -0.1, 0.25, -0.25; default slope 0.01: -0.03, -0.01, 0.115, -0.295.
    key = exact_solve(with_activation(ISSUE_UNIT, activation))
    assert key.forward["o"] == (0, 0) and key.loss == F(1, 2)
    assert key.gradients == {("weight", "x1", "o"): -3 * slope, ("bias", "o"): -slope}
    assert key.updated == {("weight", "x1", "o"): F(1, 10) + F(3, 2) * slope,
                           ("bias", "o"): F(-3, 10) + slope / 2}
    if slope == F(1, 10):
        assert key.gradients[("weight", "x1", "o")] == F(-3, 10)
        assert key.updated[("weight", "x1", "o")] == F(1, 4)


def test_deep_zero_by_hand() -> None:
    # forward: z_h1 = 0.3*2 - 0.2*0.5 - 0.5 = 0.6 - 0.1 - 0.5 = 0 -> a_h1 = 0
    #          z_h2 = 0.1*2 + 0.4*0.5 + 0.1 = 0.5              -> a_h2 = 0.5
    #          z_o  = 0.7*0 - 0.4*0.5 + 0.2 = 0 (leaky, slope 0.2) -> a_o = 0
    # loss:    1/2 (0 - 1)^2 = 1/2
    # backward: delta_o = 0.2 * (0 - 1) = -0.2
    #   dL/dw(h1->o) = 0 * -0.2 = 0, dL/dw(h2->o) = 0.5 * -0.2 = -0.1, dL/db_o = -0.2
    #   delta_h1 = ReLU'(0) * 0.7 * -0.2 = 0: x1->h1, x2->h1, b_h1 all 0
    #   delta_h2 = 1 * (-0.4) * (-0.2) = 0.08: x1->h2 = 0.16, x2->h2 = 0.04, b_h2 = 0.08
    spec = yaml.safe_load(DEEP_ZERO)
    key = exact_solve(spec)
    assert {n: za for n, za in key.forward.items()} == {
        "h1": (0, 0), "h2": (F(1, 2), F(1, 2)), "o": (0, 0)}
    assert key.loss == F(1, 2)
    assert key.gradients == {
        ("weight", "x1", "h1"): 0, ("weight", "x2", "h1"): 0, ("bias", "h1"): 0,
        ("weight", "x1", "h2"): F(16, 100), ("weight", "x2", "h2"): F(4, 100),
        ("bias", "h2"): F(8, 100),
        ("weight", "h1", "o"): 0, ("weight", "h2", "o"): F(-1, 10), ("bias", "o"): F(-2, 10)}
    assert all(is_exact(g) for g in key.gradients.values())
    assert kink_units(spec) == ["h1", "o"]


def test_sigmoid_at_zero_stays_exact() -> None:
    # z = 0: sigma(0) = 1/2 exactly; BCE with y = 1: L = -ln(1/2) = ln 2;
    # dL/da = -y/a + (1-y)/(1-a) = -2, sigma'(0) = 1/4, dL/dz = -1/2 = a - y (exact)
    spec = with_activation(ISSUE_UNIT, "sigmoid")
    spec["loss"] = "binary_cross_entropy"
    key = exact_solve(spec)
    assert key.forward["o"] == (0, F(1, 2))
    assert abs(key.loss - MP.log(2)) < MP.mpf(10) ** -55
    assert key.gradients == {("weight", "x1", "o"): F(-3, 2), ("bias", "o"): F(-1, 2)}


def test_softmax_cross_entropy_at_equal_z() -> None:
    # three outputs all at z = 0 (bias = -(0.1 * 3) etc.): a_k = e^0 / 3e^0 = 1/3 each;
    # one-hot y = (0, 1, 0): dL/dz_k = a_k - y_k = 1/3, -2/3, 1/3; L = ln 3
    spec = {"inputs": {"x1": 3},
            "layers": [{"activation": "softmax", "neurons": {
                "o1": {"bias": -0.3, "weights": {"x1": 0.1}},
                "o2": {"bias": -0.6, "weights": {"x1": 0.2}},
                "o3": {"bias": 0.9, "weights": {"x1": -0.3}}}}],
            "targets": {"o1": 0, "o2": 1, "o3": 0}, "loss": "cross_entropy", "learning_rate": 1}
    key = exact_solve(spec)
    assert [key.forward[n][0] for n in ("o1", "o2", "o3")] == [0, 0, 0]
    for n, want in (("o1", F(1, 3)), ("o2", F(-2, 3)), ("o3", F(1, 3))):
        assert abs(to_mp(key.gradients[("bias", n)]) - to_mp(want)) < MP.mpf(10) ** -55
    assert abs(key.loss - MP.log(3)) < MP.mpf(10) ** -55


def test_q2_matches_design_md() -> None:
    # DESIGN.md's JSON example (q2): z_h1 = 5.02 exactly, a_o = 0.7349, L = 0.035127,
    # dL/dw(x1->h1) = -0.0028708 -> 0.4220096, dL/db_h1 = -0.0004785 -> 0.0103349
    key = exact_solve(yaml.safe_load(CANONICAL))
    assert key.forward["h1"] == (F(502, 100), F(502, 100))
    assert key.forward["h2"] == (F(452, 100), F(452, 100))
    assert key.forward["g1"][0] == F(22142, 10000)  # 0.17*5.02 + 0.29*4.52 + 0.05
    assert round(float(key.forward["o"][1]), 4) == 0.7349
    assert round(float(key.loss), 6) == 0.035127
    assert round(float(key.gradients[("weight", "x1", "h1")]), 7) == -0.0028708
    assert round(float(key.updated[("weight", "x1", "h1")]), 7) == 0.4220096
    assert round(float(key.gradients[("bias", "h1")]), 7) == -0.0004785
    assert round(float(key.updated[("bias", "h1")]), 7) == 0.0103349


def test_seed000_dead_relu_is_exactly_zero() -> None:
    # seed 000 (as in test_oracle.py): z_h2 = -0.3*1 + 0.4*2 - 0.2*3 - 0.2 = -0.3 exactly, dead
    spec = yaml.safe_load(SEED000_YAML)
    key = exact_solve(spec)
    assert key.forward["h2"] == (F(-3, 10), 0)
    for k in (("weight", "x1", "h2"), ("weight", "x2", "h2"), ("weight", "x3", "h2"), ("bias", "h2")):
        assert key.gradients[k] == 0 and is_exact(key.gradients[k])
    floats = sympy_gradients(spec)
    for k, g in key.gradients.items():
        assert float(g) == pytest.approx(floats[k], rel=1e-12, abs=1e-15), k


def test_unused_input_has_no_parameters() -> None:
    spec = yaml.safe_load(UNUSED_INPUT)
    assert unused_inputs(spec) == ["x2"]
    key = exact_solve(spec)
    assert not any("x2" in k for k in key.gradients)
    # h = sigma(0.4 - 0.1 + 0.1) = sigma(0.4); o = 0.5 h; dL/do = 2(o - 1)
    h = 1 / (1 + math.exp(-0.4))
    assert float(key.gradients[("bias", "o")]) == pytest.approx(2 * (0.5 * h - 1), rel=1e-14)
    assert float(key.gradients[("weight", "x3", "h")]) == pytest.approx(
        2 * (0.5 * h - 1) * 0.5 * h * (1 - h) * 0.5, rel=1e-14)


def test_samples_mean_and_sum() -> None:
    one = yaml.safe_load(DEEP_ZERO)
    other = copy.deepcopy(one)
    other["inputs"] = {"x1": 1, "x2": -1}
    batched = copy.deepcopy(one)
    del batched["inputs"], batched["targets"]
    batched["samples"] = [{"inputs": one["inputs"], "targets": one["targets"]},
                          {"inputs": other["inputs"], "targets": other["targets"]}]
    g1, g2, gm = exact_solve(one).gradients, exact_solve(other).gradients, exact_solve(batched).gradients
    assert gm == {k: (g1[k] + g2[k]) / 2 for k in g1}
    batched["reduction"] = "sum"
    assert exact_solve(batched).gradients == {k: g1[k] + g2[k] for k in g1}


# =========================================================================== oracle vs sympy

def sympy_value(x: sympy.Expr) -> Any:
    return MP.mpf(str(sympy.N(x, 50)))


def assert_matches_sympy(spec: dict[str, Any], key: ExactKey) -> None:
    """Every gradient: exactly equal when sympy's result is a Rational (then the oracle's
    must be an exact Fraction too), else within 1e-30 relative; the loss likewise."""
    expected = sympy_exact_gradients(spec)
    assert expected.keys() == key.gradients.keys()
    for k, want in expected.items():
        got = key.gradients[k]
        if is_exact(got) and got == 0:  # "must be exactly 0": sympy must agree exactly
            assert want == 0, (k, want)
        elif want.is_Rational:
            assert is_exact(got) and got == F(int(want.p), int(want.q)), (k, got, want)
        else:
            assert abs(to_mp(got) - sympy_value(want)) <= MP.mpf(10) ** -30 * max(1, abs(to_mp(got))), \
                (k, got, want)
    subs = {_symbol(k): sympy.Rational(v.numerator, v.denominator) for k, v in key.values.items()}
    loss = sympy_exact_loss(spec).xreplace(subs)
    if loss.is_Rational:
        assert key.loss == F(int(loss.p), int(loss.q))
    else:
        assert abs(to_mp(key.loss) - sympy_value(loss)) <= MP.mpf(10) ** -30 * max(1, abs(to_mp(key.loss)))


@pytest.mark.parametrize("text", [ISSUE_UNIT, DEEP_ZERO, UNUSED_INPUT, CANONICAL])
def test_hand_specs_match_sympy(text: str) -> None:
    spec = yaml.safe_load(text)
    assert_matches_sympy(spec, exact_solve(spec))


@pytest.mark.parametrize("chunk", range(N_SYMPY // 50))
def test_teacher_networks_match_sympy(chunk: int) -> None:
    # small networks (sympy.diff of the composed loss grows fast with depth and width);
    # seeds apart from the 1,000 derive runs, same generator
    for seed in range(100_000 + 50 * chunk, 100_000 + 50 * (chunk + 1)):
        spec = teacher_spec(seed, max_layers=3, max_width=2, max_inputs=3)
        assert_matches_sympy(spec, exact_solve(spec))


@pytest.mark.parametrize("seed", range(20))
def test_float_oracle_agrees_away_from_kinks(seed: int) -> None:
    # random_spec steers ReLU z away from 0, where finite differences are valid
    spec = random_spec(seed, max_layers=3, max_width=3)
    exact = {k: float(g) for k, g in exact_solve(spec).gradients.items()}
    fd = fd_gradients(spec)
    for k in parameters(spec):
        assert abs(exact[k] - fd[k]) <= 1e-6 * max(1.0, abs(exact[k])), (k, exact[k], fd[k])


@pytest.mark.parametrize("seed", range(200_000, 200_020))
def test_float_sympy_oracle_agrees_on_teacher_networks_without_kinks(seed: int) -> None:
    # oracle.sympy_gradients substitutes doubles, so it is only trusted away from a kink
    spec = teacher_spec(seed, max_layers=2, max_width=2, max_inputs=3)
    if kink_units(spec):
        spec = teacher_spec(seed, max_layers=2, max_width=2, max_inputs=3, p_zero=0)
    if kink_units(spec):  # a dead-upstream unit with bias 0 can still sit at 0
        pytest.skip(f"teacher_spec({seed}) has a unit at exactly z = 0")
    exact = exact_solve(spec).gradients
    floats = sympy_gradients(spec)
    for k in parameters(spec):
        assert float(exact[k]) == pytest.approx(floats[k], rel=1e-9, abs=1e-12), k


# =========================================================================== the generator

def features(spec: dict[str, Any]) -> set[str]:
    """What a network exercises (for the coverage counts)."""
    out = {f"output {exact_activation(spec['layers'][-1])[0]}", f"loss {spec['loss']}"}
    out |= {f"activation {exact_activation(layer)[0]}" for layer in spec["layers"]}
    kinks = kink_units(spec)
    if kinks:
        out.add("exact z = 0 ReLU-family unit")
    first = set(spec["layers"][0]["neurons"])
    if any(n not in first for n in kinks):
        out.add("exact z = 0 unit beyond the first layer")
    if any(is_exact(z) and z == 0 for z, _a in exact_forward(spec).values()):
        out.add("some unit at exactly z = 0")
    if unused_inputs(spec):
        out.add("unused input")
    levels = [list(spec["inputs"])] + [list(layer["neurons"]) for layer in spec["layers"]]
    for li, layer in enumerate(spec["layers"], 1):
        for neuron in layer["neurons"].values():
            sources = set(neuron["weights"])
            if not set(levels[li - 1]) - set(unused_inputs(spec)) <= sources:
                out.add("sparse")
            if sources - set(levels[li - 1]):
                out.add("skip")
            if 0 in neuron["weights"].values():
                out.add("zero weight")
    if 0 in spec["inputs"].values():
        out.add("zero input")
    return out


def coverage(n: int = N_NETWORKS) -> Counter:
    counts: Counter = Counter()
    for seed in range(n):
        counts.update(features(teacher_spec(seed)))
    return counts


def test_teacher_specs_are_deterministic_plain_yaml() -> None:
    for seed in range(50):
        spec = teacher_spec(seed)
        assert teacher_spec(seed) == spec
        text = yaml.safe_dump(spec, sort_keys=False)
        assert yaml.safe_load(text) == spec
        # every number reads back as the same decimal from the text and from the float
        assert exact_solve(load_exact(text)).gradients == exact_solve(spec).gradients


def test_teacher_specs_coverage() -> None:
    counts = coverage()
    assert counts["exact z = 0 ReLU-family unit"] >= 0.2 * N_NETWORKS
    assert counts["exact z = 0 unit beyond the first layer"] >= 0.05 * N_NETWORKS
    assert counts["unused input"] >= 0.1 * N_NETWORKS
    for thing in ("output relu", "output leaky_relu", "output linear", "output sigmoid",
                  "output tanh", "output softmax", "output softplus", "loss squared_error",
                  "loss half_squared_error", "loss mean_squared_error",
                  "loss binary_cross_entropy", "loss cross_entropy", "sparse", "skip",
                  "zero weight", "zero input"):
        assert counts[thing] >= 0.03 * N_NETWORKS, (thing, counts[thing])


# =========================================================================== derive vs the oracle

def derive_key(spec: dict[str, Any], folder: Path, name: str) -> dict[str, Any]:
    """derive's JSON answer key for `spec`, in-process (the same path as `derive solve -f json`)."""
    from derive.api import solve
    from derive.render import render

    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return json.loads(render(solve(path), "json"))


def _close(got: Any, want: Any) -> bool:
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        return False
    w = to_mp(want)
    return abs(got - float(w)) <= REL * abs(float(w)) + ABS


def compare(spec: dict[str, Any], key: dict[str, Any], oracle: ExactKey | None = None) -> list[str]:
    """Every way derive's JSON key differs from the oracle, as 'category: detail' lines.

    Forward z/a and the loss: within REL/ABS; a z or a that is exactly 0 must be 0.0 (the
    key shows it, and docs/spec.md shows a nonzero tiny value in scientific form, so
    2.8e-17 would print as 2.776e-17, not 0). Gradients: within REL/ABS, and one that is
    exactly 0 within ZERO_ABS. Parameter values: the spec's; updates: within REL/ABS."""
    oracle = oracle or exact_solve(spec)
    bad: list[str] = []
    step = key["steps"][0]
    for n, (z, a) in oracle.forward.items():
        shown = step["forward"].get(n)
        if shown is None:
            bad.append(f"forward missing: {n}")
            continue
        for what, want in (("z", z), ("a", a)):
            got = shown.get(what)
            if is_exact(want) and want == 0:
                if got != 0:
                    bad.append(f"{what} not 0: {n}.{what} = {got!r}, exactly 0")
            elif not _close(got, want):
                bad.append(f"{what}: {n}.{what} = {got!r}, oracle {MP.nstr(to_mp(want), 17)}")
    if not _close(step["loss"], oracle.loss):
        bad.append(f"loss: {step['loss']!r}, oracle {MP.nstr(to_mp(oracle.loss), 17)}")

    shown_params: dict[tuple[str, ...], dict[str, Any]] = {}
    for p in step["parameters"]:
        k = ("weight", p["from"], p["to"]) if p["kind"] == "weight" else ("bias", p["neuron"])
        shown_params[k] = p
    if set(shown_params) != set(oracle.gradients):
        bad.append(f"parameter set: extra {sorted(set(shown_params) - set(oracle.gradients))}, "
                   f"missing {sorted(set(oracle.gradients) - set(shown_params))}")
    for k, want in oracle.gradients.items():
        p = shown_params.get(k)
        if p is None:
            continue
        label = "->".join(k[1:]) if k[0] == "weight" else f"b:{k[1]}"
        got = p.get("gradient")
        if is_exact(want) and want == 0:
            if not (isinstance(got, (int, float)) and abs(got) <= ZERO_ABS):
                bad.append(f"gradient not 0: {label} = {got!r}, exactly 0")
        elif not _close(got, want):
            bad.append(f"gradient: {label} = {got!r}, oracle {MP.nstr(to_mp(want), 17)}")
        if not _close(p.get("value"), oracle.values[k]):
            bad.append(f"value: {label} = {p.get('value')!r}, spec {oracle.values[k]}")
        if not _close(p.get("updated"), oracle.updated[k]):
            bad.append(f"updated: {label} = {p.get('updated')!r}, "
                       f"oracle {MP.nstr(to_mp(oracle.updated[k]), 17)}")
    return bad


@pytest.fixture(scope="module")
def spec_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("teacher_specs")


@pytest.mark.parametrize("name, text", [("issue_unit", ISSUE_UNIT), ("deep_zero", DEEP_ZERO),
                                        ("unused_input", UNUSED_INPUT), ("q2", CANONICAL)])
def test_derive_hand_specs(name: str, text: str, spec_folder: Path) -> None:
    spec = yaml.safe_load(text)
    bad = compare(spec, derive_key(spec, spec_folder, name))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("activation, w_grad, b_grad", [
    ("relu", 0.0, 0.0),  # z = 0: ReLU'(0) = 0
    ("{name: leaky_relu, slope: 0.1}", -0.3, -0.1),  # slope * (a - y) = 0.1 * -1; times x1 = 3
    ("leaky_relu", -0.03, -0.01)])  # default slope 0.01
def test_derive_issue_unit_by_hand(activation: str, w_grad: float, b_grad: float,
                                   spec_folder: Path) -> None:
    # issue 9 item 1, read straight off derive's JSON: z = 3*0.1 - 0.3 is 0 and shows as 0
    spec = with_activation(ISSUE_UNIT, activation)
    step = derive_key(spec, spec_folder, "issue_by_hand")["steps"][0]
    assert step["forward"]["o"] == {"z": 0, "a": 0}
    assert step["loss"] == 0.5
    grads = {p.get("from", "b"): p["gradient"] for p in step["parameters"]}
    assert grads["x1"] == pytest.approx(w_grad, abs=1e-15)
    assert grads["b"] == pytest.approx(b_grad, abs=1e-15)


@pytest.mark.parametrize("activation", ["{name: leaky_relu, slope: 0.1}", "leaky_relu"])
def test_derive_issue_unit_leaky(activation: str, spec_folder: Path) -> None:
    spec = with_activation(ISSUE_UNIT, activation)
    bad = compare(spec, derive_key(spec, spec_folder, "issue_leaky"))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("seed", range(N_NETWORKS))
def test_derive_matches_exact_oracle(seed: int, spec_folder: Path) -> None:
    spec = teacher_spec(seed)
    bad = compare(spec, derive_key(spec, spec_folder, f"teacher_{seed}"))
    assert not bad, f"teacher_spec({seed}):\n" + "\n".join(bad)


# =========================================================================== the survey

def diagnose(spec: dict[str, Any], key: dict[str, Any], bad: list[str]) -> str:
    """One category for a failing network."""
    kinks = kink_units(spec)
    forward = key["steps"][0]["forward"]
    if kinks:
        positive = frozenset(n for n in kinks if forward.get(n, {}).get("z", 0) > 0)
        if positive:  # does derive match the oracle that puts those units on z > 0?
            rest = [b for b in compare(spec, key, exact_solve(spec, positive))
                    if not b.startswith(("z not 0", "a not 0"))]
            if not rest:
                return "decimal z = 0 computed as a tiny z > 0: z > 0 branch taken (gradients wrong)"
        if all(b.startswith(("z not 0", "a not 0")) for b in bad):
            return "decimal z = 0 shown as a tiny nonzero z (branch right by luck)"
        return "other, network has a decimal z = 0 unit"
    if all(b.startswith(("z not 0", "a not 0")) for b in bad):
        return "a non-ReLU unit's decimal z = 0 (or a = 0) shown as tiny nonzero"
    return "other: " + bad[0].split(":")[0]


def survey(n: int = N_NETWORKS) -> None:
    import tempfile
    folder = Path(tempfile.mkdtemp(prefix="exact_oracle_"))
    categories: Counter = Counter()
    examples: dict[str, list[str]] = {}
    t_oracle = t_derive = 0.0
    for seed in range(n):
        spec = teacher_spec(seed)
        t0 = time.perf_counter()
        oracle = exact_solve(spec)
        t1 = time.perf_counter()
        try:
            key = derive_key(spec, folder, f"teacher_{seed}")
        except Exception as error:  # noqa: BLE001 - a crash is a category
            t_derive += time.perf_counter() - t1
            message = str(error).splitlines()[0] if str(error) else ""
            cat = f"crash: {type(error).__name__}" + (" (unused input)" if unused_inputs(spec) else "")
            categories[cat] += 1
            examples.setdefault(cat, []).append(f"seed {seed}: {type(error).__name__}: {message[:100]}")
            continue
        t_derive += time.perf_counter() - t1
        t_oracle += t1 - t0
        bad = compare(spec, key, oracle)
        if bad:
            cat = diagnose(spec, key, bad)
            categories[cat] += 1
            examples.setdefault(cat, []).append(f"seed {seed}: " + "; ".join(bad[:3]))
        else:
            categories["pass"] += 1
    print(f"{n} networks; oracle {t_oracle:.1f} s, derive in-process {t_derive:.1f} s "
          f"({1000 * t_derive / n:.1f} ms per network)")
    for cat, count in categories.most_common():
        print(f"{count:5d}  {cat}")
        for example in examples.get(cat, [])[:3]:
            print(f"         {example}")
    print("coverage:", dict(sorted(coverage(n).items())))


if __name__ == "__main__":
    survey(int(sys.argv[1]) if len(sys.argv) > 1 else N_NETWORKS)
