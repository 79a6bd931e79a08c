"""Through the real Kafka: records a group member fetched but never committed (faust drops
them on a rebalance or a flow stop, then seeks to the committed offsets) are read again."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.topics import TopicNames
from services.extractor.rewind import seek_to_committed_or_beginning

pytestmark = pytest.mark.integration


async def _fetch_all_then_seek(bootstrap: str, topic: str, group: str) -> tuple[int, int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic, f"m{n}".encode(), partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest",
    )  # fmt: skip
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        fetched = 0
        for _ in range(30):  # the assignment and the first fetch take a moment
            batch = await consumer.getmany(tp, timeout_ms=1000)
            fetched += len(batch.get(tp, []))
            if fetched >= 5:
                break
        before = await consumer.position(tp)
        await seek_to_committed_or_beginning(consumer)  # type: ignore[arg-type]
        return before, await consumer.position(tp)
    finally:
        await consumer.stop()


def test_fetched_but_uncommitted_records_are_read_again_after_a_seek_to_committed(
    kafka_bootstrap: str, topics: TopicNames, namespace: str
) -> None:
    before, after = asyncio.run(
        _fetch_all_then_seek(kafka_bootstrap, topics.raw, f"{namespace}-rewind")
    )
    assert before == 5
    assert after == 0
