"""Proof that Kafka and Elasticsearch are the real things, driven by the clients the services use."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer

from schemas.topics import TopicNames
from services.common.kafka import make_consumer, make_producer
from tests.support import consume_all

pytestmark = pytest.mark.integration


def test_keyed_messages_survive_idempotent_produce_and_manual_commit(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    producer = make_producer(kafka_bootstrap, client_id="proof")
    keys = [f"article-{i}" for i in range(30)]
    for key in keys:
        producer.send(topics.raw, key=key.encode(), value=f"body of {key}".encode())
    producer.flush(timeout=30)
    producer.close()

    group = f"proof-{uuid.uuid4().hex[:6]}"
    consumer = make_consumer(kafka_bootstrap, group, [topics.raw])
    seen: dict[str, str] = {}
    for _ in range(40):
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                seen[record.key.decode()] = record.value.decode()
        if len(seen) == len(keys):
            break
    consumer.commit()
    consumer.close()
    assert seen == {key: f"body of {key}" for key in keys}

    # The same group resumes after its committed offsets: nothing is delivered twice.
    again = make_consumer(kafka_bootstrap, group, [topics.raw], consumer_timeout_ms=3000)
    assert list(again) == []
    again.close()


def test_a_partition_key_always_lands_in_the_same_partition(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    producer = make_producer(kafka_bootstrap, client_id="proof")
    partitions = {
        producer.send(topics.raw, key=b"same-key", value=b"x").get(30).partition for _ in range(10)
    }
    producer.close()
    assert len(partitions) == 1


def test_a_faust_agent_consumes_and_produces_on_the_real_broker(
    kafka_bootstrap: str, topics: TopicNames, namespace: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ECHO_APP_ID": f"{namespace}-echo",
        "ECHO_SRC": topics.raw,
        "ECHO_DST": topics.report,
        "ECHO_DATADIR": str(tmp_path / "faust"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
    }
    worker = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("faust_echo.py")), "worker", "-l", "warn"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        producer = make_producer(kafka_bootstrap, client_id="proof")
        for i in range(5):
            producer.send(topics.raw, key=f"k{i}".encode(), value=f"hello {i}".encode())
        producer.flush(30)
        producer.close()
        records = consume_all(kafka_bootstrap, topics.report, expect=5, timeout_s=90)
    finally:
        worker.terminate()
        try:
            output = worker.communicate(timeout=30)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            worker.kill()
            output = worker.communicate()[0].decode(errors="replace")
    assert sorted((r.key, r.value) for r in records) == [
        (f"k{i}".encode(), f"HELLO {i}".encode()) for i in range(5)
    ], output[-3000:]


def test_documents_are_found_by_full_text_search(es_client: Elasticsearch, namespace: str) -> None:
    index = f"{namespace}-proof"
    es_client.indices.create(
        index=index,
        mappings={"properties": {"headline": {"type": "text"}, "lang": {"type": "keyword"}}},
        settings={"number_of_replicas": 0, "refresh_interval": "1s"},
    )
    docs = {
        "a": ("Ceasefire holds along the Lachin corridor", "en"),
        "b": ("Пашинян и Алиев встретились в Брюсселе", "ru"),
        "c": ("Weather in Yerevan", "en"),
    }
    for doc_id, (headline, lang) in docs.items():
        es_client.index(index=index, id=doc_id, document={"headline": headline, "lang": lang})
    es_client.indices.refresh(index=index)

    hits = es_client.search(index=index, query={"match": {"headline": "lachin ceasefire"}})["hits"][
        "hits"
    ]
    assert [hit["_id"] for hit in hits] == ["a"]
    cyrillic = es_client.search(index=index, query={"match": {"headline": "пашинян"}})["hits"][
        "hits"
    ]
    assert [hit["_id"] for hit in cyrillic] == ["b"]


def test_the_elasticsearch_build_is_the_stripped_integ_test_zip_or_a_full_one(
    es_client: Elasticsearch,
) -> None:
    modules = {
        module["name"]
        for node in es_client.nodes.info(filter_path="nodes.*.modules.name")["nodes"].values()
        for module in node["modules"]
    }
    # What the product relies on must exist everywhere; everything else is optional.
    assert "transport-netty4" in modules


def test_the_consumer_sees_nothing_on_a_fresh_empty_topic(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    consumer = KafkaConsumer(
        topics.alert,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1500,
    )
    assert list(consumer) == []
    consumer.close()
