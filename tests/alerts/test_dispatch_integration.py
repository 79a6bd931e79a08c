"""The webhook dispatcher on real Kafka: one receiver or alert cannot stop the others, an alert
that can never be delivered is dead-lettered and committed, a dead loop stops the service."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from services.alerts import metrics
from services.alerts.app import AlertsService
from services.alerts.delivery import ALERT_ID_HEADER
from services.alerts.models import Channel, Subscription
from services.alerts.settings import AlertsSettings
from tests.alerts.conftest import produce, read_topic
from tests.support import wait_for

pytestmark = pytest.mark.integration


class Running:
    def __init__(self, service: AlertsService) -> None:
        self.service = service
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.service.run()
        except BaseException as exc:
            self.error = exc


@pytest.fixture
def start(alerts_settings: AlertsSettings, topics) -> Iterator[Callable[..., Running]]:  # type: ignore[no-untyped-def]
    started: list[Running] = []

    def make(prepare: Callable[[AlertsService], None] = lambda s: None, **changes: Any) -> Running:
        service = AlertsService(alerts_settings.model_copy(update=changes))
        service.store.ensure()
        prepare(service)
        running = Running(service)
        running.thread.start()
        started.append(running)
        return running

    yield make
    for running in started:
        running.service.stopping.set()
    for running in started:
        running.thread.join(timeout=60)


def _hook(url: str, name: str) -> Subscription:
    return Subscription(
        name=name, channel=Channel(kind="webhook", url=url, secret="test-secret-0123456789")
    )


def _alert(alert_id: str, sub: Subscription) -> bytes:
    alert = Alert(
        alert_id=alert_id,
        subscription_id=sub.id,
        report_ids=["rep-00001"],
        story_id="story",
        count=1,
        matched_at=datetime.now(UTC),
    )
    return alert.model_dump_json().encode()


def _committed(settings: AlertsSettings, topic: str) -> int:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"{settings.alerts_group_id}-webhooks",
        enable_auto_commit=False,
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in parts)
    finally:
        consumer.close()


def test_a_hanging_receiver_does_not_hold_the_alerts_of_other_subscriptions(
    start, topics, receiver, kafka_bootstrap
) -> None:  # type: ignore[no-untyped-def]
    slow, healthy = receiver(hold_after=0), receiver()  # `slow` answers nothing until released
    running = start(alerts_webhook_timeout_s=30.0)
    stuck = running.service.store.put(_hook(slow.url, "slow"))
    fine = running.service.store.put(_hook(healthy.url, "healthy"))
    wait_for(lambda: fine.id in running.service.cache.get(), what="the subscriptions")

    produce(kafka_bootstrap, topics.alert, [_alert("slow-1", stuck)], key=b"same-partition")
    wait_for(lambda: slow.held >= 1, timeout_s=30, what="the slow receiver to hold a request")
    later = [_alert(f"ok-{i}", fine) for i in range(3)]
    produce(kafka_bootstrap, topics.alert, later, key=b"same-partition")

    # Generous, far below the slow receiver's 30 s timeout x 3 attempts it used to wait for.
    got = wait_for(
        lambda: healthy.ok() if len(healthy.ok()) >= 3 else None,
        timeout_s=20,
        what="the healthy receiver's alerts while the slow one hangs",
    )
    assert [h[ALERT_ID_HEADER] for h, _, _ in got] == ["ok-0", "ok-1", "ok-2"]
    assert slow.held >= 1 and not slow.ok()
    # Nothing is committed past the unfinished alert: a crash now would send it again.
    assert _committed(running.service.settings, topics.alert) == 0


def test_an_alert_whose_delivery_raises_is_dead_lettered_committed_and_the_next_one_sent(
    start, topics, receiver, kafka_bootstrap
) -> None:  # type: ignore[no-untyped-def]
    poison, healthy = receiver(), receiver()

    def hostile(service: AlertsService) -> None:
        attempt = service.webhooks._attempt

        def raising(url: str, *args: Any) -> Any:
            if url == poison.url:  # what a control character did: not an httpx.HTTPError
                raise httpx.InvalidURL("Invalid non-printable ASCII character in URL")
            return attempt(url, *args)

        service.webhooks._attempt = raising  # type: ignore[method-assign]

    running = start(hostile)
    bad = running.service.store.put(_hook(poison.url, "poison"))
    fine = running.service.store.put(_hook(healthy.url, "healthy"))
    wait_for(lambda: fine.id in running.service.cache.get(), what="the subscriptions")

    produce(kafka_bootstrap, topics.alert, [_alert("p-1", bad), _alert("ok-1", fine)], key=b"k")
    wait_for(healthy.ok, timeout_s=30, what="the alert behind the poisoned one")
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in read_topic(kafka_bootstrap, topics.deadletter, expect=1)
    ]
    assert [(d.stage, d.original_key) for d in letters] == [("delivery", "p-1")]
    assert "InvalidURL" in letters[0].reason
    wait_for(
        lambda: _committed(running.service.settings, topics.alert) == 2,
        timeout_s=30,
        what="both offsets committed (a restart does not meet the poisoned alert again)",
    )
    assert running.thread.is_alive() and not poison.requests


def test_a_dead_dispatch_loop_stops_the_service_with_an_error(start) -> None:  # type: ignore[no-untyped-def]
    crashes = metrics.THREAD_CRASHES.labels(thread="dispatch")
    before = crashes._value.get()

    def broken(service: AlertsService) -> None:
        def loop(consumer: Any) -> None:
            raise RuntimeError("bug in the dispatch loop")

        service._dispatch_loop = loop  # type: ignore[method-assign]

    running = start(broken)
    running.thread.join(timeout=60)
    assert not running.thread.is_alive(), "matching went on without a dispatcher"
    assert isinstance(running.error, RuntimeError)
    assert "bug in the dispatch loop" in repr(running.error.__cause__)
    assert crashes._value.get() == before + 1
