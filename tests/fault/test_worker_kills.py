"""Extractor and indexer processes killed (kill -9) or lost to a rebalance: nothing lost or doubled.

Each test runs the real services as processes against a private Kafka and Elasticsearch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.supervisor import Stack, wait_until
from schemas.topics import TopicNames, index_alias
from tests.fault.conftest import PrivateRuntime
from tests.fault.helpers import articles, assert_exactly_once, count, produce

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]


def test_sigkill_of_extractor_then_indexer_mid_stream_loses_and_doubles_nothing(
    private_runtime: PrivateRuntime, private_topics: TopicNames, pipeline: Stack
) -> None:
    alias = index_alias(private_topics.namespace)
    items = articles(240, "kill")
    produce(private_runtime.kafka_bootstrap, private_topics.raw, items)
    wait_until(lambda: count(private_runtime.es_url, alias) >= 40, 180)
    pipeline["extractor"].kill()
    pipeline["extractor"].start()
    wait_until(lambda: count(private_runtime.es_url, alias) >= 120, 180)
    pipeline["indexer"].kill()
    pipeline["indexer"].start()
    assert_exactly_once(
        private_runtime.es_url, alias, items, runtime=private_runtime, topics=private_topics
    )


def test_two_extractors_and_two_indexers_share_the_load_and_a_rebalance_loses_nothing(
    private_runtime: PrivateRuntime,
    private_topics: TopicNames,
    stack_env: dict[str, str],
    tmp_path: Path,
) -> None:
    alias = index_alias(private_topics.namespace)
    stacks = [
        Stack(
            tmp_path / f"logs-{n}",
            {
                **stack_env,
                "CWATCH_DATA_DIR": str(tmp_path / f"extractor-{n}"),
                "CWATCH_WORKER_WEB_PORT": "0",
            },
            services=["indexer", "extractor"],
        ).start()
        for n in (1, 2)
    ]
    try:
        items = articles(240, "shared")
        produce(private_runtime.kafka_bootstrap, private_topics.raw, items)
        wait_until(lambda: count(private_runtime.es_url, alias) >= 60, 180)
        stacks[1]["extractor"].kill()  # its partitions move to the other extractor
        stacks[1]["indexer"].kill()
        assert_exactly_once(
            private_runtime.es_url, alias, items, runtime=private_runtime, topics=private_topics
        )
        stacks[0].check_alive()
    finally:
        for stack in stacks:
            stack.stop()
            for service in stack.services.values():
                print(f"--- {service.name} ---\n{service.log_tail(15)}")
