"""The push server is an HTTP entry point too: Host allow-list, foreign origins, body size and
a per-client push rate (services/ingestor/server.py `guard`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from services.ingestor.push import make_push_router
from services.ingestor.server import OTHER_MAX_BODY_BYTES, install_guards
from services.ingestor.settings import IngestorSettings
from tests.support import LOCAL_BASE_URL

JSON = {"content-type": "application/json"}
ARTICLE = {"title": "t", "text": "x"}


class Accepting:
    """A push backend that accepts everything (the guards are under test, not the push)."""

    def articles_from_records(self, records: list[Any], default: Any) -> list[Any]:
        return []

    def publish(self, articles: list[Any]) -> tuple[list[str], list[str], list[str]]:
        return [], [], []


def _client(**settings: object) -> TestClient:
    api = FastAPI()
    limit = IngestorSettings(**settings).push_max_body_bytes  # type: ignore[arg-type]
    api.include_router(make_push_router(Accepting(), limit))

    @api.post("/other")
    async def other(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    install_guards(api, IngestorSettings(**settings))  # type: ignore[arg-type]
    return TestClient(api, base_url=LOCAL_BASE_URL)


def test_a_rebound_host_cannot_push() -> None:
    with _client() as client:
        refused = client.post("/v1/articles", json=ARTICLE, headers={"Host": "evil.example:8081"})
        assert refused.status_code == 421
        assert "CWATCH_PUSH_ALLOWED_HOSTS" in refused.json()["detail"]
        assert client.post("/v1/articles", json=ARTICLE).status_code == 202


def test_a_page_of_another_origin_cannot_push_but_a_script_can() -> None:
    with _client() as client:
        page = client.post("/v1/articles", json=ARTICLE, headers={"Origin": "http://evil.example"})
        assert page.status_code == 403
        assert client.post("/v1/articles", json=ARTICLE).status_code == 202


def big(size: int) -> bytes:
    """A JSON article of `size` bytes."""
    head = b'{"title": "t", "text": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def test_push_bodies_have_their_own_limit_and_other_routes_a_small_one() -> None:
    with _client(push_max_body_bytes=200_000) as client:
        assert client.post("/v1/articles", content=big(150_000), headers=JSON).status_code == 202
        over = client.post("/v1/articles", content=big(200_001), headers=JSON)
        assert over.status_code == 413 and "CWATCH_PUSH_MAX_BODY_BYTES" in over.text
        chunked = client.post("/v1/articles", content=iter([big(150_000)] * 2), headers=JSON)
        assert chunked.status_code == 413 and "cwatch ingest" in chunked.json()["error"]
        assert client.post("/other", content=b"x" * (OTHER_MAX_BODY_BYTES + 1)).status_code == 413


def test_pushes_are_rate_limited_per_client() -> None:
    with _client(push_rate_limit="2/minute") as client:
        assert [client.post("/v1/articles", json=ARTICLE).status_code for _ in range(2)] == [
            202
        ] * 2
        refused = client.post("/v1/articles", json=ARTICLE)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        token = client.post("/v1/articles", json=ARTICLE, headers={"Authorization": "Bearer t1"})
        assert token.status_code == 202
