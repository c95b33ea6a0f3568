"""Which worked forms an answer shows, and adding their sections to a Solution.

The path-by-path backward pass is the hand-written style, but the number of paths
multiplies with every layer; past PATHS_FOR_AUTO paths for some parameter, the
default switches to the delta form (each delta worked once and reused) and says so.
The other forms are extra sections, each built by its own module.
"""
from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from .derivation import PATHS_FOR_AUTO, Derivation, printed_form
from .errors import DeriveError
from .evaluate import Values
from .document import Section, Solution
from .solution import Shown
from .spec import Spec, Worked


class Options(NamedTuple):
    """What the command line asks for; merged with the spec's `worked:` settings."""

    form: str = "auto"
    matrix: bool = False
    closed_form: bool = False
    fold_bias: bool = False  # the matrix form with the bias folded into the weights (implies it)
    derivations: bool = False  # worked derivations of sigma' and a - y (derive.derivations)
    shortcut: bool = False  # the output delta as a - y (derive.shortcut)
    activation_table: str = "used"  # or "all": every built-in activation (derive.table)

    def merged(self, worked: Worked) -> Options:
        """The command line wins for the form (unless it says auto); flags add up. The
        shortcut is used in the delta form, so it turns auto into delta."""
        fold = self.fold_bias or worked.fold_bias
        shortcut = self.shortcut or worked.shortcut
        form = self.form if self.form != "auto" else worked.form
        return Options("delta" if shortcut and form == "auto" else form,
                       self.matrix or worked.matrix or fold, self.closed_form or worked.closed_form, fold,
                       self.derivations or worked.derivations, shortcut,
                       "all" if "all" in (self.activation_table, worked.activation_table) else "used")


def chosen_form(derivation: Derivation, form: str) -> tuple[str, str]:
    """(form, reason): the reason is said in the answer when derive chose the form.

    Chosen from the counted paths (Derivation.worst_paths): none need be built."""
    worst = derivation.worst_paths
    chosen = printed_form(form, worst)
    if form != "auto" or chosen == "paths":
        return chosen, ""
    return "delta", (f"A parameter of this network has {worst} chain-rule paths, too many to write "
                     f"out one by one (the path-by-path form is used up to {PATHS_FOR_AUTO}), so the "
                     "backward pass is worked in delta form: each neuron's delta once, reused by "
                     "every weight into it. (--form paths shows every path.)")


def check_printed_paths(derivation: Derivation, form: str, max_paths: int) -> None:
    """The path limit is on the working a key prints: the delta form prints no paths."""
    worst = derivation.worst_paths
    if form in ("paths", "both") and worst > max_paths:
        raise DeriveError(
            f"a parameter of this network has {worst} chain-rule paths and the limit is "
            f"{max_paths}: written out path by path, the working would run to thousands of "
            "lines. Work it in delta form (--form delta, or leave --form to choose), or raise "
            "the limit with --max-paths if you really want every path")


def in_notation(solution: Solution, derivation: Derivation, values: list[Values], spec: Spec) -> Solution:
    """`solution` written in the spec's notation: its signs (alpha, x, J: derive.latex.House),
    the loss split into per-output terms (seed 000) and gradients factored with named
    shorthands (seed 004) where the spec asks. derive solve and each exam variant alike."""
    solution = replace(solution, notation=spec.notation)
    if spec.notation.loss_terms:  # L = L_1 + L_2, and gradients split by them
        from .lossterms import with_loss_terms
        solution = with_loss_terms(solution, derivation, values)
    if spec.worked.factored:  # shorthands L_y, dRL(z) and each gradient factored
        from .factored import with_factored
        solution = with_factored(solution, derivation, values, spec.notation.loss)
    return solution


def with_forms(solution: Solution, derivation: Derivation, values: list[Values],
               options: Options) -> Solution:
    """`solution` with the chosen backward form and the requested extra sections.

    `values` holds the values of each step of the solution, in order.
    """
    form, reason = chosen_form(derivation, options.form)
    start: list[Section] = [activation_section(derivation, options.activation_table)]
    kinds = derivation_kinds(derivation) if options.derivations else ()
    if kinds:
        from .derivations import derivations_section
        start.append(derivations_section(kinds))
    shortcut = None  # the derivation of a - y at the output, which the delta form then uses
    if options.shortcut and form in ("delta", "both"):
        from .derivations import BUILDERS
        from .shortcut import Shortcut
        kind = shortcut_kind_of(derivation)
        shortcut = Shortcut(BUILDERS[kind](), kind in kinds)
    end: list[Section] = []
    if options.closed_form:
        from .closedform import closed_form_section
        end.append(closed_form_section(derivation))
    shown = Shown(solution.digits, solution.policy == "exact")
    batches: dict[int, Section] = {}
    if options.matrix:  # a mini-batch's matrices, after its last sample (derive.matrix_batch)
        from .matrix_batch import batch_sections
        batches = batch_sections(derivation, solution.steps, values, shown, options.fold_bias)
    steps = []
    for index, (step, step_values) in enumerate(zip(solution.steps, values)):
        extra: list[Section] = []
        if form in ("delta", "both"):
            from .delta import delta_section
            tasks = {block.key: block.task for layer in step.backward for block in layer.gradients}
            extra.append(delta_section(derivation, step_values, tasks, shown, shortcut))
        if options.matrix:
            from .matrix import matrix_section
            extra.append(matrix_section(derivation, step_values, shown, options.fold_bias))
            extra.extend((batches[index],) if index in batches else ())
        steps.append(replace(step, sections=step.sections + tuple(extra)))
    return replace(solution, steps=tuple(steps), form=form, form_reason=reason,
                   sections=tuple(start) + solution.sections + tuple(end))


def activation_section(derivation: Derivation, table: str = "used") -> Section:
    """The activations the network uses, or (`table` "all") every built-in one."""
    if table == "all":
        from .table import reference_section
        return reference_section(derivation)
    from .activations import activation_table
    return activation_table(derivation)


def derivation_kinds(derivation: Derivation) -> tuple[str, ...]:
    """The worked derivations the key shows with `derivations` (derive.derivations):
    sigma' where a sigmoid is used, and the output's simplification to a - y where it
    has one."""
    from .solution import combined_kind
    kinds = []
    if any(unit.activation.name == "sigmoid" for unit in derivation.network.neurons):  # type: ignore[union-attr]
        kinds.append("sigmoid")
    if combined_kind(derivation):
        kinds.append(combined_kind(derivation))
    return tuple(kinds)


def shortcut_kind_of(derivation: Derivation) -> str:
    """Which simplification the output has (derive.shortcut): an error where it has none."""
    from .shortcut import shortcut_kind
    return shortcut_kind(derivation)
