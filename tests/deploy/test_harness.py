"""The test harness itself (tests/conftest.py): never a false green, never a leaked namespace.

Each case runs pytest in a subprocess on a small generated module, with tests/conftest.py loaded
as a plugin, and reads the outcome."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_pytest(
    tmp_path: Path, source: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "test_generated.py"
    module.write_text(source)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.conftest",
            "-c",
            str(REPO / "pyproject.toml"),
            "--rootdir",
            str(REPO),
            "-p",
            "no:cacheprovider",
            str(module),
        ],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=240,
    )


SERVICE_TEST = """
import pytest

@pytest.mark.integration
def test_needs_kafka(kafka_bootstrap):
    pass

def test_unit():
    pass
"""


def test_a_run_stops_and_fails_with_the_reason_when_kafka_and_elasticsearch_cannot_start(
    tmp_path: Path,
) -> None:
    """Outside CI too: the service tests are not skipped into a green run."""
    (tmp_path / "cache").mkdir()
    result = run_pytest(
        tmp_path,
        SERVICE_TEST,
        env={
            "CI": "",
            # Nothing listens on these ports, and the runtime cannot fetch (no Maven on PATH).
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            "ELASTICSEARCH_URL": "http://127.0.0.1:2",
            "CWATCH_CACHE_DIR": str(tmp_path / "cache"),
            # its own run dir: the clone's .run may hold the developer's running services
            "CWATCH_RUN_DIR": str(tmp_path / "run"),
            "PATH": str(tmp_path / "no-tools"),
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "could not be started" in output and "Maven" in output, output
    assert "skipped" not in output.splitlines()[-1], output


def test_a_run_in_which_no_test_passed_fails(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path, "import pytest\n\ndef test_skipped():\n    pytest.skip('not here')\n"
    )
    assert result.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, result.stdout
    assert "no test passed" in result.stdout
    # (A run in which a test passed still succeeds: every other run of this suite shows it.)


LEAKY_TEST = """
import pytest
from elasticsearch import Elasticsearch

@pytest.mark.integration
def test_fails_after_making_topics_and_an_index(es_url, topics, namespace):
    with Elasticsearch(es_url) as client:
        client.indices.create(index=f"{namespace}-leak")
    with open(MARKER, "w") as handle:
        handle.write(namespace)
    assert False, "this test fails on purpose"
"""


@pytest.mark.integration
def test_a_failed_test_leaves_no_topic_and_no_index_of_its_namespace(
    tmp_path: Path, kafka_bootstrap: str, es_client: Any
) -> None:
    from kafka import KafkaAdminClient

    marker = tmp_path / "namespace"
    result = run_pytest(
        tmp_path,
        LEAKY_TEST.replace("MARKER", repr(str(marker))),
        env={"CWATCH_KEEP_SERVICES": "1"},  # never stop the shared services
    )
    assert result.returncode == 1 and "fails on purpose" in result.stdout, result.stdout
    ns = marker.read_text()
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        left = [name for name in admin.list_topics() if name.startswith(f"{ns}.")]
    finally:
        admin.close()
    assert left == [] or all(_deleting(kafka_bootstrap, name) for name in left)
    indices = es_client.indices.get(index=f"{ns}-*", allow_no_indices=True)
    assert list(indices) == []


def _deleting(bootstrap: str, name: str) -> bool:
    """A deleted topic can still be listed for a moment; it must be gone soon after."""
    import time

    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        for _ in range(50):
            if name not in admin.list_topics():
                return True
            time.sleep(0.2)
        return False
    finally:
        admin.close()
