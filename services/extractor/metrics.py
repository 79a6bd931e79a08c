"""Every Prometheus metric of the extractor, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RAW_CONSUMED = Counter("cwatch_extractor_raw_total", "Raw articles consumed")
REPORTS_PRODUCED = Counter(
    "cwatch_extractor_reports_total", "Reports produced", ["relevant", "duplicate"]
)
DEAD_LETTERED = Counter(
    "cwatch_extractor_deadletter_total",
    "Raw messages sent to the dead-letter topic",
    ["error_type"],
)
DEAD_LETTER_RATIO = Gauge(
    "cwatch_extractor_deadletter_ratio",
    "Share of the raw messages of the current window (up to 1000) dead-lettered; the worker "
    "stops past CWATCH_EXTRACTOR_DLQ_MAX_RATIO",
)
EXTRACT_SECONDS = Histogram(
    "cwatch_extractor_extract_seconds",
    "Time to extract one raw article",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
STALLED_PARTITIONS = Counter(
    "cwatch_extractor_stalled_partitions_total",
    "Raw partitions found stalled (records waiting, none processed while idle) and read again",
)
STORY_RELEASED = Counter(
    "cwatch_extractor_story_released_total",
    "Drafts the story stage let go, by why: the watermark passed them (every raw partition's "
    "extraction got past them), one waited CWATCH_STORY_ORDER_WINDOW_S (a partition fell that "
    "far behind, or its worker died), or too many were held",
    ["reason"],
)
