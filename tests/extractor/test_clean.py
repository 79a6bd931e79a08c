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


def _page(*paragraphs: str, title: str = "Page title", extra: str = "") -> str:
    ps = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title}</title></head><body><nav><a href='/'>Home</a></nav>"
        f"<article><h1>{title}</h1>{extra}{ps}</article><footer>Contact</footer></body></html>"
    )


LONG = (
    "Le gouvernement a présenté mardi son projet de budget pour l'année prochaine, "
    "avec des dépenses en hausse pour la santé et l'éducation. "
)


def test_a_french_sentence_starting_par_contre_is_not_a_byline() -> None:
    first = "Par contre, les syndicats ont rejeté le texte."
    for raw in (
        make_raw(html=_page(first, LONG * 3)),
        make_raw(text=f"Budget 2027\n\n{first}\n\n{LONG * 3}"),
    ):
        [doc] = clean(raw)
        assert doc.body.startswith(first) and doc.byline != "contre, les syndicats ont rejeté"


def test_a_short_title_case_heading_is_kept_unless_the_page_marks_it_as_the_author() -> None:
    text = "Geboren 1961 in Jerewan, studierte sie Malerei an der Akademie der Künste. " * 3
    [doc] = clean(make_raw(html=_page("Künstlerischer Lebenslauf", text)))
    assert doc.body.startswith("Künstlerischer Lebenslauf") and doc.byline is None
    # trafilatura drops most author markup itself; a name line it keeps is read as a byline
    # when the page marks it so
    marked = '<p><span class="author-name">Anna Petrosyan</span></p>'
    headline, byline, body = clean_module._headline_and_body(
        ["Anna Petrosyan", text], "Lebenslauf", f"<html>{marked}<p>{text}</p></html>"
    )
    assert byline == "Anna Petrosyan" and body == [text]
    _, byline, body = clean_module._headline_and_body(
        ["Anna Petrosyan", text], "Lebenslauf", f"<html><p>Anna Petrosyan</p><p>{text}</p></html>"
    )
    assert byline is None and body == ["Anna Petrosyan", text]


def test_a_by_line_with_names_is_still_a_byline() -> None:
    [doc] = clean(make_raw(text=f"Budget 2027\n\nBy Anna Smith and John Doe, Reuters\n\n{LONG}"))
    assert doc.byline == "Anna Smith and John Doe, Reuters" and doc.body.startswith("Le gouv")


def test_a_one_paragraph_page_without_a_full_stop_keeps_its_paragraph() -> None:
    line = "Armenian and Azerbaijani delegations meet in Geneva on Monday"
    html = f"<html><body><article><p>{line}</p></article></body></html>"
    [doc] = clean(make_raw(html=html))
    assert doc.body == line
    [doc] = clean(make_raw(text=line))
    assert doc.body == line


def test_a_fast_result_that_looks_cut_falls_back_to_the_full_extractor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    article = [f"Paragraph {i}: " + LONG for i in range(40)]
    html = _page(*article)
    calls: list[bool] = []

    def cut(html: str, fast: bool = True, with_metadata: bool = False) -> dict[str, object]:
        calls.append(fast)
        return {"text": article[0] if fast else "\n".join(article)}

    monkeypatch.setattr(clean_module, "extract_html", cut)
    [doc] = clean(make_raw(html=html))
    assert calls == [True, False]
    assert len(doc.paragraphs) == 40


def test_a_short_article_on_a_long_page_is_not_replaced_by_the_full_extractor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = clean_module.extract_html
    calls: list[bool] = []

    def spy(html: str, fast: bool = True, with_metadata: bool = False) -> dict[str, object]:
        calls.append(fast)
        return real(html, fast=fast, with_metadata=with_metadata)

    monkeypatch.setattr(clean_module, "extract_html", spy)
    [doc] = clean(make_raw(html=_page(LONG * 2, LONG * 2, LONG * 2)))
    assert calls == [True]


def test_persian_zero_width_non_joiners_survive_extraction() -> None:
    words = "بارش سنگین برف راه‌های کوهستانی اردبیل را بست و راهداران مشغول بازگشایی مسیرها هستند."
    html = _page(words, words.replace("بارش", "ریزش"), "&zwnj;".join(["می", "روند"]) + " " + LONG)
    [doc] = clean(make_raw(html=html))
    assert "راه\u200cهای" in doc.body and "راههای" not in doc.body
    assert "می\u200cروند" in doc.body


@pytest.mark.parametrize(
    "html",
    [
        "<p>The Ministry of Defence says Azerbaijani units opened fire near Sotk overnight.</p>",
        "The Ministry of Defence says Azerbaijani units opened fire near Sotk overnight.",
        '<div class="tgme_widget_message_text">The Ministry of Defence says Azerbaijani units'
        " opened fire near Sotk overnight.<br/>No one was hurt.</div>",
    ],
)
def test_a_one_sentence_statement_in_a_feed_items_html_keeps_its_text(html: str) -> None:
    # trafilatura drops extractions under 250 characters: a short official statement or a
    # Telegram post came out with an empty body and could not be found by its words.
    raw = make_raw(html=html, title="Statement on the situation at the border")
    (doc,) = clean(raw)
    assert "opened fire near Sotk overnight." in doc.body


def test_only_a_small_page_falls_back_to_its_visible_text() -> None:
    # A long page where trafilatura finds no article is menus and teasers, not a body.
    menu = "".join(
        f"<li><a href='/s/{i}'>Section number {i} of the site</a></li>" for i in range(200)
    )
    assert clean_module.small_page_text(f"<html><body><ul>{menu}</ul></body></html>") == ""
    assert clean_module.small_page_text("<p>One &amp; two.</p><p>Three<br>four</p>") == (
        "One & two.\nThree\nfour"
    )
