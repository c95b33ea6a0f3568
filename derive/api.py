"""The stages joined up: what the CLI (and a Python user) calls.

Everything is computed and rendered in memory first; only then is anything written,
so a failure at any stage leaves no file behind (derive.output writes one file,
derive.folder a whole exam folder).
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .derivation import MAX_PATHS, derive
from .errors import DeriveError, OutputError, Problem, SpecError
from .evaluate import evaluate
from .given import given_gradient_solution
from .forms import Options, check_printed_paths, chosen_form, in_notation, with_forms
from .batch import batch_update
from .derivation import Derivation
from .limits import check_latex_size
from .network import Network, build_network, with_sample, with_values
from .output import write_atomic
from .render import render

if TYPE_CHECKING:
    from .pdf import Preloaded
from .document import Solution
from .solution import Run, build_runs
from .spec import Spec, has_draws, load_spec


def solve(spec_path: str | Path, max_paths: int = MAX_PATHS, policy: str = "exact",
          digits: int = 4, options: Options = Options()) -> Solution:
    """Read, derive and evaluate the spec at `spec_path`: the whole worked answer."""
    return solve_spec(load_spec(spec_path), str(spec_path), max_paths, policy, digits, options)


def solve_spec(spec: Spec, spec_path: str, max_paths: int = MAX_PATHS, policy: str = "exact",
               digits: int = 4, options: Options = Options(), part: str = "") -> Solution:
    """The worked answer of a spec already read (`spec_path` names it in messages);
    `part` begins its task numbers ("a." for part (a) of a spec with parts)."""
    if has_draws(spec):
        raise SpecError([Problem(str(spec_path), None, "", "the spec draws random values (it is an "
                                 "exam template); make variants of it with: derive exam "
                                 f"{spec_path} --variants N --seed S -o FOLDER")])
    if spec.gradients:  # the gradients are given: only the updates are worked (derive.given)
        return replace(given_gradient_solution(spec, policy, digits, options), notation=spec.notation)
    if spec.parts:  # several parts on one network, each worked as its own spec (derive.parts)
        from .parts import solve_parts
        return solve_parts(spec, spec_path, max_paths, policy, digits, options)
    network = build_network(spec)
    options = options.merged(spec.worked)
    try:
        # the printed form decides what is built: in the delta form no chain-rule path
        derivation = derive(network, max_paths, options.form, options.closed_form)
        form, _ = chosen_form(derivation, options.form)
        check_printed_paths(derivation, form, max_paths)
        runs = worked_runs(spec, network, derivation, policy, digits, form)
        solution = build_runs(derivation, runs, policy, spec.asked, digits, part)
        solution = with_forms(solution, derivation, [run.values for run in runs], options)
        return in_notation(solution, derivation, [run.values for run in runs], spec)
    except SpecError:
        raise
    except DeriveError as error:  # name the file, as spec errors do
        raise type(error)(f"{spec_path}: {error}") from None


def worked_runs(spec: Spec, network: Network, derivation: Derivation, policy: str,
                digits: int, form: str = "paths") -> list[Run]:
    """Every forward/backward pass the answer works, in order.

    Each of `steps` iterations goes over the samples: one update per sample
    (sequential, or a single sample), or one update from their combined gradient (a
    mini-batch, mean or sum). Each iteration starts from the last one's updates.
    """
    samples = spec.samples or ((spec.inputs, spec.targets),)
    several = len(samples) > 1
    runs: list[Run] = []
    for iteration in range(1, spec.steps + 1):
        if not several or spec.reduction == "sequential":
            for number, (inputs, targets) in enumerate(samples, 1):
                fed = with_sample(network, inputs, targets)  # type: ignore[arg-type]
                values = evaluate(derivation, fed, policy, digits, form)
                runs.append(Run(fed, values, iteration, number if several else None))
                network = with_values(network, values.updated)
            continue
        batch = [with_sample(network, inputs, targets) for inputs, targets in samples]  # type: ignore[arg-type]
        batch_values = [evaluate(derivation, fed, policy, digits, form) for fed in batch]
        section, updated = batch_update(derivation, network, batch_values, spec.reduction, policy, digits)
        runs.extend(Run(fed, values, iteration, number, updates=False,
                        batch=section if number == len(batch) else None)
                    for number, (fed, values) in enumerate(zip(batch, batch_values), 1))
        network = with_values(network, updated)
    return runs


def document(spec_path: str | Path, fmt: str, digits: int = 4, kind: str = "solution",
             max_paths: int = MAX_PATHS, policy: str = "exact", options: Options = Options(),
             preloaded: Preloaded | None = None) -> str | bytes:
    """The answer key (`kind` "solution") or worksheet for `spec_path`.

    Markdown, LaTeX, JSON and HTML come back as text, a PDF as bytes (made by the TeX run
    `preloaded`, if given: derive.pdf.preloaded_tex).
    """
    if fmt in ("tex", "pdf"):  # before any work: TeX would fail on it only after minutes
        check_latex_size(load_spec(spec_path))
    if fmt == "html":  # before any work: the optional packages may be missing
        from .html import check_available
        check_available()
    solution = solve(spec_path, max_paths, policy, digits, options)
    if fmt == "html":
        from .html import html_page  # only HTML users import markdown-it and latex2mathml
        return html_page(solution, digits, kind)
    if fmt == "pdf":
        from .pdf import compile_pdf  # only PDF users pay for the import
        return compile_pdf(render(solution, "tex", digits, kind), preloaded=preloaded)
    return render(solution, fmt, digits, kind)


def write_document(spec_path: str | Path, fmt: str, digits: int, kind: str,
                   output: str | Path | None, max_paths: int = MAX_PATHS,
                   policy: str = "exact", options: Options = Options(),
                   preloaded: Preloaded | None = None) -> str | None:
    """Make the document and write it to `output` atomically; without `output`, return
    it (as text) for standard output. Checks the request before any work is done."""
    if kind == "worksheet" and fmt == "json":
        raise DeriveError("a worksheet has no JSON form; the JSON is the answer key "
                          "(derive solve -f json)")
    if fmt == "pdf" and output is None:
        raise DeriveError("-f pdf needs an output file: add -o FILE.pdf")
    if output is not None and same_file(output, spec_path):
        raise OutputError(f"refusing to write over the spec itself ({spec_path}); choose another -o")
    result = document(spec_path, fmt, digits, kind, max_paths, policy, options, preloaded)
    if output is None:
        return result if isinstance(result, str) else result.decode("utf-8")
    write_atomic(output, result)
    return None


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether both names lead to one file (through links, or hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def write_exam_folder(spec_path: str | Path, variants: int, seed: int, folder: str | Path,
                      digits: int = 4, policy: str = "exact", pdf: bool | None = None,
                      force: bool = False, progress: Callable | None = None,
                      note: Callable[[str], None] | None = None, jobs: int | None = None) -> list[Path]:
    """Draw, solve, render and write an exam; PDFs by default when TeX is installed.

    The template is checked first, then the folder is locked and checked (a previous
    exam needs `force`), both before the long work. Each variant's files are written
    as soon as they are made, into a stage folder that replaces the folder only when
    the exam is complete (derive.folder), so a failure or an interruption leaves it
    as it was, and memory does not grow with the number of variants.
    """
    from .exam import exam_folder, exam_template, write_exam
    from .pdf import tex_available

    template = exam_template(spec_path)
    check_latex_size(template)
    if pdf is None:
        pdf = tex_available()
        if not pdf and note:
            note("derive: no TeX engine found, so no PDFs (install texlive-latex-base "
                 "texlive-latex-recommended texlive-pictures); --no-pdf silences this")
    with exam_folder(folder, force) as out:
        return write_exam(template, variants, seed, out, digits, policy, pdf, progress, note, jobs)


def grade(exam_folder: str | Path, responses: str | Path, follow_through: str = "full",
          slip_credit: float = 0.0, tolerance: float | None = None) -> object:
    """Mark the responses against the exam's variants (follow-through credit and named
    slips, derive.grade), writing nothing: a derive.grade.Grading with every student's
    marks and the grades folder's files as text."""
    from .grade import grade as grade_responses

    return grade_responses(exam_folder, responses, grading_rules(follow_through, slip_credit, tolerance))


def grade_folder(exam_folder: str | Path, responses: str | Path, output: str | Path,
                 follow_through: str = "full", slip_credit: float = 0.0,
                 tolerance: float | None = None, force: bool = False) -> list[Path]:
    """derive grade: mark the responses and write the grades folder whole."""
    from .grade import write_grades

    return write_grades(exam_folder, responses, output,
                        grading_rules(follow_through, slip_credit, tolerance), force)


def grading_rules(follow_through: str, slip_credit: float, tolerance: float | None) -> object:
    from .grade import FOLLOW_THROUGH, Rules

    if follow_through not in FOLLOW_THROUGH:
        raise DeriveError(f"follow-through is one of {', '.join(FOLLOW_THROUGH)}, found {follow_through!r}")
    return Rules(FOLLOW_THROUGH[follow_through], slip_credit, tolerance)
