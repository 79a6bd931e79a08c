"""The Grafana provisioning and dashboard in deploy/grafana: valid, wired to docker-compose's
Prometheus, and every metric a panel queries is one a service really declares."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "caucasus-watch.json"
# Exported by prometheus_client's default process collector in every service, not declared by us.
BUILTIN_METRICS = {"process_resident_memory_bytes", "process_cpu_seconds_total"}
PROMQL_WORDS = {
    "by",
    "without",
    "or",
    "and",
    "unless",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
}
DECLARATION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][\w:]*)\"")


def declared_metrics() -> dict[str, str]:
    """Metric name -> type, from every services/*/metrics.py."""
    found: dict[str, str] = {}
    for path in sorted((REPO / "services").glob("*/metrics.py")):
        for kind, name in DECLARATION.findall(path.read_text(encoding="utf-8")):
            found[name] = kind
    return found


def exposed_names(declared: dict[str, str]) -> set[str]:
    """The series names Prometheus scrapes for those declarations (prometheus_client rules)."""
    names: set[str] = set()
    for name, kind in declared.items():
        if kind == "Counter":
            names.add(name if name.endswith("_total") else f"{name}_total")
        elif kind in ("Histogram", "Summary"):
            names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
        else:
            names.add(name)
    return names


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (labels, functions, keywords removed)."""
    stripped = re.sub(r'"[^"]*"', "", expr)
    stripped = re.sub(r"\{[^}]*\}", "", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", stripped)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][\w:]*", stripped):
        following = stripped[match.end() :].lstrip()
        word = match.group(0)
        if following.startswith("(") or word in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in panels(dashboard) for t in p.get("targets", [])]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def test_metric_name_parser_ignores_labels_functions_and_keywords() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, endpoint) (rate(cwatch_search_seconds_bucket{job="x"}'
        "[$__rate_interval]))) or vector(0) + time() - max by (source) (some_gauge)"
    )
    assert metric_names(expr) == {"cwatch_search_seconds_bucket", "some_gauge"}


def test_every_metric_on_the_dashboard_is_declared_by_a_service(
    dashboard: dict[str, Any],
) -> None:
    known = exposed_names(declared_metrics()) | BUILTIN_METRICS
    used = set().union(*(metric_names(e) for e in exprs(dashboard)))
    unknown = sorted(used - known)
    assert not unknown, f"dashboard queries metrics no services/*/metrics.py declares: {unknown}"


def test_dashboard_covers_the_operations_questions(dashboard: dict[str, Any]) -> None:
    used = set().union(*(metric_names(e) for e in exprs(dashboard)))
    for needed in (
        "cwatch_indexer_ingest_to_searchable_seconds_bucket",
        "cwatch_alerts_ingest_to_alert_seconds_bucket",
        "cwatch_indexer_bulk_seconds_bucket",
        "cwatch_indexer_consumer_lag",
        "cwatch_ingestor_items_produced_total",
        "cwatch_extractor_reports_total",
        "cwatch_indexer_docs_indexed_total",
    ):
        assert needed in used, needed
    titles = " ".join(p["title"].lower() for p in panels(dashboard))
    for words in ("throughput", "dead letters", "lag", "bulk", "searchable", "alert"):
        assert words in titles, words


def test_every_service_with_metrics_has_a_panel(dashboard: dict[str, Any]) -> None:
    used = " ".join(exprs(dashboard))
    for path in sorted((REPO / "services").glob("*/metrics.py")):
        names = [n for _, n in DECLARATION.findall(path.read_text(encoding="utf-8"))]
        if names:
            assert any(n in used for n in names), (
                f"no panel for {path.parent.name}: add one in deploy/grafana/build_dashboard.py"
            )


def test_dead_letter_counters_of_every_service_are_on_the_dashboard(
    dashboard: dict[str, Any],
) -> None:
    used = " ".join(exprs(dashboard))
    dead = [n for n in declared_metrics() if "dead" in n or n.endswith("items_failed_total")]
    assert dead
    missing = [n for n in dead if n not in used]
    assert not missing, (
        f"add {missing} to the dead-letter panel in deploy/grafana/build_dashboard.py"
    )


def test_dashboard_json_is_well_formed_for_grafana(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "caucasus-watch" and dashboard["title"]
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "prometheus"
            assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids))


def test_provisioning_points_at_compose_prometheus_and_the_dashboard_folder() -> None:
    sources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert source["uid"] == "prometheus"
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "caucasus-watch.yaml").read_text()
    )
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_prometheus_scrape_job_matches_the_dashboard_job_label(dashboard: dict[str, Any]) -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    for expr in exprs(dashboard):
        for job in re.findall(r'job="([^"]+)"', expr):
            assert job in jobs


def test_committed_dashboard_is_the_builders_output() -> None:
    spec = importlib.util.spec_from_file_location("build_dashboard", GRAFANA / "build_dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert DASHBOARD.read_text(encoding="utf-8") == module.render(), (
        "run: python deploy/grafana/build_dashboard.py"
    )


def test_every_query_has_balanced_brackets_and_a_legend_for_grouped_series(
    dashboard: dict[str, Any],
) -> None:
    pairs = {")": "(", "}": "{", "]": "["}
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            stack: list[str] = []
            for char in re.sub(r'"[^"]*"', "", target["expr"]):
                if char in "({[":
                    stack.append(char)
                elif char in pairs:
                    assert stack and stack.pop() == pairs[char], target["expr"]
            assert not stack, target["expr"]
            grouped = re.findall(r"\bby \(([^)]*)\)", target["expr"])
            labels = {g.strip() for group in grouped for g in group.split(",")} - {"le"}
            if labels and panel["type"] == "timeseries":
                assert any("{{" + label + "}}" in target["legendFormat"] for label in labels), (
                    panel["title"],
                    target["expr"],
                )
