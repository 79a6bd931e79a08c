"""Web pages (fetched, or local .html files): the raw HTML plus what the head tells us."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urljoin, urlsplit

from lxml import etree

from schemas.common import SourceInfo
from schemas.raw import RawArticle
from services.common.netguard import UnsafeURL, check_url_text
from services.ingestor.adapters.base import ItemError, make_article, parse_datetime
from services.ingestor.encoding import BinaryContent, decode_text

_HEAD_LIMIT = 100_000
_DATE_KEYS = frozenset(
    {"article:published_time", "datepublished", "pubdate", "publishdate", "date", "dc.date.issued"}
)


def _parse_head(head: str) -> etree._Element | None:
    """libxml2's HTML parser: linear in the input, whatever the markup (unclosed tags and
    attributes, thousands of `<html ` or `<meta`), unlike regexes that backtrack over it."""
    parser = etree.HTMLParser(
        encoding="utf-8",
        recover=True,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=True,
    )
    try:
        return etree.fromstring(head.encode("utf-8", errors="replace"), parser)
    except (etree.LxmlError, ValueError):
        return None


def _attr(element: etree._Element, name: str) -> str:
    value = element.get(name)
    return value.strip() if isinstance(value, str) else ""


def _strip_tags(text: str) -> str:
    """Text without `<...>` tags, in one linear pass (an unclosed `<` stays)."""
    out: list[str] = []
    pos = 0
    while (start := text.find("<", pos)) >= 0:
        end = text.find(">", start + 1)
        if end < 0:
            break
        out.append(text[pos:start])
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def page_metadata(html: str) -> dict[str, str]:
    """title, lang, published, canonical, og_url, site_name, author from the page head
    (a cheap look at the first 100 KB; the extractor does the real parsing)."""
    root = _parse_head(html[:_HEAD_LIMIT])
    meta: dict[str, str] = {}
    if root is None:
        return meta
    for tag in root.iter("meta"):
        key = (_attr(tag, "property") or _attr(tag, "name") or _attr(tag, "itemprop")).lower()
        content = _attr(tag, "content")
        if not content:
            continue
        if key in ("og:title", "twitter:title") and "title" not in meta:
            meta["title"] = content
        elif key in _DATE_KEYS:
            meta.setdefault("published", content)
        elif key == "og:url":
            meta.setdefault("og_url", content)
        elif key == "og:site_name":
            meta.setdefault("site_name", content)
        elif key in ("author", "article:author"):
            meta.setdefault("author", content)
    if "title" not in meta:
        title = next(root.iter("title"), None)
        if title is not None:
            # the parser keeps markup inside <title> as text: drop it as browsers show it
            text = " ".join(_strip_tags("".join(title.itertext())).split())
            if text:
                meta["title"] = text
    for tag in root.iter("link"):
        if "canonical" in _attr(tag, "rel").lower().split() and _attr(tag, "href"):
            meta.setdefault("canonical", _attr(tag, "href"))
            break
    lang = _attr(root, "lang") or _attr(root, "xml:lang") if root.tag == "html" else ""
    if lang:
        meta["lang"] = lang
    return meta


def _same_site(a: str, b: str) -> bool:
    def site(url: str) -> str:
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            return ""
        return host[4:] if host.startswith("www.") else host

    return bool(site(a)) and site(a) == site(b)


def _declared_url(meta: dict[str, str], url: str | None) -> str | None:
    """The page's own canonical (or og:url), absolute, when it is usable text."""
    declared = meta.get("canonical") or meta.get("og_url")
    if not declared:
        return None
    try:
        declared = urljoin(url, declared) if url else declared
        return check_url_text(declared)
    except (UnsafeURL, ValueError):
        return None  # a hostile canonical is ignored; the address we fetched stays


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
    declared = _declared_url(meta, url)
    if declared and url:
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
