"""When a worker whose table recovery has stopped reading gives up (recovery_guard.py)."""

from __future__ import annotations

from services.extractor.recovery_guard import RecoveryWatch


def test_recovery_with_records_left_and_none_read_for_the_wait_is_stuck() -> None:
    watch = RecoveryWatch(after_s=60)
    assert not watch.stuck(0, in_recovery=True, remaining=120)
    assert not watch.stuck(59, in_recovery=True, remaining=120)
    assert watch.stuck(60, in_recovery=True, remaining=120)


def test_recovery_that_reads_or_ends_is_not_stuck() -> None:
    watch = RecoveryWatch(after_s=60)
    watch.stuck(0, in_recovery=True, remaining=120)
    assert not watch.stuck(50, in_recovery=True, remaining=80)  # progress: the wait restarts
    assert not watch.stuck(100, in_recovery=True, remaining=80)
    assert watch.stuck(110, in_recovery=True, remaining=80)
    assert not watch.stuck(500, in_recovery=False, remaining=0)  # done
    assert not watch.stuck(600, in_recovery=True, remaining=0)  # nothing left to read
    assert not watch.stuck(1000, in_recovery=True, remaining=5)  # a new wait begins
