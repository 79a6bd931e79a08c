"""Poison on the raw and report topics: dead-lettered by the extractor and the indexer, the
rest flows.

Each test runs the real services as processes against a private Kafka and Elasticsearch.
"""

from __future__ import annotations

import pytest

from devtools.supervisor import Stack
from schemas.deadletter import DeadLetter
from schemas.topics import TopicNames, index_alias
from services.common.kafka import make_producer
from tests.fault.conftest import PrivateRuntime
from tests.fault.helpers import articles, assert_exactly_once, produce
from tests.support import (
    consume_all,
)

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]


def test_poison_messages_go_to_the_dead_letter_topic_and_the_rest_flows(
    private_runtime: PrivateRuntime, private_topics: TopicNames, pipeline: Stack
) -> None:
    producer = make_producer(private_runtime.kafka_bootstrap, client_id="poison")
    poison = [
        b"not json",
        b"\xff\xfe\x00 invalid utf-8",
        b'{"schema_version": 1}',
        b"[]",
        b"{" * 10000,
    ]
    for topic in (private_topics.raw, private_topics.report):
        for i, value in enumerate(poison):
            producer.send(topic, key=f"poison-{i}".encode(), value=value)
    producer.flush(30)
    producer.close()
    good = articles(20, "after-poison")
    produce(private_runtime.kafka_bootstrap, private_topics.raw, good)

    assert_exactly_once(private_runtime.es_url, index_alias(private_topics.namespace), good)
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in consume_all(
            private_runtime.kafka_bootstrap, private_topics.deadletter, expect=2 * len(poison)
        )
    ]
    assert {letter.stage.value for letter in letters} == {"extract", "index"}
    assert len(letters) == 2 * len(poison)
    assert all(letter.reason and letter.original_topic for letter in letters)
    pipeline.check_alive()
