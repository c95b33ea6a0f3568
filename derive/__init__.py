"""derive: worked backpropagation solutions from a network written in YAML.

The pipeline runs one way, one module per stage:
spec -> network -> derivation -> evaluate -> solution -> render.
"""
from __future__ import annotations

__version__ = "0.1.0"
