"""The story view follows merged stories (issue 20): a story merged into another lives on as
that one, and its versions are shown with the survivor's."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from services.indexer.settings import IndexerSettings
from services.search.settings import SearchSettings
from tests.indexer.reportgen import make_report
from tests.search.conftest import NOW, _drop, index_reports

pytestmark = pytest.mark.integration


def test_report_of_a_merged_story_shows_the_story_it_was_merged_into(es_client: Any) -> None:
    from services.api.app import create_app
    from tests.support import api_token, bearer, local_client

    reports = [
        make_report(
            1, report_id="r-old-story", story_id="s-old", published=NOW - timedelta(hours=3)
        ),
        make_report(
            2, report_id="r-young-story", story_id="s-young", published=NOW - timedelta(hours=2)
        ),
        make_report(
            3, report_id="r-other-story", story_id="s-other", published=NOW - timedelta(hours=2)
        ),
        # this report fitted both stories and merged the younger into the older
        make_report(
            4,
            report_id="r-bridge-story",
            story_id="s-old",
            merged_stories=["s-young"],
            published=NOW - timedelta(hours=1),
        ),
    ]
    ns = f"t{uuid.uuid4().hex[:8]}"
    try:
        index_reports(es_client, IndexerSettings(namespace=ns), reports)
        with local_client(create_app(SearchSettings(namespace=ns), es=es_client)) as client:
            client.headers.update(bearer(api_token(es_client, ns, "viewer")))
            body = client.get("/v1/reports/r-young-story").json()
            assert body["story_id"] == "s-old"
            assert [v["report_id"] for v in body["versions"]] == [
                "r-old-story",
                "r-young-story",
                "r-bridge-story",
            ]
            alone = client.get("/v1/reports/r-other-story").json()
            assert [v["report_id"] for v in alone["versions"]] == ["r-other-story"]
    finally:
        _drop(es_client, ns)
