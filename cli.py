"""The `derive` command: click options in, DeriveError out as a message and exit code.

No logic lives here; each command calls one function of derive.api. The heavy
imports (SymPy) happen inside the commands, so `derive --help` answers at once.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator

import click

from derive import __version__
from derive.errors import DeriveError
from derive.spec import FORMS, POLICIES

FORMATS = ("md", "tex", "json", "pdf")


def fail(error: DeriveError) -> None:
    click.echo(f"derive: error: {error}", err=True)
    sys.exit(error.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="derive")
def main() -> None:
    """Worked backpropagation solutions from a network written in YAML.

    \b
    derive solve problems/q2.yaml                 Markdown answer key on stdout
    derive solve problems/q2.yaml -f tex -o q2.tex
    derive solve problems/q2.yaml -f json         machine-readable key
    derive solve problems/q2.yaml -f pdf -o q2-key.pdf
    derive worksheet problems/q2.yaml -f pdf -o q2-worksheet.pdf

    The spec format is described in docs/spec.md. Errors in a spec are all reported
    with file, line and key, and exit with code 2; nothing is written then.
    """


def document_options(command: Callable) -> Callable:
    """The options every document command shares."""
    options = [
        # Existence and kind are checked by derive itself, so that every problem with the
        # spec reads the same way (derive: error: FILE: ...) and exits with code 2.
        click.argument("spec", type=click.Path(path_type=Path)),
        click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="md",
                      show_default=True,
                      help="md: Markdown with $…$ math (GitHub, Jupyter); tex: a complete LaTeX "
                           "document; json: the answer key for autograders; pdf: the LaTeX "
                           "compiled with TeX Live (needs -o)."),
        click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write to this file instead of standard output. The file is replaced "
                          "atomically; nothing is written if anything fails."),
        click.option("--digits", type=click.IntRange(1, 12), default=4, show_default=True,
                     help="Decimal places shown (rounded half away from zero); values are "
                          "always computed in full precision."),
        click.option("--rounding", type=click.Choice(POLICIES), default="exact",
                     show_default=True,
                     help="exact: carry full precision, show rounded values; by-hand: round every "
                          "shown value and compute the next step from it, as on paper."),
        click.option("--form", type=click.Choice(FORMS), default="auto",
                     show_default=True,
                     help="The backward pass: every chain-rule path (paths), each neuron's delta "
                          "worked once (delta), or both; auto picks paths unless some parameter "
                          "has more than 12 paths, and says so."),
        click.option("--matrix", is_flag=True,
                     help="Also work the step in matrix form (W, b, shapes, deltas as vectors)."),
        click.option("--closed-form", is_flag=True,
                     help="Also write the loss as one expression in all parameters and each "
                          "gradient in closed form."),
        click.option("--max-paths", type=click.IntRange(1), default=256, show_default=True,
                     help="Refuse networks where a parameter has more chain-rule paths than "
                          "this: their working would be too long to read."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def run(kind: str, spec: Path, fmt: str, output: Path | None, digits: int, rounding: str,
        form: str, matrix: bool, closed_form: bool, max_paths: int) -> None:
    from derive.api import write_document
    from derive.forms import Options

    try:
        result = write_document(spec, fmt, digits, kind, output, max_paths, rounding,
                                Options(form, matrix, closed_form))
    except DeriveError as error:
        fail(error)
    if result is not None:
        click.echo(result, nl=False)


@main.command(short_help="The worked answer key: every step, path, gradient and update.")
@document_options
def solve(spec: Path, fmt: str, output: Path | None, digits: int, rounding: str, form: str,
          matrix: bool, closed_form: bool, max_paths: int) -> None:
    """Print the complete worked solution of SPEC: the given network, the forward pass
    (formula, numbers, value for every z and a), the loss, the backward pass (every
    chain-rule path to every weight and bias, the multi-path sums at hidden layers),
    every update, and a summary table."""
    run("solution", spec, fmt, output, digits, rounding, form, matrix, closed_form, max_paths)


@main.command(short_help="The same problem without answers, with numbered tasks.")
@document_options
def worksheet(spec: Path, fmt: str, output: Path | None, digits: int, rounding: str, form: str,
              matrix: bool, closed_form: bool, max_paths: int) -> None:
    """Print the worksheet for SPEC: the network picture and given values, then
    numbered tasks (forward pass, loss, gradients, updates) with room for the answers.
    The answer key (derive solve) uses the same task numbers."""
    run("worksheet", spec, fmt, output, digits, rounding, form, matrix, closed_form, max_paths)


@main.command(short_help="Seeded random variants, each with worksheet and key; LMS export.")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("-n", "--variants", type=click.IntRange(1, 10_000), default=30, show_default=True,
              help="How many variants to make.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Variant k of seed s is always the same, however many variants are made.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=Path("exam"),
              show_default=True, help="Folder to write into (created if missing).")
@click.option("--pdf/--no-pdf", default=None,
              help="Compile PDFs (default: when TeX Live is installed).")
@click.option("--digits", type=click.IntRange(1, 12), default=4, show_default=True,
              help="Decimal places shown and asked for.")
@click.option("--rounding", type=click.Choice(POLICIES), default="exact", show_default=True,
              help="The keys' rounding policy; tolerances accept either policy's answer.")
@click.option("--force", is_flag=True, help="Replace files of an earlier exam in the folder.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def exam(spec: Path, variants: int, seed: int, output: Path, pdf: bool | None, digits: int,
         rounding: str, force: bool, quiet: bool) -> None:
    """Make VARIANTS versions of SPEC (a spec whose values are draws such as
    {uniform: [-1, 1], decimals: 2}), each with its worksheet and key (Markdown, LaTeX,
    JSON, and PDFs), combined key and worksheet documents for printing, answers.json,
    answers.csv and moodle.xml (Moodle quiz, one Cloze question per variant)."""
    from derive.api import write_exam_folder

    show = not quiet and sys.stderr.isatty()
    try:
        written = write_exam_folder(spec, variants, seed, output, digits, rounding, pdf, force,
                                    progress(show), lambda note: click.echo(note, err=True))
    except DeriveError as error:
        fail(error)
    if not quiet:
        click.echo(f"derive: wrote {len(written)} files to {output}", err=True)


def progress(show: bool) -> Callable | None:
    """A progress bar over variant numbers, on a terminal only."""
    if not show:
        return None

    def bar(numbers: Iterator[int]) -> Iterator[int]:
        items = list(numbers)
        with click.progressbar(items, label="variants", file=sys.stderr) as shown:
            yield from shown
    return bar


if __name__ == "__main__":
    main()
