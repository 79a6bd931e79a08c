"""When the watchdog names a raw partition stalled (services/extractor/stall.py)."""

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
