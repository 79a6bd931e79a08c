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
