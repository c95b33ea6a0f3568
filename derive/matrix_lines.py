"""Matrix lines a student can redo: the operands of C = s A B (and friends) as they print.

Under the exact policy every matrix entry is carried in full precision and shown
rounded; a product of a 3 x 4 and a 4 x 2 matrix of four-figure entries, times 1/4,
can miss its shown entries by more than their last digit. As for the scalar lines
(derive.checkable), each entry of the result is checked as a student would redo it,
from the operands as they will print, and an operand whose rounding moves a result
most is shown with one digit more until every entry follows. By hand (the by-hand
policy) every result is computed from the shown operands already, so nothing changes.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, NamedTuple, Sequence

from .checkable import Check, Operand, extra_digits, shown_value, target
from .mathnodes import Grid
from .numeric import Value, product, total, value_of

Rows = list[list[Value]]


def exact(rows: Rows | list[list[object]]) -> Rows:
    """Each entry as derive computes with it (an int 1 of a row of ones stays exact)."""
    return [[value_of(x) for x in row] for row in rows]


def matmul(left: Rows, right: Rows, scale: Value = Fraction(1)) -> Rows:
    """scale * left @ right, entry by entry with derive's exact arithmetic."""
    left, right = exact(left), exact(right)
    inner = range(len(right))
    return [[product((scale, total(product((row[k], right[k][j])) for k in inner)))
             for j in range(len(right[0]))] for row in left]


def minus(left: Rows, right: Rows) -> Rows:
    return [[total((a, -b)) for a, b in zip(r, s)] for r, s in zip(exact(left), exact(right))]


def times(left: Rows, right: Rows) -> Rows:
    """Entry by entry (the odot)."""
    return [[product((a, b)) for a, b in zip(r, s)] for r, s in zip(exact(left), exact(right))]


def scaled(left: Rows, scale: Value) -> Rows:
    return [[product((scale, a)) for a in r] for r in exact(left)]


class Op(NamedTuple):
    """What a line does with its operands A, B (and C): "product" s A B, "affine" A B + C,
    "odot" A (.) B, "minus" A - B, "update" A - s B (s = eta), "masked" (A B) (.) C, "triple" A B C."""

    kind: str
    scale: Value = Fraction(1)


PRODUCT, AFFINE, ODOT, MINUS, MASKED, TRIPLE = (Op(kind) for kind in
                                                ("product", "affine", "odot", "minus", "masked", "triple"))


def entry(op: Op, shapes: list[tuple[int, int]], i: int, j: int
          ) -> tuple[list[tuple[int, int, int]], Callable[[list[Value]], Value]]:
    """Entry (i, j) of the line's result: the operand entries it is made of, as
    (operand, row, column), and how it is computed from their values in that order."""
    kind, scale = op.kind, op.scale
    if kind in ("odot", "minus", "update"):
        def pair(v: list[Value]) -> Value:
            if kind == "odot":
                return product(v)
            return total((v[0], -v[1] if kind == "minus" else -product((scale, v[1]))))
        return [(0, i, j), (1, i, j)], pair
    n = shapes[0][1]
    if kind == "triple":  # A (B C): row i of A, all of B, column j of C
        inner = shapes[1][1]
        places = ([(0, i, k) for k in range(n)] + [(1, k, l) for k in range(n) for l in range(inner)]
                  + [(2, l, j) for l in range(inner)])

        def triple(v: list[Value]) -> Value:
            c = v[n + n * inner:]
            return total(product((v[k], total(product((v[n + k * inner + l], c[l])) for l in range(inner))))
                         for k in range(n))
        return places, triple
    places = [(0, i, k) for k in range(n)] + [(1, k, j) for k in range(n)]
    extra = [(2, i, j)] if kind in ("affine", "masked") else []

    def dot(v: list[Value]) -> Value:
        total_ = total(product((v[k], v[n + k])) for k in range(n))
        if kind == "affine":
            return total((total_, v[2 * n]))
        if kind == "masked":
            return product((total_, v[2 * n]))
        return product((scale, total_))
    return places + extra, dot


def shown_operands(operands: Sequence[Grid], op: Op, result: Grid, digits: int,
                   check: bool) -> tuple[Grid, ...]:
    """`operands` as they print in the line `op(operands) = result`.

    `check` is the exact policy's: every entry of `result` must follow, to within one
    unit of its last shown digit, from the shown operands. Each entry is checked with
    the operand entries it is made of (a row and a column, not the whole matrices);
    an operand entry shown with more digits for one result entry shows them for all, so
    the entries are gone over again until none needs more."""
    if not check:
        return tuple(operands)
    shapes = [(len(g.rows), len(g.rows[0])) for g in operands]
    extras: dict[tuple[int, int, int], int] = {}
    for _ in range(4):  # more digits only bring results closer: a second pass settles it
        changed = False
        for i, row in enumerate(result.rows):
            for j, value in enumerate(row):
                places, compute = entry(op, shapes, i, j)
                values = [operands[g].rows[r][c] for g, r, c in places]
                start = [extras.get(place, 0) for place in places]
                found = extra_digits([Check(compute, value)], values, digits, start)
                for place, extra in zip(places, found):
                    if extra > extras.get(place, 0):
                        extras[place], changed = extra, True
        if not changed:
            break
    return tuple(Grid(tuple(tuple(Operand(v, extras[(g, r, c)]) if extras.get((g, r, c)) else v
                                  for c, v in enumerate(line)) for r, line in enumerate(grid.rows)))
                 for g, grid in enumerate(operands))


def follows_by_hand(operands: Sequence[Grid], op: Op, result: Grid, digits: int) -> bool:
    """Whether every entry of `result` is what the shown operands give, rounded half away
    from zero at the entry's last shown digit: the by-hand policy's test of a line."""
    shapes = [(len(g.rows), len(g.rows[0])) for g in operands]
    for i, row in enumerate(result.rows):
        for j, value in enumerate(row):
            places, compute = entry(op, shapes, i, j)
            again = compute([shown_value(operands[g].rows[r][c], digits) for g, r, c in places])
            goal, unit = target(value, digits)
            if not isinstance(again, Fraction):
                return False
            steps = abs(again) / unit  # type: ignore[operator]
            whole = int(steps) + (1 if steps - int(steps) >= Fraction(1, 2) else 0)
            if (whole * unit if again >= 0 else -whole * unit) != goal:
                return False
    return True


class LayerLines(NamedTuple):
    """The operands of one layer's numeric lines in derive.matrix's vector form, as they
    print (each line's own; a value can show more digits in one line than in another)."""

    z: tuple[Grid, ...]  # (W, a, b) of z = W a + b
    chain: tuple[Grid, ...]  # hidden: ((W^(l+1))^T, delta^(l+1), f'), or (J^T, (W^(l+1))^T, delta^(l+1))
    chained: bool  # the bracketed product gives delta as shown (else it is shown on a line of its own)
    delta: tuple[Grid, ...]  # (upstream, f'(z)), or (J^T, upstream)
    gradient: tuple[Grid, ...]  # (delta, a^T) or, with a mask, (delta, a^T, M)
    weight_update: tuple[Grid, ...]  # (W, dL/dW)
    bias_update: tuple[Grid, ...]  # (b, dL/db)
    folded_z: tuple[Grid, ...] = ()  # ([W b], [a; 1])
    folded_gradient: tuple[Grid, ...] = ()  # (delta, [a^T 1]) or with the mask [M 1]
    folded_update: tuple[Grid, ...] = ()  # ([W b], dL/d[W b])


def as_grid(matrix: object) -> Grid:
    return Grid(tuple(tuple(int(x) for x in matrix.tolist()[r]) for r in range(matrix.rows)))  # type: ignore[attr-defined]


def vector_lines(forward: object, backward: object, folded: object | None, eta: Value,
                 digits: int, check: bool) -> LayerLines:
    """The shown operands of every numeric line of one layer (derive.matrix's MatrixForward,
    MatrixBackward and FoldedLayer): under the exact policy with the digits each line needs."""
    f, b = forward, backward

    def shown(operands: tuple[Grid, ...], op: Op, result: Grid) -> tuple[Grid, ...]:
        return shown_operands(operands, op, result, digits, check)

    update = Op("update", eta)
    z = shown((f.weights, f.inputs, f.biases), AFFINE, f.z_values)  # type: ignore[attr-defined]
    chain: tuple[Grid, ...] = ()
    chained = True
    if b.next_weights_t is not None:  # type: ignore[attr-defined]
        if b.elementwise:  # type: ignore[attr-defined]
            operands, op = (b.next_weights_t, b.next_deltas, b.derivative_values), MASKED  # type: ignore[attr-defined]
        else:
            operands, op = (b.derivative_values, b.next_weights_t, b.next_deltas), TRIPLE  # type: ignore[attr-defined]
        chain = shown(operands, op, b.deltas)  # type: ignore[attr-defined]
        chained = check or follows_by_hand(chain, op, b.deltas, digits)  # type: ignore[attr-defined]
    if b.elementwise:  # type: ignore[attr-defined]
        delta = shown((b.upstream, b.derivative_values), ODOT, b.deltas)  # type: ignore[attr-defined]
    else:
        delta = shown((b.derivative_values, b.upstream), PRODUCT, b.deltas)  # type: ignore[attr-defined]
    gradient = gradient_line(b.deltas, b.sources_t, b.mask, b.weight_gradient, shown)  # type: ignore[attr-defined]
    lines = LayerLines(z, chain, chained, delta, gradient,
                       shown((f.weights, b.weight_gradient), update, b.updated_weights),  # type: ignore[attr-defined]
                       shown((f.biases, b.bias_gradient), update, b.updated_biases))  # type: ignore[attr-defined]
    if folded is None:
        return lines
    fl = folded
    return lines._replace(
        folded_z=shown((fl.weights, fl.inputs), PRODUCT, f.z_values),  # type: ignore[attr-defined]
        folded_gradient=gradient_line(b.deltas, fl.sources_t, fl.mask, fl.gradient, shown),  # type: ignore[attr-defined]
        folded_update=shown((fl.weights, fl.gradient), update, fl.updated))  # type: ignore[attr-defined]


def gradient_line(deltas: Grid, sources_t: Grid, mask: object | None, result: Grid,
                  shown: Callable[..., tuple[Grid, ...]]) -> tuple[Grid, ...]:
    """delta a^T (entry by entry times the mask M, where connections are missing)."""
    if mask is None:
        return shown((deltas, sources_t), PRODUCT, result)
    return shown((deltas, sources_t, as_grid(mask)), MASKED, result)
