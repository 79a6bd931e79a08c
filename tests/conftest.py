"""Test harness: real Kafka and Elasticsearch for marked tests, no network for the rest.

- Unmarked tests are unit tests: sockets are disabled (pytest-socket), as in snuba.
- Tests marked integration / e2e / fault / browser get the real Kafka and Elasticsearch. When they
  are not reachable, the session starts them with deploy.local.runtime (the same package as
  `make up`) and stops them at the end. When they cannot be started, the run stops and fails
  with the reason (CI or not): never a skip, never a green run that tested nothing real.
  `make test-unit` is the explicit way to run without them.
- Each test gets its own namespace: topics `<ns>.*` and indices `<ns>-*`, removed after the test
  whatever happened in it (a failure, a fixture that broke halfway).
- A run in which no test passed (all skipped or deselected) fails: green means something ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from pytest_socket import disable_socket, enable_socket

from schemas.topics import TopicNames
from services.common.kafka import ensure_topics
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
    from deploy.local.runtime import config, elasticsearch, kafka

    cfg = config.load_config()
    kafka_ok, kafka_why = kafka.kafka_healthy(cfg)
    es_ok, es_why = elasticsearch.es_healthy(cfg)
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
        say(request, f"starting local Kafka + Elasticsearch ({why})")
        result = subprocess.run(
            [sys.executable, "-m", "deploy.local.runtime", "up"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        ok, why = _reachable(common_settings)
        if result.returncode != 0 or not ok:
            # Stop the whole run: skipping the service tests would report a false green.
            say(request, result.stderr[-3000:])
            pytest.exit(
                f"the real Kafka/Elasticsearch could not be started ({why}); see the runtime's "
                "output above. `make test-unit` runs the tests that need neither.",
                returncode=pytest.ExitCode.TESTS_FAILED,
            )
        started_here = os.environ.get("CWATCH_KEEP_SERVICES", "") == ""
    request.config.stash[_VERSIONS_KEY] = _service_versions(common_settings)
    yield
    if started_here:
        subprocess.run(
            [sys.executable, "-m", "deploy.local.runtime", "down"],
            cwd=REPO,
            env=env,
            capture_output=True,
        )


def say(request: pytest.FixtureRequest, text: str) -> None:
    """Print past pytest's capture: what a session fixture says must reach the terminal."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(text)


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

    from deploy.local.runtime.config import load_config

    log = load_config().kafka_dir / "kafka.log"
    if not log.exists():
        return None
    found = re.findall(r"Kafka version: (\S+)", log.read_text(errors="replace"))
    return found[-1] if found else None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run in which no test passed is not a success (pytest only fails when none was collected)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if exitstatus != 0 or reporter is None or session.config.option.collectonly:
        return
    if not reporter.stats.get("passed"):
        reporter.write_line(
            "no test passed (every test was skipped or deselected): failing the run"
        )
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED


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
def namespace(request: pytest.FixtureRequest, common_settings: CommonSettings) -> Iterator[str]:
    ns = f"t{uuid.uuid4().hex[:8]}"
    try:
        yield ns
    finally:
        if needs_services(request.node):
            drop_namespace(common_settings, ns)


def drop_namespace(settings: CommonSettings, ns: str) -> None:
    """Remove every topic `<ns>.*` and index / template `<ns>-*`, however they were made (by a
    fixture that broke halfway, or by a test through es_url alone). A cleanup that fails warns:
    it must not turn a passing test red, nor hide a leak."""
    try:
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap_servers, client_id="cwatch-test-cleanup"
        )
        try:
            # `<ns>.cwatch.*` are declared; faust makes `<ns>-<app id>-...` (changelogs, assignor)
            doomed = [n for n in admin.list_topics() if n.startswith((f"{ns}.", f"{ns}-"))]
            if doomed:
                admin.delete_topics(doomed)
        finally:
            admin.close()
    except Exception as exc:
        warnings.warn(f"topics of namespace {ns} not removed: {exc!r}", stacklevel=1)
    try:
        from elasticsearch import Elasticsearch

        with Elasticsearch(settings.elasticsearch_url, request_timeout=30) as client:
            drop_namespace_indices(client, ns)
    except Exception as exc:
        warnings.warn(f"indices of namespace {ns} not removed: {exc!r}", stacklevel=1)


@pytest.fixture
def topics(kafka_bootstrap: str, namespace: str) -> TopicNames:
    """The namespace's topics; `namespace` removes them after the test, even those a failed
    creation left."""
    names = TopicNames.for_namespace(namespace)
    ensure_topics(kafka_bootstrap, names)
    return names


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
