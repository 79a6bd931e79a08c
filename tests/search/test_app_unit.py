"""The HTTP application refuses what the search code never sees: query strings that are not UTF-8."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from services.api.app import create_app, invalid_utf8_parameter
from services.search.settings import SearchSettings
from tests.support import local_client

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("query_string", "bad"),
    [
        (b"q=%FF%FE", "q"),
        (b"lang=en&q=Lachin%C0%AF", "q"),
        (b"since=%ED%A0%80", "since"),  # an encoded surrogate is not UTF-8 either
        (b"%FF=1", "\ufffd"),
        (b"q=Lachin+corridor&lang=en", None),
        (b"q=%D0%9B%D0%B0%D1%87%D0%B8%D0%BD", None),  # Лачин
        (b"", None),
    ],
)
def test_invalid_utf8_parameter_is_named(query_string: bytes, bad: str | None) -> None:
    assert invalid_utf8_parameter(query_string) == bad


def test_query_string_that_is_not_utf8_gets_a_400_that_says_so() -> None:
    # No Elasticsearch behind it: the request must be answered before any search.
    app = create_app(SearchSettings(), es=Elasticsearch("http://127.0.0.1:9"))
    with local_client(app) as client:
        response = client.get("/v1/search?q=%FF%FELachin")
        health = client.get("/healthz")
    assert response.status_code == 400
    assert "'q' is not valid UTF-8" in response.json()["detail"]
    assert health.status_code == 200


MANY = ",".join(f"e{i}" for i in range(101))


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "limit"),
    [
        ("GET", "/v1/search", {"params": {"entity": MANY}}, "entity: at most 100 values"),
        ("GET", "/v1/facets", {"params": {"lang": MANY}}, "lang: at most 100 values"),
        ("GET", "/v1/live", {"params": {"source": MANY}}, "source: at most 100 values"),
        ("GET", "/ui/v1/search", {"params": {"event": MANY}}, "event: at most 100 values"),
        ("GET", "/v1/search", {"params": {"country": "x" * 201}}, "more than 200 characters"),
        ("GET", "/v1/search", {"params": {"q": "Lachin " * 200}}, "at most 1000"),
        (
            "POST",
            "/v1/subscriptions",
            {"json": {"filters": {"entity": MANY.split(",")}}},
            "entity: at most 100 values",
        ),
        ("POST", "/v1/subscriptions", {"json": {"query": "x" * 1001}}, "at most 1000 characters"),
    ],
)
def test_filter_lists_and_queries_over_their_bounds_are_refused_naming_the_limit(
    method: str,
    path: str,
    kwargs: dict,
    limit: str,  # type: ignore[type-arg]
) -> None:
    # Refused before any search or store write: no Elasticsearch behind it.
    app = create_app(SearchSettings(api_auth="off"), es=Elasticsearch("http://127.0.0.1:9"))
    with local_client(app) as client:
        response = client.request(method, path, **kwargs)
    assert response.status_code == 400, response.text
    assert limit in response.json()["detail"]
