"""Reading what a convolutional network adds (issue 10): matrices (an image channel, a
kernel, a dense neuron's weights from a map, a map's targets), conv layers and pool
layers.

Every map's shape is known as soon as it is read (an input matrix as written; a conv
map from its kernel, stride and padding; a pooled map from its window), so that a
kernel, a weight matrix or a target of the wrong shape is reported where it is written.
"""
from __future__ import annotations

from typing import Callable

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .documents import join, kind_of, listed, scalar_value, shown
from .activations import ActivationReader
from .model import POOL_KINDS, Activation, LayerSpec, Matrix, NeuronSpec

MAX_SIDE = 12  # an image side worked by hand; beyond it nobody writes the maps out


def conv_size(side: int, kernel: int, stride: int, padding: int) -> int:
    """floor((H + 2p - K) / s) + 1: the positions a kernel takes along one side."""
    return (side + 2 * padding - kernel) // stride + 1


class MapReader(ActivationReader):
    """Matrices, conv layers and pool layers, with every map's shape."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.shapes: dict[str, tuple[int, int]] = {}  # matrix input or map name -> (rows, cols)

    def matrix(self, node: Node, path: str, shape: tuple[int, int] | None = None) -> Matrix | None:
        """Rows of numbers, all of one length (and of `shape` if given). For an exam, a
        cell may be a draw, and so may the whole matrix: {uniform: [0, 2], decimals: 0,
        shape: [4, 4]} draws each entry on its own."""
        if isinstance(node, MappingNode):
            return self.drawn_matrix(node, path, shape)
        if not isinstance(node, SequenceNode) or not node.value or \
                not all(isinstance(row, SequenceNode) and row.value for row in node.value):
            self.problem(node, path, f"expected a matrix: a list of rows of numbers, found {kind_of(node)}")
            return None
        rows = [[self.value(cell, f"{path}[{r}][{c}]") for c, cell in enumerate(row.value)]
                for r, row in enumerate(node.value)]
        widths = {len(row) for row in rows}
        if len(widths) != 1:
            self.problem(node, path, f"every row needs the same length, found rows of {listed([str(w) for w in sorted(widths)])}")
            return None
        found = (len(rows), widths.pop())
        if max(found) > MAX_SIDE:
            self.problem(node, path, f"a matrix of at most {MAX_SIDE} x {MAX_SIDE} is worked by hand, "
                         f"found {found[0]} x {found[1]}")
            return None
        if shape is not None and found != shape:
            self.problem(node, path, f"expected a {shape[0]} x {shape[1]} matrix, found {found[0]} x {found[1]}")
            return None
        if any(cell is None for row in rows for cell in row):
            return None
        return tuple(tuple(row) for row in rows)  # type: ignore[misc]

    def drawn_matrix(self, node: Node, path: str, shape: tuple[int, int] | None) -> Matrix | None:
        """A matrix every entry of which is drawn alike; its shape is given, or known."""
        draw = self.draw(node, path, ("shape",))
        entries = self.mapping(node, path) or {}
        if "shape" in entries:
            shape_node = entries["shape"][1]
            sides = [self.whole(side, f"{join(path, 'shape')}[{i}]", 1, 1)
                     for i, side in enumerate(shape_node.value)] \
                if isinstance(shape_node, SequenceNode) and len(shape_node.value) == 2 else None
            if sides is None:
                self.problem(shape_node, join(path, "shape"), f"expected [rows, columns], found {kind_of(shape_node)}")
                return None
            if None in sides:
                return None
            if shape is not None and tuple(sides) != shape:
                self.problem(shape_node, join(path, "shape"), f"expected a {shape[0]} x {shape[1]} matrix, "
                             f"found {sides[0]} x {sides[1]}")
                return None
            shape = (sides[0], sides[1])  # type: ignore[assignment]
        elif shape is None:
            self.problem(node, path, "a drawn matrix needs its shape: add shape: [rows, columns]")
            return None
        if draw is None:
            return None
        return tuple(tuple(draw for _ in range(shape[1])) for _ in range(shape[0]))  # type: ignore[index]

    def whole(self, node: Node, path: str, default: int, low: int) -> int | None:
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_SIDE:
            self.problem(node, path, f"expected a whole number from {low} to {MAX_SIDE}, found {kind_of(node)}")
            return None
        return value

    def conv_layer(self, entries: dict[str, tuple[Node, Node]], path: str, number: int,
                   layer_of: dict[str, int]) -> LayerSpec | None:
        stride = self.whole(entries["stride"][1], join(path, "stride"), 1, 1) if "stride" in entries else 1
        padding = self.whole(entries["padding"][1], join(path, "padding"), 0, 0) if "padding" in entries else 0
        activation = self.activation(entries["activation"][1], join(path, "activation")) \
            if "activation" in entries else Activation("linear")
        if activation is not None and activation.name == "softmax":
            self.problem(entries["activation"][1], join(path, "activation"),
                         "softmax belongs to a dense output layer, not to a map")
            return None
        maps = self.maps(entries, path, "conv", number, layer_of,
                         lambda node, map_path, name, earlier: self.conv_map(node, map_path, name, earlier,
                                                                             stride, padding))
        if activation is None or stride is None or padding is None or maps is None:
            return None
        return LayerSpec(activation, maps, "conv", stride, padding)

    def maps(self, entries: dict[str, tuple[Node, Node]], path: str, key: str, number: int,
             layer_of: dict[str, int], read: Callable[[Node, str, str, dict[str, int]], NeuronSpec | None]
             ) -> tuple[NeuronSpec, ...] | None:
        """The maps of a conv or pool layer (under `key`), each name new, each read by
        `read`; None if any could not be read."""
        maps_node = entries[key][1]
        map_entries = self.mapping(maps_node, join(path, key))
        if not map_entries:
            if map_entries is not None:
                self.problem(maps_node, join(path, key), f"a {key} layer needs at least one map")
            return None
        earlier = dict(layer_of)  # kernels and windows may only use earlier maps
        found = []
        for name, (key_node, value_node) in map_entries.items():
            map_path = join(join(path, key), name)
            if self.fresh(key_node, map_path, name, number, layer_of):
                found.append(read(value_node, map_path, name, earlier))
        return tuple(found) if len(found) == len(map_entries) and None not in found else None  # type: ignore[arg-type]

    def fresh(self, key_node: Node, path: str, name: str, number: int, layer_of: dict[str, int]) -> bool:
        """A new map name, registered in its layer."""
        if name in layer_of:
            where = "an input" if layer_of[name] == 0 else f"a neuron or map of layers[{layer_of[name] - 1}]"
            self.problem(key_node, path, f"duplicate name: {shown(name)!r} is already {where}")
            return False
        self.name(key_node, path)
        layer_of[name] = number
        return True

    def conv_map(self, node: Node, path: str, name: str, earlier: dict[str, int], stride: int | None,
                 padding: int | None) -> NeuronSpec | None:
        entries = self.mapping(node, path)
        if entries is None:
            return None
        self.keys(node, path, entries, ("bias", "kernel"), ())
        bias = self.value(entries["bias"][1], join(path, "bias")) if "bias" in entries else None
        if "kernel" not in entries:
            return None
        kernel_entries = self.mapping(entries["kernel"][1], join(path, "kernel"))
        if not kernel_entries:
            if kernel_entries is not None:
                self.problem(entries["kernel"][1], join(path, "kernel"), "a map needs a kernel for at least one channel")
            return None
        kernels = []
        kernel_shape: tuple[int, int] | None = None
        channel_shape: tuple[int, int] | None = None
        for channel, (key_node, value_node) in kernel_entries.items():
            channel_path = join(join(path, "kernel"), channel)
            if channel not in earlier or channel not in self.shapes:
                known = [n for n in earlier if n in self.shapes]
                self.problem(key_node, channel_path, f"{shown(channel)!r} is not a matrix input or a map of an "
                             f"earlier layer (channels: {listed(known) if known else 'none'})")
                continue
            if channel_shape is not None and self.shapes[channel] != channel_shape:
                self.problem(key_node, channel_path, "every channel of a map must have the same shape")
                continue
            channel_shape = self.shapes[channel]
            kernel = self.matrix(value_node, channel_path, kernel_shape)
            if kernel is None:
                continue
            kernel_shape = (len(kernel), len(kernel[0]))
            kernels.append((channel, kernel))
        if bias is None or len(kernels) != len(kernel_entries) or stride is None or padding is None:
            return None
        sizes = [conv_size(side, k, stride, padding) for side, k in zip(channel_shape, kernel_shape)]  # type: ignore[arg-type]
        if min(sizes) < 1:
            self.problem(entries["kernel"][1], join(path, "kernel"),
                         f"a {kernel_shape[0]} x {kernel_shape[1]} kernel does not fit a "  # type: ignore[index]
                         f"{channel_shape[0]} x {channel_shape[1]} channel with padding {padding}")  # type: ignore[index]
            return None
        self.shapes[name] = (sizes[0], sizes[1])
        return NeuronSpec(name, bias, tuple(kernels))

    def pool_layer(self, entries: dict[str, tuple[Node, Node]], path: str, number: int,
                   layer_of: dict[str, int]) -> LayerSpec | None:
        kind = self.choice(entries["kind"][1], join(path, "kind"), POOL_KINDS, "pooling") \
            if "kind" in entries else "max"
        size = self.whole(entries["size"][1], join(path, "size"), 2, 1) if "size" in entries else 2
        stride = self.whole(entries["stride"][1], join(path, "stride"), size or 1, 1) \
            if "stride" in entries else size
        activation = self.activation(entries["activation"][1], join(path, "activation")) \
            if "activation" in entries else Activation("linear")
        pools = self.maps(entries, path, "pool", number, layer_of,
                          lambda node, pool_path, name, earlier: self.pooled(node, pool_path, name, earlier,
                                                                             size, stride))
        if None in (kind, size, stride, activation) or pools is None:
            return None
        return LayerSpec(activation, pools, "pool", stride, 0, kind, size)  # type: ignore[arg-type]

    def pooled(self, node: Node, path: str, name: str, earlier: dict[str, int], size: int | None,
               stride: int | None) -> NeuronSpec | None:
        entries = self.mapping(node, path)
        if entries is None:
            return None
        self.keys(node, path, entries, ("from",), ())
        if "from" not in entries:
            return None
        source = self.text(entries["from"][1], join(path, "from"))
        if source is None:
            return None
        if source not in earlier or source not in self.shapes:
            known = [n for n in earlier if n in self.shapes]
            self.problem(entries["from"][1], join(path, "from"), f"{shown(source)!r} is not a map of an earlier "
                         f"layer (maps: {listed(known) if known else 'none'})")
            return None
        if size is None or stride is None:
            return None
        rows, cols = self.shapes[source]
        if size > min(rows, cols):
            self.problem(entries["from"][1], join(path, "from"), f"a {size} x {size} window does not fit the "
                         f"{rows} x {cols} map {shown(source)!r}")
            return None
        # windows that would run past the edge are left out, as in every library
        self.shapes[name] = ((rows - size) // stride + 1, (cols - size) // stride + 1)
        return NeuronSpec(name, 0, ((source, None),))
