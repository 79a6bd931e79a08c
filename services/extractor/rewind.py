"""A faust app whose consumer never commits past a record it did not process.

faust drops records it has fetched but not processed in several places: a rebalance or a flow
stop in the middle of a batch; records of a partition it has paused (a fetch waiting while a
rebalance empties faust's set of active partitions, which it shares with aiokafka, gets every
partition's records, as aiokafka's `fetched_records` reads an empty set as "all"); and, found
in the two-extractor stress runs, the agent's buffer emptied by `flow_control.resume()` at the
end of recovery, *after* the seek to the committed offsets: records handed to the agent in that
window are thrown away while faust's read offset says they were read, so their copies fetched
again are dropped as already read. It then relies on three things that do not hold:

- the seek to committed offsets puts every dropped record back: aiokafka leaves a partition
  without a commit (or with commit 0) where it was;
- its commit stops at the first offset not acknowledged: it checks that only when a commit
  exists and is not 0, and lets one missing offset through (`min(acked) - committed > 1`),
  so the first record of a never-committed partition, or the record at the commit, is
  skipped for good (seen: p4 offset 0 lost, everything committed);
- a jump in offsets is a hole in the log: it fills the jump as if acknowledged ("gaps"),
  so records dropped before a later one was processed were committed unprocessed.

Here: a seek puts every partition at its committed offset, or its first one, and remembers
where reading started; the commit covers only an unbroken run of processed offsets from
there; jumps are not filled (the raw topic is written by idempotent, non-transactional
producers, so its offsets have no holes). A dropped record now stops its partition's commit
instead of being lost, and the stall watchdog (`watchdog.py`) reads it again.

`RewindingApp.hold` puts a ceiling on a partition's commit: a worker that stops because of a
record (the dead-letter cap, `dlq_cap.py`) commits what it processed before that record and
never the record itself, whatever faust acknowledges on its way down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers import aiokafka as driver
from faust.types import TP


class Start(NamedTuple):
    committed: int | None  # the group's commit (None: never committed, or 0)
    offset: int  # where reading starts: the commit, or the partition's first offset


async def seek_to_committed_or_beginning(
    consumer: AIOKafkaConsumer, *partitions: Any
) -> dict[Any, Start]:
    """Seek the partitions (all assigned ones by default) to their committed offsets, and those
    without one (None, or 0, which aiokafka leaves alone too) to their first offsets."""
    # aiokafka wants its own TopicPartition (faust hands out its TP, an equal tuple).
    tps = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
    committed: Mapping[Any, Any] = await consumer.seek_to_committed(*tps)
    fresh = [tp for tp, offset in committed.items() if not offset]
    if fresh:
        await consumer.seek_to_beginning(*fresh)
    return {
        tp: Start(offset or None, offset if offset else await consumer.position(tp))
        for tp, offset in committed.items()
    }


def processed_run(acked: Iterable[int], start: int | None) -> tuple[list[int], bool]:
    """The acknowledged offsets still to commit (those below `start` are done already), and
    whether a commit may be computed from them: only when they begin exactly at `start`, the
    offset reading started at or the last commit. Unknown start: no commit."""
    kept = sorted(offset for offset in acked if start is None or offset >= start)
    return kept, start is not None and bool(kept) and kept[0] == start


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    async def seek_to_committed(self) -> Mapping[TP, int]:
        starts = await self.seek_to_start()
        return {tp: start.committed for tp, start in starts.items()}  # type: ignore[misc]

    async def seek_to_start(self, *partitions: Any) -> dict[Any, Start]:
        # In the consumer's thread, as faust's own: no fetch runs between the two seeks.
        consumer = self._ensure_consumer()
        return await self.call_thread(seek_to_committed_or_beginning, consumer, *partitions)


class _Consumer(driver.Consumer):
    _thread: _ConsumerThread

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._start_offset: dict[TP, int] = {}
        self._ceiling: dict[TP, int] = {}  # `hold`: never commit past these offsets

    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        await self.rewind()

    async def rewind(self, *partitions: TP) -> dict[TP, Start]:
        """Seek to committed-or-first; faust then reads from there and commits from there.
        Acknowledgements from before the seek are dropped: what they covered past the commit
        is read again (and a stream skipping a stale message acknowledges it unprocessed)."""
        if not partitions:
            # The agent's partitions only: faust's recovery positions the changelogs itself.
            partitions = tuple(tp for tp in self.assignment() if not self._is_changelog_tp(tp))
            if not partitions:
                return {}
        starts = await self._thread.seek_to_start(*partitions)
        out = {}
        for aio_tp, start in starts.items():
            tp = TP(aio_tp.topic, aio_tp.partition)
            out[tp] = start
            self._start_offset[tp] = start.offset
            self._read_offset[tp] = start.offset
            if start.committed is not None:
                self._committed_offset[tp] = start.committed
            self._acked.pop(tp, None)
            self._acked_index.pop(tp, None)
            self._gap.pop(tp, None)
        return out

    def hold(self, tp: TP, offset: int) -> None:
        """Never commit `tp` past `offset`: the record there is read again after a restart."""
        self._ceiling[tp] = min(offset, self._ceiling.get(tp, offset))

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self._start_offset.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        if not acked:
            return None
        committed = self._committed_offset.get(tp)
        start = committed if committed is not None else self._start_offset.get(tp)
        kept, may_commit = processed_run(acked, start)
        if len(kept) != len(acked):
            self._acked_index[tp].difference_update(set(acked) - set(kept))
            acked[:] = kept
        if not may_commit:
            return None
        result: int | None = super()._new_offset(tp)
        ceiling = self._ceiling.get(tp)
        if result is not None and ceiling is not None and result > ceiling:
            return ceiling
        return result

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """A jump in a partition's offsets means records were dropped, not that the log has a
        hole: never count them as processed."""


class _Transport(driver.Transport):
    Consumer = _Consumer


class RewindingApp(faust.App):
    """faust.App with the consumer above (the broker URL must be a kafka:// one)."""

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    def hold(self, topic: str, partition: int, offset: int) -> None:
        """Commit that partition at most up to `offset` (the record at it stays unprocessed)."""
        consumer: _Consumer = self.consumer  # type: ignore[assignment]
        consumer.hold(TP(topic, partition), offset)
