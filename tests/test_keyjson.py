"""The JSON key stays strict JSON (RFC 8259: no Infinity or NaN) when a value passes a
double's range: a given weight of 9.99e307 times an input of 2 (found by tests/test_fuzz.py
on a convolutional spec)."""
from __future__ import annotations

import json
import sys

from click.testing import CliRunner

from cli import main

SPEC = """\
title: A weight near the largest double
inputs: {x1: 2, x2: 0.5}
layers:
  - activation: tanh
    neurons:
      h: {bias: 0.1, weights: {x1: 9.99e307, x2: 9.99e307}}
  - activation: sigmoid
    neurons:
      o: {bias: 0.1, weights: {h: 0.5}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.5
"""


def strict(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_values_beyond_a_double_are_the_largest_double(tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    result = CliRunner().invoke(main, ["solve", str(spec), "-f", "json"])
    assert result.exit_code == 0, result.output
    key = strict(result.stdout)
    z = key["steps"][0]["forward"]["h"]["z"]  # 2 * 9.99e307 + 0.5 * 9.99e307 + 0.1: tanh saturates
    assert z == sys.float_info.max


def test_the_fuzz_example_from_a_convolution_is_clean(tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("""\
title: Average pooling after a padded convolution
inputs:
  x: [[1, 2, 0, 1], [0, 1, 3, 1], [2, 1, 1, 0], [1, 0, 2, 2]]
layers:
- conv:
    c:
      bias: 0.1
      kernel:
        x: [[9.999989284913928e+307, -0.1, 0.3], [0.1, 0.5, -0.2], [-0.3, 0.2, 0.1]]
  stride: 1
  padding: 1
  activation: tanh
- pool:
    p: {from: c}
  kind: average
  size: 2
  stride: 2
- activation: sigmoid
  neurons:
    o:
      bias: -0.1
      weights:
        p: [[0.5, -0.3], [0.8, 0.2]]
targets: {o: 0}
loss: half_squared_error
learning_rate: 0.5
""")
    result = CliRunner().invoke(main, ["solve", str(spec), "-f", "json"])
    assert result.exit_code == 0, result.output
    strict(result.stdout)
