"""The indexer loop with in-memory stand-ins for Kafka and Elasticsearch (no network)."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from kafka.errors import KafkaConnectionError
from kafka.structs import TopicPartition

from schemas.deadletter import DeadLetter
from services.indexer import app as indexer_app
from services.indexer.app import Indexer
from services.indexer.settings import IndexerSettings
from tests.indexer.reportgen import make_report

Record = namedtuple("Record", "topic partition offset key value")
SETTINGS = IndexerSettings(
    namespace="unit",
    indexer_batch_max_wait_ms=0,
    indexer_retry_base_s=0.001,
    indexer_retry_cap_s=0.002,
)
TOPIC = SETTINGS.topics.report
TP = TopicPartition(TOPIC, 0)


class FakeConsumer:
    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.commits: list[dict[TopicPartition, int]] = []
        self._paused: set[TopicPartition] = set()
        self.position_at = 0
        self.commit_failures = 0
        self.poll_failures = 0

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, list[Record]]:
        if self.poll_failures:
            self.poll_failures -= 1
            raise KafkaConnectionError("no coordinator: 111 ECONNREFUSED")
        if TP in self._paused or self.position_at >= len(self.records):
            return {}
        batch = self.records[self.position_at : self.position_at + (max_records or 500)]
        self.position_at += len(batch)
        return {TP: batch}

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def pause(self, *tps: TopicPartition) -> None:
        self._paused |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused -= set(tps)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position_at = offset

    def commit(self, offsets: dict[TopicPartition, Any], timeout_ms: int | None = None) -> None:
        if self.commit_failures:
            self.commit_failures -= 1
            raise KafkaConnectionError("111 ECONNREFUSED")
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})

    def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self.records) for tp in tps}

    def position(self, tp: TopicPartition) -> int:
        return self.position_at

    def close(self, autocommit: bool = False) -> None:
        pass


class Sent:
    def get(self, timeout: float | None = None) -> None:
        return None


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"", **kw: Any) -> Sent:
        self.sent.append((topic, value))
        return Sent()

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass

    def on(self, topic: str) -> list[bytes]:
        return [v for t, v in self.sent if t == topic]


class FakeIndices:
    def __init__(self) -> None:
        self.refreshed: list[str] = []

    def refresh(self, index: str) -> None:
        self.refreshed.append(index)


class FakeES:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.bulks: list[str] = []
        self.searches: list[dict[str, Any]] = []
        self.indices = FakeIndices()

    def bulk(self, operations: str, **kw: Any) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            raise TransportConnectionError("connection refused")
        self.bulks.append(operations)
        lines = operations.strip().splitlines()
        return {"items": [{"index": {"status": 201}} for _ in lines[::2]]}

    def search(self, **kw: Any) -> dict[str, Any]:
        """The look-up of story merges after each bulk (storyroots.py): none here."""
        self.searches.append(kw["body"])
        return {"hits": {"hits": []}}


def _records(n: int, extra: list[bytes] | None = None) -> list[Record]:
    values = [make_report(i).model_dump_json().encode() for i in range(n)] + (extra or [])
    return [Record(TOPIC, 0, i, b"k", v) for i, v in enumerate(values)]


def _indexer(records: list[Record], es: FakeES) -> tuple[Indexer, FakeConsumer, FakeProducer]:
    consumer, producer = FakeConsumer(records), FakeProducer()
    indexer = Indexer(SETTINGS, es=es, consumer=consumer, producer=producer)  # type: ignore[arg-type]
    return indexer, consumer, producer


def _drain(indexer: Indexer, steps: int = 20) -> None:
    for _ in range(steps):
        indexer.step()
    indexer._collect(wait=True)


def test_offsets_are_committed_after_the_batch_is_indexed_refreshed_and_announced() -> None:
    es = FakeES()
    indexer, consumer, producer = _indexer(_records(5), es)
    _drain(indexer)
    assert len(es.bulks) == 1 and es.indices.refreshed
    assert len(producer.on(SETTINGS.topics.indexed)) == 5
    assert consumer.commits == [{TP: 5}]
    indexer._sender.shutdown()


def test_elasticsearch_outage_pauses_the_partitions_and_retries_the_same_batch() -> None:
    es = FakeES(failures=3)
    indexer, consumer, producer = _indexer(_records(4), es)
    indexer.step()
    indexer._collect(wait=True)
    assert consumer.paused() == {TP} and consumer.commits == []
    _drain(indexer)
    assert consumer.paused() == set()
    assert consumer.commits == [{TP: 4}]
    assert len(producer.on(SETTINGS.topics.indexed)) == 4  # announced once, after success
    indexer._sender.shutdown()


def test_invalid_messages_are_dead_lettered_and_their_offsets_committed() -> None:
    es = FakeES()
    indexer, consumer, producer = _indexer(_records(2, extra=[b"{broken", b"[]"]), es)
    _drain(indexer)
    letters = [DeadLetter.model_validate_json(v) for v in producer.on(SETTINGS.topics.deadletter)]
    assert [d.original_offset for d in letters] == [2, 3]
    assert consumer.commits[-1] == {TP: 4}
    indexer._sender.shutdown()


def test_a_commit_the_broker_cannot_take_is_kept_and_made_later_not_a_crash(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(indexer_app, "COMMIT_RETRY_S", 0.0)
    es = FakeES()
    indexer, consumer, producer = _indexer(_records(5), es)
    consumer.commit_failures = 2  # the broker is away when the batch is acknowledged
    _drain(indexer, steps=1)
    assert consumer.commits == [] and indexer._owed == {TP: 5}
    _drain(indexer, steps=3)
    assert consumer.commits == [{TP: 5}] and indexer._owed == {}
    assert len(es.bulks) == 1  # indexed once, however long the commit waited
    indexer._sender.shutdown()


def test_a_poll_while_the_broker_is_away_is_a_pause_not_a_crash(monkeypatch: Any) -> None:
    from services.common import kafka as common_kafka

    monkeypatch.setattr(common_kafka, "BROKER_AWAY_PAUSE_S", 0.0)
    es = FakeES()
    indexer, consumer, producer = _indexer(_records(3), es)
    consumer.poll_failures = 3
    _drain(indexer, steps=6)
    assert consumer.commits == [{TP: 3}]
    assert len(producer.on(SETTINGS.topics.indexed)) == 3
    indexer._sender.shutdown()


def test_an_elasticsearch_away_or_too_slow_at_start_is_waited_for_not_a_crash(
    monkeypatch: Any,
) -> None:
    from elastic_transport import ConnectionTimeout

    calls: list[int] = []
    indexer, consumer, _ = _indexer(_records(3), FakeES())

    def ensure_ready(es: Any, settings: Any) -> None:
        calls.append(1)
        if len(calls) <= 3:  # ES slower than the client's request timeout, then up
            raise ConnectionTimeout("Connection timed out")
        indexer.stopping.set()  # up at last: run() goes on to its loop, which ends at once

    monkeypatch.setattr(indexer_app, "ensure_ready", ensure_ready)
    indexer.run()  # used to raise the first ConnectionTimeout: the indexer process ended
    assert len(calls) == 4


def test_a_refusal_waiting_cannot_cure_still_stops_the_indexer_at_start(monkeypatch: Any) -> None:
    from services.indexer.migrate import MigrationNeeded

    def ensure_ready(es: Any, settings: Any) -> None:
        raise MigrationNeeded("run `cwatch indexer migrate` first")

    monkeypatch.setattr(indexer_app, "ensure_ready", ensure_ready)
    indexer, _, _ = _indexer(_records(3), FakeES())
    try:
        indexer.run()
    except MigrationNeeded:
        pass
    else:
        raise AssertionError("MigrationNeeded was swallowed")
    indexer._sender.shutdown()


def test_the_wait_for_a_new_index_is_not_cut_short_by_the_clients_request_timeout() -> None:
    from services.indexer.migrate import ensure_current_index

    class Cluster:
        def __init__(self, options: dict[str, Any]) -> None:
            self.options = options

        def health(self, **kw: Any) -> dict[str, Any]:
            asked.append((self.options, kw))
            return {"timed_out": False}

    class Indices:
        def exists(self, index: str) -> bool:
            return True

    class ES:
        indices = Indices()

        def options(self, **kw: Any) -> Any:
            client = ES()
            client.cluster = Cluster(kw)  # type: ignore[attr-defined]
            return client

    asked: list[tuple[dict[str, Any], dict[str, Any]]] = []
    ensure_current_index(ES(), "unit-cwatch-reports")  # type: ignore[arg-type]
    ((options, kw),) = asked
    server_wait_s = int(kw["timeout"].removesuffix("s"))
    # Without its own request timeout, the call got the client's (3 s in a test, 30 s by
    # default) and a busy cluster turned the wait into a ConnectionTimeout.
    assert options.get("request_timeout", 0) > server_wait_s


class StaleES(FakeES):
    """Every second document is older than the version Elasticsearch has (409)."""

    def bulk(self, operations: str, **kw: Any) -> dict[str, Any]:
        self.bulks.append(operations)
        lines = operations.strip().splitlines()
        return {
            "items": [{"index": {"status": 409 if i % 2 else 201}} for i in range(len(lines) // 2)]
        }


def test_a_late_copy_of_an_older_version_is_committed_but_not_announced() -> None:
    """Statement history: nothing changed in the index, so nothing is announced to the live
    feed and the alerts (which would only see the newer version again)."""
    es = StaleES()
    indexer, consumer, producer = _indexer(_records(4), es)
    _drain(indexer)
    assert consumer.commits == [{TP: 4}]
    assert len(producer.on(SETTINGS.topics.indexed)) == 2
    indexer._sender.shutdown()
