"""Scripts, styles and comments are cut before trafilatura parses a page."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from services.extractor.clean import extract_html
from services.extractor.inert import strip_inert

SHARED_HTML = Path(__file__).resolve().parents[3] / "shared/data/extraction-benchmark/html"


def test_scripts_styles_and_comments_are_cut_and_the_text_stays() -> None:
    html = (
        "<html><head><STYLE>p{color:red}</STYLE><script src=a.js></script></head><body>"
        "<!-- <p>commented</p> --><p>Talks in Brussels.</p><Script type='text/javascript'>"
        "var s = '<p>x</p>';</sCRIPT >"
        "<p>Lachin held.</p></body></html>"
    )
    assert strip_inert(html) == (
        "<html><head></head><body><p>Talks in Brussels.</p><p>Lachin held.</p></body></html>"
    )


@pytest.mark.parametrize(
    "comment", ["<!---->", "<!-->", "<!--->", "<!-- x --!>", "<!--[if !IE]><!-->"]
)
def test_comments_end_where_an_html_parser_ends_them(comment: str) -> None:
    assert strip_inert(f"<p>a</p>{comment}<p>b</p>") == "<p>a</p><p>b</p>"


def test_json_ld_stays_for_trafilaturas_fallback() -> None:
    html = '<script type="application/ld+json">{"articleBody": "text"}</script><p>a</p>'
    assert strip_inert(html) == html


def test_elements_named_like_script_or_style_are_not_cut() -> None:
    html = "<style-guide><p>kept</p></style-guide><scripted>kept too</scripted>"
    assert strip_inert(html) == html


def test_svg_is_left_to_trafilatura_because_it_nests() -> None:
    html = "<svg><svg><path/></svg><text>label</text></svg><p>a</p>"
    assert strip_inert(html) == html


def test_an_unclosed_script_or_comment_runs_to_the_end_as_in_a_parser() -> None:
    assert strip_inert("<p>a</p><script>var x = 1; <p>b</p>") == "<p>a</p>"
    assert strip_inert("<p>a</p><!-- <p>b</p>") == "<p>a</p>"


@pytest.mark.skipif(not SHARED_HTML.is_dir(), reason="needs ../shared/data/extraction-benchmark")
def test_trafilatura_text_is_the_same_with_or_without_the_cut_on_real_pages() -> None:
    import trafilatura

    pages = sorted(SHARED_HTML.glob("*.html.gz"))[::6]
    assert pages
    for path in pages:
        html = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        plain = trafilatura.bare_extraction(html, fast=True, include_comments=False)
        expected = dict(plain.as_dict()).get("text") if plain is not None else None
        assert extract_html(html).get("text") == expected, path.name


def test_a_page_of_unclosed_start_tags_is_scanned_in_linear_time() -> None:
    hostile = "<script " * 200_000  # 1.6 MB without a single ">"
    assert strip_inert(hostile) == hostile
