"""Hostile inputs against the ingestor's pure steps: each finishes under a generous bound
(the backtracking regexes they replace took 10 s to minutes on the same inputs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from schemas.common import SourceInfo, SourceKind
from services.ingestor.adapters.feed import parse_feed
from services.ingestor.adapters.page import page_metadata, parse_page
from services.ingestor.adapters.xmlsafe import UnsafeXml, check_xml_safety
from services.ingestor.encoding import declared_charset

BOUND_S = 2.0
SOURCE = SourceInfo(name="hostile", kind=SourceKind.PUSH)


def _timed(fn: Callable[[], Any]) -> float:
    started = time.monotonic()
    try:
        fn()
    except Exception:  # noqa: BLE001 - refusing the input is fine, taking forever is not
        pass
    return time.monotonic() - started


HEAD_UNITS = [
    "<html ",
    "<meta content='a' ",
    "<title",
    '<meta content="',
    "<link rel=canonical href=",
    "<html lang=",
    "<meta ",
    "<",
    "<title><b",
]


@pytest.mark.parametrize("unit", HEAD_UNITS)
@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_page_head_scan_is_linear_on_unclosed_markup(unit: str, size: int) -> None:
    html = unit * (size // len(unit))
    assert _timed(lambda: page_metadata(html)) < BOUND_S
    data = html.encode()
    assert _timed(lambda: parse_page(data, source=SOURCE, url="https://example.com/a")) < BOUND_S


def test_page_head_still_gives_title_lang_and_canonical() -> None:
    meta = page_metadata(
        '<html lang="hy"><head><title>A <b>b</b> &amp; c</title>'
        '<meta property="article:published_time" content="2024-05-01T10:00:00Z">'
        '<link rel="canonical" href="/c"></head><body></body></html>'
    )
    assert meta == {
        "title": "A b & c",
        "lang": "hy",
        "published": "2024-05-01T10:00:00Z",
        "canonical": "/c",
    }


@pytest.mark.parametrize("unit", [b"<!DOCTYPE", b"<!doctype x ", b"<!DOCTYPE>"])
def test_xml_safety_screen_is_linear_on_repeated_doctypes(unit: bytes) -> None:
    data = unit * (200_000 // len(unit))
    assert _timed(lambda: check_xml_safety(data)) < BOUND_S


@pytest.mark.parametrize(
    "doc",
    [b"<!DOCTYPE x [<!ELEMENT x ANY>]><x/>", b"<!doctype a><!DOCTYPE b [ ]><b/>"],
)
def test_xml_internal_subset_is_still_refused(doc: bytes) -> None:
    with pytest.raises(UnsafeXml):
        check_xml_safety(doc)


def test_feed_author_made_of_at_signs_is_read_in_linear_time() -> None:
    author = "a@" * 20_000
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        f"<title>x</title><link>https://example.com/a</link><author>{author}</author>"
        "<description>d</description></item></channel></rss>"
    ).encode()
    assert _timed(lambda: parse_feed(feed, feed_url="https://example.com/feed")) < BOUND_S
    parsed = parse_feed(
        feed.replace(author.encode(), b"writer@example.com (Writer)"),
        feed_url="https://example.com/feed",
    )
    assert parsed.entries[0].article.authors == ["Writer"]


@pytest.mark.parametrize("unit", [b"<meta ", b"<meta charset", b"<?xml encoding"])
def test_charset_sniffing_is_bounded(unit: bytes) -> None:
    data = unit * (1_000_000 // len(unit))
    assert _timed(lambda: declared_charset(data)) < BOUND_S


@pytest.mark.parametrize("unit", ["<a ", '<a href="', "<img src=", "&", "<"])
def test_a_broken_feed_full_of_tags_is_refused_not_parsed_for_minutes(unit: str) -> None:
    head = '<rss version="2.0"><channel><title>t</title><item><title>x</title><description>'
    data = (head + unit * (1_000_000 // len(unit))).encode()
    assert _timed(lambda: parse_feed(data)) < BOUND_S * 2


def test_a_small_broken_feed_is_still_read_leniently() -> None:
    data = (
        b'<rss version="2.0"><channel><title>t</title><item><title>Tom &nbsp; Jerry</title>'
        b"<link>https://example.com/a</link><description>x & y</description></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(data, feed_url="https://example.com/feed")
    assert [e.link for e in parsed.entries] == ["https://example.com/a"]


def test_a_well_formed_feed_left_to_feedparser_is_bounded_too() -> None:
    data = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        '<entry><title>x</title><id>1</id><content type="xhtml">'
        '<div xmlns="http://www.w3.org/1999/xhtml">'
        + "<b/>" * 200_000
        + "</div></content></entry></feed>"
    ).encode()
    assert _timed(lambda: parse_feed(data)) < BOUND_S * 2
