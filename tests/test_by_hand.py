"""The by-hand rounding policy reproduces a careful hand calculation of q2.

The expected digits are worked here step by step, the way a student does on paper
with a calculator: every value written down is rounded half away from zero to four
decimal places, and the next step uses the written value. Only Python's Decimal and
math.exp are used, not the product.
"""
from __future__ import annotations

import json
import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from click.testing import CliRunner

from cli import main

Q2 = Path(__file__).resolve().parent.parent / "problems" / "q2.yaml"


def r4(x: float | Decimal) -> Decimal:
    """Write down to 4 decimal places, half away from zero."""
    return Decimal(repr(x) if isinstance(x, float) else x).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def sigmoid(z: Decimal) -> float:
    return 1 / (1 + math.exp(-float(z)))


def hand_q2() -> dict[str, Decimal]:
    d = Decimal
    # forward pass (inputs and weights are given exactly)
    a_h1 = r4(d("0.42") * 6 + d("0.72") * 2 + d("0.21") * 5 + d("0.01"))  # 5.02, ReLU
    a_h2 = r4(d("0.11") * 6 + d("0.30") * 2 + d("0.65") * 5 + d("0.01"))  # 4.52, ReLU
    z_g1 = r4(d("0.17") * a_h1 + d("0.29") * a_h2 + d("0.05"))  # 2.2142
    a_g1 = r4(sigmoid(z_g1))  # 0.9015
    z_g2 = r4(d("0.91") * a_h1 + d("0.90") * a_h2 + d("0.05"))  # 8.6862
    a_g2 = r4(sigmoid(z_g2))  # 0.9998
    z_o = r4(d("0.61") * a_g1 + d("0.39") * a_g2 + d("0.08"))  # 1.0198
    a_o = r4(sigmoid(z_o))  # 0.7349
    loss = r4((a_o - 1) ** 2 / 2)
    # backward pass: each written factor, then each written product
    dl_da = r4(a_o - 1)  # -0.2651
    da_dz = r4(a_o * (1 - a_o))  # sigma' = a(1 - a), from the written a
    g_w11_3 = r4(dl_da * da_dz * a_g1)
    g_b_3 = r4(dl_da * da_dz * 1)
    dg1 = r4(a_g1 * (1 - a_g1))
    g_w11_2 = r4(dl_da * da_dz * d("0.61") * dg1 * a_h1)
    return {"loss": loss, "z_o": z_o, "a_o": a_o, "w_{11}^{(3)}": g_w11_3, "b_{1}^{(3)}": g_b_3,
            "w_{11}^{(2)}": g_w11_2,
            "new w_{11}^{(3)}": r4(d("0.61") - d("0.7") * g_w11_3),
            "new b_{1}^{(3)}": r4(d("0.08") - d("0.7") * g_b_3)}


def test_by_hand_key_matches_a_hand_calculation() -> None:
    result = CliRunner().invoke(main, ["solve", str(Q2), "-f", "json", "--rounding", "by-hand"])
    assert result.exit_code == 0, result.output
    key = json.loads(result.output)
    step = key["steps"][0]
    by_symbol = {p["symbol"]: p for p in step["parameters"]}
    hand = hand_q2()
    assert key["rounding"]["policy"] == "by-hand"
    assert Decimal(repr(step["loss"])) == hand["loss"]
    assert Decimal(repr(step["forward"]["o"]["z"])) == hand["z_o"]
    assert Decimal(repr(step["forward"]["o"]["a"])) == hand["a_o"]
    for symbol in ("w_{11}^{(3)}", "b_{1}^{(3)}", "w_{11}^{(2)}"):
        assert Decimal(repr(by_symbol[symbol]["gradient"])) == hand[symbol], symbol
    for symbol in ("w_{11}^{(3)}", "b_{1}^{(3)}"):
        assert Decimal(repr(by_symbol[symbol]["updated"])) == hand["new " + symbol], symbol


def test_by_hand_differs_from_exact_where_rounding_accumulates() -> None:
    """The two policies are not the same computation (else the test above proves little)."""
    exact = json.loads(CliRunner().invoke(main, ["solve", str(Q2), "-f", "json"]).output)
    by_hand = json.loads(CliRunner().invoke(main, ["solve", str(Q2), "-f", "json",
                                                  "--rounding", "by-hand"]).output)
    z_exact = exact["steps"][0]["forward"]["o"]["z"]
    z_hand = by_hand["steps"][0]["forward"]["o"]["z"]
    assert z_hand == 1.0198 and abs(z_exact - 1.0198598) < 1e-6  # 1.0199 when rounded at the end
