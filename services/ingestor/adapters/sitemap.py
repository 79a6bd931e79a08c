"""News sitemaps (<news:news>) and sitemap indexes; each URL is then fetched as a page."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.common.netguard import UnsafeURL, check_url_text
from services.ingestor.adapters.base import Failure, parse_datetime
from services.ingestor.adapters.xmlsafe import UnsafeXml, prepare_xml
from services.ingestor.encoding import BinaryContent, TooLarge

# Dead letters one sitemap may cause for its unusable <loc>s (the rest are only skipped): a
# sitemap of a million bad URLs must not become a million dead letters.
MAX_FAILURES = 100


class SitemapError(Exception):
    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


@dataclass
class SitemapEntry:
    url: str
    title: str | None = None
    published: datetime | None = None
    language: str | None = None
    publication: str | None = None
    lastmod: datetime | None = None


@dataclass
class SitemapParse:
    children: list[str] = field(default_factory=list)
    entries: list[SitemapEntry] = field(default_factory=list)
    # <loc>s no HTTP client may be handed (control characters, too long): dead letters
    failures: list[Failure] = field(default_factory=list)


def _usable(loc: str, result: SitemapParse) -> bool:
    """Every URL that enters is checked where it enters (as feed links are): a <loc> with a
    control character becomes a failure here, not an entry that fails later, somewhere."""
    try:
        check_url_text(loc)
    except UnsafeURL as exc:
        if len(result.failures) < MAX_FAILURES:
            result.failures.append(
                Failure(loc[:4000], f"unusable sitemap <loc>: {exc}", "invalid_url", loc.encode())
            )
        return False
    return True


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in element.iter():
        if child is not element and _local(child.tag) == name and child.text:
            return child.text.strip()
    return None


def parse_sitemap(
    data: bytes, *, http_charset: str | None = None, max_urls: int = 200, max_bytes: int = 50 << 20
) -> SitemapParse:
    """Child sitemaps of an index, or the newest `max_urls` article entries of a urlset
    (news entries first: they carry title, date and language)."""
    try:
        _, root = prepare_xml(data, http_charset, max_bytes)
    except UnsafeXml as exc:
        raise SitemapError("unsafe_xml", str(exc)) from exc
    except (BinaryContent, TooLarge) as exc:
        raise SitemapError("bad_sitemap", str(exc)) from exc
    if root is None:
        raise SitemapError("malformed_sitemap", "sitemap is not well-formed XML")
    kind = _local(root.tag)
    result = SitemapParse()
    if kind == "sitemapindex":
        for sm in root:
            loc = _child_text(sm, "loc")
            if loc and _usable(loc, result):
                result.children.append(loc)
        return result
    if kind != "urlset":
        raise SitemapError("not_a_sitemap", f"root element <{kind}> is not a sitemap")
    for url_el in root:
        loc = _child_text(url_el, "loc")
        if not loc or not _usable(loc, result):
            continue
        news = next((c for c in url_el if _local(c.tag) == "news"), None)
        entry = SitemapEntry(url=loc, lastmod=parse_datetime(_child_text(url_el, "lastmod")))
        if news is not None:
            entry.title = _child_text(news, "title")
            entry.published = parse_datetime(_child_text(news, "publication_date"))
            entry.language = _child_text(news, "language")
            entry.publication = _child_text(news, "name")
        result.entries.append(entry)
    oldest = datetime.min.replace(tzinfo=UTC)
    result.entries.sort(
        key=lambda e: (e.title is not None, e.published or e.lastmod or oldest), reverse=True
    )
    del result.entries[max_urls:]
    return result


def looks_like_sitemap(data: bytes) -> bool:
    head = data[:2048].lower()
    return b"<urlset" in head or b"<sitemapindex" in head
