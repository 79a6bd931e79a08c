"""The extractor's consumer reads again what faust dropped and never commits past a record it
did not process (see services/extractor/rewind.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from faust.types import TP

from services.extractor.rewind import Start, processed_run, seek_to_committed_or_beginning

FRESH, ZERO, DONE = TP("raw", 3), TP("raw", 4), TP("raw", 5)


class FakeConsumer:
    """aiokafka's seek behaviour: a commit of None or 0 leaves the position alone."""

    def __init__(self) -> None:
        self.position_of = {FRESH: 37, ZERO: 5, DONE: 40}
        self.first = {FRESH: 0, ZERO: 2, DONE: 0}

    async def seek_to_committed(self, *tps: TP) -> dict[TP, Any]:
        if not all(isinstance(tp, TopicPartition) for tp in tps):  # as aiokafka does
            raise TypeError("partitions must be TopicPartition instances")
        committed = {FRESH: None, ZERO: 0, DONE: 12}
        committed = {tp: offset for tp, offset in committed.items() if not tps or tp in tps}
        for tp, offset in committed.items():
            if offset and offset > 0:
                self.position_of[tp] = offset
        return committed

    async def seek_to_beginning(self, *tps: TP) -> None:
        for tp in tps:
            self.position_of[tp] = self.first[tp]

    async def position(self, tp: TP) -> int:
        return self.position_of[tp]


def test_partitions_without_a_commit_are_read_again_from_their_start() -> None:
    consumer = FakeConsumer()
    starts = asyncio.run(seek_to_committed_or_beginning(consumer))  # type: ignore[arg-type]
    assert starts == {FRESH: Start(None, 0), ZERO: Start(None, 2), DONE: Start(12, 12)}
    assert consumer.position_of == {FRESH: 0, ZERO: 2, DONE: 12}


def test_a_rewind_of_some_partitions_leaves_the_others_where_they_are() -> None:
    consumer = FakeConsumer()
    starts = asyncio.run(seek_to_committed_or_beginning(consumer, FRESH))  # type: ignore[arg-type]
    assert starts == {FRESH: Start(None, 0)}
    assert consumer.position_of == {FRESH: 0, ZERO: 5, DONE: 40}


def test_the_commit_covers_a_run_of_processed_offsets_from_where_reading_started() -> None:
    assert processed_run([15, 16, 17], 15) == ([15, 16, 17], True)
    assert processed_run([17, 15, 16], 15) == ([15, 16, 17], True)


def test_a_missing_first_offset_stops_the_commit_instead_of_being_skipped() -> None:
    # faust committed 22 for acked 1..21 of a never-committed partition (offset 0 lost), and
    # passed over the record at the commit (16.. after a commit of 15).
    assert processed_run(range(1, 22), 0) == (list(range(1, 22)), False)
    assert processed_run([16, 17], 15) == ([16, 17], False)


def test_offsets_below_the_commit_are_done_already_and_an_unknown_start_commits_nothing() -> None:
    assert processed_run([3, 4, 15, 16], 15) == ([15, 16], True)
    assert processed_run([3, 4], 15) == ([], False)
    assert processed_run([0, 1], None) == ([0, 1], False)


def test_the_extractor_app_uses_the_rewinding_consumer() -> None:
    from services.extractor.app import create_app
    from services.extractor.settings import ExtractorSettings

    app = create_app(ExtractorSettings())
    consumer = app.consumer
    assert type(consumer).__module__ == "services.extractor.rewind"
    assert type(consumer._thread).seek_to_committed.__module__ == "services.extractor.rewind"  # type: ignore[attr-defined]


def _consumer() -> Any:
    from services.extractor.app import create_app
    from services.extractor.settings import ExtractorSettings

    return create_app(ExtractorSettings()).consumer


def test_the_worker_does_not_commit_past_the_unprocessed_first_record_of_a_partition() -> None:
    consumer, tp = _consumer(), TP("raw", 4)
    consumer._start_offset[tp] = 0  # never committed: reading started at offset 0
    consumer._acked[tp].extend(range(1, 22))  # offset 0 dropped, 1..21 processed
    assert consumer._new_offset(tp) is None  # faust's own: 22
    consumer._acked[tp].append(0)
    assert consumer._new_offset(tp) == 22


def test_the_worker_does_not_commit_past_an_unprocessed_record_at_its_commit() -> None:
    consumer, tp = _consumer(), TP("raw", 1)
    consumer._committed_offset[tp] = 15
    consumer._acked[tp].extend([16, 17])
    assert consumer._new_offset(tp) is None  # faust's own: 18


def test_a_jump_in_offsets_is_not_counted_as_processed() -> None:
    consumer, tp = _consumer(), TP("raw", 2)
    consumer._committed_offset[tp] = 10
    asyncio.run(consumer._add_gap(tp, 10, 19))  # records 10..19 dropped, 20 processed
    consumer._acked[tp].append(20)
    assert consumer._new_offset(tp) is None  # faust's own: 21
