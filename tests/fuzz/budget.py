"""What one input may cost: elapsed time and memory, checked per input.

Two ways to measure, for two kinds of input:

- `Budget` (in process, tracemalloc): for the many small inputs hypothesis generates. Cheap per
  example; tracemalloc sees what Python allocates (bytes, str, lists: what a decompression bomb
  or a quadratic copy produces).
- `run_isolated` (a forked child): for the hostile corpus, whose known bad inputs can run for
  minutes or allocate gigabytes on today's code. The child has a hard address-space limit and a
  CPU-time limit, so a regression fails one test instead of wedging or swapping the machine;
  its peak RSS also counts what C libraries (lxml, zlib) allocate. The input is inherited through
  fork, never pickled, so 50 MB inputs cost nothing to hand over.

Time is CPU time (of the process, or of the child), not wall time: six helpers on two cores
must not make a bounded input look slow. Bounds are generous on purpose (a class of bug such as backtracking or an unbounded expansion
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
        t0 = time.process_time()
        try:
            yield
            elapsed = time.process_time() - t0
            peak = (tracemalloc.get_traced_memory()[1] - base) / MB
        finally:
            if started_tracing:
                tracemalloc.stop()
        label = repr(what)[:200]
        assert elapsed <= self.seconds, (
            f"{label}: took {elapsed:.2f} s CPU (bound {self.seconds} s)"
        )
        assert peak <= self.megabytes, f"{label}: peak {peak:.0f} MB (bound {self.megabytes} MB)"


@dataclass(frozen=True)
class Outcome:
    """What happened in the child: a result, or the exception's type name and message."""

    result: Any = None
    error: str | None = None  # exception class name
    message: str = ""
    cpu_s: float = 0.0  # CPU time of the child (user + system): load on the machine aside
    peak_mb: float = 0.0
    killed: str | None = None  # why the parent stopped the child, or how it died

    def describe(self) -> str:
        if self.killed:
            return f"child stopped: {self.killed}"
        if self.error:
            return f"{self.error}: {self.message[:2000]}"
        return f"ok in {self.cpu_s:.2f} s CPU, peak +{self.peak_mb:.0f} MB, result {self.result!r}"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def _vsize() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (fields 14 and 15 of /proc/pid/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _child(fn: Callable[..., Any], args: tuple[Any, ...], conn: Any, address_space_mb: int) -> None:
    limit = _vsize() + address_space_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    start_rss = _rss_mb()
    try:
        result = fn(*args)
        error, message = None, ""
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which judges it
        result = None
        error = type(exc).__name__
        message = f"{exc}\n{traceback.format_exc()[-3000:]}"
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    # ru_maxrss (KiB) is the child's peak including what it shares with the parent since fork.
    peak = max(usage.ru_maxrss / 1024 - start_rss, 0.0)
    try:
        conn.send(Outcome(result, error, message, cpu, peak))
    except Exception as exc:  # noqa: BLE001 - an unpicklable result is still a result
        conn.send(Outcome(repr(result)[:500], error, f"{message} (send: {exc})", cpu, peak))
    conn.close()


def run_isolated(
    fn: Callable[..., Any],
    *args: Any,
    cpu_limit_s: float = 30.0,
    address_space_mb: int = 2048,
) -> Outcome:
    """fn(*args) in a forked child, with address_space_mb more address space than the parent
    has (beyond it allocations fail with MemoryError). The child is stopped once it has used
    more than cpu_limit_s of CPU: CPU time, not wall time, so a loaded machine does not make a
    slow-but-bounded input fail, and an input that hangs costs only its limit."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, args, send, address_space_mb), daemon=True)
    wall_cap = 20 * cpu_limit_s + 60  # a child that gets no CPU at all is still stopped
    started = time.monotonic()
    proc.start()
    send.close()
    try:
        while True:
            if recv.poll(0.05):
                try:
                    outcome: Outcome = recv.recv()
                except EOFError:
                    outcome = Outcome(killed=f"child died without an answer ({proc.exitcode})")
                break
            cpu = _cpu_of(proc.pid)
            if cpu > cpu_limit_s:
                outcome = Outcome(cpu_s=cpu, killed=f"used {cpu:.1f} s CPU, limit {cpu_limit_s} s")
                break
            if time.monotonic() - started > wall_cap:
                outcome = Outcome(cpu_s=cpu, killed=f"no answer within {wall_cap:.0f} s")
                break
            if not proc.is_alive() and not recv.poll(0.5):
                outcome = Outcome(killed=f"child died without an answer ({proc.exitcode})")
                break
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(10)
        recv.close()
    return outcome
