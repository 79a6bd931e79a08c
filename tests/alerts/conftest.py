"""Local fixtures: a report index in the test namespace, filled through the indexer's own code."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from schemas.indexed import IndexedEvent
from schemas.report import Report
from schemas.topics import index_alias
from services.alerts.settings import AlertsSettings
from services.indexer.documents import index_for, to_document
from services.indexer.mapping import index_template, template_name


def put_reports(es, alias: str, reports: Sequence[Report]) -> None:  # type: ignore[no-untyped-def]
    ops = []
    for report in reports:
        ops.append({"index": {"_index": index_for(report, alias), "_id": report.report_id}})
        ops.append(to_document(report, datetime.now(UTC)))
    resp = es.bulk(operations=ops, refresh=True)
    assert not resp["errors"], resp["items"][:2]


@pytest.fixture
def report_alias(es_client, namespace: str) -> str:  # type: ignore[no-untyped-def]
    alias = index_alias(namespace)
    es_client.indices.put_index_template(name=template_name(alias), **index_template(alias))
    return alias


@pytest.fixture
def index_reports(es_client, report_alias: str) -> Callable[[Sequence[Report]], None]:  # type: ignore[no-untyped-def]
    return lambda reports: put_reports(es_client, report_alias, reports)


# ---- services, servers and receivers ------------------------------------------------------------


@pytest.fixture
def alerts_settings(namespace: str, kafka_bootstrap: str, es_url: str) -> AlertsSettings:
    return AlertsSettings(
        namespace=namespace,
        kafka_bootstrap_servers=kafka_bootstrap,
        elasticsearch_url=es_url,
        alerts_group_id=f"{namespace}-alerts",
        alerts_allow_loopback=True,
        alerts_webhook_backoff_s=0.05,
        alerts_webhook_backoff_max_s=0.2,
        alerts_webhook_max_attempts=3,
        alerts_subscription_refresh_s=0.2,
        alerts_batch_wait_ms=100,
    )


def indexed_event(report: Report, alias: str) -> IndexedEvent:
    now = datetime.now(UTC)
    return IndexedEvent(
        report_id=report.report_id,
        story_id=report.story_id,
        index=index_for(report, alias),
        headline=report.headline,
        source_name=report.source.name,
        language=report.language,
        relevant=report.relevant,
        published=report.published,
        ingested_at=report.ingested_at,
        indexed_at=now,
    )


def produce(bootstrap: str, topic: str, values: Sequence[bytes], key: bytes | None = None) -> None:
    from services.common.kafka import make_producer

    producer = make_producer(bootstrap, client_id="test")
    try:
        for value in values:
            producer.send(topic, key=key, value=value)
        producer.flush(30)
    finally:
        producer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Run an ASGI app with uvicorn on loopback in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:  # type: ignore[type-arg]
    event, data = "message", ""
    for line in lines:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif line == "" and data:
            yield event, json.loads(data)
            event, data = "message", ""


def read_topic(bootstrap: str, topic: str, expect: int = 1, timeout_s: float = 30.0) -> list:  # type: ignore[type-arg]
    """Records of `topic` from the beginning (no group): until `expect` arrived or the timeout."""
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout_s
        parts: set[int] = set()
        while not parts and time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list = []  # type: ignore[type-arg]
        while len(records) < expect and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()
