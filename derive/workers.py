"""Worker processes that make the items of a numbered sequence, read back in order.

`derive exam` makes its variants in parallel with these (derive.exam). Each worker is a
fork of the parent, made after the parent has built everything the items share (the
SymPy derivation, compiled templates, warm caches), so a worker starts at once and
nothing of that travels through a pipe. Worker i of n makes items i, i + n, i + 2n, ...
and sends each result down a pipe of its own; the parent reads the pipes in turn, so
it gets the results in their order. A worker whose result the parent has not read yet
waits in `send` once the pipe is full, so only a few results are ever in flight:
memory does not grow with the number of items.

What could leave a worker behind is handled:
- Ctrl-C reaches the whole process group; the workers ignore it (and SIGHUP), so the
  parent alone decides: whatever stops it (a signal turned into an exception by
  derive's CLI, an error) ends the workers with SIGKILL and waits for them in `close`.
- Signals are blocked while a worker is forked, so none reaches it before it has set
  its own handlers (it would otherwise run the parent's).
- If the parent dies without cleaning up (SIGKILL), the kernel kills the workers
  (PR_SET_PDEATHSIG on Linux), and a worker writing to its pipe gets EPIPE anyway.
- A worker that dies (killed, out of memory) is noticed as the end of its pipe:
  WorkerLost, rather than a wait for ever.
An exception in a worker's `make` is not pickled across (not every exception can be
rebuilt from its pickle): the item comes back as FAILED and the caller redoes it
itself, where the same exception is raised with its own traceback.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
from multiprocessing.connection import Connection
from typing import Callable, Generic, Iterator, TypeVar

from .errors import DeriveError

R = TypeVar("R")
MAX_JOBS = 8  # beyond this, the parent writing the files is the bottleneck anyway
HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Failed:
    """The result of an item whose `make` raised in the worker."""

    def __repr__(self) -> str:
        return "FAILED"

    def __reduce__(self) -> str:
        return "FAILED"  # unpickled as this module's FAILED itself


FAILED = Failed()


class WorkerLost(DeriveError):
    """A worker process ended before it had sent its items (killed, out of memory)."""


def default_jobs() -> int:
    """The CPUs this process may run on (its affinity, as a container or taskset limits
    it), at most MAX_JOBS."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_JOBS))


def can_fork() -> bool:
    """Whether worker processes can be forked here: on Linux (macOS has fork, but
    forking a process that has used its system frameworks is unsafe there)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


class OrderedWorkers(Generic[R]):
    """`jobs` forked processes making `make(number)` for each of `numbers`;
    iterating gives (number, result or FAILED) in the order of `numbers`.
    Use as a context manager: leaving it ends every worker (`close`)."""

    def __init__(self, make: Callable[[int], R], numbers: range, jobs: int, what: str = "item") -> None:
        """`what` names an item in messages ("variant")."""
        self.numbers, self.what = numbers, what
        self.jobs = max(1, min(jobs, len(numbers)))
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.pipes: list[Connection] = []
        self.make = make

    def __enter__(self) -> OrderedWorkers[R]:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        context = multiprocessing.get_context("fork")
        # what the parent has buffered would otherwise be written again by each worker
        # (multiprocessing flushes the standard streams when a worker ends)
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        # The garbage collector would write to every object the workers inherit (its
        # generation links), so each worker would soon hold its own copy of the parent's
        # pages; frozen objects are never scanned, and stay shared.
        gc.freeze()
        for index in range(self.jobs):
            reader, writer = context.Pipe(duplex=False)
            self.pipes.append(reader)
            share = self.numbers[index::self.jobs]
            process = context.Process(target=serve, args=(self.make, share, writer, list(self.pipes),
                                                          os.getpid()),
                                      name=f"derive-worker-{index + 1}", daemon=True)
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
            try:
                process.start()
                self.processes.append(process)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a signal pending now is the parent's
                writer.close()  # the worker's end: the parent keeps only the reading ends

    def __iter__(self) -> Iterator[tuple[int, R | Failed]]:
        for position, number in enumerate(self.numbers):
            index = position % self.jobs
            try:
                sent_number, result = self.pipes[index].recv()
            # EOFError: the pipe ended between messages; OSError ("got end of file during
            # message"): the worker died while sending one
            except (EOFError, OSError):
                raise WorkerLost(self.lost(index, number)) from None
            assert sent_number == number, (sent_number, number)  # the pipes are read in turn
            yield number, result

    def lost(self, index: int, number: int) -> str:
        process = self.processes[index]
        process.join(1.0)
        code = process.exitcode
        how = (f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0
               else f"ended with exit code {code}" if code is not None else "closed its pipe")
        return (f"the worker process making {self.what} {number} {how}; nothing was written "
                "(run again, or with --jobs 1 to make everything in one process)")

    def close(self) -> None:
        """End every worker at once (SIGKILL: they hold nothing that needs cleaning up,
        and their results are not wanted any more) and wait until each is gone."""
        for process in self.processes:
            if process.exitcode is None:
                process.kill()
        for process in self.processes:
            process.join()
            process.close()
        for pipe in self.pipes:
            pipe.close()
        self.processes, self.pipes = [], []
        gc.unfreeze()  # (start froze them) collected as usual again


def serve(make: Callable[[int], object], numbers: range, pipe: Connection,
          inherited: list[Connection], parent: int) -> None:
    """A worker's life: its signals set up, then each of its items made and sent."""
    for number in HANDLED:
        signal.signal(number, signal.SIG_IGN if number != signal.SIGTERM else signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
    die_with_parent(parent)
    for reader in inherited:  # the parent's reading ends: the parent's death must close them
        reader.close()
    for number in numbers:
        try:
            result: object = make(number)
        except Exception:  # the parent redoes the item and meets the error itself
            result = FAILED
        pipe.send((number, result))
    pipe.close()


def die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this worker when its parent dies, however it dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: EPIPE still ends a worker that sends
        return
    if os.getppid() != parent:  # it died before prctl: nobody will read our results
        os._exit(1)
