"""Atom feeds of saved searches and subscriptions, over the real Elasticsearch, read with
feedparser through the URL (token included) that the API hands out."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest

pytestmark = pytest.mark.integration


def _feed_path(api: Any, target: str, target_id: str) -> tuple[str, str]:
    made = api.post("/v1/feeds", json={"target": target, "id": target_id})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["url"].endswith(body["token"]) and "secret_sha256" not in body
    return urlsplit(body["url"]).path, body["feed_id"]


def _parse(api: Any, path: str) -> Any:
    response = api.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_a_saved_search_feed_lists_its_matches_newest_first(api: Any) -> None:
    saved = api.post(
        "/v1/saved-searches", json={"name": "Pashinyan", "query": "Pashinyan", "filters": {}}
    )
    assert saved.status_code == 201, saved.text
    path, _ = _feed_path(api, "saved_search", saved.json()["id"])
    parsed = _parse(api, path)
    assert parsed.feed.title == "caucasus-watch: Pashinyan"
    assert [e.id for e in parsed.entries] == [
        "urn:cwatch:report:r-en-ceasefire",
        "urn:cwatch:report:r-ru-ceasefire",
        "urn:cwatch:report:r-hy-talks",
    ]
    first = parsed.entries[0]
    assert first.author == "Example Wire"
    assert {"ceasefire", "person:nikol-pashinyan", "en"} <= {t.term for t in first.tags}
    assert any(link.rel == "related" and "#/story/s-ceasefire" in link.href for link in first.links)


def test_a_per_story_subscription_feed_has_one_entry_per_story(api: Any) -> None:
    sub = api.post(
        "/v1/subscriptions",
        json={"name": "Lachin", "query": "Lachin", "mode": "per_story", "channel": {"kind": "sse"}},
    )
    assert sub.status_code == 201, sub.text
    path, _ = _feed_path(api, "subscription", sub.json()["id"])
    parsed = _parse(api, path)
    assert [e.id for e in parsed.entries] == ["urn:cwatch:story:s-ceasefire"]
    assert "2 versions" in parsed.entries[0].content[0].value


def test_a_revoked_or_wrong_token_reads_nothing_and_the_list_shows_no_secret(api: Any) -> None:
    saved = api.post("/v1/saved-searches", json={"name": "all"}).json()
    path, feed_id = _feed_path(api, "saved_search", saved["id"])
    listed = api.get("/v1/feeds", params={"target": "saved_search", "id": saved["id"]}).json()
    assert [f["feed_id"] for f in listed["feeds"]] == [feed_id]
    assert "secret" not in str(listed) and "token" not in listed["feeds"][0]
    token = path.rsplit("/", 1)[1]
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (wrong, feed_id, "nonsense", f"{feed_id}."):
        assert api.get(f"/feeds/{bad}").status_code == 404
    etag = api.get(path).headers["etag"]
    assert api.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert api.delete(f"/v1/feeds/{feed_id}").status_code == 204
    gone = api.get(path)
    assert gone.status_code == 404 and gone.json()["detail"] == "no such feed"


def test_a_feed_of_a_deleted_saved_search_is_gone_and_targets_must_exist(api: Any) -> None:
    saved = api.post("/v1/saved-searches", json={"name": "gone soon"}).json()
    path, _ = _feed_path(api, "saved_search", saved["id"])
    assert api.delete(f"/v1/saved-searches/{saved['id']}").status_code == 204
    assert api.get(path).status_code == 404
    missing = api.post("/v1/feeds", json={"target": "subscription", "id": "nope"})
    assert missing.status_code == 404


def test_a_saved_search_with_a_bad_query_is_refused(api: Any) -> None:
    bad = api.post("/v1/saved-searches", json={"name": "x", "filters": {"event": ["picnic"]}})
    assert bad.status_code == 400 and "picnic" in bad.json()["detail"]


def _tokens(api: Any) -> Any:
    return api.app.state.alerts.feed_tokens


def _delete_saved_search(api: Any, saved_id: str) -> None:
    assert api.delete(f"/v1/saved-searches/{saved_id}").status_code == 204


def _delete_subscription(api: Any, sub_id: str) -> None:
    assert api.delete(f"/v1/subscriptions/{sub_id}").status_code == 204


def _unsubscribe_by_email_link(api: Any, sub_id: str) -> None:
    from services.alerts.emailmsg import link_token

    secret = api.app.state.alerts.store.get(sub_id).channel.secret
    token = link_token(secret, sub_id, "delete")
    done = api.post(f"/v1/subscriptions/{sub_id}/unsubscribe?action=delete&token={token}")
    assert done.status_code == 200, done.text


def _delete_by_the_cli(api: Any, sub_id: str) -> None:
    # What `cwatch subscriptions delete` does: the alerts store only, which knows no feeds.
    assert api.app.state.alerts.store.delete(sub_id)


@pytest.mark.parametrize(
    ("target", "delete"),
    [
        ("saved_search", _delete_saved_search),
        ("subscription", _delete_subscription),
        ("subscription", _unsubscribe_by_email_link),
        ("subscription", _delete_by_the_cli),
    ],
    ids=["saved-search", "subscription", "unsubscribe-link", "cli"],
)
def test_a_deleted_targets_feeds_answer_404_and_their_tokens_are_gone(
    api: Any, target: str, delete: Any
) -> None:
    if target == "saved_search":
        target_id = api.post("/v1/saved-searches", json={"name": "gone soon"}).json()["id"]
    else:
        email = {"kind": "email", "email": {"to": ["analyst@example.org"]}}
        made = api.post("/v1/subscriptions", json={"name": "gone soon", "channel": email})
        assert made.status_code == 201, made.text
        target_id = made.json()["id"]
    feeds = [_feed_path(api, target, target_id) for _ in range(2)]
    other_path, other_id = _feed_path(
        api, "saved_search", api.post("/v1/saved-searches", json={"name": "stays"}).json()["id"]
    )
    for path, _ in feeds:
        _parse(api, path)
    delete(api, target_id)
    for path, feed_id in feeds:
        gone = api.get(path)
        assert gone.status_code == 404 and gone.json()["detail"] == "no such feed"
        assert _tokens(api).get(feed_id) is None  # the token's record is deleted, not orphaned
    _parse(api, other_path)  # another target's feed is untouched
    assert _tokens(api).get(other_id) is not None
