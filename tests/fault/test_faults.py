"""Faults, counted: crashes, broker and Elasticsearch outages, poison and rebalances lose nothing.

Each test runs the real services as processes against a private Kafka and Elasticsearch.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from devtools.supervisor import Stack, wait_until
from schemas.common import SourceInfo
from schemas.deadletter import DeadLetter
from schemas.raw import RawArticle
from schemas.topics import TopicNames, index_alias
from services.common.kafka import make_producer
from tests.fault.conftest import PrivateRuntime
from tests.support import consume_all, topic_size

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]

PLACES = ["Lachin", "Stepanakert", "Tavush", "Syunik", "Gazakh", "Shusha", "Goris", "Jermuk"]


def articles(count: int, tag: str) -> list[RawArticle]:
    out = []
    for i in range(count):
        place = PLACES[i % len(PLACES)]
        text = (
            f"Report {tag}-{i}: Armenia's defence ministry said Azerbaijani forces opened fire near {place} "
            f"on the border overnight, and {i % 7 + 1} soldiers were wounded. Baku denied the claim and "
            f"accused Yerevan of provocation {tag} {i}."
        )
        article_id = hashlib.sha256(f"{tag}-{i}".encode()).hexdigest()[:32]
        out.append(
            RawArticle(
                article_id=article_id,
                url=f"https://fault.example/{tag}/{i}",
                source=SourceInfo(name="Fault Wire", country="AM", language="en"),
                title=f"Shooting reported near {place} ({tag} {i})",
                text=text,
                ingested_at=datetime.now(UTC),
            )
        )
    return out


def produce(bootstrap: str, topic: str, items: list[RawArticle]) -> None:
    producer = make_producer(bootstrap, client_id="fault-test")
    for item in items:
        producer.send(topic, key=item.article_id.encode(), value=item.model_dump_json().encode())
    producer.flush(60)
    producer.close()


def indexed_article_ids(es_url: str, alias: str) -> list[str]:
    """Every document's article_id, with repeats (a doubled report would show up twice)."""
    ids: list[str] = []
    body = {"size": 1000, "_source": ["article_id"], "sort": ["_doc"]}
    response = httpx.post(
        f"{es_url}/{alias}/_search", params={"scroll": "1m"}, json=body, timeout=30
    )
    if response.status_code != 200:
        return ids
    page = response.json()
    while page["hits"]["hits"]:
        ids += [hit["_source"]["article_id"] for hit in page["hits"]["hits"]]
        page = httpx.post(
            f"{es_url}/_search/scroll",
            json={"scroll": "1m", "scroll_id": page["_scroll_id"]},
            timeout=30,
        ).json()
    return ids


def count(es_url: str, alias: str) -> int:
    try:
        response = httpx.get(f"{es_url}/{alias}/_count", timeout=10)
        return int(response.json().get("count", 0)) if response.status_code == 200 else 0
    except httpx.HTTPError:
        return 0


@pytest.fixture
def stack_env(
    private_runtime: PrivateRuntime, private_topics: TopicNames, tmp_path: Path
) -> dict[str, str]:
    return {
        **private_runtime.env,
        "CWATCH_NAMESPACE": private_topics.namespace,
        "CWATCH_DATA_DIR": str(tmp_path / "extractor"),
        "CWATCH_API_PORT": "0",
        "CWATCH_LOG_LEVEL": "INFO",
    }


@pytest.fixture
def pipeline(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path / "logs", stack_env, services=["indexer", "extractor"]).start()
    try:
        yield stack
    finally:
        stack.stop()
        for service in stack.services.values():
            print(f"--- {service.name} ---\n{service.log_tail(20)}")


def progress(bootstrap: str, topics: TopicNames) -> str:
    """How many records each topic holds, so a failed wait says which stage stopped (raw full and
    report short: the extractor; report full and the index short: the indexer)."""
    try:
        lines = [
            f"{topic}: {topic_size(bootstrap, topic)} records"
            for topic in (topics.raw, topics.report, topics.deadletter)
        ]
        reports = consume_all(bootstrap, topics.report, timeout_s=5)
        lines.append(f"distinct report keys: {len({r.key for r in reports})}")
        return "\n".join(lines + group_progress(bootstrap, topics))
    except Exception as exc:  # diagnostics must not hide the real failure
        return f"(progress unavailable: {exc!r})"


def group_progress(bootstrap: str, topics: TopicNames) -> list[str]:
    """Committed offset against end offset per partition, for each stage's group: the partition
    a stage stopped reading (a rebalance that left it behind) shows as committed < end."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    from services.extractor.settings import ExtractorSettings
    from services.indexer.settings import IndexerSettings

    groups = {
        topics.raw: ExtractorSettings(namespace=topics.namespace).faust_id,
        topics.report: IndexerSettings(namespace=topics.namespace).indexer_group_id,
    }
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        lines = []
        for topic, group in groups.items():
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
            ends = consumer.end_offsets(parts)
            committed = admin.list_group_offsets(group).get(group, {})
            shown = ", ".join(
                f"p{tp.partition} {committed[tp].offset if tp in committed else '-'}/{ends[tp]}"
                for tp in parts
            )
            lines.append(f"{group} committed/end: {shown}")
        return lines
    finally:
        admin.close()
        consumer.close()


def assert_exactly_once(
    es_url: str,
    alias: str,
    items: list[RawArticle],
    timeout_s: float = 240,
    runtime: PrivateRuntime | None = None,
    topics: TopicNames | None = None,
) -> None:
    expected = {a.article_id for a in items}
    if not wait_until(lambda: count(es_url, alias) >= len(expected), timeout_s):
        where = progress(runtime.kafka_bootstrap, topics) if runtime and topics else ""
        pytest.fail(
            f"only {count(es_url, alias)} of {len(expected)} reports indexed after {timeout_s}s\n"
            + where
        )
    time.sleep(2)  # anything doubled after the last expected one would land now
    seen = indexed_article_ids(es_url, alias)
    missing = expected - set(seen)
    assert not missing, f"{len(missing)} reports lost"
    assert len(seen) == len(set(seen)) == len(expected), "some report is in the index twice"


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


def test_private_runtime_is_separate_from_the_shared_one(private_runtime: PrivateRuntime) -> None:
    assert private_runtime.kafka_bootstrap != os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
