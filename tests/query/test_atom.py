"""Atom feeds built from hits, read back with feedparser (what feed readers are built on)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import feedparser
import pytest

from services.api.feedtokens import split_token
from services.query.atom import ENTITY_SCHEME, EVENT_SCHEME, FeedInfo, build_feed, web_url, xml_text

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
INFO = FeedInfo(
    feed_id="f1",
    title="caucasus-watch: ceasefire",
    self_url="http://cw.example/feeds/f1.secret",
    ui_url="http://cw.example/ui/",
)


def hit(**overrides: Any) -> dict[str, Any]:
    src: dict[str, Any] = {
        "report_id": "r-1",
        "story_id": "s-1",
        "headline": "Ceasefire holds near Lachin corridor",
        "body": "The ceasefire held overnight along the Lachin corridor.",
        "url": "https://example.org/news/1",
        "source": {"name": "Example Wire", "country": "GB", "affiliation": "wire"},
        "language": "en",
        "date": "2026-11-20T10:00:00+00:00",
        "published": "2026-11-20T10:00:00+00:00",
        "indexed_at": "2026-11-20T10:01:00+00:00",
        "event_types": ["ceasefire"],
        "entities": [
            {"id": "person:nikol-pashinyan", "name": "Nikol Pashinyan", "type": "person"},
            {"id": "place:lachin", "name": "Lachin", "type": "place"},
        ],
    }
    src.update(overrides)
    return {"_source": src}


def parse(body: bytes) -> Any:
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def test_a_feed_has_one_entry_per_hit_with_source_language_events_entities_and_links() -> None:
    parsed = parse(build_feed(INFO, [hit(), hit(report_id="r-2", language="ru")], NOW))
    assert parsed.feed.title == "caucasus-watch: ceasefire"
    assert len(parsed.entries) == 2
    first = parsed.entries[0]
    assert first.id == "urn:cwatch:report:r-1"
    assert first.title == "Ceasefire holds near Lachin corridor"
    assert first.author == "Example Wire"
    assert first.link == "https://example.org/news/1"
    links = {link.rel: link.href for link in first.links}
    assert links["related"] == "http://cw.example/ui/#/story/s-1"
    terms = {(t.scheme, t.term) for t in first.tags}
    assert (EVENT_SCHEME, "ceasefire") in terms
    assert (ENTITY_SCHEME, "person:nikol-pashinyan") in terms
    assert ("urn:cwatch:language", "en") in terms
    content = first.content[0].value
    assert "Example Wire" in content and "Nikol Pashinyan" in content and "ceasefire" in content
    assert (
        parsed.entries[1].get("language") == "ru" or parsed.entries[1].title_detail.language == "ru"
    )


HOSTILE = [
    "Ceasefire\x00 broken\x1b[31m \x0b\x0c\x7f",
    "<script>alert(1)</script> & <b>bold</b> ]]> \"quoted\" 'single'",
    "lone surrogate \ud800 here \udfff",
    "\u202e right-to-left override, \ufffe\uffff noncharacters",
    "x" * 5000,
]


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_titles_and_text_still_make_a_valid_feed(title: str) -> None:
    entity = {"id": f"org:{title[:30]}", "name": title, "type": "organization"}
    body = build_feed(
        FeedInfo("f\x00", title, "http://cw.example/feeds/x", "http://cw.example/ui/"),
        [
            hit(
                headline=title,
                body=title,
                source={"name": title},
                entities=[entity],
                event_types=[title],
                story_id=title,
                report_id=title,
                language=title,
                url="javascript:alert(1)",
                published="not a date",
            )
        ],
        NOW,
    )
    parsed = parse(body)
    entry = parsed.entries[0]
    assert "\x00" not in entry.title and "\x1b" not in entry.title
    assert len(entry.title) <= 300
    if "<script>" in title:
        assert entry.title == xml_text(title)  # shown as text, not run as markup
    assert all(link.href != "javascript:alert(1)" for link in entry.links)


def test_a_per_story_feed_identifies_entries_by_story_and_counts_versions() -> None:
    info = FeedInfo("f2", "stories", "http://x/feeds/f2", "http://x/ui/", per_story=True)
    parsed = parse(build_feed(info, [hit()], NOW, versions={"s-1": 3}))
    assert parsed.entries[0].id == "urn:cwatch:story:s-1"
    assert "3 versions" in parsed.entries[0].content[0].value


def test_an_empty_feed_is_valid() -> None:
    parsed = parse(build_feed(INFO, [], NOW))
    assert parsed.entries == [] and parsed.feed.updated.startswith("2026-11-20")


def test_only_web_urls_become_links() -> None:
    assert web_url("https://a.example/x") == "https://a.example/x"
    assert web_url("javascript:alert(1)") is None
    assert web_url("https://a.example/x y") is None
    assert web_url(None) is None


@pytest.mark.parametrize(
    ("token", "parts"),
    [
        ("abc123.s3cret", ("abc123", "s3cret")),
        ("abc123", None),
        (".s3cret", None),
        ("abc123.", None),
        ("a/b.s3cret", None),
        ("a" * 300 + ".x", None),
    ],
)
def test_a_feed_token_is_a_feed_id_and_a_secret(token: str, parts: tuple[str, str] | None) -> None:
    assert split_token(token) == parts
