"""A report matches a subscription iff the search API returns it for that query and filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.alerts.matcher import es_msearch, match
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
