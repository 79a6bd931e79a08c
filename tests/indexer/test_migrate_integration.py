"""Mapping migrations against the real Elasticsearch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from services.indexer.documents import DERIVED_FIELDS, to_document
from services.indexer.mapping import MAPPING_VERSION, index_name, template_name
from services.indexer.migrate import MigrationNeeded, ensure_ready, migrate, report_indices
from services.indexer.settings import IndexerSettings
from services.query.bodies import build_query
from services.query.params import SearchParams
from tests.indexer.reportgen import make_report

pytestmark = pytest.mark.integration
OCTOBER = datetime(2026, 10, 10, tzinfo=UTC)


def _old_index(es: Any, settings: IndexerSettings, reports: list[Any]) -> str:
    """An index as an older indexer wrote it: version 0, fewer fields, behind the alias."""
    alias = settings.index_alias
    old = index_name(alias, OCTOBER, version=MAPPING_VERSION - 1)
    es.indices.create(
        index=old,
        mappings={
            "properties": {"headline": {"type": "keyword"}, "report_id": {"type": "keyword"}}
        },
        aliases={alias: {}},
    )
    ops: list[Any] = []
    for report in reports:
        doc = {k: v for k, v in to_document(report, OCTOBER).items() if k not in DERIVED_FIELDS}
        ops += [{"index": {"_index": old, "_id": report.report_id}}, doc]
    es.bulk(operations=ops, refresh=True)
    return old


def test_migration_rebuilds_old_indices_and_switches_the_alias(
    es_client: Any, namespace: str
) -> None:
    settings = IndexerSettings(namespace=namespace)
    alias = settings.index_alias
    reports = [make_report(i, published=OCTOBER) for i in range(25)]
    old = _old_index(es_client, settings, reports)
    with pytest.raises(MigrationNeeded, match="cwatch indexer migrate"):
        ensure_ready(es_client, settings)

    result = migrate(es_client, settings, delete_old=True)

    new = index_name(alias, OCTOBER)
    assert result.switched == [new] and result.deleted == [old]
    assert result.copied[new] == 25
    assert report_indices(es_client, alias) == {new: (MAPPING_VERSION, True)}
    hits = es_client.search(index=alias, query={"term": {"entity_ids": "place:lachin"}}, size=50)
    assert hits["hits"]["total"]["value"] == 25  # derived fields filled by the rebuild
    assert es_client.indices.exists_index_template(name=template_name(alias))
    ensure_ready(es_client, settings)  # the indexer may start now
    again = migrate(es_client, settings)  # idempotent
    assert again.switched == [] and again.copied == {}


def test_a_pushed_reports_token_survives_the_migration_and_can_be_filtered_on(
    es_client: Any, namespace: str
) -> None:
    settings = IndexerSettings(namespace=namespace)
    reports = [make_report(0, published=OCTOBER, pushed_by="0123456789ab"),
               make_report(1, published=OCTOBER)]  # fmt: skip
    _old_index(es_client, settings, reports)
    migrate(es_client, settings, delete_old=True)
    # through the query layer: the search API's and subscriptions' `pushed_by` filter
    query = build_query(SearchParams(pushed_by=["0123456789ab"]), datetime.now(UTC))
    hits = es_client.search(index=settings.index_alias, query=query)["hits"]["hits"]
    assert [h["_id"] for h in hits] == [reports[0].report_id]


def test_migration_points_reports_of_merged_stories_to_the_story_they_live_on_as(
    es_client: Any, namespace: str
) -> None:
    """Version 7 adds story_root (issue 20): filled from the merges the reports recorded."""
    settings = IndexerSettings(namespace=namespace)
    reports = [
        make_report(1, story_id="B", published=OCTOBER),
        make_report(2, story_id="A", published=OCTOBER, merged_stories=["B"]),
        make_report(3, story_id="Z", published=OCTOBER, merged_stories=["A"]),
        make_report(4, story_id="C", published=OCTOBER),
    ]
    _old_index(es_client, settings, reports)
    result = migrate(es_client, settings, delete_old=True)
    assert result.story_roots == 2
    hits = es_client.search(index=settings.index_alias, size=10)["hits"]["hits"]
    roots = {h["_source"]["story_id"]: h["_source"]["story_root"] for h in hits}
    assert roots == {"B": "Z", "A": "Z", "Z": "Z", "C": "C"}


def test_migrate_command_installs_the_template_on_an_empty_cluster(
    es_client: Any, namespace: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from services.cli import main

    monkeypatch.setenv("CWATCH_NAMESPACE", namespace)
    assert main(["indexer", "migrate"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["target_version"] == MAPPING_VERSION
    alias = IndexerSettings(namespace=namespace).index_alias
    assert es_client.indices.exists_index_template(name=template_name(alias))


def test_indexer_start_leaves_a_started_index_of_this_month_behind_the_alias(
    es_client: Any, namespace: str
) -> None:
    settings = IndexerSettings(namespace=namespace)
    alias = settings.index_alias
    ensure_ready(es_client, settings)
    ensure_ready(es_client, settings)  # a second instance starting finds it there

    this_month = index_name(alias, datetime.now(UTC))
    assert report_indices(es_client, alias) == {this_month: (MAPPING_VERSION, True)}
    health = es_client.cluster.health(index=this_month)
    assert health["status"] in ("green", "yellow") and health["active_primary_shards"] >= 1
    empty = es_client.search(index=alias, size=0)
    assert empty["hits"]["total"]["value"] == 0
