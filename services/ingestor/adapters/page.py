"""Web pages (fetched, or local .html files): the raw HTML plus what the head tells us."""

from __future__ import annotations

import html as htmllib
import re
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from schemas.common import SourceInfo
from schemas.raw import RawArticle
from services.ingestor.adapters.base import ItemError, make_article, parse_datetime
from services.ingestor.encoding import BinaryContent, decode_text

_HEAD_LIMIT = 100_000
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_HTML_LANG = re.compile(r"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z_-]+)", re.I)
_META = re.compile(r"<meta\s[^>]*>", re.I)
_LINK = re.compile(r"<link\s[^>]*>", re.I)
_ATTR = re.compile(r"([a-zA-Z:_-]+)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)")
_TAGS = re.compile(r"<[^>]+>")


def _attrs(tag: str) -> dict[str, str]:
    return {k.lower(): htmllib.unescape(v.strip("\"'")) for k, v in _ATTR.findall(tag)}


def page_metadata(html: str) -> dict[str, str]:
    """title, lang, published, canonical, site_name, author from the page head (cheap regexes;
    the extractor does the real parsing)."""
    head = html[:_HEAD_LIMIT]
    meta: dict[str, str] = {}
    for tag in _META.findall(head):
        attrs = _attrs(tag)
        key = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").lower()
        content = attrs.get("content", "").strip()
        if not content:
            continue
        if key in ("og:title", "twitter:title") and "title" not in meta:
            meta["title"] = content
        elif key in (
            "article:published_time",
            "datepublished",
            "pubdate",
            "publishdate",
            "date",
            "dc.date.issued",
        ):
            meta.setdefault("published", content)
        elif key == "og:url":
            meta.setdefault("og_url", content)
        elif key == "og:site_name":
            meta.setdefault("site_name", content)
        elif key in ("author", "article:author"):
            meta.setdefault("author", content)
    if "title" not in meta:
        match = _TITLE.search(head)
        if match:
            meta["title"] = htmllib.unescape(_TAGS.sub("", match.group(1))).strip()
    for tag in _LINK.findall(head):
        attrs = _attrs(tag)
        if "canonical" in attrs.get("rel", "").lower().split() and attrs.get("href"):
            meta.setdefault("canonical", attrs["href"])
    lang = _HTML_LANG.search(head)
    if lang:
        meta["lang"] = lang.group(1)
    return meta


def _same_site(a: str, b: str) -> bool:
    def site(url: str) -> str:
        host = (urlsplit(url).hostname or "").lower()
        return host[4:] if host.startswith("www.") else host

    return bool(site(a)) and site(a) == site(b)


def parse_page(
    data: bytes,
    *,
    source: SourceInfo,
    url: str | None = None,
    http_charset: str | None = None,
    title: str | None = None,
    published: datetime | None = None,
    language_hint: str | None = None,
    authors: list[str] | None = None,
    categories: list[str] | None = None,
    feed_title: str | None = None,
) -> RawArticle:
    """One HTML page as a RawArticle. Raises ItemError for binary or empty content."""
    try:
        html, _ = decode_text(data, http_charset)
    except BinaryContent as exc:
        raise ItemError("binary_content", str(exc)) from exc
    return article_from_html(
        html,
        source=source,
        url=url,
        title=title,
        published=published,
        language_hint=language_hint,
        authors=authors,
        categories=categories,
        feed_title=feed_title,
    )


def article_from_html(
    html: str,
    *,
    source: SourceInfo,
    url: str | None = None,
    title: str | None = None,
    published: datetime | None = None,
    language_hint: str | None = None,
    authors: list[str] | None = None,
    categories: list[str] | None = None,
    feed_title: str | None = None,
) -> RawArticle:
    if not html.strip():
        raise ItemError("empty_item", "page is empty")
    meta = page_metadata(html)
    declared = meta.get("canonical") or meta.get("og_url")
    if declared and url:
        declared = urljoin(url, declared)
        # A page may only name a canonical URL on its own site, or it could hijack another id.
        if _same_site(declared, url):
            url = declared
    elif declared and not url and declared.startswith(("http://", "https://")):
        url = declared
    return make_article(
        source=source,
        url=url,
        title=title or meta.get("title"),
        html=html,
        published=published or parse_datetime(meta.get("published")),
        authors=authors or ([meta["author"]] if meta.get("author") else []),
        categories=categories,
        language_hint=language_hint or meta.get("lang"),
        feed_title=feed_title,
    )
