"""raw topic: what the ingestor read, before any interpretation (ingestor -> extractor)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from schemas.common import ContractModel, SourceInfo
from schemas.topics import SCHEMA_VERSION

MAX_RAW_HTML_CHARS = 4_000_000
MAX_DIFF_CHARS = 20_000


class ReplyContext(ContractModel):
    """The post a social-media post answers or quotes, as the platform shows it."""

    url: str | None = Field(default=None, max_length=1000)
    author: str | None = Field(default=None, max_length=300)
    text: str | None = Field(default=None, max_length=2000)


class PostInfo(ContractModel):
    """What a post on a messaging platform (Telegram channel) carries besides its text."""

    platform: str = Field(default="telegram", max_length=32)
    channel: str = Field(min_length=1, max_length=64)
    post_id: int = Field(ge=0)
    views: int | None = Field(default=None, ge=0)
    forwarded_from: str | None = Field(default=None, max_length=300)
    forwarded_from_url: str | None = Field(default=None, max_length=1000)
    media: list[str] = Field(default_factory=list, description="photo, video, document, poll")
    media_captions: list[str] = Field(default_factory=list)
    reply_to: ReplyContext | None = None
    edited: bool = Field(default=False, description="The platform marks the post as edited")


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
    post: PostInfo | None = Field(default=None, description="Set for messaging-platform posts")
    pushed_by: str | None = Field(
        default=None,
        max_length=64,
        description="Pushed articles: the id of the API token that pushed it (and its user)",
    )
    version: int = Field(
        default=1, ge=1, description="1 for the first text; +1 per edit or withdrawal seen"
    )
    edited_at: datetime | None = Field(
        default=None, description="When the ingestor saw the text change (version > 1)"
    )
    withdrawn_at: datetime | None = Field(
        default=None, description="When the ingestor saw the item vanish from its source"
    )
    diff: str | None = Field(
        default=None,
        max_length=MAX_DIFF_CHARS,
        description="Unified diff of the text against the previous version",
    )

    @model_validator(mode="after")
    def _has_content(self) -> RawArticle:
        if not (self.html or self.text or self.title):
            raise ValueError("a raw article needs html, text or at least a title")
        return self
