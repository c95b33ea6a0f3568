"""`-f html`: the answer key or worksheet as one self-contained HTML page (issue 15, item 3).

The page is the Markdown document (templates/*.md.j2) converted, so that it says
exactly what the Markdown says:

- the Markdown goes through markdown-it-py (CommonMark and tables, raw HTML off: the
  spec's text stays text);
- every `$...$` and `$$...$$` becomes MathML (derive.mathml), which browsers render
  themselves, so no script or font is loaded;
- the Mermaid diagram becomes the network as inline SVG (derive.svg, as in Moodle).

Nothing on the page points anywhere: no script, no link, no image or font to fetch; the
CSS is inline, and a Content-Security-Policy forbids any fetch that might slip in. So it
opens offline, and its body can be pasted into an LMS page.

The two packages are the optional extra `derive[html]`; without them `-f html` stops
with a DeriveError saying how to install them.
"""
from __future__ import annotations

import re
from typing import Any

import jinja2
from markupsafe import Markup

from . import __version__
from .errors import DeriveError, RenderError
from .render import render, template_folder
from .document import Solution

INSTALL_HINT = 'the html format needs the optional packages markdown-it-py and latex2mathml: pip install "derive[html]"'
# Placeholders for math while the Markdown is converted. Private-use characters: the
# `text` filter turns every unprintable character of the spec's text into a space,
# so no title or name can forge one.
INLINE = ("\ue000", "\ue001")
DISPLAY = ("\ue002", "\ue003")
PLACEHOLDER = re.compile("([\ue000\ue002])(\\d+)[\ue001\ue003]")
DISPLAY_PARAGRAPH = re.compile("<p>\ue002(\\d+)\ue003</p>")
FENCED_BLOCK = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1[ \t]*$", re.M | re.S)
# Inline, so that it survives pasting into an LMS page: a wide display scrolls sideways
# (padded, so that tall brackets do not make it scroll up and down as well).
SCROLL = 'style="overflow-x:auto;overflow-y:hidden;padding:0.3em 0"'


def check_available() -> None:
    """Fail early, before any work, when the optional packages are missing."""
    try:
        import latex2mathml.converter  # noqa: F401
        import markdown_it  # noqa: F401
    except ImportError:
        raise DeriveError(INSTALL_HINT) from None


def html_page(solution: Solution, digits: int = 4, kind: str = "solution") -> str:
    """The whole HTML document of the key (`kind` "solution") or the worksheet."""
    body = html_body(solution, digits, kind)
    template = page_environment().get_template("page.html.j2")
    return template.render(title=solution.title, kind=kind, version=__version__, body=Markup(body))


def html_body(solution: Solution, digits: int = 4, kind: str = "solution") -> str:
    """The page's content (no <html>, <head>): what a notebook or an LMS page shows."""
    check_available()
    markdown = render(solution, "md", digits, kind)
    diagram = solution.given.diagram
    figure = diagram_figure(diagram) if diagram is not None else None
    return markdown_html(markdown, figure)


def markdown_html(markdown: str, figure: str | None) -> str:
    """derive's Markdown as HTML with MathML; the Mermaid block replaced by `figure`."""
    from markdown_it import MarkdownIt

    from .mathml import tex_to_mathml

    text, formulas = protect_math(markdown)
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    default_fence = parser.renderer.rules["fence"]

    def fence(renderer: Any, tokens: list[Any], index: int, options: Any, env: Any) -> str:
        if tokens[index].info.strip() == "mermaid" and figure is not None:
            return figure
        return default_fence(tokens, index, options, env)

    parser.add_render_rule("fence", fence)
    body = parser.render(text)
    mathml = [tex_to_mathml(tex, display) for tex, display in formulas]
    # A display alone in its paragraph becomes a block that scrolls when it is wide.
    body = DISPLAY_PARAGRAPH.sub(lambda m: f'<div class="derive-display" {SCROLL}>{mathml[int(m[1])]}</div>', body)
    return PLACEHOLDER.sub(lambda m: mathml[int(m[2])], body)


def protect_math(markdown: str) -> tuple[str, list[tuple[str, bool]]]:
    """Every math span replaced by a numbered placeholder, so that Markdown does not act
    on its `_`, `*`, `|` or `\\`; returns the text and the (TeX, display) list.

    A `\\$` (an escaped dollar in the spec's text) is no delimiter, and fenced code
    blocks (the Mermaid diagram) are left alone.
    """
    formulas: list[tuple[str, bool]] = []
    out: list[str] = []
    last = 0
    for block in FENCED_BLOCK.finditer(markdown):
        out += [protect_text(markdown[last:block.start()], formulas), block[0]]
        last = block.end()
    out.append(protect_text(markdown[last:], formulas))
    return "".join(out), formulas


def protect_text(text: str, formulas: list[tuple[str, bool]]) -> str:
    """Placeholders for the math of `text` (no code blocks in it)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            out.append(text[i:i + 2])
            i += 2
            continue
        if char != "$":
            out.append(char)
            i += 1
            continue
        display = text.startswith("$$", i)
        delimiter = "$$" if display else "$"
        end = closing(text, i + len(delimiter), delimiter)
        if end < 0:
            raise RenderError(f"unclosed {delimiter} in the Markdown: {text[i:i + 80]!r}")
        marks = DISPLAY if display else INLINE
        out.append(f"{marks[0]}{len(formulas)}{marks[1]}")
        formulas.append((text[i + len(delimiter):end], display))
        i = end + len(delimiter)
    return "".join(out)


def closing(text: str, start: int, delimiter: str) -> int:
    """Where the math opened before `start` closes (-1: not in `text`); a backslash
    escapes the character after it."""
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text.startswith(delimiter, i):
            return i
        else:
            i += 1
    return -1


def diagram_figure(diagram: object) -> str:
    """The network as inline SVG (the Moodle questions' drawing)."""
    from .svg import diagram_svg

    svg = diagram_svg(diagram).strip()
    return f'<figure class="derive-diagram" {SCROLL} role="img" aria-label="the network">\n{svg}\n</figure>\n'


def page_environment() -> jinja2.Environment:
    """Jinja for the page around the body: autoescaped, the body marked safe by html_page."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(template_folder()),
                              undefined=jinja2.StrictUndefined, autoescape=True,
                              keep_trailing_newline=True)

