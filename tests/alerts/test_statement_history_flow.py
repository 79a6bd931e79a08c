"""Statement history end to end on the real Kafka and Elasticsearch: an official statement
read from a loopback feed, edited and then removed between polls, is extracted, indexed and
matched. Each version replaces the report in the index (the diff searchable, the withdrawal
marked), a late copy of an older version changes nothing, and a subscription for edited or
withdrawn statements is alerted once per change, however often a version is delivered."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import ApiError

from schemas.raw import RawArticle
from schemas.report import Report
from services.alerts.app import AlertsService
from services.alerts.models import Channel, Filters, Mode, Subscription
from services.alerts.settings import AlertsSettings
from services.extractor.dedup import DedupState
from services.extractor.pipeline import extract
from services.indexer.app import Indexer
from services.indexer.settings import IndexerSettings
from services.query.bodies import build_search
from services.query.params import SearchParams
from tests.alerts.conftest import produce, read_topic
from tests.ingestor.loopback import LoopbackServer, rss
from tests.ingestor.test_statement_history import MINISTRY, statement
from tests.ingestor.test_telegram import Run, make_settings
from tests.support import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer().running() as srv:
        yield srv


def _paragraphs(news: str) -> str:
    """A statement long enough for the text extractor to take it for an article."""
    rest = (
        "The ministry of foreign affairs informs the public and the international community "
        "about the situation on the state border. The ministry calls on all parties to respect "
        "the commitments made and to refrain from steps that could escalate the situation."
    )
    return f"<p>{news}</p><p>{rest}</p><p>{rest}</p>"


def _versions(server: LoopbackServer, tmp_path: Path) -> list[RawArticle]:
    """The ingestor's raw articles for: two statements, the second edited, then removed."""
    items = [
        statement(1, _paragraphs("Talks of the border commission are planned for Monday.")),
        statement(2, _paragraphs("Armenian forces fired on positions near Tegh overnight.")),
    ]
    feed = server.add("/mfa.xml", rss(items), "application/rss+xml")
    run = Run(make_settings(tmp_path, fetch_linked_pages=False))
    run.worker.poll_feed(feed, MINISTRY, official=True)
    items[1] = statement(2, _paragraphs("No shots were fired near Tegh; the report is denied."))
    server.add("/mfa.xml", rss(items), "application/rss+xml")
    run.worker.poll_feed(feed, MINISTRY, official=True)
    server.add("/mfa.xml", rss(items[:1]), "application/rss+xml")
    run.worker.poll_feed(feed, MINISTRY, official=True)
    return run.raw()


def _search(es: Any, alias: str, **params: Any) -> list[dict[str, Any]]:
    body = build_search(SearchParams(**params), _now())
    found = es.search(index=alias, body=body, ignore_unavailable=True, allow_no_indices=True)
    return [h["_source"] for h in found["hits"]["hits"]]


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_an_edited_then_withdrawn_statement_is_searchable_as_its_latest_version_and_alerts_once_per_change(
    alerts_settings: AlertsSettings,
    topics: Any,
    receiver: Any,
    es_client: Any,
    server: LoopbackServer,
    tmp_path: Path,
) -> None:
    first, original, edited, withdrawn = _versions(server, tmp_path)
    assert (original.version, edited.version, withdrawn.version) == (1, 2, 3)
    state = DedupState()
    reports: list[Report] = [r for raw in (first, original) for r in extract(raw, state)]
    (edit_report,) = extract(edited, state)
    (gone_report,) = extract(withdrawn, state)
    statement_id = edit_report.report_id
    assert gone_report.report_id == statement_id == reports[1].report_id

    alias = alerts_settings.index_alias
    indexer = Indexer(
        IndexerSettings(
            namespace=alerts_settings.namespace,
            kafka_bootstrap_servers=alerts_settings.kafka_bootstrap_servers,
            elasticsearch_url=alerts_settings.elasticsearch_url,
            indexer_group_id=f"{alerts_settings.namespace}-indexer",
        )
    )
    alerts = AlertsService(alerts_settings)
    hook = receiver()
    alerts.store.put(
        Subscription(
            name="edited or withdrawn statements",
            filters=Filters(change=["edited", "withdrawn"]),
            channel=Channel(kind="webhook", url=hook.url, secret="statements-secret-0123"),
            mode=Mode.PER_STORY,
        )
    )
    threads = [threading.Thread(target=s.run, daemon=True) for s in (indexer, alerts)]
    for t in threads:
        t.start()

    def send(*batch: Report) -> None:
        produce(
            alerts_settings.kafka_bootstrap_servers,
            topics.report,
            [r.model_dump_json().encode() for r in batch],
        )

    def statement_doc() -> dict[str, Any] | None:
        try:
            found = _search(es_client, alias, q="Tegh")
        except ApiError:  # the month's index is being created: its shard is not started yet
            return None
        return found[0] if found else None

    def alert_bodies() -> list[dict[str, Any]]:
        return [json.loads(body) for _, body, _ in hook.ok()]

    try:
        send(*reports)
        wait_for(lambda: statement_doc() is not None, timeout_s=60, what="the first version")
        send(edit_report)
        wait_for(lambda: (statement_doc() or {}).get("version") == 2, timeout_s=60, what="the edit")
        doc = statement_doc() or {}
        assert "No shots were fired" in doc["body"] and doc["change"] == "edited"
        diff_hits = es_client.search(index=alias, query={"match": {"diff": "denied"}})
        assert [h["_id"] for h in diff_hits["hits"]["hits"]] == [statement_id]
        assert _search(es_client, alias, q="Armenian forces fired") == []  # replaced, not kept

        send(gone_report)
        wait_for(lambda: len(alert_bodies()) >= 2, timeout_s=60, what="an alert per change")
        withdrawn_hits = _search(es_client, alias, changes=["withdrawn"])
        assert [(h["report_id"], h["version"]) for h in withdrawn_hits] == [(statement_id, 3)]
        assert withdrawn_hits[0]["withdrawn_at"]

        # re-deliveries of every version, the oldest last: nothing new, the newest stays
        send(reports[1], edit_report, gone_report, reports[1])
        bootstrap = alerts_settings.kafka_bootstrap_servers
        wait_for(
            lambda: _caught_up(bootstrap, indexer.settings.indexer_group_id, topics.report),
            timeout_s=60,
            what="the indexer to have written every copy",
        )
        # only the current version's copy was announced: a stale one changed nothing
        assert len(read_topic(bootstrap, topics.indexed, expect=6, timeout_s=5)) == 5
        wait_for(
            lambda: _caught_up(bootstrap, alerts_settings.alerts_group_id, topics.indexed),
            timeout_s=60,
            what="the alerts service to have matched every announcement",
        )
        assert (statement_doc() or {}).get("version") == 3
        changes = sorted((a["alert"]["version"], a["alert"]["change"]) for a in alert_bodies())
        assert changes == [(2, "edited"), (3, "withdrawn")]
    finally:
        indexer.stopping.set()
        alerts.stopping.set()
        for t in threads:
            t.join(timeout=30)


def _caught_up(bootstrap: str, group: str, topic: str) -> bool:
    """The group committed everything the topic holds (so its matches were decided)."""
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    # same group id, never subscribes: it only reads the group's committed offsets
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        ends = consumer.end_offsets(tps)
        return all((consumer.committed(tp) or 0) >= end for tp, end in ends.items())
    finally:
        consumer.close()
