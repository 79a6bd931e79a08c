"""Dead-letter inspection and replay: pure selection logic plus a thin Kafka edge."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from schemas.deadletter import DeadLetter, Stage
from services.common.kafka import bootstrap_list, headers, make_consumer, make_producer


@dataclass(frozen=True)
class LetterAt:
    offset: int
    partition: int
    letter: DeadLetter


def parse_letters(records: Iterable[tuple[int, int, bytes]]) -> Iterator[LetterAt]:
    """(partition, offset, value) -> parsed letters; unreadable records are skipped, not fatal."""
    for partition, offset, value in records:
        try:
            yield LetterAt(offset, partition, DeadLetter.model_validate_json(value))
        except ValidationError:
            continue


def select(
    letters: Iterable[LetterAt], stage: Stage | None, contains: str | None
) -> list[LetterAt]:
    chosen = []
    for item in letters:
        if stage and item.letter.stage != stage:
            continue
        if contains and contains.lower() not in item.letter.reason.lower():
            continue
        chosen.append(item)
    return chosen


def read_all(servers: str, topic: str, timeout_ms: int = 3000) -> list[tuple[int, int, bytes]]:
    """Read the dead-letter topic from the start to its current end, without a consumer group."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_list(servers), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records: list[tuple[int, int, bytes]] = []
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            batch = consumer.poll(timeout_ms=timeout_ms)
            if not batch:
                break
            for tp, items in batch.items():
                records.extend((tp.partition, r.offset, r.value) for r in items)
        return records
    finally:
        consumer.close()


def replay(
    servers: str, dlq_topic: str, stage: Stage, contains: str | None, dry_run: bool
) -> tuple[int, int]:
    """Send each selected letter's original bytes back to its original topic, once.

    A consumer group per stage remembers what was replayed, so running it twice replays nothing
    twice. Returns (replayed, skipped)."""
    group = f"cwatch-dlq-replay-{stage.value}"
    consumer = make_consumer(
        servers, group if not dry_run else f"{group}-dry-{uuid.uuid4().hex[:6]}", [dlq_topic]
    )
    producer = make_producer(servers, client_id="cwatch-dlq-replay")
    replayed = skipped = 0
    try:
        while True:
            batch = consumer.poll(timeout_ms=3000)
            if not batch:
                break
            for items in batch.values():
                letters = parse_letters((r.partition, r.offset, r.value) for r in items)
                for item in letters:
                    letter = item.letter
                    if (
                        letter.stage != stage
                        or not letter.original_topic
                        or (contains and contains.lower() not in letter.reason.lower())
                    ):
                        skipped += 1
                        continue
                    if not dry_run:
                        producer.send(
                            letter.original_topic,
                            key=letter.original_key.encode() if letter.original_key else None,
                            value=letter.payload(),
                            headers=headers(source=letter.source or "", replayed_from=dlq_topic),
                        )
                    replayed += 1
            producer.flush(timeout=30)
            if not dry_run:
                consumer.commit()
    finally:
        producer.close()
        consumer.close()
    return replayed, skipped
