"""The ingestor (the cwatch ingest command and the push daemon) and the alerts service killed
mid-work: each article indexed once, each alert delivered once.

One deployment serves the module (the `live` fixture in conftest.py): every service (indexer,
extractor, alerts, search API, ingestor daemon) runs as a process on the shared Kafka and
Elasticsearch, in a namespace of its own. Each test writes its own word (a tag) into what it
sends, so the counts it asserts are its own. Nothing here stops Kafka or Elasticsearch:
test_kafka_outage.py and test_elasticsearch_outage.py do that, on a private runtime.

The API refuses webhooks to loopback (the production default); the alerts service itself is
allowed to reach the test's receiver on loopback, so those subscriptions are written to the
store directly, where the API would write them.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch

from devtools.supervisor import ServiceProcess, wait_until
from schemas.alert import Alert
from services.alerts.delivery import ALERT_ID_HEADER
from services.alerts.models import Mode
from services.ingestor.producer import FLUSH_EVERY
from services.ingestor.state import IngestState
from tests.alerts.factories import make_report
from tests.fault.helpers import (
    alert_store,
    article_text,
    assert_each_indexed_once,
    new_tag,
    produce_reports,
    run_ingest,
    search_total,
    webhook,
    write_articles,
)
from tests.support import (
    Deployment,
    Receiver,
    TopicSize,
)

pytestmark = pytest.mark.fault


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
