"""The indexer against the real Kafka and Elasticsearch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.deadletter import DeadLetter, Stage
from schemas.indexed import IndexedEvent
from services.indexer.mapping import index_name
from services.indexer.settings import IndexerSettings
from tests.indexer.conftest import committed_lag, count_docs, running
from tests.indexer.reportgen import make_report
from tests.support import consume_all, wait_for

pytestmark = pytest.mark.integration


def test_reports_are_searchable_when_announced_and_bad_messages_are_dead_lettered(
    indexer_settings: IndexerSettings, produce: Any, es_client: Any, topics: Any
) -> None:
    reports = [make_report(i) for i in range(40)]
    produce([*reports[:20], b"{not json", b'{"report_id": "x"}', *reports[20:]])
    alias = indexer_settings.index_alias
    with running(indexer_settings):
        events = consume_all(indexer_settings.kafka_bootstrap_servers, topics.indexed, expect=40)
        assert len(events) == 40
        # The event is only sent after the refresh: what it announces can be found now.
        first = IndexedEvent.model_validate_json(events[0].value)
        hit = es_client.search(index=alias, query={"ids": {"values": [first.report_id]}})
        assert hit["hits"]["total"]["value"] == 1
        assert first.index == index_name(alias, reports[0].published or datetime.now(UTC))
        wait_for(lambda: committed_lag(indexer_settings) == 0, what="offsets committed")
    assert {IndexedEvent.model_validate_json(e.value).report_id for e in events} == {
        r.report_id for r in reports
    }
    assert count_docs(es_client, alias) == 40
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in consume_all(indexer_settings.kafka_bootstrap_servers, topics.deadletter, expect=2)
    ]
    assert [(d.stage, d.error_type) for d in letters] == [(Stage.INDEX, "invalid_report")] * 2
    assert letters[0].payload() == b"{not json"
    assert letters[0].original_topic == topics.report and letters[0].original_offset is not None


def test_rejected_document_is_dead_lettered_while_the_rest_of_its_batch_is_indexed(
    indexer_settings: IndexerSettings, produce: Any, es_client: Any, topics: Any
) -> None:
    alias = indexer_settings.index_alias
    # A month index whose `headline` is a number: a report filed there has a type conflict.
    old_month = datetime(1999, 1, 15, tzinfo=UTC)
    from services.indexer.migrate import put_template

    put_template(es_client, indexer_settings)
    es_client.indices.create(
        index=index_name(alias, old_month), mappings={"properties": {"headline": {"type": "long"}}}
    )
    good = [make_report(i) for i in range(30)]
    conflict = make_report(100, published=old_month, headline="not a number")
    immense = make_report(101, story_id="s" * 40_000)  # longer than any keyword term may be
    produce([*good[:10], conflict, *good[10:20], immense, *good[20:]])
    with running(indexer_settings.model_copy(update={"indexer_batch_max_wait_ms": 2000})):
        events = consume_all(indexer_settings.kafka_bootstrap_servers, topics.indexed, expect=30)
        letters = consume_all(indexer_settings.kafka_bootstrap_servers, topics.deadletter, expect=2)
        wait_for(lambda: committed_lag(indexer_settings) == 0, what="offsets committed")
    assert {IndexedEvent.model_validate_json(e.value).report_id for e in events} == {
        r.report_id for r in good
    }
    assert count_docs(es_client, alias) == 30
    parsed = [DeadLetter.model_validate_json(r.value) for r in letters]
    dead = {d.original_key: d for d in parsed}
    assert set(dead) == {conflict.report_id, immense.report_id}
    assert "parsing" in dead[conflict.report_id].reason  # document_parsing_exception
    assert "headline" in dead[conflict.report_id].reason
    assert "immense term" in dead[immense.report_id].reason
    assert json.loads(dead[immense.report_id].payload())["report_id"] == immense.report_id
    assert all(d.stage == Stage.INDEX for d in dead.values())


def test_replayed_reports_overwrite_instead_of_duplicating(
    indexer_settings: IndexerSettings, produce: Any, es_client: Any, topics: Any
) -> None:
    reports = [make_report(i) for i in range(10)]
    produce(reports + reports + [make_report(3, headline="Updated headline")])
    with running(indexer_settings):
        consume_all(indexer_settings.kafka_bootstrap_servers, topics.indexed, expect=21)
    alias = indexer_settings.index_alias
    assert count_docs(es_client, alias) == 10
    hit = es_client.search(index=alias, query={"ids": {"values": [reports[3].report_id]}})
    assert hit["hits"]["hits"][0]["_source"]["headline"] == "Updated headline"


def test_two_instances_share_the_partitions_and_index_everything_once(
    indexer_settings: IndexerSettings, produce: Any, es_client: Any, topics: Any
) -> None:
    reports = [make_report(i) for i in range(300)]
    with running(indexer_settings) as first, running(indexer_settings) as second:
        wait_for(
            lambda: first.consumer.assignment() and second.consumer.assignment(),
            timeout_s=30,
            what="both instances owning partitions",
        )
        owned = {tp.partition for tp in first.consumer.assignment()} | {
            tp.partition for tp in second.consumer.assignment()
        }
        produce(reports)
        wait_for(lambda: committed_lag(indexer_settings) == 0, timeout_s=60, what="commits")
    assert owned == set(range(topics.spec("report").partitions))
    assert count_docs(es_client, indexer_settings.index_alias) == 300
