"""What the fault tests share: building and counting articles, reading the dead letters and
the index, and waiting for a pipeline to drain. Two kinds of test use it (fixtures in
conftest.py): those on a private Kafka and Elasticsearch they stop and restart (`pipeline`),
and those on one deployment per module over the shared ones (`live`)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from devtools.supervisor import wait_until
from schemas.common import SourceInfo
from schemas.deadletter import DeadLetter
from schemas.raw import RawArticle
from schemas.report import Report
from schemas.topics import TopicNames
from services.alerts.models import Channel, Mode, Subscription
from services.alerts.settings import AlertsSettings
from services.alerts.store import AlertStore
from services.common.kafka import make_producer
from services.extractor.settings import ExtractorSettings
from services.ingestor.adapters.files import read_file
from tests.support import (
    Deployment,
    consume_all,
    read_to_end,
    topic_size,
)

if TYPE_CHECKING:
    from tests.fault.conftest import PrivateRuntime

SUBSCRIPTION_REFRESH_S = 0.2
PLACES = ["Lachin", "Stepanakert", "Tavush", "Syunik", "Gazakh", "Shusha", "Goris", "Jermuk"]


# ---- a pipeline on the private runtime (outages, worker kills) ---------------------------------


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


# ---- the shared deployment (`live`: crashes of ingestor and alerts, hostile input) ----


def new_tag() -> str:
    """A word no other test uses (letters only, so search folds it to itself)."""
    return "zq" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:8])


def article_text(tag: str, i: int) -> tuple[str, str]:
    place = PLACES[i % len(PLACES)]
    title = f"Shooting reported near {place} ({tag} {i})"
    text = (
        f"Armenia's defence ministry said Azerbaijani forces opened fire near {place} on the "
        f"border overnight, and {i % 7 + 1} soldiers were wounded. Baku denied the claim and "
        f"accused Yerevan of provocation {tag} {i}."
    )
    return title, text


def write_articles(folder: Path, tag: str, count: int) -> list[str]:
    """`count` .txt articles; returns their article ids, as the ingestor computes them."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(count):
        title, text = article_text(tag, i)
        path = folder / f"{tag}-{i:04d}.txt"
        path.write_text(f"{title}\n\n{text}\n", encoding="utf-8")
        (article,) = read_file(path)
        assert isinstance(article, RawArticle), article
        ids.append(article.article_id)
    return ids


def group_lag(bootstrap: str, group_id: str, topic: str) -> int:
    """Messages of `topic` that `group_id` has not committed (read without joining the group)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        ends = consumer.end_offsets(tps)
        return sum(ends[tp] - (consumer.committed(tp) or 0) for tp in tps)
    finally:
        consumer.close()


def pipeline_drained(live: Deployment) -> bool:
    """The extractor committed every raw message and the indexer every report: whatever was
    sent so far, duplicates included, is in the index."""
    bootstrap = live.env["KAFKA_BOOTSTRAP_SERVERS"]
    extractor = ExtractorSettings(namespace=live.namespace).faust_id
    return (
        group_lag(bootstrap, extractor, live.topics.raw) == 0
        and group_lag(bootstrap, live.env["CWATCH_INDEXER_GROUP_ID"], live.topics.report) == 0
    )


def index_counts(es: Elasticsearch, alias: str, article_ids: list[str]) -> Counter[str]:
    """Documents per article id (a doubled report would count 2)."""
    es.indices.refresh(index=alias, ignore_unavailable=True, allow_no_indices=True)
    response = es.options(ignore_status=404).search(
        index=alias,
        query={"terms": {"article_id": article_ids}},
        size=2 * len(article_ids) + 10,
        source=["article_id"],
    )
    hits = response.get("hits", {}).get("hits", [])
    return Counter(hit["_source"]["article_id"] for hit in hits)


def assert_each_indexed_once(live: Deployment, es: Elasticsearch, article_ids: list[str]) -> None:
    expected = set(article_ids)
    assert wait_until(lambda: set(index_counts(es, live.alias, article_ids)) >= expected, 240), (
        f"{len(expected - set(index_counts(es, live.alias, article_ids)))} articles never indexed"
    )
    assert wait_until(lambda: pipeline_drained(live), 120), "the pipeline did not drain"
    counts = index_counts(es, live.alias, article_ids)
    assert set(counts) == expected, f"{len(expected - set(counts))} articles lost"
    doubled = {a: n for a, n in counts.items() if n > 1}
    assert not doubled, f"{len(doubled)} articles are in the index more than once: {doubled}"


def run_ingest(live: Deployment, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "ingest", *args, "--json"],
        env=live.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def dead_letters(live: Deployment) -> list[DeadLetter]:
    records = read_to_end(live.env["KAFKA_BOOTSTRAP_SERVERS"], live.topics.deadletter)
    return [DeadLetter.model_validate_json(r.value) for r in records]


def search_total(live: Deployment, **params: str) -> int:
    with live.api() as api:
        response = api.get("/v1/search", params=params)
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


def alert_store(live: Deployment, es: Elasticsearch) -> AlertStore:
    return AlertStore(es, AlertsSettings(namespace=live.namespace).index_prefix())


def webhook(url: str, query: str, mode: Mode = Mode.PER_STORY) -> Subscription:
    return Subscription(
        name=f"{mode.value} {query}",
        query=query,
        channel=Channel(kind="webhook", url=url, secret="fault-secret-0123456789"),
        mode=mode,
    )


def produce_reports(live: Deployment, reports: list[Report]) -> None:
    producer = make_producer(live.env["KAFKA_BOOTSTRAP_SERVERS"], client_id="fault-test")
    try:
        for report in reports:
            producer.send(
                live.topics.report,
                key=report.report_id.encode(),
                value=report.model_dump_json().encode(),
            )
        producer.flush(30)
    finally:
        producer.close()


def readable(detail: Any) -> bool:
    """A message for a person: words, not a stack or Elasticsearch's exception names."""
    return (
        isinstance(detail, str)
        and 10 <= len(detail) <= 600
        and "Traceback" not in detail
        and "exception" not in detail.lower()
    )
