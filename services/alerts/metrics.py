"""Prometheus metrics of the alerts service and the live feed."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("cwatch_alerts_indexed_events_total", "Indexed events read by the matcher")
INVALID = Counter(
    "cwatch_alerts_invalid_events_total", "Indexed events that were not valid, dead-lettered"
)
MATCHES = Counter("cwatch_alerts_matches_total", "(subscription, report) matches")
ALERTS = Counter("cwatch_alerts_alerts_total", "Alerts produced", ["mode"])
SUBSCRIPTIONS = Gauge("cwatch_alerts_active_subscriptions", "Active subscriptions matched")
MATCH_SECONDS = Histogram(
    "cwatch_alerts_match_seconds",
    "Time to match one batch against every subscription",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
LATENCY = Histogram(
    "cwatch_alerts_ingest_to_alert_seconds",
    "From a report's ingested_at to its alert being produced",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60),
)
DELIVERIES = Counter(
    "cwatch_alerts_deliveries_total",
    "Delivery attempts by channel and outcome",
    ["channel", "outcome"],
)
DEAD_LETTERS = Counter("cwatch_alerts_dead_letters_total", "Items dead-lettered", ["stage"])
SUBSCRIPTION_ERRORS = Counter(
    "cwatch_alerts_subscription_errors_total",
    "Subscriptions whose query failed in a round (skipped, not fatal)",
)
LIVE_CLIENTS = Gauge("cwatch_live_clients", "Open live-feed and subscription SSE streams")
WORKER_ERRORS = Counter(
    "cwatch_alerts_worker_errors_total",
    "Delivery jobs that raised (a dead letter that could not be written, or a bug); retried",
)
THREAD_CRASHES = Counter(
    "cwatch_alerts_thread_crashes_total",
    "Service loops that died; the process then exits non-zero to be restarted",
    ["thread"],
)
LIVE_CLIENTS_CLOSED = Counter(
    "cwatch_live_slow_clients_closed_total",
    "SSE streams closed because the client did not keep up",
)
DELIVERY_SECONDS = Histogram(
    "cwatch_alerts_delivery_seconds",
    "Time of one delivery attempt, by channel",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
CHANNELS_FAILING = Gauge(
    "cwatch_alerts_channels_failing",
    "Subscriptions whose channel had several dead letters in a row, by channel",
    ["channel"],
)
CHANNEL_FAILING_EVENTS = Counter(
    "cwatch_alerts_channel_failing_events_total",
    "Times a subscription's channel started failing (an operator alert)",
    ["channel"],
)
DIGESTS_PENDING = Gauge(
    "cwatch_alerts_email_digest_pending", "Alerts queued for email digests not sent yet"
)
