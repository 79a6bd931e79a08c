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
