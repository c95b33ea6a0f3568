"""Independent oracle for convolution and pooling layers (issue 10).

Pure Python: nothing here imports `derive` or numpy. Spec numbers are read as the
decimals a person typed (0.1 is exactly 1/10, a `fractions.Fraction`); everything built
from them by +, -, x, ReLU / leaky ReLU / linear and pooling stays exact, and mpmath (a
private context at 50 significant digits, so the global `mpmath.mp` is untouched) is
used only where a transcendental function enters (sigmoid, tanh, softplus, softmax and
the logs of the cross-entropies). So a ReLU entry the data put at exactly z = 0, or two
exactly equal entries of a max-pooling window, are seen as such.

The spec is a dict in the canonical YAML form of issue 10 (load it with
`yaml.safe_load`):

    inputs:  {x: [[1, 0], [2, 1]], s: 0.5}     # a matrix is an image channel, a number a scalar
    layers:
      - conv: {c1: {bias: 0.1, kernel: {x: [[0.2, -0.1], [0.0, 0.3]]}}}
        stride: 1          # default 1
        padding: 0         # default 0
        activation: relu   # default linear
      - pool: {p1: {from: c1}}
        kind: max          # max | average
        size: 2
        stride: 1          # default: size
        activation: linear # default linear
      - activation: sigmoid
        neurons: {o: {bias: 0.05, weights: {p1: [[0.4, -0.2]], s: 0.3}}}
    targets: {o: 1}        # a number per dense output, a matrix per output map
    loss: binary_cross_entropy
    learning_rate: 0.1

Conventions (quotations are from issue 10 unless marked otherwise):

* Convolution is cross-correlation, no kernel flip: "C_{g,h} = b + Σ_c Σ_{m,n}
  k_{m,n,c} · X_c[(g−1)s + m − p, (h−1)s + n − p], indices from 1, zero outside the
  image. Output size ⌊(H + 2p − K)/s⌋ + 1" (per dimension; a rectangular kernel or image
  is accepted, the tests use square kernels).
* Channels: docs/spec.md says nothing about convolutions yet; in the issue's example
  the kernel slices are keyed by the name of the map they slide over
  (`kernel: {x: [[...]]}`, "one kernel slice per input channel"). So a conv map's
  channels are exactly the names its `kernel` lists: an input matrix, or a conv or pool
  map of an earlier layer (a second conv layer takes the previous layer's maps). All
  slices of one map have one shape and all its channels one shape; one bias per map,
  the sum running over every channel (as PyTorch's Conv2d).
* "A pool or conv layer may have an activation (default linear)"; a conv layer's
  activation is "applied to the map, before any pooling". A pool map's z is the pooled
  a of its source and its a = f(z). Softmax is layer-wide over scalar neurons and is
  accepted only for a dense layer.
* Pooling (not specified beyond `size` and `stride`; PyTorch's MaxPool2d / AvgPool2d
  defaults are used): no padding, windows that would run past the edge are dropped
  (output size ⌊(H − size)/stride⌋ + 1, ceil_mode=False), and where windows overlap
  (stride < size) the gradients routed to one position add up.
* Max pooling "passes the gradient to the position of the maximum; a tie goes to the
  first position in row-major order" (ties are decided on exact values). "Average
  pooling passes 1/size² to each position."
* Activations as docs/spec.md "Activations": ReLU′(z) = 1 if z > 0, else 0 (also at
  z = 0); leaky ReLU slope 0.01 by default or `{name: leaky_relu, slope: s}`, with
  f′ = 1 if z > 0 else s; sigmoid′ = a(1 − a); tanh′ = 1 − a²; softplus′ = σ(z);
  softmax ∂a_k/∂z_j = a_k(δ_kj − a_j).
* "A dense neuron's weight from a map is a matrix of the map's shape, so no flatten
  order is needed; from a scalar unit it stays a number."
* Losses as docs/spec.md "Losses", over the units named in `targets`; "The last layer
  may be a conv or pool layer; then its targets are matrices of its shape ... and the
  loss sums over every entry." For `mean_squared_error` n is the number of target
  entries (a map counts each of its entries; PyTorch's MSELoss(reduction="mean")).
  In the cross-entropies a term whose coefficient (y or 1 − y) is exactly 0 is 0.

Parameter keys (as derive's JSON key will carry them; rows and columns from 1):
  ("kernel", map, channel, row, col)   a kernel entry k_{row,col} of `map` over `channel`
  ("bias", map)                        a conv map's bias
  ("weight", source_map, row, col, neuron)  a dense weight from a map entry
  ("weight", source, neuron)           a dense weight from a scalar unit
  ("bias", neuron)                     a dense bias
in spec order: layer by layer, unit by unit, its kernel (channel by channel, row-major)
or weights (in mapping order, row-major), then its bias.

API: `parameters`, `forward`, `deltas`, `gradients` (an explicit backward pass written
from the definitions: δ maps, pooling routing, the kernel gradient as a sum over output
positions, X ⋆ δ), `kernel_gradient_terms` (that sum, one term per position),
`fd_gradients` / `kink_straddles` / `fd_report` (central finite differences of the
loss, independent of the backward pass; which parameters' ±h straddle a kink),
`one_sided` (the two one-sided differences at a kink), `kinks` (ReLU entries at
exactly z = 0 and max-pooling ties at the given values),
`updated` (parameter − learning_rate · gradient), `mpf` and `as_float`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Mapping, Union

import mpmath

DIGITS = 50
MP = mpmath.MPContext()  # private context: derive's global mpmath.mp is not touched
MP.dps = DIGITS
Mpf = type(MP.mpf(0))
Num = Union[Fraction, Any]  # a Fraction (exact) or an MP.mpf (50 digits)
Key = tuple
DEFAULT_SLOPE = Fraction(1, 100)

LOSSES = ("squared_error", "half_squared_error", "mean_squared_error",
          "binary_cross_entropy", "cross_entropy")
ELEMENTWISE = ("linear", "relu", "leaky_relu", "sigmoid", "tanh", "softplus")
KINKED = ("relu", "leaky_relu")


class SpecError(ValueError):
    """The spec is not in the canonical form this oracle reads."""


# --------------------------------------------------------------------------- numbers

def exact(value: Any, where: str = "value") -> Fraction:
    """The decimal a person typed: yaml's float 0.1 -> repr '0.1' -> Fraction(1, 10)."""
    if isinstance(value, bool):
        raise SpecError(f"{where}: a boolean is not a number")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise SpecError(f"{where}: not a finite number")
        return Fraction(Decimal(repr(value)))
    if isinstance(value, Decimal):
        return Fraction(value)
    raise SpecError(f"{where}: not a number: {value!r}")


def _mp(x: Num) -> Any:
    if type(x) is Fraction:
        return MP.mpf(x.numerator) / x.denominator
    if isinstance(x, int):
        return MP.mpf(x)
    return x


def mpf(x: Num) -> Any:
    """A value (Fraction, int or mpf) as a 50-digit mpf of the oracle's context."""
    return _mp(x)


def _add(a: Num, b: Num) -> Num:
    if type(a) is Fraction and type(b) is Fraction:
        return a + b
    return _mp(a) + _mp(b)


def _mul(a: Num, b: Num) -> Num:
    if type(a) is Fraction and type(b) is Fraction:
        return a * b
    return _mp(a) * _mp(b)


def _sub(a: Num, b: Num) -> Num:
    if type(a) is Fraction and type(b) is Fraction:
        return a - b
    return _mp(a) - _mp(b)


def _div(a: Num, b: Num) -> Num:
    if type(a) is Fraction and type(b) is Fraction:
        return a / b
    return _mp(a) / _mp(b)


def _gt(a: Num, b: Num) -> bool:
    if type(a) is Fraction and type(b) is Fraction:
        return a > b
    return _mp(a) > _mp(b)


def _is_zero(x: Num) -> bool:
    return x == 0


def as_float(obj: Any) -> Any:
    """Nested lists / dicts / tuples of Fractions and mpfs as floats (for comparisons)."""
    if isinstance(obj, dict):
        return {k: as_float(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [as_float(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(as_float(v) for v in obj)
    if isinstance(obj, (Fraction, Mpf, int)) and not isinstance(obj, bool):
        return float(obj)
    return obj


def _zeros(shape: tuple[int, int] | None) -> Any:
    if shape is None:
        return Fraction(0)
    return [[Fraction(0)] * shape[1] for _ in range(shape[0])]


def _matrix(value: Any, where: str) -> list[list[Fraction]]:
    if not isinstance(value, list) or not value or not all(isinstance(r, list) for r in value):
        raise SpecError(f"{where}: not a matrix (a non-empty list of rows)")
    width = len(value[0])
    if width == 0 or any(len(r) != width for r in value):
        raise SpecError(f"{where}: rows of different lengths, or empty")
    return [[exact(v, f"{where}[{i + 1}][{j + 1}]") for j, v in enumerate(r)]
            for i, r in enumerate(value)]


def _shape(m: list[list[Any]]) -> tuple[int, int]:
    return (len(m), len(m[0]))


# --------------------------------------------------------------------------- the network

@dataclass
class Activation:
    name: str
    slope: Fraction = DEFAULT_SLOPE


@dataclass
class ConvMap:
    name: str
    channels: list[str]
    kshape: tuple[int, int]
    shape: tuple[int, int]  # output shape


@dataclass
class PoolMap:
    name: str
    source: str
    shape: tuple[int, int]


@dataclass
class Neuron:
    name: str
    sources: list[str]


@dataclass
class Layer:
    kind: str  # conv | pool | dense
    activation: Activation
    units: list[Any]
    stride: int = 1
    padding: int = 0
    size: int = 0  # pooling window
    pool: str = ""  # max | average


@dataclass
class Net:
    inputs: dict[str, Any]  # name -> Fraction or matrix
    layers: list[Layer]
    shapes: dict[str, tuple[int, int] | None]  # every unit: its shape, None for a scalar
    params: dict[Key, Fraction]  # in spec order
    targets: dict[str, Any]
    loss: str
    learning_rate: Fraction
    order: list[str] = field(default_factory=list)  # every non-input unit, in layer order


def _activation(value: Any, where: str, default: str | None) -> Activation:
    if value is None:
        if default is None:
            raise SpecError(f"{where}: an activation is required")
        value = default
    if isinstance(value, str):
        name, slope = value, DEFAULT_SLOPE
    elif isinstance(value, dict) and "name" in value:
        unknown = set(value) - {"name", "slope"}
        if unknown:
            raise SpecError(f"{where}: unknown keys {sorted(unknown)}")
        name = value["name"]
        slope = exact(value.get("slope", DEFAULT_SLOPE), f"{where}.slope")
        if "slope" in value and name != "leaky_relu":
            raise SpecError(f"{where}: a slope is for leaky_relu only")
    else:
        raise SpecError(f"{where}: not an activation this oracle knows: {value!r}")
    if name not in ELEMENTWISE + ("softmax",):
        raise SpecError(f"{where}: unknown activation {name!r}")
    return Activation(name, slope)


def _positive_int(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(f"{where}: must be a whole number >= {minimum}")
    return value


def build(spec: Mapping[str, Any]) -> Net:
    """Read and check a spec in the canonical form."""
    if "samples" in spec:
        raise SpecError("samples: the CNN oracle works one sample")
    for req in ("inputs", "layers", "targets", "loss", "learning_rate"):
        if req not in spec:
            raise SpecError(f"{req}: required")
    shapes: dict[str, tuple[int, int] | None] = {}
    inputs: dict[str, Any] = {}
    if not isinstance(spec["inputs"], dict) or not spec["inputs"]:
        raise SpecError("inputs: a mapping of at least one input")
    for name, v in spec["inputs"].items():
        if isinstance(v, list):
            inputs[name] = _matrix(v, f"inputs.{name}")
            shapes[name] = _shape(inputs[name])
        else:
            inputs[name] = exact(v, f"inputs.{name}")
            shapes[name] = None
    params: dict[Key, Fraction] = {}
    layers: list[Layer] = []
    order: list[str] = []

    def new_name(name: Any, where: str) -> None:
        if not isinstance(name, str) or not name:
            raise SpecError(f"{where}: a unit name must be text")
        if name in shapes:
            raise SpecError(f"{where}: the name {name!r} is used twice")

    for li, layer in enumerate(spec["layers"]):
        at = f"layers[{li}]"
        if not isinstance(layer, dict):
            raise SpecError(f"{at}: a mapping")
        defined_here: dict[str, tuple[int, int] | None] = {}
        if "conv" in layer:
            unknown = set(layer) - {"conv", "stride", "padding", "activation"}
            if unknown:
                raise SpecError(f"{at}: unknown keys {sorted(unknown)}")
            stride = _positive_int(layer.get("stride", 1), f"{at}.stride", 1)
            padding = _positive_int(layer.get("padding", 0), f"{at}.padding", 0)
            act = _activation(layer.get("activation"), f"{at}.activation", "linear")
            if act.name == "softmax":
                raise SpecError(f"{at}.activation: softmax is for a dense layer")
            units = []
            for mname, m in layer["conv"].items():
                mat = f"{at}.conv.{mname}"
                new_name(mname, mat)
                if not isinstance(m, dict) or set(m) != {"bias", "kernel"}:
                    raise SpecError(f"{mat}: exactly {{bias, kernel}}")
                if not isinstance(m["kernel"], dict) or not m["kernel"]:
                    raise SpecError(f"{mat}.kernel: one slice per channel")
                kshape = None
                cshape = None
                channels = []
                for ch, k in m["kernel"].items():
                    if ch not in shapes:
                        raise SpecError(f"{mat}.kernel.{ch}: not an input or an earlier map")
                    if shapes[ch] is None:
                        raise SpecError(f"{mat}.kernel.{ch}: a scalar, not a map")
                    km = _matrix(k, f"{mat}.kernel.{ch}")
                    if kshape is None:
                        kshape, cshape = _shape(km), shapes[ch]
                    elif _shape(km) != kshape or shapes[ch] != cshape:
                        raise SpecError(f"{mat}.kernel.{ch}: slices and channels of one map "
                                        "must share one shape")
                    channels.append(ch)
                    for r in range(kshape[0]):
                        for c in range(kshape[1]):
                            params[("kernel", mname, ch, r + 1, c + 1)] = km[r][c]
                params[("bias", mname)] = exact(m["bias"], f"{mat}.bias")
                assert kshape is not None and cshape is not None
                out = tuple((cshape[d] + 2 * padding - kshape[d]) // stride + 1 for d in (0, 1))
                if min(out) < 1 or any(cshape[d] + 2 * padding < kshape[d] for d in (0, 1)):
                    raise SpecError(f"{mat}: the kernel is larger than the padded image")
                units.append(ConvMap(mname, channels, kshape, out))
                defined_here[mname] = out
            layers.append(Layer("conv", act, units, stride=stride, padding=padding))
        elif "pool" in layer:
            unknown = set(layer) - {"pool", "kind", "size", "stride", "activation"}
            if unknown:
                raise SpecError(f"{at}: unknown keys {sorted(unknown)}")
            kind = layer.get("kind")
            if kind not in ("max", "average"):
                raise SpecError(f"{at}.kind: max or average")
            size = _positive_int(layer.get("size"), f"{at}.size", 1)
            stride = _positive_int(layer.get("stride", size), f"{at}.stride", 1)
            act = _activation(layer.get("activation"), f"{at}.activation", "linear")
            if act.name == "softmax":
                raise SpecError(f"{at}.activation: softmax is for a dense layer")
            units = []
            for pname, p in layer["pool"].items():
                pat = f"{at}.pool.{pname}"
                new_name(pname, pat)
                if not isinstance(p, dict) or set(p) != {"from"}:
                    raise SpecError(f"{pat}: exactly {{from: map}}")
                src = p["from"]
                if src not in shapes or shapes[src] is None:
                    raise SpecError(f"{pat}.from: not an earlier map")
                h, w = shapes[src]
                if size > h or size > w:
                    raise SpecError(f"{pat}: the window is larger than the map")
                out = ((h - size) // stride + 1, (w - size) // stride + 1)
                units.append(PoolMap(pname, src, out))
                defined_here[pname] = out
            layers.append(Layer("pool", act, units, stride=stride, size=size, pool=kind))
        elif "neurons" in layer:
            unknown = set(layer) - {"neurons", "activation"}
            if unknown:
                raise SpecError(f"{at}: unknown keys {sorted(unknown)}")
            act = _activation(layer.get("activation"), f"{at}.activation", None)
            units = []
            for nname, n in layer["neurons"].items():
                nat = f"{at}.neurons.{nname}"
                new_name(nname, nat)
                if not isinstance(n, dict) or set(n) != {"bias", "weights"} or not n["weights"]:
                    raise SpecError(f"{nat}: exactly {{bias, weights}}, at least one weight")
                for src, w in n["weights"].items():
                    if src not in shapes:
                        raise SpecError(f"{nat}.weights.{src}: not an input or earlier unit")
                    if shapes[src] is None:
                        params[("weight", src, nname)] = exact(w, f"{nat}.weights.{src}")
                    else:
                        wm = _matrix(w, f"{nat}.weights.{src}")
                        if _shape(wm) != shapes[src]:
                            raise SpecError(f"{nat}.weights.{src}: shape {_shape(wm)}, "
                                            f"the map is {shapes[src]}")
                        for r, row in enumerate(wm):
                            for c, v in enumerate(row):
                                params[("weight", src, r + 1, c + 1, nname)] = v
                params[("bias", nname)] = exact(n["bias"], f"{nat}.bias")
                units.append(Neuron(nname, list(n["weights"])))
                defined_here[nname] = None
            layers.append(Layer("dense", act, units))
        else:
            raise SpecError(f"{at}: a conv, pool or dense (neurons) layer")
        if not units:
            raise SpecError(f"{at}: no units")
        shapes.update(defined_here)  # a layer sees only earlier layers
        order.extend(u.name for u in units)
    if not layers:
        raise SpecError("layers: at least one")

    last = {u.name for u in layers[-1].units}
    targets: dict[str, Any] = {}
    if not isinstance(spec["targets"], dict) or not spec["targets"]:
        raise SpecError("targets: a mapping of at least one output")
    for name, t in spec["targets"].items():
        if name not in last:
            raise SpecError(f"targets.{name}: not a unit of the last layer")
        if shapes[name] is None:
            targets[name] = exact(t, f"targets.{name}")
        else:
            targets[name] = _matrix(t, f"targets.{name}")
            if _shape(targets[name]) != shapes[name]:
                raise SpecError(f"targets.{name}: shape {_shape(targets[name])}, "
                                f"the map is {shapes[name]}")
    loss = spec["loss"]
    if loss not in LOSSES:
        raise SpecError(f"loss: unknown {loss!r}")
    lr = exact(spec["learning_rate"], "learning_rate")
    return Net(inputs, layers, shapes, params, targets, loss, lr, order)


# --------------------------------------------------------------------------- activations

def _sigmoid(z: Num) -> Num:
    if _is_zero(z):
        return Fraction(1, 2)
    return 1 / (1 + MP.exp(-_mp(z)))


def _f(act: Activation, z: Num) -> Num:
    n = act.name
    if n == "linear":
        return z
    if n == "relu":
        return z if z > 0 else Fraction(0)
    if n == "leaky_relu":
        return z if z > 0 else _mul(act.slope, z)
    if n == "sigmoid":
        return _sigmoid(z)
    if n == "tanh":
        return Fraction(0) if _is_zero(z) else MP.tanh(_mp(z))
    if n == "softplus":
        return MP.log(1 + MP.exp(_mp(z)))
    raise AssertionError(n)


def _fprime(act: Activation, z: Num, a: Num) -> Num:
    n = act.name
    if n == "linear":
        return Fraction(1)
    if n == "relu":
        return Fraction(1) if z > 0 else Fraction(0)  # 0 also at z = 0 (docs/spec.md)
    if n == "leaky_relu":
        return Fraction(1) if z > 0 else act.slope
    if n == "sigmoid":
        return _mul(a, _sub(Fraction(1), a))
    if n == "tanh":
        return _sub(Fraction(1), _mul(a, a))
    if n == "softplus":
        return _sigmoid(z)
    raise AssertionError(n)


def _map(fn: Any, m: Any) -> Any:
    return [[fn(v) for v in row] for row in m]


# --------------------------------------------------------------------------- forward

@dataclass
class Run:
    z: dict[str, Any]
    a: dict[str, Any]
    loss: Num
    # branch pattern: per ReLU-family unit its entries' z > 0, per max pool its argmaxes
    pattern: list[Any]
    argmax: dict[str, list[list[tuple[int, int]]]]  # pool map -> per window the chosen position
    ties: list[tuple]  # (pool map, window row, col, tied positions) 1-based
    zeros: list[tuple]  # (unit, row, col) or (unit,): a ReLU-family z exactly 0


def _conv(net: Net, layer: Layer, m: ConvMap, a: Mapping[str, Any],
          params: Mapping[Key, Fraction]) -> list[list[Num]]:
    s, p = layer.stride, layer.padding
    kh, kw = m.kshape
    oh, ow = m.shape
    bias = params[("bias", m.name)]
    out = []
    for g in range(oh):
        row = []
        for h in range(ow):
            exact_sum = bias
            inexact = None
            for ch in m.channels:
                x = a[ch]
                xh, xw = len(x), len(x[0])
                for mm in range(kh):
                    i = g * s + mm - p
                    if i < 0 or i >= xh:
                        continue  # zero padding
                    for nn in range(kw):
                        j = h * s + nn - p
                        if j < 0 or j >= xw:
                            continue
                        k = params[("kernel", m.name, ch, mm + 1, nn + 1)]
                        v = x[i][j]
                        if type(v) is Fraction:
                            exact_sum += k * v
                        else:
                            t = _mp(k) * v
                            inexact = t if inexact is None else inexact + t
            row.append(exact_sum if inexact is None else _mp(exact_sum) + inexact)
        out.append(row)
    return out


def _pool(layer: Layer, src: list[list[Num]], shape: tuple[int, int]
          ) -> tuple[list[list[Num]], list[list[tuple[int, int]]], list[tuple]]:
    size, s = layer.size, layer.stride
    out, chosen, ties = [], [], []
    for g in range(shape[0]):
        row, crow = [], []
        for h in range(shape[1]):
            window = [(g * s + m, h * s + n) for m in range(size) for n in range(size)]  # row-major
            if layer.pool == "max":
                best = window[0]
                for pos in window[1:]:
                    if _gt(src[pos[0]][pos[1]], src[best[0]][best[1]]):  # strict: a tie keeps the first
                        best = pos
                bv = src[best[0]][best[1]]
                tied = [pos for pos in window if src[pos[0]][pos[1]] == bv]
                if len(tied) > 1:
                    ties.append((g + 1, h + 1, [(i + 1, j + 1) for i, j in tied]))
                row.append(bv)
                crow.append(best)
            else:
                total = Fraction(0)
                for i, j in window:
                    total = _add(total, src[i][j])
                row.append(_div(total, Fraction(size * size)))
                crow.append((-1, -1))
        out.append(row)
        chosen.append(crow)
    return out, chosen, ties


def _softmax(zs: list[Num]) -> list[Num]:
    zm = [_mp(z) for z in zs]
    top = max(zm)
    e = [MP.exp(z - top) for z in zm]
    total = MP.fsum(e)
    return [v / total for v in e]


def _loss_terms(net: Net, a: Mapping[str, Any]) -> list[tuple[Num, Num]]:
    """(prediction, target) per target entry, in spec order, maps row-major."""
    pairs = []
    for name, t in net.targets.items():
        if net.shapes[name] is None:
            pairs.append((a[name], t))
        else:
            for prow, trow in zip(a[name], t):
                pairs.extend(zip(prow, trow))
    return pairs


def _log(x: Num, what: str) -> Any:
    if not x > 0:
        raise ValueError(f"{what}: log of {float(x)!r}, a prediction outside (0, 1)")
    return MP.log(_mp(x))


def _loss(net: Net, pairs: list[tuple[Num, Num]]) -> Num:
    kind = net.loss
    if kind in ("squared_error", "half_squared_error", "mean_squared_error"):
        total = Fraction(0)
        for yh, y in pairs:
            d = _sub(yh, y)
            total = _add(total, _mul(d, d))
        if kind == "half_squared_error":
            return _div(total, Fraction(2))
        if kind == "mean_squared_error":
            return _div(total, Fraction(len(pairs)))
        return total
    total = MP.mpf(0)
    for yh, y in pairs:
        if y != 0:
            total -= _mp(y) * _log(yh, kind)
        if kind == "binary_cross_entropy" and y != 1:
            total -= _mp(1 - y) * _log(_sub(Fraction(1), yh), kind)
    return total


def _dloss(net: Net, yh: Num, y: Num, n: int) -> Num:
    """∂L/∂ŷ for one target entry."""
    kind = net.loss
    if kind == "squared_error":
        return _mul(Fraction(2), _sub(yh, y))
    if kind == "half_squared_error":
        return _sub(yh, y)
    if kind == "mean_squared_error":
        return _mul(Fraction(2, n), _sub(yh, y))
    if kind == "binary_cross_entropy":
        # −y/ŷ + (1 − y)/(1 − ŷ), a term with coefficient 0 left out
        d = Fraction(0)
        if y != 0:
            d = _sub(d, _div(y, yh))
        if y != 1:
            d = _add(d, _div(1 - y, _sub(Fraction(1), yh)))
        return d
    if kind == "cross_entropy":
        return Fraction(0) if y == 0 else _sub(Fraction(0), _div(y, yh))
    raise AssertionError(kind)


def _run(net: Net, params: Mapping[Key, Fraction]) -> Run:
    z: dict[str, Any] = {}
    a: dict[str, Any] = dict(net.inputs)
    pattern: list[Any] = []
    argmax: dict[str, Any] = {}
    ties: list[tuple] = []
    zeros: list[tuple] = []

    def activate(act: Activation, name: str, zv: Any) -> Any:
        if act.name in KINKED:
            if isinstance(zv, list):
                pattern.append((name, tuple(tuple(v > 0 for v in row) for row in zv)))
                zeros.extend((name, i + 1, j + 1) for i, row in enumerate(zv)
                             for j, v in enumerate(row) if _is_zero(v))
            else:
                pattern.append((name, zv > 0))
                if _is_zero(zv):
                    zeros.append((name,))
        if isinstance(zv, list):
            return _map(lambda v: _f(act, v), zv)
        return _f(act, zv)

    for layer in net.layers:
        if layer.kind == "conv":
            for m in layer.units:
                z[m.name] = _conv(net, layer, m, a, params)
                a[m.name] = activate(layer.activation, m.name, z[m.name])
        elif layer.kind == "pool":
            for pm in layer.units:
                pooled, chosen, t = _pool(layer, a[pm.source], pm.shape)
                z[pm.name] = pooled
                if layer.pool == "max":
                    argmax[pm.name] = chosen
                    pattern.append((pm.name, tuple(tuple(r) for r in chosen)))
                    ties.extend((pm.name,) + tie for tie in t)
                a[pm.name] = activate(layer.activation, pm.name, pooled)
        else:
            for n in layer.units:
                exact_sum = params[("bias", n.name)]
                inexact = None
                for src in n.sources:
                    av = a[src]
                    if net.shapes[src] is None:
                        terms = [(params[("weight", src, n.name)], av)]
                    else:
                        terms = [(params[("weight", src, i + 1, j + 1, n.name)], v)
                                 for i, row in enumerate(av) for j, v in enumerate(row)]
                    for w, v in terms:
                        if type(v) is Fraction:
                            exact_sum += w * v
                        else:
                            t = _mp(w) * v
                            inexact = t if inexact is None else inexact + t
                z[n.name] = exact_sum if inexact is None else _mp(exact_sum) + inexact
            if layer.activation.name == "softmax":
                names = [n.name for n in layer.units]
                for name, v in zip(names, _softmax([z[q] for q in names])):
                    a[name] = v
            else:
                for n in layer.units:
                    a[n.name] = activate(layer.activation, n.name, z[n.name])
    loss = _loss(net, _loss_terms(net, a))
    return Run(z, a, loss, pattern, argmax, ties, zeros)


# --------------------------------------------------------------------------- backward

@dataclass
class Back:
    dz: dict[str, Any]
    da: dict[str, Any]
    grad: dict[Key, Num]
    terms: dict[Key, list[tuple[int, int, Num, Num]]]  # kernel key -> (g, h, x, δ)


def _backward(net: Net, params: Mapping[Key, Fraction], run: Run) -> Back:
    da: dict[str, Any] = {name: _zeros(shape) for name, shape in net.shapes.items()}
    dz: dict[str, Any] = {}
    grad: dict[Key, Num] = {}
    terms: dict[Key, list] = {}

    # ∂L/∂ŷ at every target entry
    n_entries = len(_loss_terms(net, run.a))
    for name, t in net.targets.items():
        yh = run.a[name]
        if net.shapes[name] is None:
            da[name] = _dloss(net, yh, t, n_entries)
        else:
            da[name] = [[_dloss(net, p, y, n_entries) for p, y in zip(prow, trow)]
                        for prow, trow in zip(yh, t)]

    def acc_into(name: str, i: int | None, j: int | None, v: Num) -> None:
        if i is None:
            da[name] = _add(da[name], v)
        else:
            da[name][i][j] = _add(da[name][i][j], v)

    for layer in reversed(net.layers):
        act = layer.activation
        # δ = ∂L/∂z of each unit of this layer (its ∂L/∂a is complete: every consumer is later)
        if act.name == "softmax":
            names = [u.name for u in layer.units]
            s = Fraction(0)
            for q in names:
                s = _add(s, _mul(run.a[q], da[q]))
            for q in names:  # δ_j = Σ_k ∂L/∂a_k · a_k(δ_kj − a_j) = a_j(∂L/∂a_j − Σ_k a_k ∂L/∂a_k)
                dz[q] = _mul(run.a[q], _sub(da[q], s))
        else:
            for u in layer.units:
                zv, av, dv = run.z[u.name], run.a[u.name], da[u.name]
                if isinstance(zv, list):
                    dz[u.name] = [[_mul(_fprime(act, zz, aa), dd) for zz, aa, dd in zip(zr, ar, dr)]
                                  for zr, ar, dr in zip(zv, av, dv)]
                else:
                    dz[u.name] = _mul(_fprime(act, zv, av), dv)

        if layer.kind == "dense":
            for n in layer.units:
                d = dz[n.name]
                grad[("bias", n.name)] = d
                for src in n.sources:
                    av = run.a[src]
                    if net.shapes[src] is None:
                        key = ("weight", src, n.name)
                        grad[key] = _mul(av, d)  # ∂z/∂w = a_src
                        acc_into(src, None, None, _mul(params[key], d))
                    else:
                        for i, row in enumerate(av):
                            for j, v in enumerate(row):
                                key = ("weight", src, i + 1, j + 1, n.name)
                                grad[key] = _mul(v, d)
                                acc_into(src, i, j, _mul(params[key], d))
        elif layer.kind == "conv":
            s, p = layer.stride, layer.padding
            for m in layer.units:
                delta = dz[m.name]
                total = Fraction(0)
                for row in delta:
                    for v in row:
                        total = _add(total, v)
                grad[("bias", m.name)] = total  # ∂L/∂b = Σ_{g,h} δ_{g,h}
                kh, kw = m.kshape
                for ch in m.channels:
                    x = run.a[ch]
                    xh, xw = len(x), len(x[0])
                    for mm in range(kh):
                        for nn in range(kw):
                            key = ("kernel", m.name, ch, mm + 1, nn + 1)
                            k = params[key]
                            g_sum: Num = Fraction(0)
                            lst = []
                            # ∂L/∂k_{m,n,c} = Σ_{g,h} X_c[(g−1)s+m−p, (h−1)s+n−p] · δ_{g,h}  (X ⋆ δ)
                            for g in range(m.shape[0]):
                                i = g * s + mm - p
                                if i < 0 or i >= xh:
                                    continue  # the weight met a padding zero there
                                for h in range(m.shape[1]):
                                    j = h * s + nn - p
                                    if j < 0 or j >= xw:
                                        continue
                                    dgh = delta[g][h]
                                    lst.append((g + 1, h + 1, x[i][j], dgh))
                                    g_sum = _add(g_sum, _mul(x[i][j], dgh))
                                    # the same edge carries δ back to X_c[i, j], weighted by k
                                    acc_into(ch, i, j, _mul(k, dgh))
                            grad[key] = g_sum
                            terms[key] = lst
        else:  # pool: route δ of each window to its source
            size2 = Fraction(layer.size * layer.size)
            for pm in layer.units:
                delta = dz[pm.name]
                for g, row in enumerate(delta):
                    for h, d in enumerate(row):
                        if layer.pool == "max":
                            i, j = run.argmax[pm.name][g][h]
                            acc_into(pm.source, i, j, d)
                        else:
                            for mm in range(layer.size):
                                for nn in range(layer.size):
                                    acc_into(pm.source, g * layer.stride + mm,
                                             h * layer.stride + nn, _div(d, size2))
    ordered = {key: grad[key] for key in net.params}
    return Back(dz, da, ordered, terms)


# --------------------------------------------------------------------------- public API

def parameters(spec: Mapping[str, Any]) -> dict[Key, Fraction]:
    """Every parameter's key and exact value, in spec order."""
    return dict(build(spec).params)


def forward(spec: Mapping[str, Any]) -> dict[str, Any]:
    """{"forward": {unit: {"z": ..., "a": ...}}, "loss": L, "outputs": {unit: a}}, as in
    derive's JSON step: a map's z and a are nested lists (rows), a dense unit's numbers.
    Inputs are not listed. Values are Fractions (exact) or 50-digit mpfs."""
    net = build(spec)
    run = _run(net, net.params)
    return {"forward": {name: {"z": run.z[name], "a": run.a[name]} for name in net.order},
            "loss": run.loss,
            "outputs": {name: run.a[name] for name in net.targets}}


def deltas(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per unit ∂L/∂a ("da") and, for every non-input unit, δ = ∂L/∂z ("dz"). The "da" of
    a pool's source is the routing of the pool's δ (zeros where nothing flows)."""
    net = build(spec)
    back = _backward(net, net.params, _run(net, net.params))
    out: dict[str, dict[str, Any]] = {name: {"da": back.da[name]} for name in net.inputs}
    for name in net.order:
        out[name] = {"da": back.da[name], "dz": back.dz[name]}
    return out


def gradients(spec: Mapping[str, Any]) -> dict[Key, Num]:
    """∂L/∂θ for every parameter, by the backward pass above, in spec order."""
    net = build(spec)
    return _backward(net, net.params, _run(net, net.params)).grad


def kernel_gradient_terms(spec: Mapping[str, Any]) -> dict[Key, list[tuple[int, int, Num, Num]]]:
    """Per kernel key, the sum ∂L/∂k_{m,n,c} = Σ_{g,h} X_c[..]·δ_{g,h} one term per output
    position (g, h) (from 1) at which the weight lies on the image: (g, h, x, δ). Positions
    where it lies on padding contribute 0 and are not listed."""
    net = build(spec)
    return _backward(net, net.params, _run(net, net.params)).terms


def updated(spec: Mapping[str, Any]) -> dict[Key, Num]:
    """θ − η ∂L/∂θ for every parameter."""
    net = build(spec)
    grad = _backward(net, net.params, _run(net, net.params)).grad
    return {k: _sub(v, _mul(net.learning_rate, grad[k])) for k, v in net.params.items()}


def kinks(spec: Mapping[str, Any]) -> dict[str, list[tuple]]:
    """At the spec's values: ReLU-family entries with z exactly 0 ("zeros": (unit, row,
    col) or (unit,)) and max-pooling windows with a tie ("ties": (pool, row, col, tied
    source positions); the first of them in row-major order gets the gradient)."""
    net = build(spec)
    run = _run(net, net.params)
    return {"zeros": run.zeros, "ties": run.ties}


def fd_report(spec: Mapping[str, Any], h: float | Fraction = 1e-6
              ) -> tuple[dict[Key, Any], set[Key]]:
    """Central differences (L(θ+h) − L(θ−h)) / 2h of the loss for every parameter, and
    the set of parameters whose θ−h, θ, θ+h do not all take the same branches (some
    ReLU-family z changes side of 0 or some max-pooling window changes its chosen
    position): there the difference straddles a kink and is not a derivative.

    θ ± h is exact (h is read as its decimal), so the branches are decided exactly;
    losses are evaluated with 50-digit mpmath. No backward-pass code is used."""
    net = build(spec)
    hh = exact(h, "h")
    base = _run(net, net.params)
    fd: dict[Key, Any] = {}
    straddles: set[Key] = set()
    for key, v in net.params.items():
        plus = dict(net.params)
        plus[key] = v + hh
        minus = dict(net.params)
        minus[key] = v - hh
        rp, rm = _run(net, plus), _run(net, minus)
        fd[key] = (_mp(rp.loss) - _mp(rm.loss)) / (2 * _mp(hh))
        if not (rp.pattern == base.pattern == rm.pattern):
            straddles.add(key)
    return fd, straddles


def one_sided(spec: Mapping[str, Any], key: Key, h: float | Fraction = 1e-6
              ) -> dict[str, Any]:
    """The one-sided differences of the loss in `key` at a kink: "plus" = (L(θ+h) − L(θ))/h
    and "minus" = (L(θ) − L(θ−h))/h, with "plus_same" / "minus_same" telling whether that
    side takes the same branches as θ itself (every ReLU-family z on the same side of 0,
    every max-pooling window the same chosen position). On such a side the backward pass's
    convention (ReLU′(0) = 0, the first maximum) is that side's derivative."""
    net = build(spec)
    hh = exact(h, "h")
    base = _run(net, net.params)
    out: dict[str, Any] = {}
    for side, sign in (("plus", 1), ("minus", -1)):
        moved = dict(net.params)
        moved[key] = net.params[key] + sign * hh
        r = _run(net, moved)
        out[side] = sign * (_mp(r.loss) - _mp(base.loss)) / _mp(hh)
        out[side + "_same"] = r.pattern == base.pattern
    return out


def fd_gradients(spec: Mapping[str, Any], h: float | Fraction = 1e-6) -> dict[Key, Any]:
    """Central finite differences of the loss for every parameter (see fd_report)."""
    return fd_report(spec, h)[0]


def kink_straddles(spec: Mapping[str, Any], h: float | Fraction = 1e-6) -> set[Key]:
    """Parameters whose finite difference straddles a kink (see fd_report)."""
    return fd_report(spec, h)[1]
