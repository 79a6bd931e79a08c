"""Fixtures for indexer tests against the real Kafka and Elasticsearch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from schemas.report import Report
from schemas.topics import TopicNames
from services.indexer.settings import IndexerSettings


@pytest.fixture
def indexer_settings(namespace: str, kafka_bootstrap: str, es_url: str) -> IndexerSettings:
    return IndexerSettings(
        namespace=namespace,
        kafka_bootstrap_servers=kafka_bootstrap,
        elasticsearch_url=es_url,
        indexer_group_id=f"{namespace}-indexer",
        indexer_retry_base_s=0.1,
        indexer_retry_cap_s=1.0,
        metrics_port=0,
        log_json=False,
    )


@pytest.fixture
def produce(kafka_bootstrap: str, topics: TopicNames) -> Iterator[Callable[..., None]]:
    from services.common.kafka import make_producer

    producer = make_producer(kafka_bootstrap, client_id="test-producer")

    def send(reports: Sequence[Report | bytes]) -> None:
        for item in reports:
            if isinstance(item, Report):
                producer.send(
                    topics.report,
                    key=item.report_id.encode(),
                    value=item.model_dump_json().encode(),
                )
            else:
                producer.send(topics.report, key=b"junk", value=item)
        producer.flush(timeout=30)

    yield send
    producer.close()


@contextmanager
def running(settings: IndexerSettings, **kw: Any) -> Iterator[Any]:
    """An Indexer in a thread of the test process; stopped (gracefully) on exit."""
    from services.indexer.app import Indexer

    indexer = Indexer(settings, **kw)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            indexer.run()
        except BaseException as exc:  # surfaced to the test below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield indexer
    finally:
        indexer.stopping.set()
        thread.join(timeout=30)
        for exc in errors:  # shown when the test failed first: it may have waited for a dead one
            print(f"the indexer thread ended with {type(exc).__name__}: {exc}")
    if errors:
        raise errors[0]


def committed_lag(settings: IndexerSettings) -> int:
    """Messages of the report topic the group has not committed yet."""
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    # Same group id, but never subscribes: it only reads the group's committed offsets.
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.indexer_group_id,
        enable_auto_commit=False,
    )
    try:
        parts = consumer.partitions_for_topic(settings.topics.report) or set()
        tps = [TopicPartition(settings.topics.report, p) for p in parts]
        ends = consumer.end_offsets(tps)
        return sum(ends[tp] - (consumer.committed(tp) or 0) for tp in tps)
    finally:
        consumer.close()


def count_docs(es: Any, alias: str) -> int:
    """Documents behind `alias`, 0 while it is missing or its new index has no shard ready yet
    (the indexer creates it as the first batch comes: a count then answers 503,
    search_phase_execution_exception, which failed a fresh-clone run); callers poll."""
    quiet = es.options(ignore_status=(404, 503))
    quiet.indices.refresh(index=alias)
    return int(quiet.count(index=alias).get("count", 0))
