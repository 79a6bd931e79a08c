"""kill -9 of the alerts service between an email's send and its commit: the exactly-once
question of email, answered on the real Kafka and Elasticsearch with a real SMTP server.

The answer: at most once more, with the same Message-ID. SMTP has no idempotency key, so a
service killed after the server took the message but before it learnt so (or before it wrote
the "sent" mark) cannot know it was sent and must send again; the Message-ID is derived from
(subscription, story, version), so the resend is the same message to every mail client, which
shows it once. Nothing is sent a third time, and later alerts of the subscription go on.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from email.message import EmailMessage
from pathlib import Path

import pytest

from devtools.supervisor import ServiceProcess, wait_until
from schemas.report import Report
from schemas.topics import TopicNames
from services.alerts.channelconfig import EmailConfig
from services.alerts.dedup import alert_id
from services.alerts.emailmsg import message_id
from services.alerts.models import Channel, ChannelKind, Mode, Subscription
from services.alerts.settings import AlertsSettings
from services.alerts.store import AlertStore
from tests.alerts.conftest import indexed_event, produce
from tests.alerts.factories import make_report
from tests.alerts.smtp import smtp_server

pytestmark = pytest.mark.fault


@pytest.fixture
def alerts_process(
    alerts_settings: AlertsSettings, tmp_path: Path
) -> Iterator[Callable[[int], ServiceProcess]]:
    started: list[ServiceProcess] = []

    def start(smtp_port: int) -> ServiceProcess:
        s = alerts_settings
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
            "ELASTICSEARCH_URL": s.elasticsearch_url,
            "CWATCH_NAMESPACE": s.namespace,
            "CWATCH_ALERTS_GROUP_ID": s.alerts_group_id,
            "CWATCH_ALERTS_SUBSCRIPTION_REFRESH_S": "0.2",
            "CWATCH_ALERTS_BATCH_WAIT_MS": "100",
            "CWATCH_ALERTS_SMTP_HOST": "127.0.0.1",
            "CWATCH_ALERTS_SMTP_PORT": str(smtp_port),
            "CWATCH_ALERTS_SMTP_SECURITY": "none",
            "CWATCH_ALERTS_SMTP_FROM": "cwatch <alerts@cwatch.example>",
            "CWATCH_ALERTS_WEBHOOK_BACKOFF_S": "0.1",
            "CWATCH_ALERTS_WEBHOOK_BACKOFF_MAX_S": "0.5",
            "CWATCH_LOG_JSON": "true",
            "PYTHONPATH": str(Path.cwd()),
        }
        process = ServiceProcess("alerts", ["alerts", "run"], tmp_path / "alerts.log", env)
        started.append(process.start())
        return process

    yield start
    for process in started:
        process.stop(timeout_s=10)


def _events(reports: Sequence[Report], alias: str) -> list[bytes]:
    return [indexed_event(r, alias).model_dump_json().encode() for r in reports]


def test_a_kill_between_send_and_commit_resends_at_most_once_with_the_same_message_id(
    alerts_settings: AlertsSettings,
    es_client,  # type: ignore[no-untyped-def]
    topics: TopicNames,
    index_reports: Callable[[Sequence[Report]], None],
    report_alias: str,
    alerts_process: Callable[[int], ServiceProcess],
) -> None:
    store = AlertStore(es_client, alerts_settings.index_prefix())
    sub = store.put(
        Subscription(
            name="tegh",
            query="zqtegh",
            mode=Mode.PER_STORY,
            channel=Channel(kind=ChannelKind.EMAIL, email=EmailConfig(to=["a@example.org"])),
        )
    )
    first = make_report("rep-tegh-1", "zqtegh shelling near Tegh", story_id="story-tegh")
    later = make_report("rep-goris-1", "zqtegh drone over Goris", story_id="story-goris")
    index_reports([first, later])

    with smtp_server() as box:
        service = alerts_process(box.port)
        killed = threading.Event()

        def kill_on_first(msg: EmailMessage) -> None:
            # The server has the message; the service dies before it hears "250".
            if not killed.is_set():
                killed.set()
                service.kill()

        box.on_receive = kill_on_first
        produce(
            alerts_settings.kafka_bootstrap_servers, topics.indexed, _events([first], report_alias)
        )
        assert wait_until(killed.is_set, 120), service.log_path.read_text()[-3000:]
        assert service.process is not None and service.process.wait(30) == -signal.SIGKILL
        box.on_receive = None

        restarted = alerts_process(box.port)
        assert wait_until(lambda: len(box.messages) >= 2, 120), restarted.log_path.read_text()[
            -3000:
        ]
        # A later alert on the same subscription's lane: once it is in, any third copy of the
        # first would have been sent before it.
        produce(
            alerts_settings.kafka_bootstrap_servers, topics.indexed, _events([later], report_alias)
        )
        assert wait_until(lambda: len(box.messages) >= 3, 120), restarted.log_path.read_text()[
            -3000:
        ]

        ids = box.ids()
        tegh = message_id(sub.id, "story-tegh", alert_id(sub.id, "story-tegh"), "cwatch.example")
        goris = message_id(sub.id, "story-goris", alert_id(sub.id, "story-goris"), "cwatch.example")
        assert ids == [tegh, tegh, goris], ids  # the resend is the same message; no third copy
        assert wait_until(lambda: {d["outcome"] for d in store.deliveries(sub.id)} >= {"sent"}, 30)
