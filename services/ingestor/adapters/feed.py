"""RSS 0.9x/1.0/2.0 and Atom feeds (feedparser), after the XML safety check."""

from __future__ import annotations

import calendar
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from schemas.common import SourceInfo, SourceKind
from schemas.raw import RawArticle
from services.ingestor.adapters.base import Failure, ItemError, language_code, make_article
from services.ingestor.adapters.xmlsafe import UnsafeXml, prepare_xml
from services.ingestor.encoding import BinaryContent, TooLarge

# A feed body shorter than this is a teaser, not the article: fetch the page instead.
MIN_FULL_TEXT_CHARS = 400


class FeedError(Exception):
    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


@dataclass
class FeedEntry:
    article: RawArticle
    link: str | None
    full_text: bool


@dataclass
class FeedParse:
    title: str | None
    language: str | None
    entries: list[FeedEntry] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    source: SourceInfo | None = None


def feed_source(feed_url: str | None, title: str | None, language: str | None) -> SourceInfo:
    """Who published a feed that is not in the sources file: its title, else its host."""
    host = urlsplit(feed_url).hostname if feed_url else None
    name = (title or host or "feed").strip()[:300] or "feed"
    return SourceInfo(name=name, kind=SourceKind.FEED, url=feed_url, language=language)


def _struct_to_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _best_content(entry: Any) -> tuple[str | None, str | None, str | None]:
    """(html, text, language) of the longest full content block."""
    best: Any = None
    for block in entry.get("content") or []:
        if block.get("value") and (best is None or len(block["value"]) > len(best["value"])):
            best = block
    if best is None:
        return None, None, None
    if str(best.get("type", "")).startswith("text/plain"):
        return None, best["value"], best.get("language")
    return best["value"], None, best.get("language")


def _authors(entry: Any) -> list[str]:
    names = [a.get("name") for a in entry.get("authors") or [] if a.get("name")]
    if not names and entry.get("author"):
        names = [entry["author"]]
    return names


def parse_feed(
    data: bytes,
    *,
    source: SourceInfo | None = None,
    feed_url: str | None = None,
    http_charset: str | None = None,
    max_bytes: int = 50 * 1024 * 1024,
    where: str | None = None,
) -> FeedParse:
    """Parse a whole feed. Raises FeedError when the feed itself is unusable; bad items
    become Failures and the rest of the feed is kept."""
    try:
        utf8, root = prepare_xml(data, http_charset, max_bytes)
    except UnsafeXml as exc:
        raise FeedError("unsafe_xml", str(exc)) from exc
    except BinaryContent as exc:
        raise FeedError("binary_content", str(exc)) from exc
    except TooLarge as exc:
        raise FeedError("too_large", str(exc)) from exc
    headers = {"content-location": feed_url} if feed_url else {}
    with warnings.catch_warnings():
        # feedparser warns about its updated->published fallback; we ask for both anyway
        warnings.simplefilter("ignore", DeprecationWarning)
        parsed = feedparser.parse(utf8, response_headers=headers, sanitize_html=False)
        return _entries(parsed, root, source, feed_url, where)


def _entries(
    parsed: Any, root: Any, source: SourceInfo | None, feed_url: str | None, where: str | None
) -> FeedParse:
    if not parsed.entries:
        if root is not None and not parsed.get("version"):
            raise FeedError("not_a_feed", f"XML document <{root.tag}> is not an RSS or Atom feed")
        if root is None:
            raise FeedError(
                "malformed_feed", f"not a readable feed: {parsed.get('bozo_exception')}"
            )
    feed_meta = parsed.get("feed", {})
    feed_title = feed_meta.get("title")
    feed_lang = language_code(feed_meta.get("language"))
    result = FeedParse(title=feed_title, language=feed_lang)
    if source is None:
        source = feed_source(feed_url, feed_title, feed_lang)
    result.source = source
    where = where or feed_url or source.url or source.name
    for position, entry in enumerate(parsed.entries):
        link = entry.get("link")
        if link and feed_url:
            link = urljoin(feed_url, link)
        html, text, content_lang = _best_content(entry)
        summary = entry.get("summary")
        full = bool(html or text) and len(html or text or "") >= min(
            MIN_FULL_TEXT_CHARS, 2 * len(summary or "") or MIN_FULL_TEXT_CHARS
        )
        if not (html or text):
            html = summary
        try:
            article = make_article(
                source=source,
                url=link,
                title=entry.get("title"),
                html=html,
                text=text,
                published=_struct_to_dt(
                    entry.get("published_parsed") or entry.get("updated_parsed")
                ),
                authors=_authors(entry),
                categories=[t.get("term") for t in entry.get("tags") or [] if t.get("term")],
                language_hint=content_lang or feed_lang,
                feed_title=feed_title,
                identity_extra=f"{where}\x00{entry.get('id') or position}",
            )
        except ItemError as exc:
            result.failures.append(
                Failure(
                    source=f"{where}#item{position}",
                    reason=exc.reason,
                    error_type=exc.error_type,
                    payload=repr(dict(entry))[:20000].encode("utf-8", "replace"),
                )
            )
            continue
        result.entries.append(FeedEntry(article=article, link=link, full_text=full))
    return result


def looks_like_feed(data: bytes) -> bool:
    head = data[:2048].lstrip().lower()
    return b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head or b"<rdf" in head
