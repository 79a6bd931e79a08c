from __future__ import annotations

from typing import Any

import pytest

from schemas.deadletter import DeadLetter, Stage
from services.common.dlq import DeadLetterSink, DlqLimit, TooManyDeadLetters


class _Acked:
    def get(self, timeout: float) -> None:
        return None


class _Producer:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, topic: str, **kwargs: Any) -> _Acked:
        self.sent.append(kwargs)
        return _Acked()


def _letter() -> DeadLetter:
    return DeadLetter.of(Stage.INDEX, "bad", b"x", error_type="bad")


def test_without_a_limit_every_failure_is_dead_lettered() -> None:
    producer = _Producer()
    sink = DeadLetterSink(producer, "dlq")  # type: ignore[arg-type]
    for _ in range(500):
        sink.seen()
        sink.send(_letter())
    assert len(producer.sent) == 500


def test_a_flood_of_dead_letters_over_the_ratio_stops_the_stage() -> None:
    producer = _Producer()
    sink = DeadLetterSink(producer, "dlq", DlqLimit(max_ratio=0.1, min_seen=100))  # type: ignore[arg-type]
    for i in range(100):  # a few bad records among good ones: dead-lettered as usual
        sink.seen()
        if i % 20 == 0:
            sink.send(_letter())
        else:
            sink.ok()
    assert len(producer.sent) == 5
    with pytest.raises(TooManyDeadLetters, match="at most 10%"):
        for _ in range(100):  # then every record fails: a bug, not bad input
            sink.seen()
            sink.send(_letter())
    assert len(producer.sent) < 15


def test_too_many_dead_letters_in_a_row_stops_the_stage() -> None:
    sink = DeadLetterSink(_Producer(), "dlq", DlqLimit(max_consecutive=3))  # type: ignore[arg-type]
    for _ in range(3):
        sink.send(_letter())
    sink.ok()
    for _ in range(3):
        sink.send(_letter())
    with pytest.raises(TooManyDeadLetters, match="4 dead letters in a row"):
        sink.send(_letter())
