"""Ownership beyond subscriptions, against the real Elasticsearch: saved searches and Atom feeds
belong to a user (another user's answer 404, admins' actions on them are audited), a feed stops
answering once its target is deleted or its owner disabled, and every export is audited and
capped per user (whatever credentials they use)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from services.api.app import create_app
from services.api.exports import ExportSlots
from services.indexer.settings import IndexerSettings
from services.search.settings import SearchSettings
from tests.alerts.conftest import serve
from tests.search.conftest import corpus, index_reports
from tests.support import api_token, bearer

pytestmark = pytest.mark.integration


@pytest.fixture
def api(namespace: str, es_client: Any, common_settings: Any) -> Iterator[tuple[str, Any]]:
    settings = SearchSettings(
        namespace=namespace,
        elasticsearch_url=common_settings.elasticsearch_url,
        kafka_bootstrap_servers=common_settings.kafka_bootstrap_servers,
    )
    app = create_app(settings, es=es_client)
    index_reports(es_client, IndexerSettings(namespace=namespace), corpus())
    with serve(app) as url:
        yield url, app
    app.state.alerts.hub.stop()


def _client(url: str, es: Any, namespace: str, role: str, user: str | None = None) -> Any:
    token = api_token(es, namespace, role, user)
    return httpx.Client(base_url=url, headers=bearer(token), timeout=30)


def _audit(admin: Any, action: str) -> list[dict[str, Any]]:
    return list(admin.get("/v1/audit", params={"action": action}).json()["entries"])


def test_a_user_sees_and_deletes_only_their_own_saved_searches(
    api: tuple[str, Any], namespace: str, es_client: Any
) -> None:
    url, _ = api
    alice = _client(url, es_client, namespace, "viewer", "alice")
    bob = _client(url, es_client, namespace, "editor", "bob")
    admin = _client(url, es_client, namespace, "admin")
    made = alice.post("/v1/saved-searches", json={"name": "a", "query": "Lachin"})
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    assert made.json()["owner"] == "alice"
    assert bob.post("/v1/saved-searches", json={"name": "b"}).status_code == 201

    assert [s["name"] for s in alice.get("/v1/saved-searches").json()["saved_searches"]] == ["a"]
    assert [s["name"] for s in bob.get("/v1/saved-searches").json()["saved_searches"]] == ["b"]
    assert bob.get(f"/v1/saved-searches/{sid}").status_code == 404
    assert bob.delete(f"/v1/saved-searches/{sid}").status_code == 404
    assert bob.get(f"/v1/saved-searches/{'x' * 600}").status_code == 404  # not a 500
    assert alice.get(f"/v1/saved-searches/{sid}").json()["query"] == "Lachin"

    assert len(admin.get("/v1/saved-searches").json()["saved_searches"]) == 2
    assert admin.delete(f"/v1/saved-searches/{sid}").status_code == 204
    audit = _audit(admin, "saved_search.delete")
    assert [(e["actor"], e["target"]) for e in audit] == [("test-admin", "alice")]
    assert alice.get(f"/v1/saved-searches/{sid}").status_code == 404


def test_feeds_belong_to_their_targets_owner_and_stop_with_it(
    api: tuple[str, Any], namespace: str, es_client: Any
) -> None:
    url, _ = api
    alice = _client(url, es_client, namespace, "viewer", "alice")
    bob = _client(url, es_client, namespace, "editor", "bob")
    admin = _client(url, es_client, namespace, "admin")
    saved = alice.post("/v1/saved-searches", json={"name": "a"}).json()["id"]
    sub = alice.post("/v1/subscriptions", json={"name": "s", "query": "x"}).json()["id"]
    for target, target_id in (("saved_search", saved), ("subscription", sub)):
        ask = {"target": target, "id": target_id}
        assert bob.post("/v1/feeds", json=ask).status_code == 404, target
        assert bob.get("/v1/feeds", params=ask).status_code == 404, target
    made = alice.post("/v1/feeds", json={"target": "saved_search", "id": saved})
    assert made.status_code == 201, made.text
    feed_id, path = made.json()["feed_id"], urlsplit(made.json()["url"]).path
    assert made.json()["owner"] == "alice"
    listed = alice.get("/v1/feeds", params={"target": "saved_search", "id": saved}).json()
    assert [f["feed_id"] for f in listed["feeds"]] == [feed_id]
    assert bob.delete(f"/v1/feeds/{feed_id}").status_code == 404

    reader = httpx.Client(base_url=url, timeout=30)  # a feed reader: no account
    assert reader.get(path).status_code == 200
    assert admin.patch("/v1/users/alice", json={"disabled": True}).status_code == 200
    gone = reader.get(path)
    assert gone.status_code == 404 and gone.json()["detail"] == "no such feed"
    assert admin.patch("/v1/users/alice", json={"disabled": False}).status_code == 200
    assert reader.get(path).status_code == 200

    sub_feed = alice.post("/v1/feeds", json={"target": "subscription", "id": sub}).json()
    sub_path = urlsplit(sub_feed["url"]).path
    assert reader.get(sub_path).status_code == 200
    assert alice.delete(f"/v1/subscriptions/{sub}").status_code == 204
    gone = reader.get(sub_path)
    assert gone.status_code == 404 and gone.json()["detail"] == "no such feed"

    # An admin revokes anyone's feed, and that is in the audit log.
    assert admin.delete(f"/v1/feeds/{feed_id}").status_code == 204
    assert reader.get(path).status_code == 404
    audit = _audit(admin, "feed.revoke")
    assert [(e["actor"], e["target"]) for e in audit] == [("test-admin", "alice")]


def test_every_export_is_audited_with_its_size_and_capped_per_user(
    api: tuple[str, Any], namespace: str, es_client: Any
) -> None:
    url, app = api
    alice = _client(url, es_client, namespace, "viewer", "alice")
    alice_again = _client(url, es_client, namespace, "viewer", "alice")  # a second token
    bob = _client(url, es_client, namespace, "viewer", "bob")
    admin = _client(url, es_client, namespace, "admin")
    done = alice.get("/v1/export", params={"format": "jsonl"})
    assert done.status_code == 200, done.text
    rows = len(done.text.splitlines())
    audit = _audit(admin, "export")
    assert [(e["actor"], e["detail"]["reports"], e["detail"]["format"]) for e in audit] == [
        ("alice", rows, "jsonl")
    ]

    app.state.export_slots = slots = ExportSlots(4, 1)
    held = slots.take("alice")  # alice's one export is running
    assert callable(held)
    busy = alice_again.get("/v1/export")
    assert busy.status_code == 429 and "CWATCH_EXPORT_MAX_PER_USER" in busy.json()["detail"]
    assert bob.get("/v1/export").status_code == 200
    held()
    assert alice_again.get("/v1/export").status_code == 200
