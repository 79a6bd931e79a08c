import pytest

from services.indexer.settings import IndexerSettings


def test_refresh_mode_refreshes_itself_so_the_periodic_refresh_is_rare() -> None:
    settings = IndexerSettings()
    assert settings.indexer_refresh_mode == "refresh"
    assert settings.indexer_refresh_interval == "30s"
    assert settings.indexer_shards == 1


def test_wait_for_mode_gets_a_one_second_refresh_unless_one_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert IndexerSettings(indexer_refresh_mode="wait_for").indexer_refresh_interval == "1s"
    monkeypatch.setenv("CWATCH_INDEXER_REFRESH_MODE", "wait_for")
    assert IndexerSettings().indexer_refresh_interval == "1s"
    monkeypatch.setenv("CWATCH_INDEXER_REFRESH_INTERVAL", "2s")
    assert IndexerSettings().indexer_refresh_interval == "2s"
