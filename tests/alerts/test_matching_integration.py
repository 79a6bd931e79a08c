"""A report matches a subscription iff the search API returns it for that query and filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.alerts.matcher import QueryCache, es_msearch, match
from services.alerts.models import Filters, Subscription
from services.search.service import SearchService
from tests.alerts.factories import QUERIES, corpus

pytestmark = pytest.mark.integration


def _subscriptions() -> list[Subscription]:
    return [
        Subscription(id=f"sub-{i:02d}", name=q or "all", query=q, filters=Filters(**f))
        for i, (q, f) in enumerate(QUERIES)
    ]


def _search_ids(service: SearchService, sub: Subscription) -> set[str]:
    params = sub.search_params()
    params.size = 100
    return {h["report_id"] for h in service.search(params)["hits"]}


@pytest.mark.parametrize("batch", ["all", "odd", "one"])
def test_subscription_matches_exactly_what_search_returns(
    es_client, report_alias, index_reports, batch: str
) -> None:
    reports = corpus()
    index_reports(reports)
    now = datetime.now(UTC)
    ids = [r.report_id for r in reports]
    batch_ids = {"all": ids, "odd": ids[::2], "one": ids[3:4]}[batch]
    subs = _subscriptions()
    service = SearchService(es_client, report_alias, clock=lambda: now)

    # small groups and chunks, so that many searches and multi-search requests are needed
    found = match(es_msearch(es_client), report_alias, batch_ids, subs, now, chunk=7, group=4)

    by_sub: dict[str, set[str]] = {s.id: set() for s in subs}
    for m in found:
        by_sub[m.subscription_id].add(m.report_id)
    nonempty = 0
    for sub in subs:
        expected = _search_ids(service, sub) & set(batch_ids)
        assert by_sub[sub.id] == expected, f"{sub.query!r} {sub.filters}"
        nonempty += bool(expected)
    if batch == "all":
        assert nonempty >= len(subs) - 2  # the cases are not vacuous


def test_paused_subscription_never_matches(es_client, report_alias, index_reports) -> None:
    reports = corpus()
    index_reports(reports)
    sub = Subscription(id="paused", query="Pashinyan", active=False)
    now = datetime.now(UTC)
    assert (
        match(es_msearch(es_client), report_alias, [r.report_id for r in reports], [sub], now) == []
    )


def test_identical_subscriptions_share_one_search_but_each_gets_the_match(
    es_client, report_alias, index_reports
) -> None:
    reports = corpus()
    index_reports(reports)
    subs = [Subscription(id=f"same-{i}", query="ceasefire") for i in range(50)]
    calls: list[int] = []
    run = es_msearch(es_client)

    def counting(lines):  # type: ignore[no-untyped-def]
        calls.append(len(lines) // 2)
        return run(lines)

    found = match(counting, report_alias, [r.report_id for r in reports], subs, datetime.now(UTC))
    assert calls == [2]  # the batch's documents, and one search for the one distinct query
    assert {m.subscription_id for m in found} == {s.id for s in subs}
    assert {m.report_id for m in found} == {"rep-00005"}


class _OneBrokenQuery(QueryCache):
    """Elasticsearch refuses subscription `bad`'s query (as it would a query the search
    builder let through by mistake); the others are the real ones."""

    def get(self, sub, now):  # type: ignore[no-untyped-def]
        if sub.id == "bad":
            return {"no_such_query": {"field": "x"}}, "broken"
        return super().get(sub, now)


@pytest.mark.parametrize("group", [1, 50])
def test_a_subscription_elasticsearch_refuses_is_skipped_and_the_others_match(
    es_client, report_alias, index_reports, group: int
) -> None:
    """ES refuses a multi-search with an unparsable query as a whole (400): the round used
    to fail for every subscription, and the restarted service met the same query again."""
    reports = corpus()
    index_reports(reports)
    subs = [Subscription(id="bad", query="x"), Subscription(id="good", query="ceasefire")]
    failures: list[tuple[list[str], str]] = []
    found = match(
        es_msearch(es_client),
        report_alias,
        [r.report_id for r in reports],
        subs,
        datetime.now(UTC),
        group=group,
        cache=_OneBrokenQuery(),
        on_error=lambda ids, reason: failures.append((ids, reason)),
    )
    assert {(m.subscription_id, m.report_id) for m in found} == {("good", "rep-00005")}
    assert [ids for ids, _ in failures] == [["bad"]]
    assert "no_such_query" in failures[0][1]


def test_the_service_dead_letters_a_failing_subscription_once_and_alerts_the_others(
    alerts_settings, topics, report_alias, index_reports, kafka_bootstrap
) -> None:  # type: ignore[no-untyped-def]
    from schemas.deadletter import DeadLetter
    from services.alerts.app import AlertsService
    from services.alerts.models import Channel
    from tests.alerts.conftest import indexed_event, read_topic

    service = AlertsService(alerts_settings)
    service.queries = _OneBrokenQuery()
    bad = service.store.put(Subscription(id="bad", query="x", channel=Channel(kind="kafka")))
    good = service.store.put(Subscription(query="ceasefire", channel=Channel(kind="kafka")))
    reports = corpus()
    index_reports(reports)
    events = [indexed_event(r, report_alias) for r in reports]
    try:
        alerts = service.process(events)
        assert [(a.subscription_id, a.report_ids) for a in alerts] == [(good.id, ["rep-00005"])]
        service.process(events)  # the next round: skipped again, not reported again
        letters = [
            DeadLetter.model_validate_json(r.value)
            for r in read_topic(kafka_bootstrap, topics.deadletter, expect=2, timeout_s=5)
        ]
        assert [(d.stage, d.error_type, d.source) for d in letters] == [
            ("alert", "subscription_failed", bad.id)
        ]
        assert "no_such_query" in letters[0].reason
    finally:
        service.producer.close()
        service.delivery_log.close()
        service.dispatcher.close()
