"""Ingestion order for the story stage, by watermark (issue 20).

The story stage decides a report against what it has already decided, so the order it sees
reports in is part of the answer. The extraction workers finish in an order that depends on
how many there are and how fast each one is; under a backlog a wall-clock delay cannot undo
that (a slow worker's drafts arrive tens of seconds late). What does not depend on the workers
is each raw partition's own order: the ingestor writes a partition in the order it ingests
(`ingested_at`, the time a draft is ordered by here) and one worker reads it in offset order.
(Not the publication date read from the text: it can be days off that order.)

So each draft says which raw partition it came from and whether that partition still had
messages waiting behind it (lag). A partition that is behind holds back everything published
after the latest draft it sent (`published` below: the ingestion time): more of its drafts,
older than that, may still come. A draft leaves once every partition that is behind has sent
something later than it (the watermark), oldest first, ties by report id. A partition that is
caught up holds nothing back, so in steady operation a report is decided as soon as it
arrives; the order only costs latency while there is a backlog, which is exactly when arrival
order is arbitrary.

Every worker also says, each second, for each raw partition it holds, whether it is behind
(`touch`): a partition whose messages made no draft (dead letters), or that has none at all,
does not hold the others on the strength of an old draft.

Bounds: a partition that is behind but silent for `idle_s` (its worker died or is stuck in one
long extraction, which blocks its ticks too) stops holding the others; no draft waits more
than `max_hold_s` and no more than `max_held` drafts are held (the oldest leave first), so
memory and latency stay bounded."""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_HOLD_S = 300.0  # no draft waits longer, whatever the watermark says
MAX_HELD = 20_000  # drafts held at most (a few kB each): past it the oldest leave


@dataclass
class _Source:
    latest: float  # the latest publication time this raw partition sent
    behind: bool  # it had messages waiting when it sent that
    heard: float  # clock() when it last sent anything


class OrderBuffer(Generic[T]):
    def __init__(
        self,
        idle_s: float,
        sources: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
        max_hold_s: float = MAX_HOLD_S,
        max_held: int = MAX_HELD,
    ) -> None:
        self.idle_s = idle_s
        self.clock = clock
        self.max_hold_s = max_hold_s
        self.max_held = max_held
        self._heap: list[tuple[float, str, int, float, T]] = []
        self._serial = itertools.count()
        # Partitions not heard from yet hold everything for `idle_s` after start: a restarted
        # stage must not decide the first worker's drafts before the others' arrive.
        started = clock()
        self._sources = {name: _Source(-math.inf, True, started) for name in sources}

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, source: str, published: float, behind: bool, tie: str, item: T) -> None:
        now = self.clock()
        known = self._sources.get(source)
        latest = published if known is None else max(known.latest, published)
        self._sources[source] = _Source(latest, behind, now)
        heapq.heappush(self._heap, (published, tie, next(self._serial), now, item))

    def touch(self, source: str, behind: bool) -> None:
        """A partition's progress without a draft (its worker's tick, or a message that made
        none): still behind, or caught up (then it holds nothing back)."""
        known = self._sources.get(source)
        latest = -math.inf if known is None else known.latest
        self._sources[source] = _Source(latest, behind, self.clock())

    def watermark(self) -> float:
        """Drafts published before this cannot be preceded by one still to come (from a
        partition that is behind and not silent too long)."""
        now = self.clock()
        holding = [
            s.latest for s in self._sources.values() if s.behind and now - s.heard < self.idle_s
        ]
        return min(holding, default=math.inf)

    def due(self) -> Iterator[T]:
        """The drafts that may be decided now, in publication order."""
        mark = self.watermark()
        now = self.clock()
        while self._heap:
            published, _, _, added, _ = self._heap[0]
            overdue = now - added >= self.max_hold_s or len(self._heap) > self.max_held
            if published < mark or overdue:
                yield heapq.heappop(self._heap)[4]
            else:
                break
