"""Builds deploy/grafana/dashboards/caucasus-watch.json: `python deploy/grafana/build_dashboard.py`.

The dashboard is code so that panels stay consistent (one datasource uid, unique ids, a grid
that fits) and tests/demo/test_grafana.py can check the committed JSON is exactly this output.
Metric names come from services/*/metrics.py; that test fails when a panel queries a metric
no service declares.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards" / "caucasus-watch.json"
DS = {"type": "prometheus", "uid": "prometheus"}  # = provisioning/datasources/prometheus.yaml
RI = "$__rate_interval"


def q(quantile: float, histogram: str, by: str = "") -> str:
    group = f"le, {by}" if by else "le"
    return f"histogram_quantile({quantile}, sum by ({group}) (rate({histogram}_bucket[{RI}])))"


class Builder:
    """Lays panels out top to bottom; `y` is the current row of the 24-column grid."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.y = 0

    def _id(self) -> int:
        return len(self.panels) + 1

    def row(self, title: str) -> None:
        self.panels.append(
            {
                "type": "row",
                "title": title,
                "collapsed": False,
                "id": self._id(),
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    @staticmethod
    def _targets(queries: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return [
            {"refId": chr(65 + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(queries)
        ]

    def ts(
        self,
        title: str,
        queries: list[tuple[str, str]],
        unit: str,
        x: int,
        w: int = 12,
        h: int = 8,
        desc: str = "",
        stack: bool = False,
    ) -> None:
        self.panels.append(
            {
                "type": "timeseries",
                "title": title,
                "description": desc,
                "id": self._id(),
                "datasource": DS,
                "gridPos": {"h": h, "w": w, "x": x, "y": self.y},
                "targets": self._targets(queries),
                "fieldConfig": {
                    "defaults": {
                        "unit": unit,
                        "custom": {
                            "lineWidth": 1,
                            "fillOpacity": 10,
                            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
                        },
                    },
                    "overrides": [],
                },
                "options": {
                    "legend": {
                        "displayMode": "table",
                        "placement": "bottom",
                        "showLegend": True,
                        "calcs": ["mean", "max", "lastNotNull"],
                    },
                    "tooltip": {"mode": "multi", "sort": "desc"},
                },
            }
        )

    def right_axis(self, matcher: str, pattern: str, unit: str) -> None:
        """Series of another unit on the last panel go to a right-hand axis."""
        self.panels[-1]["fieldConfig"]["overrides"] = [
            {
                "matcher": {"id": matcher, "options": pattern},
                "properties": [
                    {"id": "unit", "value": unit},
                    {"id": "custom.axisPlacement", "value": "right"},
                ],
            }
        ]

    def stat(
        self,
        title: str,
        expr: str,
        unit: str,
        x: int,
        w: int = 4,
        red: float | None = None,
        desc: str = "",
        invert: bool = False,
    ) -> None:
        steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
        if red is not None:
            steps = (
                [{"color": "red", "value": None}, {"color": "green", "value": red}]
                if invert
                else [{"color": "green", "value": None}, {"color": "red", "value": red}]
            )
        self.panels.append(
            {
                "type": "stat",
                "title": title,
                "description": desc,
                "id": self._id(),
                "datasource": DS,
                "gridPos": {"h": 4, "w": w, "x": x, "y": self.y},
                "targets": self._targets([(expr, "")]),
                "fieldConfig": {
                    "defaults": {
                        "unit": unit,
                        "thresholds": {"mode": "absolute", "steps": steps},
                    },
                    "overrides": [],
                },
                "options": {
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background",
                    "graphMode": "area",
                    "textMode": "auto",
                    "justifyMode": "auto",
                    "orientation": "auto",
                },
            }
        )


def build() -> dict[str, Any]:
    b = Builder()
    b.row("Overview")
    b.stat(
        "Reports indexed / s",
        f'sum(rate(cwatch_indexer_docs_indexed_total{{outcome="ok"}}[{RI}]))',
        "ops",
        0,
        desc="Reports acknowledged by Elasticsearch (replays excluded)",
    )
    b.stat(
        "Ingest → searchable p99",
        q(0.99, "cwatch_indexer_ingest_to_searchable_seconds"),
        "s",
        4,
        red=2,
        desc="Target: under 2 s at 50 articles/s",
    )
    b.stat(
        "Ingest → alert p99",
        q(0.99, "cwatch_alerts_ingest_to_alert_seconds"),
        "s",
        8,
        red=3,
        desc="Target: under 3 s at 50 articles/s",
    )
    b.stat(
        "Dead letters (1 h)",
        "(sum(increase(cwatch_ingestor_items_failed_total[1h])) or vector(0))"
        " + (sum(increase(cwatch_extractor_deadletter_total[1h])) or vector(0))"
        " + (sum(increase(cwatch_indexer_dead_lettered_total[1h])) or vector(0))"
        " + (sum(increase(cwatch_alerts_dead_letters_total[1h])) or vector(0))",
        "short",
        12,
        red=1,
    )
    b.stat(
        "Indexer consumer lag",
        "sum(cwatch_indexer_consumer_lag)",
        "short",
        16,
        red=1000,
        desc="Report-topic messages not yet consumed by the indexer",
    )
    b.stat(
        "Elasticsearch accepting writes",
        "min(cwatch_indexer_es_available)",
        "bool",
        20,
        red=1,
        invert=True,
        desc="0 while the indexer holds its partitions paused",
    )
    b.y += 4

    b.row("Throughput per stage")
    b.ts(
        "Articles and reports per stage (per second)",
        [
            (f"sum(rate(cwatch_ingestor_items_fetched_total[{RI}]))", "ingestor: fetched"),
            (f"sum(rate(cwatch_ingestor_items_produced_total[{RI}]))", "ingestor: produced to raw"),
            (f"sum(rate(cwatch_extractor_raw_total[{RI}]))", "extractor: raw consumed"),
            (f"sum(rate(cwatch_extractor_reports_total[{RI}]))", "extractor: reports produced"),
            (
                f'sum(rate(cwatch_indexer_docs_indexed_total{{outcome="ok"}}[{RI}]))',
                "indexer: indexed",
            ),
            (f"sum(rate(cwatch_alerts_indexed_events_total[{RI}]))", "alerts: indexed events read"),
            (f"sum(rate(cwatch_alerts_matches_total[{RI}]))", "alerts: subscription matches"),
            (
                f"sum by (mode) (rate(cwatch_alerts_alerts_total[{RI}]))",
                "alerts: produced ({{mode}})",
            ),
        ],
        "ops",
        0,
        desc="Every stage should follow the ingestor; a widening gap is a backlog",
    )
    b.ts(
        "Ingest by source kind and outcome (per second)",
        [
            (
                f"sum by (kind) (rate(cwatch_ingestor_items_fetched_total[{RI}]))",
                "fetched {{kind}}",
            ),
            (
                f"sum by (kind) (rate(cwatch_ingestor_items_duplicate_total[{RI}]))",
                "duplicate {{kind}}",
            ),
            (
                f"sum by (relevant, duplicate) (rate(cwatch_extractor_reports_total[{RI}]))",
                "reports relevant={{relevant}} duplicate={{duplicate}}",
            ),
            (
                f"sum by (outcome) (rate(cwatch_indexer_docs_indexed_total[{RI}]))",
                "indexed {{outcome}}",
            ),
        ],
        "ops",
        12,
    )
    b.y += 8

    b.row("Errors and dead letters")
    b.ts(
        "Dead letters by stage and reason (per minute)",
        [
            (
                f"sum by (reason) (rate(cwatch_ingestor_items_failed_total[{RI}])) * 60",
                "ingest: {{reason}}",
            ),
            (
                f"sum by (error_type) (rate(cwatch_extractor_deadletter_total[{RI}])) * 60",
                "extract: {{error_type}}",
            ),
            (
                f"sum by (error_type) (rate(cwatch_indexer_dead_lettered_total[{RI}])) * 60",
                "index: {{error_type}}",
            ),
            (
                f"sum by (stage) (rate(cwatch_alerts_dead_letters_total[{RI}])) * 60",
                "alerts: {{stage}}",
            ),
        ],
        "short",
        0,
        desc="Inspect with `cwatch dlq list --stage ...`, replay after a fix with `cwatch dlq replay`",
        stack=True,
    )
    b.ts(
        "Failures and retries (per minute)",
        [
            (
                f"sum by (reason) (rate(cwatch_indexer_docs_failed_total[{RI}])) * 60",
                "index failed: {{reason}}",
            ),
            (
                f"sum by (reason) (rate(cwatch_ingestor_linked_page_failures_total[{RI}])) * 60",
                "linked page failed: {{reason}}",
            ),
            (
                f"sum(rate(cwatch_ingestor_kafka_retries_total[{RI}])) * 60",
                "ingestor Kafka retries",
            ),
            (
                f"sum(rate(cwatch_ingestor_html_truncated_total[{RI}])) * 60",
                "HTML truncated to fit Kafka",
            ),
            (
                f"sum(rate(cwatch_alerts_invalid_events_total[{RI}])) * 60",
                "alerts: invalid indexed events",
            ),
            (
                f'sum by (channel) (rate(cwatch_alerts_deliveries_total{{outcome!="ok"}}[{RI}])) * 60',
                "alert delivery not ok: {{channel}}",
            ),
            (
                f"sum(rate(cwatch_alerts_subscription_errors_total[{RI}])) * 60",
                "subscription query errors",
            ),
            (
                f'sum by (endpoint) (rate(cwatch_search_requests_total{{status=~"5.."}}[{RI}])) * 60',
                "search 5xx: {{endpoint}}",
            ),
        ],
        "short",
        12,
    )
    b.y += 8
    b.ts(
        "Extractor: dead-letter share of the last raw messages",
        [("max(cwatch_extractor_deadletter_ratio)", "share dead-lettered")],
        "percentunit",
        0,
        desc="With CWATCH_EXTRACTOR_DLQ_MAX_RATIO set, the worker stops (exit 70) above it",
    )
    b.ts(
        "Extractor: story stage drafts let go, by reason",
        [
            (
                f"sum by (reason) (rate(cwatch_extractor_story_released_total[{RI}])) * 60",
                "{{reason}}",
            )
        ],
        "short",
        12,
        desc="Per minute. 'watermark': in publication order once every raw partition got past "
        "them; 'hold': one waited CWATCH_STORY_ORDER_WINDOW_S for a partition that fell behind "
        "or whose worker died; 'cap': too many held",
    )
    b.y += 8

    b.row("Latency")
    b.ts(
        "Ingest → searchable and ingest → alert",
        [
            (q(0.5, "cwatch_indexer_ingest_to_searchable_seconds"), "searchable p50"),
            (q(0.95, "cwatch_indexer_ingest_to_searchable_seconds"), "searchable p95"),
            (q(0.99, "cwatch_indexer_ingest_to_searchable_seconds"), "searchable p99"),
            (q(0.5, "cwatch_alerts_ingest_to_alert_seconds"), "alert p50"),
            (q(0.95, "cwatch_alerts_ingest_to_alert_seconds"), "alert p95"),
            (q(0.99, "cwatch_alerts_ingest_to_alert_seconds"), "alert p99"),
        ],
        "s",
        0,
        desc="From the ingestor's ingested_at to searchable in Elasticsearch / to the alert being produced",
    )
    b.ts(
        "Elasticsearch bulk requests",
        [
            (q(0.5, "cwatch_indexer_bulk_seconds"), "bulk p50"),
            (q(0.99, "cwatch_indexer_bulk_seconds"), "bulk p99"),
            (
                f"sum(rate(cwatch_indexer_bulk_docs_sum[{RI}])) / sum(rate(cwatch_indexer_bulk_docs_count[{RI}]))",
                "docs per bulk (mean, right axis)",
            ),
        ],
        "s",
        12,
    )
    b.right_axis("byName", "docs per bulk (mean, right axis)", "short")
    b.y += 8
    b.ts(
        "Per-stage work time",
        [
            (q(0.5, "cwatch_extractor_extract_seconds"), "extract p50"),
            (q(0.99, "cwatch_extractor_extract_seconds"), "extract p99"),
            (q(0.95, "cwatch_ingestor_fetch_seconds", "kind"), "fetch p95 {{kind}}"),
            (q(0.99, "cwatch_alerts_match_seconds"), "alert match p99"),
        ],
        "s",
        0,
    )
    b.ts(
        "Search API latency",
        [
            (q(0.5, "cwatch_search_seconds", "endpoint"), "p50 {{endpoint}}"),
            (q(0.95, "cwatch_search_seconds", "endpoint"), "p95 {{endpoint}}"),
            (
                f"sum by (endpoint) (rate(cwatch_search_requests_total[{RI}]))",
                "req/s {{endpoint}} (right axis)",
            ),
        ],
        "s",
        12,
    )
    b.right_axis("byRegexp", "req/s.*", "reqps")
    b.y += 8

    b.row("Backlog and health")
    b.ts(
        "Consumer lag and pending sends",
        [
            ("sum by (partition) (cwatch_indexer_consumer_lag)", "indexer lag p{{partition}}"),
            ("sum(cwatch_ingestor_pending_articles)", "ingestor: sent, not yet acknowledged"),
        ],
        "short",
        0,
        desc="Lag that keeps growing means the input rate is above what the stage sustains",
    )
    b.ts(
        "Sources, subscriptions, live clients",
        [
            (
                "time() - max by (source) (cwatch_ingestor_source_last_success_timestamp_seconds)",
                "since last poll: {{source}}",
            ),
            ("sum(cwatch_alerts_active_subscriptions)", "active subscriptions (right axis)"),
            ("sum(cwatch_live_clients)", "live feed clients (right axis)"),
        ],
        "s",
        12,
    )
    b.right_axis("byRegexp", ".*right axis.*", "short")
    b.y += 8

    b.row("Resources per service")
    b.ts(
        "Resident memory",
        [
            ('sum by (instance) (process_resident_memory_bytes{job="cwatch"})', "{{instance}}"),
        ],
        "bytes",
        0,
        desc="Target: whole stack (with Kafka and Elasticsearch) under 6 GB",
    )
    b.ts(
        "CPU (cores)",
        [
            (
                f'sum by (instance) (rate(process_cpu_seconds_total{{job="cwatch"}}[{RI}]))',
                "{{instance}}",
            ),
        ],
        "short",
        12,
    )
    b.y += 8

    return {
        "uid": "caucasus-watch",
        "title": "caucasus-watch",
        "description": "Pipeline health: ingestor -> extractor -> indexer -> Elasticsearch -> alerts, per stage.",
        "tags": ["caucasus-watch"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": []},
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [],
        "panels": b.panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
