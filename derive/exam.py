"""Randomised exams: many variants of one network, each with its worksheet and key.

The SymPy derivation depends only on the topology, which every variant shares, so it
is built once; each variant costs a draw, an evaluation and the rendering. Variant k
of seed s is drawn from its own generator, seeded with (s, k), so it does not depend
on how many variants are asked for; a draw that fails a constraint is redrawn from
the same generator, a bounded number of times.

The variants are made one at a time and each one's files go into the exam's stage
folder (derive.folder) as soon as they are rendered, its PDFs as soon as TeX has made
them; the combined documents are written piece by piece from each variant's own
documents as rendered, so the memory an exam takes does not grow with its variants
(what moodle.xml needs of each, its given values and answers, is kept).

With `jobs` > 1, worker processes (derive.workers) draw, solve and render the variants
after the first, and the parent writes them strictly in variant order, so the folder
is byte for byte the one a single process makes. A worker cannot know which draws
earlier variants took, so it draws as if none had been taken; the parent checks each
variant's fingerprint against the earlier ones and, on a repeat, makes that variant
again itself with the true record. A variant's generator is fixed by (seed, number),
so this is exactly what the single process would have drawn.
"""
from __future__ import annotations

import pickle
import random
import re
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

from sympy import Symbol

from .derivation import Derivation, derive
from .errors import DeriveError, Problem, SpecError
from .evaluate import Values, evaluate, pre_activations
from .forms import Options, chosen_form, in_notation, with_forms
from .network import Network, Unit, build_network
from .blackboard import write_blackboard
from .canvas import write_canvas
from .exam_output import AnswerFiles, PdfQueue, answers_csv, answers_json  # noqa: F401 (re-exported)
from .folder import FolderWriter
from .latex import format_number
from .render import environment, render, render_exam
from .rounding import last_place, rounded
from .diagram import Layout
from .document import Diagram, Solution
from .solution import build_solution
from .spec import Constraints, Spec, has_draws, instantiate, load_spec, spec_yaml
from .spec.model import asked_parameters
from .workers import Failed, OrderedWorkers, can_fork, default_jobs


class Answer(NamedTuple):
    """One asked quantity of one variant, as an autograder needs it."""

    quantity: str  # column name: "loss", "grad x1->h1", "updated b:h1"
    symbol: str  # LaTeX of what is asked
    exact: float
    by_hand: float
    key: float  # the value under the key's rounding policy
    shown: str  # the key's value as displayed
    tolerance: float  # accepts either policy's result, and the rounding of the last digit
    partial_credit: int | None = None  # percent for a near miss (exam.partial_credit) ...
    partial_tolerance: float | None = None  # ... within this: 10 times the tolerance


class Variant(NamedTuple):
    number: int
    spec: Spec
    solution: Solution
    answers: tuple[Answer, ...]
    redraws: int


@dataclass(frozen=True)
class Exam:
    title: str
    seed: int
    variants: tuple[Variant, ...]


def exam_template(spec_path: str | Path) -> Spec:
    """The spec at `spec_path`, checked as an exam template: it draws values, and it asks
    for what a variant's answers can hold (one sample, one step)."""
    template = load_spec(spec_path)
    problems = []
    if not has_draws(template):
        problems.append(Problem(str(spec_path), None, "", "the spec has no random values, so "
                                "every variant would be the same; write a value as {uniform: "
                                "[low, high], decimals: 2} or {choice: [...]} (see docs/spec.md)"))
    # A variant's key, answers.csv and moodle.xml hold one step's gradients for one
    # sample; rather than drop these keys silently (every variant a one-sample,
    # one-step key), say so.
    if template.samples:
        problems.append(Problem(str(spec_path), None, "samples", "an exam variant works one sample "
                                "(its answers are that sample's gradients); write inputs and targets "
                                "instead, or make a key of several samples with derive solve"))
    if template.steps != 1:
        problems.append(Problem(str(spec_path), None, "steps", "an exam variant works one step of "
                                "gradient descent (its answers are that step's gradients); remove "
                                "steps, or make a key of several steps with derive solve"))
    if problems:
        raise SpecError(problems)
    return template


def make_exam(spec: str | Path | Spec, count: int, seed: int, policy: str = "exact",
              digits: int = 4, progress: Callable[[Iterator[int]], Iterator[int]] | None = None
              ) -> Exam:
    """Draw and solve `count` variants of the template `spec` (a path, or a Spec already
    checked by exam_template); no files are written. (write_exam makes the same
    variants one at a time, without holding them all.)"""
    template = spec if isinstance(spec, Spec) else exam_template(spec)
    return Exam(template.title, seed, tuple(exam_variants(template, count, seed, policy, digits, progress)))


def shared_derivation(template: Spec, seed: int) -> Derivation:
    """The derivation every variant shares, built once: the topology is the same for
    every variant (no path is built in the delta form)."""
    first = instantiate(template, random.Random(f"derive:{seed}:topology"))
    options = Options().merged(template.worked)
    return derive(build_network(first), form=options.form, closed_form=options.closed_form)


def exam_variants(template: Spec, count: int, seed: int, policy: str = "exact", digits: int = 4,
                  progress: Callable[[Iterator[int]], Iterator[int]] | None = None) -> Iterator[Variant]:
    """Variants 1 to `count` of the checked template, each drawn and solved when asked for."""
    derivation = shared_derivation(template, seed)
    seen: set[tuple] = set()
    numbers = range(1, count + 1)
    for number in (progress(iter(numbers)) if progress else numbers):
        yield draw_variant(template, derivation, seed, number, seen, policy, digits)


def draw_variant(template: Spec, derivation: Derivation, seed: int, number: int, seen: set[tuple],
                 policy: str, digits: int) -> Variant:
    rng = random.Random(f"derive:{seed}:{number}")
    failures: Counter[str] = Counter()
    limits = template.constraints
    for attempt in range(limits.max_tries):
        spec = replace(instantiate(template, rng), title=f"{template.title}, variant {number}")
        network = build_network(spec)
        try:
            # cheap checks on the forward pass first, the whole step only for a good draw
            reason = (forward_problem(network, derivation, template)
                      or gradient_problem(network, exact := evaluate(derivation, network, "exact", digits),
                                          template, digits))
            if reason is None and fingerprint(spec) in seen:
                reason = "the draw repeats an earlier variant"
            if reason is None:
                form, _ = chosen_form(derivation, Options().merged(template.worked).form)
                hand = evaluate(derivation, network, "by-hand", digits, form)
        except DeriveError as error:  # e.g. an output outside cross-entropy's domain
            reason = f"values cannot be computed ({error})"
        if reason:
            failures[reason] += 1
            continue
        seen.add(fingerprint(spec))
        # the shared derivation holds the topology draw's network; the sections that read
        # values from it (matrix, delta, closed form) must see this variant's, as derive
        # solve on the variant's spec.yaml does
        derivation = replace(derivation, network=network)
        values = hand if policy == "by-hand" else exact
        solution = with_forms(build_solution(derivation, values, network, policy, template.asked,
                                             digits=digits),
                              derivation, [values], Options().merged(template.worked))
        solution = in_notation(solution, derivation, [values], spec)  # as derive solve on spec.yaml
        return Variant(number, spec, solution, answers(network, exact, hand, policy, digits, template),
                       attempt)
    worst, times = failures.most_common(1)[0]
    raise DeriveError(f"{template.source}: variant {number}: no acceptable draw in "
                      f"{limits.max_tries} tries; the constraint that failed most ({times} times): "
                      f"{worst}. Widen the ranges or relax the constraints (docs/spec.md)")


def fingerprint(spec: Spec) -> tuple:
    """Every drawn value of a spec, to recognise a duplicate variant."""
    return (spec.inputs, spec.targets, spec.learning_rate,
            tuple((n.bias, n.weights) for layer in spec.layers for n in layer.neurons))


def forward_problem(network: Network, derivation: Derivation, template: Spec) -> str | None:
    """A dead ReLU layer or a saturated unit: visible from the forward pass alone."""
    zs = pre_activations(derivation, network)
    sym = derivation.symbols
    for number, layer in enumerate(network.layers, 1):
        if layer[0].activation.name == "relu" and all(  # type: ignore[union-attr]
                zs[sym[u.z_symbol]] <= 0 for u in layer):  # type: ignore[index]
            return f"every ReLU unit of layer {number} is dead (z <= 0)"
    limit = template.constraints.max_abs_z
    for unit in network.neurons:
        name = unit.activation.name  # type: ignore[union-attr]
        if name in ("sigmoid", "tanh") and abs(zs[sym[unit.z_symbol]]) > limit:  # type: ignore[index]
            return f"a {name} unit saturates (|z| > {limit:g})"
    return None


def gradient_problem(network: Network, values: Values, template: Spec, digits: int) -> str | None:
    """An asked gradient that would show as 0: nothing to ask about."""
    for key in asked_keys(network, template):
        if abs(values.gradients[key]) < 0.5 * 10.0 ** -digits:
            return f"an asked gradient would show as 0 at {digits} decimal places"
    return None


def asked_keys(network: Network, template: Spec) -> list[str]:
    """The asked parameters in the order the spec lists them (all, in spec order, if none)."""
    return list(asked_parameters(template.asked)) or [p.key for p in network.parameters]


def asked_forward(network: Network, template: Spec) -> list[tuple[str, Unit]]:
    """The asked forward values ("z:h1", "a:h1") with their neurons, in the order the
    forward pass computes them (layer by layer, z before a), whatever the spec's order:
    a student answers a chain in that order, and derive grade marks it so."""
    asked = set(template.asked)
    return [(f"{part}:{unit.name}", unit) for unit in network.neurons for part in ("z", "a")
            if f"{part}:{unit.name}" in asked]


def answers(network: Network, exact: Values, hand: Values, policy: str, digits: int,
            template: Spec) -> tuple[Answer, ...]:
    """What an autograder marks: the asked forward values, the loss, each asked gradient,
    each asked parameter's updated value. A spec that asks no forward value gets exactly
    the answers it always had."""
    key_values = hand if policy == "by-hand" else exact
    marking = template.constraints
    found = []
    for quantity, unit in asked_forward(network, template):
        symbol = Symbol(unit.z_symbol if quantity.startswith("z:") else unit.a_symbol)  # type: ignore[arg-type]
        found.append(answer(quantity, symbol.name, exact.symbols[symbol], hand.symbols[symbol],
                            key_values.symbols[symbol], digits, marking))  # type: ignore[arg-type]
    found.append(answer("loss", "L", exact.loss, hand.loss, key_values.loss, digits, marking))
    symbols = {p.key: p.symbol for p in network.parameters}
    for key in asked_keys(network, template):
        found.append(answer(f"grad {key}", rf"\partial L / \partial {symbols[key]}",
                            exact.gradients[key], hand.gradients[key], key_values.gradients[key], digits,
                            marking))
    for key in asked_keys(network, template):
        found.append(answer(f"updated {key}", symbols[key], exact.updated[key], hand.updated[key],
                            key_values.updated[key], digits, marking))
    return tuple(found)


def answer(quantity: str, symbol: str, exact: float, hand: float, key: float, digits: int,
           marking: Constraints = Constraints()) -> Answer:
    """The tolerance accepts either rounding policy's result (their difference) plus half a
    unit of the key's last shown digit, which the display rule (at least 3 significant
    figures) already scales with the value; `exam.relative_tolerance` widens it to that
    fraction of the value. A near miss within 10 times it earns `exam.partial_credit`."""
    decimal, _ = rounded(key, digits)
    half_unit = 0.5 * float(last_place(decimal))  # of the last digit the key shows
    base = half_unit if marking.relative_tolerance is None else max(half_unit, marking.relative_tolerance * abs(float(key)))
    tolerance = abs(float(exact) - float(hand)) + base
    partial = marking.partial_credit
    return Answer(quantity, symbol, float(exact), float(hand), float(key), format_number(key, digits).text,
                  tolerance, partial, 10 * tolerance if partial else None)


# --- files -------------------------------------------------------------------------------

# Every name an exam folder may hold (derive.folder refuses anything else in it).
# (The whole name: \Z applies to every alternative, so "answers.json~" is not taken for ours.)
TOP_FILE = re.compile(r"(?:(?:key-all|worksheet-all)\.(?:tex|pdf)|answers\.(?:json|csv)|moodle\.xml"
                      r"|canvas-qti\.zip|blackboard\.txt)\Z")
VARIANT_FOLDER = re.compile(r"variant-[0-9]{2,}\Z")
VARIANT_FILE = re.compile(r"(?:key\.(?:md|tex|json|pdf)|worksheet\.(?:md|tex|pdf)|spec\.yaml)\Z")


def exam_owned(name: str, is_folder: bool) -> bool:
    """Whether `name` (relative to the exam folder) is one an exam is made of."""
    parts = name.split("/")
    if len(parts) == 1:
        return bool(VARIANT_FOLDER.match(name)) if is_folder else bool(TOP_FILE.match(name))
    return (len(parts) == 2 and not is_folder and bool(VARIANT_FOLDER.match(parts[0]))
            and bool(VARIANT_FILE.match(parts[1])))


def exam_folder(folder: str | Path, force: bool) -> FolderWriter:
    """The exam folder, to be entered (`with`) before the exam is made: it is locked
    against a second run, and what it holds is checked (a previous exam needs `force`)."""
    return FolderWriter(folder, force, exam_owned)


# The combined documents: (kind of document, file stem).
COMBINED = (("solution", "key"), ("worksheet", "worksheet"))
# A combined LaTeX document beyond this size is not compiled: TeX would take minutes on
# it (about 3.5 s per MB here, against derive.pdf's TEX_TIMEOUT_SECONDS). 16 MB is
# about 550 variants of q2's key; the .tex is written all the same, and every variant
# has its own PDF.
MAX_COMBINED_TEX_BYTES = 16 << 20


def write_exam(template: Spec, count: int, seed: int, out: FolderWriter, digits: int = 4,
               policy: str = "exact", pdf: bool = False,
               progress: Callable[[Iterator[int]], Iterator[int]] | None = None,
               note: Callable[[str], None] | None = None, jobs: int | None = None) -> list[Path]:
    """Make the exam's variants in order, writing each one's files into the stage of
    `out` as soon as they are rendered (its PDFs as soon as TeX has made them), and the
    combined documents, answers.json and answers.csv piece by piece; then moodle.xml
    and the combined PDFs; then swap the folder into place (derive.folder). Nothing
    shows in the folder until all of it is there. `jobs` processes make the variants
    (None: the CPUs this process may use); the files are the same for any.

    File names are fixed (variant-07/key.md, ...), never taken from the spec, so no
    spec content can steer a file outside the folder.
    """
    width = max(2, len(str(count)))
    jobs = jobs or default_jobs()
    out.begin()
    pdfs = PdfQueue(out) if pdf else None  # its threads start with its first PDF, after any fork
    try:
        combined = {kind: out.stream(f"{stem}-all.tex") for kind, stem in COMBINED}
        answer_files = AnswerFiles(out, template.title, seed)
        kept: list[Variant] = []  # what moodle.xml needs of each variant: no steps
        with closing(made_variants(template, count, seed, policy, digits, jobs, progress)) as variants:
            for made in variants:
                folder = f"variant-{made.number:0{width}d}"
                for name, data in made.files.items():
                    out.add(f"{folder}/{name}", data)
                for kind, stem in COMBINED:
                    if made.heads:  # the exam's title on the first variant's preamble
                        combined[kind].write(made.heads[kind])
                    combined[kind].write(render_exam(kind, "variant", digits, number=made.number,
                                                     body=document_body(made.files[f"{stem}.tex"])))
                    if pdfs:
                        pdfs.submit(f"{folder}/{stem}.pdf", made.files[f"{stem}.tex"])
                answer_files.add(made.kept)
                kept.append(made.kept)
        for kind, _ in COMBINED:
            combined[kind].write(render_exam(kind, "end", digits))
            combined[kind].close()
        answer_files.close()
        write_moodle(out, Exam(template.title, seed, tuple(kept)), digits)
        write_canvas(out, Exam(template.title, seed, tuple(kept)), digits)
        write_blackboard(out, Exam(template.title, seed, tuple(kept)), digits)
        if pdfs:
            for kind, stem in COMBINED:
                size = combined[kind].size
                if size <= MAX_COMBINED_TEX_BYTES:
                    pdfs.submit(f"{stem}-all.pdf", out.read(f"{stem}-all.tex").decode("utf-8"))
                elif note:
                    note(f"derive: {stem}-all.tex is {size / 2**20:.0f} MB, too large for one TeX run "
                         f"(at most {MAX_COMBINED_TEX_BYTES >> 20} MB), so there is no {stem}-all.pdf; "
                         f"every variant has its own {stem}.pdf")
            pdfs.finish()
    except BaseException:
        if pdfs:
            pdfs.stop()
        raise
    return out.finish()


class Made(NamedTuple):
    """A variant as write_exam writes it, all plain data (a worker process hands it to
    the parent): its own files as text, the combined documents' heads (the first
    variant's), and the variant without its worked steps, which is what answers.json,
    moodle.xml, Canvas and Blackboard need of it."""

    number: int
    fingerprint: tuple
    files: dict[str, str]
    heads: dict[str, str] | None  # by kind of document (COMBINED); the first variant only
    kept: Variant


def made_variant(variant: Variant, template: Spec, count: int, digits: int, first: bool,
                 carry_layout: bool = False) -> Made:
    """`variant` rendered; `carry_layout`: its diagram keeps the layout the rendering
    worked out, for a parent process that has not laid it out (LaidOut)."""
    files = variant_files(variant, digits)
    heads = {kind: render_exam(kind, "head", digits, replace(variant.solution, title=template.title),
                               count=count) for kind, _ in COMBINED} if first else None
    solution = replace(variant.solution, steps=(), sections=())
    diagram = solution.given.diagram
    if carry_layout and diagram is not None:
        solution = replace(solution, given=solution.given._replace(diagram=LaidOut.of(diagram)))
    return Made(variant.number, fingerprint(variant.spec), files, heads, variant._replace(solution=solution))


def made_variants(template: Spec, count: int, seed: int, policy: str, digits: int, jobs: int,
                  progress: Callable[[Iterator[int]], Iterator[int]] | None = None) -> Iterator[Made]:
    """Variants 1 to `count`, made and rendered, in order: in this process, or, with
    `jobs` > 1 where processes can be forked, the first here and the others by `jobs`
    worker processes. (Close the generator to end the workers early.)"""
    if jobs <= 1 or count <= 1 or not can_fork():
        for number, variant in enumerate(exam_variants(template, count, seed, policy, digits, progress), 1):
            yield made_variant(variant, template, count, digits, first=number == 1)
        return
    derivation = shared_derivation(template, seed)
    seen: set[tuple] = set()
    numbers = iter(range(1, count + 1))
    numbers = progress(numbers) if progress else numbers
    # The first variant here, before the workers are forked: they start with its
    # templates compiled and the caches it filled (and no PDF thread runs yet).
    first = made_variant(draw_variant(template, derivation, seed, next(numbers), seen, policy, digits),
                         template, count, digits, first=True)

    def make(number: int) -> Made:  # in a worker: as if no earlier draw were taken
        variant = draw_variant(template, derivation, seed, number, set(), policy, digits)
        return made_variant(variant, template, count, digits, first=False, carry_layout=True)

    with OrderedWorkers(make, range(2, count + 1), jobs, "variant") as workers:
        yield first
        results = iter(workers)
        for number in numbers:
            made = next(results)[1]
            if isinstance(made, Failed) or made.fingerprint in seen:
                # a repeat of an earlier draw, or an error, which is raised here as it
                # would have been in one process
                variant = draw_variant(template, derivation, seed, number, seen, policy, digits)
                made = made_variant(variant, template, count, digits, first=False)
            else:
                seen.add(made.fingerprint)
            yield made


class LaidOut(Diagram):
    """A diagram that carries the layout a worker process worked out for it (pickled:
    2 kB against 10 kB as objects), so that the parent, writing moodle.xml and the
    Canvas package from it, does not lay it out again (8-40 ms a variant)."""

    @classmethod
    def of(cls, diagram: Diagram) -> LaidOut:
        laid_out = cls(*diagram)
        laid_out.packed = pickle.dumps(diagram.layout, protocol=pickle.HIGHEST_PROTOCOL)
        return laid_out

    @property
    def layout(self) -> Layout:
        return pickle.loads(self.packed)


def write_moodle(out: FolderWriter, exam: Exam, digits: int) -> None:
    """moodle.xml, written as the template makes it rather than held whole (22 MB at
    2,000 variants, each with its diagram): the text of render_moodle(exam, digits)."""
    stream = out.stream("moodle.xml")
    pieces: list[str] = []
    size = 0
    for piece in environment("xml").get_template("moodle.xml.j2").generate(exam=exam, digits=digits):
        pieces.append(piece)
        size += len(piece)
        if size > 1 << 16:
            stream.write("".join(pieces))
            pieces, size = [], 0
    stream.write("".join(pieces))
    stream.close()


def variant_files(variant: Variant, digits: int) -> dict[str, str]:
    """A variant's own files, by their names in its folder."""
    files: dict[str, str] = {}
    for kind, stem in COMBINED:
        for fmt in ("md", "tex"):
            files[f"{stem}.{fmt}"] = render(variant.solution, fmt, digits, kind)
    files["key.json"] = render(variant.solution, "json", digits)
    files["spec.yaml"] = variant_spec(variant, digits)
    return files


BEGIN_DOCUMENT = "\\begin{document}\n"


def document_body(tex: str) -> str:
    """What a variant's own LaTeX document sets after its title, up to its end: the part
    the combined document repeats, as it was rendered for the variant."""
    start = tex.index(BEGIN_DOCUMENT) + len(BEGIN_DOCUMENT)
    if tex.startswith("\\maketitle\n", start):
        start += len("\\maketitle\n")
    return tex[start:tex.rindex("\\end{document}")]


def variant_spec(variant: Variant, digits: int) -> str:
    """The variant's drawn spec, headed by the command that remakes its key (the key's
    digits and rounding policy are options of the command, not keys of the spec)."""
    options = (f" --digits {digits}" if digits != 4 else "") + \
        (" --rounding by-hand" if variant.solution.policy == "by-hand" else "")
    return (f"# Variant {variant.number} of an exam made by derive; its key is remade by\n"
            f"#   derive solve spec.yaml{options}\n" + spec_yaml(variant.spec))
