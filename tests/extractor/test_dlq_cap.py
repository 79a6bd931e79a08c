"""The extraction stage's dead-letter cap (CWATCH_EXTRACTOR_DLQ_MAX_RATIO): counted per raw
message, off by default, and a stop that never commits the message that broke it."""

from __future__ import annotations

from typing import Any

import pytest
from faust.types import TP

from schemas.deadletter import DeadLetter, Stage
from services.common.dlq import TooManyDeadLetters
from services.extractor import metrics
from services.extractor.dlq_cap import RawDeadLetterCap
from services.extractor.handler import Outcome

FAILED = Outcome(dead_letter=DeadLetter.of(Stage.EXTRACT, "invalid raw article", b"x"))
EXTRACTED = Outcome()


def test_without_a_cap_every_failed_message_is_counted_and_none_stops_the_worker() -> None:
    cap = RawDeadLetterCap(None)
    for _ in range(2000):
        cap.check(FAILED)
    assert metrics.DEAD_LETTER_RATIO._value.get() == 1.0  # type: ignore[attr-defined]


def test_failures_among_good_messages_pass_and_a_flood_over_the_ratio_stops_the_worker() -> None:
    cap = RawDeadLetterCap(0.5)
    for i in range(200):  # one in four fails: bad input, dead-lettered as usual
        cap.check(FAILED if i % 4 == 0 else EXTRACTED)
    assert metrics.DEAD_LETTER_RATIO._value.get() == 0.25  # type: ignore[attr-defined]
    checked = 0
    with pytest.raises(TooManyDeadLetters, match="at most 50%"):
        for _ in range(400):  # then every message fails: a bug, not bad input
            cap.check(FAILED)
            checked += 1
    assert checked == 100  # 151 of 301 over half: the 101st failure in a row stops it
    assert metrics.DEAD_LETTER_RATIO._value.get() > 0.5  # type: ignore[attr-defined]


def test_the_cap_waits_for_a_hundred_messages_before_judging_the_ratio() -> None:
    cap = RawDeadLetterCap(0.5)
    for _ in range(99):
        cap.check(FAILED)
    with pytest.raises(TooManyDeadLetters):
        cap.check(FAILED)


def test_a_held_partition_is_not_committed_past_the_message_that_stopped_the_worker() -> None:
    from services.extractor.app import create_app
    from services.extractor.settings import ExtractorSettings

    app = create_app(ExtractorSettings())
    consumer: Any = app.consumer
    tp, other = TP("raw", 2), TP("raw", 3)
    for partition in (tp, other):
        consumer._committed_offset[partition] = 10
        consumer._acked[partition].extend(range(10, 20))  # processed 10..19
    app.hold("raw", 2, 14)  # the message at 14 broke the cap (acknowledged on the way down)
    assert consumer._new_offset(tp) == 14  # faust's own: 20
    assert consumer._new_offset(other) == 20  # other partitions commit what they processed
