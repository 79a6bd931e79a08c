"""Helpers for tests: `from tests.support import wait_for, consume_all, run_deployment`."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from devtools.cleanup import drop_namespace_indices  # noqa: F401  (re-exported for tests)
from devtools.supervisor import Stack, wait_until
from schemas.topics import TopicNames, index_alias

T = TypeVar("T")
C = TypeVar("C", bound=httpx.Client)

LOCAL_BASE_URL = "http://127.0.0.1"
"""Where a TestClient should say it is: a Host the API's allow-list accepts by default
(TestClient's own `testserver` is refused, as any name the API does not serve)."""
TEST_CSRF_TOKEN = "test-csrf-token-0123456789"


def as_page_of(client: C) -> C:
    """`client` as the API's own web page: Origin its base URL, and the double-submit CSRF
    pair (cookie cwatch_csrf + header X-CSRF-Token) every state-changing request needs
    (services/common/httpguard.py). Scripts would send an Authorization header instead."""
    from services.common.httpguard import CSRF_COOKIE, CSRF_HEADER

    client.headers.update(
        {"Origin": str(client.base_url).rstrip("/"), CSRF_HEADER: TEST_CSRF_TOKEN}
    )
    client.cookies.set(CSRF_COOKIE, TEST_CSRF_TOKEN)
    return client


def local_client(app: Any, **kwargs: Any) -> Any:
    """A TestClient of `app` at a local Host, sending what the API's own page sends."""
    from fastapi.testclient import TestClient

    return as_page_of(TestClient(app, base_url=LOCAL_BASE_URL, **kwargs))


def wait_for(
    condition: Callable[[], T],
    timeout_s: float = 30.0,
    interval_s: float = 0.2,
    what: str = "condition",
) -> T:
    """Poll until `condition()` is truthy; return its value, or fail the test naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


def consume_all(
    bootstrap: str, topic: str, expect: int | None = None, timeout_s: float = 20.0
) -> list[Any]:
    """Read a topic from the beginning with a fresh group; stop at `expect` records or when idle."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(timeout_s * 1000) if expect is None else 1000,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
            if expect is not None and len(records) >= expect:
                break
            if expect is None and not batch and records:
                break
    finally:
        consumer.close()
    return records


def read_to_end(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[Any]:
    """Every record of `topic` up to its end offsets when called (no group): a read that cannot
    stop early on a slow fetch, for counting."""
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    try:
        parts = sorted(consumer.partitions_for_topic(topic) or set())
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                pytest.fail(f"could not read {topic} to its end in {timeout_s}s")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return [r for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)]]
    finally:
        consumer.close()


class TopicSize:
    """Messages in a topic so far (the sum of its end offsets), asked as often as needed."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from kafka import KafkaConsumer
        from kafka.structs import TopicPartition

        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap)
        parts = self.consumer.partitions_for_topic(topic) or set()
        self.partitions = [TopicPartition(topic, p) for p in parts]

    def __call__(self) -> int:
        return sum(self.consumer.end_offsets(self.partitions).values())

    def close(self) -> None:
        self.consumer.close()


def topic_size(bootstrap: str, topic: str) -> int:
    size = TopicSize(bootstrap, topic)
    try:
        return size()
    finally:
        size.close()


def api_token(es: Any, namespace: str, role: str = "admin", user: str | None = None) -> str:
    """An API token of a user of `role` (created if new) in `namespace`'s account store: the
    one way tests authenticate to the API and the push server."""
    from services.common.auth.accounts import Accounts
    from services.common.auth.models import User
    from services.common.auth.roles import Role
    from services.common.auth.store import AccountStore
    from services.common.settings import AuthSettings

    if isinstance(es, str):
        from elasticsearch import Elasticsearch

        es = Elasticsearch(es)
    name = user or f"test-{role}"
    prefix = AuthSettings(namespace=namespace).account_prefix()
    accounts = Accounts(AccountStore(es, prefix))
    accounts.store.create_user(User(name=name, role=Role(role)))
    return str(accounts.create_token(name, "tests", "tests").text)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Deployment:
    """Every service of one namespace as a real process (`cwatch <service> run`)."""

    def __init__(
        self, stack: Stack, namespace: str, topics: TopicNames, api_url: str, env: dict[str, str]
    ):
        self.stack = stack
        self.namespace = namespace
        self.topics = topics
        self.api_url = api_url
        self.push_url = f"http://127.0.0.1:{env['CWATCH_PUSH_PORT']}"
        self.env = env
        self.alias = index_alias(namespace)
        self._tokens: dict[str, str] = {}

    def token(self, role: str = "admin") -> str:
        if role not in self._tokens:
            self._tokens[role] = api_token(self.env["ELASTICSEARCH_URL"], self.namespace, role)
        return self._tokens[role]

    def api(self, role: str = "admin") -> httpx.Client:
        """A client of the API, authenticated as a user of `role`."""
        return httpx.Client(base_url=self.api_url, timeout=30, headers=bearer(self.token(role)))

    def push(self, role: str = "editor") -> httpx.Client:
        """The ingestor daemon's HTTP face (POST /v1/articles, /healthz), as an editor."""
        return httpx.Client(base_url=self.push_url, timeout=60, headers=bearer(self.token(role)))

    def ready(self, name: str, timeout_s: float = 90) -> None:
        """Wait until a started service answers: the API and the ingestor on /healthz."""
        urls = {"api": f"{self.api_url}/healthz", "ingestor": f"{self.push_url}/healthz"}
        if name not in urls:
            return

        def answers() -> bool:
            self.stack.check_alive()
            try:
                return httpx.get(urls[name], timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(answers, timeout_s), f"{name} did not become ready"


@contextmanager
def run_deployment(
    kafka_bootstrap: str,
    es_url: str,
    namespace: str,
    topics: TopicNames,
    work_dir: Path,
    services: Sequence[str] = ("indexer", "extractor", "api"),
    env: Mapping[str, str] | None = None,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[Deployment]:
    """Start `services` for `namespace` and wait until they answer; stop them (and print their
    log tails) on the way out. `env` adds to every service's environment, `service_env` to one
    service's. The ingestor daemon polls no source (an empty sources file)."""
    api_port, push_port = free_port(), free_port()
    sources = work_dir / "sources.yaml"
    sources.parent.mkdir(parents=True, exist_ok=True)
    sources.write_text("sources: []\n")
    full_env = {
        **os.environ.copy(),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ELASTICSEARCH_URL": es_url,
        "CWATCH_NAMESPACE": namespace,
        "CWATCH_API_PORT": str(api_port),
        "CWATCH_PUSH_PORT": str(push_port),
        "CWATCH_DATA_DIR": str(work_dir / "extractor"),
        "CWATCH_STATE_PATH": str(work_dir / "ingestor-state.sqlite"),
        "CWATCH_SOURCES_FILE": str(sources),
        # Consumer groups are not namespaced by themselves; two deployments must not share one.
        "CWATCH_INDEXER_GROUP_ID": f"{namespace}-indexer",
        "CWATCH_ALERTS_GROUP_ID": f"{namespace}-alerts",
        "CWATCH_LOG_JSON": "true",
        # Tests poll searches every 0.2 s while they wait for a pipeline; the per-client limit
        # is tested on its own (tests/common/test_httpguard.py).
        "CWATCH_API_RATE_SEARCH": "100000/minute",
        **(env or {}),
    }
    stack = Stack(work_dir / "logs", full_env, services=list(services))
    for name, extra in (service_env or {}).items():
        stack[name].env.update(extra)
    try:
        stack.start()
        deployment = Deployment(stack, namespace, topics, f"http://127.0.0.1:{api_port}", full_env)
        for name in services:
            deployment.ready(name)
        yield deployment
    finally:
        stack.stop()
        for service in stack.services.values():
            print(f"--- {service.name} log tail ---\n{service.log_tail(15)}")


class Receiver:
    """A webhook endpoint on loopback; answers with `statuses` in turn (then 200).

    With `hold_after=n`, the requests after the first n are held unanswered until `release()`
    (a sender killed meanwhile never learns their fate); they are then answered 503."""

    def __init__(self, statuses: Sequence[int] = (), hold_after: int | None = None) -> None:
        self.statuses = list(statuses)
        self.hold_after = hold_after
        self.answered = 0
        self.held = 0
        self.released = threading.Event()
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    hold = (
                        receiver.hold_after is not None and receiver.answered >= receiver.hold_after
                    )
                    if hold:
                        receiver.held += 1
                    else:
                        receiver.answered += 1
                if hold:
                    receiver.released.wait()
                with receiver.lock:
                    status = 503 if hold else receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append((dict(self.headers.items()), body, status))
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender is gone
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ok(self) -> list[tuple[dict[str, str], bytes, int]]:
        with self.lock:
            return [r for r in self.requests if r[2] == 200]

    def release(self) -> None:
        """Answer the held requests (503) and every later one normally."""
        with self.lock:
            self.hold_after = None
        self.released.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
