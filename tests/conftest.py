import sys
from pathlib import Path

# tests/ has no __init__.py; put it on sys.path so test files can
# `from oracle import ...` / `from random_specs import ...` directly.
sys.path.insert(0, str(Path(__file__).parent))
