"""The indexer's one settings object (environment: CWATCH_INDEXER_*, plus the common ones)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Self

from pydantic import Field, model_validator

from services.common.settings import CommonSettings


class IndexerSettings(CommonSettings):
    CONSUMER_GROUPS = ("indexer_group_id",)

    indexer_group_id: str = Field(
        default="cwatch-indexer",
        description="Kafka consumer group; instances share partitions. The default gets "
        "CWATCH_NAMESPACE as prefix",
    )
    # 5,000 / 24 MiB rather than 2,000 / 8 MiB: under a backlog, fewer bulks mean fewer
    # refreshes and smaller merges (index bench, 40,000 reports, 4 runs each, alternating:
    # median 1,618 vs 1,216 docs/s); a partial batch still leaves after batch_max_wait_ms.
    indexer_event_confidence: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Event labels below this (calibrated) confidence stay in the report but not "
        "in event_types / primary_event: search filters, facets, the overview and alert "
        "subscriptions ignore them (0: every label the extractor emitted)",
    )
    indexer_batch_max_docs: int = Field(default=5000, ge=1, description="Bulk request: max docs")
    indexer_batch_max_bytes: int = Field(
        default=24 * 1024 * 1024, ge=1024, description="Bulk request: max bytes of sources"
    )
    # Each partial batch ends in a refresh, and refreshes (with the small segments they leave
    # to merge) were most of Elasticsearch's CPU at a steady 50 reports/s: 300 ms rather than
    # 100 ms took it from 0.38 to 0.24 core in the end-to-end run, searchable p99 still ~0.5 s.
    indexer_batch_max_wait_ms: int = Field(
        default=300,
        ge=0,
        description="Flush a partial batch after this long: bounds ingest->searchable latency",
    )
    indexer_session_timeout_ms: int = Field(
        default=10_000,
        ge=6_000,
        description="A crashed instance's partitions move to the others after this long",
    )
    indexer_poll_timeout_ms: int = Field(default=100, ge=1)
    # In 'refresh' mode the indexer refreshes what it wrote after every bulk, so the periodic
    # refresh only adds segments (and merges) under a backlog: 30 s, still explicit, so an index
    # never goes "search idle". 'wait_for' relies on the periodic refresh: 1 s unless set.
    indexer_refresh_interval: str = Field(
        default="30s",
        description="index.refresh_interval of the report indices (set explicitly); "
        "1s by default with refresh_mode wait_for",
    )
    indexer_refresh_mode: str = Field(
        default="refresh",
        pattern="^(refresh|wait_for)$",
        description="'refresh': refresh written indices after each bulk (lowest latency); "
        "'wait_for': bulk with refresh=wait_for (fewer segments, up to refresh_interval slower)",
    )
    # One shard per month: a search over N months asks N shards, not 2N (each with its own
    # per-shard work for facets and highlights). A second shard let ES index one month on two
    # threads, but on two cores the indexer itself needs the other one.
    indexer_shards: int = Field(
        default=1,
        ge=1,
        description="Primary shards per monthly index (a search asks each month's shards)",
    )
    indexer_replicas: int = Field(default=0, ge=0)
    indexer_es_timeout_s: float = Field(default=30.0, gt=0)
    indexer_dlq_max_ratio: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Stop (offsets uncommitted) when more than this share of the last 1000 "
        "reports would be dead-lettered: a bug, not bad input; 0 = no limit",
    )
    # The client's own retries are off: the indexer retries each bulk item itself, with
    # backoff and its partitions paused, and a client retry would resend a whole bulk.
    ES_RETRIES: ClassVar[int] = 0

    @property
    def es_timeout_s(self) -> float:
        return self.indexer_es_timeout_s

    indexer_retry_base_s: float = Field(default=0.2, gt=0, description="First backoff delay")
    indexer_retry_cap_s: float = Field(default=10.0, gt=0, description="Longest backoff delay")
    indexer_item_max_attempts: int = Field(
        default=8,
        ge=1,
        description="Attempts for a 429/5xx item inside one flush before the whole batch is "
        "held back (partitions paused) and retried later; an item is never dropped",
    )

    indexer_date_min: date = Field(
        default=date(1990, 1, 1),
        description="Reports dated earlier are filed under their ingest month: one index per "
        "pushed month of year 0001 would reach the shards-per-node limit",
    )

    @model_validator(mode="after")
    def _wait_for_refreshes_every_second(self) -> Self:
        if self.indexer_refresh_mode == "wait_for" and (
            "indexer_refresh_interval" not in self.model_fields_set
        ):
            self.indexer_refresh_interval = "1s"
        return self
