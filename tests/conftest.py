"""Test harness: real Kafka and Elasticsearch for marked tests, no network for the rest.

- Unmarked tests are unit tests: sockets are disabled (pytest-socket), as in snuba.
- Tests marked integration / e2e / fault / browser get the real Kafka and Elasticsearch. When they
  are not reachable, the session starts them with deploy/local/runtime.py (the same script as
  `make up`) and stops them at the end. With CI set, a service that cannot be reached fails the
  run; it is never a skip.
- Each test gets its own namespace: topics `<ns>.cwatch.*` and indices `<ns>-*`, removed after.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from pytest_socket import disable_socket, enable_socket

from schemas.topics import TopicNames
from services.common.kafka import delete_topics, ensure_topics
from services.common.settings import CommonSettings
from tests.support import Receiver, drop_namespace_indices

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SERVICE_MARKERS = {"integration", "e2e", "fault", "browser"}
_VERSIONS_KEY = pytest.StashKey[dict[str, str]]()


def needs_services(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in SERVICE_MARKERS)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if needs_services(item):
        enable_socket()
    else:
        disable_socket(allow_unix_socket=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not needs_services(item):
            item.add_marker(pytest.mark.unit)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _reachable(settings: CommonSettings) -> tuple[bool, str]:
    sys.path.insert(0, str(REPO / "deploy" / "local"))
    import runtime  # type: ignore[import-not-found]

    cfg = runtime.load_config()
    kafka_ok, kafka_why = runtime.kafka_healthy(cfg)
    es_ok, es_why = runtime.es_healthy(cfg)
    return kafka_ok and es_ok, f"Kafka: {kafka_why}; Elasticsearch: {es_why}"


@pytest.fixture(scope="session")
def common_settings() -> CommonSettings:
    return CommonSettings()


@pytest.fixture(scope="session")
def real_services(
    request: pytest.FixtureRequest, common_settings: CommonSettings
) -> Iterator[None]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": common_settings.kafka_bootstrap_servers,
        "ELASTICSEARCH_URL": common_settings.elasticsearch_url,
    }
    os.environ.update({k: env[k] for k in ("KAFKA_BOOTSTRAP_SERVERS", "ELASTICSEARCH_URL")})
    ok, why = _reachable(common_settings)
    started_here = False
    if not ok:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(f"starting local Kafka + Elasticsearch ({why})")
        result = subprocess.run(
            [sys.executable, str(REPO / "deploy" / "local" / "runtime.py"), "up"],
            env=env,
            capture_output=True,
            text=True,
        )
        ok, why = _reachable(common_settings)
        if result.returncode != 0 or not ok:
            message = f"Kafka/Elasticsearch unavailable: {why}\n{result.stderr[-3000:]}"
            if in_ci():
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        started_here = os.environ.get("CWATCH_KEEP_SERVICES", "") == ""
    request.config.stash[_VERSIONS_KEY] = _service_versions(common_settings)
    yield
    if started_here:
        subprocess.run(
            [sys.executable, str(REPO / "deploy" / "local" / "runtime.py"), "down"],
            env=env,
            capture_output=True,
        )


def _service_versions(settings: CommonSettings) -> dict[str, str]:
    from elasticsearch import Elasticsearch
    from kafka import KafkaAdminClient

    es = Elasticsearch(settings.elasticsearch_url)
    nodes = es.nodes.info(filter_path="nodes.*.version,nodes.*.modules.name")["nodes"]
    node = next(iter(nodes.values()))
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        api = admin._client.check_version()  # the broker's protocol generation, e.g. (3, 9)
        cluster = admin.describe_cluster()
    finally:
        admin.close()
    kafka = f"protocol {'.'.join(map(str, api))}, cluster {cluster.get('cluster_id')}"
    release = _kafka_release_from_log()
    return {
        "kafka": f"{release} ({kafka})" if release else kafka,
        "elasticsearch": f"{node['version']} (modules: {', '.join(m['name'] for m in node['modules'])})",
    }


def _kafka_release_from_log() -> str | None:
    """Kafka reports its release only in its log; read it when the local runtime started it."""
    import re

    sys.path.insert(0, str(REPO / "deploy" / "local"))
    import runtime

    log = runtime.load_config().kafka_dir / "kafka.log"
    if not log.exists():
        return None
    found = re.findall(r"Kafka version: (\S+)", log.read_text(errors="replace"))
    return found[-1] if found else None


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    versions = config.stash.get(_VERSIONS_KEY, None)
    if versions:
        terminalreporter.write_sep("-", "real services used")
        terminalreporter.write_line(f"Kafka broker: {versions['kafka']}")
        terminalreporter.write_line(f"Elasticsearch: {versions['elasticsearch']}")


@pytest.fixture(scope="session")
def kafka_bootstrap(real_services: None, common_settings: CommonSettings) -> str:
    return common_settings.kafka_bootstrap_servers


@pytest.fixture(scope="session")
def es_url(real_services: None, common_settings: CommonSettings) -> str:
    return common_settings.elasticsearch_url


@pytest.fixture(scope="session")
def es_client(es_url: str):  # type: ignore[no-untyped-def]
    from elasticsearch import Elasticsearch

    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace whose indices are dropped after the test, passed or failed: a service the
    test started may have created them although the test never asked for an Elasticsearch
    client."""
    ns = f"t{uuid.uuid4().hex[:8]}"
    yield ns
    if not needs_services(request.node):
        return
    try:
        drop_namespace_indices(request.getfixturevalue("es_client"), ns)
    except BaseException:  # cleanup must not turn a passing test red (nor skip it)
        pass


def namespace_topics(bootstrap: str, names: TopicNames) -> list[str]:
    """The declared topics of a namespace and those services made for it (faust's changelog
    and assignor topics are named `<namespace>-<app id>-...`)."""
    from kafka import KafkaConsumer

    declared = [name for name, _ in names.all()]
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        made = [t for t in consumer.topics() if t.startswith(f"{names.namespace}-")]
    finally:
        consumer.close()
    return declared + made


@pytest.fixture
def topics(kafka_bootstrap: str, namespace: str) -> Iterator[TopicNames]:
    names = TopicNames.for_namespace(namespace)
    ensure_topics(kafka_bootstrap, names)
    try:
        yield names
    finally:
        try:
            delete_topics(kafka_bootstrap, namespace_topics(kafka_bootstrap, names))
        except Exception:  # cleanup must not turn a passing test red
            pass


@pytest.fixture(scope="session")
def shared_data() -> Path:
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"{data} is not there (tests may read ../shared when it exists)")
    return data


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    """Webhook endpoints on loopback: `receiver()`, `receiver([500, 503])`, `receiver(hold_after=6)`."""
    made: list[Receiver] = []

    def make(statuses: Sequence[int] = (), hold_after: int | None = None) -> Receiver:
        made.append(Receiver(statuses, hold_after))
        return made[-1]

    yield make
    for r in made:
        r.close()
