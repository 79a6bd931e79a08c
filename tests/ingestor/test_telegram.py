"""Telegram channels through the public web preview: parsing our own preview-shaped pages,
backfill paging, restarts, edits as new versions, withdrawals and per-channel errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.common import Affiliation, SourceInfo, SourceKind
from schemas.deadletter import DeadLetter
from schemas.raw import RawArticle
from services.ingestor.adapters.base import ItemError
from services.ingestor.adapters.telegram import (
    TelegramError,
    channel_from_url,
    parse_preview,
    parse_views,
    post_to_article,
)
from services.ingestor.app import Ingestor
from services.ingestor.daemons import Poller
from services.ingestor.producer import RawSink
from services.ingestor.settings import IngestorSettings
from services.ingestor.sources import SourceEntry
from services.ingestor.state import IngestState
from tests.ingestor.conftest import FakeProducer
from tests.ingestor.loopback import LoopbackServer
from tests.ingestor.telegram_pages import Post, channel_page, serve_channel

SOURCE = SourceInfo(
    name="Ministry of Example",
    kind=SourceKind.TELEGRAM,
    country="AM",
    language="hy",
    affiliation=Affiliation.GOVERNMENT,
)


def fixture(fixtures: Path, name: str) -> bytes:
    return (fixtures / "telegram" / name).read_bytes()


# -- parsing (no sockets) -----------------------------------------------------------------
def test_preview_page_gives_every_post_with_its_context(fixtures: Path) -> None:
    page = parse_preview(fixture(fixtures, "mod_example.html"), "mod_example")
    assert page.title == "Ministry of Example"
    assert page.before == 101 and page.service_messages == 1
    assert page.ids == [101, 102, 103, 104, 105]
    text, forward, photo, reply = page.posts
    assert text.post_id == 102 and text.permalink == "https://t.me/mod_example/102"
    assert text.text.startswith("Ceasefire violated near Lachin at 06:40.\nPositions")
    assert text.views == 12_300 and text.date and text.date.isoformat().startswith("2024-05-14T09")
    assert not text.edited and text.forwarded_from is None
    assert forward.forwarded_from == "Foreign Ministry"
    assert forward.forwarded_from_url == "https://t.me/foreign_ministry/55"
    assert photo.media == ["photo"] and photo.views == 1_200_000
    assert photo.media_captions == ["Damaged house in the village of Tegh after shelling."]
    assert reply.edited and reply.text == "Update: the fire was returned; no casualties."
    assert reply.reply and reply.reply.url == "https://t.me/mod_example/102"
    assert reply.reply.text == "Ceasefire violated near Lachin at 06:40."


def test_a_post_becomes_an_article_with_its_post_fields(fixtures: Path) -> None:
    page = parse_preview(fixture(fixtures, "mod_example.html"), "mod_example")
    article = post_to_article(page.posts[3], SOURCE, page.title)
    assert article.url == "https://t.me/mod_example/105"
    assert article.title == "Update: the fire was returned; no casualties."
    assert article.text and "[in reply to Ministry of Example: Ceasefire violated" in article.text
    assert article.post and article.post.channel == "mod_example" and article.post.post_id == 105
    assert article.post.edited and article.post.views == 9
    assert article.language_hint == "hy" and article.source.kind == SourceKind.TELEGRAM
    RawArticle.model_validate_json(article.model_dump_json())
    # the same post read through another host (a mirror, a test server) is the same article
    again = post_to_article(page.posts[3], SOURCE.model_copy(update={"url": "x"}), None)
    assert again.article_id == article.article_id


def test_a_media_post_without_caption_is_an_empty_item() -> None:
    page = parse_preview(channel_page("chan_x", [Post(1, photo=True)]).encode(), "chan_x")
    with pytest.raises(ItemError) as exc:
        post_to_article(page.posts[0], SOURCE, None)
    assert exc.value.error_type == "empty_item"


@pytest.mark.parametrize(
    ("name", "final_url", "error_type"),
    [
        ("closed_info.html", "https://t.me/closed_chan", "telegram_no_preview"),
        ("closed_info.html", None, "telegram_no_preview"),
        ("empty_channel.html", None, "telegram_empty"),
    ],
)
def test_a_channel_the_preview_cannot_show_is_a_clear_error(
    fixtures: Path, name: str, final_url: str | None, error_type: str
) -> None:
    with pytest.raises(TelegramError) as exc:
        parse_preview(fixture(fixtures, name), "closed_chan", final_url=final_url)
    assert exc.value.error_type == error_type and "closed_chan" in exc.value.reason


def test_a_bad_post_fails_alone() -> None:
    html = channel_page("chan_x", [Post(1, "good one"), Post(2, "good two")])
    html = html.replace('data-post="chan_x/2"', 'data-post="chan_x/two"')
    page = parse_preview(html.encode(), "chan_x")
    assert [p.post_id for p in page.posts] == [1]
    assert [f[1] for f in page.failures] == ["invalid_item"]


def test_views_and_channel_urls() -> None:
    assert [parse_views(v) for v in ("845", "1.2K", "3M", "x", "")] == [
        845,
        1200,
        3_000_000,
        None,
        None,
    ]
    assert channel_from_url("https://t.me/s/mod_example") == "mod_example"
    assert channel_from_url("http://127.0.0.1:8000/s/mod_example") == "mod_example"
    assert channel_from_url("https://t.me/mod_example") == "mod_example"
    assert channel_from_url("https://t.me/s/a/b") is None
    assert channel_from_url("https://t.me/s/bad-name") is None


def test_a_telegram_source_entry_needs_only_the_channel() -> None:
    common = {"name": "MoD", "country": "am", "language": "hy", "affiliation": "government"}
    entry = SourceEntry.model_validate({**common, "kind": "telegram", "channel": "mod_example"})
    assert entry.url == "https://t.me/s/mod_example" and not entry.official
    local = SourceEntry.model_validate(
        {**common, "kind": "telegram", "url": "http://127.0.0.1:9/s/mod_example", "official": True}
    )
    assert local.channel == "mod_example" and local.official
    for bad in ({"channel": "bad-name"}, {"url": "https://t.me/s/a/b"}, {}):
        with pytest.raises(ValueError):
            SourceEntry.model_validate({**common, "kind": "telegram", **bad})


def test_a_page_listing_thousands_of_posts_reads_a_bounded_number_in_bounded_time() -> None:
    posts = "".join(
        f'<div class="tgme_widget_message" data-post="chan_x/{i}"><div class='
        f'"tgme_widget_message_text">t</div><a class="tgme_widget_message_reply">'
        '<span class="tgme_widget_message_author_name">a</span></a></div>'
        for i in range(60_000)
    )
    html = f'<section class="tgme_channel_history">{posts}</section>'.encode()
    started = time.monotonic()
    page = parse_preview(html, "chan_x")
    assert time.monotonic() - started < 6  # 9-16 s with a dozen XPath queries per post
    assert len(page.posts) == 200 and page.failures[0][1] == "too_complex"


def test_one_post_of_a_million_elements_fails_alone_in_bounded_time() -> None:
    huge = '<div class="tgme_widget_message_text">' + "<br>" * 1_000_000 + "</div>"
    html = channel_page("chan_x", [Post(1, "fine post"), Post(2, "HUGE")]).replace(
        '<div class="tgme_widget_message_text js-message_text" dir="auto">HUGE</div>', huge
    )
    started = time.monotonic()
    page = parse_preview(html.encode(), "chan_x")
    assert time.monotonic() - started < 6  # 24 s when the whole subtree was queried
    assert [p.text for p in page.posts] == ["fine post"]
    assert [f[1] for f in page.failures] == ["too_complex"]


# -- on loopback ---------------------------------------------------------------------------
@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer().running() as srv:
        yield srv


def make_settings(tmp_path: Path, **kw: object) -> IngestorSettings:
    base: dict[str, object] = {
        "state_path": tmp_path / "state.sqlite",
        "namespace": "tunit",
        "allow_loopback": True,
        "http_per_host_min_interval_s": 0.0,
        "http_total_timeout_s": 5.0,
        "kafka_retry_initial_s": 0.001,
        "kafka_retry_max_s": 0.001,
        "ack_timeout_s": 0.05,
    }
    base.update(kw)
    return IngestorSettings(**base)  # type: ignore[arg-type]


class Run:
    """An ingestor on a state file with a fake Kafka; `restart()` is a new process."""

    def __init__(self, settings: IngestorSettings) -> None:
        self.settings = settings
        self.producer = FakeProducer()
        self.restart()

    def restart(self) -> None:
        self.state = IngestState(self.settings.state_path)
        self.worker = Ingestor(
            self.settings,
            self.state,
            sink=RawSink(self.settings, self.state, producer_factory=lambda: self.producer),
        )

    def raw(self) -> list[RawArticle]:
        return [
            RawArticle.model_validate_json(m["value"])
            for m in self.producer.sent
            if ".raw." in m["topic"]
        ]

    def letters(self) -> list[DeadLetter]:
        return [
            DeadLetter.model_validate_json(m["value"])
            for m in self.producer.sent
            if "deadletter" in m["topic"]
        ]

    def keys(self) -> list[bytes]:
        return [m["key"] for m in self.producer.sent if ".raw." in m["topic"]]


def source_for(url: str) -> SourceInfo:
    return SOURCE.model_copy(update={"url": url})


@pytest.mark.integration  # loopback sockets; Kafka is faked
def test_first_poll_backfills_a_bounded_number_of_pages_then_only_new_posts(
    server: LoopbackServer, tmp_path: Path
) -> None:
    posts = [Post(i, f"Report number {i} from the front") for i in range(1, 71)]
    serve_channel(server, "chan_a", posts)
    url = server.url("/s/chan_a")
    run = Run(make_settings(tmp_path, telegram_backfill_pages=2))
    run.worker.poll_telegram(url, source_for(url))
    got = [a.post.post_id for a in run.raw() if a.post]
    assert got == list(range(31, 71))  # two pages of 20, oldest first
    asked = [p for p, _ in server.requests if p.startswith("/s/")]
    assert asked == ["/s/chan_a", "/s/chan_a?before=51"]
    # 25 new posts: the newest page does not reach post 70, so one page back is read
    serve_channel(server, "chan_a", [*posts, *(Post(i, f"New report {i}") for i in range(71, 96))])
    run.worker.poll_telegram(url, source_for(url))
    got = [a.post.post_id for a in run.raw() if a.post]
    assert got == list(range(31, 96))
    # a restart reads the channel again and produces nothing twice
    run.restart()
    run.worker.poll_telegram(url, source_for(url))
    assert len(run.raw()) == 65 and not run.letters()


@pytest.mark.integration
def test_an_edited_post_becomes_the_next_version_of_the_same_article(
    server: LoopbackServer, tmp_path: Path
) -> None:
    posts = [Post(1, "Shelling near Tegh.\nTwo wounded."), Post(2, "Talks resume Monday.")]
    serve_channel(server, "chan_b", posts)
    url = server.url("/s/chan_b")
    run = Run(make_settings(tmp_path))
    run.worker.poll_telegram(url, source_for(url))
    serve_channel(
        server, "chan_b", [Post(1, "Shelling near Tegh.\nThree wounded.", edited=True), posts[1]]
    )
    run.worker.poll_telegram(url, source_for(url))
    first, _, edit = run.raw()
    assert edit.article_id == first.article_id and run.keys()[0] == run.keys()[2]
    assert edit.version == 2 and edit.edited_at is not None and edit.post and edit.post.edited
    assert edit.diff and "-Two wounded." in edit.diff and "+Three wounded." in edit.diff
    assert first.version == 1 and first.edited_at is None
    run.restart()
    run.worker.poll_telegram(url, source_for(url))
    assert len(run.raw()) == 3


@pytest.mark.integration
def test_an_edit_acked_before_a_crash_is_not_produced_again(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_channel(server, "chan_c", [Post(1, "First text")])
    url = server.url("/s/chan_c")
    run = Run(make_settings(tmp_path))
    run.worker.poll_telegram(url, source_for(url))
    serve_channel(server, "chan_c", [Post(1, "Second text", edited=True)])
    monkeypatch.setattr(run.worker.history, "commit", lambda *a, **k: None)  # crash here
    run.worker.poll_telegram(url, source_for(url))
    assert [a.version for a in run.raw()] == [1, 2]
    run.restart()
    run.worker.poll_telegram(url, source_for(url))
    assert [a.version for a in run.raw()] == [1, 2]


@pytest.mark.integration
def test_a_post_deleted_from_an_official_channel_is_withdrawn_and_keeps_its_text(
    server: LoopbackServer, tmp_path: Path
) -> None:
    posts = [Post(i, f"Statement {i}") for i in range(1, 6)]
    serve_channel(server, "mod_x", posts)
    url = server.url("/s/mod_x")
    run = Run(make_settings(tmp_path))
    run.worker.poll_telegram(url, source_for(url), official=True)
    serve_channel(server, "mod_x", [p for p in posts if p.id != 3])
    run.worker.poll_telegram(url, source_for(url), official=True)
    run.worker.poll_telegram(url, source_for(url), official=True)  # once, not every poll
    withdrawn = run.raw()[5:]
    assert len(withdrawn) == 1 and withdrawn[0].withdrawn_at is not None
    assert withdrawn[0].text == "Statement 3" and withdrawn[0].version == 2
    assert withdrawn[0].article_id == run.raw()[2].article_id


@pytest.mark.integration
def test_a_channel_without_preview_fails_alone_and_shows_in_its_health(
    server: LoopbackServer, tmp_path: Path, fixtures: Path
) -> None:
    server.add("/s/closed_chan", b"", status=302, headers={"Location": "/closed_chan"})
    server.add("/closed_chan", fixture(fixtures, "closed_info.html"))
    serve_channel(server, "open_chan", [Post(1, "Open channel post")])
    common = {"country": "AM", "language": "hy", "affiliation": "government", "kind": "telegram"}
    entries = [
        SourceEntry.model_validate({**common, "name": n, "url": server.url(f"/s/{n}")})
        for n in ("closed_chan", "open_chan")
    ]
    run = Run(make_settings(tmp_path))
    poller = Poller(run.worker, entries, threading.Event())
    poller.run_due(float("inf"))
    assert [a.text for a in run.raw()] == ["Open channel post"]
    [letter] = run.letters()
    assert letter.error_type == "telegram_no_preview" and "closed_chan" in letter.reason
    health = run.state.all_health()
    assert health[entries[0].url].consecutive_failures == 1
    assert health[entries[1].url].consecutive_failures == 0
    assert health[entries[1].url].last_item is not None


@pytest.mark.integration
def test_cwatch_ingest_reads_a_channel_once_with_kind_telegram(
    server: LoopbackServer, tmp_path: Path
) -> None:
    serve_channel(server, "chan_i", [Post(3, "Once from the command line")])
    run = Run(make_settings(tmp_path))
    run.worker.ingest_url(server.url("/s/chan_i"), kind="telegram")
    [article] = run.raw()
    assert article.url == "https://t.me/chan_i/3" and article.source.kind == SourceKind.TELEGRAM
