"""Every entry point, driven with every item of the hostile corpus, finishes within its time and
memory bounds and either produces bounded output or handles its documented error.

One test per (entry point, item); each runs in a forked child with a hard address-space limit
and a deadline (tests/fuzz/budget.py), so a regression fails its own test and cannot wedge or
swap the run. Known bugs of issue 13 that other branches fix are strict xfails: once the fix is
merged they XPASS, and the mark must go.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from schemas.common import SourceInfo
from services.common.netguard import check_url_text
from services.ingestor.adapters.base import Failure
from services.ingestor.adapters.feed import parse_feed
from services.ingestor.adapters.files import read_file
from services.ingestor.adapters.page import parse_page
from services.ingestor.adapters.sitemap import parse_sitemap
from tests.fuzz.budget import MB, run_isolated
from tests.hostile.corpus import BUILDERS, PUBLIC_HOST, item
from tests.hostile.entry_points import ENTRY_POINTS, warm_up


def _known(row: str, branch: str) -> Any:
    return pytest.mark.xfail(strict=True, reason=f"issue 13 row: {row}, fixed on branch {branch}")


def _found(what: str, *, strict: bool = True) -> Any:
    """A bug this corpus found beyond issue 13's table (reported; no branch fixes it yet)."""
    return pytest.mark.xfail(strict=strict, reason=f"found by the hostile corpus: {what}")


GZIP_ROW = _known("gzip bomb through the fallback path", "h-ingest")
PAGE_REGEX_ROW = _known("regex backtracking (ingestor page.py title/meta/lang scans)", "h-ingest")
OG_TITLE_ROW = _known("regex backtracking (extractor clean.py _OG_TITLE)", "h-budgets")
FEED_LINK_ROW = _known("control characters in feed links", "h-ingest")
KAFKA_LIMIT_ROW = _known("messages over the Kafka limit (report twice the text)", "h-budgets")
WEBHOOK_ROW = _known(
    "one subscription stops all webhook delivery (a URL httpx refuses passes validation)",
    "h-alerts",
)
DEEP_JSON = _found(
    "json.loads raises RecursionError on 100k nested arrays; files.py _jsonl_articles and "
    "push.py _records catch only JSONDecodeError: the .jsonl file fails whole, a push answers 500"
)
FEEDPARSER_SLOW = _found(
    "a body that is not well-formed XML goes to feedparser's loose parser "
    "(feed.py parse_feed -> feedparser_parse), ~4-10 s per MB of dense markup (linear, so "
    "not strict: on an idle machine 1 MB may finish inside the bound)",
    strict=False,
)
# (entry point, item) -> the issue 13 row it reproduces on main, or a new bug it found.
KNOWN: dict[tuple[str, str], Any] = {
    **{
        (entry, "gzip_bomb_flg_reserved"): GZIP_ROW
        for entry in (
            "file_xml",
            "web_auto",
            "web_feed",
            "web_sitemap",
            "parse_feed",
            "parse_sitemap",
        )
    },
    **{
        (entry, "html_open_tags_100k"): PAGE_REGEX_ROW
        for entry in (
            "file_html",
            "web_auto",
            "web_page",
            "parse_page",
            "push_html",
            "push_json",
            "extract_html",
        )
    },  # fmt: skip
    ("extract_html", "meta_content_100k"): OG_TITLE_ROW,
    ("web_auto", "control_chars_feed_links"): FEED_LINK_ROW,
    ("web_feed", "control_chars_feed_links"): FEED_LINK_ROW,
    ("extract_text", "text_7mb"): KAFKA_LIMIT_ROW,
    ("webhook", "invalid_utf8"): WEBHOOK_ROW,
    ("webhook", "undeclared_cp1251"): WEBHOOK_ROW,
    ("file_jsonl", "json_deep"): DEEP_JSON,
    ("push_raw_json", "json_deep"): DEEP_JSON,
    **{
        (entry, name): FEEDPARSER_SLOW
        for entry in ("file_xml", "web_feed", "parse_feed")
        for name in ("many_lt", "deep_nesting_divs")
    },
}


def _cases() -> list[Any]:
    return [
        pytest.param(entry, name, id=f"{entry}-{name}", marks=KNOWN.get((entry, name), ()))
        for entry in ENTRY_POINTS
        for name in BUILDERS
    ]


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    warm_up()


def bounds(size: int) -> tuple[float, float]:
    """(CPU seconds, MB) one input may cost: generous, and linear in its size."""
    return 2.0 + 0.5 * size / MB, 200.0 + 10.0 * size / MB


@pytest.mark.parametrize(("entry", "name"), _cases())
def test_entry_point_bounds_hostile_input(entry: str, name: str) -> None:
    data = item(name)
    seconds, megabytes = bounds(len(data))
    outcome = run_isolated(ENTRY_POINTS[entry], data, cpu_limit_s=seconds + 0.5)
    assert outcome.killed is None, outcome.describe()
    assert outcome.error is None, outcome.describe()
    assert outcome.cpu_s <= seconds, f"took {outcome.cpu_s:.1f} s CPU, bound {seconds:.1f} s"
    assert outcome.peak_mb <= megabytes, f"peak +{outcome.peak_mb:.0f} MB, bound {megabytes:.0f}"
    assert outcome.result <= 20 * len(data) + 2 * MB, f"output {outcome.result} for {len(data)}"


def test_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A 60 MB file (sparse: no disk, no memory) fails with too_large, without being read."""
    path = tmp_path / "huge.html"
    with path.open("wb") as f:
        f.truncate(60 * MB)
    outcome = run_isolated(_file_failure, path, cpu_limit_s=10)
    assert outcome.error is None, outcome.describe()
    assert outcome.result == "too_large"
    assert outcome.peak_mb < 50, outcome.describe()


def _file_failure(path: Path) -> str:
    (result,) = read_file(path)
    assert isinstance(result, Failure)
    return result.error_type


CONTROL_URL_ROW = _known(
    "control characters in feed links (the class: every URL that enters)", "h-ingest"
)


def _urls_of(entry: str, data: bytes) -> list[str]:
    """Every URL the ingestor would keep or fetch from what a parser returns."""
    if entry == "parse_sitemap":
        parsed = parse_sitemap(data)
        return parsed.children + [e.url for e in parsed.entries]
    if entry == "parse_feed":
        feed = parse_feed(data, feed_url=f"http://{PUBLIC_HOST}/feed")
        links = [e.link or "" for e in feed.entries]
        return links + [
            u or "" for e in feed.entries for u in (e.article.url, e.article.canonical_url)
        ]
    article = parse_page(data, source=SourceInfo(name="h"), url=f"http://{PUBLIC_HOST}/p")
    return [article.url or "", article.canonical_url or ""]


@pytest.mark.parametrize(
    ("entry", "name"),
    [
        pytest.param("parse_feed", "control_chars_feed_links", marks=CONTROL_URL_ROW),
        pytest.param("parse_sitemap", "control_chars_sitemap_locs", marks=CONTROL_URL_ROW),
        ("parse_page", "control_chars_page"),
    ],
)
def test_parsed_urls_carry_no_control_characters(entry: str, name: str) -> None:
    for url in _urls_of(entry, item(name)):
        check_url_text(url)
