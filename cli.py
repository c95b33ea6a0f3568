"""The `derive` command: click options in, DeriveError out as a message and exit code.

No logic lives here; each command calls one function of derive.api. The heavy
imports (SymPy) happen inside the commands, so `derive --help` answers at once.
"""
from __future__ import annotations

import re
import signal
import sys
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable, ContextManager, Iterator, TypeVar

import click

from derive import __version__
from derive.errors import DeriveError
from derive.spec import ACTIVATIONS, FORMS, POLICIES

FORMATS = ("md", "tex", "json", "pdf", "html")
T = TypeVar("T")


# A whole number of more than 20 digits in a message (the exponent of a value far beyond
# a double has hundreds) says nothing a person can read: it is shown as 1.442e300.
LONG_NUMBER = re.compile(r"(?<![\d.])[1-9]\d{20,}")


def fail(error: DeriveError) -> None:
    click.echo(f"derive: error: {readable(str(error))}", err=True)
    sys.exit(error.exit_code)


def readable(message: str) -> str:
    return LONG_NUMBER.sub(lambda m: f"{m[0][0]}.{m[0][1:4]}e{len(m[0]) - 1}", message)


class Stopped(KeyboardInterrupt):
    """A signal that ends derive (SIGINT, SIGTERM, SIGHUP), raised where the main thread
    is: it unwinds like Ctrl-C, so every cleanup on the way runs (TeX process groups
    ended, temporary and stage folders removed, the exam lock released)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into Stopped while a command runs. A signal the
    caller ignores (nohup, a background job) stays ignored; a second signal while the
    first one unwinds is ignored, so the cleanup is not cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []

    def stop(signum: int, frame: object) -> None:
        if not arrived:
            arrived.append(signum)
            raise Stopped(signum)

    previous = {}
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        handler = signal.getsignal(number)
        if handler in (signal.SIG_DFL, signal.default_int_handler):
            previous[number] = signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def stopped(stop: KeyboardInterrupt, what: str) -> None:
    """Say which signal stopped derive and what it left, then exit with 128 + its number."""
    signum = getattr(stop, "signum", signal.SIGINT)
    click.echo(f"derive: stopped by {signal.Signals(signum).name}; {what}", err=True)
    sys.exit(128 + signum)


def carried_out(work: Callable[[], T], left: str) -> T:
    """A command's work: a DeriveError ends it with its message and exit code, a signal
    with what it `left` (nothing written, the folder unchanged) and 128 + its number."""
    try:
        with stopping_on_signals():
            return work()
    except DeriveError as error:
        fail(error)
    except KeyboardInterrupt as stop:
        stopped(stop, left)
    raise AssertionError("fail() and stopped() exit")  # pragma: no cover


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
                           "compiled with TeX Live (needs -o); html: one self-contained page, "
                           "math as MathML (needs derive[html])."),
        # what -o names (a file, a device, a link, a folder) is checked by derive.output
        click.option("-o", "--output", type=click.Path(path_type=Path),
                     help="Write to this file instead of standard output. A file is replaced "
                          "atomically (a device or FIFO is written into); nothing is written if "
                          "anything fails."),
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
        click.option("--fold-bias", is_flag=True,
                     help="The matrix form with the bias folded into the weights: [W b] [a; 1], "
                          "and the gradient of [W b] as one matrix (implies --matrix)."),
        click.option("--closed-form", is_flag=True,
                     help="Also write the loss as one expression in all parameters and each "
                          "gradient in closed form."),
        click.option("--max-paths", type=click.IntRange(1), default=256, show_default=True,
                     help="Refuse the path-by-path working (--form paths or both) where a "
                          "parameter has more chain-rule paths than this: it would be too long to "
                          "read. The delta form prints no paths and is not limited."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def run(kind: str, spec: Path, fmt: str, output: Path | None, digits: int, rounding: str,
        form: str, matrix: bool, closed_form: bool, max_paths: int, fold_bias: bool = False) -> None:
    def work() -> str | None:
        # For a PDF, pdflatex loads the preamble while Python imports SymPy and works out
        # the answer (two CPUs at work); it gets the rest of the document when it is made.
        with (tex_preloaded() if fmt == "pdf" and output is not None else nullcontext()) as preloaded:
            from derive.api import write_document
            from derive.forms import Options
            return write_document(spec, fmt, digits, kind, output, max_paths, rounding,
                                  Options(form, matrix, closed_form, fold_bias), preloaded)

    result = carried_out(work, "nothing was written" if output else "nothing was printed")
    if result is not None:
        click.echo(result, nl=False)


def tex_preloaded() -> ContextManager:
    from derive.pdf import preloaded_tex  # only PDF users pay for the import
    return preloaded_tex()


@main.command(short_help="The worked answer key: every step, path, gradient and update.")
@document_options
def solve(spec: Path, fmt: str, output: Path | None, digits: int, rounding: str, form: str,
          matrix: bool, closed_form: bool, max_paths: int, fold_bias: bool) -> None:
    """Print the complete worked solution of SPEC: the given network, the forward pass
    (formula, numbers, value for every z and a), the loss, the backward pass (every
    chain-rule path to every weight and bias, the multi-path sums at hidden layers),
    every update, and a summary table."""
    run("solution", spec, fmt, output, digits, rounding, form, matrix, closed_form, max_paths, fold_bias)


@main.command(short_help="The same problem without answers, with numbered tasks.")
@document_options
def worksheet(spec: Path, fmt: str, output: Path | None, digits: int, rounding: str, form: str,
              matrix: bool, closed_form: bool, max_paths: int, fold_bias: bool) -> None:
    """Print the worksheet for SPEC: the network picture and given values, then
    numbered tasks (forward pass, loss, gradients, updates) with room for the answers.
    The answer key (derive solve) uses the same task numbers."""
    run("worksheet", spec, fmt, output, digits, rounding, form, matrix, closed_form, max_paths, fold_bias)


@main.command(short_help="Seeded random variants, each with worksheet and key; LMS export.")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("-n", "--variants", type=click.IntRange(1, 10_000), default=30, show_default=True,
              help="How many variants to make.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Variant k of seed s is always the same, however many variants are made.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("exam"),
              show_default=True, help="The exam's own folder (created if missing). It is written whole "
                   "at the end, or not at all; a second run on it at the same time is refused.")
@click.option("--pdf/--no-pdf", default=None,
              help="Compile PDFs (default: when TeX Live is installed).")
@click.option("--digits", type=click.IntRange(1, 12), default=4, show_default=True,
              help="Decimal places shown and asked for.")
@click.option("--rounding", type=click.Choice(POLICIES), default="exact", show_default=True,
              help="The keys' rounding policy; tolerances accept either policy's answer.")
@click.option("--force", is_flag=True, help="Replace an earlier exam in the folder (all of it).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None,
              help="Processes that make the variants (default: the CPUs derive may use, at most 8); "
                   "the files are the same for any number.")
def exam(spec: Path, variants: int, seed: int, output: Path, pdf: bool | None, digits: int,
         rounding: str, force: bool, quiet: bool, jobs: int | None) -> None:
    """Make VARIANTS versions of SPEC (a spec whose values are draws such as
    {uniform: [-1, 1], decimals: 2}), each with its worksheet and key (Markdown, LaTeX,
    JSON, and PDFs), combined key and worksheet documents for printing, answers.json,
    answers.csv and moodle.xml (Moodle quiz, one Cloze question per variant)."""
    from derive.api import write_exam_folder

    show = not quiet and sys.stderr.isatty()
    written = carried_out(lambda: write_exam_folder(spec, variants, seed, output, digits, rounding, pdf,
                                                    force, progress(show),
                                                    lambda note: click.echo(note, err=True), jobs),
                          f"{output} was not changed")
    if not quiet:
        click.echo(f"derive: wrote {len(written)} files to {output}", err=True)


@main.command(short_help="The JSON Schema of a spec, for editors and validators.")
def schema() -> None:
    """Print the JSON Schema (draft-07) of the spec format of docs/spec.md. Save it and
    point an editor at it: a spec whose first line is
    `# yaml-language-server: $schema=derive-spec.schema.json` is checked as it is typed.
    derive checks more when it reads a spec (the schema's description lists what)."""
    from derive.schema import schema_text

    click.echo(schema_text(), nl=False)


def progress(show: bool) -> Callable | None:
    """A progress bar over variant numbers, on a terminal only."""
    if not show:
        return None

    def bar(numbers: Iterator[int]) -> Iterator[int]:
        items = list(numbers)
        with click.progressbar(items, label="variants", file=sys.stderr) as shown:
            yield from shown
    return bar


@main.command(short_help="Mark students' answers to an exam, with follow-through.")
@click.argument("exam_folder", type=click.Path(path_type=Path))
@click.argument("responses", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("grades"),
              show_default=True, help="Folder for grades.csv, feedback/ and summary.md.")
@click.option("--follow-through", type=click.Choice(["full", "half", "none"]), default="full",
              show_default=True, help="Credit for an answer right from the student's own earlier answers.")
@click.option("--slip-credit", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Credit (a fraction of a mark) for an answer a named slip explains.")
@click.option("--tolerance", type=click.FloatRange(0, min_open=True), default=None,
              help="Accept answers within this of the key, instead of each answer's own tolerance.")
@click.option("--force", is_flag=True, help="Replace an earlier grading in the folder.")
def grade(exam_folder: Path, responses: Path, output: Path, follow_through: str, slip_credit: float,
          tolerance: float | None, force: bool) -> None:
    """Mark RESPONSES (derive's long CSV student,variant,task,value, or Moodle's quiz
    Responses report as CSV) against the exam in EXAM_FOLDER (made by derive exam). An
    answer that is wrong against the key but right from the student's own earlier
    answers gets follow-through credit (FT); common slips are named. See docs/grading.md."""
    from derive.api import grade_folder

    written = carried_out(lambda: grade_folder(exam_folder, responses, output, follow_through, slip_credit,
                                               tolerance, force),
                          f"{output} was not changed")
    click.echo(f"derive: wrote {len(written)} files to {output}", err=True)


@main.command(short_help="A reference table of activations: f and f' (md, tex, pdf).")
@click.option("-f", "--format", "fmt", type=click.Choice(("md", "tex", "pdf")), default="md",
              show_default=True, help="md: Markdown with $…$ math; tex: a complete LaTeX document; "
                                      "pdf: the LaTeX compiled with TeX Live (needs -o).")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write to this file instead of standard output (replaced atomically).")
@click.option("-a", "--activation", "names", multiple=True, type=click.Choice(ACTIVATIONS),
              help="An activation to show (repeat for several); default: every built-in one.")
def table(fmt: str, output: Path | None, names: tuple[str, ...]) -> None:
    """Print the reference table of activations (seed 004): each built-in activation with
    f(z), f'(z) as SymPy derives it, and f' as the working writes it (a = f(z)); softmax
    for a layer of any number of outputs, da_i/dz_j = a_i(delta_ij - a_j). A key shows
    the same table with `worked: {activation_table: all}` (docs/spec.md)."""
    from derive.table import write_table

    result = carried_out(lambda: write_table(names, fmt, output),
                         "nothing was written" if output else "nothing was printed")
    if result is not None:
        click.echo(result, nl=False)


if __name__ == "__main__":
    main()
