"""Tests of the independent CNN oracle (tests/cnn_oracle.py) for issue 10.

derive does not compute CNNs yet; these tests pin the oracle itself, so that derive can
later be checked against it: hand-worked values, its backward pass against central
finite differences on the issue's example, on problems/cnn_*.yaml and on 250
seeded random small CNNs, with the comparisons that straddle a kink (a ReLU z at exactly
0, a max-pooling tie) counted and checked one-sidedly instead.
"""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

import cnn_oracle as o

F = Fraction
PROBLEMS = Path(__file__).resolve().parent.parent / "problems"

# issue 10's example, verbatim from `issues show 10`
EXAMPLE = """\
title: "A small CNN"
inputs:
  x: [[1, 0, 2, 1],          # a matrix is an image channel; a number stays a scalar input
      [0, 1, 1, 0],
      [2, 1, 0, 1],
      [1, 0, 1, 2]]
layers:
  - conv:                     # one output map per entry
      c1: {bias: 0.1,  kernel: {x: [[0.2, -0.1], [0.0, 0.3]]}}   # one kernel slice per input channel
      c2: {bias: -0.1, kernel: {x: [[-0.3, 0.1], [0.2, 0.1]]}}
    stride: 1                 # default 1
    padding: 0                # zeros on every side, default 0
    activation: relu          # applied to the map, before any pooling
  - pool:
      p1: {from: c1}
      p2: {from: c2}
    kind: max                 # max | average
    size: 2
    stride: 1                 # default: size
  - activation: sigmoid       # a dense layer, as today
    neurons:
      o: {bias: 0.05, weights: {p1: [[0.4, -0.2], [0.1, 0.3]], p2: [[-0.2, 0.5], [0.3, -0.1]]}}
targets: {o: 1}
loss: binary_cross_entropy
learning_rate: 0.1
"""

TOL = 1e-7


def close(a, b, tol: float = TOL) -> bool:
    a, b = float(a), float(b)
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def check_against_fd(spec: dict, one_sided_tol: float = 1e-4) -> dict[str, int]:
    """Every gradient == its central difference, except where the difference straddles a
    kink; there the gradient must equal the one-sided difference of a side that keeps the
    branches of the point itself (when there is one). Returns counts."""
    grads = o.gradients(spec)
    fd, straddles = o.fd_report(spec)
    assert list(grads) == list(fd) == list(o.parameters(spec))
    counts = {"compared": 0, "straddled": 0, "one_sided": 0}
    for key, g in grads.items():
        if key in straddles:
            counts["straddled"] += 1
            side = o.one_sided(spec, key)
            same = [side[s] for s in ("plus", "minus") if side[s + "_same"]]
            if same:
                counts["one_sided"] += 1
                assert any(close(g, v, one_sided_tol) for v in same), (key, g, side)
            continue
        counts["compared"] += 1
        assert close(g, fd[key]), (key, float(g), float(fd[key]))
    return counts


# --------------------------------------------------------------------------- (a) the issue's example

def test_issue_example_forward_by_hand() -> None:
    spec = yaml.safe_load(EXAMPLE)
    fw = o.forward(spec)["forward"]
    # C1[1,1] = b + Σ k_{m,n} x[m,n] = 0.1 + 0.2·1 + (−0.1)·0 + 0.0·0 + 0.3·1 = 0.6
    assert fw["c1"]["z"][0][0] == F("0.6")
    # C1[1,2] = 0.1 + 0.2·0 + (−0.1)·2 + 0.0·1 + 0.3·1 = 0.2
    assert fw["c1"]["z"][0][1] == F("0.2")
    # C2[1,1] = −0.1 + (−0.3)·1 + 0.1·0 + 0.2·0 + 0.1·1 = −0.3, ReLU -> 0
    assert fw["c2"]["z"][0][0] == F("-0.3") and fw["c2"]["a"][0][0] == 0
    # C2[2,1] = −0.1 + (−0.3)·0 + 0.1·1 + 0.2·2 + 0.1·1 = 0.5
    assert fw["c2"]["z"][1][0] == F("0.5")
    # the full maps (exact decimals)
    assert fw["c1"]["a"] == [[F(v) for v in r] for r in
                             (["0.6", "0.2", "0.4"], ["0.3", "0.2", "0.6"], ["0.4", "0.6", "0.6"])]
    assert fw["c2"]["a"] == [[F(v) for v in r] for r in
                             (["0", "0.4", "0"], ["0.5", "0", "0"], ["0", "0", "0.4"])]
    # 2x2 max pooling, stride 1: every window of C1 holds a 0.6; P2 = [[0.5, 0.4], [0.5, 0.4]]
    assert fw["p1"]["a"] == [[F("0.6")] * 2] * 2
    assert fw["p2"]["a"] == [[F("0.5"), F("0.4")], [F("0.5"), F("0.4")]]
    # z_o = 0.05 + 0.6·(0.4 − 0.2 + 0.1 + 0.3) + (−0.2·0.5 + 0.5·0.4 + 0.3·0.5 − 0.1·0.4)
    #     = 0.05 + 0.36 + 0.21 = 0.62;  a_o = σ(0.62);  L = −ln σ(0.62)
    assert fw["o"]["z"] == F("0.62")
    a = 1 / (1 + o.MP.exp(-o.MP.mpf("0.62")))
    assert abs(fw["o"]["a"] - a) < 1e-45
    assert abs(o.forward(spec)["loss"] + o.MP.log(a)) < 1e-45


def test_issue_example_gradients_against_fd() -> None:
    spec = yaml.safe_load(EXAMPLE)
    g = o.gradients(spec)
    delta_o = 1 / (1 + o.MP.exp(-o.MP.mpf("0.62"))) - 1  # σ + BCE: ∂L/∂z = a − y
    assert abs(g[("bias", "o")] - delta_o) < 1e-45
    # ∂L/∂V1[1,1] = P1[1,1]·δ_o = 0.6·δ_o; ∂L/∂V2[1,2] = 0.4·δ_o
    assert abs(g[("weight", "p1", 1, 1, "o")] - F("0.6") * delta_o) < 1e-45
    assert abs(g[("weight", "p2", 1, 2, "o")] - F("0.4") * delta_o) < 1e-45
    # C2 after ReLU is [[0, 0.4, 0], [0.5, 0, 0], [0, 0, 0.4]]; the windows pick (2,1) for
    # P2[1,1] and P2[2,1], (1,2) for P2[1,2], (3,3) for P2[2,2] (no ties), so
    # δ_C2[2,1] = (−0.2 + 0.3)δ_o, δ_C2[1,2] = 0.5δ_o, δ_C2[3,3] = −0.1δ_o (ReLU′ = 1 there):
    #   ∂L/∂b2 = Σ δ_C2 = 0.5δ_o
    #   ∂L/∂k2[1,2] = Σ X[g, h+1]·δ_C2[g,h] = X22·0.1δ_o + X13·0.5δ_o + X34·(−0.1δ_o)
    #              = (0.1 + 1.0 − 0.1)δ_o = δ_o
    assert abs(g[("bias", "c2")] - F("0.5") * delta_o) < 1e-45
    assert abs(g[("kernel", "c2", "x", 1, 2)] - delta_o) < 1e-45
    # The example has a genuine tie: C1 is 0.6 at (2,3), (3,2) and (3,3), all in window
    # P1[2,2]; the gradient goes to (2,3), the first in row-major order. ∂L/∂C1 (the
    # routing, zeros where nothing flows): P1[1,1] -> (1,1), P1[1,2] -> (2,3),
    # P1[2,1] -> (3,2), P1[2,2] -> (2,3).
    assert o.kinks(spec) == {"zeros": [], "ties": [("p1", 2, 2, [(2, 3), (3, 2), (3, 3)])]}
    d = o.deltas(spec)["c1"]["da"]
    expected = [[F("0.4") * delta_o, 0, 0],
                [0, 0, (F("-0.2") + F("0.3")) * delta_o],
                [0, F("0.1") * delta_o, 0]]
    assert all(abs(x - y) < 1e-45 for rx, ry in zip(d, expected) for x, y in zip(rx, ry))
    # So the loss is not differentiable in c1's kernel entries there (a kernel entry moves
    # the three tied values apart); only those four straddle, c1's bias moves them
    # together and agrees. Everything else == the central difference within 1e-7.
    counts = check_against_fd(spec)
    assert o.kink_straddles(spec) == {("kernel", "c1", "x", r, c) for r in (1, 2) for c in (1, 2)}
    assert counts == {"compared": 15, "straddled": 4, "one_sided": 4}


def test_issue_example_updates() -> None:
    spec = yaml.safe_load(EXAMPLE)
    g, u, p = o.gradients(spec), o.updated(spec), o.parameters(spec)
    for key in p:
        assert abs(o.mpf(u[key]) - (o.mpf(p[key]) - F("0.1") * o.mpf(g[key]))) < 1e-45
    assert p[("kernel", "c2", "x", 1, 2)] == F("0.1")


# --------------------------------------------------------------------------- (b) hand-derived cases

TINY = {
    "title": "3x3 image, 2x2 kernel",
    "inputs": {"x": [[1, 2, 0], [0, 1, 3], [2, 1, 1]]},
    "layers": [
        {"conv": {"c": {"bias": 0.1, "kernel": {"x": [[0.5, -1], [0, 1]]}}},
         "stride": 1, "activation": "linear"},
        {"activation": "linear",
         "neurons": {"o": {"bias": 0, "weights": {"c": [[1, 0.5], [-1, 2]]}}}},
    ],
    "targets": {"o": 0.75},
    "loss": "half_squared_error",
    "learning_rate": 0.1,
}


def test_tiny_conv_by_hand() -> None:
    # C[g,h] = 0.1 + 0.5·X[g,h] − 1·X[g,h+1] + 0·X[g+1,h] + 1·X[g+1,h+1]
    #   C11 = 0.1 + 0.5 − 2 + 0 + 1 = −0.4     C12 = 0.1 + 1 − 0 + 0 + 3 = 4.1
    #   C21 = 0.1 + 0 − 1 + 0 + 1 = 0.1        C22 = 0.1 + 0.5 − 3 + 0 + 1 = −1.4
    # o = 1·(−0.4) + 0.5·4.1 − 1·0.1 + 2·(−1.4) + 0 = −1.25;  L = ½(−1.25 − 0.75)² = 2
    fw = o.forward(TINY)
    assert fw["forward"]["c"]["z"] == [[F("-0.4"), F("4.1")], [F("0.1"), F("-1.4")]]
    assert fw["forward"]["o"]["a"] == F("-1.25") and fw["loss"] == 2
    # δ_o = o − y = −2;  δ_C[g,h] = W[g,h]·δ_o = [[−2, −1], [2, −4]]
    assert o.deltas(TINY)["c"]["dz"] == [[-2, -1], [2, -4]]
    # ∂L/∂k[m,n] = Σ_{g,h} X[g+m−1, h+n−1]·δ_C[g,h]  (X ⋆ δ):
    #   k11: 1·(−2) + 2·(−1) + 0·2 + 1·(−4) = −8
    #   k12: 2·(−2) + 0·(−1) + 1·2 + 3·(−4) = −14
    #   k21: 0·(−2) + 1·(−1) + 2·2 + 1·(−4) = −1
    #   k22: 1·(−2) + 3·(−1) + 1·2 + 1·(−4) = −7
    #   b = Σ δ_C = −5;  W[g,h]: C[g,h]·δ_o = 0.8, −8.2, −0.2, 2.8;  b_o = −2
    g = o.gradients(TINY)
    assert g == {
        ("kernel", "c", "x", 1, 1): -8, ("kernel", "c", "x", 1, 2): -14,
        ("kernel", "c", "x", 2, 1): -1, ("kernel", "c", "x", 2, 2): -7,
        ("bias", "c"): -5,
        ("weight", "c", 1, 1, "o"): F("0.8"), ("weight", "c", 1, 2, "o"): F("-8.2"),
        ("weight", "c", 2, 1, "o"): F("-0.2"), ("weight", "c", 2, 2, "o"): F("2.8"),
        ("bias", "o"): -2,
    }
    assert all(type(v) is Fraction for v in g.values())  # all exact
    # the per-position terms of k12 and their sum
    assert o.kernel_gradient_terms(TINY)[("kernel", "c", "x", 1, 2)] == [
        (1, 1, 2, -2), (1, 2, 0, -1), (2, 1, 1, 2), (2, 2, 3, -4)]
    # updates with η = 0.1: k11 = 0.5 + 0.8 = 1.3, W12 = 0.5 + 0.82 = 1.32
    u = o.updated(TINY)
    assert u[("kernel", "c", "x", 1, 1)] == F("1.3") and u[("weight", "c", 1, 2, "o")] == F("1.32")
    # the loss is quadratic in each parameter, so the central difference is exact too
    fd = o.fd_gradients(TINY)
    assert all(abs(fd[k] - g[k]) < 1e-40 for k in g)


TIE = {
    "inputs": {"x": [[1, 3, 3], [3, 0, 2], [1, 1, 1]],
               "y": [[0, 0, 0], [1, 0, 0], [0, 0, 0]]},
    "layers": [
        {"conv": {"c": {"bias": 0, "kernel": {"x": [[1]], "y": [[0]]}}}},
        {"pool": {"p": {"from": "c"}}, "kind": "max", "size": 2, "stride": 1},
        {"activation": "linear",
         "neurons": {"o": {"bias": 0, "weights": {"p": [[1, 2], [3, 4]]}}}},
    ],
    "targets": {"o": 25},
    "loss": "half_squared_error",
    "learning_rate": 0.1,
}


def test_max_pool_tie_goes_to_first_maximum() -> None:
    # C = 1·X + 0·Y = X. Windows of the 2x2 max pooling (stride 1), positions row-major:
    #   P11: (1,1)=1 (1,2)=3 (2,1)=3 (2,2)=0 -> 3, tie, first is (1,2)
    #   P12: (1,2)=3 (1,3)=3 (2,2)=0 (2,3)=2 -> 3, tie, first is (1,2)
    #   P21: (2,1)=3 (2,2)=0 (3,1)=1 (3,2)=1 -> 3 at (2,1)
    #   P22: (2,2)=0 (2,3)=2 (3,2)=1 (3,3)=1 -> 2 at (2,3)
    # o = 3 + 2·3 + 3·3 + 4·2 = 26, δ_o = 26 − 25 = 1, δ_P = [[1, 2], [3, 4]].
    # Routing: (1,2) gets 1 + 2 = 3 (two windows), (2,1) gets 3, (2,3) gets 4.
    assert o.forward(TIE)["forward"]["p"]["a"] == [[3, 3], [3, 2]]
    assert o.kinks(TIE)["ties"] == [("p", 1, 1, [(1, 2), (2, 1)]), ("p", 1, 2, [(1, 2), (1, 3)])]
    assert o.deltas(TIE)["c"]["dz"] == [[0, 3, 0], [3, 0, 4], [0, 0, 0]]
    g = o.gradients(TIE)
    # ∂L/∂k_x = Σ X·δ_C = 3·3 + 3·3 + 2·4 = 26;  ∂L/∂b = 3 + 3 + 4 = 10
    # ∂L/∂k_y = Σ Y·δ_C = 1·δ_C[2,1] = 3
    assert g[("kernel", "c", "x", 1, 1)] == 26 and g[("bias", "c")] == 10
    assert g[("kernel", "c", "y", 1, 1)] == 3
    # k_x scales every entry (k_x = 1 > 0) and b shifts them all: the ties persist on both
    # sides, the loss is smooth in them and the central difference agrees. k_y moves only
    # C[2,1]: at k_y + h it wins P11 from (1,2), so the difference straddles the tie.
    fd, straddles = o.fd_report(TIE)
    assert straddles == {("kernel", "c", "y", 1, 1)}
    for key in (("kernel", "c", "x", 1, 1), ("bias", "c")):
        assert close(fd[key], g[key])
    # At k_y − h the first maximum keeps P11: ∂o/∂k_y = V21·Y21 = 3 (the convention's side);
    # at k_y + h, P11 switches to (2,1) as well: ∂o/∂k_y = (V11 + V21)·1 = 4; the central
    # difference is their mean 3.5.
    side = o.one_sided(TIE, ("kernel", "c", "y", 1, 1))
    assert side["minus_same"] and not side["plus_same"]
    assert close(side["minus"], 3, 1e-5) and close(side["plus"], 4, 1e-5)
    assert close(fd[("kernel", "c", "y", 1, 1)], F("3.5"), 1e-5)


AVG = {
    "inputs": {"x": [[1, 2, 0], [0, 1, 3], [2, 1, 1]]},
    "layers": [
        {"conv": {"c": {"bias": 0.1, "kernel": {"x": [[0.5, -1], [0, 1]]}}},
         "padding": 1, "activation": "linear"},
        {"pool": {"p": {"from": "c"}}, "kind": "average", "size": 2, "stride": 2},
        {"activation": "linear",
         "neurons": {"o": {"bias": 0, "weights": {"p": [[1, -1], [0.5, 2]]}}}},
    ],
    "targets": {"o": 0},
    "loss": "half_squared_error",
    "learning_rate": 0.1,
}


def test_average_pool_stride_2_after_padding_1() -> None:
    # Output size ⌊(3 + 2·1 − 2)/1⌋ + 1 = 4. With padding 1,
    # C[g,h] = b + Σ_{m,n} k[m,n]·X[g+m−2, h+n−2] (zero outside):
    #   C11 = 0.1 + k22·X11 = 0.1 + 1·1 = 1.1
    #   C12 = 0.1 + k21·X11 + k22·X12 = 0.1 + 0 + 2 = 2.1
    #   C22 = 0.1 + 0.5·1 − 1·2 + 0·0 + 1·1 = −0.4
    #   C44 = 0.1 + k11·X33 = 0.1 + 0.5 = 0.6
    fw = o.forward(AVG)["forward"]
    c = fw["c"]["z"]
    assert len(c) == 4 and len(c[0]) == 4
    assert (c[0][0], c[0][1], c[1][1], c[3][3]) == (F("1.1"), F("2.1"), F("-0.4"), F("0.6"))
    # C21 = 0.1 + k12·X11 + k22·X21 = 0.1 − 1 + 0 = −0.9, so the first 2x2 window averages
    # P11 = (1.1 + 2.1 − 0.9 − 0.4)/4 = 0.475
    assert c[1][0] == F("-0.9") and fw["p"]["z"][0][0] == F("0.475")
    # Average pooling passes δ_P/4 to every position of its window (stride 2: no overlap).
    d = o.deltas(AVG)
    dp, dc = d["p"]["dz"], d["c"]["dz"]
    for g in range(4):
        for h in range(4):
            assert dc[g][h] == dp[g // 2][h // 2] / 4
    # k11 lies on the image at the 9 output positions g, h ≥ 2; its other 7 terms are padding
    terms = o.kernel_gradient_terms(AVG)
    assert len(terms[("kernel", "c", "x", 1, 1)]) == 9
    assert len(terms[("kernel", "c", "x", 2, 2)]) == 9
    g = o.gradients(AVG)
    for key, ts in terms.items():  # the sum over positions is the gradient (X ⋆ δ)
        assert sum(x * dl for _, _, x, dl in ts) == g[key]
    fd = o.fd_gradients(AVG)  # quadratic loss: the central difference is exact
    assert all(abs(fd[k] - g[k]) < 1e-40 for k in g)


def test_stride_2_output_size_and_softmax() -> None:
    # 5x5, 3x3 kernel, stride 2, padding 1: ⌊(5 + 2 − 3)/2⌋ + 1 = 3; with padding 0: 2;
    # 4x4, 3x3, stride 2, padding 0: ⌊(4 − 3)/2⌋ + 1 = 1
    k3 = [[0.1, -0.2, 0.3], [0.0, 0.5, -0.1], [0.2, 0.1, -0.3]]
    for size, pad, out in ((5, 1, 3), (5, 0, 2), (4, 0, 1)):
        x = [[(i * 3 + j * 7) % 5 / 10 for j in range(size)] for i in range(size)]
        spec = {
            "inputs": {"x": x, "s": 0.5},
            "layers": [
                {"conv": {"c": {"bias": 0.1, "kernel": {"x": k3}}}, "stride": 2,
                 "padding": pad, "activation": {"name": "leaky_relu", "slope": 0.2}},
                {"activation": "softmax", "neurons": {
                    "o1": {"bias": 0.1, "weights": {"c": [[0.3] * out] * out, "s": 1}},
                    "o2": {"bias": 0, "weights": {"c": [[-0.2] * out] * out, "s": -0.5}}}},
            ],
            "targets": {"o1": 0.3, "o2": 0.7},
            "loss": "cross_entropy",
            "learning_rate": 0.1,
        }
        z = o.forward(spec)["forward"]["c"]["z"]
        assert (len(z), len(z[0])) == (out, out)
        if size == 5:
            # x (from 1) rows: [0 .2 .4 .1 .3], [.3 0 .2 .4 .1], [.1 .3 0 .2 .4], ...
            # C[2,2] reads X[(2−1)·2 + m − p, (2−1)·2 + n − p]: rows/cols 2..4 with p = 1,
            # 3..5 with p = 0; both are [[0, .2, .4], [.3, 0, .2], [.1, .3, 0]], so
            # C[2,2] = 0.1 + (−0.2·0.2 + 0.3·0.4) + (−0.1·0.2) + (0.2·0.1 + 0.1·0.3) = 0.21
            assert z[1][1] == F("0.21")
        if pad == 1:
            # C[1,1] with padding: only k22, k23, k32, k33 lie on the image (X11..X22):
            # 0.1 + 0.5·0 − 0.1·0.2 + 0.1·0.3 − 0.3·0 = 0.11
            assert z[0][0] == F("0.11")
        counts = check_against_fd(spec)
        assert counts["straddled"] == 0


@pytest.mark.parametrize("change, message", [
    (lambda s: s["layers"][1].update(size=4), "larger than the map"),
    (lambda s: s["layers"][0]["conv"]["c"].update(kernel={"x": [[1] * 4] * 4}), "larger than"),
    (lambda s: s["layers"][2]["neurons"]["o"]["weights"].update(p=[[1]]), "shape"),
    (lambda s: s.update(targets={"c": 1}), "last layer"),
    (lambda s: s["layers"][1].update(activation="softmax"), "dense"),
])
def test_refused(change, message) -> None:
    import copy
    spec = copy.deepcopy(TIE)
    change(spec)
    with pytest.raises(o.SpecError, match=message):
        o.gradients(spec)


# --------------------------------------------------------------------------- (c) random CNNs

RANDOM_CNNS = 250
ACTIVATIONS = ["relu", "relu", "leaky_relu", {"name": "leaky_relu", "slope": 0.2},
               "sigmoid", "tanh", "linear"]


def _value(rng: random.Random, scale: int = 1) -> float:
    r = rng.random()
    if r < 0.15:
        return 0
    if r < 0.6:
        return rng.randint(-10 * scale, 10 * scale) / 10  # one decimal
    return rng.randint(-100 * scale, 100 * scale) / 100  # two decimals


def _matrix(rng: random.Random, h: int, w: int, pool: list[float] | None = None,
            scale: int = 1) -> list[list[float]]:
    if pool:  # few distinct values: deliberate ties
        return [[rng.choice(pool) for _ in range(w)] for _ in range(h)]
    return [[_value(rng, scale) for _ in range(w)] for _ in range(h)]


def random_cnn(seed: int) -> dict:
    rng = random.Random(f"cnn-oracle:{seed}")
    ties = rng.random() < 0.35  # repeated values in the image and 1x1 / constant kernels
    pool_values = [0, 1, rng.randint(-20, 20) / 10] if ties else None
    nch = rng.choice([1, 1, 2])
    h = rng.randint(3, 6)
    w = h if rng.random() < 0.8 else rng.randint(3, 6)
    inputs: dict = {f"x{c + 1}": _matrix(rng, h, w, pool_values, 2) for c in range(nch)}
    scalars = ["s"] if rng.random() < 0.2 else []
    for s in scalars:
        inputs[s] = _value(rng, 2)
    maps = {name: (h, w) for name in inputs if name not in scalars}  # current channels
    earlier = dict(maps)  # every map so far (for skip weights)
    layers: list[dict] = []
    map_output = rng.random() < 0.15
    stages = 1 if rng.random() < 0.6 else 2
    for stage in range(stages):
        hh, ww = min(s[0] for s in maps.values()), min(s[1] for s in maps.values())
        pad = rng.randint(0, 1)
        k = rng.randint(1, min(3, hh + 2 * pad, ww + 2 * pad))
        if ties and rng.random() < 0.5:
            k = 1
        stride = rng.randint(1, 2)
        oh, ow = (hh + 2 * pad - k) // stride + 1, (ww + 2 * pad - k) // stride + 1
        conv: dict = {}
        last_stage = stage == stages - 1
        for m in range(rng.randint(1, 2)):
            kernel = {}
            for ch in maps:
                if ties and rng.random() < 0.3:
                    v = rng.choice([0.5, 1, -0.5])
                    kernel[ch] = [[v] * k for _ in range(k)]
                else:
                    kernel[ch] = _matrix(rng, k, k)
            conv[f"c{stage + 1}{m + 1}"] = {"bias": _value(rng), "kernel": kernel}
        layer: dict = {"conv": conv}
        if stride != 1 or rng.random() < 0.5:
            layer["stride"] = stride
        if pad or rng.random() < 0.5:
            layer["padding"] = pad
        act = rng.choice(ACTIVATIONS)
        if map_output and last_stage:
            act = rng.choice(["linear", "sigmoid", "tanh", "relu"])
        if act != "linear" or rng.random() < 0.5:
            layer["activation"] = act
        layers.append(layer)
        maps = {name: (oh, ow) for name in conv}
        earlier.update(maps)
        if min(oh, ow) >= 2 and rng.random() < 0.8:
            size = rng.randint(2, min(3, oh, ow)) if rng.random() < 0.9 else 1
            pstride = rng.randint(1, size)
            kind = "max" if rng.random() < 0.65 else "average"
            pool: dict = {"pool": {f"p{stage + 1}{i + 1}": {"from": name}
                                   for i, name in enumerate(maps)}, "kind": kind, "size": size}
            if pstride != size or rng.random() < 0.5:
                pool["stride"] = pstride
            if rng.random() < 0.25 and not (map_output and last_stage):
                pool["activation"] = rng.choice(["relu", "tanh", "linear"])
            layers.append(pool)
            ph, pw = (oh - size) // pstride + 1, (ow - size) // pstride + 1
            maps = {f"p{stage + 1}{i + 1}": (ph, pw) for i in range(len(maps))}
            earlier.update(maps)
    if map_output:
        last = layers[-1]
        names = list(last.get("conv", last.get("pool")))
        act = last.get("activation", "linear")
        if act == "sigmoid" and rng.random() < 0.5:
            loss = "binary_cross_entropy"
            tv = [0, 1, 0.5]
        else:
            loss = rng.choice(["half_squared_error", "squared_error", "mean_squared_error"])
            tv = None
        targets = {}
        for name in rng.sample(names, rng.randint(1, len(names))):
            sh = maps[name]
            targets[name] = _matrix(rng, sh[0], sh[1], tv)
    else:
        sources = list(maps) + scalars
        if rng.random() < 0.2:  # a skip weight from an earlier map
            extra = rng.choice([n for n in earlier if n not in maps])
            sources.append(extra)
        shapes = dict(earlier)
        if rng.random() < 0.2:  # a hidden dense layer of scalar units
            hidden = {}
            for j in range(rng.randint(1, 2)):
                hidden[f"h{j + 1}"] = {"bias": _value(rng), "weights": {
                    s: _value(rng) if s in scalars else _matrix(rng, *shapes[s]) for s in sources}}
            layers.append({"activation": rng.choice(["relu", "tanh", "sigmoid"]),
                           "neurons": hidden})
            sources = list(hidden) + (scalars if rng.random() < 0.5 else [])
        kind = rng.choice(["squared", "bce", "ce"])
        n_out = rng.randint(2, 3) if kind == "ce" else rng.randint(1, 2)
        if kind == "bce":
            act, loss = "sigmoid", "binary_cross_entropy"
        elif kind == "ce":
            act, loss = "softmax", "cross_entropy"
        else:
            act = rng.choice(["linear", "sigmoid", "tanh", "relu", "leaky_relu"])
            loss = rng.choice(["half_squared_error", "squared_error", "mean_squared_error"])
        neurons = {}
        for j in range(n_out):
            neurons[f"o{j + 1}"] = {"bias": _value(rng), "weights": {
                s: _value(rng) if shapes.get(s) is None else _matrix(rng, *shapes[s])
                for s in sources}}
        layers.append({"activation": act, "neurons": neurons})
        if kind == "ce":
            hot = rng.randrange(n_out)
            if rng.random() < 0.5:
                targets = {f"o{j + 1}": int(j == hot) for j in range(n_out)}
            else:  # soft targets summing to 1
                targets = {f"o{j + 1}": 0 for j in range(n_out)}
                targets[f"o{hot + 1}"] = 0.7
                targets[f"o{(hot + 1) % n_out + 1}"] = 0.3
        elif kind == "bce":
            targets = {f"o{j + 1}": rng.choice([0, 1, 0.25]) for j in range(n_out)}
        else:
            targets = {f"o{j + 1}": _value(rng, 2) for j in range(rng.randint(1, n_out))}
    spec = {"title": f"random CNN {seed}", "inputs": inputs, "layers": layers,
            "targets": targets, "loss": loss, "learning_rate": 0.1}
    # through YAML text and back, as a spec file is read
    return yaml.safe_load(yaml.safe_dump(spec, sort_keys=False))


def test_random_cnns_against_finite_differences() -> None:
    totals = {"specs": 0, "compared": 0, "straddled": 0, "one_sided": 0}
    coverage = {"max": 0, "average": 0, "two_channels": 0, "stride2": 0, "padding": 0,
                "ties": 0, "relu_zero": 0, "map_output": 0, "two_stages": 0}
    for seed in range(RANDOM_CNNS):
        spec = random_cnn(seed)
        counts = check_against_fd(spec)
        totals["specs"] += 1
        for key in ("compared", "straddled", "one_sided"):
            totals[key] += counts[key]
        kinds = {layer.get("kind") for layer in spec["layers"]}
        coverage["max"] += "max" in kinds
        coverage["average"] += "average" in kinds
        coverage["two_channels"] += "x2" in spec["inputs"]
        convs = [layer for layer in spec["layers"] if "conv" in layer]
        coverage["stride2"] += any(c.get("stride", 1) == 2 for c in convs)
        coverage["padding"] += any(c.get("padding", 0) == 1 for c in convs)
        coverage["two_stages"] += len(convs) == 2
        coverage["map_output"] += "neurons" not in spec["layers"][-1]
        k = o.kinks(spec)
        coverage["ties"] += bool(k["ties"])
        coverage["relu_zero"] += bool(k["zeros"])
    print(f"\nrandom CNNs: {totals}; coverage: {coverage}")
    assert totals["specs"] >= 200
    assert totals["compared"] > 20 * totals["specs"]
    assert 0 < totals["straddled"] < totals["compared"] / 10  # skipped at kinks, and counted
    assert min(coverage.values()) >= 10, coverage


# --------------------------------------------------------------------------- the problem files

PROBLEM_FILES = ["cnn_example.yaml", "cnn_seed001.yaml", "cnn_average_pool.yaml",
                 "cnn_two_channels.yaml", "cnn_map_output.yaml"]


@pytest.mark.parametrize("name", PROBLEM_FILES)
def test_problem_gradients_against_fd(name: str) -> None:
    spec = yaml.safe_load((PROBLEMS / name).read_text(encoding="utf-8"))
    for key in ("title", "learning_rate", "loss"):
        assert key in spec
    counts = check_against_fd(spec)
    if name == "cnn_example.yaml":  # the issue's own tie in P1[2,2] (see its comment)
        assert counts == {"compared": 15, "straddled": 4, "one_sided": 4}
    else:  # the others were chosen with no ties and no ReLU at exactly 0
        assert counts["straddled"] == 0 and o.kinks(spec) == {"zeros": [], "ties": []}


def test_problem_example_is_the_issue_example() -> None:
    text = (PROBLEMS / "cnn_example.yaml").read_text(encoding="utf-8")
    assert EXAMPLE in text
    assert yaml.safe_load(text) == yaml.safe_load(EXAMPLE)


def test_problem_shapes() -> None:
    def shapes(name: str) -> dict:
        spec = yaml.safe_load((PROBLEMS / name).read_text(encoding="utf-8"))
        return {k: (len(v["z"]), len(v["z"][0])) for k, v in o.forward(spec)["forward"].items()
                if isinstance(v["z"], list)}
    assert shapes("cnn_seed001.yaml") == {"c11": (6, 6), "c12": (6, 6), "p11": (3, 3),
                                          "p12": (3, 3), "c21": (2, 2), "p21": (1, 1)}
    assert shapes("cnn_average_pool.yaml") == {"c": (4, 4), "p": (2, 2)}
    assert shapes("cnn_two_channels.yaml") == {"c1": (3, 3), "c2": (3, 3), "p1": (2, 2),
                                               "p2": (2, 2)}
    assert shapes("cnn_map_output.yaml") == {"c": (3, 3)}
    # two channels: C1[1,1] = 0.1 + (0.2·1 − 0.1·0 + 0.3·2 + 0.1·1) + (−0.2·0 + 0.4·1
    #                        + 0.1·1 + 0.05·0) = 0.1 + 0.9 + 0.5 = 1.5
    spec = yaml.safe_load((PROBLEMS / "cnn_two_channels.yaml").read_text(encoding="utf-8"))
    assert o.forward(spec)["forward"]["c1"]["z"][0][0] == F("1.5")
    # seed 001, second stage over two pooled maps:
    # C2[1,1] = 0.02 + (0.6·0.67 − 0.4·0.56 + 0.3·0.59 + 0.2·0.46)
    #                + (0.5·0.38 + 0.1·0.35 − 0.2·0.29 + 0.7·0.35) = 0.02 + 0.447 + 0.412
    spec = yaml.safe_load((PROBLEMS / "cnn_seed001.yaml").read_text(encoding="utf-8"))
    fw = o.forward(spec)["forward"]
    assert fw["p11"]["a"][0] == [F("0.67"), F("0.56"), F("0.51")]
    assert fw["c21"]["z"][0][0] == F("0.879")
    assert fw["p21"]["a"] == [[F("1.009")]]  # the largest of C2 = [[.879, 1.009], [.91, .57]]
    spec = yaml.safe_load((PROBLEMS / "cnn_map_output.yaml").read_text(encoding="utf-8"))
    fw = o.forward(spec)
    # L = ½ Σ over all nine entries of (σ(C) − Y)²
    total = sum((a - y) ** 2 for ra, ry in zip(fw["forward"]["c"]["a"], spec["targets"]["c"])
                for a, y in zip(ra, ry)) / 2
    assert abs(fw["loss"] - total) < 1e-45
