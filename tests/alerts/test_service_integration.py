"""The alerts service on real Kafka and Elasticsearch: indexed topic in, alerts and webhooks out."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from schemas.report import EntityType
from services.alerts.app import AlertsService
from services.alerts.delivery import ALERT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from services.alerts.models import Channel, Filters, Mode, Subscription
from services.alerts.settings import AlertsSettings
from tests.alerts.conftest import indexed_event, produce, read_topic
from tests.alerts.factories import corpus, make_report
from tests.support import wait_for

pytestmark = pytest.mark.integration

PASHINYAN = "person:nikol-pashinyan"  # in rep-00001, -00002, -00010: all story-brussels


@pytest.fixture
def running(alerts_settings: AlertsSettings, topics) -> Iterator[AlertsService]:  # type: ignore[no-untyped-def]
    service = AlertsService(alerts_settings)
    service.store.ensure()
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    yield service
    service.stopping.set()
    thread.join(timeout=30)


def _webhook_sub(url: str, mode: Mode = Mode.PER_STORY) -> Subscription:
    return Subscription(
        name="pashinyan",
        filters=Filters(entity=[PASHINYAN]),
        channel=Channel(kind="webhook", url=url, secret="test-secret-0123456789"),
        mode=mode,
    )


def test_webhook_is_signed_retried_and_sent_once_per_story(
    running: AlertsService, topics, index_reports, report_alias, receiver, kafka_bootstrap
) -> None:  # type: ignore[no-untyped-def]
    hook = receiver([500, 503])  # two failures, then success
    sub = running.store.put(_webhook_sub(hook.url))
    reports = corpus()
    index_reports(reports)
    events = [indexed_event(r, report_alias).model_dump_json().encode() for r in reports]
    produce(kafka_bootstrap, topics.indexed, events)

    ok = wait_for(hook.ok, timeout_s=60, what="a successful webhook delivery")
    headers, body, _ = ok[0]
    assert verify(
        "test-secret-0123456789", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER]
    )
    assert len(hook.requests) == 3  # 500, 503, 200: the same alert each time
    assert len({b for _, b, _ in hook.requests}) == 1
    alerts = [
        Alert.model_validate_json(r.value)
        for r in read_topic(kafka_bootstrap, topics.alert, expect=1)
    ]
    assert len(alerts) == 1
    assert alerts[0].count == 3 and alerts[0].story_id == "story-brussels"
    assert sorted(alerts[0].report_ids) == ["rep-00001", "rep-00002", "rep-00010"]

    log = wait_for(
        lambda: (
            [d["outcome"] for d in running.store.deliveries(sub.id)]
            if len(running.store.deliveries(sub.id)) >= 3
            else None
        ),
        what="three delivery log lines",
    )
    assert sorted(log) == ["retried", "retried", "sent"]

    # A replay and a new version of the same story: no second webhook, the count grows.
    late = make_report(
        "rep-00013",
        "Pashinyan comments on Brussels meeting",
        story_id="story-brussels",
        entities=[(PASHINYAN, "Nikol Pashinyan", EntityType.PERSON)],
    )
    index_reports([late])
    produce(
        kafka_bootstrap,
        topics.indexed,
        events + [indexed_event(late, report_alias).model_dump_json().encode()],
    )
    wait_for(
        lambda: any(s.count == 4 for s in running.store.stories(sub.id)),
        what="the story count to reach 4",
    )
    assert len(hook.ok()) == 1
    assert len(read_topic(kafka_bootstrap, topics.alert, expect=2, timeout_s=3)) == 1


def test_webhook_failing_every_attempt_is_dead_lettered(
    running: AlertsService, topics, index_reports, report_alias, receiver, kafka_bootstrap
) -> None:  # type: ignore[no-untyped-def]
    hook = receiver([500] * 10)
    sub = running.store.put(_webhook_sub(hook.url, Mode.EVERY))
    reports = [r for r in corpus() if r.report_id == "rep-00001"]
    index_reports(reports)
    produce(
        kafka_bootstrap,
        topics.indexed,
        [indexed_event(reports[0], report_alias).model_dump_json().encode()],
    )

    letters = read_topic(kafka_bootstrap, topics.deadletter, expect=1, timeout_s=60)
    letter = DeadLetter.model_validate_json(letters[0].value)
    assert letter.stage == "delivery" and letter.attempts == 3
    assert Alert.model_validate_json(letter.payload()).subscription_id == sub.id
    assert len(hook.requests) == 3
    outcomes = wait_for(
        lambda: (
            sorted(d["outcome"] for d in running.store.deliveries(sub.id))
            if len(running.store.deliveries(sub.id)) >= 3
            else None
        ),
        what="delivery log",
    )
    assert outcomes == ["failed", "retried", "retried"]


def test_invalid_indexed_event_is_dead_lettered_and_the_service_goes_on(
    running: AlertsService, topics, index_reports, report_alias, kafka_bootstrap
) -> None:  # type: ignore[no-untyped-def]
    sub = running.store.put(
        Subscription(query="ceasefire", channel=Channel(kind="kafka"), mode=Mode.EVERY)
    )
    reports = corpus()
    index_reports(reports)
    good = [indexed_event(r, report_alias).model_dump_json().encode() for r in reports]
    produce(kafka_bootstrap, topics.indexed, [b"{not json", *good])
    letters = read_topic(kafka_bootstrap, topics.deadletter, expect=1, timeout_s=30)
    assert DeadLetter.model_validate_json(letters[0].value).stage == "alert"
    alerts = read_topic(kafka_bootstrap, topics.alert, expect=1, timeout_s=30)
    assert Alert.model_validate_json(alerts[0].value).report_ids == ["rep-00005"]
    wait_for(lambda: running.store.deliveries(sub.id), what="kafka delivery log line")


def test_a_replayed_alert_is_posted_once_and_junk_on_the_alert_topic_is_dead_lettered(
    running: AlertsService, topics, receiver, kafka_bootstrap
) -> None:  # type: ignore[no-untyped-def]
    hook = receiver()
    sub = running.store.put(_webhook_sub(hook.url))
    wait_for(lambda: sub.id in running.cache.get(), what="the dispatcher to know the subscription")

    def alert(alert_id: str, count: int = 1) -> bytes:
        return (
            Alert(
                alert_id=alert_id,
                subscription_id=sub.id,
                report_ids=["rep-00001"],
                story_id="story-brussels",
                count=count,
                matched_at=datetime.now(UTC),
            )
            .model_dump_json()
            .encode()
        )

    key = sub.id.encode()  # as the matcher keys them: one partition, in order
    junk = [b"not json", b"\xff\xfe", b"[]", b'{"schema_version": 1}']
    produce(kafka_bootstrap, topics.alert, [*junk, alert("a1"), alert("a1", 2)], key=key)
    wait_for(hook.ok, timeout_s=30, what="the first delivery")
    # Replayed after it was delivered (a crash before the commit); then a sentinel behind it.
    produce(kafka_bootstrap, topics.alert, [alert("a1", 3), alert("a2")], key=key)
    delivered = wait_for(
        lambda: hook.ok() if len(hook.ok()) >= 2 else None, timeout_s=30, what="the sentinel"
    )
    assert [h[ALERT_ID_HEADER] for h, _, _ in delivered] == ["a1", "a2"]
    assert json.loads(delivered[0][1])["alert"]["count"] == 1
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in read_topic(kafka_bootstrap, topics.deadletter, expect=len(junk))
    ]
    assert sorted(letter.payload() for letter in letters) == sorted(junk)
    assert {(letter.stage, letter.error_type) for letter in letters} == {
        ("delivery", "invalid_alert")
    }


def test_subscriptions_survive_a_restart(alerts_settings: AlertsSettings, es_client) -> None:  # type: ignore[no-untyped-def]
    first = AlertsService(alerts_settings, es=es_client, producer=_NoProducer())
    sub = first.store.put(Subscription(name="keep me", query="Shusha"))
    second = AlertsService(alerts_settings, es=es_client, producer=_NoProducer())
    assert second.cache.get(force=True)[sub.id].name == "keep me"


def test_many_subscriptions_saved_at_once_are_all_listed_right_after(
    alerts_settings: AlertsSettings,
    es_client,  # type: ignore[no-untyped-def]
) -> None:
    store = AlertsService(alerts_settings, es=es_client, producer=_NoProducer()).store
    subs = [Subscription(name=f"bulk {i}", query=f"Lachin {i}") for i in range(30)]
    store.put_many(subs)
    assert {s.id for s in store.list_subscriptions()} >= {s.id for s in subs}


class _NoProducer:
    def send(self, *a: object, **k: object) -> None:
        raise AssertionError("not used")


def test_digest_subscription_sends_one_alert_per_story_when_its_window_ends(
    alerts_settings: AlertsSettings, topics, index_reports, report_alias, kafka_bootstrap
) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    service = AlertsService(alerts_settings)
    sub = service.store.put(
        Subscription(
            filters=Filters(entity=[PASHINYAN]),
            channel=Channel(kind="kafka"),
            mode=Mode.DIGEST,
            digest_minutes=30,
        )
    )
    reports = corpus()
    index_reports(reports)
    now = datetime.now(UTC)
    assert service.process([indexed_event(r, report_alias) for r in reports], now) == []
    service.store.es.indices.refresh(index=service.store.state_index)
    assert service.flush_digests(now + timedelta(minutes=5)) == []
    digest = service.flush_digests(now + timedelta(minutes=31))
    assert [(a.subscription_id, a.story_id, a.count) for a in digest] == [
        (sub.id, "story-brussels", 3)
    ]
    service.store.es.indices.refresh(index=service.store.state_index)
    assert service.flush_digests(now + timedelta(minutes=62)) == []  # nothing new since
    service.producer.close()
    service.delivery_log.close()
