"""Budgets per message in the indexer: dead letters that fit, a dead-letter outage that is not
an Elasticsearch outage, bulks bounded in bytes, and dates that cannot create absurd indices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from schemas.deadletter import DeadLetter
from services.common.kafka import MAX_MESSAGE_BYTES
from services.indexer import metrics
from services.indexer.app import Indexer
from services.indexer.documents import index_for
from services.indexer.mapping import MAPPING_VERSION
from services.indexer.settings import IndexerSettings
from tests.indexer.reportgen import NOW, make_report
from tests.indexer.test_app_unit import (
    SETTINGS,
    TOPIC,
    TP,
    FakeConsumer,
    FakeES,
    FakeProducer,
    Record,
    Sent,
    _drain,
)

DLQ = SETTINGS.topics.deadletter


class LimitedProducer(FakeProducer):
    """Refuses what kafka-python refuses: a value over the message limit; and, while
    `dlq_down`, every dead letter (the broker does not answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.dlq_down = 0

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"", **kw: Any) -> Sent:
        if len(value) > MAX_MESSAGE_BYTES:
            raise MessageSizeTooLargeError(f"{len(value)} bytes")
        if topic == DLQ and self.dlq_down:
            self.dlq_down -= 1
            raise KafkaTimeoutError("dead-letter topic: no answer")
        return super().send(topic, key, value, **kw)


class RejectingES(FakeES):
    """Every item a mapping error (400), as for a report Elasticsearch cannot parse."""

    def bulk(self, operations: str, **kw: Any) -> dict[str, Any]:
        self.bulks.append(operations)
        lines = operations.strip().splitlines()
        error = {"type": "mapper_parsing_exception", "reason": "failed to parse"}
        return {"items": [{"index": {"status": 400, "error": error}} for _ in lines[::2]]}


def _indexer(
    records: list[Record], es: FakeES, settings: IndexerSettings = SETTINGS
) -> tuple[Indexer, FakeConsumer, LimitedProducer]:
    consumer, producer = FakeConsumer(records), LimitedProducer()
    indexer = Indexer(settings, es=es, consumer=consumer, producer=producer)  # type: ignore[arg-type]
    return indexer, consumer, producer


def test_a_rejected_report_too_big_for_a_dead_letter_is_cut_sent_and_committed() -> None:
    big = make_report(1, body="Shelling near Lachin. " * 300_000)  # ~6.6 MB
    value = big.model_dump_json().encode()
    indexer, consumer, producer = _indexer([Record(TOPIC, 0, 0, b"k", value)], RejectingES())
    _drain(indexer, steps=3)
    (letter,) = [DeadLetter.model_validate_json(v) for v in producer.on(DLQ)]
    assert letter.payload_truncated and letter.payload_size == len(value)
    assert (letter.original_topic, letter.original_offset) == (TOPIC, 0)
    assert consumer.commits == [{TP: 1}] and consumer.paused() == set()
    indexer._sender.shutdown()


def test_a_dead_letter_topic_outage_is_not_an_elasticsearch_outage() -> None:
    indexer, consumer, producer = _indexer(
        [Record(TOPIC, 0, 0, b"k", make_report(1).model_dump_json().encode())], RejectingES()
    )
    producer.dlq_down = 2
    metrics.ES_AVAILABLE.set(1)
    indexer.step()
    indexer._collect(wait=True)
    assert consumer.commits == [] and consumer.paused() == {TP}  # held, not committed
    assert metrics.ES_AVAILABLE._value.get() == 1  # Elasticsearch answered every time
    _drain(indexer, steps=10)
    assert len(producer.on(DLQ)) == 1
    assert consumer.commits == [{TP: 1}] and consumer.paused() == set()
    indexer._sender.shutdown()


def test_one_poll_never_makes_a_bulk_over_its_byte_budget() -> None:
    settings = SETTINGS.model_copy(
        update={"indexer_batch_max_bytes": 20_000, "indexer_batch_max_docs": 1000}
    )
    records = [
        Record(TOPIC, 0, i, b"k", make_report(i, body="Talks. " * 1000).model_dump_json().encode())
        for i in range(30)
    ]
    es = FakeES()
    indexer, consumer, producer = _indexer(records, es, settings)
    _drain(indexer, steps=40)
    assert len(es.bulks) > 1
    biggest = max(len(r.value) for r in records)
    assert all(len(body) <= 20_000 + 2 * biggest for body in es.bulks)
    assert len(producer.on(settings.topics.indexed)) == 30
    assert consumer.commits[-1] == {TP: 30}
    indexer._sender.shutdown()


def test_a_report_dated_year_one_is_filed_under_its_ingest_month() -> None:
    ancient = make_report(0, published=datetime(1, 1, 1, tzinfo=UTC), ingested_at=NOW)
    assert index_for(ancient, "cw") == f"cw-v{MAPPING_VERSION}-{NOW:%Y.%m}"


def test_an_ingest_time_from_a_wrong_clock_cannot_create_a_future_month() -> None:
    report = make_report(0, published=None, ingested_at=datetime(2999, 1, 1, tzinfo=UTC))
    year = int(index_for(report, "cw").rsplit("-", 1)[1][:4])
    assert year <= datetime.now(UTC).year + 1


def test_an_invalid_record_whose_dead_letter_fails_is_read_again_not_a_crash(
    monkeypatch: Any,
) -> None:
    from services.indexer import app as indexer_app

    monkeypatch.setattr(indexer_app, "COMMIT_RETRY_S", 0.0)
    records = [Record(TOPIC, 0, 0, b"k", make_report(0).model_dump_json().encode())]
    records.append(Record(TOPIC, 0, 1, b"k", b"{broken"))
    indexer, consumer, producer = _indexer(records, FakeES())
    producer.dlq_down = 1
    _drain(indexer, steps=10)
    (letter,) = [DeadLetter.model_validate_json(v) for v in producer.on(DLQ)]
    assert letter.original_offset == 1
    assert len(producer.on(SETTINGS.topics.indexed)) == 1
    assert consumer.commits[-1] == {TP: 2}
    indexer._sender.shutdown()
