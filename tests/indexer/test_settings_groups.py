from services.alerts.settings import AlertsSettings
from services.indexer.settings import IndexerSettings


def test_default_consumer_groups_are_prefixed_by_the_namespace() -> None:
    assert IndexerSettings(namespace="demo").indexer_group_id == "demo-cwatch-indexer"
    assert AlertsSettings(namespace="demo").alerts_group_id == "demo-cwatch-alerts"


def test_without_namespace_or_with_an_explicit_group_the_group_is_kept() -> None:
    assert IndexerSettings(namespace="").indexer_group_id == "cwatch-indexer"
    assert AlertsSettings(namespace="").alerts_group_id == "cwatch-alerts"
    explicit = IndexerSettings(namespace="demo", indexer_group_id="team-indexer")
    assert explicit.indexer_group_id == "team-indexer"
