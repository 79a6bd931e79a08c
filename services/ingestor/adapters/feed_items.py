"""Feed items as plain records, read either by feedparser or by the fast ElementTree path.

The fast path reads well-formed RSS 0.9x/2.0, RSS 1.0 and Atom straight from the tree the
safety check already built (several times faster than feedparser); anything it does not
fully understand (XHTML content, odd roots) returns None and feedparser reads the feed.
"""

from __future__ import annotations

import calendar
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from feedparser.datetimes import _parse_date

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
ATOM_NS = "http://www.w3.org/2005/Atom"
# Namespaces whose title/link/description are the item's own (RSS 0.9, 1.0, Userland 2.0).
RSS_NAMESPACES = frozenset(
    {
        "",
        "http://purl.org/rss/1.0/",
        "http://backend.userland.com/rss2",
        "http://backend.userland.com/rss",
        "http://my.netscape.com/rdf/simple/0.9/",
        "http://channel.netscape.com/rdf/simple/0.9/",
    }
)


@dataclass
class FeedItem:
    title: str | None = None
    link: str | None = None
    guid: str | None = None
    html: str | None = None
    text: str | None = None
    summary: str | None = None
    published: datetime | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    language: str | None = None

    def payload(self) -> bytes:
        return repr(self.__dict__)[:20000].encode("utf-8", "replace")


@dataclass
class FeedDoc:
    title: str | None
    language: str | None
    items: list[FeedItem]
    version: str


class Unsupported(Exception):
    """The fast path leaves this feed to feedparser."""


def _struct_to_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_date(value: str | None) -> datetime | None:
    return _struct_to_dt(_parse_date(value.strip())) if value else None


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _ns(tag: object) -> str:
    return tag[1 : tag.index("}")] if isinstance(tag, str) and tag[:1] == "{" else ""


def _author(value: str | None) -> str | None:
    """'writer@example.com (Writer)' -> 'Writer', as feedparser reads RSS authors.
    Split by hand: the obvious regex backtracks quadratically over a long run of `@`."""
    if not value:
        return None
    address, paren, rest = value.partition("(")
    address = address.rstrip()
    name = rest[:-1].strip() if rest.endswith(")") else ""
    if (
        paren
        and name
        and "\n" not in rest
        and "@" in address[1:-1]
        and not any(ch.isspace() for ch in address)
    ):
        return name
    return value


def _join(base: str | None, link: str) -> str:
    """link resolved against base; a link urljoin cannot read (e.g. an unclosed IPv6
    bracket) stays as it is, and the item fails on its own later instead of the feed."""
    if not base:
        return link
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def _text(el: ET.Element | None) -> str | None:
    if el is None:
        return None
    if len(el):
        raise Unsupported("markup inside a text element")
    value = (el.text or "").strip()
    return value or None


# -- fast path ----------------------------------------------------------------------------


def fast_parse(root: ET.Element, feed_url: str | None) -> FeedDoc:
    kind = _local(root.tag).lower()
    if kind == "rss":
        channel = next((c for c in root if _local(c.tag) == "channel"), None)
        if channel is None:
            raise Unsupported("rss without channel")
        items = [c for c in channel if _local(c.tag) == "item"]
        return _rss(channel, items, root.get("version", "rss"), feed_url)
    if kind == "rdf" and root.tag.startswith("{" + RDF_NS):
        channel = next((c for c in root if _local(c.tag) == "channel"), None)
        if channel is None:
            raise Unsupported("rdf without channel")
        items = [c for c in root if _local(c.tag) == "item"]
        return _rss(channel, items, "rss10", feed_url)
    if kind == "feed":
        return _atom(root, feed_url)
    raise Unsupported(f"root <{kind}>")


def _rss(
    channel: ET.Element, items: list[ET.Element], version: str, feed_url: str | None
) -> FeedDoc:
    title = language = None
    for child in channel:
        name = _local(child.tag)
        if name == "title" and title is None:
            title = _text(child)
        elif name == "language" and language is None:
            language = _text(child)
    base = channel.get(XML_BASE) or feed_url
    own = {_ns(channel.tag)} | RSS_NAMESPACES
    out = []
    for el in items:
        item = FeedItem(language=el.get(XML_LANG))
        permalink = True
        for child in el:
            name = _local(child.tag)
            ns = _ns(child.tag)
            if name == "title" and ns in own and item.title is None:
                item.title = _text(child)
            elif name == "link" and ns in own and item.link is None:
                item.link = _text(child)
            elif name == "link" and ns == ATOM_NS:
                if child.get("rel", "alternate") == "alternate" and not item.link:
                    item.link = child.get("href")
            elif name == "guid":
                item.guid = _text(child)
                permalink = child.get("isPermaLink", "true").lower() != "false"
            elif name == "description" and ns in own:
                item.summary = _text(child)
            elif name == "encoded" and "content" in ns:
                item.html = _text(child)
            elif name in ("pubDate", "date", "published") and item.published is None:
                item.published = parse_date(_text(child))
            elif (name == "author" and ns in own) or (name == "creator" and "purl.org/dc" in ns):
                value = _author(_text(child))
                if value and value not in item.authors:
                    item.authors.append(value)
            elif (name == "category" and ns in own) or (name == "subject" and "purl.org/dc" in ns):
                value = _text(child)
                if value:
                    item.categories.append(value)
        if (
            not item.link
            and item.guid
            and permalink
            and item.guid.startswith(("http://", "https://"))
        ):
            item.link = item.guid
        if item.link:
            item.link = _join(base, item.link)
        if item.guid is None and el.get(f"{{{RDF_NS}}}about"):
            item.guid = el.get(f"{{{RDF_NS}}}about")
        out.append(item)
    return FeedDoc(title=title, language=language, items=out, version=version)


def _atom_text(el: ET.Element) -> tuple[str | None, bool]:
    """(value, is_html)."""
    kind = (el.get("type") or "text").lower()
    if kind in ("xhtml", "application/xhtml+xml") or el.get("src"):
        raise Unsupported("xhtml or out-of-line atom content")
    if len(el):
        raise Unsupported("markup inside atom text")
    value = (el.text or "").strip() or None
    return value, kind in ("html", "text/html")


def _atom(root: ET.Element, feed_url: str | None) -> FeedDoc:
    title = None
    out = []
    root_base = _join(feed_url, root.get(XML_BASE) or "") or feed_url
    for child in root:
        name = _local(child.tag)
        if name == "title" and title is None:
            title, _ = _atom_text(child)
        elif name == "entry":
            out.append(_atom_entry(child, root_base, root.get(XML_LANG)))
    return FeedDoc(title=title, language=root.get(XML_LANG), items=out, version="atom10")


def _atom_entry(el: ET.Element, base: str | None, language: str | None) -> FeedItem:
    item = FeedItem(language=el.get(XML_LANG) or language)
    if el.get(XML_BASE):
        base = _join(base, el.get(XML_BASE) or "")
    updated = None
    for child in el:
        name = _local(child.tag)
        if name == "title":
            item.title, _ = _atom_text(child)
        elif name == "link":
            rel = child.get("rel", "alternate")
            if rel == "alternate" and child.get("href") and item.link is None:
                item.link = child.get("href")
        elif name == "id":
            item.guid = _text(child)
        elif name == "summary":
            item.summary, _ = _atom_text(child)
        elif name == "content":
            value, is_html = _atom_text(child)
            if is_html:
                item.html = value
            else:
                item.text = value
            item.language = child.get(XML_LANG) or item.language
        elif name == "published":
            item.published = parse_date(_text(child))
        elif name == "updated":
            updated = parse_date(_text(child))
        elif name == "author":
            author = next((_text(c) for c in child if _local(c.tag) == "name"), None)
            if author:
                item.authors.append(author)
        elif name == "category" and child.get("term"):
            item.categories.append(child.get("term") or "")
    item.published = item.published or updated
    if item.link:
        item.link = _join(base, item.link)
    return item


# -- feedparser path ----------------------------------------------------------------------


def feedparser_parse(utf8: bytes, feed_url: str | None) -> tuple[FeedDoc, Any]:
    headers = {"content-location": feed_url} if feed_url else {}
    with warnings.catch_warnings():
        # feedparser warns about its updated->published fallback, which is what we want
        warnings.simplefilter("ignore", DeprecationWarning)
        parsed = feedparser.parse(utf8, response_headers=headers, sanitize_html=False)
        meta = parsed.get("feed", {})
        items = [_from_feedparser(e, feed_url) for e in parsed.entries]
    doc = FeedDoc(
        title=meta.get("title"),
        language=meta.get("language"),
        items=items,
        version=parsed.get("version") or "",
    )
    return doc, parsed


def _from_feedparser(entry: Any, feed_url: str | None) -> FeedItem:
    best: Any = None
    for block in entry.get("content") or []:
        if block.get("value") and (best is None or len(block["value"]) > len(best["value"])):
            best = block
    item = FeedItem(
        title=entry.get("title"),
        link=entry.get("link"),
        guid=entry.get("id"),
        summary=entry.get("summary"),
        published=_struct_to_dt(entry.get("published_parsed") or entry.get("updated_parsed")),
        categories=[t.get("term") for t in entry.get("tags") or [] if t.get("term")],
    )
    names = [a.get("name") for a in entry.get("authors") or [] if a.get("name")]
    item.authors = names or ([entry["author"]] if entry.get("author") else [])
    if best is not None:
        if str(best.get("type", "")).startswith("text/plain"):
            item.text = best["value"]
        else:
            item.html = best["value"]
        item.language = best.get("language")
    if item.link:
        item.link = _join(feed_url, item.link)
    return item
