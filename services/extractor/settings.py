"""The extractor's one settings object (env prefix CWATCH_, e.g. CWATCH_RELEVANCE_THRESHOLD)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field

from services.common.settings import CommonSettings


class ExtractorSettings(CommonSettings):
    app_id: str = Field(default="cwatch-extractor", description="faust app id (consumer group)")
    data_dir: Path = Field(
        default=Path(".run/extractor"), description="faust data dir (local table stores)"
    )
    relevance_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Score at or above which a report is relevant"
    )
    event_min_confidence: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Calibrated confidence below which an event label is not emitted "
        "(0.9: about nine in ten of the labels kept are right)",
    )
    gazetteer_dir: Path | None = Field(
        default=None, description="Extra gazetteer YAML/TSV folder merged over the packaged one"
    )
    near_dup_threshold: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="Share of the shorter body's word 3-shingles found in the other (MinHash "
        "estimate) at which it is a near-duplicate",
    )
    dedup_window_hours: int = Field(default=72, ge=1, description="How long near-dups are kept")
    story_order_window_s: float = Field(
        default=30.0,
        ge=0,
        le=600,
        description="The longest the story stage holds a report until every raw partition's "
        "extraction has got past its publication time, so that it decides reports in "
        "publication order whatever the number of workers and their speeds; it holds nothing "
        "while the workers keep up. Reached only when a partition falls that far behind or its "
        "worker dies (0: no ordering, arrival order)",
    )
    max_recent: int = Field(default=20_000, ge=100, description="Signatures kept for near-dups")
    fast_html: bool = Field(
        default=True, description="trafilatura without fallback extractors (faster, same F1)"
    )
    worker_web_port: int = Field(default=0, description="faust web port; 0 = disabled")
    extractor_session_timeout_ms: int = Field(
        default=10_000,
        ge=6_000,
        description="A worker that died and is not restarted hands its partitions on after this "
        "long (a restarted one takes them back at once)",
    )
    extractor_stall_rewind_s: float = Field(
        default=20.0,
        ge=0,
        description="A raw (or story-stage) partition with records waiting that an idle worker "
        "has not processed for this long is read again from its commit (0 = never); above the "
        "extraction budget",
    )
    extractor_recovery_stuck_s: float = Field(
        default=60.0,
        ge=0,
        description="A worker whose table recovery has records left to read and reads none for "
        "this long exits (code 75) for another to take over and a supervisor to restart it "
        "(0 = never)",
    )
    extract_timeout_s: float = Field(
        default=10.0,
        ge=0,
        description="Time budget of one message's extraction; over it, the message is "
        "dead-lettered (0 = no limit)",
    )
    extract_max_html_chars: int = Field(
        default=2_000_000, ge=1000, description="HTML beyond this is cut before extraction"
    )
    extract_max_text_chars: int = Field(
        default=500_000,
        ge=1000,
        description="Text beyond this is cut before extraction (the report is flagged truncated)",
    )
    extractor_dlq_max_ratio: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Stop the worker (exit 70, its offsets not committed past the raw message "
        "that broke the cap) when more than this share of the last 1000 raw messages would be "
        "dead-lettered: a bug, not bad input; 0 = no limit",
    )
    date_min: date = Field(
        default=date(1990, 1, 1), description="Earlier publication dates are clamped to this"
    )
    date_max_ahead_days: float = Field(
        default=1.0, ge=0, description="Publication dates later than now + this are clamped"
    )

    @property
    def broker_url(self) -> str:
        hosts = [h.strip() for h in self.kafka_bootstrap_servers.split(",") if h.strip()]
        return ";".join(f"kafka://{h}" for h in hosts)

    @property
    def faust_id(self) -> str:
        return f"{self.namespace}-{self.app_id}" if self.namespace else self.app_id
