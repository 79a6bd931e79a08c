"""When an assigned partition counts as stalled: records are waiting in it, the worker is idle,
and nothing of it has been read or committed for a while. Pure: the faust edge
(`services/extractor/watchdog.py`) feeds it observations and rewinds what it names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PartitionProgress:
    committed: int | None  # the group's committed offset (None: never committed)
    read: int | None  # the last offset the worker handed to its stream
    start: int  # the broker's first offset of the partition
    end: int  # the broker's end offset (the next record's offset)

    @property
    def behind(self) -> bool:
        """Records after the committed offset (or, never committed, any record at all)."""
        done = self.committed if self.committed is not None else self.start
        return done < self.end


class StallWatch:
    """Remembers since when each partition has been behind without moving.

    A partition is named once it has been behind, with the same committed and read offsets,
    for `after_s` while the worker was idle at every look (not rebalancing, nothing waiting in
    its stream). A busy worker, a rebalance, or any progress starts the wait again, so a slow
    message (bounded by the extraction budget) or a long backlog never counts as a stall."""

    def __init__(self, after_s: float, track_read: bool = True) -> None:
        self.after_s = after_s
        # False: only the commit counts as progress. For a topic read all the time whatever
        # else happens (the story stage's ticks), whose stuck commit is the only sign of a
        # record faust dropped.
        self.track_read = track_read
        self._since: dict[int, tuple[tuple[int | None, int | None], float]] = {}

    def reset(self) -> None:
        self._since.clear()

    def stalled(
        self, now: float, progress: Mapping[int, PartitionProgress], idle: bool
    ) -> list[int]:
        if not idle:
            self.reset()
            return []
        for partition in set(self._since) - set(progress):
            del self._since[partition]
        named = []
        for partition, seen in sorted(progress.items()):
            mark = (seen.committed, seen.read if self.track_read else None)
            previous = self._since.get(partition)
            if not seen.behind:
                self._since.pop(partition, None)
            elif previous is None or previous[0] != mark:
                self._since[partition] = (mark, now)
            elif now - previous[1] >= self.after_s:
                named.append(partition)
                self._since[partition] = (mark, now)  # named again only after another wait
        return named
