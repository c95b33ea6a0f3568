"""Stage 6: print a Solution as Markdown, LaTeX or JSON.

One Jinja environment per text format, with StrictUndefined so a template that names
a missing field fails loudly. The math inside the templates is printed by derive.latex
(through the filters of derive.filters), user text escaped by derive.escape, and the
JSON key built by derive.keyjson.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import jinja2
import sympy

from .resources import template_folder
from .escape import md_text, moodle_number, tex_text, unicode_symbol, xml_text
from .filters import (bracketed_filter, equalities_filter, factor_filter, long_equation_filter,
                      long_sum_filter, nested_filter, plain_filter, product_filter, sum_filter,
                      tex_filter, column_spacing, ident, svg_base64)
from .keyjson import render_json
from .latex import HOUSE, House, activation_text, approx_width, house_of
from .rounding import ROUNDING_RULE
from .document import Solution

FORMATS = ("md", "tex", "json")
# Estimated glyphs per line of a long product before it breaks (see derive.latex.broken_tex);
# for Markdown the viewer scrolls, so lines break later.
LINE_WIDTH = {"tex": 60.0, "md": 110.0}


class QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs in the system's temporary folder.

    Compiling the templates is most of the rendering time of a small network, and a
    command-line tool runs once per call. A cache that cannot be read or written is
    simply not used. Jinja keys a compiled template by its source, but the code also
    depends on the filters (whether one takes the context is decided when compiling),
    so the file names carry a fingerprint of them: another derive's templates never
    load here.
    """

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def bytecode_cache(env: jinja2.Environment) -> jinja2.BytecodeCache | None:
    filters = sorted((name, str(getattr(f, "jinja_pass_arg", ""))) for name, f in env.filters.items())
    fingerprint = hashlib.sha256(repr(filters).encode()).hexdigest()[:16]
    try:
        return QuietBytecodeCache(pattern=f"__derive_{fingerprint}_%s.cache")
    except (OSError, RuntimeError):  # no safe temporary folder: compile every time
        return None


@lru_cache(maxsize=None)
def environment(fmt: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_folder()),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # escaping is explicit: the `text` filter, per format
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # the templates do not change while derive runs: no stat of every included
        # template on each render (an exam renders five documents per variant)
        auto_reload=False,
    )
    env.filters.update({
        "text": {"md": md_text, "tex": tex_text, "xml": xml_text}[fmt],
        "moodle_number": moodle_number,
        "activation": lambda name: {"md": md_text, "tex": tex_text, "xml": xml_text}[fmt](activation_text(name)),
        "unicode": unicode_symbol,
        "plain": plain_filter,
        "column_spacing": column_spacing,
        "tex": tex_filter,
        "num": tex_filter,
        "product": product_filter,
        "factor": factor_filter,
        "terms": sum_filter,
        "bracketed": bracketed_filter,
        "long_sum": long_sum_filter,
        "equalities": equalities_filter,
        "glyphs": approx_width,
        "svg64": svg_base64,
        "long_equation": long_equation_filter,
        "nested": nested_filter,
        "ident": ident,
    })
    env.tests["sum"] = lambda obj: isinstance(obj, sympy.Add)
    env.globals["house"] = House()  # render() passes the solution's own (a template rendered elsewhere: the default)
    env.bytecode_cache = bytecode_cache(env)
    return env


def render(solution: Solution, fmt: str, digits: int = 4, document: str = "solution") -> str:
    """The whole document as text; JSON is built directly, not templated."""
    if fmt == "json":
        return render_json(solution, digits)
    # a given-gradient problem (derive.given) has its own documents: solution_updates.md.j2, ...
    name = document if solution.kind == "worked" else f"{document}_{solution.kind}"
    template = environment(fmt).get_template(f"{name}.{fmt}.j2")
    house = house_of(solution.notation)
    token = HOUSE.set(house)
    try:
        return template.render(solution=solution, given=solution.given, digits=digits,
                               rounding_rule=ROUNDING_RULE, width=LINE_WIDTH[fmt], house=house)
    finally:
        HOUSE.reset(token)


def render_table(table: object, fmt: str) -> str:
    """The reference table of activations (derive.table) as its own document."""
    template = environment(fmt).get_template(f"table.{fmt}.j2")
    return template.render(solution=table, section={"content": table.rows}, digits=4,  # type: ignore[attr-defined]
                           width=LINE_WIDTH[fmt])


def render_exam(kind: str, part: str, digits: int, solution: Solution | None = None,
                count: int = 0, number: int = 0, body: str = "") -> str:
    """One part of the combined keys (`kind` "solution") or worksheets of an exam, a
    LaTeX document written piece by piece as the variants are made (templates/_exam.tex.j2):
    "head" (the preamble of `solution`, whose title is the exam's, and a title page
    naming `count` variants), "variant" (variant `number`, whose own document, as
    rendered, gives the `body`) or "end"."""
    template = environment("tex").get_template(f"exam_{kind}.tex.j2")
    return template.render(part=part, solution=solution, given=solution.given if solution else None,
                           count=count, number=number, body=body, digits=digits,
                           rounding_rule=ROUNDING_RULE, width=LINE_WIDTH["tex"])


def render_moodle(exam: object, digits: int) -> str:
    """The exam as a Moodle XML quiz (see templates/moodle.xml.j2)."""
    template = environment("xml").get_template("moodle.xml.j2")
    return template.render(exam=exam, digits=digits)
