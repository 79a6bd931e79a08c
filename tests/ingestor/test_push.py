from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from schemas.raw import RawArticle
from services.ingestor.app import Ingestor
from services.ingestor.http import SafeHttpClient
from services.ingestor.producer import RawSink
from services.ingestor.push import make_push_router
from services.ingestor.settings import IngestorSettings
from services.ingestor.state import IngestState
from tests.ingestor.conftest import FakeProducer


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


@pytest.fixture
def api(settings: IngestorSettings, producer: FakeProducer, fixtures: Path) -> TestClient:
    page = (fixtures / "article.html").read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/news/1":
            return httpx.Response(200, content=page, headers={"content-type": "text/html"})
        return httpx.Response(404)

    state = IngestState(settings.state_path)
    ingestor = Ingestor(
        settings,
        state,
        http=SafeHttpClient(settings, transport=httpx.MockTransport(handler)),
        sink=RawSink(settings, state, producer_factory=lambda: producer),
    )
    app = FastAPI()
    app.include_router(make_push_router(ingestor, max_body_bytes=64_000))
    return TestClient(app)


def sent(producer: FakeProducer) -> list[RawArticle]:
    return [
        RawArticle.model_validate_json(m["value"]) for m in producer.sent if ".raw." in m["topic"]
    ]


def test_json_article_is_accepted_with_its_id(api: TestClient, producer: FakeProducer) -> None:
    body = {
        "url": "https://azatutyun.am/a/1.html",
        "title": "Border talks resume",
        "text": "Commissions met on the border.",
        "source": {
            "name": "Azatutyun",
            "country": "AM",
            "language": "hy",
            "affiliation": "international",
        },
    }
    response = api.post("/v1/articles", json=body)
    assert response.status_code == 202
    [article] = sent(producer)
    assert response.json() == {"accepted": 1, "ids": [article.article_id], "duplicates": []}
    assert article.source.name == "Azatutyun" and article.source.kind.value == "push"


def test_batch_form_and_duplicates(api: TestClient, producer: FakeProducer) -> None:
    batch = {"articles": [{"title": "One", "text": "a"}, {"title": "Two", "text": "b"}]}
    first = api.post("/v1/articles", json=batch)
    again = api.post("/v1/articles", json=batch["articles"])
    assert first.status_code == again.status_code == 202
    assert first.json()["accepted"] == 2
    assert again.json()["accepted"] == 0 and again.json()["duplicates"] == first.json()["ids"]
    assert len(sent(producer)) == 2


def test_raw_html_with_its_url_is_accepted(
    api: TestClient, producer: FakeProducer, fixtures: Path
) -> None:
    response = api.post(
        "/v1/articles?url=https://example.am/news/mirzoyan-bayramov-almaty&source=Example",
        content=(fixtures / "article.html").read_bytes(),
        headers={"content-type": "text/html; charset=utf-8"},
    )
    assert response.status_code == 202
    [article] = sent(producer)
    assert (
        article.title == "Mirzoyan and Bayramov meet in Almaty" and article.source.name == "Example"
    )


def test_url_only_article_is_fetched(api: TestClient, producer: FakeProducer) -> None:
    response = api.post("/v1/articles", json={"url": "http://93.184.216.34/news/1"})
    assert response.status_code == 202
    assert sent(producer)[0].title == "Mirzoyan and Bayramov meet in Almaty"


def test_url_pointing_at_a_private_address_is_refused(
    api: TestClient, producer: FakeProducer
) -> None:
    response = api.post("/v1/articles", json={"url": "http://169.254.169.254/latest/meta-data/"})
    assert response.status_code == 400
    assert "metadata" in response.json()["error"]
    assert sent(producer) == []


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{oops", "not valid JSON"),
        (json.dumps({"title": "x", "colour": "red"}).encode(), "unknown fields"),
        (json.dumps({"text": ""}).encode(), "no title"),
        (json.dumps([]).encode(), "no articles"),
        (json.dumps({"title": "x", "published": "someday"}).encode(), "published"),
    ],
)
def test_invalid_json_bodies_get_400_with_a_clear_message(
    api: TestClient, producer: FakeProducer, body: bytes, needle: str
) -> None:
    response = api.post("/v1/articles", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert needle in response.json()["error"]
    assert sent(producer) == []


def test_a_bad_record_rejects_the_whole_batch(api: TestClient, producer: FakeProducer) -> None:
    response = api.post("/v1/articles", json=[{"title": "good"}, {"title": 5}])
    assert response.status_code == 400 and "article 1" in response.json()["error"]
    assert sent(producer) == []


def test_html_without_url_is_400(api: TestClient) -> None:
    response = api.post("/v1/articles", content=b"<p>x</p>", headers={"content-type": "text/html"})
    assert response.status_code == 400 and "?url=" in response.json()["error"]


def test_body_over_the_limit_is_413(api: TestClient) -> None:
    response = api.post("/v1/articles", json={"title": "x", "text": "y" * 100_000})
    assert response.status_code == 413
    body = response.json()
    assert "push limit" in body["error"] and "cwatch ingest" in body["error"]
    assert body["limit_bytes"] > 0


def test_other_content_types_are_415(api: TestClient) -> None:
    response = api.post("/v1/articles", content=b"a,b", headers={"content-type": "text/csv"})
    assert response.status_code == 415 and "application/json" in response.json()["error"]


@pytest.mark.parametrize(
    "record",
    [
        {"url": "http://93.184.216.34/news/\x7f1"},
        {"url": "http://93.184.216.34/news/\x011", "text": "body", "title": "t"},
        {"url": "https://example.com/\u0085", "html": "<p>x</p>"},
    ],
)
def test_control_characters_in_a_pushed_url_are_422_with_a_clear_message(
    api: TestClient, producer: FakeProducer, record: dict[str, str]
) -> None:
    response = api.post("/v1/articles", json=record)
    assert response.status_code == 422
    assert "control character" in response.json()["error"]
    assert response.json()["error_type"] == "invalid_url"
    assert sent(producer) == []


def test_control_characters_in_the_url_of_pushed_html_are_422(api: TestClient) -> None:
    response = api.post(
        "/v1/articles",
        params={"url": "https://example.com/a\x7fb"},
        content=b"<html><title>x</title><body>y</body></html>",
        headers={"content-type": "text/html"},
    )
    assert response.status_code == 422 and "control character" in response.json()["error"]


def test_hostile_canonical_link_in_pushed_html_is_ignored(
    api: TestClient, producer: FakeProducer
) -> None:
    page = (
        b"<html><head><title>x</title><link rel=canonical href='https://example.com/&#127;'>"
        b"<meta property='og:url' content='http://[::1'></head><body>y</body></html>"
    )
    response = api.post(
        "/v1/articles",
        params={"url": "https://example.com/a"},
        content=page,
        headers={"content-type": "text/html"},
    )
    assert response.status_code == 202
    assert sent(producer)[0].url == "https://example.com/a"


def test_json_nested_too_deeply_is_400_not_500(api: TestClient) -> None:
    response = api.post(
        "/v1/articles", content=b"[" * 50_000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error_type"] == "invalid_json"


def test_too_many_urls_to_fetch_in_one_request_is_400(api: TestClient) -> None:
    records = [{"url": f"http://93.184.216.34/news/{n}"} for n in range(21)]
    response = api.post("/v1/articles", json=records)
    assert response.status_code == 400 and "at most 20" in response.json()["error"]
