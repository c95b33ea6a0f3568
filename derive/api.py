"""The stages joined up: what the CLI (and a Python user) calls.

Everything is computed and rendered in memory first; only then is anything written,
so a failure at any stage leaves no file behind.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .derivation import MAX_PATHS, derive
from .errors import DeriveError, OutputError, Problem, SpecError
from .evaluate import evaluate
from .forms import Options, with_forms
from .network import build_network, with_values
from .output import write_atomic
from .render import render
from .solution import Solution, build_solution
from .spec import has_draws, load_spec


def solve(spec_path: str | Path, max_paths: int = MAX_PATHS, policy: str = "exact",
          digits: int = 4, options: Options = Options()) -> Solution:
    """Read, derive and evaluate the spec at `spec_path`: the whole worked answer."""
    spec = load_spec(spec_path)
    if has_draws(spec):
        raise SpecError([Problem(str(spec_path), None, "", "the spec draws random values (it is an "
                                 "exam template); make variants of it with: derive exam "
                                 f"{spec_path} --variants N --seed S -o FOLDER")])
    network = build_network(spec)
    try:
        derivation = derive(network, max_paths)
        runs = [(network, evaluate(derivation, network, policy, digits))]
        for _ in range(spec.steps - 1):  # each iteration starts from the last one's updates
            network = with_values(network, runs[-1][1].updated)
            runs.append((network, evaluate(derivation, network, policy, digits)))
        solution = build_solution(derivation, runs[0][1], runs[0][0], policy, spec.asked,
                                  tuple(runs[1:]))
        return with_forms(solution, derivation, [v for _, v in runs], options.merged(spec.worked))
    except SpecError:
        raise
    except DeriveError as error:  # name the file, as spec errors do
        raise type(error)(f"{spec_path}: {error}") from None


def document(spec_path: str | Path, fmt: str, digits: int = 4, kind: str = "solution",
             max_paths: int = MAX_PATHS, policy: str = "exact", options: Options = Options()
             ) -> str | bytes:
    """The answer key (`kind` "solution") or worksheet for `spec_path`.

    Markdown, LaTeX and JSON come back as text, a PDF as bytes.
    """
    solution = solve(spec_path, max_paths, policy, digits, options)
    if fmt == "pdf":
        from .pdf import compile_pdf  # only PDF users pay for the import
        return compile_pdf(render(solution, "tex", digits, kind))
    return render(solution, fmt, digits, kind)


def write_document(spec_path: str | Path, fmt: str, digits: int, kind: str,
                   output: str | Path | None, max_paths: int = MAX_PATHS,
                   policy: str = "exact", options: Options = Options()) -> str | None:
    """Make the document and write it to `output` atomically; without `output`, return
    it (as text) for standard output. Checks the request before any work is done."""
    if kind == "worksheet" and fmt == "json":
        raise DeriveError("a worksheet has no JSON form; the JSON is the answer key "
                          "(derive solve -f json)")
    if fmt == "pdf" and output is None:
        raise DeriveError("-f pdf needs an output file: add -o FILE.pdf")
    if output is not None and same_file(output, spec_path):
        raise OutputError(f"refusing to write over the spec itself ({spec_path}); choose another -o")
    result = document(spec_path, fmt, digits, kind, max_paths, policy, options)
    if output is None:
        return result if isinstance(result, str) else result.decode("utf-8")
    write_atomic(output, result)
    return None


def same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def write_exam_folder(spec_path: str | Path, variants: int, seed: int, folder: str | Path,
                      digits: int = 4, policy: str = "exact", pdf: bool | None = None,
                      force: bool = False, progress: Callable | None = None,
                      note: Callable[[str], None] | None = None) -> list[Path]:
    """Draw, solve, render and write an exam; PDFs by default when TeX is installed."""
    from .exam import make_exam, write_exam
    from .pdf import tex_available

    if pdf is None:
        pdf = tex_available()
        if not pdf and note:
            note("derive: no TeX engine found, so no PDFs (install texlive-latex-base "
                 "texlive-latex-recommended texlive-pictures latexmk); --no-pdf silences this")
    exam = make_exam(spec_path, variants, seed, policy, digits, progress)
    return write_exam(exam, folder, digits, pdf, force)
