"""`cwatch demo push`: generated articles posted to the push API at a steady rate (no network:
httpx's MockTransport stands in for the ingestor)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.demo.push import MAX_CONSECUTIVE_ERRORS, live_batches, push

URL = "http://ingestor.test/v1/articles"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _client(handler: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def _accept_all(seen: list[list[dict[str, Any]]]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        articles = json.loads(request.content)["articles"]
        seen.append(articles)
        return httpx.Response(202, json={"accepted": len(articles), "duplicates": []})

    return handler


def test_articles_are_posted_in_batches_published_now_and_labelled() -> None:
    seen: list[list[dict[str, Any]]] = []
    summary = push(
        URL,
        count=7,
        seed=3,
        rate=1000,
        batch=3,
        client=_client(_accept_all(seen)),
        sleep=lambda s: None,
        clock=lambda: NOW,
    )
    assert [len(b) for b in seen] == [3, 3, 1]
    assert summary.sent == summary.accepted == 7 and summary.errors == 0
    for record in (r for b in seen for r in b):
        assert record["published"] == NOW.isoformat()
        assert "generated demo" in record["categories"]
        assert "[generated demo]" in record["text"]


def test_requests_are_spaced_to_keep_the_rate() -> None:
    now = {"t": 100.0}
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now["t"] += seconds

    seen: list[list[dict[str, Any]]] = []
    summary = push(
        URL,
        count=5,
        rate=2,
        client=_client(_accept_all(seen)),
        sleep=sleep,
        monotonic=lambda: now["t"],
    )
    assert len(seen) == 5
    assert waits == [0.5, 0.5, 0.5, 0.5]
    assert summary.seconds == 2.0


def test_busy_ingestor_is_retried_and_duplicates_are_counted() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(503, json={"error": "Kafka did not acknowledge in time"})
        ids = [a["url"] for a in json.loads(request.content)["articles"]]
        return httpx.Response(202, json={"accepted": 0, "duplicates": ids})

    summary = push(URL, count=2, batch=2, client=_client(handler), sleep=lambda s: None)
    assert calls["n"] == 2
    assert summary.accepted == 0 and summary.duplicates == 2 and summary.rejected == 0


def test_rejected_batches_are_counted_and_the_stream_goes_on() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_record"})

    summary = push(URL, count=3, client=_client(handler), sleep=lambda s: None)
    assert summary.sent == 3 and summary.rejected == 3 and summary.errors == 0


def test_unreachable_api_stops_the_stream_after_a_few_failures() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    summary = push(URL, count=50, client=_client(handler), sleep=lambda s: None)
    assert summary.errors == MAX_CONSECUTIVE_ERRORS
    assert summary.sent == MAX_CONSECUTIVE_ERRORS


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        push(URL, count=1, rate=0)
    with pytest.raises(ValueError):
        push(URL, count=1, batch=0)


def test_live_batches_use_the_generated_corpus_of_the_seed() -> None:
    first = [r["url"] for b in live_batches(6, 4, 2, lambda: NOW) for r in b]
    again = [r["url"] for b in live_batches(6, 4, 2, lambda: NOW) for r in b]
    other = [r["url"] for b in live_batches(6, 5, 2, lambda: NOW) for r in b]
    assert first == again and first != other and len(first) == 6


def test_the_ingestors_push_router_accepts_what_demo_push_sends() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from services.ingestor import push as push_module
    from services.ingestor.adapters import files

    published: list[Any] = []

    class Backend:
        def articles_from_records(self, records: list[Any], default: Any) -> list[Any]:
            return [files.record_to_article(r, default) for r in records]

        def publish(self, articles: list[Any]) -> tuple[list[str], list[str], list[str]]:
            published.extend(articles)
            return [a.article_id for a in articles], [], []

    app = FastAPI()
    app.include_router(push_module.make_push_router(Backend(), 10 << 20))
    with TestClient(app) as client:
        summary = push(
            "http://testserver/v1/articles",
            count=9,
            batch=4,
            rate=1000,
            client=client,
            sleep=lambda s: None,
            clock=lambda: NOW,
        )
    assert summary.accepted == 9 and summary.rejected == 0
    assert len(published) == 9
    assert all(a.source.kind == "demo" and a.published == NOW for a in published)
