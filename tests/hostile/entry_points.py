"""Every way hostile bytes enter the system, as `entry(data) -> output size`.

Each entry point catches exactly the errors its caller documents and handles (they become a dead
letter, a 4xx answer or a refused subscription) and returns how much it produced (characters of
articles, reports, documents or dead letters), so the test can check the output is bounded by
the input. Anything else that escapes is a bug: in the service it would abort a feed, kill a
thread, answer 500 or redeliver the same poison message forever.

They run in a forked child (tests/fuzz/budget.py); each builds what it needs there, in folders
under the work folder the parent made (`work_dir`): a child killed by its CPU or memory limit
cannot clean up, so the parent does.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from schemas.common import SourceInfo
from schemas.raw import RawArticle
from schemas.report import Report
from services.alerts.models import Subscription, SubscriptionInput
from services.common.kafka import MAX_MESSAGE_BYTES
from services.extractor.dedup import DedupState
from services.extractor.pipeline import ExtractorConfig, extract
from services.indexer.documents import document_json, index_for, to_document
from services.indexer.mapping import parse_index_name
from services.ingestor.adapters.base import Failure, ItemError
from services.ingestor.adapters.feed import FeedError, parse_feed
from services.ingestor.adapters.files import parse_file_bytes, read_file
from services.ingestor.adapters.page import parse_page
from services.ingestor.adapters.sitemap import SitemapError, parse_sitemap
from services.ingestor.app import Ingestor
from services.ingestor.http import SafeHttpClient
from services.ingestor.producer import ENVELOPE_BYTES, RawSink, fit_to_limit
from services.ingestor.push import make_push_router
from services.ingestor.settings import IngestorSettings
from services.ingestor.state import IngestState
from services.query.bodies import build_search
from services.query.params import SearchParams
from services.query.syntax import QueryError
from tests.hostile.corpus import PUBLIC_HOST

# Everything is imported here, in the parent: each forked child inherits the modules (and the
# extractor's gazetteer, loaded once by warm_up) instead of importing them again.
CONFIG = ExtractorConfig()

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


_WORK_DIR: Path | None = None


@contextmanager
def work_dir(path: Path) -> Iterator[Path]:
    """Create `path` (in the parent, before forking) for the children's folders, and remove
    it with whatever a killed child left there."""
    global _WORK_DIR
    path.mkdir(parents=True, exist_ok=True)
    _WORK_DIR = path
    try:
        yield path
    finally:
        _WORK_DIR = None
        shutil.rmtree(path, ignore_errors=True)


def _folder() -> Path:
    if _WORK_DIR is None:
        raise RuntimeError("entry points run inside `with work_dir(...)`, made by the parent")
    return Path(tempfile.mkdtemp(prefix="cwatch-hostile-", dir=_WORK_DIR))


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _failure_size(failure: Any) -> int:
    return len(failure.to_dead_letter().model_dump_json())


def _result_size(results: list[Any]) -> int:

    return sum(
        _failure_size(r) if isinstance(r, Failure) else len(r.model_dump_json()) for r in results
    )


# -- ingestor: files ------------------------------------------------------------------------


def _file(suffix: str) -> Callable[[bytes], int]:
    def entry(data: bytes) -> int:

        folder = _folder()
        try:
            path = folder / f"item{suffix}"
            path.write_bytes(data)
            return _result_size(read_file(path))  # documented: never raises
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return entry


# -- ingestor: the web, through the real HTTP client on a mock transport --------------------


class _FakeFuture:
    is_done = True

    def succeeded(self) -> bool:
        return True

    def get(self, timeout: float | None = None) -> None:
        return None


class _FakeProducer:
    """Kafka stand-in: counts what would be sent (the sink already checked the size)."""

    def __init__(self) -> None:
        self.bytes_sent = 0

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Any) -> _FakeFuture:
        self.bytes_sent += len(value)
        return _FakeFuture()

    def flush(self, timeout: float | None = None) -> None:
        return None

    def close(self, timeout: float | None = None) -> None:
        return None


@dataclass
class _Rig:
    ingestor: Any
    producer: _FakeProducer
    folder: Path


def _rig(handler: Callable[[Any], Any]) -> _Rig:

    folder = _folder()
    settings = IngestorSettings(
        state_path=folder / "state.sqlite",
        namespace="thostile",
        respect_robots=False,
        http_per_host_min_interval_s=0.0,
        kafka_retry_initial_s=0.001,
        kafka_retry_max_s=0.001,
        ack_timeout_s=0.05,
    )
    state = IngestState(settings.state_path)
    producer = _FakeProducer()
    sink = RawSink(settings, state, producer_factory=lambda: producer)
    http = SafeHttpClient(settings, transport=httpx.MockTransport(handler))
    return _Rig(Ingestor(settings, state, http, sink), producer, folder)


CHUNK = 64 * 1024


class _Chunks(httpx.SyncByteStream):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks


def _linked_page(request: httpx.Request) -> httpx.Response:
    page = b"<html><head><title>linked</title></head><body><p>linked page</p></body></html>"
    return httpx.Response(200, headers={"content-type": "text/html"}, content=page)


def _web(kind: str, content_type: str, encoding: str | None = None) -> Callable[[bytes], int]:
    """The body served at a feed/sitemap/page/auto URL; every link it names answers with a
    small page, so feeds and sitemaps are followed to their pages as in production."""

    def entry(data: bytes) -> int:

        root = f"http://{PUBLIC_HOST}/hostile"

        def handler(request: httpx.Request) -> httpx.Response:
            if str(request.url) == root:
                headers = {"content-type": content_type}
                if encoding:
                    headers["content-encoding"] = encoding
                # in 64 KiB chunks, as a socket delivers them: caps apply while reading
                chunks = (data[i : i + CHUNK] for i in range(0, len(data), CHUNK))
                return httpx.Response(200, headers=headers, stream=_Chunks(chunks))
            return _linked_page(request)

        rig = _rig(handler)
        try:
            rig.ingestor.ingest_url(root, kind=kind)  # documented: failures are dead letters
            return rig.producer.bytes_sent
        finally:
            rig.ingestor.close()
            rig.ingestor.state.close()
            shutil.rmtree(rig.folder, ignore_errors=True)

    return entry


# -- ingestor: the pure parsers -------------------------------------------------------------


def parse_feed_entry(data: bytes) -> int:

    try:
        parsed = parse_feed(data, feed_url=f"http://{PUBLIC_HOST}/feed")
    except FeedError:
        return 0
    return sum(len(e.article.model_dump_json()) for e in parsed.entries) + sum(
        _failure_size(f) for f in parsed.failures
    )


def parse_sitemap_entry(data: bytes) -> int:

    try:
        parsed = parse_sitemap(data)
    except SitemapError:
        return 0
    return (
        sum(len(c) for c in parsed.children)
        + sum(len(repr(e)) for e in parsed.entries)
        + sum(_failure_size(f) for f in parsed.failures)
    )


def parse_page_entry(data: bytes) -> int:

    try:
        article = parse_page(data, source=SourceInfo(name="hostile"), url=f"http://{PUBLIC_HOST}/p")
    except ItemError:
        return 0
    return len(article.model_dump_json())


# -- ingestor: the push API -----------------------------------------------------------------


def _push(
    make_request: Callable[[bytes], tuple[dict[str, str], bytes, str]],
) -> Callable[[bytes], int]:
    def entry(data: bytes) -> int:

        rig = _rig(_linked_page)
        try:
            app = FastAPI()
            limit = rig.ingestor.settings.push_max_body_bytes
            app.include_router(make_push_router(rig.ingestor, limit))
            headers, body, path = make_request(data)
            with TestClient(app, raise_server_exceptions=False) as client:
                response = client.post(path, content=body, headers=headers)
            # documented: 202 accepted, 400 bad article, 413 too large, 415 wrong type
            assert response.status_code in (202, 400, 413), (
                response.status_code,
                response.text[:2000],
            )
            return rig.producer.bytes_sent + len(response.content)
        finally:
            rig.ingestor.close()
            rig.ingestor.state.close()
            shutil.rmtree(rig.folder, ignore_errors=True)

    return entry


def _push_html(data: bytes) -> tuple[dict[str, str], bytes, str]:
    return {"content-type": "text/html"}, data, f"/v1/articles?url=http://{PUBLIC_HOST}/pushed"


def _push_json(data: bytes) -> tuple[dict[str, str], bytes, str]:
    text = _text(data)
    record = {"url": f"http://{PUBLIC_HOST}/j", "title": text[:100] or "t", "text": text}
    if text.lstrip().startswith("<"):
        record = {"url": f"http://{PUBLIC_HOST}/j", "html": text}
    return {"content-type": "application/json"}, json.dumps(record).encode(), "/v1/articles"


def _push_raw_json(data: bytes) -> tuple[dict[str, str], bytes, str]:
    return {"content-type": "application/json"}, data, "/v1/articles"


# -- extractor, indexer ---------------------------------------------------------------------


def _raw_articles(data: bytes, suffix: str) -> list[Any]:
    """What the extractor would receive: the file adapter's article, cut to the Kafka limit
    by the producer and read back from JSON, as the worker reads it."""

    limit = IngestorSettings().max_message_bytes - ENVELOPE_BYTES
    results = parse_file_bytes(data, suffix=suffix, where="hostile", source=SourceInfo(name="h"))
    out = []
    for result in results:
        if isinstance(result, RawArticle):
            _, payload = fit_to_limit(result, limit)
            out.append(RawArticle.model_validate_json(payload))
    return out


def _extract(suffix: str) -> Callable[[bytes], int]:
    def entry(data: bytes) -> int:

        size = 0
        for raw in _raw_articles(data, suffix):
            for report in extract(raw, DedupState(), CONFIG):
                value = report.model_dump_json().encode()
                assert len(value) <= MAX_MESSAGE_BYTES, f"report of {len(value)} bytes"
                doc = document_json(report, NOW)
                parsed = parse_index_name(index_for(report, "cwatch-reports"))
                assert parsed is not None and parsed[2] >= "1990", parsed
                size += len(value) + len(doc)
        return size

    return entry


def document_entry(data: bytes) -> int:
    """A report whose text fields are the hostile text, mapped to a document."""

    text = _text(data)[:MAX_MESSAGE_BYTES]  # no report is larger than a Kafka message
    report = Report(
        report_id="hostile-0001",
        article_id="hostile-0001",
        source=SourceInfo(name=text[:300] or "s"),
        headline=text[:1000],
        body=text,
        ingested_at=NOW,
        extracted_at=NOW,
        content_hash="h",
        story_id="s",
        folded_text="",
    )
    doc = document_json(report, NOW)
    json.loads(doc)
    index_for(report, "cwatch-reports")
    return len(doc) + len(json.dumps(to_document(report, NOW)))


# -- search, alerts -------------------------------------------------------------------------


def query_entry(data: bytes) -> int:

    text = _text(data)
    size = 0
    for params in (
        SearchParams(q=text),
        SearchParams(q=text[:1000]),
        SearchParams(since=text[:200], until=text[:200]),
        SearchParams(cursor=text[:4000]),
        SearchParams(countries=[text[:10]], entities=[text[:200]]),
    ):
        try:
            size += len(json.dumps(build_search(params, NOW)))
        except QueryError:
            pass
    return size


def webhook_entry(data: bytes) -> int:
    """A subscription whose webhook URL (and query, name) carry the hostile text. Accepted
    means the delivery client must be able to send to it."""

    text = _text(data)
    size = 0
    for url in (text, f"https://{PUBLIC_HOST}/{text[:1000]}", f"http://{text[:200]}/"):
        body = {
            "name": text[:200],
            "query": text[:1000],
            "channel": {"kind": "webhook", "url": url},
        }
        try:
            sub = Subscription(**SubscriptionInput.model_validate(body).model_dump())
            sub.check(NOW)
        except (ValidationError, QueryError):
            continue
        httpx.Request("POST", sub.channel.url or "")  # what delivery does with it
        size += len(json.dumps(sub.public()))
    return size


def outputs_entry(data: bytes) -> int:
    """A report whose text fields, URL and ids are the hostile text, out through every export
    format and an Atom feed, which feedparser must read without complaint."""
    import feedparser

    from services.query.atom import FeedInfo, build_feed
    from services.query.exports import FORMATS, encoder

    text = _text(data)[:MAX_MESSAGE_BYTES]
    report = Report(
        report_id="hostile-0001",
        article_id="hostile-0001",
        url=text[:2000] or None,
        source=SourceInfo(name=text[:300] or "s"),
        headline=text[:1000],
        body=text,
        ingested_at=NOW,
        extracted_at=NOW,
        content_hash="h",
        story_id=text[:160] or "s",
        folded_text="",
    )
    doc = to_document(report, NOW)
    size = 0
    for name in FORMATS:
        enc = encoder(name)
        size += len(enc.head() + enc.page([doc]) + enc.tail({}))
    info = FeedInfo(text[:100], text[:1000], f"https://{PUBLIC_HOST}/feeds/x", "http://x/ui/")
    feed = build_feed(info, [{"_source": doc}], NOW)
    parsed = feedparser.parse(feed)
    if parsed.bozo:
        raise AssertionError(f"invalid Atom: {parsed.bozo_exception}")
    return size + len(feed)


ENTRY_POINTS: dict[str, Callable[[bytes], int]] = {
    "file_html": _file(".html"),
    "file_txt": _file(".txt"),
    "file_jsonl": _file(".jsonl"),
    "file_xml": _file(".xml"),
    "web_auto": _web("auto", "application/octet-stream"),
    "web_feed": _web("feed", "application/rss+xml"),
    "web_sitemap": _web("sitemap", "application/xml"),
    "web_page": _web("page", "text/html"),
    "web_gzip_encoded": _web("page", "text/html", encoding="gzip"),
    "parse_feed": parse_feed_entry,
    "parse_sitemap": parse_sitemap_entry,
    "parse_page": parse_page_entry,
    "push_html": _push(_push_html),
    "push_json": _push(_push_json),
    "push_raw_json": _push(_push_raw_json),
    "extract_html": _extract(".html"),
    "extract_text": _extract(".txt"),
    "document": document_entry,
    "query": query_entry,
    "webhook": webhook_entry,
    "outputs": outputs_entry,
}


def warm_up(folder: Path) -> None:
    """Run every entry point once on a small page, in the parent, before any fork."""
    page = b"<html><head><title>warm</title></head><body><p>Warm up text.</p></body></html>"
    with work_dir(folder):
        for entry in ENTRY_POINTS.values():
            entry(page)
