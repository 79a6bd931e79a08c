from __future__ import annotations

import pytest

from services.ingestor.urls import (
    InvalidUrl,
    article_id_for_url,
    article_identity,
    canonicalize_url,
)


def test_tracking_parameters_and_fragment_are_removed_and_query_sorted() -> None:
    url = "https://WWW.Armenpress.AM/eng/news/1?utm_source=tw&b=2&fbclid=x&a=1#comments"
    assert canonicalize_url(url) == "https://www.armenpress.am/eng/news/1?a=1&b=2"


@pytest.mark.parametrize(
    "variant",
    [
        "http://m.example.com/news/peace-talks",
        "https://example.com/news/peace-talks/amp",
        "https://amp.example.com/news/peace-talks",
        "https://www.example.com/news/peace-talks?amp=1",
        "https://example.com:443/news/peace-talks?utm_medium=rss",
    ],
)
def test_amp_mobile_www_and_scheme_variants_share_one_article_id(variant: str) -> None:
    base = article_id_for_url(canonicalize_url("https://www.example.com/news/peace-talks"))
    assert article_id_for_url(canonicalize_url(variant)) == base


def test_different_articles_get_different_ids() -> None:
    a = article_id_for_url(canonicalize_url("https://example.com/news/1"))
    b = article_id_for_url(canonicalize_url("https://example.com/news/2"))
    assert a != b


def test_non_http_urls_are_refused() -> None:
    with pytest.raises(InvalidUrl):
        canonicalize_url("javascript:alert(1)")


def test_article_without_usable_url_is_identified_by_its_content() -> None:
    first, canonical = article_identity(None, "Headline", "Body text")
    again, _ = article_identity("not a url", "Headline", "  body   TEXT ")
    assert canonical is None
    assert first == again and first.startswith("c")


def test_internationalised_host_is_idna_encoded() -> None:
    canonical = canonicalize_url("https://ԱՄ.example/")
    assert canonical.isascii() and canonical.startswith("https://xn--")
    assert canonical == canonicalize_url("https://ամ.example/")
