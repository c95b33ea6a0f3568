"""derive from Python, for notebooks (issue 15): a spec as YAML text or as a dict in,
a document out that Jupyter displays and that gives every format the CLI writes.

    import derive
    key = derive.solve_text(open("problems/q2.yaml").read())
    key                      # displays as Markdown in Jupyter
    key.json(), key.latex(), key.pdf(), key.html()
    derive.worksheet_dict({...})

Bad input raises derive.SpecError with the CLI's located messages (the name given as
`name` stands for the file). A dict is written out as YAML text and read like a file,
so the same checks (and line numbers of that text) apply; nothing is evaluated.
"""
from __future__ import annotations

from typing import Any

import yaml

from .api import solve_spec
from .derivation import MAX_PATHS
from .errors import DeriveError
from .forms import Options
from .render import render
from .document import Solution
from .spec import parse_spec


class Document:
    """A worked answer key (`kind` "solution") or worksheet, in any of derive's formats."""

    def __init__(self, solution: Solution, kind: str, digits: int) -> None:
        self.solution, self.kind, self.digits = solution, kind, digits

    def markdown(self) -> str:
        return render(self.solution, "md", self.digits, self.kind)

    def latex(self) -> str:
        return render(self.solution, "tex", self.digits, self.kind)

    def json(self) -> str:
        if self.kind != "solution":
            raise DeriveError("a worksheet has no JSON form; the JSON is the answer key (solve_text)")
        return render(self.solution, "json", self.digits)

    def pdf(self) -> bytes:
        """The LaTeX compiled with TeX Live (raises DeriveError naming what to install)."""
        from .pdf import compile_pdf
        return compile_pdf(self.latex())

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def html(self) -> str:
        """One self-contained HTML page, math as MathML (needs the extra derive[html])."""
        from .html import html_page
        return html_page(self.solution, self.digits, self.kind)

    def _repr_html_(self) -> str | None:
        """The page's body, for Jupyter; None without derive[html], so that Jupyter
        shows the Markdown instead."""
        from .html import check_available, html_body
        try:
            check_available()
        except DeriveError:
            return None
        return html_body(self.solution, self.digits, self.kind)

    def __repr__(self) -> str:
        what = "answer key" if self.kind == "solution" else "worksheet"
        return f"<derive {what}: {self.solution.title!r}, {len(self.solution.steps)} step(s)>"


def solve_text(text: str, *, name: str = "<spec>", digits: int = 4, rounding: str = "exact",
               form: str = "auto", matrix: bool = False, closed_form: bool = False,
               max_paths: int = MAX_PATHS) -> Document:
    """The answer key of the spec in `text` (YAML, as in a spec file)."""
    return _document(text, "solution", name, digits, rounding, form, matrix, closed_form, max_paths)


def worksheet_text(text: str, *, name: str = "<spec>", digits: int = 4, rounding: str = "exact",
                   form: str = "auto", max_paths: int = MAX_PATHS) -> Document:
    """The worksheet of the spec in `text`: the same tasks as the key, no answers."""
    return _document(text, "worksheet", name, digits, rounding, form, False, False, max_paths)


def solve_dict(spec: dict[str, Any], **options: Any) -> Document:
    """The answer key of a spec given as a dict (the YAML's structure)."""
    return solve_text(dict_text(spec), **options)


def worksheet_dict(spec: dict[str, Any], **options: Any) -> Document:
    return worksheet_text(dict_text(spec), **options)


def dict_text(spec: dict[str, Any]) -> str:
    if not isinstance(spec, dict):
        raise TypeError(f"a spec is a dict (the YAML's structure), not {type(spec).__name__}")
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)


def _document(text: str, kind: str, name: str, digits: int, rounding: str, form: str, matrix: bool,
              closed_form: bool, max_paths: int) -> Document:
    spec = parse_spec(text, name)
    solution = solve_spec(spec, name, max_paths, rounding, digits, Options(form, matrix, closed_form))
    return Document(solution, kind, digits)
