from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.common import SourceInfo, SourceKind
from services.ingestor.adapters.base import ItemError
from services.ingestor.adapters.page import parse_page
from services.ingestor.adapters.sitemap import SitemapError, parse_sitemap

SOURCE = SourceInfo(name="Example", kind=SourceKind.PAGE)


def test_page_keeps_raw_html_and_reads_title_date_language_from_head(fixtures: Path) -> None:
    data = (fixtures / "article.html").read_bytes()
    article = parse_page(
        data, source=SOURCE, url="https://example.am/news/mirzoyan-bayramov-almaty?utm_source=x"
    )
    assert article.html == data.decode()
    assert article.title == "Mirzoyan and Bayramov meet in Almaty"
    assert article.published == datetime(2024, 5, 10, 9, 30, tzinfo=UTC)
    assert article.language_hint == "hy"
    assert article.canonical_url == "https://www.example.am/news/mirzoyan-bayramov-almaty"


def test_canonical_link_to_another_site_is_ignored(fixtures: Path) -> None:
    html = (fixtures / "article.html").read_text().replace("www.example.am", "victim.org")
    article = parse_page(html.encode(), source=SOURCE, url="https://example.am/a")
    assert article.canonical_url == "https://example.am/a"


def test_page_hints_from_the_feed_win_over_the_head(fixtures: Path) -> None:
    article = parse_page(
        (fixtures / "article.html").read_bytes(),
        source=SOURCE,
        url="https://example.am/a",
        title="Feed title",
        feed_title="Example feed",
    )
    assert article.title == "Feed title" and article.feed_title == "Example feed"


def test_binary_page_is_an_item_error(fixtures: Path) -> None:
    with pytest.raises(ItemError) as info:
        parse_page((fixtures / "binary.html").read_bytes(), source=SOURCE, url="https://e.com/x")
    assert info.value.error_type == "binary_content"


def test_page_in_windows_1251_declared_by_http_header_is_decoded() -> None:
    html = "<html><head><title>Война в Карабахе</title></head><body>Текст</body></html>"
    article = parse_page(
        html.encode("cp1251"), source=SOURCE, url="https://e.ru/1", http_charset="windows-1251"
    )
    assert article.title == "Война в Карабахе"


def test_news_sitemap_entries_carry_title_date_and_language(fixtures: Path) -> None:
    parsed = parse_sitemap((fixtures / "news_sitemap.xml").read_bytes())
    assert parsed.children == []
    first = parsed.entries[0]
    assert first.url == "https://news.example.am/en/2024/05/14/peace-treaty"
    assert first.title == "Armenia and Azerbaijan agree on text of peace treaty"
    assert first.language == "en" and first.publication == "Example News"
    assert first.published == datetime(2024, 5, 14, 6, 0, tzinfo=UTC)
    assert len(parsed.entries) == 2


def test_sitemap_index_lists_its_child_sitemaps(fixtures: Path) -> None:
    parsed = parse_sitemap((fixtures / "sitemap_index.xml").read_bytes())
    assert parsed.children == [
        "https://news.example.am/sitemap-news.xml",
        "https://news.example.am/sitemap-2024.xml.gz",
    ]


def test_gzipped_sitemap_is_read(fixtures: Path) -> None:
    import gzip

    parsed = parse_sitemap(gzip.compress((fixtures / "news_sitemap.xml").read_bytes()))
    assert len(parsed.entries) == 2


def test_sitemap_keeps_only_the_newest_urls(fixtures: Path) -> None:
    parsed = parse_sitemap((fixtures / "news_sitemap.xml").read_bytes(), max_urls=1)
    assert [e.title for e in parsed.entries] == [
        "Armenia and Azerbaijan agree on text of peace treaty"
    ]


@pytest.mark.parametrize(
    ("name", "error_type"),
    [
        ("xml_bomb.xml", "unsafe_xml"),
        ("external_entity.xml", "unsafe_xml"),
        ("malformed.xml", "malformed_sitemap"),
    ],
)
def test_hostile_or_broken_sitemaps_are_refused(fixtures: Path, name: str, error_type: str) -> None:
    with pytest.raises(SitemapError) as info:
        parse_sitemap((fixtures / name).read_bytes())
    assert info.value.error_type == error_type


def test_a_feed_is_not_a_sitemap(fixtures: Path) -> None:
    with pytest.raises(SitemapError) as info:
        parse_sitemap((fixtures / "latin1_undeclared.rss").read_bytes())
    assert info.value.error_type == "not_a_sitemap"
