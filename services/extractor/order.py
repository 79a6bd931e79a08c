"""Publication order for the story stage: items wait a fixed time in a heap keyed by their
publication time, then leave oldest first. Whatever order the extraction workers finish in,
items that reach the stage within the window of each other leave in the same order."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


def effective_window(window_s: float, assigned_raw: int, raw_partitions: int) -> float:
    """The window to hold drafts for: none while this worker reads every raw partition (its
    drafts arrive in the order it extracted them, which no other worker can change), the
    configured one while other workers extract too (or during a rebalance, when the count is
    not known). A single worker thus pays no latency for the order several workers need."""
    return 0.0 if raw_partitions > 0 and assigned_raw >= raw_partitions else window_s


class OrderBuffer(Generic[T]):
    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self._heap: list[tuple[float, str, int, float, T]] = []
        self._serial = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, published: float, tie: str, item: T) -> None:
        heapq.heappush(self._heap, (published, tie, next(self._serial), self.clock(), item))

    def due(self) -> Iterator[T]:
        """Items in publication order, as long as the oldest has waited its window (the
        younger ones behind it wait for it: at most one window more)."""
        while self._heap and self._heap[0][3] + self.window_s <= self.clock():
            yield heapq.heappop(self._heap)[4]
