"""Every Prometheus metric of the search API, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "cwatch_search_requests_total",
    "Search API requests by endpoint and status",
    ["endpoint", "status"],
)
LATENCY = Histogram(
    "cwatch_search_seconds",
    "Search API time per request, Elasticsearch included",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
