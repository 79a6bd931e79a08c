"""The subscriptions API for the new channels: an email subscription, its signed pause and
unsubscribe links, and the delivery log saying when a channel keeps failing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.alerts.emailmsg import link
from services.alerts.models import Subscription
from services.alerts.settings import AlertsSettings
from services.alerts.store import AlertStore
from services.api.app import create_app
from services.search.settings import SearchSettings
from tests.alerts.conftest import serve
from tests.support import api_token, bearer

pytestmark = pytest.mark.integration


@pytest.fixture
def base_url(alerts_settings: AlertsSettings, es_client, topics) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings = SearchSettings(
        namespace=alerts_settings.namespace,
        kafka_bootstrap_servers=alerts_settings.kafka_bootstrap_servers,
        elasticsearch_url=alerts_settings.elasticsearch_url,
    )
    app = create_app(settings, es_client, alerts_settings)
    with serve(app) as url:
        yield url
    app.state.alerts.hub.stop()


def _client(url: str, settings: AlertsSettings, es_client) -> httpx.Client:  # type: ignore[no-untyped-def]
    """A viewer's client: every subscription route needs a credential since accounts."""
    token = api_token(es_client, settings.namespace, "viewer")
    return httpx.Client(base_url=url, headers=bearer(token), timeout=10)


def _email(http: httpx.Client) -> Subscription:
    created = http.post(
        "/v1/subscriptions",
        json={
            "name": "Syunik",
            "query": "Syunik",
            "channel": {
                "kind": "email",
                "email": {
                    "to": ["analyst@example.org"],
                    "schedule": "daily",
                    "daily_at": "07:30",
                    "timezone": "Asia/Yerevan",
                },
            },
        },
    )
    assert created.status_code == 201, created.text
    return Subscription.model_validate(created.json())  # with its secret, shown once


def test_an_email_subscription_is_paused_only_by_a_post_on_its_signed_link(
    base_url: str, alerts_settings: AlertsSettings, es_client
) -> None:  # type: ignore[no-untyped-def]
    with _client(base_url, alerts_settings, es_client) as http:
        sub = _email(http)
        assert http.get(f"/v1/subscriptions/{sub.id}").json()["channel"]["secret"] == "***"
        url = urlsplit(link(base_url, sub, "pause"))
        query = {k: v[0] for k, v in parse_qs(url.query).items()}

        page = http.get(url.path, params=query)
        assert page.status_code == 200 and "<form" in page.text
        assert http.get(f"/v1/subscriptions/{sub.id}").json()["active"] is True  # GET: no change

        forged = http.post(url.path, params={**query, "token": "0" * 32})
        assert forged.status_code == 403
        other_action = http.post(url.path, params={**query, "action": "delete"})
        assert other_action.status_code == 403  # a pause token does not delete

        done = http.post(url.path, params=query, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200, done.text
        assert http.get(f"/v1/subscriptions/{sub.id}").json()["active"] is False


def test_the_unsubscribe_link_deletes_the_subscription(
    base_url: str, alerts_settings: AlertsSettings, es_client
) -> None:  # type: ignore[no-untyped-def]
    with _client(base_url, alerts_settings, es_client) as http:
        sub = _email(http)
        url = urlsplit(link(base_url, sub, "delete"))
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert http.post(url.path, params=query).status_code == 200
        assert http.get(f"/v1/subscriptions/{sub.id}").status_code == 404
        assert http.post(url.path, params=query).status_code == 403  # not valid any more


def test_the_deliveries_view_says_when_a_channel_keeps_failing_and_when_it_recovered(
    base_url: str, alerts_settings: AlertsSettings, es_client
) -> None:  # type: ignore[no-untyped-def]
    store = AlertStore(es_client, alerts_settings.index_prefix())
    with _client(base_url, alerts_settings, es_client) as http:
        sub = _email(http)
        at = datetime.now(UTC) - timedelta(minutes=5)
        for i, outcome in enumerate(("sent", "failed", "failed", "channel_failing")):
            when = at + timedelta(seconds=i)  # the view orders by time: no ties
            store.log_delivery(sub.id, "a1", "email", outcome, error="SMTP 550 denied", at=when)
        view = http.get(f"/v1/subscriptions/{sub.id}/deliveries").json()
        assert view["failing"] is True and view["counts"]["failed"] == 2
        listed = http.get("/v1/subscriptions").json()["subscriptions"]  # the log is refreshed
        assert [s["failing"] for s in listed if s["id"] == sub.id] == [True]
        assert any(d["error"] == "SMTP 550 denied" for d in view["deliveries"])
        store.log_delivery(sub.id, "a2", "email", "sent")
        assert http.get(f"/v1/subscriptions/{sub.id}/deliveries").json()["failing"] is False
        listed = http.get("/v1/subscriptions").json()["subscriptions"]
        assert [s["failing"] for s in listed if s["id"] == sub.id] == [False]


def test_a_chat_subscription_to_a_refused_address_is_refused(
    alerts_settings: AlertsSettings, es_client, topics
) -> None:  # type: ignore[no-untyped-def]
    strict = alerts_settings.model_copy(update={"alerts_allow_loopback": False})
    settings = SearchSettings(
        namespace=strict.namespace,
        kafka_bootstrap_servers=strict.kafka_bootstrap_servers,
        elasticsearch_url=strict.elasticsearch_url,
    )
    app = create_app(settings, es_client, strict)
    try:
        with serve(app) as url, _client(url, strict, es_client) as http:
            answer = http.post(
                "/v1/subscriptions",
                json={"channel": {"kind": "slack", "url": "http://127.0.0.1:9/services/x"}},
            )
            assert answer.status_code == 400 and "refused" in answer.text
    finally:
        app.state.alerts.hub.stop()
