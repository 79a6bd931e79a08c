"""A whole deployment per test: every service as a real process on the real Kafka and ES."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.topics import TopicNames
from tests.support import Deployment, run_deployment


@pytest.fixture
def deployment(
    kafka_bootstrap: str, es_url: str, namespace: str, topics: TopicNames, tmp_path: Path, es_client
) -> Iterator[Deployment]:  # type: ignore[no-untyped-def]
    with run_deployment(
        kafka_bootstrap, es_url, namespace, topics, tmp_path, env={"CWATCH_ALLOW_LOOPBACK": "true"}
    ) as deployment:
        yield deployment
