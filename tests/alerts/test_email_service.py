"""The alerts service on real Kafka and Elasticsearch with email subscriptions and a real SMTP
server: an immediate email per story, and an hourly digest that waits for its slot."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from services.alerts import app as alerts_app
from services.alerts.app import AlertsService
from services.alerts.channelconfig import EmailConfig, Schedule
from services.alerts.models import Channel, ChannelKind, Filters, Mode, Subscription
from services.alerts.settings import AlertsSettings
from tests.alerts.conftest import indexed_event, produce
from tests.alerts.factories import corpus
from tests.alerts.smtp import Mailbox, smtp_server
from tests.support import wait_for

pytestmark = pytest.mark.integration

PASHINYAN = "person:nikol-pashinyan"  # rep-00001, -00002, -00010: story-brussels


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def running(alerts_settings: AlertsSettings, topics, mailbox: Mailbox) -> Iterator[AlertsService]:  # type: ignore[no-untyped-def]
    settings = alerts_settings.model_copy(
        update={
            "alerts_smtp_port": mailbox.port,
            "alerts_smtp_security": "none",
            "alerts_digest_check_s": 0.2,
        }
    )
    service = AlertsService(settings)
    service.store.ensure()
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    yield service
    service.stopping.set()
    thread.join(timeout=30)


def _sub(schedule: Schedule) -> Subscription:
    return Subscription(
        name=f"pashinyan {schedule.value}",
        filters=Filters(entity=[PASHINYAN]),
        mode=Mode.PER_STORY,
        channel=Channel(
            kind=ChannelKind.EMAIL, email=EmailConfig(to=["a@example.org"], schedule=schedule)
        ),
    )


def _feed(running: AlertsService, index_reports, report_alias, kafka_bootstrap, topics) -> None:  # type: ignore[no-untyped-def]
    reports = corpus()
    index_reports(reports)
    events = [indexed_event(r, report_alias).model_dump_json().encode() for r in reports]
    produce(kafka_bootstrap, topics.indexed, events)


def test_an_immediate_email_per_story_with_its_versions_from_the_index(
    running: AlertsService, mailbox: Mailbox, index_reports, report_alias, kafka_bootstrap, topics
) -> None:  # type: ignore[no-untyped-def]
    running.store.put(_sub(Schedule.IMMEDIATE))
    _feed(running, index_reports, report_alias, kafka_bootstrap, topics)
    (msg,) = wait_for(lambda: list(mailbox.messages), timeout_s=60, what="one email")
    text = msg.get_body(("plain",)).get_content()
    assert "Pashinyan meets Aliyev in Brussels" in text and "3 report(s)" in text
    assert text.count("\n   [") >= 3  # each version under its side


def test_an_hourly_digest_waits_for_its_slot_and_survives_a_restart(
    running: AlertsService,
    mailbox: Mailbox,
    index_reports,
    report_alias,
    kafka_bootstrap,
    topics,
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    sub = running.store.put(_sub(Schedule.HOURLY))
    _feed(running, index_reports, report_alias, kafka_bootstrap, topics)
    wait_for(lambda: running.store.digest_items().get(sub.id), timeout_s=60, what="a queued alert")
    assert not mailbox.messages  # queued, not sent: the slot is up to an hour away
    # A restart: the queue is in Elasticsearch, not in the stopped process.
    running.stopping.set()
    restarted = AlertsService(running.settings)
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    monkeypatch.setattr(alerts_app, "_utcnow", lambda: later)
    thread = threading.Thread(target=restarted.run, daemon=True)
    thread.start()
    try:
        (msg,) = wait_for(lambda: list(mailbox.messages), timeout_s=60, what="the digest")
        assert "1 story (" in str(msg["Subject"])
        assert "Pashinyan meets Aliyev in Brussels" in msg.get_body(("plain",)).get_content()
        wait_for(lambda: not restarted.store.digest_items().get(sub.id), what="the queue emptied")
    finally:
        restarted.stopping.set()
        thread.join(timeout=30)
