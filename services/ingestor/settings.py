"""The ingestor's one settings object (environment variables prefixed CWATCH_)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from services.common.httpguard import check_rate
from services.common.kafka import MAX_MESSAGE_BYTES
from services.common.settings import AuthSettings, comma_list

DEFAULT_SOURCES_FILE = Path(__file__).with_name("sources.yaml")


class IngestorSettings(AuthSettings):
    sources_file: Path = Field(
        default=DEFAULT_SOURCES_FILE, description="YAML list of feeds and sitemaps to poll"
    )
    state_path: Path = Field(
        default=Path("var/ingestor/state.sqlite"),
        description="SQLite file remembering produced article ids, files and feed validators",
    )
    user_agent: str = Field(
        default="caucasus-watch-ingestor/0.1 (news monitoring; +https://github.com/caucasus-watch)",
        description="Honest User-Agent sent with every request and matched against robots.txt",
    )
    http_connect_timeout_s: float = 5.0
    http_read_timeout_s: float = 15.0
    http_total_timeout_s: float = Field(
        default=30.0,
        description="One deadline per fetch: DNS, robots.txt, connect, TLS, headers, body, "
        "redirects",
    )
    http_max_body_bytes: int = Field(default=15 * 1024 * 1024, description="Larger bodies fail")
    http_max_redirects: int = 5
    http_per_host_concurrency: int = 2
    http_per_host_min_interval_s: float = Field(
        default=1.0, description="Minimum gap between two requests to the same host"
    )
    respect_robots: bool = True
    allow_loopback: bool = Field(
        default=False, description="Let user-given URLs reach 127.0.0.0/8 and ::1 (tests only)"
    )
    allow_private: bool = Field(
        default=False, description="Let user-given URLs reach private and link-local networks"
    )
    fetch_linked_pages: bool = Field(
        default=True, description="Fetch an item's page when its feed has no full text"
    )
    poll_interval_s: float = Field(default=600.0, description="Default per-feed poll interval")
    poll_jitter: float = Field(default=0.1, ge=0, le=1, description="Random +- share of interval")
    sitemap_max_urls: int = Field(default=200, description="Newest URLs taken from one sitemap")
    watch_dirs: list[Path] = Field(default_factory=list, description="Folders watched for files")
    watch_interval_s: float = 2.0
    file_parser_processes: int = Field(
        default=1, ge=0, description="Parser processes for big folders (0 = parse in-process)"
    )
    parallel_min_files: int = Field(
        default=500, ge=1, description="Folders with fewer new files are parsed in-process"
    )
    file_settle_s: float = Field(
        default=1.0, description="A file younger than this may still be being written; wait"
    )
    push_host: str = "127.0.0.1"
    push_port: int = 8081
    push_max_body_bytes: int = Field(
        default=10 * 1024 * 1024, description="Largest push request body (413 beyond)"
    )
    push_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names the push server answers to, comma separated (DNS-rebinding "
        "guard); empty: the bind address, localhost, 127.0.0.1 and ::1; '*' turns it off",
    )
    push_rate_limit: str = Field(
        default="6000/minute",
        description="Push requests per client (bearer token or address); 429 beyond",
    )
    push_ack_timeout_s: float = Field(
        default=30.0, description="A push answers 503 when Kafka has not acked by then"
    )
    max_message_bytes: int = Field(
        default=MAX_MESSAGE_BYTES, description="Kafka message limit; raw HTML is cut to fit it"
    )
    kafka_retry_initial_s: float = 0.5
    kafka_retry_max_s: float = 30.0
    ack_timeout_s: float = Field(default=60.0, description="Wait this long for acks per attempt")
    telegram_backfill_pages: int = Field(
        default=5, ge=1, description="Preview pages (~20 posts each) read back on a first poll"
    )
    telegram_catchup_pages: int = Field(
        default=5, ge=1, description="Pages read back at most to reach the last post produced"
    )
    history_window_s: float = Field(
        default=3 * 86400.0,
        gt=0,
        description="Items of official sources (and Telegram posts) are re-checked for edits "
        "and withdrawal this long after first seen",
    )
    health_silence_factor: float = Field(
        default=4.0, gt=1, description="Silent: no new item for this many times the usual gap"
    )
    health_max_failures: int = Field(
        default=3, ge=1, description="Failing: this many polls in a row failed"
    )
    health_min_gaps: int = Field(
        default=3, ge=1, description="Gaps between arrivals needed before judging silence"
    )

    _names = field_validator("push_allowed_hosts", mode="before")(comma_list)

    @field_validator("push_rate_limit")
    @classmethod
    def _rate(cls, value: Any) -> str:
        return check_rate(str(value))
