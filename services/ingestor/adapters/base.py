"""What every adapter returns: RawArticle models, or Failures that become dead letters."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from schemas.common import SourceInfo
from schemas.deadletter import DeadLetter, Stage
from schemas.raw import RawArticle
from services.common.netguard import check_url_text
from services.ingestor.urls import article_identity, content_hash

MAX_TITLE = 2000
MAX_FEED_TITLE = 1000


class ItemError(Exception):
    """One item cannot become an article; `error_type` is a short code for metrics."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


@dataclass
class Failure:
    source: str
    reason: str
    error_type: str
    payload: bytes = b""
    key: str | None = None

    def to_dead_letter(self) -> DeadLetter:
        return DeadLetter.of(
            Stage.INGEST,
            self.reason,
            self.payload[:1_000_000],
            error_type=self.error_type,
            source=self.source[:4000],
            original_key=self.key,
        )


def parse_datetime(value: object) -> datetime | None:
    """ISO 8601 or RFC 822 dates, always timezone-aware (UTC when no offset is given). A date
    is data from the page, feed or pusher: whatever it holds, the answer is a date or None,
    never an exception (one unreadable date must not lose its article)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed: datetime | None = value
    else:
        text = str(value).strip()
        parsed = None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            try:
                parsed = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError, OverflowError):
                return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00: UTC is past the calendar's edge,
        # so take the edge (the extractor and indexer do not believe such dates anyway)
        return (datetime.min if parsed.year == 1 else datetime.max).replace(tzinfo=UTC)


def language_code(value: str | None) -> str | None:
    """'en-US' -> 'en'; empty or odd values -> None."""
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    return code if 2 <= len(code) <= 3 and code.isalpha() else None


def clean(value: object, limit: int) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text[:limit] or None


def make_article(
    *,
    source: SourceInfo,
    url: str | None = None,
    title: str | None = None,
    html: str | None = None,
    text: str | None = None,
    published: datetime | None = None,
    authors: list[str] | None = None,
    categories: list[str] | None = None,
    language_hint: str | None = None,
    feed_title: str | None = None,
    identity_extra: str | None = None,
    ingested_at: datetime | None = None,
) -> RawArticle:
    """Build a validated RawArticle with its stable id. Raises ItemError when empty."""
    title = clean(title, MAX_TITLE)
    html = html if html and html.strip() else None
    text = text if text and text.strip() else None
    if not (title or html or text):
        raise ItemError("empty_item", "item has no title, text or HTML")
    if url and len(url) > 4096:
        url = None
    if url:
        try:
            check_url_text(url)
            parts = urlsplit(url)
            _ = parts.hostname, parts.port  # an unclosed IPv6 bracket or a bad port raise here
        except ValueError as exc:  # UnsafeURL is one
            raise ItemError("invalid_url", f"unusable item URL {url[:200]!r}: {exc}") from exc
    body_hash = content_hash(title, text, raw=html)
    if identity_extra:
        article_id, canonical = article_identity(url, identity_extra, title, text, html)
    else:
        article_id, canonical = article_identity(url, title, text, html, digest=body_hash)
    try:
        return RawArticle(
            article_id=article_id,
            url=url,
            canonical_url=canonical,
            source=source,
            title=title,
            html=html,
            text=text,
            published=published,
            authors=[a for a in (clean(x, 300) for x in authors or []) if a],
            categories=[c for c in (clean(x, 300) for x in categories or []) if c],
            language_hint=language_code(language_hint),
            feed_title=clean(feed_title, MAX_FEED_TITLE),
            ingested_at=ingested_at or datetime.now(UTC),
            content_hash=body_hash,
        )
    except ValueError as exc:
        raise ItemError("invalid_item", f"item does not fit the raw schema: {exc}") from exc
