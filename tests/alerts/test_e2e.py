"""End to end: a report produced to the report topic is indexed, matched and delivered."""

from __future__ import annotations

import threading

import pytest

from services.alerts.app import AlertsService
from services.alerts.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from services.alerts.models import Channel, Mode, Subscription
from services.alerts.settings import AlertsSettings
from services.indexer.app import Indexer
from services.indexer.settings import IndexerSettings
from tests.alerts.conftest import produce
from tests.alerts.factories import make_report
from tests.support import wait_for

pytestmark = pytest.mark.e2e


def test_report_on_the_report_topic_reaches_the_webhook(
    alerts_settings: AlertsSettings, topics, receiver, es_client
) -> None:  # type: ignore[no-untyped-def]
    hook = receiver()
    indexer = Indexer(
        IndexerSettings(
            namespace=alerts_settings.namespace,
            kafka_bootstrap_servers=alerts_settings.kafka_bootstrap_servers,
            elasticsearch_url=alerts_settings.elasticsearch_url,
            indexer_group_id=f"{alerts_settings.namespace}-indexer",
        )
    )
    alerts = AlertsService(alerts_settings)
    secret = "e2e-secret-0123456789"
    alerts.store.put(
        Subscription(
            name="Lachin",
            query="Lachin AND corridor",
            channel=Channel(kind="webhook", url=hook.url, secret=secret),
            mode=Mode.PER_STORY,
        )
    )
    threads = [threading.Thread(target=s.run, daemon=True) for s in (indexer, alerts)]
    for t in threads:
        t.start()
    try:
        reports = [
            make_report("e2e-00001", "Convoy crosses the Lachin corridor", story_id="st-lachin"),
            make_report(
                "e2e-00002",
                "Лачинский коридор: колонна прошла",
                story_id="st-lachin",
                language="ru",
            ),
            make_report("e2e-00003", "Lachin corridor reopened for aid", story_id="st-lachin"),
            make_report("e2e-00004", "Parliament debates budget", story_id="st-budget"),
        ]
        produce(
            alerts_settings.kafka_bootstrap_servers,
            topics.report,
            [r.model_dump_json().encode() for r in reports],
        )
        ok = wait_for(hook.ok, timeout_s=60, what="the webhook to receive the alert")
        headers, body, _ = ok[0]
        assert verify(secret, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
        assert b"st-lachin" in body
        wait_for(
            lambda: any(
                s.count >= 2 for s in alerts.store.stories(alerts.store.list_subscriptions()[0].id)
            ),
            what="both Lachin versions counted",
        )
        assert len(hook.ok()) == 1  # one alert for the story, not one per version
    finally:
        indexer.stopping.set()
        alerts.stopping.set()
        for t in threads:
            t.join(timeout=30)
