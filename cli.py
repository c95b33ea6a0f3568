"""The `derive` command: click options in, DeriveError out as a message and exit code.

No logic lives here; each command calls one function of derive.api.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from derive import __version__
from derive.errors import DeriveError

FORMATS = ("md", "tex", "json")


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

    The spec format is described in docs/spec.md.
    """


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True,
              help="md: Markdown with $…$ math (GitHub, Jupyter); tex: a complete LaTeX "
                   "document; json: the answer key for autograders.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (replacing it, atomically) instead of standard output.")
@click.option("--digits", type=click.IntRange(1, 12), default=4, show_default=True,
              help="Decimal places shown; values are always computed in full precision.")
def solve(spec: Path, fmt: str, output: Path | None, digits: int) -> None:
    """Print the complete worked solution of SPEC: forward pass, loss, every
    chain-rule path, every gradient and update, and a summary table."""
    from derive.api import solve_text
    from derive.output import write_atomic

    try:
        text = solve_text(spec, fmt, digits)
        if output is None:
            click.echo(text, nl=False)
        else:
            write_atomic(output, text)
    except DeriveError as error:
        fail(error)


if __name__ == "__main__":
    main()
