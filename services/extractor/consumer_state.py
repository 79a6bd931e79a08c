"""What faust and aiokafka believe about each assigned partition of a topic, for diagnostics."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from faust.types import TP


@dataclass(frozen=True)
class PartitionState:
    partition: int
    position: int | None  # aiokafka: next offset it will fetch
    highwater: int | None  # aiokafka: end offset seen by the last fetch
    committed: int | None  # faust: last committed offset
    read: int | None  # faust: last offset handed to a stream
    active: bool  # in faust's set of partitions it asks aiokafka for
    paused: bool  # in faust's paused set
    buffered: bool  # faust took it out of the active set: its stream buffer is full
    prefetched: bool  # aiokafka holds fetched records for it not yet taken
    acked: int  # faust: acked offsets waiting for a commit

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def partition_states(app: Any, topic: str) -> list[PartitionState]:
    """Read from the event loop's thread; aiokafka's state lives in the consumer's thread, so
    this is a racy but harmless read of plain attributes."""
    consumer = app.consumer
    aio = consumer._thread._consumer
    if aio is None:
        return []
    assignment = aio._subscription.subscription
    assignment = assignment.assignment if assignment is not None else None
    if assignment is None:
        return []
    records = aio._fetcher._records
    out = []
    for aio_tp in sorted(assignment.tps, key=lambda t: (t.topic, t.partition)):
        if aio_tp.topic != topic:
            continue
        tp = TP(aio_tp.topic, aio_tp.partition)
        state = assignment.state_value(aio_tp)
        active = consumer._active_partitions
        out.append(
            PartitionState(
                partition=tp.partition,
                position=state.position if state.has_valid_position else None,
                highwater=state.highwater,
                committed=consumer._committed_offset.get(tp),
                read=consumer._read_offset.get(tp),
                active=active is None or tp in active,
                paused=tp in consumer._paused_partitions,
                buffered=tp in consumer._buffered_partitions,
                prefetched=aio_tp in records,
                acked=len(consumer._acked.get(tp, ())),
            )
        )
    return out
