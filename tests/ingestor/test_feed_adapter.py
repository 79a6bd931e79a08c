from __future__ import annotations

from pathlib import Path

import pytest

from schemas.common import SourceInfo, SourceKind
from schemas.raw import RawArticle
from services.ingestor.adapters.feed import FeedError, parse_feed

SOURCE = SourceInfo(name="Test outlet", kind=SourceKind.FEED, country="AM", language="en")


def _real_feeds(feeds_dir: Path) -> list[Path]:
    return sorted(p for p in feeds_dir.rglob("*") if p.is_file() and p.name != "LICENSE")


def test_every_real_feed_parses_or_fails_with_a_reason(feeds_dir: Path) -> None:
    items = 0
    refused: dict[str, str] = {}
    for path in _real_feeds(feeds_dir):
        try:
            parsed = parse_feed(path.read_bytes(), source=SOURCE, where=str(path))
        except FeedError as exc:
            refused[path.name] = exc.error_type
            continue
        for entry in parsed.entries:
            RawArticle.model_validate_json(entry.article.model_dump_json())
        items += len(parsed.entries)
    assert len(_real_feeds(feeds_dir)) >= 120
    assert items > 1000
    # only documents that are not feeds at all, or are cut off / broken with no item to save
    assert set(refused) == {
        "xml_sample_1.xml",
        "xml_sample_2.xml",
        "unrecognized.rss",
        "rss_2.0_invalid_1.xml",
    }
    assert set(refused.values()) <= {"not_a_feed", "malformed_feed"}


def test_windows_1251_russian_feed_items_keep_cyrillic_titles(feeds_dir: Path) -> None:
    parsed = parse_feed((feeds_dir / "node-feedparser" / "iconv.xml").read_bytes(), source=SOURCE)
    assert parsed.title == "Новости Оренбурга и области / Раздел Новости"
    titles = [e.article.title or "" for e in parsed.entries]
    assert len(titles) == 10
    assert all(any("а" <= ch <= "я" for ch in t.lower()) for t in titles)


def test_gzip_compressed_feed_gives_the_same_items_as_plain(feeds_dir: Path) -> None:
    plain = parse_feed((feeds_dir / "node-feedparser" / "iconv.xml").read_bytes(), source=SOURCE)
    packed = parse_feed(
        (feeds_dir / "node-feedparser" / "compressed.xml").read_bytes(), source=SOURCE
    )
    assert [e.article.article_id for e in packed.entries] == [
        e.article.article_id for e in plain.entries
    ]


def test_latin1_feed_without_declaration_keeps_accents(feeds_dir: Path) -> None:
    parsed = parse_feed((feeds_dir / "rss-parser" / "uolNoticias.rss").read_bytes(), source=SOURCE)
    assert parsed.title == "UOL Noticias"
    assert any(
        "ç" in (e.article.title or "") or "õ" in (e.article.title or "") for e in parsed.entries
    )


def test_content_encoded_is_taken_as_full_text(feeds_dir: Path) -> None:
    parsed = parse_feed(
        (feeds_dir / "rss-parser" / "content-encoded.rss").read_bytes(), source=SOURCE
    )
    assert parsed.entries and all(e.full_text for e in parsed.entries)
    assert all(e.article.html for e in parsed.entries)


def test_item_without_content_is_marked_for_fetching_its_linked_page(feeds_dir: Path) -> None:
    parsed = parse_feed(
        (feeds_dir / "node-feedparser" / "rss2sample.xml").read_bytes(), source=SOURCE
    )
    assert parsed.entries and not any(e.full_text for e in parsed.entries)
    assert all(e.link for e in parsed.entries if e.article.url)


def test_items_keep_feed_title_date_author_categories_and_language(fixtures: Path) -> None:
    parsed = parse_feed(
        (fixtures / "cp1251_undeclared.xml").read_bytes(),
        source=SOURCE,
        feed_url="http://example.ru/rss",
    )
    first = parsed.entries[0].article
    assert first.feed_title == "Новости Кавказа"
    assert (
        first.published is not None and first.published.isoformat() == "2024-05-14T07:00:00+00:00"
    )
    assert first.categories == ["Политика"]
    assert first.language_hint == "ru"
    assert first.canonical_url == "http://example.ru/news/1"
    assert first.source == SOURCE


def test_feed_outside_sources_file_is_named_after_its_title(fixtures: Path) -> None:
    parsed = parse_feed(
        (fixtures / "latin1_undeclared.rss").read_bytes(), feed_url="http://example.pt/rss"
    )
    assert parsed.source is not None and parsed.source.name == "Notícias do Cáucaso"
    assert parsed.entries[0].article.source.kind == SourceKind.FEED


@pytest.mark.parametrize("name", ["xml_bomb.xml", "external_entity.xml"])
def test_xml_bombs_and_external_entities_are_refused(fixtures: Path, name: str) -> None:
    with pytest.raises(FeedError) as info:
        parse_feed((fixtures / name).read_bytes(), source=SOURCE)
    assert info.value.error_type == "unsafe_xml"


def test_malformed_feed_is_refused_with_a_reason(fixtures: Path) -> None:
    with pytest.raises(FeedError) as info:
        parse_feed((fixtures / "malformed.xml").read_bytes(), source=SOURCE)
    assert info.value.error_type in {"malformed_feed", "not_a_feed"}


def test_unescaped_ampersand_does_not_lose_the_other_items(feeds_dir: Path) -> None:
    parsed = parse_feed(
        (feeds_dir / "node-feedparser" / "saxerror.xml").read_bytes(), source=SOURCE
    )
    assert [e.article.title for e in parsed.entries] == [
        "Good Item",
        "Bad Item",
        "Item After Error",
    ]


def test_binary_body_is_not_a_feed(fixtures: Path) -> None:
    with pytest.raises(FeedError) as info:
        parse_feed((fixtures / "binary.html").read_bytes(), source=SOURCE)
    assert info.value.error_type == "binary_content"


def test_fast_path_reads_real_feeds_like_feedparser(feeds_dir: Path) -> None:
    same = total = 0
    for path in _real_feeds(feeds_dir):
        data = path.read_bytes()
        try:
            fast = parse_feed(data, source=SOURCE, feed_url="https://example.com/feed.xml")
        except FeedError:
            continue
        slow = parse_feed(
            data, source=SOURCE, feed_url="https://example.com/feed.xml", use_fast_path=False
        )
        # feedparser invents empty entries for illegally nested items; the tree does not
        assert len(fast.entries) == len(slow.entries) and len(fast.failures) <= len(slow.failures)
        assert fast.title == slow.title, path.name
        for a, b in zip(fast.entries, slow.entries, strict=False):
            total += 1
            same += (a.article.title, a.article.published, a.full_text) == (
                b.article.title,
                b.article.published,
                b.full_text,
            )
    assert total > 1000 and same / total > 0.95
