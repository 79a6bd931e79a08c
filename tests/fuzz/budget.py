"""What one input may cost: elapsed time and memory, checked per input.

Two ways to measure, for two kinds of input:

- `Budget` (in process, tracemalloc): for the many small inputs hypothesis generates. Cheap per
  example; tracemalloc sees what Python allocates (bytes, str, lists: what a decompression bomb
  or a quadratic copy produces).
- `run_isolated` (a forked child): for the hostile corpus, whose known bad inputs can run for
  minutes or allocate gigabytes on today's code. The child has a hard address-space limit and a
  wall-clock deadline, so a regression fails one test instead of wedging or swapping the machine;
  its peak RSS also counts what C libraries (lxml, zlib) allocate. The input is inherited through
  fork, never pickled, so 50 MB inputs cost nothing to hand over.

Bounds are generous on purpose (a class of bug such as backtracking or an unbounded expansion
costs 10x to 1000x more than the bound), so they never flake on a loaded machine.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

MB = 1 << 20


class Budget:
    """`with budget("what"):` asserts that the block stayed under the time and memory bounds."""

    def __init__(self, seconds: float = 2.0, megabytes: float = 200.0) -> None:
        self.seconds = seconds
        self.megabytes = megabytes

    @contextmanager
    def __call__(self, what: object = "") -> Iterator[None]:
        started_tracing = not tracemalloc.is_tracing()
        if started_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        try:
            yield
            elapsed = time.perf_counter() - t0
            peak = (tracemalloc.get_traced_memory()[1] - base) / MB
        finally:
            if started_tracing:
                tracemalloc.stop()
        label = repr(what)[:200]
        assert elapsed <= self.seconds, f"{label}: took {elapsed:.2f} s (bound {self.seconds} s)"
        assert peak <= self.megabytes, f"{label}: peak {peak:.0f} MB (bound {self.megabytes} MB)"


@dataclass(frozen=True)
class Outcome:
    """What happened in the child: a result, or the exception's type name and message."""

    result: Any = None
    error: str | None = None  # exception class name
    message: str = ""
    elapsed: float = 0.0
    peak_mb: float = 0.0
    killed: str | None = None  # why the parent stopped the child (deadline), or its exit code

    def describe(self) -> str:
        if self.killed:
            return f"child stopped: {self.killed}"
        if self.error:
            return f"{self.error}: {self.message[:2000]}"
        return f"ok in {self.elapsed:.2f} s, peak +{self.peak_mb:.0f} MB, result {self.result!r}"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def _vsize() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _child(fn: Callable[..., Any], args: tuple[Any, ...], conn: Any, address_space_mb: int) -> None:
    limit = _vsize() + address_space_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    start_rss = _rss_mb()
    t0 = time.perf_counter()
    try:
        result = fn(*args)
        error, message = None, ""
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which judges it
        result = None
        error = type(exc).__name__
        message = f"{exc}\n{traceback.format_exc()[-3000:]}"
    elapsed = time.perf_counter() - t0
    # ru_maxrss (KiB) is the child's peak including what it shares with the parent since fork.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - start_rss
    try:
        conn.send(Outcome(result, error, message, elapsed, max(peak, 0.0)))
    except Exception as exc:  # noqa: BLE001 - an unpicklable result is still a result
        conn.send(Outcome(repr(result)[:500], error, f"{message} (send: {exc})", elapsed, peak))
    conn.close()


def run_isolated(
    fn: Callable[..., Any],
    *args: Any,
    deadline_s: float = 60.0,
    address_space_mb: int = 2048,
) -> Outcome:
    """fn(*args) in a forked child, stopped after deadline_s, with address_space_mb more
    address space than the parent has (beyond it allocations fail with MemoryError)."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, args, send, address_space_mb), daemon=True)
    t0 = time.perf_counter()
    proc.start()
    send.close()
    try:
        if recv.poll(deadline_s):
            try:
                outcome: Outcome = recv.recv()
            except EOFError:
                outcome = Outcome(killed=f"child died without an answer (exit {proc.exitcode})")
        else:
            outcome = Outcome(killed=f"still running after {deadline_s} s deadline")
            outcome = Outcome(killed=outcome.killed, elapsed=time.perf_counter() - t0)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(10)
        recv.close()
    return outcome
