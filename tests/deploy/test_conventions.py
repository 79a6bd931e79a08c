"""House rules that keep the code base honest."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_environment_reads_outside_settings_modules() -> None:
    offenders = []
    for path in sorted((REPO / "services").rglob("*.py")) + sorted(
        (REPO / "schemas").rglob("*.py")
    ):
        if path.name == "settings.py":
            continue
        text = path.read_text()
        if re.search(r"os\.environ(?!\s*\.copy\(\))|os\.getenv", text):
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders, f"read settings through the service's settings object: {offenders}"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO / ".ci/run").read_text()
    assert "make test" in ci
    assert "make test" in (REPO / "README.md").read_text()


# One client factory per backend: a client built elsewhere drifts in retries, limits and timeouts.
_CLIENT_FACTORIES = {
    r"\bKafkaConsumer\(": "services/common/kafka.py",
    r"\bKafkaProducer\(": "services/common/kafka.py",
    r"\bElasticsearch\(": "services/common/es.py",
}


def test_kafka_and_elasticsearch_clients_are_built_only_by_their_factories() -> None:
    offenders = []
    for path in sorted((REPO / "services").rglob("*.py")):
        rel = str(path.relative_to(REPO))
        text = path.read_text()
        for pattern, home in _CLIENT_FACTORIES.items():
            if rel != home and re.search(pattern, text):
                offenders.append(f"{rel}: {pattern} (use {home})")
    assert not offenders, offenders


def test_no_test_skips_itself_when_our_own_module_is_missing() -> None:
    # importorskip on the project's own code turns a deleted or broken module into a skip
    # instead of a failure.
    offenders = [
        str(path.relative_to(REPO))
        for path in sorted((REPO / "tests").rglob("*.py"))
        if re.search(
            r"importorskip\(\s*['\"](services|schemas|devtools|benchmarks)\b", path.read_text()
        )
    ]
    assert not offenders, offenders


# Shipped code allowed to read tests/: none (the evaluations live in devtools/).
_READS_TESTS_ALLOWED: set[str] = set()


def test_shipped_code_never_reads_files_under_tests() -> None:
    # The installed package has no tests/ beside it: a dev tool that scores or fits on the
    # fixtures (devtools/evaluation.py, calibrate_events.py, story_eval.py) lives in devtools/.
    offenders = []
    for path in sorted((REPO / "services").rglob("*.py")) + sorted(
        (REPO / "schemas").rglob("*.py")
    ):
        rel = str(path.relative_to(REPO))
        if rel not in _READS_TESTS_ALLOWED and re.search(r"""["']tests["'/]""", path.read_text()):
            offenders.append(rel)
    assert not offenders, offenders
