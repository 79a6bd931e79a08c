"""Fault tests get a private Kafka and Elasticsearch (own ports, own run dir), so they can stop,
kill and restart them without disturbing the shared instances the other tests use."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from devtools.supervisor import Stack
from schemas.topics import TopicNames
from services.common.kafka import delete_topics, ensure_topics
from tests.fault.helpers import SUBSCRIPTION_REFRESH_S
from tests.support import Deployment, drop_namespace_indices, run_deployment

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "deploy" / "local" / "runtime.py"


def free_port_pair() -> int:
    """A port p with p+1 (controller / transport) free as well."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < 65000:
            with socket.socket() as other:
                try:
                    other.bind(("127.0.0.1", port + 1))
                    other.close()
                    with socket.socket() as third:
                        third.bind(("127.0.0.1", port + 100))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port pair")


@dataclass
class PrivateRuntime:
    env: dict[str, str]
    run_dir: Path

    @property
    def kafka_bootstrap(self) -> str:
        return self.env["KAFKA_BOOTSTRAP_SERVERS"]

    @property
    def es_url(self) -> str:
        return self.env["ELASTICSEARCH_URL"]

    def up(self) -> None:
        result = subprocess.run(
            [sys.executable, str(RUNTIME), "up"], env=self.env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr[-3000:]

    def down(self) -> None:
        subprocess.run([sys.executable, str(RUNTIME), "down"], env=self.env, capture_output=True)

    def _pid(self, relative: str) -> int:
        return int((self.run_dir / relative).read_text())

    def stop_kafka(self, hard: bool = False) -> None:
        self._stop(self._pid("kafka/kafka.pid"), hard)

    def stop_elasticsearch(self, hard: bool = False) -> None:
        self._stop(self._pid("elasticsearch/elasticsearch.pid"), hard)

    @staticmethod
    def _stop(pid: int, hard: bool) -> None:
        os.kill(pid, signal.SIGKILL if hard else signal.SIGTERM)
        for _ in range(300):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            __import__("time").sleep(0.1)


@pytest.fixture(scope="session")
def private_runtime(
    real_services: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateRuntime]:
    run_dir = Path("/var/tmp") / f"cwatch-fault-{uuid.uuid4().hex[:6]}"
    kafka_port, es_port = free_port_pair(), free_port_pair()
    env = {
        **os.environ.copy(),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
        "ELASTICSEARCH_URL": f"http://127.0.0.1:{es_port}",
        "CWATCH_RUN_DIR": str(run_dir),
        "CWATCH_ES_HEAP": "512m",
        "CWATCH_KAFKA_HEAP": "384m",
    }
    runtime = PrivateRuntime(env, run_dir)
    try:
        # Inside the try: a start that fails halfway (Kafka up, Elasticsearch not) is still
        # stopped and its folder removed.
        runtime.up()
        yield runtime
    finally:
        runtime.down()
        subprocess.run(["rm", "-rf", str(run_dir)])


@pytest.fixture
def private_topics(private_runtime: PrivateRuntime) -> TopicNames:
    names = TopicNames.for_namespace(f"f{uuid.uuid4().hex[:8]}")
    ensure_topics(private_runtime.kafka_bootstrap, names)
    return names


@pytest.fixture
def stack_env(
    private_runtime: PrivateRuntime, private_topics: TopicNames, tmp_path: Path
) -> dict[str, str]:
    return {
        **private_runtime.env,
        "CWATCH_NAMESPACE": private_topics.namespace,
        "CWATCH_DATA_DIR": str(tmp_path / "extractor"),
        "CWATCH_API_PORT": "0",
        "CWATCH_LOG_LEVEL": "INFO",
    }


@pytest.fixture
def pipeline(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path / "logs", stack_env, services=["indexer", "extractor"]).start()
    try:
        yield stack
    finally:
        stack.stop()
        for service in stack.services.values():
            print(f"--- {service.name} ---\n{service.log_tail(20)}")


@pytest.fixture(scope="module")
def live(
    kafka_bootstrap: str,
    es_url: str,
    es_client: Elasticsearch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    namespace = f"h{uuid.uuid4().hex[:8]}"
    topics = TopicNames.for_namespace(namespace)
    ensure_topics(kafka_bootstrap, topics)
    try:
        with run_deployment(
            kafka_bootstrap,
            es_url,
            namespace,
            topics,
            tmp_path_factory.mktemp("live"),
            services=("indexer", "extractor", "alerts", "api", "ingestor"),
            env={"CWATCH_ALERTS_SUBSCRIPTION_REFRESH_S": str(SUBSCRIPTION_REFRESH_S)},
            service_env={
                # The 50 MB page is cut to the 2 M-character HTML cap and then costs seconds of
                # CPU: on a loaded machine over the 10 s default budget, which would dead-letter
                # it. The budget has its own test (tests/extractor/test_worker_integration.py).
                "extractor": {"CWATCH_EXTRACT_TIMEOUT_S": "60"},
                "alerts": {
                    "CWATCH_ALERTS_ALLOW_LOOPBACK": "true",
                    # A held request must outlive the kill, not time out and be dead-lettered.
                    "CWATCH_ALERTS_WEBHOOK_TIMEOUT_S": "120",
                    "CWATCH_ALERTS_WEBHOOK_BACKOFF_S": "0.1",
                    "CWATCH_ALERTS_WEBHOOK_BACKOFF_MAX_S": "0.5",
                },
            },
        ) as deployment:
            yield deployment
    finally:
        drop_namespace_indices(es_client, namespace)
        delete_topics(kafka_bootstrap, [name for name, _ in topics.all()])
