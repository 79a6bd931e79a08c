"""Every Prometheus metric of the ingestor, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ITEMS_FETCHED = Counter("cwatch_ingestor_items_fetched_total", "Items read from a source", ["kind"])
ITEMS_PRODUCED = Counter(
    "cwatch_ingestor_items_produced_total", "Articles acknowledged by Kafka", ["kind"]
)
ITEMS_DUPLICATE = Counter(
    "cwatch_ingestor_items_duplicate_total", "Items skipped because already produced", ["kind"]
)
ITEMS_FAILED = Counter(
    "cwatch_ingestor_items_failed_total", "Items dead-lettered, by reason", ["reason"]
)
ITEMS_TRUNCATED = Counter(
    "cwatch_ingestor_html_truncated_total", "Articles whose HTML was cut to fit Kafka"
)
LINKED_PAGE_FAILURES = Counter(
    "cwatch_ingestor_linked_page_failures_total",
    "Feed items produced from their summary because the linked page failed",
    ["reason"],
)
FETCH_SECONDS = Histogram(
    "cwatch_ingestor_fetch_seconds",
    "HTTP fetch latency",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SOURCE_LAST_SUCCESS = Gauge(
    "cwatch_ingestor_source_last_success_timestamp_seconds",
    "Unix time of the last successful poll of a source",
    ["source"],
)
SOURCE_FAILURES = Counter(
    "cwatch_ingestor_source_failures_total",
    "Polls, scans or items that failed with an unexpected error (skipped, the rest went on)",
    ["kind", "error"],
)
KAFKA_RETRIES = Counter(
    "cwatch_ingestor_kafka_retries_total", "Send attempts repeated because Kafka was unavailable"
)
PENDING = Gauge("cwatch_ingestor_pending_articles", "Articles sent and not yet acknowledged")
SOURCE_FLAGGED = Gauge(
    "cwatch_ingestor_source_flagged",
    "1 while a source is flagged: silent (no item for N times its usual gap) or failing",
    ["source", "state"],
)
SOURCE_CONSECUTIVE_FAILURES = Gauge(
    "cwatch_ingestor_source_consecutive_failures", "Polls of a source failed in a row", ["source"]
)
SOURCE_USUAL_GAP = Gauge(
    "cwatch_ingestor_source_usual_gap_seconds",
    "Median time between polls of a source that brought new items",
    ["source"],
)
