"""A reference table of activations (seed 004): f and f' of every built-in activation.

`derive table` prints it on its own (Markdown, LaTeX or PDF), and `worked:
{activation_table: all}` puts it into a key in place of the table of the activations
the network uses. Each elementwise row comes from the same rule the working uses
(derive.derivation.activation_rule): f, f' as SymPy derives it from the definition, and
f' in the form the working writes it (in a = f(z)). The softmax row holds for a layer
of any n outputs: da_i/dz_j = a_i(delta_ij - a_j); tests/test_table.py checks it
against sympy.diff for n = 1 to 6.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import sympy
from sympy import Add, IndexedBase, KroneckerDelta, Mul, Pow, Sum

from .activations import ActivationRow, activation_table, leibniz
from .derivation import Derivation, activation_rule
from .derivations import Written
from .errors import DeriveError
from .document import Section
from .spec import ACTIVATIONS, DEFAULT_LEAKY_SLOPE, Activation

TABLE_FORMATS = ("md", "tex", "pdf")


class ReferenceTable(NamedTuple):
    """The document `derive table` prints (templates/table.*.j2)."""

    title: str
    rows: tuple[ActivationRow, ...]


def reference_rows(names: tuple[str, ...] = ACTIVATIONS,
                   slope: float = DEFAULT_LEAKY_SLOPE) -> tuple[ActivationRow, ...]:
    """One row per named built-in activation, in ACTIVATIONS order (leaky ReLU with
    `slope`)."""
    rows = []
    for name in ACTIVATIONS:
        if name not in names:
            continue
        if name == "softmax":
            rows.append(softmax_any_n())
            continue
        rule = activation_rule(Activation(name, slope if name == "leaky_relu" else None))
        derivative = rule.derivative
        if isinstance(derivative, sympy.Piecewise):  # one case split, as the working writes it
            derivative = sympy.piecewise_fold(derivative)
        rows.append(ActivationRow(name, rule.shown, (derivative,), rule.convenient))
    return tuple(rows)


def softmax_any_n() -> ActivationRow:
    """Softmax over n outputs in index notation: a_i = e^{z_i} / sum_m e^{z_m},
    da_i/dz_j = e^{z_i}(delta_ij sum_m e^{z_m} - e^{z_j}) / (sum_m e^{z_m})^2
    = a_i(delta_ij - a_j), for every i and j (delta_ij: 1 where i = j, else 0)."""
    i, j, m, n = sympy.symbols("i j m n", integer=True)
    a, z = IndexedBase("a"), IndexedBase("z")
    total = Sum(sympy.exp(z[m]), (m, 1, n))
    shown = sympy.exp(z[i]) / total
    # written as a teacher writes them (Written keeps the order; SymPy's would not)
    in_z = Mul(sympy.exp(z[i]), Add(Mul(KroneckerDelta(i, j), total, evaluate=False), -sympy.exp(z[j]),
                                    evaluate=False), Pow(total, -2, evaluate=False), evaluate=False)
    derivative = Written((sympy.Eq(leibniz("a_{i}", "z_{j}"), in_z, evaluate=False),))
    convenient = Written((Mul(a[i], Add(KroneckerDelta(i, j), -a[j], evaluate=False), evaluate=False),))
    return ActivationRow("softmax", Written((shown,)), (derivative,), convenient)  # type: ignore[arg-type]


def reference_section(derivation: Derivation) -> Section:
    """The reference table inside a key: every built-in activation (leaky ReLU with the
    network's slope, if it has one), then any custom activation the network uses."""
    slopes = [unit.activation.slope for unit in derivation.network.neurons  # type: ignore[union-attr]
              if unit.activation.name == "leaky_relu"]  # type: ignore[union-attr]
    slope = next((value for value in slopes if value is not None), DEFAULT_LEAKY_SLOPE)
    custom = tuple(row for row in activation_table(derivation).content  # type: ignore[union-attr]
                   if row.name not in ACTIVATIONS)
    return Section("activation_reference", "start", reference_rows(ACTIVATIONS, slope) + custom)


def table_document(names: tuple[str, ...], fmt: str) -> str | bytes:
    """The table as a document of its own: Markdown or LaTeX text, or PDF bytes."""
    from .render import render_table
    if fmt not in TABLE_FORMATS:
        raise DeriveError(f"the table is made as {', '.join(TABLE_FORMATS)}, not {fmt!r}")
    unknown = [name for name in names if name not in ACTIVATIONS]
    if unknown:
        raise DeriveError(f"no built-in activation {unknown[0]!r} (the table knows "
                          f"{', '.join(ACTIVATIONS)})")
    table = ReferenceTable("Activations: a reference table", reference_rows(tuple(names) or ACTIVATIONS))
    if fmt == "pdf":
        from .pdf import compile_pdf
        return compile_pdf(render_table(table, "tex"))
    return render_table(table, fmt)


def write_table(names: tuple[str, ...], fmt: str, output: str | Path | None) -> str | None:
    """Make the table and write it to `output` atomically (derive.output); without
    `output`, return it as text for standard output."""
    from .output import write_atomic
    if fmt == "pdf" and output is None:
        raise DeriveError("-f pdf needs an output file: add -o FILE.pdf")
    result = table_document(names, fmt)
    if output is None:
        return result if isinstance(result, str) else result.decode("utf-8")
    write_atomic(output, result)
    return None
