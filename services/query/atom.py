"""Atom 1.0 (RFC 4287) feeds of search hits, pure: built with lxml, so every text and attribute
is escaped by the serialiser; what XML 1.0 cannot hold at all (control characters, lone
surrogates) is dropped first, since a feed reader rejects a whole feed over one such character.

An entry carries the report's source, language, events and entities (as Atom categories and in
a short HTML content), the article link and the story link (the web UI's story page).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
TITLE_MAX_CHARS = 300
SUMMARY_MAX_CHARS = 600
MAX_CATEGORIES = 60
EVENT_SCHEME = "urn:cwatch:event"
ENTITY_SCHEME = "urn:cwatch:entity"
LANGUAGE_SCHEME = "urn:cwatch:language"

# Not allowed anywhere in an XML 1.0 document (https://www.w3.org/TR/xml/#charsets).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LANG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")


def xml_text(value: Any, limit: int | None = None) -> str:
    text = _NOT_XML.sub("", "" if value is None else str(value))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def web_url(value: Any) -> str | None:
    """An http(s) URL fit for an href, or None (no javascript:, no data:)."""
    text = xml_text(value).strip()
    if not text.lower().startswith(("http://", "https://")) or any(c.isspace() for c in text):
        return None
    return text


def urn(kind: str, value: str) -> str:
    return f"urn:cwatch:{kind}:{quote(xml_text(value), safe='')}"


def _iso(value: Any, default: datetime) -> str:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = default
    else:
        parsed = default
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.isoformat()


@dataclass(frozen=True)
class FeedInfo:
    feed_id: str
    title: str
    self_url: str
    ui_url: str  # the web UI's root, for story links: <ui_url>#/story/<id>
    subtitle: str = ""
    per_story: bool = False  # one entry per story (its newest version), updated with it


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: v for k, v in attrs.items() if v})
    if text is not None:
        node.text = text
    return node


def _content_html(src: dict[str, Any], story_url: str | None, versions: int | None) -> str:
    source = src.get("source") or {}
    where = ", ".join(x for x in (source.get("country"), source.get("affiliation")) if x)
    parts = [
        f"<p><b>Source:</b> {html.escape(str(source.get('name') or ''))}"
        + (f" ({html.escape(where)})" if where else "")
        + "</p>",
        f"<p><b>Language:</b> {html.escape(str(src.get('language') or 'und'))}</p>",
    ]
    events = src.get("event_types") or []
    if events:
        parts.append(f"<p><b>Events:</b> {html.escape(', '.join(map(str, events)))}</p>")
    names = [
        str(e.get("name") or e.get("id")) for e in src.get("entities") or [] if isinstance(e, dict)
    ]
    if names:
        parts.append(f"<p><b>Entities:</b> {html.escape(', '.join(names[:MAX_CATEGORIES]))}</p>")
    body = xml_text(src.get("body"), SUMMARY_MAX_CHARS)
    if body:
        parts.append(f"<p>{html.escape(body)}</p>")
    if story_url:
        label = f"The story: {versions} versions" if versions and versions > 1 else "The story"
        parts.append(f'<p><a href="{html.escape(story_url)}">{label}</a></p>')
    return xml_text("".join(parts))


def entry(
    feed: etree._Element, src: dict[str, Any], info: FeedInfo, now: datetime, versions: int | None
) -> None:
    node = _sub(feed, "entry")
    # the story it lives on as after merges (issue 20): one entry however it was merged
    story_id = str(src.get("story_root") or src.get("story_id") or "")
    report_id = str(src.get("report_id") or "")
    language = str(src.get("language") or "")
    if _LANG.match(language) and language != "und":
        node.set(XML_LANG, language)
    _sub(
        node,
        "id",
        urn("story", story_id) if info.per_story and story_id else urn("report", report_id),
    )
    _sub(
        node,
        "title",
        xml_text(src.get("headline"), TITLE_MAX_CHARS) or "(no headline)",
        type="text",
    )
    _sub(node, "updated", _iso(src.get("indexed_at") or src.get("date"), now))
    if src.get("published"):
        _sub(node, "published", _iso(src.get("published"), now))
    author = _sub(node, "author")
    _sub(author, "name", xml_text((src.get("source") or {}).get("name"), 200) or "unknown source")
    link = web_url(src.get("url"))
    story_url = f"{info.ui_url}#/story/{quote(xml_text(story_id), safe='')}" if story_id else None
    if link:
        _sub(node, "link", rel="alternate", type="text/html", href=link)
    if story_url:
        _sub(node, "link", rel="related", type="text/html", href=xml_text(story_url), title="story")
    if language:
        _sub(node, "category", term=xml_text(language, 20), scheme=LANGUAGE_SCHEME)
    for event in (src.get("event_types") or [])[:MAX_CATEGORIES]:
        _sub(node, "category", term=xml_text(event, 100), scheme=EVENT_SCHEME)
    for ent in (src.get("entities") or [])[:MAX_CATEGORIES]:
        if isinstance(ent, dict) and ent.get("id"):
            _sub(
                node,
                "category",
                term=xml_text(ent["id"], 200),
                label=xml_text(ent.get("name"), 200),
                scheme=ENTITY_SCHEME,
            )
    summary = xml_text(src.get("primary_evidence") or src.get("body"), SUMMARY_MAX_CHARS)
    if summary:
        _sub(node, "summary", summary, type="text")
    _sub(node, "content", _content_html(src, story_url, versions), type="html")


def build_feed(
    info: FeedInfo,
    hits: Iterable[dict[str, Any]],
    now: datetime | None = None,
    versions: dict[str, int] | None = None,
) -> bytes:
    """The feed document (UTF-8 bytes) of `hits`' `_source`s, newest first as given."""
    now = now or datetime.now(UTC)
    sources = [h.get("_source") or {} for h in hits]
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    _sub(feed, "id", urn("feed", info.feed_id))
    _sub(feed, "title", xml_text(info.title, TITLE_MAX_CHARS) or "caucasus-watch", type="text")
    if info.subtitle:
        _sub(feed, "subtitle", xml_text(info.subtitle, TITLE_MAX_CHARS), type="text")
    newest = max(
        (_iso(s.get("indexed_at") or s.get("date"), now) for s in sources),
        default=now.isoformat(),
        key=lambda v: datetime.fromisoformat(v),
    )
    _sub(feed, "updated", newest)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=xml_text(info.self_url))
    _sub(feed, "link", rel="alternate", type="text/html", href=xml_text(info.ui_url))
    _sub(feed, "generator", "caucasus-watch")
    for src in sources:
        count = (versions or {}).get(str(src.get("story_root") or src.get("story_id")))
        entry(feed, src, info, now, count)
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8")
