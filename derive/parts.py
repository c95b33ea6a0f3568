"""Several parts on one network (seed 002): part (a) with the squared error, part (b)
with cross-entropy, in one document with shared given values.

Each part is the spec with the part's overrides in place (derive.spec.parts), worked
through the usual pipeline with its task numbers begun by its label (a.3.1), so a part's
answer is an ordinary Solution. The document is one Solution of kind "parts" holding
them: its `given` is what the parts share (network, inputs, weights, biases, and the
learning rate when every part uses the same one), its steps are the parts' steps in
order. The forward pass does not depend on the loss, the targets or the learning rate,
so a later part's step whose forward pass is the first part's says so rather than
working it again (Step.forward_as).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .derivation import MAX_PATHS
from .forms import Options
from .document import Given, Part, Section, Solution, Step
from .spec.model import PartSpec, Spec


def part_spec(spec: Spec, part: PartSpec) -> Spec:
    """The spec as part `part` works it: its loss, learning rate and targets in place."""
    return replace(spec, parts=(), title=part.title or spec.title, loss=part.loss or spec.loss,
                   learning_rate=spec.learning_rate if part.learning_rate is None else part.learning_rate,
                   targets=spec.targets if part.targets is None else part.targets)


def solve_parts(spec: Spec, spec_path: str | Path, max_paths: int = MAX_PATHS, policy: str = "exact",
                digits: int = 4, options: Options = Options()) -> Solution:
    """Every part of `spec` worked in turn, as one document (a Solution of kind "parts")."""
    from .api import solve_spec  # the pipeline for one spec, which sends a spec with parts here

    parts: list[Part] = []
    for part in spec.parts:
        solution = solve_spec(part_spec(spec, part), str(spec_path), max_paths, policy, digits, options,
                              part=f"{part.label}.")
        if not parts:
            # every part works its backward pass in the form the first one chose (a form left
            # to derive may tip one way for one loss and the other way for another)
            options = options._replace(form=solution.form)
        else:
            solution = replace(solution, steps=shared_forward(solution.steps, parts[0]))
        steps = tuple(replace(step, part=part.label) for step in solution.steps)
        parts.append(Part(part.label, part.title, replace(solution, steps=steps), part.loss or spec.loss))
    first = parts[0].solution
    shared = shared_sections(parts)
    parts = [p._replace(solution=replace(p.solution, sections=tuple(
        section for section in p.solution.sections if section not in shared))) for p in parts]
    return Solution(spec.title, shared_given(first.given, [p.solution.given for p in parts]),
                    tuple(step for p in parts for step in p.solution.steps), first.policy, first.digits,
                    first.form, sections=shared, kind="parts", notation=spec.notation, parts=tuple(parts))


def shared_sections(parts: list[Part]) -> tuple[Section, ...]:
    """The opening sections every part has alike (the table of the network's activations),
    shown once before the parts; one that depends on the loss (the derivation of a - y)
    stays with its part."""
    first = parts[0].solution.sections
    return tuple(section for section in first if section.place == "start"
                 and all(section in p.solution.sections for p in parts[1:]))


def shared_forward(steps: tuple[Step, ...], first: Part) -> tuple[Step, ...]:
    """A later part's steps, each pointing at the first part's same step where its forward
    pass is the same one (same iteration and sample, same values: the first iteration
    always; a later one only if the updates happened to agree) and asking no task of it."""
    theirs = first.solution.steps
    shared = []
    for index, step in enumerate(steps):
        same = index < len(theirs) and (theirs[index].number, theirs[index].sample) == (step.number, step.sample) \
            and forward_values(theirs[index]) == forward_values(step)
        if same:
            forward = tuple(layer._replace(lines=tuple(line._replace(task=None) for line in layer.lines))
                            for layer in step.forward)
            step = replace(step, forward=forward, forward_as=first.label)
        shared.append(step)
    return tuple(shared)


def forward_values(step: Step) -> list[tuple[str, object, object]]:
    return [(line.neuron, line.z_value, line.a_value) for layer in step.forward for line in layer.lines]


def shared_given(first: Given, givens: list[Given]) -> Given:
    """What the parts share: the network, its inputs, weights and biases, and the learning
    rate if every part has the same one (None: each part states its own). The targets
    and the loss are each part's."""
    rates = {given.eta for given in givens}
    # no loss and no learning rate of their own: templates/_given.*.j2 leave them to each part
    return first._replace(targets=(), predictions=(), loss_name="", loss_formula=None,  # type: ignore[arg-type]
                          eta=first.eta if len(rates) == 1 else None)  # type: ignore[arg-type]
