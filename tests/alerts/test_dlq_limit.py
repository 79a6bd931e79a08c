"""The dead-letter ratio cap of the alerts service (CWATCH_ALERTS_DLQ_MAX_RATIO): past it, the
matching and dispatch loops stop without committing; off (the default), every invalid record
is dead-lettered and the offsets are committed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from kafka.structs import TopicPartition

from services.alerts.app import AlertsService
from services.alerts.settings import AlertsSettings
from services.common.dlq import TooManyDeadLetters

INVALID = 150  # past DlqLimit.min_seen (100), so the ratio is judged


class _Future:
    def get(self, timeout: float | None = None) -> None:
        return None


class _Producer:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, topic: str, **kw: Any) -> _Future:
        self.sent.append(topic)
        return _Future()

    def flush(self, timeout: float | None = None) -> None:
        return None


class _Consumer:
    """Hands out `INVALID` records that are not JSON once, then nothing; records commits."""

    def __init__(self, topic: str, on_commit: Any = None) -> None:
        self.tp = TopicPartition(topic, 0)
        self.records = [
            SimpleNamespace(topic=topic, partition=0, offset=i, key=b"k", value=b"not json")
            for i in range(INVALID)
        ]
        self.commits = 0
        self.polls = 0
        self.on_commit = on_commit

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, Any]:
        self.polls += 1
        assert self.polls < 1000, "the loop went on reading"  # fails fast, not at the timeout
        taken, self.records = self.records, []
        return {self.tp: taken} if taken else {}

    def commit(self, offsets: Any = None, timeout_ms: int | None = None) -> None:
        self.commits += 1
        if self.on_commit:
            self.on_commit()

    def assignment(self) -> set[TopicPartition]:
        return {self.tp}

    def pause(self, *tps: TopicPartition) -> None:
        return None

    def resume(self, *tps: TopicPartition) -> None:
        return None

    def paused(self) -> set[TopicPartition]:
        return set()


@pytest.fixture
def make_service() -> Iterator[Any]:
    made: list[AlertsService] = []

    def make(max_ratio: float) -> tuple[AlertsService, _Producer]:
        producer = _Producer()
        service = AlertsService(
            AlertsSettings(namespace="t", alerts_dlq_max_ratio=max_ratio, alerts_batch_wait_ms=1),
            es=Elasticsearch("http://127.0.0.1:1"),
            producer=producer,  # type: ignore[arg-type]
        )
        service._last_digest_check = time.monotonic() + 3600  # no digest round (no store here)
        made.append(service)
        return service, producer

    yield make
    for service in made:
        service.delivery_log.close()
        service.dispatcher.close()


def test_matching_stops_uncommitted_when_invalid_events_pass_the_ratio(make_service: Any) -> None:
    service, producer = make_service(0.5)
    consumer = _Consumer(service.topics.indexed)
    with pytest.raises(TooManyDeadLetters, match="at most 50%"):
        service._match_loop(consumer)  # type: ignore[arg-type]
    assert consumer.commits == 0
    assert len(producer.sent) < INVALID  # stopped at the record that broke the limit


def test_dispatch_stops_uncommitted_when_invalid_alerts_pass_the_ratio(make_service: Any) -> None:
    service, producer = make_service(0.5)
    consumer = _Consumer(service.topics.alert)
    with pytest.raises(TooManyDeadLetters, match="at most 50%"):
        service._dispatch_loop(consumer)  # type: ignore[arg-type]
    assert consumer.commits == 0
    assert producer.sent == []  # raised before any record of the batch was taken on


def test_without_a_ratio_every_invalid_event_is_dead_lettered_and_committed(
    make_service: Any,
) -> None:
    service, producer = make_service(0.0)
    consumer = _Consumer(service.topics.indexed, on_commit=service.stopping.set)
    service._match_loop(consumer)  # type: ignore[arg-type]
    assert consumer.commits == 1
    assert producer.sent == [service.topics.deadletter] * INVALID
