"""Hostile requests to the HTTP side: internal addresses given to the push API and as webhooks,
malformed and hostile search queries.

One deployment serves the module (the `live` fixture in conftest.py): every service (indexer,
extractor, alerts, search API, ingestor daemon) runs as a process on the shared Kafka and
Elasticsearch, in a namespace of its own. Each test writes its own word (a tag) into what it
sends, so the counts it asserts are its own. Nothing here stops Kafka or Elasticsearch:
test_kafka_outage.py and test_elasticsearch_outage.py do that, on a private runtime.

The API refuses webhooks to loopback (the production default); the alerts service itself is
allowed to reach the test's receiver on loopback, so those subscriptions are written to the
store directly, where the API would write them.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from devtools.supervisor import wait_until
from schemas.deadletter import DeadLetter
from tests.alerts.factories import make_report
from tests.fault.helpers import (
    SUBSCRIPTION_REFRESH_S,
    alert_store,
    article_text,
    dead_letters,
    new_tag,
    produce_reports,
    readable,
    search_total,
    webhook,
)
from tests.support import (
    Deployment,
    topic_size,
)

pytestmark = pytest.mark.fault


SSRF_URLS = [
    ("http://127.0.0.1:8080/admin", "loopback"),
    ("http://localhost:9200/_cat/indices", "loopback"),  # a name resolving to loopback
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://2130706433/", "loopback"),  # 127.0.0.1 as one number
    ("http://0x7f.1/", "loopback"),
    ("http://169.254.169.254/latest/meta-data/iam/", "cloud metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
    ("http://10.0.0.7/internal", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "private"),
    ("http://0.0.0.0:9092/", "non-routable"),
    ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 of 127.0.0.1
    ("http://[2002:a9fe:a9fe::]/", "cloud metadata"),  # 6to4 of 169.254.169.254
    ("http://[fec0::1]/", "private"),  # site-local
    ("http://192.0.0.192/", "cloud metadata"),
    ("file:///etc/passwd", "only http(s)"),
    ("gopher://127.0.0.1:25/", "only http(s)"),
]


def test_ssrf_through_the_push_api_is_refused_with_400_and_the_reason(live: Deployment) -> None:
    bootstrap = live.env["KAFKA_BOOTSTRAP_SERVERS"]
    raw_before = topic_size(bootstrap, live.topics.raw)
    good = {"title": "Border talks resume", "text": "Delegations met again in Gazakh."}
    with live.push() as client:
        for url, why in SSRF_URLS:
            alone = client.post("/v1/articles", json={"url": url})
            in_a_batch = client.post("/v1/articles", json={"articles": [good, {"url": url}]})
            for response in (alone, in_a_batch):
                assert response.status_code == 400, (url, response.text)
                body = response.json()
                assert body["error_type"] == "blocked_address", (url, body)
                assert why in body["error"], (url, body)
        health = client.get("/healthz")
    assert health.status_code == 200
    assert topic_size(bootstrap, live.topics.raw) == raw_before  # not even the good neighbour


def test_webhooks_to_internal_addresses_are_refused_by_the_api_and_at_delivery(
    live: Deployment, es_client: Elasticsearch
) -> None:
    tag = new_tag()
    with live.api() as api:
        before = api.get("/v1/subscriptions").json()["total"]
        for url, why in SSRF_URLS:
            response = api.post(
                "/v1/subscriptions",
                json={"query": tag, "channel": {"kind": "webhook", "url": url}},
            )
            assert response.status_code == 400, (url, response.text)
            detail = response.json()["detail"]
            if why == "only http(s)":  # refused by the channel's own validation
                assert "must start with http:// or https://" in detail, detail
            else:
                assert "webhook url refused" in detail and why in detail, detail
        sse = api.post("/v1/subscriptions", json={"query": tag, "channel": {"kind": "sse"}})
        assert sse.status_code == 201, sse.text
        moved = api.patch(
            f"/v1/subscriptions/{sse.json()['id']}",
            json={"channel": {"kind": "webhook", "url": "http://169.254.169.254/latest/"}},
        )
        assert moved.status_code == 400 and "cloud metadata" in moved.json()["detail"]
        assert api.get("/v1/subscriptions").json()["total"] == before + 1
        api.delete(f"/v1/subscriptions/{sse.json()['id']}")

    # Written behind the API's back (or before a DNS answer changed): refused at delivery.
    store = alert_store(live, es_client)
    internal = [
        store.put(webhook("http://169.254.169.254/latest/meta-data/", tag)),
        store.put(webhook("http://10.255.255.1/hook", tag)),
    ]
    time.sleep(5 * SUBSCRIPTION_REFRESH_S)  # the matcher re-reads subscriptions that often
    produce_reports(live, [make_report(f"{tag}-r", f"{tag}: convoy reaches the border")])

    def refused() -> list[DeadLetter]:
        ids = {s.id for s in internal}
        return [d for d in dead_letters(live) if d.stage.value == "delivery" and d.source in ids]

    assert wait_until(lambda: len(refused()) >= 2, 120), live.stack["alerts"].log_tail()
    letters = {d.source: d for d in refused()}
    assert len(refused()) == 2 and set(letters) == {s.id for s in internal}
    assert "cloud metadata" in letters[internal[0].id].reason
    assert "private address" in letters[internal[1].id].reason
    assert all(d.attempts == 1 and d.error_type == "webhook_failed" for d in letters.values())


def _cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


# (path, parameters, words the 400 must contain)
REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/search", {"q": '"unbalanced quote'}, "not closed"),
    ("/v1/search", {"q": "(Lachin OR Shusha"}, "not closed"),
    ("/v1/search", {"q": "Lachin) OR (Shusha"}, "no matching"),
    ("/v1/search", {"q": "Lachin " * 1500}, "too long"),
    ("/v1/search", {"q": " ".join(f"w{i}" for i in range(100))}, "too many search terms"),
    ("/v1/search", {"q": "/.*/"}, "only one *"),
    ("/v1/search", {"q": "body:/.*/"}, "only one *"),
    ("/v1/search", {"q": "*"}, "cannot start"),
    ("/v1/search", {"q": "[* TO *]"}, "cannot start"),
    ("/v1/search", {"q": "AND OR NOT"}, "needs a search term"),
    ("/v1/search", {"q": "Lachin\x00corridor"}, "control character"),
    ("/v1/search", {"since": "2026-13-45"}, "not a time"),
    ("/v1/search", {"since": "yesterday"}, "not a time"),
    ("/v1/search", {"since": "99999y"}, "outside the calendar"),
    ("/v1/search", {"until": "0001-01-01T00:00:00+05:00"}, "outside the calendar"),
    ("/v1/search", {"since": "1d", "until": "7d"}, "since is after until"),
    ("/v1/search", {"size": "-1"}, "size must be"),
    ("/v1/search", {"size": "0"}, "size must be"),
    ("/v1/search", {"size": "100000"}, "size must be"),
    ("/v1/search", {"size": "99999999999999999999999"}, "size must be"),
    ("/v1/search", {"size": "1e9"}, "valid integer"),
    ("/v1/search", {"sort": "_id"}, "unknown"),
    ("/v1/search", {"country": "ARM"}, "two-letter"),
    ("/v1/search", {"affiliation": "evil"}, "unknown"),
    ("/v1/search", {"event": "<script>alert(1)</script>"}, "unknown"),
    ("/v1/search", {"relevant": "maybe"}, "valid boolean"),
    ("/v1/search", {"cursor": "garbage"}, "cursor is not valid"),
    ("/v1/search", {"cursor": _cursor({"m": "relevance", "a": ["x", "y", "z"]})}, "cursor"),
    ("/v1/search", {"cursor": _cursor({"m": "relevance", "a": [{"script": 1}, 0, "a"]})}, "cursor"),
    (
        "/v1/search",
        {"cursor": _cursor({"m": "time", "a": [True, False]}), "sort": "time"},
        "cursor",
    ),
    (
        "/v1/search",
        {"cursor": _cursor({"m": "relevance-collapse", "f": 10**12}), "collapse": "true"},
        "1000 deep",
    ),
    ("/v1/facets", {"facet_size": "-3"}, "facet_size"),
    ("/v1/facets", {"facet_size": "100000"}, "facet_size"),
    ("/v1/facets", {"interval": "nanosecond"}, "interval"),
    ("/v1/live", {"q": "(unclosed"}, "not closed"),
    ("/ui/v1/search", {"q": '"unbalanced'}, "not closed"),
    ("/ui/v1/search", {"since": "99999y"}, "outside the calendar"),
]
# Odd but valid: answered, and nothing in them reaches Elasticsearch as syntax.
ANSWERED: list[dict[str, str]] = [
    {"q": "(" * 300 + "Lachin" + ")" * 300},
    {"q": "Lachin~2 Shusha^100"},
    {"q": "script:doc['x'].value"},
    {"q": '{"script": {"source": "Math.random()"}}'},
    {"q": "\\\\ \\"},
    {"from": "1000000", "q": "Lachin"},
    {"until": "0001-01-01"},
    {"since": "9999-12-31"},
]


def test_malformed_and_hostile_search_queries_get_400_in_words_and_the_api_stays_healthy(
    live: Deployment,
) -> None:
    tag = new_tag()
    with live.push() as client:
        seeded = client.post(
            "/v1/articles",
            json=[
                dict(zip(("title", "text"), article_text(tag, i), strict=True)) for i in range(3)
            ],
        )
    assert seeded.status_code == 202, seeded.text
    assert wait_until(lambda: search_total(live, q=tag) == 3, 120)
    everything = search_total(live)

    with live.api() as api:
        for path, params, words in REFUSED:
            response = api.get(path, params=params)
            assert response.status_code == 400, (path, params, response.text)
            detail = response.json()["detail"]
            assert readable(detail) and words in detail, (path, params, detail)
        # Raw bytes in the query string: not UTF-8 once percent-decoded.
        for raw in ("q=%FF%FE", "q=Lachin%C0%AF", "since=%ED%A0%80", "lang=en&q=%FF"):
            response = api.get(f"/v1/search?{raw}")
            assert response.status_code == 400, (raw, response.text)
            assert "not valid UTF-8" in response.json()["detail"]
        for params in ANSWERED:
            response = api.get("/v1/search", params=params)
            assert response.status_code == 200, (params, response.text)
        report_id = api.get("/v1/search", params={"q": tag}).json()["hits"][0]["report_id"]
        similar = api.get(f"/v1/reports/{report_id}/similar", params={"size": "-1"})
        assert similar.status_code == 400 and readable(similar.json()["detail"])

        # Field and regex syntax is searched as words: no field, no wildcard over the index.
        assert search_total(live, q=f"headline:{tag}") == 0
        assert search_total(live, q="_id:*") < everything
        assert api.get("/healthz").status_code == 200
        assert api.get("/readyz").status_code == 200
    assert search_total(live, q=tag) == 3
    live.stack.check_alive()
