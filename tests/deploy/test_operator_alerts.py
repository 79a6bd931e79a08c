"""The operators' alert rules (deploy/prometheus/alerts.yml) are loaded by the Prometheus of
docker-compose and ask for metrics and label values the services really export, so a silent
or failing source does raise an alert (no promtool here: the structure is checked)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import services.ingestor.metrics  # noqa: F401  (registers the ingestor's metrics)
from services.ingestor.health import FLAGGED_STATES

REPO = Path(__file__).resolve().parents[2]
RULES = yaml.safe_load((REPO / "deploy/prometheus/alerts.yml").read_text())
SELECTOR = re.compile(r"(cwatch_[a-z_]+)\{([^}]*)\}")


def _rules() -> list[dict[str, object]]:
    return [rule for group in RULES["groups"] for rule in group["rules"]]


def _exported() -> dict[str, set[str]]:
    """Metric name -> its label names, for every metric registered in this process."""
    found: dict[str, set[str]] = {}
    for collector, names in list(REGISTRY._collector_to_names.items()):  # noqa: SLF001
        for name in names:
            found[name] = set(getattr(collector, "_labelnames", ()))
    return found


def test_prometheus_loads_the_rules_file_that_compose_mounts() -> None:
    prometheus = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    (path,) = prometheus["rule_files"]
    mounts = compose["services"]["prometheus"]["volumes"]
    assert f"./deploy/prometheus/alerts.yml:{path}:ro" in mounts


def test_a_silent_and_a_failing_source_each_raise_an_alert_on_an_exported_metric() -> None:
    exported = _exported()
    states = set()
    for rule in _rules():
        for name, matchers in SELECTOR.findall(str(rule["expr"])):
            assert name in exported, f"{rule['alert']}: {name} is not exported"
            for label, value in re.findall(r'(\w+)="([^"]*)"', matchers):
                assert label in exported[name], f"{rule['alert']}: {name} has no label {label}"
                if label == "state":
                    states.add(value)
        assert rule["annotations"]["summary"]  # type: ignore[index]
    assert states == set(FLAGGED_STATES)
