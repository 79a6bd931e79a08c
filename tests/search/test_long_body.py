"""A report whose body is longer than Elasticsearch analyses for highlighting stays findable."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.indexer.settings import IndexerSettings
from services.search.settings import SearchSettings
from tests.indexer.reportgen import make_report
from tests.search.conftest import _drop, index_reports
from tests.support import local_client

pytestmark = pytest.mark.integration


def test_a_body_past_the_highlight_limit_does_not_fail_the_search(es_client: Any) -> None:
    """Over 1,000,000 characters (the index's highlight.max_analyzed_offset), a highlighted
    search was refused whole (search_phase_execution_exception) for every query that hit it."""

    from services.api.app import create_app
    from tests.support import api_token, bearer

    ns = f"t{uuid.uuid4().hex[:8]}"
    sentence = "Officials met near Lachin to discuss the corridor and the border. "
    long_body = sentence * (1_200_000 // len(sentence))
    report = make_report(1, report_id="r-long-body", headline="Lachin talks", body=long_body)
    try:
        index_reports(es_client, IndexerSettings(namespace=ns), [report])
        with local_client(create_app(SearchSettings(namespace=ns), es=es_client)) as client:
            client.headers.update(bearer(api_token(es_client, ns, "viewer")))
            response = client.get("/v1/search", params={"q": "corridor"})
            assert response.status_code == 200, response.text
            assert [hit["report_id"] for hit in response.json()["hits"]] == ["r-long-body"]
    finally:
        _drop(es_client, ns)
