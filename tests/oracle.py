"""Independent reference implementation ("oracle") for derive's tests.

This module deliberately imports nothing from the `derive` package: the product's
numbers are compared against these, so one shared bug cannot hide in both.
It works on the plain dict that `yaml.safe_load` returns for a canonical v1 spec.

Two gradient routes are offered and cross-checked in test_oracle.py:
  * fd_gradients    - central finite differences of the plain-float `loss`;
  * sympy_gradients - sympy.diff of the fully composed symbolic loss.
They share only spec reading and the loss formula, never differentiation code.
"""

from __future__ import annotations

import ast
import math
from typing import Any, Callable, Mapping

import sympy

# ("weight", from_name, to_name) or ("bias", neuron_name)
Key = tuple[str, ...]
Spec = Mapping[str, Any]

DEFAULT_SLOPE = 0.01  # leaky_relu slope when the spec gives only the name
FORMULA = "formula:"  # _activation's name for a custom activation: this, then the formula


# --------------------------------------------------------------------------- spec reading

def _activation(layer: Mapping[str, Any]) -> tuple[str, float]:
    """(name, slope): `activation` is either a bare name or {name:, slope:}."""
    act = layer["activation"]
    if isinstance(act, str):
        return act, DEFAULT_SLOPE
    if "formula" in act:  # {formula: "x/(1+abs(x))", name: softsign}: the name is only text
        return FORMULA + act["formula"], DEFAULT_SLOPE
    return act["name"], float(act.get("slope", DEFAULT_SLOPE))


_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b,
}


def _formula(text: str, x: Any, functions: Mapping[str, Callable[[Any], Any]]) -> Any:
    """A custom activation's formula at x. Deliberately not derive.formula's parser:
    Python's own parse tree of the text (^ read as **, which has the same precedence and
    associativity), walked here. ast.parse only builds the tree; nothing is evaluated but
    numbers, x, + - * / ** and the functions given; anything else is an error."""
    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.Name) and node.id == "x":
            return x
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](walk(node.left), walk(node.right))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions
                and len(node.args) == 1 and not node.keywords):
            return functions[node.func.id](walk(node.args[0]))
        raise ValueError(f"the oracle cannot evaluate {ast.dump(node)} in formula {text!r}")
    return walk(ast.parse(text.replace("^", "**"), mode="eval").body)


def _float_sigmoid(z: float) -> float:
    if z >= 0:  # split form so exp never overflows for large |z|
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


FLOAT_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "abs": abs, "tanh": math.tanh,
    "sin": math.sin, "cos": math.cos, "sigmoid": _float_sigmoid}
SYMPY_FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "abs": sympy.Abs, "tanh": sympy.tanh,
    "sin": sympy.sin, "cos": sympy.cos, "sigmoid": lambda u: 1 / (1 + sympy.exp(-u))}


def parameters(spec: Spec) -> list[Key]:
    """Parameter keys in spec order: layer by layer, neuron by neuron,
    each neuron's weights in mapping order, then its bias."""
    keys: list[Key] = []
    for layer in spec["layers"]:
        for name, neuron in layer["neurons"].items():
            keys.extend(("weight", src, name) for src in neuron["weights"])
            keys.append(("bias", name))
    return keys


def _values(spec: Spec, overrides: Mapping[Key, float] | None = None) -> dict[Key, float]:
    """Current parameter values, with `overrides` applied (used by finite differences)."""
    values: dict[Key, float] = {}
    for layer in spec["layers"]:
        for name, neuron in layer["neurons"].items():
            for src, w in neuron["weights"].items():
                values[("weight", src, name)] = float(w)
            values[("bias", name)] = float(neuron["bias"])
    for key, v in (overrides or {}).items():
        if key not in values:  # a typo'd key would otherwise silently do nothing
            raise KeyError(f"unknown parameter {key!r}")
        values[key] = float(v)
    return values


def _samples(spec: Spec) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(inputs, targets) pairs: either the `samples:` list or the single top-level pair."""
    if "samples" in spec:
        return [(s["inputs"], s["targets"]) for s in spec["samples"]]
    return [(spec["inputs"], spec["targets"])]


def _reduce(spec: Spec, per_sample: list[Any]) -> Any:
    """Combine per-sample losses; works for floats and sympy expressions alike."""
    total = sum(per_sample[1:], per_sample[0])
    reduction = spec.get("reduction", "mean")
    if reduction == "mean":
        return total / len(per_sample)
    if reduction == "sum":
        return total
    raise ValueError(f"unknown reduction {reduction!r}")


def _loss_formula(kind: str, pairs: list[tuple[Any, Any]], log: Callable[[Any], Any]) -> Any:
    """Loss over (y, y_hat) pairs. Shared by the float and sympy routes on purpose:
    it holds no derivative logic, and it is pinned by hand values in the tests."""
    if kind == "squared_error":
        return sum((y - p) ** 2 for y, p in pairs)
    if kind == "half_squared_error":
        return sum((y - p) ** 2 for y, p in pairs) / 2
    if kind == "mean_squared_error":
        return sum((y - p) ** 2 for y, p in pairs) / len(pairs)
    if kind == "binary_cross_entropy":
        return -sum(y * log(p) + (1 - y) * log(1 - p) for y, p in pairs)
    if kind == "cross_entropy":
        return -sum(y * log(p) for y, p in pairs)
    raise ValueError(f"unknown loss {kind!r}")


# --------------------------------------------------------------------------- float route

def _act_float(name: str, slope: float, z: float) -> float:
    if name.startswith(FORMULA):
        return float(_formula(name[len(FORMULA):], z, FLOAT_FUNCTIONS))
    if name == "linear":
        return z
    if name == "sigmoid":
        # split form so exp never overflows for large |z|
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)
    if name == "tanh":
        return math.tanh(z)
    if name == "relu":
        return z if z > 0 else 0.0
    if name == "leaky_relu":
        return z if z > 0 else slope * z
    if name == "softplus":
        # log(1+e^z) = max(z,0) + log1p(e^-|z|), stable for both signs
        return max(z, 0.0) + math.log1p(math.exp(-abs(z)))
    raise ValueError(f"unknown activation {name!r}")


def _forward_values(spec: Spec, values: Mapping[Key, float],
                    inputs: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    acts: dict[str, float] = {k: float(v) for k, v in inputs.items()}
    out: dict[str, tuple[float, float]] = {}
    for layer in spec["layers"]:
        name, slope = _activation(layer)
        # every source must already be known: inputs or an EARLIER layer's neuron
        zs = {n: sum(values[("weight", s, n)] * acts[s] for s in neuron["weights"])
              + values[("bias", n)]
              for n, neuron in layer["neurons"].items()}
        if name == "softmax":
            m = max(zs.values())  # shift by the max: same result, no overflow
            exps = {n: math.exp(z - m) for n, z in zs.items()}
            total = sum(exps.values())
            layer_acts = {n: e / total for n, e in exps.items()}
        else:
            layer_acts = {n: _act_float(name, slope, z) for n, z in zs.items()}
        for n, z in zs.items():
            out[n] = (z, layer_acts[n])
            acts[n] = layer_acts[n]
    return out


def forward(spec: Spec, overrides: Mapping[Key, float] | None = None,
            inputs: Mapping[str, Any] | None = None) -> dict[str, tuple[float, float]]:
    """{neuron: (z, a)}. Uses the top-level inputs, or the first sample's
    inputs for a `samples:` spec, unless `inputs` is given."""
    if inputs is None:
        inputs = _samples(spec)[0][0]
    return _forward_values(spec, _values(spec, overrides), inputs)


def loss(spec: Spec, overrides: Mapping[Key, float] | None = None) -> float:
    """Total loss in plain floats (mean or sum over samples)."""
    values = _values(spec, overrides)
    per_sample = []
    for inputs, targets in _samples(spec):
        fw = _forward_values(spec, values, inputs)
        pairs = [(float(y), fw[n][1]) for n, y in targets.items()]
        per_sample.append(_loss_formula(spec["loss"], pairs, math.log))
    return float(_reduce(spec, per_sample))


def fd_gradients(spec: Spec, h: float = 1e-6) -> dict[Key, float]:
    """Central differences (L(p+h) - L(p-h)) / 2h, one parameter at a time."""
    base = _values(spec)
    grads: dict[Key, float] = {}
    for key in parameters(spec):
        plus = loss(spec, {key: base[key] + h})
        minus = loss(spec, {key: base[key] - h})
        grads[key] = (plus - minus) / (2 * h)
    return grads


# --------------------------------------------------------------------------- sympy route

def _symbol(key: Key) -> sympy.Symbol:
    # brackets/commas keep names unambiguous even when neuron names contain "_";
    # real=True lets sympy settle relational/log simplifications far faster (~10x)
    if key[0] == "weight":
        return sympy.Symbol(f"w[{key[1]},{key[2]}]", real=True)
    return sympy.Symbol(f"b[{key[1]}]", real=True)


def _act_sym(name: str, slope: float, z: sympy.Expr) -> sympy.Expr:
    if name.startswith(FORMULA):
        return _formula(name[len(FORMULA):], z, SYMPY_FUNCTIONS)
    if name == "linear":
        return z
    if name == "sigmoid":
        return 1 / (1 + sympy.exp(-z))
    if name == "tanh":
        return sympy.tanh(z)
    # Piecewise with the z <= 0 branch first: derivative at exactly 0 is 0 (relu) / slope.
    # Note: sympy folds a Piecewise nested in another's condition, so stacked wide
    # relu layers get slow (seconds for 3 layers of width 2).
    if name == "relu":
        return sympy.Piecewise((0, z <= 0), (z, True))
    if name == "leaky_relu":
        return sympy.Piecewise((sympy.Float(slope) * z, z <= 0), (z, True))
    if name == "softplus":
        return sympy.log(1 + sympy.exp(z))
    raise ValueError(f"unknown activation {name!r}")


def sympy_loss(spec: Spec) -> sympy.Expr:
    """The whole loss as ONE expression in the parameter symbols
    (inputs and targets are numbers)."""
    per_sample = []
    for inputs, targets in _samples(spec):
        acts: dict[str, sympy.Expr] = {k: sympy.Float(v) for k, v in inputs.items()}
        for layer in spec["layers"]:
            name, slope = _activation(layer)
            zs = {n: sum((_symbol(("weight", s, n)) * acts[s] for s in neuron["weights"]),
                         sympy.S.Zero) + _symbol(("bias", n))
                  for n, neuron in layer["neurons"].items()}
            if name == "softmax":
                total = sum(sympy.exp(z) for z in zs.values())
                acts.update({n: sympy.exp(z) / total for n, z in zs.items()})
            else:
                acts.update({n: _act_sym(name, slope, z) for n, z in zs.items()})
        pairs = [(sympy.Float(y), acts[n]) for n, y in targets.items()]
        per_sample.append(_loss_formula(spec["loss"], pairs, sympy.log))
    return _reduce(spec, per_sample)


def sympy_gradients(spec: Spec) -> dict[Key, float]:
    """sympy.diff of the composed loss per parameter, then substitute and evaluate.
    Expression size grows fast with depth: meant for small networks only."""
    expr = sympy_loss(spec)
    subs = {_symbol(k): sympy.Float(v) for k, v in _values(spec).items()}
    return {key: float(sympy.diff(expr, _symbol(key)).xreplace(subs).evalf())
            for key in parameters(spec)}
