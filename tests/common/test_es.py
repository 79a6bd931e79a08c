from __future__ import annotations

import pytest

from services.alerts.settings import AlertsSettings
from services.common.es import make_es
from services.common.settings import CommonSettings
from services.indexer.settings import IndexerSettings
from services.search.settings import SearchSettings


@pytest.mark.parametrize(
    ("settings", "timeout_s", "retries"),
    [
        (IndexerSettings(indexer_es_timeout_s=31), 31, 0),
        (SearchSettings(search_es_timeout_s=4), 4, 1),
        (AlertsSettings(alerts_es_timeout_s=9), 9, 2),
    ],
)
def test_each_service_gets_its_own_timeout_and_retry_policy_from_the_one_factory(
    settings: CommonSettings, timeout_s: float, retries: int
) -> None:
    es = make_es(settings.model_copy(update={"elasticsearch_url": "http://es.invalid:9200"}))
    # The client passes these with every request (its transport keeps its own defaults).
    assert (es._max_retries, es._retry_on_timeout, es._request_timeout) == (
        retries,
        False,
        timeout_s,
    )
