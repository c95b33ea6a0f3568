"""Where derive's own files are: the templates folder (no import of the pipeline, so the
PDF path can read the preamble before SymPy is loaded)."""
from __future__ import annotations

from pathlib import Path

from .errors import RenderError


def template_folder() -> Path:
    """templates/ beside the package in a checkout, or inside it once installed."""
    here = Path(__file__).resolve().parent
    for folder in (here / "templates", here.parent / "templates"):
        if folder.is_dir():
            return folder
    raise RenderError("cannot find the templates folder (the installation is incomplete)")
