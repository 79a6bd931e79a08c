"""Crashes of the ingestor and the alerts service, and hostile input, counted on the real stack.

One deployment serves the module: every service (indexer, extractor, alerts, search API, ingestor
daemon) runs as a process on the shared Kafka and Elasticsearch, in a namespace of its own. Each
test writes its own word (a tag) into what it sends, so the counts it asserts are its own. Nothing
here stops Kafka or Elasticsearch: test_faults.py does that, on a private runtime.

The API refuses webhooks to loopback (the production default); the alerts service itself is
allowed to reach the test's receiver on loopback, so those subscriptions are written to the store
directly, where the API would write them.
"""

from __future__ import annotations

import base64
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from devtools.supervisor import ServiceProcess, wait_until
from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from schemas.raw import RawArticle
from schemas.report import Report
from schemas.topics import TopicNames
from services.alerts.delivery import ALERT_ID_HEADER
from services.alerts.models import Channel, Mode, Subscription
from services.alerts.settings import AlertsSettings
from services.alerts.store import AlertStore
from services.common.kafka import delete_topics, ensure_topics, make_producer
from services.extractor.settings import ExtractorSettings
from services.ingestor.adapters.files import read_file
from services.ingestor.producer import FLUSH_EVERY
from services.ingestor.state import IngestState
from tests.alerts.factories import make_report
from tests.support import (
    Deployment,
    Receiver,
    TopicSize,
    drop_namespace_indices,
    read_to_end,
    run_deployment,
    topic_size,
)

pytestmark = pytest.mark.fault

SUBSCRIPTION_REFRESH_S = 0.2
PLACES = ["Lachin", "Stepanakert", "Tavush", "Syunik", "Gazakh", "Shusha", "Goris", "Jermuk"]


@pytest.fixture(scope="module")
def live(
    kafka_bootstrap: str,
    es_url: str,
    es_client: Elasticsearch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    namespace = f"h{uuid.uuid4().hex[:8]}"
    topics = TopicNames.for_namespace(namespace)
    ensure_topics(kafka_bootstrap, topics)
    try:
        with run_deployment(
            kafka_bootstrap,
            es_url,
            namespace,
            topics,
            tmp_path_factory.mktemp("live"),
            services=("indexer", "extractor", "alerts", "api", "ingestor"),
            env={"CWATCH_ALERTS_SUBSCRIPTION_REFRESH_S": str(SUBSCRIPTION_REFRESH_S)},
            service_env={
                "alerts": {
                    "CWATCH_ALERTS_ALLOW_LOOPBACK": "true",
                    # A held request must outlive the kill, not time out and be dead-lettered.
                    "CWATCH_ALERTS_WEBHOOK_TIMEOUT_S": "120",
                    "CWATCH_ALERTS_WEBHOOK_BACKOFF_S": "0.1",
                    "CWATCH_ALERTS_WEBHOOK_BACKOFF_MAX_S": "0.5",
                }
            },
        ) as deployment:
            yield deployment
    finally:
        drop_namespace_indices(es_client, namespace)
        delete_topics(kafka_bootstrap, [name for name, _ in topics.all()])


# ---- helpers ------------------------------------------------------------------------------------


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


# ---- crashes ------------------------------------------------------------------------------------


def test_cwatch_ingest_killed_after_kafka_acked_before_its_state_saved_indexes_each_article_once(
    live: Deployment, es_client: Elasticsearch, tmp_path: Path
) -> None:
    tag = new_tag()
    count = 600
    ids = write_articles(tmp_path / "articles", tag, count)
    state = tmp_path / "cli-state.sqlite"
    IngestState(state).close()
    raw = TopicSize(live.env["KAFKA_BOOTSTRAP_SERVERS"], live.topics.raw)
    raw_before = raw()
    ingest = ServiceProcess(
        "ingest",
        ["ingest", str(tmp_path / "articles"), "--state", str(state), "--json"],
        tmp_path / "ingest.log",
        live.env,
    )

    # The ingestor remembers an article only after Kafka acknowledged it. Holding the state's
    # write lock stops it right there, after its first flush (FLUSH_EVERY acknowledged, none
    # remembered; SQLite lets it wait 5 s): the worst moment to die, since the next run must
    # produce every one of them again.
    lock = sqlite3.connect(state, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        ingest.start()
        assert wait_until(lambda: raw() - raw_before >= FLUSH_EVERY or not ingest.running(), 120)
        assert ingest.running(), ingest.log_tail()
        assert ingest.kill() == -signal.SIGKILL
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    before_kill = raw() - raw_before
    assert 0 < before_kill < count, "the kill should land mid-stream"
    remembered = IngestState(state)
    assert remembered.seen_count() == 0
    remembered.close()

    summary = run_ingest(live, str(tmp_path / "articles"), "--state", str(state))
    assert (summary["produced"], summary["failed"]) == (count, 0)
    assert raw() - raw_before == before_kill + count  # the duplicates reached the raw topic...
    raw.close()
    assert_each_indexed_once(live, es_client, ids)  # ...and the index holds each article once


def test_ingestor_daemon_killed_mid_push_then_clients_retry_and_each_article_is_indexed_once(
    live: Deployment, es_client: Elasticsearch
) -> None:
    tag = new_tag()
    batches = [
        [
            dict(zip(("title", "text"), article_text(tag, b * 100 + i), strict=True))
            for i in range(n)
        ]
        for b, n in enumerate([20] * 5 + [100] + [20] * 5)
    ]
    accepted: list[str] = []

    def push(batch: list[dict[str, str]]) -> httpx.Response | None:
        try:
            with live.push() as client:
                return client.post("/v1/articles", json={"articles": batch})
        except httpx.HTTPError:  # the daemon died under the request
            return None

    for batch in batches[:5]:
        response = push(batch)
        assert response is not None and response.status_code == 202, response
        accepted += response.json()["ids"]

    # The big batch is in flight when the daemon dies (or was just answered): some of it may be
    # produced and not yet remembered, or remembered and not yet answered. A client that got
    # no 202 sends the batch again.
    raw = TopicSize(live.env["KAFKA_BOOTSTRAP_SERVERS"], live.topics.raw)
    raw_before = raw()
    outcome: list[httpx.Response | None] = []
    sender = threading.Thread(target=lambda: outcome.append(push(batches[5])))
    sender.start()
    wait_until(lambda: raw() > raw_before or bool(outcome), 60)
    raw.close()
    assert live.stack["ingestor"].kill() == -signal.SIGKILL
    sender.join(timeout=60)
    live.stack["ingestor"].start()
    live.ready("ingestor")

    for batch in batches[5:]:
        response = push(batch)  # the interrupted batch again (a 202 or not, a client retries)
        assert response is not None and response.status_code == 202, response
        accepted += response.json()["ids"]
    assert len(set(accepted)) == sum(len(b) for b in batches)
    assert_each_indexed_once(live, es_client, accepted)


def test_alerts_service_killed_mid_delivery_sends_one_alert_per_story_and_each_alert_once(
    live: Deployment, es_client: Elasticsearch, receiver: Callable[..., Receiver]
) -> None:
    tag = new_tag()
    hook = receiver(hold_after=6)  # the 7th request and later ones hang until the kill
    store = alert_store(live, es_client)
    per_story = store.put(webhook(hook.url, tag, Mode.PER_STORY))
    every = store.put(webhook(hook.url, tag, Mode.EVERY))
    stories = {f"story-{tag}-{s}": [f"{tag}-{s}-{v}" for v in range(4)] for s in range(4)}
    alerts = live.stack["alerts"]

    # Everything indexed before the alerts service starts: it matches and dispatches one big batch.
    alerts.stop()
    produce_reports(
        live,
        [
            make_report(report_id, f"{tag}: version {report_id} of {story}", story_id=story)
            for story, report_ids in stories.items()
            for report_id in report_ids
        ],
    )
    assert wait_until(lambda: search_total(live, q=tag) == 16, 120)
    alerts.start()

    def acked() -> list[str]:
        return [h[ALERT_ID_HEADER] for h, _, _ in hook.ok()]

    assert wait_until(lambda: len(acked()) == 6 and hook.held > 0, 120), alerts.log_tail()
    # Kill once the six 2xx are logged as sent: only a crash between a 2xx and that write may
    # resend (same X-Cwatch-Alert-Id, for receivers to drop); this test counts exactly.
    assert wait_until(lambda: store.delivered(acked()) == set(acked()), 30)
    assert alerts.kill() == -signal.SIGKILL
    hook.release()
    alerts.start()

    expected = len(stories) + sum(len(r) for r in stories.values())  # per story + every report
    assert wait_until(lambda: len(set(acked())) >= expected, 180), alerts.log_tail()

    # After the restart: new versions of an alerted story and a new story.
    late = [
        make_report(f"{tag}-0-late{v}", f"{tag}: late version {v}", story_id=f"story-{tag}-0")
        for v in range(2)
    ] + [
        make_report(f"{tag}-new-{v}", f"{tag}: new story {v}", story_id=f"story-{tag}-new")
        for v in range(2)
    ]
    stories[f"story-{tag}-0"] += [r.report_id for r in late[:2]]
    stories[f"story-{tag}-new"] = [r.report_id for r in late[2:]]
    produce_reports(live, late)
    expected += 1 + len(late)
    assert wait_until(lambda: len(set(acked())) >= expected, 120), alerts.log_tail()
    sentinel = make_report(f"{tag}-sentinel", f"{tag}: sentinel", story_id=f"story-{tag}-sentinel")
    produce_reports(live, [sentinel])  # behind everything else: once it is in, all is
    assert wait_until(lambda: len(set(acked())) >= expected + 2, 120), alerts.log_tail()

    counted = Counter(acked())
    assert all(n == 1 for n in counted.values()), "an acknowledged alert was delivered again"
    received = [
        (Alert.model_validate(json.loads(body)["alert"]), status)
        for _, body, status in hook.requests
    ]
    resent = {alert.alert_id for alert, status in received if status == 503}
    assert hook.held > 0 and resent <= set(counted), "a held alert was never delivered"

    alerts_by_id = {a.alert_id: a for a, _ in received if a.story_id != sentinel.story_id}
    story_alerts: dict[str, set[str]] = {}
    for alert in alerts_by_id.values():
        if alert.subscription_id == per_story.id:
            story_alerts.setdefault(alert.story_id, set()).add(alert.alert_id)
    assert set(story_alerts) == set(stories)
    assert all(len(ids) == 1 for ids in story_alerts.values()), story_alerts
    every_reports = Counter(
        report_id
        for alert in alerts_by_id.values()
        if alert.subscription_id == every.id
        for report_id in alert.report_ids
    )
    assert every_reports == Counter(r for reports in stories.values() for r in reports)
    live.stack.check_alive()


def test_poison_on_the_indexed_and_alert_topics_is_dead_lettered_and_alerts_go_on(
    live: Deployment, es_client: Elasticsearch, receiver: Callable[..., Receiver]
) -> None:
    tag = new_tag()
    hook = receiver()
    alert_store(live, es_client).put(webhook(hook.url, tag))
    time.sleep(5 * SUBSCRIPTION_REFRESH_S)  # the matcher re-reads subscriptions that often
    poison = [
        b"not json",
        b"\xff\xfe\x00 invalid utf-8",
        b'{"schema_version": 1}',
        b"[]",
        b"{" * 10000,
        b"",
    ]
    producer = make_producer(live.env["KAFKA_BOOTSTRAP_SERVERS"], client_id="poison")
    for topic in (live.topics.indexed, live.topics.alert):
        for i, value in enumerate(poison):
            producer.send(topic, key=f"{tag}-{i}".encode(), value=value)
    producer.flush(30)
    producer.close()
    produce_reports(live, [make_report(f"{tag}-good", f"{tag}: after the poison")])

    def poison_letters() -> list[DeadLetter]:
        return [
            letter
            for letter in dead_letters(live)
            if letter.original_key and letter.original_key.startswith(f"{tag}-")
        ]

    assert wait_until(lambda: len(hook.ok()) == 1, 120), live.stack["alerts"].log_tail()
    # Poison and the good report went to different partitions: wait for both sides.
    assert wait_until(lambda: len(poison_letters()) >= 2 * len(poison), 60)
    letters = poison_letters()
    by_topic = Counter((letter.original_topic, letter.stage.value) for letter in letters)
    assert by_topic == {
        (live.topics.indexed, "alert"): len(poison),
        (live.topics.alert, "delivery"): len(poison),
    }
    assert sorted(letter.payload() for letter in letters) == sorted(poison * 2)
    assert all(letter.reason for letter in letters)
    live.stack.check_alive()
    with live.api() as api:
        assert api.get("/healthz").status_code == 200


# ---- hostile input ------------------------------------------------------------------------------


def test_a_flood_of_duplicates_through_push_files_and_topics_ends_as_one_report(
    live: Deployment, es_client: Elasticsearch, tmp_path: Path
) -> None:
    tag = new_tag()
    title, text = article_text(tag, 0)
    record = {"title": title, "text": text}
    with live.push() as client:
        first = client.post("/v1/articles", json={"articles": [record] * 100})
        again = [client.post("/v1/articles", json=record) for _ in range(20)]
    assert first.status_code == 202, first.text
    (article_id,) = set(first.json()["ids"])
    assert (first.json()["accepted"], len(first.json()["duplicates"])) == (1, 99)
    assert all(r.status_code == 202 and r.json()["accepted"] == 0 for r in again)

    folder = tmp_path / "copies"
    folder.mkdir()
    for i in range(30):
        (folder / f"copy-{i:02d}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")
    (folder / "copies.jsonl").write_text((json.dumps(record) + "\n") * 50, encoding="utf-8")
    # Its own state: the files are news to it, so it produces one of the 80 copies.
    summary = run_ingest(live, str(folder), "--state", str(tmp_path / "state.sqlite"))
    assert (summary["produced"], summary["duplicate"], summary["failed"]) == (1, 79, 0)

    # A replaying producer upstream, or an operator's replay: the same messages again and again.
    bootstrap = live.env["KAFKA_BOOTSTRAP_SERVERS"]
    raw = [r for r in read_to_end(bootstrap, live.topics.raw) if r.key == article_id.encode()]
    assert len(raw) == 2  # one from the push API, one from the files
    assert wait_until(lambda: search_total(live, q=tag) == 1, 120)
    report = [r for r in read_to_end(bootstrap, live.topics.report) if r.key == raw[0].key]
    producer = make_producer(bootstrap, client_id="flood")
    for _ in range(50):
        producer.send(live.topics.raw, key=raw[0].key, value=raw[0].value)
        producer.send(live.topics.report, key=report[0].key, value=report[0].value)
    producer.flush(30)
    producer.close()

    assert_each_indexed_once(live, es_client, [article_id])
    assert search_total(live, q=tag) == 1


def test_a_50_mb_page_gets_413_from_push_and_is_cut_to_fit_by_cwatch_ingest(
    live: Deployment, es_client: Elasticsearch, tmp_path: Path
) -> None:
    tag = new_tag()
    paragraph = (
        "<p>Armenian and Azerbaijani officials met near Lachin to discuss the corridor and the "
        "border; the talks will continue next week, the ministry said.</p>\n"
    )
    head = f"<html lang='en'><head><title>The longest page about Lachin {tag}</title></head><body>"
    page = head + paragraph * ((50_000_000 - len(head)) // len(paragraph)) + "</body></html>"
    data = page.encode()
    assert len(data) >= 49_900_000

    bootstrap = live.env["KAFKA_BOOTSTRAP_SERVERS"]
    raw_before = topic_size(bootstrap, live.topics.raw)
    with live.push() as client:
        html = client.post(
            "/v1/articles",
            params={"url": f"https://news.example/{tag}"},
            content=data,
            headers={"content-type": "text/html"},
        )
        as_json = client.post(
            "/v1/articles",
            content=json.dumps({"title": tag, "html": page}).encode(),
            headers={"content-type": "application/json"},
        )
    for response in (html, as_json):
        assert response.status_code == 413
        assert (
            "push limit" in response.json()["error"] and "cwatch ingest" in response.json()["error"]
        )
    assert topic_size(bootstrap, live.topics.raw) == raw_before

    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "page.html").write_bytes(data)
    with (folder / "over-the-file-limit.html").open("wb") as oversized:  # 60 MB, sparse
        oversized.write(head.encode())
        oversized.truncate(60 * 1024 * 1024)
    summary = run_ingest(live, str(folder), "--state", str(tmp_path / "state.sqlite"))
    assert (summary["produced"], summary["failed"]) == (1, 1)
    assert summary["failed_by_reason"] == {"too_large": 1}

    assert wait_until(lambda: search_total(live, q=tag) == 1, 180)
    with live.api() as api:
        hit = api.get("/v1/search", params={"q": tag}).json()["hits"][0]
    (document,) = es_client.search(
        index=live.alias, query={"ids": {"values": [hit["report_id"]]}}, source=["html_truncated"]
    )["hits"]["hits"]
    assert document["_source"]["html_truncated"] is True  # cut on purpose, and it says so
    refused = [
        letter
        for letter in dead_letters(live)
        if letter.source and letter.source.endswith("over-the-file-limit.html")
    ]
    assert [(r.stage.value, r.error_type) for r in refused] == [("ingest", "too_large")]
    assert "limit" in refused[0].reason


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>TAG</title>
<item><title>TAG &lol9;</title><description>&lol9;</description></item>
</channel></rss>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>TAG</title>
<entry><title>TAG &secret;</title><id>urn:x</id><content>&secret;</content></entry></feed>
"""


def good_feed(tag: str, items: int) -> bytes:
    entries = []
    for i in range(items):
        title, text = article_text(tag, i)
        body = " ".join([text] * 3)  # long enough to be the full text: no page to fetch
        entries.append(
            f"<item><title>{title}</title><link>https://feed.example/{tag}/{i}</link>"
            f"<guid>{tag}-{i}</guid><description>{body}</description></item>"
        )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Border wire {tag}</title>'
        f"<link>https://feed.example/</link>{''.join(entries)}</channel></rss>"
    ).encode()


def test_a_feed_with_an_xml_bomb_is_dead_lettered_and_the_good_feed_of_the_same_run_flows(
    live: Deployment, es_client: Elasticsearch, tmp_path: Path
) -> None:
    tag = new_tag()
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "bomb.rss").write_bytes(BILLION_LAUGHS.replace(b"TAG", tag.encode()))
    (folder / "external.atom").write_bytes(EXTERNAL_ENTITY.replace(b"TAG", tag.encode()))
    (folder / "good.rss").write_bytes(good_feed(tag, 3))

    summary = run_ingest(
        live, str(folder), "--state", str(tmp_path / "state.sqlite"), "--no-linked-pages"
    )
    assert (summary["produced"], summary["failed"]) == (3, 2)
    assert summary["failed_by_reason"] == {"unsafe_xml": 2}

    refused = [
        letter
        for letter in dead_letters(live)
        if letter.source and Path(letter.source).parent == folder
    ]
    assert sorted(Path(str(r.source)).name for r in refused) == ["bomb.rss", "external.atom"]
    assert all((r.stage.value, r.error_type) == ("ingest", "unsafe_xml") for r in refused)
    assert all("entities" in r.reason or "DTD" in r.reason for r in refused)
    assert {r.payload() for r in refused} == {
        (folder / "bomb.rss").read_bytes(),
        (folder / "external.atom").read_bytes(),
    }
    assert wait_until(lambda: search_total(live, q=tag) == 3, 120)
    with live.api() as api:
        hits = api.get("/v1/search", params={"q": tag}).json()["hits"]
    assert all("Shooting reported near" in hit["headline"] for hit in hits), hits  # the good ones


SSRF_URLS = [
    ("http://127.0.0.1:8080/admin", "loopback"),
    ("http://localhost:9200/_cat/indices", "loopback"),  # a name resolving to loopback
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://2130706433/", "loopback"),  # 127.0.0.1 as one number
    ("http://0x7f.1/", "loopback"),
    ("http://169.254.169.254/latest/meta-data/iam/", "cloud metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
    ("http://10.0.0.7/internal", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "private"),
    ("http://0.0.0.0:9092/", "non-routable"),
    ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 of 127.0.0.1
    ("http://[2002:a9fe:a9fe::]/", "cloud metadata"),  # 6to4 of 169.254.169.254
    ("http://[fec0::1]/", "private"),  # site-local
    ("http://192.0.0.192/", "cloud metadata"),
    ("file:///etc/passwd", "only http(s)"),
    ("gopher://127.0.0.1:25/", "only http(s)"),
]


def test_ssrf_through_the_push_api_is_refused_with_400_and_the_reason(live: Deployment) -> None:
    bootstrap = live.env["KAFKA_BOOTSTRAP_SERVERS"]
    raw_before = topic_size(bootstrap, live.topics.raw)
    good = {"title": "Border talks resume", "text": "Delegations met again in Gazakh."}
    with live.push() as client:
        for url, why in SSRF_URLS:
            alone = client.post("/v1/articles", json={"url": url})
            in_a_batch = client.post("/v1/articles", json={"articles": [good, {"url": url}]})
            for response in (alone, in_a_batch):
                assert response.status_code == 400, (url, response.text)
                body = response.json()
                assert body["error_type"] == "blocked_address", (url, body)
                assert why in body["error"], (url, body)
        health = client.get("/healthz")
    assert health.status_code == 200
    assert topic_size(bootstrap, live.topics.raw) == raw_before  # not even the good neighbour


def test_webhooks_to_internal_addresses_are_refused_by_the_api_and_at_delivery(
    live: Deployment, es_client: Elasticsearch
) -> None:
    tag = new_tag()
    with live.api() as api:
        before = api.get("/v1/subscriptions").json()["total"]
        for url, why in SSRF_URLS:
            response = api.post(
                "/v1/subscriptions",
                json={"query": tag, "channel": {"kind": "webhook", "url": url}},
            )
            assert response.status_code == 400, (url, response.text)
            detail = response.json()["detail"]
            if why == "only http(s)":  # refused by the channel's own validation
                assert "must start with http:// or https://" in detail, detail
            else:
                assert "webhook url refused" in detail and why in detail, detail
        sse = api.post("/v1/subscriptions", json={"query": tag, "channel": {"kind": "sse"}})
        assert sse.status_code == 201, sse.text
        moved = api.patch(
            f"/v1/subscriptions/{sse.json()['id']}",
            json={"channel": {"kind": "webhook", "url": "http://169.254.169.254/latest/"}},
        )
        assert moved.status_code == 400 and "cloud metadata" in moved.json()["detail"]
        assert api.get("/v1/subscriptions").json()["total"] == before + 1
        api.delete(f"/v1/subscriptions/{sse.json()['id']}")

    # Written behind the API's back (or before a DNS answer changed): refused at delivery.
    store = alert_store(live, es_client)
    internal = [
        store.put(webhook("http://169.254.169.254/latest/meta-data/", tag)),
        store.put(webhook("http://10.255.255.1/hook", tag)),
    ]
    time.sleep(5 * SUBSCRIPTION_REFRESH_S)  # the matcher re-reads subscriptions that often
    produce_reports(live, [make_report(f"{tag}-r", f"{tag}: convoy reaches the border")])

    def refused() -> list[DeadLetter]:
        ids = {s.id for s in internal}
        return [d for d in dead_letters(live) if d.stage.value == "delivery" and d.source in ids]

    assert wait_until(lambda: len(refused()) >= 2, 120), live.stack["alerts"].log_tail()
    letters = {d.source: d for d in refused()}
    assert len(refused()) == 2 and set(letters) == {s.id for s in internal}
    assert "cloud metadata" in letters[internal[0].id].reason
    assert "private address" in letters[internal[1].id].reason
    assert all(d.attempts == 1 and d.error_type == "webhook_failed" for d in letters.values())


def _cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


# (path, parameters, words the 400 must contain)
REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/search", {"q": '"unbalanced quote'}, "not closed"),
    ("/v1/search", {"q": "(Lachin OR Shusha"}, "not closed"),
    ("/v1/search", {"q": "Lachin) OR (Shusha"}, "no matching"),
    ("/v1/search", {"q": "Lachin " * 1500}, "too long"),
    ("/v1/search", {"q": " ".join(f"w{i}" for i in range(100))}, "too many search terms"),
    ("/v1/search", {"q": "/.*/"}, "only one *"),
    ("/v1/search", {"q": "body:/.*/"}, "only one *"),
    ("/v1/search", {"q": "*"}, "cannot start"),
    ("/v1/search", {"q": "[* TO *]"}, "cannot start"),
    ("/v1/search", {"q": "AND OR NOT"}, "needs a search term"),
    ("/v1/search", {"q": "Lachin\x00corridor"}, "control character"),
    ("/v1/search", {"since": "2026-13-45"}, "not a time"),
    ("/v1/search", {"since": "yesterday"}, "not a time"),
    ("/v1/search", {"since": "99999y"}, "outside the calendar"),
    ("/v1/search", {"until": "0001-01-01T00:00:00+05:00"}, "outside the calendar"),
    ("/v1/search", {"since": "1d", "until": "7d"}, "since is after until"),
    ("/v1/search", {"size": "-1"}, "size must be"),
    ("/v1/search", {"size": "0"}, "size must be"),
    ("/v1/search", {"size": "100000"}, "size must be"),
    ("/v1/search", {"size": "99999999999999999999999"}, "size must be"),
    ("/v1/search", {"size": "1e9"}, "valid integer"),
    ("/v1/search", {"sort": "_id"}, "unknown"),
    ("/v1/search", {"country": "ARM"}, "two-letter"),
    ("/v1/search", {"affiliation": "evil"}, "unknown"),
    ("/v1/search", {"event": "<script>alert(1)</script>"}, "unknown"),
    ("/v1/search", {"relevant": "maybe"}, "valid boolean"),
    ("/v1/search", {"cursor": "garbage"}, "cursor is not valid"),
    ("/v1/search", {"cursor": _cursor({"m": "relevance", "a": ["x", "y", "z"]})}, "cursor"),
    ("/v1/search", {"cursor": _cursor({"m": "relevance", "a": [{"script": 1}, 0, "a"]})}, "cursor"),
    (
        "/v1/search",
        {"cursor": _cursor({"m": "time", "a": [True, False]}), "sort": "time"},
        "cursor",
    ),
    (
        "/v1/search",
        {"cursor": _cursor({"m": "relevance-collapse", "f": 10**12}), "collapse": "true"},
        "1000 deep",
    ),
    ("/v1/facets", {"facet_size": "-3"}, "facet_size"),
    ("/v1/facets", {"facet_size": "100000"}, "facet_size"),
    ("/v1/facets", {"interval": "nanosecond"}, "interval"),
    ("/v1/live", {"q": "(unclosed"}, "not closed"),
    ("/ui/v1/search", {"q": '"unbalanced'}, "not closed"),
    ("/ui/v1/search", {"since": "99999y"}, "outside the calendar"),
]
# Odd but valid: answered, and nothing in them reaches Elasticsearch as syntax.
ANSWERED: list[dict[str, str]] = [
    {"q": "(" * 300 + "Lachin" + ")" * 300},
    {"q": "Lachin~2 Shusha^100"},
    {"q": "script:doc['x'].value"},
    {"q": '{"script": {"source": "Math.random()"}}'},
    {"q": "\\\\ \\"},
    {"from": "1000000", "q": "Lachin"},
    {"until": "0001-01-01"},
    {"since": "9999-12-31"},
]


def test_malformed_and_hostile_search_queries_get_400_in_words_and_the_api_stays_healthy(
    live: Deployment,
) -> None:
    tag = new_tag()
    with live.push() as client:
        seeded = client.post(
            "/v1/articles",
            json=[
                dict(zip(("title", "text"), article_text(tag, i), strict=True)) for i in range(3)
            ],
        )
    assert seeded.status_code == 202, seeded.text
    assert wait_until(lambda: search_total(live, q=tag) == 3, 120)
    everything = search_total(live)

    with live.api() as api:
        for path, params, words in REFUSED:
            response = api.get(path, params=params)
            assert response.status_code == 400, (path, params, response.text)
            detail = response.json()["detail"]
            assert readable(detail) and words in detail, (path, params, detail)
        # Raw bytes in the query string: not UTF-8 once percent-decoded.
        for raw in ("q=%FF%FE", "q=Lachin%C0%AF", "since=%ED%A0%80", "lang=en&q=%FF"):
            response = api.get(f"/v1/search?{raw}")
            assert response.status_code == 400, (raw, response.text)
            assert "not valid UTF-8" in response.json()["detail"]
        for params in ANSWERED:
            response = api.get("/v1/search", params=params)
            assert response.status_code == 200, (params, response.text)
        report_id = api.get("/v1/search", params={"q": tag}).json()["hits"][0]["report_id"]
        similar = api.get(f"/v1/reports/{report_id}/similar", params={"size": "-1"})
        assert similar.status_code == 400 and readable(similar.json()["detail"])

        # Field and regex syntax is searched as words: no field, no wildcard over the index.
        assert search_total(live, q=f"headline:{tag}") == 0
        assert search_total(live, q="_id:*") < everything
        assert api.get("/healthz").status_code == 200
        assert api.get("/readyz").status_code == 200
    assert search_total(live, q=tag) == 3
    live.stack.check_alive()
