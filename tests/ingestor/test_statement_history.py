"""Official sources: a statement edited between polls becomes the next version of the same
article (diff, edited_at); one removed while older items are still listed is withdrawn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.common import Affiliation, SourceInfo, SourceKind
from services.ingestor.history import text_diff
from tests.ingestor.loopback import LoopbackServer, rss
from tests.ingestor.test_telegram import Run, make_settings

MINISTRY = SourceInfo(
    name="Ministry of Foreign Affairs",
    kind=SourceKind.FEED,
    country="AZ",
    language="en",
    affiliation=Affiliation.GOVERNMENT,
)


def statement(n: int, text: str) -> dict[str, str]:
    return {"title": f"Statement {n}", "link": f"https://mfa.example/s/{n}", "content": text}


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer().running() as srv:
        yield srv


@pytest.mark.integration  # loopback sockets; Kafka is faked
def test_an_official_feed_item_edited_then_removed_gives_versions_then_withdrawal(
    server: LoopbackServer, tmp_path: Path
) -> None:
    items = [statement(1, "<p>Talks are planned.</p>"), statement(2, "<p>Shots were fired.</p>")]
    feed = server.add("/mfa.xml", rss(items), "application/rss+xml")
    run = Run(make_settings(tmp_path, fetch_linked_pages=False))
    run.worker.poll_feed(feed, MINISTRY, official=True)
    run.worker.poll_feed(feed, MINISTRY, official=True)  # unchanged: nothing
    items[1] = statement(2, "<p>No shots were fired.</p>")
    server.add("/mfa.xml", rss(items), "application/rss+xml")
    run.worker.poll_feed(feed, MINISTRY, official=True)
    server.add("/mfa.xml", rss(items[:1]), "application/rss+xml")
    run.worker.poll_feed(feed, MINISTRY, official=True)
    run.worker.poll_feed(feed, MINISTRY, official=True)  # withdrawn once, not every poll
    first, second, edited, withdrawn = run.raw()
    assert edited.article_id == second.article_id == withdrawn.article_id
    assert (second.version, edited.version, withdrawn.version) == (1, 2, 3)
    assert edited.edited_at and edited.diff and "+No shots were fired." in edited.diff
    assert withdrawn.withdrawn_at and withdrawn.html and "No shots" in withdrawn.html
    assert first.version == 1 and not run.letters()
    run.restart()
    run.worker.poll_feed(feed, MINISTRY, official=True)
    assert len(run.raw()) == 4


@pytest.mark.integration
def test_a_feed_that_is_not_official_keeps_its_first_text(
    server: LoopbackServer, tmp_path: Path
) -> None:
    feed = server.add("/n.xml", rss([statement(1, "<p>A</p>")]), "application/rss+xml")
    run = Run(make_settings(tmp_path, fetch_linked_pages=False))
    run.worker.poll_feed(feed, MINISTRY)
    server.add("/n.xml", rss([statement(1, "<p>B</p>")]), "application/rss+xml")
    run.worker.poll_feed(feed, MINISTRY)
    assert [a.version for a in run.raw()] == [1]


def test_the_diff_is_bounded_whatever_the_texts() -> None:
    old = "\n".join(f"line {i}" for i in range(50_000))
    new = "\n".join(f"other {i}" for i in range(50_000))
    diff = text_diff(old, new)
    assert len(diff) <= 20_000 and diff.startswith("--- before")


@pytest.mark.integration
def test_an_official_item_that_fails_to_parse_is_not_taken_for_withdrawn(
    server: LoopbackServer, tmp_path: Path
) -> None:
    items = [statement(1, "<p>One.</p>"), statement(2, "<p>Two.</p>")]
    feed = server.add("/m.xml", rss(items), "application/rss+xml")
    run = Run(make_settings(tmp_path, fetch_linked_pages=False))
    run.worker.poll_feed(feed, MINISTRY, official=True)
    broken = rss(items).replace("<title>Statement 2</title>", "<title></title>")
    broken = broken.replace("<![CDATA[<p>Two.</p>]]>", "").replace("https://mfa.example/s/2", "")
    server.add("/m.xml", broken, "application/rss+xml")
    run.worker.poll_feed(feed, MINISTRY, official=True)
    assert [a.withdrawn_at for a in run.raw()] == [None, None]
    assert [d.error_type for d in run.letters()] == ["empty_item"]
