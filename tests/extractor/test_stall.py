"""When the watchdog names a partition stalled (services/extractor/stall.py)."""

from __future__ import annotations

from services.extractor.stall import PartitionProgress, StallWatch

BEHIND = PartitionProgress(committed=15, read=15, start=0, end=40)
DONE = PartitionProgress(committed=40, read=39, start=0, end=40)


def test_a_partition_behind_and_unmoved_while_idle_is_named_after_the_wait() -> None:
    watch = StallWatch(after_s=20)
    assert watch.stalled(0, {0: BEHIND, 3: DONE}, idle=True) == []
    assert watch.stalled(10, {0: BEHIND, 3: DONE}, idle=True) == []
    assert watch.stalled(20, {0: BEHIND, 3: DONE}, idle=True) == [0]
    # named again only after another full wait
    assert watch.stalled(25, {0: BEHIND}, idle=True) == []
    assert watch.stalled(40, {0: BEHIND}, idle=True) == [0]


def test_progress_a_busy_worker_or_a_caught_up_partition_starts_the_wait_again() -> None:
    watch = StallWatch(after_s=20)
    watch.stalled(0, {0: BEHIND}, idle=True)
    moved = PartitionProgress(committed=15, read=22, start=0, end=40)
    assert watch.stalled(15, {0: moved}, idle=True) == []
    assert watch.stalled(30, {0: moved}, idle=True) == []  # 15 s since it moved
    assert watch.stalled(34, {0: moved}, idle=False) == []  # the agent has work queued
    assert watch.stalled(50, {0: moved}, idle=True) == []
    assert watch.stalled(70, {0: moved}, idle=True) == [0]
    assert watch.stalled(71, {0: DONE}, idle=True) == []
    assert watch.stalled(200, {0: DONE}, idle=True) == []


def test_a_never_committed_partition_is_behind_when_it_holds_any_record() -> None:
    assert PartitionProgress(committed=None, read=None, start=0, end=3).behind
    assert not PartitionProgress(committed=None, read=None, start=5, end=5).behind
    assert PartitionProgress(committed=0, read=None, start=0, end=1).behind


def test_a_partition_no_longer_held_is_forgotten() -> None:
    watch = StallWatch(after_s=20)
    watch.stalled(0, {0: BEHIND}, idle=True)
    assert watch.stalled(10, {}, idle=True) == []
    assert watch.stalled(25, {0: BEHIND}, idle=True) == []  # its wait started again at 25
    assert watch.stalled(45, {0: BEHIND}, idle=True) == [0]


def test_the_watchdog_rewinds_through_the_consumer_and_puts_the_partitions_back() -> None:
    import asyncio
    from typing import Any

    from faust.types import TP

    from services.extractor.rewind import Start
    from services.extractor.watchdog import StallWatchdog

    class Consumer:
        def __init__(self) -> None:
            self._buffered_partitions = {TP("raw", 0)}
            self.resumed: set[Any] = set()
            self.rewound: tuple[Any, ...] = ()

        async def rewind(self, *tps: TP) -> dict[TP, Start]:
            self.rewound = tps
            return {tp: Start(15, 15) for tp in tps}

        def resume_partitions(self, tps: Any) -> None:
            self.resumed |= set(tps)

    class App:
        consumer = Consumer()

    app = App()
    watchdog = StallWatchdog(app, "raw", after_s=20)
    asyncio.run(watchdog.rewind([0], {0: {}}, {0: BEHIND}))
    assert app.consumer.rewound == (TP("raw", 0),)
    assert app.consumer.resumed == {TP("raw", 0)}
    assert app.consumer._buffered_partitions == set()


def test_a_rewind_resets_where_faust_reads_and_commits_from() -> None:
    import asyncio

    from aiokafka import TopicPartition
    from faust.types import TP

    from services.extractor.app import create_app
    from services.extractor.rewind import Start
    from services.extractor.settings import ExtractorSettings

    consumer = create_app(ExtractorSettings()).consumer
    tp = TP("raw", 2)

    async def seek_to_start(*tps: TP) -> dict[TopicPartition, Start]:
        assert tps == (tp,)
        return {TopicPartition("raw", 2): Start(None, 3)}

    consumer._thread.seek_to_start = seek_to_start  # type: ignore[attr-defined]
    consumer._read_offset[tp] = 40  # faust believes 40 was read: 3..39 would be dropped
    consumer._acked[tp].extend([38, 39])
    asyncio.run(consumer.rewind(tp))  # type: ignore[attr-defined]
    assert consumer._read_offset[tp] == 3
    assert consumer._start_offset[tp] == 3  # type: ignore[attr-defined]
    assert not consumer._acked[tp]


def test_without_read_tracking_only_a_moving_commit_counts_as_progress() -> None:
    """The story topic: ticks are read every second, so a record faust dropped shows only as a
    commit stuck below it while reading goes on."""
    watch = StallWatch(after_s=20, track_read=False)
    for now, read in ((0, 16), (10, 25), (19, 33)):
        reading = PartitionProgress(committed=15, read=read, start=0, end=read + 1)
        assert watch.stalled(now, {0: reading}, idle=True) == []
    reading = PartitionProgress(committed=15, read=40, start=0, end=41)
    assert watch.stalled(20, {0: reading}, idle=True) == [0]
    committing = PartitionProgress(committed=41, read=45, start=0, end=46)
    assert watch.stalled(21, {0: committing}, idle=True) == []
    assert watch.stalled(40, {0: committing}, idle=True) == []  # 19 s since it moved
