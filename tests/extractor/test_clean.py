from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.extractor import clean as clean_module
from services.extractor.clean import clean, is_digest, remove_chrome

from .conftest import fixture_text, make_raw


def test_turkish_site_chrome_is_removed_from_the_seed(seeds: dict[str, str]) -> None:
    [doc] = clean(make_raw(text=seeds["002"]))
    assert doc.headline.startswith("‘Compare notes’")
    assert "Enter" not in doc.body and "Yorumlar" not in doc.body
    assert "Opinions expressed" not in doc.body
    assert doc.byline == "Elena Teslova"
    assert doc.body.rstrip().endswith("working group on Karabakh.")


def test_source_lines_and_categories_are_removed_and_the_repeated_headline_dropped(
    seeds: dict[str, str],
) -> None:
    [doc] = clean(make_raw(text=seeds["003"]))
    assert (
        doc.headline == "Armenia announces ceasefire agreement with Azerbaijan – Moscow mediation"
    )
    assert doc.headline not in doc.body
    assert "Source:" not in doc.body and "Categories" not in doc.body


def test_related_posts_about_gaza_are_cut_from_the_euronews_seed(seeds: dict[str, str]) -> None:
    [doc] = clean(make_raw(text=seeds["004"]))
    assert "Gaza" not in doc.body and "Trump" not in doc.body
    assert "ADVERTISEMENT" not in doc.body
    assert "Second Karabakh War" in doc.body


def test_indonesian_digest_becomes_one_doc_per_line(seeds: dict[str, str]) -> None:
    docs = clean(make_raw(text=seeds["000"]))
    assert len(docs) == 12
    assert [d.item_index for d in docs] == list(range(12))
    assert all(d.digest and d.body and d.headline for d in docs)
    assert docs[1].headline == "Armenia telah secara resmi mengakui negara Palestina."


def test_article_with_a_headline_line_is_not_a_digest(seeds: dict[str, str]) -> None:
    assert not is_digest(seeds["001"])
    assert len(clean(make_raw(text=seeds["001"]))) == 1


def test_short_indonesian_fixture_digest_is_split() -> None:
    assert len(clean(make_raw(text=fixture_text("id_digest.txt")))) == 3


@pytest.mark.parametrize(
    "line",
    [
        "ADVERTISEMENT",
        "Реклама",
        "Source: AMPE",
        "Читайте также: Курс рубля на сегодня",
        "Baca juga: Harga emas hari ini",
        "Yorumlar kapatıldı.",
        'İçeriğe geçmek için "Enter"a basın',
        "We use cookies to improve your experience. Accept all cookies",
        "Διαβάστε επίσης: Ο καιρός αύριο",
        "Կարդացեք նաև՝ Եղանակը",
    ],
)
def test_chrome_line_in_any_language_is_dropped(line: str) -> None:
    assert remove_chrome(["Real paragraph about Armenia.", line]) == [
        "Real paragraph about Armenia."
    ]


def test_related_block_stops_at_the_next_real_paragraph() -> None:
    long_para = "Armenia " * 40
    kept = remove_chrome(["Intro.", "Related posts", "Short headline", long_para.strip()])
    assert kept == ["Intro.", long_para.strip()]


def test_russian_fixture_keeps_news_and_drops_read_also() -> None:
    [doc] = clean(make_raw(text=fixture_text("ru_ceasefire.txt")))
    assert doc.headline == "Армения и Азербайджан договорились о перемирии"
    assert "Читайте также" not in doc.body and "Пашинян" in doc.body


def test_html_page_keeps_the_article_and_drops_navigation_cookies_and_related() -> None:
    [doc] = clean(make_raw(html=fixture_text("en_chrome.html")))
    assert doc.headline == "Peace treaty text agreed, says Yerevan"
    assert "Ararat Mirzoyan" in doc.body and "tens of thousands" in doc.body
    for chrome in (
        "cookies",
        "ADVERTISEMENT",
        "Source: Reuters",
        "Football",
        "All rights reserved",
    ):
        assert chrome not in doc.body


def test_feed_date_and_title_are_used_and_metadata_is_not_extracted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bool] = []
    real = clean_module.extract_html

    def spy(html: str, fast: bool = True, with_metadata: bool = False) -> dict[str, object]:
        calls.append(with_metadata)
        return real(html, fast=fast, with_metadata=with_metadata)

    monkeypatch.setattr(clean_module, "extract_html", spy)
    published = datetime(2024, 5, 1, 8, tzinfo=UTC)
    raw = make_raw(html=fixture_text("en_chrome.html"), title="Feed title", published=published)
    [doc] = clean(raw)
    assert calls == [False]
    assert doc.published == published and doc.headline == "Feed title"


def test_long_feed_text_is_used_without_parsing_the_html(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> dict[str, object]:
        raise AssertionError("HTML parsed although the feed gave the full text")

    monkeypatch.setattr(clean_module, "extract_html", boom)
    text = "Headline here\n\n" + "Armenia and Azerbaijan met in Brussels. " * 40
    [doc] = clean(make_raw(text=text, html="<html><body><p>x</p></body></html>"))
    assert doc.headline == "Headline here"


def test_feed_date_without_title_takes_the_page_title_cheaply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bool] = []
    real = clean_module.extract_html

    def spy(html: str, fast: bool = True, with_metadata: bool = False) -> dict[str, object]:
        calls.append(with_metadata)
        return real(html, fast=fast, with_metadata=with_metadata)

    monkeypatch.setattr(clean_module, "extract_html", spy)
    raw = make_raw(html=fixture_text("en_chrome.html"), published=datetime(2024, 5, 1, tzinfo=UTC))
    [doc] = clean(raw)
    assert calls == [False]
    assert doc.headline == "Peace treaty text agreed, says Yerevan"


def test_title_only_article_gives_an_empty_body() -> None:
    [doc] = clean(make_raw(title="Only a title"))
    assert doc.headline == "Only a title" and doc.body == ""
