"""Search collapsing follows story merges (issue 20): the indexer re-points the reports of a
story merged into another, whatever order they reach it in, without scripts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.indexer.settings import IndexerSettings
from services.query.params import SearchParams
from services.search.service import SearchService
from tests.indexer.conftest import running
from tests.indexer.reportgen import NOW, make_report
from tests.support import consume_all

pytestmark = pytest.mark.integration


def _roots(es: Any, alias: str) -> dict[str, tuple[str, int]]:
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=100, version=True, query={"match_all": {}})["hits"]["hits"]
    return {h["_id"]: (h["_source"]["story_root"], h["_version"]) for h in hits}


def test_reports_of_a_merged_story_collapse_with_the_story_it_was_merged_into(
    indexer_settings: IndexerSettings, produce: Any, es_client: Any, topics: Any
) -> None:
    hours = [NOW - timedelta(hours=h) for h in (6, 5, 4, 3, 2)]
    b_early = make_report(1, report_id="rep-b-early", story_id="B", published=hours[0])
    a_first = make_report(2, report_id="rep-a-first", story_id="A", published=hours[1])
    bridge = make_report(
        3, report_id="rep-bridge", story_id="A", merged_stories=["B"], published=hours[2]
    )
    # decided before the merge, but indexed after it (another partition, a slower indexer)
    b_late = make_report(4, report_id="rep-b-late", story_id="B", published=hours[3])
    other = make_report(5, report_id="rep-other", story_id="C", published=hours[4])
    produce([b_early, a_first, bridge])
    alias = indexer_settings.index_alias
    with running(indexer_settings):
        consume_all(indexer_settings.kafka_bootstrap_servers, topics.indexed, expect=3)
        produce([b_late, other])
        consume_all(indexer_settings.kafka_bootstrap_servers, topics.indexed, expect=5)
        roots = _roots(es_client, alias)
        assert {rid: root for rid, (root, _) in roots.items()} == {
            "rep-b-early": "A",
            "rep-a-first": "A",
            "rep-bridge": "A",
            "rep-b-late": "A",
            "rep-other": "C",
        }
        # re-pointed at its own version: statement history still takes the next version
        assert roots["rep-b-early"][1] == 1
        edited = b_early.model_copy(update={"version": 2, "headline": "Edited headline"})
        produce([edited])
        consume_all(indexer_settings.kafka_bootstrap_servers, topics.indexed, expect=6)
        roots = _roots(es_client, alias)
        assert roots["rep-b-early"] == ("A", 2)

    service = SearchService(es_client, alias)
    page = service.search(SearchParams(collapse=True, size=10, sort="time"))
    assert [(h["story_root"], h["versions"]) for h in page["hits"]] == [("C", 1), ("A", 4)]
    facets = service.facets(SearchParams())
    assert facets["stories"] == 2
