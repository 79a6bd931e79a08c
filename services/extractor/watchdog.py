"""The stalled-partition watchdog: the faust edge of `services/extractor/stall.py`.

Every few seconds it compares, for each partition of its topic this worker holds (raw, and the
story stage's), the group's committed offset and the last offset faust handed to the agent with
the broker's end offset. A partition
with records waiting that an idle worker has not read for `after_s` is sought back to its
committed offset (its first offset when it has none) and put back in faust's set of partitions
to fetch (`rewind.py`), with a warning naming the partition and what faust believed about it, and a count
in `cwatch_extractor_stalled_partitions_total`. The records read again are absorbed by the
dedup table (and the report id is the document id downstream).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError
from faust.types import TP

from services.extractor import metrics
from services.extractor.consumer_state import partition_states
from services.extractor.stall import PartitionProgress, StallWatch

log = logging.getLogger(__name__)


def _idle(app: Any, topic: str) -> bool:
    """Not rebalancing or recovering, flow on, and nothing waiting in the agent's buffer."""
    consumer = app.consumer
    if app.rebalancing or not consumer.flow_active:
        return False
    if not app.tables.recovery.completed.is_set():
        return False
    for tp, channels in list(app.topics._tp_index.items()):
        if tp.topic == topic and any(channel.queue.qsize() for channel in channels):
            return False
    return True


class StallWatchdog:
    def __init__(self, app: Any, topic: str, after_s: float, track_read: bool = True) -> None:
        self.app = app
        self.topic = topic
        self.watch = StallWatch(after_s, track_read)

    async def check(self) -> list[int]:
        app, consumer = self.app, self.app.consumer
        idle = _idle(app, self.topic)
        states = (
            {state.partition: state for state in partition_states(app, self.topic)} if idle else {}
        )
        if not states:
            self.watch.reset()
            return []
        tps = [TopicPartition(self.topic, partition) for partition in states]
        starts = await consumer.earliest_offsets(*tps)
        ends = await consumer.highwaters(*tps)
        progress = {
            tp.partition: PartitionProgress(
                committed=states[tp.partition].committed,
                read=states[tp.partition].read,
                start=starts.get(tp) or 0,
                end=ends.get(tp) or 0,
            )
            for tp in tps
        }
        stalled = self.watch.stalled(time.monotonic(), progress, _idle(app, self.topic))
        if stalled:
            await self.rewind(stalled, {p: states[p].as_dict() for p in stalled}, progress)
        return stalled

    async def rewind(
        self, partitions: list[int], seen: dict[int, Any], progress: dict[int, PartitionProgress]
    ) -> None:
        consumer = self.app.consumer
        tps = [TP(self.topic, partition) for partition in partitions]
        try:
            starts = await consumer.rewind(*tps)
        except (IllegalStateError, AssertionError) as exc:  # a rebalance took them meanwhile
            log.info("stalled partitions moved on before the rewind", extra={"error": str(exc)})
            return
        # Back in the set faust fetches: it may have left them paused or "buffered" (its flow
        # control takes a partition out while the agent's buffer is full and puts it back
        # when that buffer drains, which an idle worker's has).
        consumer._buffered_partitions.difference_update(tps)
        consumer.resume_partitions(tps)
        metrics.STALLED_PARTITIONS.inc(len(partitions))
        for partition in partitions:
            # The facts in the message too: faust's worker log prints no extras.
            log.warning(
                "%s partition %s stalled: records up to %s waiting, none processed for %ss; "
                "read again from %s (faust saw %s)",
                self.topic,
                partition,
                progress[partition].end,
                self.watch.after_s,
                starts[TP(self.topic, partition)].offset,
                seen[partition],
                extra={
                    "topic": self.topic,
                    "partition": partition,
                    "from_offset": starts[TP(self.topic, partition)].offset,
                    "end": progress[partition].end,
                    "seen": seen[partition],
                    "stalled_s": self.watch.after_s,
                },
            )
