"""A faust app whose consumer rewinds partitions without a committed offset.

faust drops records it has fetched but not handed to a stream in several places (a rebalance
or a flow stop in the middle of a batch; records of a partition it has paused: a fetch waiting
while a rebalance empties faust's set of active partitions, which faust shares with it, gets
every partition's records, as aiokafka's `fetched_records` reads an empty set as "all") and
relies on `perform_seek` -> aiokafka's `seek_to_committed` to read them again. aiokafka only
seeks a partition whose committed offset is above 0 (`if offset and offset > 0`), so a
partition the group has never committed (e.g. taken over from a worker killed before its
first commit) kept the position past the dropped records: they were never processed and the
partition never got a commit. Here such a partition goes back to its first offset, which is
what `auto_offset_reset="earliest"` promises for a partition without a commit; the dedup table
absorbs the records read twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from faust.transport.drivers import aiokafka as driver
from faust.types import TP


async def seek_to_committed_or_beginning(consumer: AIOKafkaConsumer) -> Mapping[TP, Any]:
    """Seek every assigned partition to its committed offset, and those without one (None,
    or 0, which aiokafka leaves alone too) to their first offset."""
    committed: Mapping[TP, Any] = await consumer.seek_to_committed()
    fresh = [tp for tp, offset in committed.items() if not offset]
    if fresh:
        await consumer.seek_to_beginning(*fresh)
    return committed


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    async def seek_to_committed(self) -> Mapping[TP, int]:
        # In the consumer's thread, as faust's own: no fetch runs between the two seeks.
        return await self.call_thread(seek_to_committed_or_beginning, self._ensure_consumer())


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(driver.Transport):
    Consumer = _Consumer


class RewindingApp(faust.App):
    """faust.App with the consumer above (the broker URL must be a kafka:// one)."""

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
