"""Every Prometheus metric of the indexer, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BULK_SECONDS = Histogram(
    "cwatch_indexer_bulk_seconds",
    "Duration of one bulk request to Elasticsearch (each attempt)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BULK_DOCS = Histogram(
    "cwatch_indexer_bulk_docs",
    "Documents per bulk request",
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
DOCS_INDEXED = Counter(
    "cwatch_indexer_docs_indexed_total",
    "Documents acknowledged by Elasticsearch (outcome: ok | replay)",
    ["outcome"],
)
DOCS_FAILED = Counter(
    "cwatch_indexer_docs_failed_total",
    "Documents that could not be indexed, by reason (retried ones count per attempt)",
    ["reason"],
)
DEAD_LETTERED = Counter(
    "cwatch_indexer_dead_lettered_total",
    "Messages sent to the dead-letter topic, by error type",
    ["error_type"],
)
CONSUMER_LAG = Gauge(
    "cwatch_indexer_consumer_lag",
    "Messages on the report topic not yet consumed, per partition",
    ["partition"],
)
ES_AVAILABLE = Gauge(
    "cwatch_indexer_es_available",
    "1 while Elasticsearch accepts bulk requests, 0 while the indexer holds its partitions paused",
)
SEARCHABLE_SECONDS = Histogram(
    "cwatch_indexer_ingest_to_searchable_seconds",
    "From the raw article's ingest time to the report being acknowledged and refreshed",
    buckets=(0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300, 3600),
)
