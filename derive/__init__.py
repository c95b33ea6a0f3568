"""derive: worked backpropagation solutions from a network written in YAML.

The pipeline runs one way, one module per stage:
spec -> network -> derivation -> evaluate -> solution -> render.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import DeriveError, SpecError  # noqa: E402

# The Python API (derive.notebook) is imported on first use, so that `import derive` (and
# every CLI start, which reads __version__) does not load SymPy before it needs it.
_NOTEBOOK = ("Document", "solve_dict", "solve_text", "worksheet_dict", "worksheet_text")
__all__ = ["DeriveError", "SpecError", *_NOTEBOOK]


def __getattr__(name: str) -> object:
    if name in _NOTEBOOK:
        from . import notebook
        return getattr(notebook, name)
    raise AttributeError(f"module 'derive' has no attribute {name!r}")
