"""A whole deployment per test module: every service as a real process on the real Kafka and ES."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schemas.topics import TopicNames, index_alias
from services.ops.supervisor import Stack, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Deployment:
    def __init__(
        self, stack: Stack, namespace: str, topics: TopicNames, api_url: str, env: dict[str, str]
    ):
        self.stack = stack
        self.namespace = namespace
        self.topics = topics
        self.api_url = api_url
        self.env = env
        self.alias = index_alias(namespace)

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=30)


@pytest.fixture
def deployment(
    kafka_bootstrap: str, es_url: str, namespace: str, topics: TopicNames, tmp_path: Path, es_client
) -> Iterator[Deployment]:  # type: ignore[no-untyped-def]
    api_port, push_port = free_port(), free_port()
    env = {
        **os.environ.copy(),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ELASTICSEARCH_URL": es_url,
        "CWATCH_NAMESPACE": namespace,
        "CWATCH_API_PORT": str(api_port),
        "CWATCH_PUSH_PORT": str(push_port),
        "CWATCH_DATA_DIR": str(tmp_path / "extractor"),
        "CWATCH_STATE_PATH": str(tmp_path / "ingestor-state.sqlite"),
        "CWATCH_ALLOW_LOOPBACK": "true",
        "CWATCH_LOG_JSON": "true",
    }
    stack = Stack(tmp_path / "logs", env, services=["indexer", "extractor", "api"]).start()
    api_url = f"http://127.0.0.1:{api_port}"

    def api_ready() -> bool:
        stack.check_alive()
        try:
            return httpx.get(f"{api_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_until(api_ready, 90), "API did not become ready"
        yield Deployment(stack, namespace, topics, api_url, env)
    finally:
        stack.stop()
        for service in stack.services.values():
            print(f"--- {service.name} log tail ---\n{service.log_tail(15)}")
