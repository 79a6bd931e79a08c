"""Accounts against the real Elasticsearch: ownership of subscriptions and their logs and
streams, revocation seen by two API instances within seconds, the audit log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.alerts.settings import AlertsSettings
from services.api.app import create_app
from services.search.settings import SearchSettings
from tests.alerts.conftest import serve
from tests.support import api_token, bearer

pytestmark = pytest.mark.integration


def _settings(namespace: str, common_settings: Any) -> SearchSettings:
    return SearchSettings(
        namespace=namespace,
        elasticsearch_url=common_settings.elasticsearch_url,
        kafka_bootstrap_servers=common_settings.kafka_bootstrap_servers,
    )


@pytest.fixture
def two_apis(namespace: str, es_client: Any, common_settings: Any) -> Iterator[list[str]]:
    """Two API instances on one store, as behind a load balancer."""
    alerts = AlertsSettings(
        namespace=namespace,
        elasticsearch_url=common_settings.elasticsearch_url,
        kafka_bootstrap_servers=common_settings.kafka_bootstrap_servers,
        alerts_allow_loopback=True,
    )
    apps = [create_app(_settings(namespace, common_settings), es_client, alerts) for _ in range(2)]
    with serve(apps[0]) as first, serve(apps[1]) as second:
        yield [first, second]
    for app in apps:
        app.state.alerts.hub.stop()


def test_a_user_cannot_see_change_delete_or_stream_anothers_subscriptions(
    two_apis: list[str], namespace: str, es_client: Any
) -> None:
    url = two_apis[0]
    alice = httpx.Client(
        base_url=url, headers=bearer(api_token(es_client, namespace, "viewer", "alice")), timeout=30
    )
    bob = httpx.Client(
        base_url=url, headers=bearer(api_token(es_client, namespace, "editor", "bob")), timeout=30
    )
    admin = httpx.Client(
        base_url=url, headers=bearer(api_token(es_client, namespace, "admin")), timeout=30
    )
    made = alice.post(
        "/v1/subscriptions",
        json={
            "name": "a",
            "channel": {"kind": "webhook", "url": "http://127.0.0.1:9/services/T1/SECRET"},
        },
    )
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    secret = made.json()["channel"]["secret"]  # shown once
    stored = es_client.get(index=f"{namespace}-cwatch-subscriptions", id=sid)["_source"]
    assert stored["owner"] == "alice" and stored["channel"]["secret"].startswith("enc:v1:")
    assert secret not in str(stored)  # a reader of the index alone cannot sign alerts
    assert bob.post("/v1/subscriptions", json={"name": "b"}).status_code == 201

    assert [s["name"] for s in alice.get("/v1/subscriptions").json()["subscriptions"]] == ["a"]
    assert [s["name"] for s in bob.get("/v1/subscriptions").json()["subscriptions"]] == ["b"]
    for method, path, body in [
        ("GET", f"/v1/subscriptions/{sid}", None),
        (
            "PATCH",
            f"/v1/subscriptions/{sid}",
            {"channel": {"kind": "webhook", "url": "https://evil.example/h"}},
        ),
        ("POST", f"/v1/subscriptions/{sid}/pause", None),
        ("POST", f"/v1/subscriptions/{sid}/resume", None),
        ("GET", f"/v1/subscriptions/{sid}/deliveries", None),
        ("GET", f"/v1/subscriptions/{sid}/stream", None),
        ("DELETE", f"/v1/subscriptions/{sid}", None),
        ("GET", f"/v1/subscriptions/{'x' * 600}", None),  # no such id can exist: 404, not 500
        ("DELETE", f"/v1/subscriptions/{'x' * 600}", None),
        ("DELETE", f"/v1/tokens/{'x' * 600}", None),
    ]:
        with bob.stream(method, path, json=body) as answer:
            assert answer.status_code == 404, (method, path, answer.status_code)
    mine = alice.get(f"/v1/subscriptions/{sid}").json()
    assert mine["active"] is True and mine["channel"]["url"] == "http://127.0.0.1:9/***"
    assert "SECRET" not in alice.get("/v1/subscriptions").text

    # An admin sees and changes everyone's, and that is in the audit log.
    assert len(admin.get("/v1/subscriptions").json()["subscriptions"]) == 2
    assert admin.post(f"/v1/subscriptions/{sid}/pause").status_code == 200
    audit = admin.get("/v1/audit", params={"action": "subscription.pause"}).json()["entries"]
    assert [(e["actor"], e["target"]) for e in audit] == [("test-admin", "alice")]
    assert alice.get("/v1/audit").status_code == 403


def test_a_revoked_token_is_refused_by_every_instance_within_seconds(
    two_apis: list[str], namespace: str, es_client: Any
) -> None:
    token = api_token(es_client, namespace, "viewer", "carol")
    for url in two_apis:  # both instances have checked (and cached) the token
        assert httpx.get(f"{url}/v1/auth/me", headers=bearer(token), timeout=30).status_code == 200
    me = httpx.get(f"{two_apis[0]}/v1/auth/me", headers=bearer(token), timeout=30).json()
    revoked = httpx.delete(
        f"{two_apis[0]}/v1/tokens/{me['credential']}", headers=bearer(token), timeout=30
    )
    assert revoked.status_code == 200
    started = time.monotonic()
    refused: dict[str, float] = {}
    while len(refused) < 2 and time.monotonic() - started < 5:
        for url in two_apis:
            if url not in refused:
                status = httpx.get(
                    f"{url}/v1/auth/me", headers=bearer(token), timeout=5
                ).status_code
                if status == 401:
                    refused[url] = time.monotonic() - started
        time.sleep(0.1)
    assert sorted(refused) == sorted(two_apis), f"refused within 5 s by {refused} only"


def test_a_disabled_user_is_refused_and_logins_are_audited(
    two_apis: list[str], namespace: str, es_client: Any
) -> None:
    url = two_apis[1]
    only_admin = bearer(api_token(es_client, namespace, "admin"))
    huge = httpx.patch(f"{url}/v1/users/{'x' * 5000}", json={"role": "viewer"}, headers=only_admin)
    assert huge.status_code == 404  # never sent to the store as an id
    demote = httpx.patch(f"{url}/v1/users/test-admin", json={"role": "viewer"}, headers=only_admin)
    assert demote.status_code == 409 and "last admin" in demote.text
    admin = httpx.Client(
        base_url=url, headers=bearer(api_token(es_client, namespace, "admin")), timeout=30
    )
    made = admin.post("/v1/users", json={"name": "dave", "password": "a long enough password"})
    assert made.status_code == 201 and "login_link" not in made.json()
    login = httpx.post(
        f"{url}/v1/auth/login", json={"username": "dave", "password": "nope nope nope"}
    )
    assert login.status_code == 401
    with httpx.Client(base_url=url, timeout=30) as browser:
        assert (
            browser.post(
                "/v1/auth/login", json={"username": "dave", "password": "a long enough password"}
            ).status_code
            == 200
        )
        assert browser.get("/v1/auth/me").json()["user"] == "dave"
        assert admin.patch("/v1/users/dave", json={"disabled": True}).status_code == 200
        time.sleep(2.5)  # past the other instance's cache
        assert browser.get("/v1/auth/me").status_code == 401
    outcomes = [
        (e["action"], e["outcome"])
        for e in admin.get("/v1/audit", params={"target": "dave"}).json()["entries"]
    ] + [
        (e["action"], e["outcome"])
        for e in admin.get("/v1/audit", params={"actor": "dave"}).json()["entries"]
    ]
    assert ("user.create", "ok") in outcomes and ("user.update", "ok") in outcomes
    assert ("login", "failed") in outcomes and ("login", "ok") in outcomes


def test_without_the_account_store_a_credential_gets_503_and_health_still_answers() -> None:
    from elasticsearch import Elasticsearch

    from services.api.app import create_app
    from services.search.settings import SearchSettings
    from tests.support import local_client

    app = create_app(SearchSettings(), es=Elasticsearch("http://127.0.0.1:9", max_retries=0))
    from services.common.auth.credentials import Kind, issue

    token = issue(Kind.TOKEN).text
    with local_client(app) as client:  # a local Host, as since the Host allow-list
        assert (
            client.get("/v1/search", headers={"Authorization": f"Bearer {token}"}).status_code
            == 503
        )
        assert client.get("/v1/search").status_code == 401  # no credential: no store needed
        assert client.get("/healthz", cookies={"cwatch_session": token}).status_code == 200
