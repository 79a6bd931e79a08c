"""raw topic: what the ingestor read, before any interpretation (ingestor -> extractor)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from schemas.common import ContractModel, SourceInfo
from schemas.topics import SCHEMA_VERSION

MAX_RAW_HTML_CHARS = 4_000_000


class RawArticle(ContractModel):
    schema_version: int = SCHEMA_VERSION
    article_id: str = Field(
        min_length=8, max_length=128, description="Stable hash of the canonical URL, else content"
    )
    url: str | None = Field(default=None, max_length=4096)
    canonical_url: str | None = Field(default=None, max_length=4096)
    source: SourceInfo
    title: str | None = Field(default=None, max_length=2000)
    html: str | None = Field(default=None, description="Raw page HTML, when the source gave HTML")
    text: str | None = Field(default=None, description="Plain text, when the source gave text")
    html_truncated: bool = Field(
        default=False, description="True when html was cut to fit Kafka's message limit"
    )
    original_size: int | None = Field(default=None, ge=0, description="Bytes before truncation")
    published: datetime | None = None
    authors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    language_hint: str | None = Field(default=None, max_length=16)
    feed_title: str | None = Field(default=None, max_length=1000)
    ingested_at: datetime = Field(description="When the ingestor read it (UTC)")
    content_hash: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _has_content(self) -> RawArticle:
        if not (self.html or self.text or self.title):
            raise ValueError("a raw article needs html, text or at least a title")
        return self
