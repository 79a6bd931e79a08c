"""The Kafka broker stopped and started again mid-stream: nothing lost or doubled.

Each test runs the real services as processes against a private Kafka and Elasticsearch.
"""

from __future__ import annotations

import time

import pytest

from devtools.supervisor import Stack, wait_until
from schemas.topics import TopicNames, index_alias
from tests.fault.conftest import PrivateRuntime
from tests.fault.helpers import articles, assert_exactly_once, count, produce

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]


def test_kafka_broker_restart_mid_stream_loses_nothing(
    private_runtime: PrivateRuntime, private_topics: TopicNames, pipeline: Stack
) -> None:
    alias = index_alias(private_topics.namespace)
    first, second = articles(80, "before"), articles(80, "after")
    produce(private_runtime.kafka_bootstrap, private_topics.raw, first)
    wait_until(lambda: count(private_runtime.es_url, alias) >= 20, 180)
    private_runtime.stop_kafka()
    time.sleep(5)
    private_runtime.up()
    produce(private_runtime.kafka_bootstrap, private_topics.raw, second)
    assert_exactly_once(
        private_runtime.es_url,
        alias,
        first + second,
        runtime=private_runtime,
        topics=private_topics,
    )
    pipeline.check_alive()
