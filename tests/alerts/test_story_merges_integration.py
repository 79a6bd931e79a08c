"""One alert per story holds across story merges (issue 20): a subscription alerted for story B
is not alerted again when B is merged into A and A's reports arrive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.alerts.app import AlertsService
from services.alerts.models import Channel, Mode, Subscription
from services.alerts.settings import AlertsSettings
from services.indexer.storyroots import follow_merges
from tests.alerts.conftest import indexed_event
from tests.indexer.reportgen import NOW, make_report

pytestmark = pytest.mark.integration


def test_a_per_story_subscription_is_not_alerted_again_for_a_merged_story(
    alerts_settings: AlertsSettings, topics, es_client, index_reports, report_alias
) -> None:  # type: ignore[no-untyped-def]
    service = AlertsService(alerts_settings)
    try:
        sub = service.store.put(
            Subscription(query="Lachin", channel=Channel(kind="kafka"), mode=Mode.PER_STORY)
        )
        now = datetime.now(UTC)
        b_first = make_report(1, report_id="rep-b-first", story_id="B", published=NOW)
        index_reports([b_first])
        alerts = service.process([indexed_event(b_first, report_alias)], now)
        assert [(a.subscription_id, a.story_id) for a in alerts] == [(sub.id, "B")]
        service.store.es.indices.refresh(index=service.store.state_index)

        later = NOW + timedelta(hours=1)
        bridge = make_report(
            2, report_id="rep-bridge", story_id="A", merged_stories=["B"], published=later
        )
        a_next = make_report(3, report_id="rep-a-next", story_id="A", published=later)
        b_late = make_report(4, report_id="rep-b-late", story_id="B", published=later)
        index_reports([bridge, a_next, b_late])
        follow_merges(es_client, report_alias, ["A", "B"])  # what the indexer does after a bulk
        events = [indexed_event(r, report_alias) for r in (bridge, a_next, b_late)]
        assert service.process(events, now + timedelta(minutes=5)) == []
        service.store.es.indices.refresh(index=service.store.state_index)
        # and a story that merged nothing still alerts
        c_first = make_report(5, report_id="rep-c-first", story_id="C", published=later)
        index_reports([c_first])
        alerts = service.process([indexed_event(c_first, report_alias)], now)
        assert [a.story_id for a in alerts] == ["C"]
    finally:
        service.producer.close()
        service.delivery_log.close()
