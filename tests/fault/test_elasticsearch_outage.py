"""Elasticsearch killed and started again while reports flow: nothing lost or doubled.

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


def test_elasticsearch_down_and_back_loses_nothing(
    private_runtime: PrivateRuntime, private_topics: TopicNames, pipeline: Stack
) -> None:
    alias = index_alias(private_topics.namespace)
    first, during = articles(60, "up"), articles(60, "down")
    produce(private_runtime.kafka_bootstrap, private_topics.raw, first)
    wait_until(lambda: count(private_runtime.es_url, alias) >= 60, 180)
    private_runtime.stop_elasticsearch(hard=True)
    produce(private_runtime.kafka_bootstrap, private_topics.raw, during)
    time.sleep(15)
    private_runtime.up()
    assert_exactly_once(
        private_runtime.es_url,
        alias,
        first + during,
        runtime=private_runtime,
        topics=private_topics,
    )
    pipeline.check_alive()
