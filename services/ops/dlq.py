"""Dead-letter inspection and replay: pure selection logic plus a thin Kafka edge.

Replay remembers, per stage, what it has sent, in the committed offsets of a consumer group:
every letter of the stage below the committed offset was replayed (or is not replayable), and
the commit's metadata lists the letters at or above it that were replayed too. A replay with
`--grep` thus never commits past a letter of the stage it left out, which stays replayable, and
a later replay does not send again what an earlier one sent. The group is never joined (the
partitions are assigned by hand), and a replay reads up to the end offsets it found when it
started, so the letters of a replay that fails again do not feed the same run."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from schemas.deadletter import DeadLetter, Stage
from services.common.kafka import headers, make_producer, make_reader

METADATA_BUDGET = 3000
"""Characters of commit metadata a replay may use to remember the letters it sent beyond its
committed offset (brokers refuse more than offset.metadata.max.bytes, 4096 by default)."""


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
    consumer = make_reader(servers, client_id="cwatch-dlq-list")
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


def encode_offsets(offsets: Iterable[int]) -> str:
    """Sorted offsets as ranges, e.g. {3, 4, 5, 9} -> "3-5,9"."""
    ranges: list[list[int]] = []
    for offset in sorted(set(offsets)):
        if ranges and offset == ranges[-1][1] + 1:
            ranges[-1][1] = offset
        else:
            ranges.append([offset, offset])
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)


def decode_offsets(text: str) -> set[int]:
    """The inverse of encode_offsets; metadata it cannot read counts as nothing replayed."""
    found: set[int] = set()
    try:
        for part in filter(None, (text or "").split(",")):
            low, _, high = part.partition("-")
            found.update(range(int(low), int(high or low) + 1))
    except ValueError:
        return set()
    return found


@dataclass
class PartitionPlan:
    """What one partition's replay sends, and what it leaves for a later one."""

    sends: list[LetterAt]
    pending: list[int]  # offsets of this stage's letters left replayable (--grep, metadata full)
    done: set[int]  # offsets replayed by earlier runs, at or above the committed offset
    skipped: int  # unreadable letters, other stages', letters without an original topic
    end: int


def plan_partition(
    partition: int,
    records: Iterable[tuple[int, bytes]],
    done: set[int],
    end: int,
    stage: Stage,
    contains: str | None,
    budget: int = METADATA_BUDGET,
) -> PartitionPlan:
    """Decide, in offset order, which letters of `stage` to send. Once a letter is left out,
    every later one sent must be remembered in the commit metadata; when that is full, the
    rest is left for a later run rather than sent and forgotten."""
    plan = PartitionPlan([], [], set(done), 0, end)
    remembered: set[int] = set()  # replayed offsets after the first pending one
    needle = contains.lower() if contains else None
    for offset, value in sorted(records, key=lambda r: r[0]):
        if offset in done:
            if plan.pending:
                remembered.add(offset)
            continue
        try:
            letter = DeadLetter.model_validate_json(value)
        except ValidationError:
            plan.skipped += 1
            continue
        if letter.stage != stage or not letter.original_topic:
            plan.skipped += 1
            continue
        if needle and needle not in letter.reason.lower():
            plan.pending.append(offset)
            continue
        if plan.pending:
            if len(encode_offsets(remembered | {offset})) > budget:
                plan.pending.append(offset)
                continue
            remembered.add(offset)
        plan.sends.append(LetterAt(offset, partition, letter))
    return plan


def next_commit(plan: PartitionPlan, sent: set[int], failed: set[int]) -> tuple[int, str] | None:
    """(offset, metadata) to commit after a partition's sends were confirmed: up to the first
    letter still replayable, remembering what was replayed above it; None when that does not
    fit the metadata (nothing is committed: a later run may send some letters again, never
    lose one)."""
    unreplayed = [*plan.pending, *failed]
    position = min(unreplayed) if unreplayed else plan.end
    above = {o for o in plan.done | sent if o >= position}
    metadata = encode_offsets(above)
    if len(metadata) > METADATA_BUDGET:
        return None
    return position, metadata


@dataclass
class ReplayResult:
    replayed: int = 0
    skipped: int = 0  # other stages' letters and letters that cannot be replayed
    left: int = 0  # letters of the stage not replayed now (--grep; replayable later)
    failed: int = 0  # sends Kafka did not acknowledge (replayable later)


def replay(
    servers: str, dlq_topic: str, stage: Stage, contains: str | None, dry_run: bool
) -> ReplayResult:
    """Send each selected letter's original bytes back to its original topic, once.

    Every send is acknowledged before the offsets that cover it are committed; a send that
    failed is left replayable and counted in `failed`."""
    group = f"cwatch-dlq-replay-{stage.value}"
    # Dead letters carry the original bytes plus the reason: up to twice a record's size.
    consumer = make_reader(
        servers,
        client_id="cwatch-dlq-replay",
        group_id=group,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    producer = None if dry_run else make_producer(servers, client_id="cwatch-dlq-replay")
    result = ReplayResult()
    try:
        partitions = [
            TopicPartition(dlq_topic, p)
            for p in sorted(consumer.partitions_for_topic(dlq_topic) or [])
        ]
        if not partitions:
            return result
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        for tp in partitions:
            committed = consumer.committed(tp, metadata=True)
            start = committed.offset if committed and committed.offset >= 0 else 0
            done = decode_offsets(committed.metadata) if committed else set()
            plan = plan_partition(
                tp.partition,
                _read(consumer, tp, start, ends[tp]),
                done,
                ends[tp],
                stage,
                contains,
            )
            result.skipped += plan.skipped
            result.left += len(plan.pending)
            if producer is None:
                result.replayed += len(plan.sends)
                continue
            sent, failed = _send_all(producer, plan.sends, dlq_topic)
            result.replayed += len(sent)
            result.failed += len(failed)
            commit = next_commit(plan, sent, failed)
            if commit is not None:
                offset, metadata = commit
                consumer.commit({tp: OffsetAndMetadata(offset, metadata, -1)})
    finally:
        if producer is not None:
            producer.close()
        consumer.close()
    return result


def _read(
    consumer: KafkaConsumer, tp: TopicPartition, start: int, end: int
) -> list[tuple[int, bytes]]:
    """Records of one assigned partition from `start` up to (not including) `end`."""
    if start >= end:
        return []
    consumer.pause(*[p for p in consumer.assignment() if p != tp])
    consumer.resume(tp)
    consumer.seek(tp, start)
    records: list[tuple[int, bytes]] = []
    while consumer.position(tp) < end:
        batch = consumer.poll(timeout_ms=3000)
        if not batch:
            break
        for items in batch.values():
            records.extend((r.offset, r.value) for r in items if r.offset < end)
    return records


def _send_all(producer: Any, sends: list[LetterAt], dlq_topic: str) -> tuple[set[int], set[int]]:
    """Send every letter's original and wait for each acknowledgement: (sent, failed) offsets."""
    futures = []
    for item in sends:
        letter = item.letter
        futures.append(
            (
                item.offset,
                producer.send(
                    letter.original_topic,
                    key=letter.original_key.encode() if letter.original_key else None,
                    value=letter.payload(),
                    headers=headers(source=letter.source or "", replayed_from=dlq_topic),
                ),
            )
        )
    producer.flush(timeout=60)
    sent: set[int] = set()
    failed: set[int] = set()
    for offset, future in futures:
        try:
            future.get(timeout=60)
            sent.add(offset)
        except Exception:  # not acknowledged: the letter stays replayable
            failed.add(offset)
    return sent, failed
