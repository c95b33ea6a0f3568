"""A bound on how much work a computation may do, counted in Python function calls.

SymPy answers some questions about a formula by work that grows exponentially with how
deeply its functions nest: whether tanh(tanh(...(z))) is real costs it 4 times as much
per level, so 12 levels never finish. A time limit would accept a formula on a fast
machine and refuse it on a slow one; counting calls gives the same answer everywhere
(for one SymPy version), and costs about a second per million calls counted.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator


class WorkExceeded(BaseException):
    """Raised inside the computation when it passes its bound. A BaseException, so that
    no `except Exception` inside SymPy can swallow it and carry on unbounded."""


@contextmanager
def bounded(calls: int) -> Iterator[None]:
    """Run the body with at most `calls` Python function calls (in this thread); past
    that, WorkExceeded is raised where the work is."""
    count = 0
    previous = sys.getprofile()

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event == "call":
            count += 1
            if count > calls:
                raise WorkExceeded(calls)

    sys.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(previous)
