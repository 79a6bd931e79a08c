"""One bad feed, source, item, file or folder never stops the others: whatever it raises is
counted, logged and dead-lettered, and the daemons' loops go on."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from schemas.raw import RawArticle
from services.ingestor import app as app_module
from services.ingestor.adapters import files as files_module
from services.ingestor.app import Ingestor
from services.ingestor.daemons import FolderWatcher, Poller
from services.ingestor.http import SafeHttpClient
from services.ingestor.producer import RawSink
from services.ingestor.settings import IngestorSettings
from services.ingestor.sources import SourceEntry
from services.ingestor.state import IngestState
from tests.ingestor.conftest import FakeProducer

SITE = "http://93.184.216.34"
LONG = "<p>" + "Negotiators met again in Washington. " * 20 + "</p>"


def failures(kind: str, error: str) -> float:
    value = REGISTRY.get_sample_value(
        "cwatch_ingestor_source_failures_total", {"kind": kind, "error": error}
    )
    return value or 0.0


def make_ingestor(
    settings: IngestorSettings, producer: FakeProducer, pages: dict[str, str] | None = None
) -> Ingestor:
    def handler(request: httpx.Request) -> httpx.Response:
        body = (pages or {}).get(request.url.path)
        if body is None:
            return httpx.Response(404)
        kind = "application/rss+xml" if body.startswith("<?xml") else "text/html"
        return httpx.Response(200, text=body, headers={"content-type": kind})

    state = IngestState(settings.state_path)
    return Ingestor(
        settings,
        state,
        http=SafeHttpClient(settings, transport=httpx.MockTransport(handler)),
        sink=RawSink(settings, state, producer_factory=lambda: producer),
    )


def produced(producer: FakeProducer) -> list[RawArticle]:
    return [
        RawArticle.model_validate_json(m["value"]) for m in producer.sent if ".raw." in m["topic"]
    ]


def entry(url: str) -> SourceEntry:
    return SourceEntry(name="X", url=url, country="GE", language="ka", affiliation="independent")  # type: ignore[arg-type]


class Flaky:
    """An ingestor whose feeds in `broken` raise; the others record that they were polled."""

    def __init__(self, settings: IngestorSettings, broken: set[str]) -> None:
        self.settings = settings
        self.broken = broken
        self.polled: list[str] = []
        self.state = IngestState(":memory:")  # the poller records each source's health
        self.sink = RawSink(settings, self.state, producer_factory=FakeProducer)
        self.current_source: str | None = None
        self.source_error: str | None = None

    def poll_feed(self, url: str, source: Any = None, official: bool = False) -> None:
        self.polled.append(url)
        if url in self.broken:
            raise RuntimeError("a bug that only this feed triggers")


def test_a_source_that_raises_is_counted_and_the_others_are_polled(
    settings: IngestorSettings, caplog: pytest.LogCaptureFixture
) -> None:
    urls = [f"{SITE}/a.xml", f"{SITE}/b.xml", f"{SITE}/c.xml"]
    flaky = Flaky(settings, {urls[0]})
    poller = Poller(flaky, [entry(u) for u in urls], threading.Event())  # type: ignore[arg-type]
    before = failures("feed", "RuntimeError")
    poller.run_due(float("inf"))
    poller.next_due.clear()
    poller.run_due(float("inf"))
    assert flaky.polled == urls + urls
    assert failures("feed", "RuntimeError") == before + 2
    tracebacks = [r for r in caplog.records if r.msg == "poll failed" and r.exc_info]
    assert len(tracebacks) == 1  # once with the traceback, then one line per poll
    assert all(poller.next_due[u] > 0 for u in urls)


def test_an_item_that_raises_is_dead_lettered_and_the_feed_goes_on(
    settings: IngestorSettings, fake_producer: FakeProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>Bad</title><link>{SITE}/bad</link><description>s</description></item>"
        f"<item><title>Good</title><link>{SITE}/good</link><description>s</description></item>"
        "</channel></rss>"
    )
    worker = make_ingestor(
        settings, fake_producer, {"/feed.xml": feed, "/good": f"<title>G</title>{LONG}"}
    )
    real = worker._with_linked_page

    def explode(article: RawArticle, link: str) -> RawArticle:
        if link.endswith("/bad"):
            raise RuntimeError("parser bug")
        return real(article, link)

    monkeypatch.setattr(worker, "_with_linked_page", explode)
    worker.poll_feed(f"{SITE}/feed.xml")
    assert [a.url for a in produced(fake_producer)] == [f"{SITE}/good"]
    letters = [m["value"] for m in fake_producer.sent if "deadletter" in m["topic"]]
    assert len(letters) == 1 and b"internal_error" in letters[0]
    assert worker.state.feed_validators(f"{SITE}/feed.xml") is not None


def test_a_sitemap_parser_crash_is_one_failure(
    settings: IngestorSettings, fake_producer: FakeProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError("deeply nested")

    monkeypatch.setattr(app_module, "parse_sitemap", crash)
    worker = make_ingestor(settings, fake_producer, {"/s.xml": "<urlset/>"})
    worker.poll_sitemap(f"{SITE}/s.xml")
    assert worker.summary.reasons["internal_error"] == 1


def test_a_file_that_crashes_its_parser_does_not_stop_the_folder(
    settings: IngestorSettings,
    fake_producer: FakeProducer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("Bad title\nbody")
    (folder / "b.txt").write_text("Good title\nbody")
    real = files_module.parse_file_bytes

    def crash(data: bytes, **kwargs: Any) -> Any:
        if data.startswith(b"Bad"):
            raise MemoryError("hostile file")
        return real(data, **kwargs)

    monkeypatch.setattr(files_module, "parse_file_bytes", crash)
    worker = make_ingestor(settings, fake_producer)
    worker.ingest_path(folder)
    assert [a.title for a in produced(fake_producer)] == ["Good title"]
    assert worker.summary.reasons["internal_error"] == 1


def test_a_folder_whose_scan_raises_does_not_stop_the_other_folders(
    settings: IngestorSettings, tmp_path: Path
) -> None:
    class Scanner:
        def __init__(self) -> None:
            self.settings = settings
            self.scanned: list[Path] = []

        def ingest_path(self, folder: Path, settle_s: float = 0.0) -> None:
            self.scanned.append(folder)
            if folder.name == "broken":
                raise OSError("stale NFS handle")

    broken, fine = tmp_path / "broken", tmp_path / "fine"
    broken.mkdir()
    fine.mkdir()
    scanner = Scanner()
    watcher = FolderWatcher(scanner, [broken, fine], threading.Event())  # type: ignore[arg-type]
    before = failures("folder", "OSError")
    watcher.scan_once()
    assert scanner.scanned == [broken, fine]
    assert failures("folder", "OSError") == before + 1


def test_a_file_that_grows_past_the_limit_is_not_read_whole(tmp_path: Path) -> None:
    from services.ingestor.adapters.files import read_file

    path = tmp_path / "big.txt"
    path.write_bytes(b"title\n" + b"x" * 5000)
    [failure] = read_file(path, max_bytes=1000)
    assert getattr(failure, "error_type", None) == "too_large"


def test_a_jsonl_line_nested_too_deeply_fails_alone(tmp_path: Path) -> None:
    from services.ingestor.adapters.files import read_file

    path = tmp_path / "a.jsonl"
    path.write_text("[" * 50_000 + "\n" + '{"title": "Fine", "text": "body"}\n')
    results = read_file(path)
    assert [getattr(r, "error_type", None) for r in results] == ["invalid_json", None]
