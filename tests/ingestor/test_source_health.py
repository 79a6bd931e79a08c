"""Source health with a frozen clock: a source's usual gap is learned from when it brought
new items; silence for N times that gap, or K failed polls in a row, flags it once; new
items or a good poll recover it."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from services.ingestor.health import FAILING, NEW, OK, SILENT, SourceHealth
from services.ingestor.settings import IngestorSettings
from services.ingestor.state import IngestState

HOUR = 3600.0
SRC = "https://mfa.example/feed"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def health(settings: IngestorSettings, clock: Clock) -> SourceHealth:
    tuned = settings.model_copy(
        update={"health_silence_factor": 4.0, "health_max_failures": 3, "health_min_gaps": 3}
    )
    return SourceHealth(IngestState(":memory:"), tuned, clock=clock)


def flagged(state: str) -> float:
    return (
        REGISTRY.get_sample_value("cwatch_ingestor_source_flagged", {"source": SRC, "state": state})
        or 0.0
    )


def test_a_source_that_goes_quiet_is_flagged_after_n_times_its_gap_and_recovers(
    health: SourceHealth, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(4):  # an item every hour: three gaps of an hour
        assert health.record(SRC, None, 2).state in (NEW, OK)
        clock.now += HOUR
    status = health.status(SRC)
    assert status.usual_gap_s == HOUR and status.state == OK
    assert status.items_per_day == 8.0  # 8 items, history shorter than a day counts as one
    clock.now += 2 * HOUR  # 3 h without an item: under 4 gaps
    assert health.record(SRC, None, 0).state == OK
    clock.now += 1.5 * HOUR  # 4.5 h: silent
    assert health.record(SRC, None, 0).state == SILENT
    clock.now += HOUR
    assert health.record(SRC, None, 0).state == SILENT
    warnings = [r for r in caplog.records if r.getMessage() == "source flagged silent"]
    assert len(warnings) == 1 and flagged(SILENT) == 1.0
    assert health.record(SRC, None, 1).state == OK
    assert flagged(SILENT) == 0.0
    assert [r.getMessage() for r in caplog.records].count("source recovered") == 1


def test_consecutive_failures_flag_a_source_and_one_good_poll_clears_it(
    health: SourceHealth, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    health.record(SRC, None, 1)
    for n in range(1, 5):
        clock.now += HOUR
        status = health.record(SRC, "timeout", 0)
        assert status.consecutive_failures == n
        assert status.state == (FAILING if n >= 3 else NEW)
    assert [r.getMessage() for r in caplog.records].count("source flagged failing") == 1
    assert flagged(FAILING) == 1.0
    row = health.state.health(SRC)
    assert row.last_error == "timeout" and row.flagged == FAILING
    assert health.record(SRC, None, 0).state != FAILING
    assert health.state.health(SRC).flagged is None


def test_a_new_source_is_learning_until_it_has_enough_gaps(
    health: SourceHealth, clock: Clock
) -> None:
    health.record(SRC, None, 1)
    clock.now += 100 * HOUR
    assert health.record(SRC, None, 0).state == NEW  # no cadence yet: never called silent


def test_a_failure_quoting_a_private_feed_url_is_kept_without_its_credentials(
    health: SourceHealth,
) -> None:
    error = "cannot fetch https://reader:s3cret@feeds.example/private.rss?token=abc: HTTP 401"
    status = health.record(SRC, error, 0)
    assert status.last_error is not None
    assert "s3cret" not in status.last_error and "token=abc" not in status.last_error
    assert "feeds.example/private.rss" in status.last_error
