"""Publication order for the story stage: items wait a fixed time in a heap keyed by their
publication time, then leave oldest first. Whatever order the extraction workers finish in,
items that reach the stage within the window of each other leave in the same order."""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


# Raw records waiting for this worker above which it counts as working off a backlog. At the
# end-to-end benchmark's 50 articles/s a worker that keeps up has a few waiting; 250 is five
# seconds of that input, a queue that already costs more than the window would.
BACKLOG_RECORDS = 250


def raw_backlog(
    highwaters: Mapping[int, int | None],
    processed: Mapping[int, int],
    committed: Mapping[int, int | None],
) -> int:
    """Raw records of this worker's partitions not yet extracted: each partition's end offset
    less the next offset to process (after the last one processed here, else its commit)."""
    total = 0
    for partition, end in highwaters.items():
        if end is None:
            continue
        done = processed.get(partition)
        after = done + 1 if done is not None else committed.get(partition) or 0
        total += max(0, end - after)
    return total


class WindowSwitch:
    """The window to hold drafts for.

    While other workers extract too (or during a rebalance, when the count is not known): the
    configured one, always. A worker that reads every raw partition receives its drafts in the
    order it extracted them, which no other worker can change: in the live stream, where
    reports come about as they are published, it holds nothing and keeps its sub-second
    latency. Working off a backlog (a first run, a restart, a burst), it extracts in partition
    order, far from publication order, and then holds the window as several workers would, so
    that one and three workers decide in the same order (measured: 28% of articles grouped
    differently without this). It goes live again once its backlog has stayed short for a whole
    window: not at the first empty look (a burst being fetched empties it for a moment, and
    leaving then cost a quarter of the own set's near-duplicate pairs), and not only once
    nothing is held (a steady stream always has some draft held, and kept the hold for good)."""

    def __init__(
        self,
        window_s: float,
        backlog_records: int = BACKLOG_RECORDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.backlog_records = backlog_records
        # the queue of a worker that keeps up: a second of the benchmark's 50 articles/s
        self.short_records = backlog_records // 5
        self.clock = clock
        self.catching_up = False
        self._short_since: float | None = None

    def window(self, assigned_raw: int, raw_partitions: int, backlog: int) -> float:
        if raw_partitions <= 0 or assigned_raw < raw_partitions:
            self.catching_up = False  # a worker that gets every partition back starts live
            self._short_since = None
            return self.window_s
        now = self.clock()
        if backlog > self.short_records:
            self._short_since = None
        elif self._short_since is None:
            self._short_since = now
        if backlog > self.backlog_records:
            self.catching_up = True
        elif self._short_since is not None and now - self._short_since >= self.window_s:
            self.catching_up = False
        return self.window_s if self.catching_up else 0.0


class OrderBuffer(Generic[T]):
    """Items wait in a heap by publication time; the oldest leaves once it has waited the
    window, the younger ones behind it in turn. An item that has waited two windows leaves
    anyway, with every item published before it: otherwise older-dated items arriving more
    often than the window (a re-listing, forwards, a hostile feed) would renew the wait of
    everything behind them for as long as they kept coming."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self._heap: list[tuple[float, str, int, float, T]] = []
        self._arrivals: deque[tuple[float, tuple[float, str, int]]] = deque()  # arrival order
        self._gone: set[int] = set()  # serials that left the heap before their arrival entry
        self._serial = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, published: float, tie: str, item: T) -> None:
        serial, now = next(self._serial), self.clock()
        heapq.heappush(self._heap, (published, tie, serial, now, item))
        self._arrivals.append((now, (published, tie, serial)))

    def due(self) -> Iterator[T]:
        """Items in publication order: the oldest once it has waited its window, and all
        published up to an item that has waited two."""
        now = self.clock()
        limit: tuple[float, str, int] | None = None
        while self._arrivals and self._arrivals[0][0] + 2 * self.window_s <= now:
            key = self._arrivals.popleft()[1]
            if key[2] in self._gone:
                self._gone.discard(key[2])
            elif limit is None or key > limit:
                limit = key
        while self._heap and (
            self._heap[0][3] + self.window_s <= now
            or (limit is not None and self._heap[0][:3] <= limit)
        ):
            entry = heapq.heappop(self._heap)
            if entry[3] + 2 * self.window_s > now:
                self._gone.add(entry[2])  # its arrival entry is still queued
            yield entry[4]
