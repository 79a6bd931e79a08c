"""The HTTP API: subscriptions CRUD, pause/resume, delivery log, SSE streams and the live feed."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator

import httpx
import pytest

from schemas.alert import Alert
from services.alerts.settings import AlertsSettings
from services.api.app import create_app
from services.search.settings import SearchSettings
from tests.alerts.conftest import indexed_event, produce, serve, sse_events
from tests.alerts.factories import corpus
from tests.support import api_token, bearer

pytestmark = pytest.mark.integration
# The credential of this test's user, set by the `base_url` fixture (one test at a time).
AUTH: dict[str, str] = {}


@pytest.fixture
def base_url(alerts_settings: AlertsSettings, es_client, topics) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings = SearchSettings(
        namespace=alerts_settings.namespace,
        kafka_bootstrap_servers=alerts_settings.kafka_bootstrap_servers,
        elasticsearch_url=alerts_settings.elasticsearch_url,
    )
    app = create_app(settings, es_client, alerts_settings)
    AUTH.clear()
    AUTH.update(bearer(api_token(es_client, alerts_settings.namespace, "viewer")))
    with serve(app) as url:
        yield url
    app.state.alerts.hub.stop()


def test_subscription_lifecycle_create_list_update_pause_resume_delete(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10, headers=AUTH) as http:
        created = http.post(
            "/v1/subscriptions",
            json={
                "name": "Shusha shelling",
                "query": "shelling AND Shusha",
                "filters": {"lang": ["en", "ru"], "event": ["shelling_strike"]},
                "channel": {"kind": "webhook", "url": "http://127.0.0.1:9/hook"},
                "mode": "per_story",
            },
        )
        assert created.status_code == 201, created.text
        sub = created.json()
        assert len(sub["channel"]["secret"]) >= 32  # shown once, at creation
        sid = sub["id"]

        listed = http.get("/v1/subscriptions").json()
        assert [s["id"] for s in listed["subscriptions"]] == [sid]
        assert listed["subscriptions"][0]["channel"]["secret"] == "***"

        changed = http.patch(f"/v1/subscriptions/{sid}", json={"query": "Shusha", "mode": "digest"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["query"] == "Shusha" and changed.json()["mode"] == "digest"
        assert changed.json()["filters"]["lang"] == ["en", "ru"]

        assert http.post(f"/v1/subscriptions/{sid}/pause").json()["active"] is False
        assert http.get(f"/v1/subscriptions/{sid}").json()["active"] is False
        assert http.post(f"/v1/subscriptions/{sid}/resume").json()["active"] is True

        log = http.get(f"/v1/subscriptions/{sid}/deliveries").json()
        assert log["deliveries"] == [] and log["counts"] == {}

        assert http.delete(f"/v1/subscriptions/{sid}").status_code == 204
        assert http.get(f"/v1/subscriptions/{sid}").status_code == 404
        assert http.delete(f"/v1/subscriptions/{sid}").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": '"unclosed'}, "not closed"),
        ({"filters": {"event": ["earthquake"]}}, "event"),
        ({"channel": {"kind": "webhook", "url": "http://169.254.169.254/latest"}}, "metadata"),
        ({"channel": {"kind": "webhook", "url": "http://10.1.2.3/hook"}}, "private"),
        ({"channel": {"kind": "webhook"}}, "url"),
        ({"mode": "sometimes"}, "mode"),
    ],
)
def test_invalid_subscription_is_refused_with_a_reason(
    base_url: str,
    body: dict,
    message: str,  # type: ignore[type-arg]
) -> None:
    response = httpx.post(
        f"{base_url}/v1/subscriptions", headers=AUTH, json={"name": "x", **body}, timeout=10
    )
    assert response.status_code in (400, 422), response.text
    assert message in response.text


def _stream(url: str, out: queue.Queue, stop: threading.Event) -> None:  # type: ignore[type-arg]
    try:
        with httpx.stream("GET", url, headers=AUTH, timeout=httpx.Timeout(60, read=60)) as response:
            for event in sse_events(response.iter_lines()):
                out.put(event)
                if stop.is_set():
                    return
    except httpx.HTTPError:
        return  # the server went away at the end of the test


def _open(url: str) -> tuple[queue.Queue, threading.Event]:  # type: ignore[type-arg]
    events: queue.Queue = queue.Queue()  # type: ignore[type-arg]
    stop = threading.Event()
    threading.Thread(target=_stream, args=(url, events, stop), daemon=True).start()
    event, data = events.get(timeout=30)
    assert event == "ready" and data["ready"], data
    return events, stop


def test_live_feed_streams_new_reports_that_match_its_filters_only(
    base_url: str, topics, index_reports, report_alias, kafka_bootstrap
) -> None:  # type: ignore[no-untyped-def]
    events, stop = _open(f"{base_url}/v1/live?lang=ru&q=Пашинян")
    reports = corpus()
    index_reports(reports)
    produce(
        kafka_bootstrap,
        topics.indexed,
        [indexed_event(r, report_alias).model_dump_json().encode() for r in reports],
    )
    event, data = events.get(timeout=30)
    stop.set()
    assert event == "report"
    assert data["report_id"] == "rep-00002" and data["language"] == "ru"
    assert events.empty()


def test_subscription_stream_delivers_its_alerts(base_url: str, topics, kafka_bootstrap) -> None:  # type: ignore[no-untyped-def]
    sid = httpx.post(
        f"{base_url}/v1/subscriptions", headers=AUTH, json={"name": "s", "query": "x"}, timeout=30
    ).json()["id"]
    events, stop = _open(f"{base_url}/v1/subscriptions/{sid}/stream")
    other = Alert(
        alert_id="a0",
        subscription_id="other",
        report_ids=["r0"],
        story_id="s0",
        matched_at="2026-11-23T09:00:00Z",
    )
    mine = Alert(
        alert_id="a1",
        subscription_id=sid,
        report_ids=["r1"],
        story_id="s1",
        headline="Ceasefire",
        matched_at="2026-11-23T09:00:00Z",
    )
    produce(
        kafka_bootstrap,
        topics.alert,
        [other.model_dump_json().encode(), mine.model_dump_json().encode()],
    )
    event, data = events.get(timeout=30)
    stop.set()
    assert (event, data["alert_id"], data["headline"]) == ("alert", "a1", "Ceasefire")
    log = httpx.get(f"{base_url}/v1/subscriptions/{sid}/deliveries", headers=AUTH).json()
    assert log["counts"] == {"sent": 1} and log["deliveries"][0]["channel"] == "sse"


def test_live_feed_refuses_an_invalid_query(base_url: str) -> None:
    response = httpx.get(
        f"{base_url}/v1/live", headers=AUTH, params={"q": "(ceasefire"}, timeout=10
    )
    assert response.status_code == 400
    assert "parenthesis" in json.loads(response.text)["detail"]


def test_webhook_urls_with_control_characters_are_refused_and_old_ones_do_not_break_the_api(
    base_url: str, alerts_settings: AlertsSettings, es_client
) -> None:  # type: ignore[no-untyped-def]
    from services.alerts.models import Channel, Subscription
    from services.alerts.store import AlertStore

    hostile = "https://example.org/\x01hook"
    with httpx.Client(base_url=base_url, timeout=10, headers=AUTH) as http:
        created = http.post(
            "/v1/subscriptions", json={"channel": {"kind": "webhook", "url": hostile}}
        )
        assert created.status_code == 400 and "control character" in created.text
        sid = http.post("/v1/subscriptions", json={"name": "ok"}).json()["id"]
        patched = http.patch(
            f"/v1/subscriptions/{sid}", json={"channel": {"kind": "webhook", "url": hostile}}
        )
        assert patched.status_code == 400

        # One saved before the rule: listed without it, shown as invalid, deletable.
        store = AlertStore(es_client, alerts_settings.index_prefix())
        old = Subscription(channel=Channel(kind="webhook", url="https://example.org/h"))
        doc = old.model_dump(mode="json")
        doc["channel"]["url"] = hostile
        es_client.index(index=store.subscriptions_index, id=old.id, document=doc, refresh=True)
        # It has no owner (saved before accounts): only an admin sees it.
        assert http.get(f"/v1/subscriptions/{old.id}").status_code == 404
        http.headers.update(bearer(api_token(es_client, alerts_settings.namespace, "admin")))
        listed = http.get("/v1/subscriptions").json()
        assert [s["id"] for s in listed["subscriptions"]] == [sid]
        assert http.get(f"/v1/subscriptions/{old.id}").status_code == 409
        assert http.delete(f"/v1/subscriptions/{old.id}").status_code == 204


def test_a_failing_channel_is_told_on_its_owners_live_feed_and_no_one_elses(
    base_url: str, alerts_settings: AlertsSettings, es_client
) -> None:  # type: ignore[no-untyped-def]
    from services.alerts.app import AlertsService
    from services.alerts.live import NOTICE_CHECK_S
    from services.alerts.models import Channel, ChannelKind, Subscription
    from services.alerts.store import AlertStore
    from tests.alerts.smtp import smtp_server

    email = {"kind": "email", "email": {"to": ["analyst@example.org"]}}
    with httpx.Client(base_url=base_url, timeout=10, headers=AUTH) as http:
        mine = http.post(
            "/v1/subscriptions", json={"name": "Tegh by email", "query": "x", "channel": email}
        ).json()["id"]
    store = AlertStore(es_client, alerts_settings.index_prefix())
    theirs = store.put(
        Subscription(
            name="someone else's",
            owner="someone-else",
            channel=Channel(kind=ChannelKind.EMAIL, email={"to": ["b@example.org"]}),
        )
    )
    events, stop = _open(f"{base_url}/v1/live?q=zqnothingmatches")
    with smtp_server() as box:
        # The real path: an SMTP server refusing for good, the alerts service's senders, its
        # failing-channel verdict (after 3 dead letters in a row) and its delivery log.
        box.refuse_next = ["550 5.1.1 mailbox unavailable"] * 6
        service = AlertsService(
            alerts_settings.model_copy(
                update={"alerts_smtp_port": box.port, "alerts_smtp_security": "none"}
            )
        )
        try:
            for sub_id in (theirs.id, mine):
                sub = store.get(sub_id)
                assert sub is not None
                for i in range(3):
                    alert = Alert(
                        alert_id=f"{sub_id}-a{i}",
                        subscription_id=sub_id,
                        report_ids=["r1"],
                        story_id=f"s{i}",
                        headline="Shelling near Tegh",
                        matched_at="2026-11-23T09:00:00Z",
                    )
                    assert not service.senders.deliver(sub, alert).delivered
        finally:
            service.delivery_log.close()
            service.senders.mailer.close()
            service.producer.close(5)
    event, data = events.get(timeout=30)
    assert event == "channel_failing", (event, data)
    assert data["subscription_id"] == mine and data["name"] == "Tegh by email"
    assert data["channel"] == "email" and "550" in data["reason"]
    # Told once, and the other user's failing channel not at all.
    with pytest.raises(queue.Empty):
        events.get(timeout=3 * NOTICE_CHECK_S)
    stop.set()
