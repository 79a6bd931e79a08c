"""RSS 0.9x/1.0/2.0 and Atom feeds (feedparser), after the XML safety check."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from schemas.common import SourceInfo, SourceKind
from schemas.raw import RawArticle
from services.ingestor.adapters.base import Failure, ItemError, language_code, make_article
from services.ingestor.adapters.feed_items import FeedDoc, Unsupported, fast_parse, feedparser_parse
from services.ingestor.adapters.xmlsafe import UnsafeXml, prepare_xml
from services.ingestor.encoding import BinaryContent, TooLarge

# A feed body shorter than this is a teaser, not the article: fetch the page instead.
MIN_FULL_TEXT_CHARS = 400
# feedparser does Python work per element: ~120 us in its strict parser (an Atom entry of
# 200,000 empty XHTML tags took 25 s), and in its lenient one (feeds that are not well-formed)
# ~45 us per tag and ~13 us per entity reference (1 MB of `<a ` took 15 s, of `&` 13 s). The
# fast path reads most feeds; what is left for feedparser must fit this budget (a few
# seconds), else the feed is refused with the reason.
MAX_FEEDPARSER_BYTES = 4 << 20
MAX_FEEDPARSER_ELEMENTS = 50_000  # well-formed: elements of the tree
MAX_LENIENT_COST = 200_000  # not well-formed: 3 per `<` plus 1 per `&`
# A numeric character reference: feedparser's lenient parser calls chr() on it, which raises
# for one past U+10FFFF (and one for a surrogate fails later, when encoded). No nested
# quantifier, and each match starts at '&#': linear on any input.
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


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


def parse_feed(
    data: bytes,
    *,
    source: SourceInfo | None = None,
    feed_url: str | None = None,
    http_charset: str | None = None,
    max_bytes: int = 50 * 1024 * 1024,
    where: str | None = None,
    use_fast_path: bool = True,
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
    doc = None
    if root is not None and use_fast_path:
        try:
            doc = fast_parse(root, feed_url)
        except Unsupported:
            doc = None
    if doc is None:
        _check_feedparser_budget(utf8, root)
        try:
            doc, parsed = feedparser_parse(_neutralise_charrefs(utf8), feed_url)
        except Exception as exc:  # noqa: BLE001 - whatever feedparser raises on a hostile body
            raise FeedError("malformed_feed", f"feedparser cannot read it: {exc!r}"[:500]) from exc
        if not doc.items:
            if root is not None and not doc.version:
                raise FeedError(
                    "not_a_feed", f"XML document <{root.tag}> is not an RSS or Atom feed"
                )
            if root is None:
                raise FeedError(
                    "malformed_feed", f"not a readable feed: {parsed.get('bozo_exception')}"
                )
    return _entries(doc, source, feed_url, where)


def _charref(match: re.Match[bytes]) -> bytes:
    digits = match[1] or match[2]
    value = int(digits, 16 if match[1] else 10) if len(digits) <= 8 else -1
    if 0 <= value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF:
        return match[0]
    return b"&#xFFFD;"


def _neutralise_charrefs(utf8: bytes) -> bytes:
    """Character references to no character (past U+10FFFF, surrogates) become U+FFFD, so one
    of them does not cost the whole feed."""
    return _CHARREF.sub(_charref, utf8) if b"&#" in utf8 else utf8


def _check_feedparser_budget(utf8: bytes, root: ET.Element | None) -> None:
    if len(utf8) > MAX_FEEDPARSER_BYTES:
        raise FeedError(
            "too_complex",
            f"feed needs feedparser and is {len(utf8)} bytes (limit {MAX_FEEDPARSER_BYTES})",
        )
    if root is not None:
        elements = sum(1 for _ in root.iter())
        if elements > MAX_FEEDPARSER_ELEMENTS:
            raise FeedError(
                "too_complex",
                f"feed needs feedparser and has {elements} elements "
                f"(limit {MAX_FEEDPARSER_ELEMENTS})",
            )
        return
    cost = 3 * utf8.count(b"<") + utf8.count(b"&")
    if cost > MAX_LENIENT_COST:
        raise FeedError(
            "too_complex",
            "feed is not well-formed XML and has too many tags and entity references "
            f"for the lenient parser (cost {cost}, limit {MAX_LENIENT_COST})",
        )


def _entries(
    doc: FeedDoc, source: SourceInfo | None, feed_url: str | None, where: str | None
) -> FeedParse:
    feed_lang = language_code(doc.language)
    result = FeedParse(title=doc.title, language=feed_lang)
    if source is None:
        source = feed_source(feed_url, doc.title, feed_lang)
    result.source = source
    where = where or feed_url or source.url or source.name
    for position, item in enumerate(doc.items):
        html, text, summary = item.html, item.text, item.summary
        full = bool(html or text) and len(html or text or "") >= min(
            MIN_FULL_TEXT_CHARS, 2 * len(summary or "") or MIN_FULL_TEXT_CHARS
        )
        if not (html or text):
            html = summary
        try:
            article = make_article(
                source=source,
                url=item.link,
                title=item.title,
                html=html,
                text=text,
                published=item.published,
                authors=item.authors,
                categories=item.categories,
                language_hint=item.language or feed_lang,
                feed_title=doc.title,
                identity_extra=f"{where}\x00{item.guid or position}",
            )
        except ItemError as exc:
            result.failures.append(
                Failure(
                    source=f"{where}#item{position}",
                    reason=exc.reason,
                    error_type=exc.error_type,
                    payload=item.payload(),
                )
            )
            continue
        result.entries.append(FeedEntry(article=article, link=item.link, full_text=full))
    return result


def looks_like_feed(data: bytes) -> bool:
    head = data[:2048].lstrip().lower()
    return b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head or b"<rdf" in head
