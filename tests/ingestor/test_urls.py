from __future__ import annotations

import hashlib
import tracemalloc
import unicodedata
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingestor import urls
from services.ingestor.urls import (
    InvalidUrl,
    article_id_for_url,
    article_identity,
    canonicalize_url,
    content_hash,
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


def _whole_text_hash(*parts: str | None, raw: str | None = None) -> str:
    """content_hash as it was defined before it worked in pieces (the ids of articles without
    a URL hash this, so it must not change)."""

    def normalize(text: str) -> str:
        if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        return " ".join(text.casefold().split())

    digest = hashlib.sha256("\n".join(normalize(p) for p in parts if p).encode("utf-8"))
    if raw:
        digest.update(b"\x00" + raw.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


_spaced_text = st.text(
    st.one_of(
        st.sampled_from(" \t\n\u00a0\u3000\u2028\u0301\u0308\u1161\u11a8\uac00ΣσßİﬁＡ\u00a8"),
        st.characters(codec="utf-8"),
    ),
    max_size=200,
)


@given(st.lists(st.one_of(st.none(), _spaced_text), max_size=4), _spaced_text)
def test_content_hash_in_pieces_is_the_hash_of_the_whole_text(
    parts: list[str | None], raw: str
) -> None:
    with patch.object(urls, "_PIECE", 3):  # a cut every few characters, at every kind of space
        assert content_hash(*parts, raw=raw) == _whole_text_hash(*parts, raw=raw)


def test_content_hash_of_a_long_text_costs_a_piece_of_memory() -> None:
    """A 50 MB .txt cost +830 MB: the whole text was split into a list of words."""
    text = "News from the region, paragraph after paragraph. " * 50_000  # 2.4 MB
    tracemalloc.start()
    try:
        content_hash("title", text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * (1 << 20), f"peak {peak >> 20} MB for a {len(text) >> 20} MB text"
