"""Fixtures of the ingestor tests: shared real data (skipped when absent), own fixtures,
and a fake Kafka producer for the unit tests of the sink."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.ingestor.settings import IngestorSettings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def feeds_dir() -> Path:
    path = SHARED_DATA / "feeds"
    if not path.is_dir():
        pytest.skip(f"{path} is not there")
    return path.resolve()


@pytest.fixture
def seeds_dir() -> Path:
    path = SHARED_DATA / "seeds"
    if not path.is_dir():
        pytest.skip(f"{path} is not there")
    return path.resolve()


@pytest.fixture
def settings(tmp_path: Path) -> IngestorSettings:
    return IngestorSettings(
        state_path=tmp_path / "state.sqlite",
        namespace="tunit",
        kafka_retry_initial_s=0.001,
        kafka_retry_max_s=0.001,
        ack_timeout_s=0.05,
        http_per_host_min_interval_s=0.0,
    )


class FakeFuture:
    def __init__(self, ok: bool) -> None:
        self.is_done = True
        self._ok = ok

    def succeeded(self) -> bool:
        return self._ok

    def get(self, timeout: float | None = None) -> None:
        from kafka.errors import KafkaTimeoutError

        if not self._ok:
            raise KafkaTimeoutError("broker unavailable")


class FakeProducer:
    """Records sends; the first `fail_sends` sends fail as if the broker were away."""

    def __init__(self, fail_sends: int = 0) -> None:
        self.fail_sends = fail_sends
        self.sent: list[dict[str, Any]] = []
        self.attempts = 0

    def send(self, topic: str, key: bytes | None, value: bytes, headers: list[Any]) -> FakeFuture:
        self.attempts += 1
        ok = self.attempts > self.fail_sends
        if ok:
            self.sent.append({"topic": topic, "key": key, "value": value, "headers": headers})
        return FakeFuture(ok)

    def flush(self, timeout: float | None = None) -> None:
        return None

    def close(self, timeout: float | None = None) -> None:
        return None


@pytest.fixture
def fake_producer() -> FakeProducer:
    return FakeProducer()
