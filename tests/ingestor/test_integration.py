"""Loopback HTTP server + real Kafka: exactly what lands on the raw and dead-letter topics."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.common import Affiliation, SourceInfo, SourceKind
from schemas.deadletter import DeadLetter
from schemas.raw import RawArticle
from schemas.topics import TopicNames
from services.ingestor.app import Ingestor
from services.ingestor.daemons import FolderWatcher
from services.ingestor.settings import IngestorSettings
from services.ingestor.state import IngestState
from tests.ingestor.loopback import LoopbackServer, rss
from tests.support import consume_all

pytestmark = pytest.mark.integration

LONG = "<p>" + "The talks in Brussels continued late into the night. " * 20 + "</p>"
OUTLET = SourceInfo(
    name="Loopback Outlet",
    kind=SourceKind.FEED,
    country="AM",
    language="en",
    affiliation=Affiliation.INDEPENDENT,
)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer().running() as srv:
        yield srv


def make_settings(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path, **kw: object
) -> IngestorSettings:
    base: dict[str, object] = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "namespace": topics.namespace,
        "state_path": tmp_path / "state.sqlite",
        "allow_loopback": True,
        "http_per_host_min_interval_s": 0.0,
        "http_read_timeout_s": 1.0,
        "http_total_timeout_s": 2.0,
        "http_max_body_bytes": 1_000_000,
    }
    base.update(kw)
    return IngestorSettings(**base)  # type: ignore[arg-type]


def ingestor(settings: IngestorSettings) -> Ingestor:
    return Ingestor(settings, IngestState(settings.state_path))


def raw_articles(
    bootstrap: str, topics: TopicNames, expect: int | None
) -> list[tuple[bytes, RawArticle, dict[str, bytes]]]:
    records = consume_all(bootstrap, topics.raw, expect=expect, timeout_s=15 if expect else 3)
    return [(r.key, RawArticle.model_validate_json(r.value), dict(r.headers)) for r in records]


def dead_letters(bootstrap: str, topics: TopicNames, expect: int | None) -> list[DeadLetter]:
    records = consume_all(
        bootstrap, topics.deadletter, expect=expect, timeout_s=15 if expect else 3
    )
    return [DeadLetter.model_validate_json(r.value) for r in records]


def test_feed_items_land_once_on_the_raw_topic_across_polls_and_restarts(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path, server: LoopbackServer
) -> None:
    page = "<html><head><title>Page 3</title></head><body><p>PAGE-THREE full text</p></body></html>"
    server.add("/news/3", page)
    items = [
        {"title": "Item one", "link": server.url("/news/1?utm_source=rss"), "content": LONG},
        {"title": "Item two", "link": server.url("/news/2"), "content": LONG},
        {"title": "Item three", "link": server.url("/news/3"), "summary": "teaser"},
    ]
    feed = server.add("/feed.xml", rss(items), "application/rss+xml", headers={"ETag": '"v1"'})
    settings = make_settings(kafka_bootstrap, topics, tmp_path)

    first = ingestor(settings)
    first.poll_feed(feed, OUTLET)
    first.poll_feed(feed, OUTLET)  # 304: nothing new
    first.close()

    got = raw_articles(kafka_bootstrap, topics, expect=3)
    assert len(got) == 3
    by_title = {a.title: (key, a, headers) for key, a, headers in got}
    assert set(by_title) == {"Item one", "Item two", "Item three"}
    for key, article, headers in got:
        assert key == article.article_id.encode()
        assert headers["schema_version"] == b"1" and headers["source"] == b"Loopback Outlet"
        assert article.source == OUTLET and article.feed_title == "Loopback News"
    assert by_title["Item one"][1].canonical_url == server.url("/news/1")
    assert "PAGE-THREE" in (by_title["Item three"][1].html or "")
    assert by_title["Item two"][1].html == LONG
    assert (
        sum(1 for path, h in server.requests if path == "/feed.xml" and "if-none-match" in h) == 1
    )

    # A restart with the same state; the feed changed (new ETag) and gained one item.
    items.append({"title": "Item four", "link": server.url("/news/4"), "content": LONG})
    server.add("/feed.xml", rss(items), "application/rss+xml", headers={"ETag": '"v2"'})
    second = ingestor(settings)
    second.poll_feed(feed, OUTLET)
    second.close()
    assert second.summary.duplicate == 3 and second.summary.produced == 1
    got = raw_articles(kafka_bootstrap, topics, expect=None)
    assert sorted(a.title or "" for _, a, _ in got) == [
        "Item four",
        "Item one",
        "Item three",
        "Item two",
    ]
    assert dead_letters(kafka_bootstrap, topics, expect=None) == []


def test_bad_sources_become_dead_letters_and_nothing_reaches_the_raw_topic(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path, server: LoopbackServer, fixtures: Path
) -> None:
    server.add("/bomb.xml", (fixtures / "xml_bomb.xml").read_bytes(), "application/xml")
    server.add("/xxe.xml", (fixtures / "external_entity.xml").read_bytes(), "application/xml")
    server.add("/to-private", b"", status=302, headers={"Location": "http://10.255.255.1/feed"})
    server.add(
        "/to-metadata", b"", status=301, headers={"Location": "http://169.254.169.254/latest/"}
    )
    server.add("/slow.xml", rss([]), "application/rss+xml", delay_s=3.0)
    server.add("/huge.xml", b"<rss>" + b"x" * 2_000_000 + b"</rss>", "application/rss+xml")
    server.add("/broken.xml", (fixtures / "malformed.xml").read_bytes(), "application/xml")
    settings = make_settings(kafka_bootstrap, topics, tmp_path)
    worker = ingestor(settings)
    expected = {
        "/missing.xml": "http_404",
        "/bomb.xml": "unsafe_xml",
        "/xxe.xml": "unsafe_xml",
        "/to-private": "blocked_address",
        "/to-metadata": "blocked_address",
        "/slow.xml": "timeout",
        "/huge.xml": "too_large",
        "/broken.xml": "malformed_feed",
    }
    for path in expected:
        worker.poll_feed(server.url(path), OUTLET)
    worker.close()

    letters = dead_letters(kafka_bootstrap, topics, expect=len(expected))
    assert {(letter.source, letter.error_type) for letter in letters} == {
        (server.url(p), reason) for p, reason in expected.items()
    }
    assert all(letter.stage.value == "ingest" and letter.reason for letter in letters)
    assert worker.summary.failed == len(expected)
    assert raw_articles(kafka_bootstrap, topics, expect=None) == []


def test_oversized_page_is_truncated_on_purpose_not_dropped(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path, server: LoopbackServer
) -> None:
    html = (
        "<html><head><title>Huge</title></head><body>"
        + "<p>Ереван Баку</p>" * 40_000
        + "</body></html>"
    )
    url = server.add("/huge-page", html, "text/html; charset=utf-8")
    settings = make_settings(
        kafka_bootstrap, topics, tmp_path, max_message_bytes=300_000, http_max_body_bytes=5_000_000
    )
    worker = ingestor(settings)
    worker.ingest_url(url, kind="page")
    worker.close()
    [(_, article, _)] = raw_articles(kafka_bootstrap, topics, expect=1)
    assert article.html_truncated and article.original_size == len(html.encode())
    assert article.html and html.startswith(article.html) and article.title == "Huge"


def test_news_sitemap_index_pages_are_fetched_and_produced(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path, server: LoopbackServer, fixtures: Path
) -> None:
    sitemap = (
        (fixtures / "news_sitemap.xml").read_text().replace("https://news.example.am", server.base)
    )
    server.add("/sitemap-news.xml", sitemap, "application/xml")
    index = (
        (fixtures / "sitemap_index.xml").read_text().replace("https://news.example.am", server.base)
    )
    url = server.add("/sitemap.xml", index, "application/xml")
    server.add("/en/2024/05/14/peace-treaty", "<html><body><p>Treaty text</p></body></html>")
    server.add("/en/about", "<html><head><title>About us</title></head></html>")
    worker = ingestor(make_settings(kafka_bootstrap, topics, tmp_path))
    worker.ingest_url(url)
    worker.close()
    got = raw_articles(kafka_bootstrap, topics, expect=2)
    titles = sorted(a.title or "" for _, a, _ in got)
    assert titles == ["About us", "Armenia and Azerbaijan agree on text of peace treaty"]
    news = next(a for _, a, _ in got if a.title and a.title.startswith("Armenia"))
    assert news.language_hint == "en" and news.published is not None
    assert news.source.name == "Example News" and news.source.kind == SourceKind.SITEMAP
    # the missing .xml.gz child sitemap is a dead letter, the rest went through
    [letter] = dead_letters(kafka_bootstrap, topics, expect=1)
    assert letter.error_type == "http_404" and letter.source.endswith("sitemap-2024.xml.gz")


def test_cli_ingests_a_folder_once_and_reports_the_summary(
    kafka_bootstrap: str,
    topics: TopicNames,
    tmp_path: Path,
    fixtures: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    for name in (
        "article.html",
        "articles.jsonl",
        "binary.html",
        "cp1251_undeclared.xml",
        "invalid_utf8.txt",
    ):
        shutil.copy(fixtures / name, folder / name)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    args = [
        "ingest",
        str(folder),
        "--namespace",
        topics.namespace,
        "--state",
        str(tmp_path / "s.db"),
        "--json",
    ]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    # html 1 + jsonl 3 + feed 2 + txt 1 produced; jsonl 2 bad lines + binary failed
    assert (summary["produced"], summary["duplicate"], summary["failed"]) == (7, 0, 3)
    assert summary["failed_by_reason"] == {
        "invalid_json": 1,
        "invalid_record": 1,
        "binary_content": 1,
    }
    assert len(raw_articles(kafka_bootstrap, topics, expect=7)) == 7
    assert len(dead_letters(kafka_bootstrap, topics, expect=3)) == 3

    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["produced"], again["unchanged_files"]) == (0, 5)


def test_watch_mode_picks_up_new_files_only(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path, seeds_dir: Path
) -> None:
    import threading

    folder = tmp_path / "watched"
    folder.mkdir()
    seeds = sorted(seeds_dir.glob("*.txt"))
    shutil.copy(seeds[0], folder / seeds[0].name)
    settings = make_settings(kafka_bootstrap, topics, tmp_path, file_settle_s=0.0)
    worker = ingestor(settings)
    watcher = FolderWatcher(worker, [folder], threading.Event())
    watcher.scan_once()
    watcher.scan_once()
    shutil.copy(seeds[1], folder / seeds[1].name)
    watcher.scan_once()
    worker.close()
    assert worker.summary.produced == 2 and worker.summary.unchanged_files == 2
    assert len(raw_articles(kafka_bootstrap, topics, expect=2)) == 2


def test_kafka_away_at_start_then_back_loses_nothing(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path, seeds_dir: Path
) -> None:
    from services.common.kafka import make_producer
    from services.ingestor.producer import RawSink

    settings = make_settings(
        kafka_bootstrap, topics, tmp_path, kafka_retry_initial_s=0.05, kafka_retry_max_s=0.1
    )
    attempts = {"n": 0}

    def factory() -> object:
        attempts["n"] += 1
        # the first two connections find no broker (a closed port), then Kafka is back
        servers = "127.0.0.1:9" if attempts["n"] <= 2 else kafka_bootstrap
        return make_producer(servers, "cwatch-ingestor-test", bootstrap_timeout_ms=300)

    state = IngestState(settings.state_path)
    worker = Ingestor(settings, state, sink=RawSink(settings, state, producer_factory=factory))
    worker.ingest_path(seeds_dir)
    worker.close()
    assert attempts["n"] == 3
    assert worker.summary.produced == 5
    assert len(raw_articles(kafka_bootstrap, topics, expect=5)) == 5


def test_gzipped_sitemap_url_is_recognised_and_its_pages_produced(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path, server: LoopbackServer, fixtures: Path
) -> None:
    import gzip

    sitemap = (
        (fixtures / "news_sitemap.xml").read_text().replace("https://news.example.am", server.base)
    )
    url = server.add("/sitemap.xml.gz", gzip.compress(sitemap.encode()), "application/gzip")
    server.add("/en/2024/05/14/peace-treaty", "<html><body><p>Treaty text</p></body></html>")
    server.add("/en/about", "<html><head><title>About us</title></head></html>")
    worker = ingestor(make_settings(kafka_bootstrap, topics, tmp_path))
    worker.ingest_url(url)
    worker.close()
    assert worker.summary.produced == 2 and worker.summary.failed == 0
    assert len(raw_articles(kafka_bootstrap, topics, expect=2)) == 2
