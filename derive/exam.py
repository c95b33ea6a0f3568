"""Randomised exams: many variants of one network, each with its worksheet and key.

The SymPy derivation depends only on the topology, which every variant shares, so it
is built once; each variant costs a draw, an evaluation and the rendering. Variant k
of seed s is drawn from its own generator, seeded with (s, k), so it does not depend
on how many variants are asked for; a draw that fails a constraint is redrawn from
the same generator, a bounded number of times.
"""
from __future__ import annotations

import csv
import io
import json
import os
import random
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

from .derivation import Derivation, derive
from .errors import DeriveError, Problem, SpecError
from .evaluate import Values, evaluate, pre_activations
from .forms import Options, chosen_form, with_forms
from .network import Network, build_network
from .folder import FolderWriter
from .render import format_number, render, render_exam, render_moodle
from .rounding import last_place, rounded
from .solution import Solution, build_solution
from .spec import Spec, has_draws, instantiate, load_spec, spec_yaml


class Answer(NamedTuple):
    """One asked quantity of one variant, as an autograder needs it."""

    quantity: str  # column name: "loss", "grad x1->h1", "updated b:h1"
    symbol: str  # LaTeX of what is asked
    exact: float
    by_hand: float
    key: float  # the value under the key's rounding policy
    shown: str  # the key's value as displayed
    tolerance: float  # accepts either policy's result, and the rounding of the last digit


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
    checked by exam_template); no files are written."""
    template = spec if isinstance(spec, Spec) else exam_template(spec)
    first = instantiate(template, random.Random(f"derive:{seed}:topology"))
    options = Options().merged(template.worked)
    # once: the topology is the same for every variant; no path is built in the delta form
    derivation = derive(build_network(first), form=options.form, closed_form=options.closed_form)
    seen: set[tuple] = set()
    variants = []
    numbers = range(1, count + 1)
    for number in (progress(iter(numbers)) if progress else numbers):
        variants.append(draw_variant(template, derivation, seed, number, seen, policy, digits))
    return Exam(template.title, seed, tuple(variants))


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
    return list(template.asked) or [p.key for p in network.parameters]


def answers(network: Network, exact: Values, hand: Values, policy: str, digits: int,
            template: Spec) -> tuple[Answer, ...]:
    key_values = hand if policy == "by-hand" else exact
    found = [answer("loss", "L", exact.loss, hand.loss, key_values.loss, digits)]
    symbols = {p.key: p.symbol for p in network.parameters}
    for key in asked_keys(network, template):
        found.append(answer(f"grad {key}", rf"\partial L / \partial {symbols[key]}",
                            exact.gradients[key], hand.gradients[key], key_values.gradients[key], digits))
    for key in asked_keys(network, template):
        found.append(answer(f"updated {key}", symbols[key], exact.updated[key], hand.updated[key],
                            key_values.updated[key], digits))
    return tuple(found)


def answer(quantity: str, symbol: str, exact: float, hand: float, key: float, digits: int) -> Answer:
    decimal, _ = rounded(key, digits)
    half_unit = 0.5 * float(last_place(decimal))  # of the last digit the key shows
    return Answer(quantity, symbol, float(exact), float(hand), float(key),
                  format_number(key, digits).text, abs(float(exact) - float(hand)) + half_unit)


# --- files -------------------------------------------------------------------------------

# Every name an exam folder may hold (derive.folder refuses anything else in it).
TOP_FILE = re.compile(r"(?:key-all|worksheet-all)\.(?:tex|pdf)|answers\.(?:json|csv)|moodle\.xml\Z")
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


def write_exam(exam: Exam, out: FolderWriter, digits: int, pdf: bool) -> list[Path]:
    """Render every file of the exam in memory, compile the PDFs, then write the whole
    folder at once (derive.folder: staged, then swapped into place).

    File names are fixed (variant-07/key.md, ...), never taken from the spec, so no
    spec content can steer a file outside the folder.
    """
    files = exam_files(exam, digits)
    if pdf:
        files.update(exam_pdfs(files))
    return out.commit(files)


def exam_files(exam: Exam, digits: int) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {}
    width = max(2, len(str(len(exam.variants))))
    for variant in exam.variants:
        folder = f"variant-{variant.number:0{width}d}"
        for kind, stem in (("solution", "key"), ("worksheet", "worksheet")):
            for fmt in ("md", "tex"):
                files[f"{folder}/{stem}.{fmt}"] = render(variant.solution, fmt, digits, kind)
        files[f"{folder}/key.json"] = render(variant.solution, "json", digits)
        files[f"{folder}/spec.yaml"] = variant_spec(variant, digits)
    files["key-all.tex"] = render_exam([v.solution for v in exam.variants], "solution", digits)
    files["worksheet-all.tex"] = render_exam([v.solution for v in exam.variants], "worksheet", digits)
    files["answers.json"] = answers_json(exam)
    files["answers.csv"] = answers_csv(exam)
    files["moodle.xml"] = render_moodle(exam, digits)
    return files


def variant_spec(variant: Variant, digits: int) -> str:
    """The variant's drawn spec, headed by the command that remakes its key (the key's
    digits and rounding policy are options of the command, not keys of the spec)."""
    options = (f" --digits {digits}" if digits != 4 else "") + \
        (" --rounding by-hand" if variant.solution.policy == "by-hand" else "")
    return (f"# Variant {variant.number} of an exam made by derive; its key is remade by\n"
            f"#   derive solve spec.yaml{options}\n" + spec_yaml(variant.spec))


def exam_pdfs(files: dict[str, str | bytes]) -> dict[str, bytes]:
    """Every .tex of the exam compiled, in parallel on the available cores.

    If anything stops the run (a TeX error, Ctrl-C, SIGTERM), every TeX process still
    running is ended at once, so that the pool's threads (and their temporary folders)
    finish before the error leaves this function.
    """
    from .pdf import TexRuns, compile_pdf

    sources = {name[:-4] + ".pdf": text for name, text in files.items() if name.endswith(".tex")}
    runs = TexRuns()
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
    try:
        futures = {name: pool.submit(compile_pdf, text, runs) for name, text in sources.items()}
        return {name: future.result() for name, future in futures.items()}
    except BaseException:
        runs.stop()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def answers_json(exam: Exam) -> str:
    document = {
        "title": exam.title, "seed": exam.seed, "format": "derive-exam-answers/1",
        "variants": [
            {"variant": v.number,
             "answers": {a.quantity: {"symbol": a.symbol, "exact": a.exact, "by_hand": a.by_hand,
                                      "key": a.key, "shown": a.shown, "tolerance": a.tolerance}
                         for a in v.answers}}
            for v in exam.variants]}
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def answers_csv(exam: Exam) -> str:
    """One row per variant: `variant`, then each asked quantity's key value as shown."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["variant"] + [a.quantity for a in exam.variants[0].answers])
    for variant in exam.variants:
        writer.writerow([variant.number] + [a.shown for a in variant.answers])
    return buffer.getvalue()
