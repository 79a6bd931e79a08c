"""Publication order for the story stage: drafts wait in a heap keyed by their publication
time until every raw partition's extraction has got past it (the watermark), then leave oldest
first. Whatever order and speed the extraction workers work at, drafts leave in the same
order."""

from __future__ import annotations

import heapq
import itertools
import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

# Drafts held at most (the oldest leave beyond): 100 s of the benchmark's 50/s.
MAX_HELD = 5_000
# A progress marker: {"progress": [[raw partition, latest draft's publication time or null,
# records waiting], ...]}, one entry per raw partition the sending worker reads.
PROGRESS = b'{"progress":'
MAX_MARKER_BYTES = 64 * 1024


def progress_marker(entries: list[tuple[int, float | None, int]]) -> bytes:
    return json.dumps({"progress": [list(entry) for entry in entries]}).encode()


def parse_progress(value: bytes) -> list[tuple[int, float | None, int]] | None:
    """A progress marker's entries; None for anything else (a draft). Entries that are not
    [int, number or null, int] are left out: a marker only ever speeds the stage up or holds
    it back for `hold_s`, never loses a draft."""
    if not value.startswith(PROGRESS):
        return None
    if len(value) > MAX_MARKER_BYTES:
        return []
    try:
        raw = json.loads(value)["progress"]
    except (ValueError, KeyError, TypeError):
        return []
    entries = []
    for entry in raw if isinstance(raw, list) else []:
        if not (isinstance(entry, list) and len(entry) == 3):
            continue
        partition, when, waiting = entry
        if not (type(partition) is int and type(waiting) is int):
            continue
        if when is not None and not (type(when) in (int, float) and math.isfinite(when)):
            continue
        entries.append((partition, None if when is None else float(when), waiting))
    return entries


class Watermark:
    """The publication time up to which every raw partition's drafts have reached the story
    stage.

    Each draft tells the stage the raw partition it was extracted from and how many records
    were still waiting there behind it; each worker's progress marker (every second) tells the
    same of every raw partition it reads. A partition with nothing waiting holds nothing back;
    any other has got as far as the publication time of its latest draft, raw partitions
    carrying reports about in the order they were published. A draft published up to the lowest
    of these has met every draft published before it, whatever the number of workers, their
    speeds and the spread of partitions: so one and three workers decide in the same order
    (measured, with a fixed 5 s hold instead: 6% of 3000 articles grouped differently, 20% once
    a draft could no longer be held beyond two windows). A worker that keeps up leaves its
    partitions with nothing waiting, and the stage holds nothing."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self._latest: dict[int, float] = {}
        self._idle: dict[int, bool] = {}

    def saw(self, partition: int, when: float | None, waiting: int) -> None:
        if not 0 <= partition < self.partitions:
            return  # not a raw partition of this deployment: no say
        if when is not None:
            self._latest[partition] = when
        self._idle[partition] = waiting <= 0

    def limit(self) -> float:
        lowest = math.inf
        for partition in range(self.partitions):
            if not self._idle.get(partition, False):
                lowest = min(lowest, self._latest.get(partition, -math.inf))
        return lowest


class OrderBuffer(Generic[T]):
    """Items wait in a heap by publication time. They leave oldest first once the watermark
    has passed them; an item that has waited `hold_s` leaves anyway, with every item published
    before it, so that nothing waits longer for a partition whose worker died or whose records
    come out of order (older-dated items arriving steadily would otherwise hold everything);
    past `max_items` the oldest leave, so that the heap's memory stays bounded."""

    def __init__(
        self,
        hold_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_items: int = MAX_HELD,
        on_release: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.hold_s = hold_s
        self.on_release = on_release  # "watermark", "hold" or "cap", per item
        self.clock = clock
        self.max_items = max_items
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

    def due(self, watermark: float = -math.inf) -> Iterator[T]:
        """Items in publication order: those published up to the watermark, and all published
        up to an item that has waited `hold_s`."""
        now = self.clock()
        limit: tuple[float, str, int] | None = None
        while self._arrivals and self._arrivals[0][0] + self.hold_s <= now:
            key = self._arrivals.popleft()[1]
            if key[2] in self._gone:
                self._gone.discard(key[2])
            elif limit is None or key > limit:
                limit = key
        while self._heap:
            if self._heap[0][0] <= watermark:
                reason = "watermark"
            elif limit is not None and self._heap[0][:3] <= limit:
                reason = "hold"
            elif len(self._heap) > self.max_items:
                reason = "cap"
            else:
                break
            self.on_release(reason)
            entry = heapq.heappop(self._heap)
            if entry[3] + self.hold_s > now:
                self._gone.add(entry[2])  # its arrival entry is still queued
            yield entry[4]
