"""Ingest benchmark: articles/s from a local folder and from a local feed server, peak RSS.

- files: 10,000 real-shaped files (half .txt, half .html article pages built from the real
  seed reports in ../shared/data/seeds, or from built-in paragraphs when that is absent),
  ingested with `Ingestor.ingest_path` into the real Kafka (CommonSettings), fresh state.
- feed: a loopback HTTP server serves 40 RSS feeds of 250 items with content:encoded (full
  text, so no page fetch); `Ingestor.poll_feed` for each. Per-host politeness is switched
  off for this run because the only host is our own server.
- telegram: the same server serves 40 channels' public previews (`/s/<channel>` and its
  `?before=` pages, 20 posts a page in Telegram's markup, text posts, forwards, replies,
  captioned photos); `Ingestor.poll_telegram` backfills 5 pages of each: posts/s from fetch
  and parse to Kafka's ack (`telegram_posts_per_s`).
Each figure is the median of several runs; `ingest_rss_mb` is the peak resident memory of
this process plus its children (the file parser process), sampled during the runs.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from schemas.common import Affiliation, SourceInfo, SourceKind  # noqa: E402
from schemas.topics import TopicNames  # noqa: E402
from services.common.kafka import delete_topics, ensure_topics  # noqa: E402
from services.common.settings import CommonSettings  # noqa: E402
from services.ingestor.app import Ingestor  # noqa: E402
from services.ingestor.settings import IngestorSettings  # noqa: E402
from services.ingestor.state import IngestState  # noqa: E402

SEEDS = REPO.parent / "shared" / "data" / "seeds"
FALLBACK = [
    "Armenia and Azerbaijan agree on border delimitation\nThe commissions met in Gazakh "
    "and agreed on four villages. Yerevan and Baku called it a step toward a peace treaty.",
    "Ceasefire violated near Sotk, ministry says\nThe defence ministry reported shelling "
    "overnight. Baku denied the claim and accused the other side of provocation.",
]


def _paragraphs() -> list[tuple[str, list[str]]]:
    texts = (
        [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
        if SEEDS.is_dir()
        else []
    )
    out = []
    for text in texts or FALLBACK:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        out.append((lines[0], lines[1:] or [lines[0]]))
    return out


def generate_files(root: Path, count: int) -> None:
    rng = random.Random(7)
    docs = _paragraphs()
    for i in range(count):
        title, paras = docs[i % len(docs)]
        body = rng.sample(paras, k=min(len(paras), 8))
        marker = f"Bench item {i}."
        folder = root / f"d{i // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        if i % 2:
            ps = "".join(f"<p>{p}</p>\n" for p in [marker, *body])
            html = (
                f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} | Bench'
                f'</title><meta property="article:published_time" content="2024-05-14T10:00:00Z">'
                f'<link rel="canonical" href="https://bench.example/news/{i}"></head><body>'
                f"<nav>Home News World</nav><article><h1>{title}</h1>{ps}</article>"
                f"<footer>© Bench</footer></body></html>"
            )
            (folder / f"a{i:05d}.html").write_text(html, encoding="utf-8")
        else:
            (folder / f"a{i:05d}.txt").write_text(
                f"{title}\n{marker}\n" + "\n".join(body), encoding="utf-8"
            )


def feed_xml(feed: int, items: int) -> bytes:
    docs = _paragraphs()
    parts = []
    for j in range(items):
        title, paras = docs[(feed + j) % len(docs)]
        content = "".join(f"<p>{p}</p>" for p in paras[:6])
        parts.append(
            f"<item><title>{title} ({feed}-{j})</title>"
            f"<link>https://bench.example/feed{feed}/item{j}</link>"
            f"<guid>https://bench.example/feed{feed}/item{j}</guid>"
            f"<pubDate>Tue, 14 May 2024 10:00:00 GMT</pubDate><category>World</category>"
            f"<description>{paras[0][:200]}</description>"
            f"<content:encoded><![CDATA[{content}]]></content:encoded></item>"
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Bench feed {feed}</title><link>https://bench.example/</link><language>en</language>"
        + "".join(parts)
        + "</channel></rss>"
    )
    return xml.encode("utf-8")


def telegram_pages(channel: str, pages: int, per_page: int = 20) -> dict[str, bytes]:
    """A channel's preview and its older pages, newest first, in t.me/s markup."""
    texts = [t for _, paras in _paragraphs() for t in paras] or FALLBACK
    out: dict[str, bytes] = {}
    top = pages * per_page
    for page in range(pages):
        newest = top - page * per_page
        ids = range(newest - per_page + 1, newest + 1)
        messages = []
        for i in ids:
            extra = ""
            if i % 5 == 0:
                extra = (
                    '<div class="tgme_widget_message_forwarded_from">Forwarded from <a class='
                    '"tgme_widget_message_forwarded_from_name" href="https://t.me/other/1">'
                    "<span>Other</span></a></div>"
                )
            elif i % 7 == 0:
                extra = (
                    f'<a class="tgme_widget_message_reply" href="https://t.me/{channel}/{i - 1}">'
                    '<span class="tgme_widget_message_author_name">Channel</span><div class='
                    f'"tgme_widget_message_metatext">{texts[(i - 1) % len(texts)][:80]}</div></a>'
                )
            elif i % 3 == 0:
                extra = '<a class="tgme_widget_message_photo_wrap" href="#" style="x"></a>'
            body = texts[i % len(texts)][:1500].replace("\n", "<br/>")
            messages.append(
                f'<div class="tgme_widget_message_wrap"><div class="tgme_widget_message '
                f'js-widget_message" data-post="{channel}/{i}"><div class='
                f'"tgme_widget_message_bubble">{extra}<div class="tgme_widget_message_text '
                f'js-message_text" dir="auto">{body}</div><div class="tgme_widget_message_footer">'
                f'<span class="tgme_widget_message_views">{i * 17 % 9000 / 10:.1f}K</span>'
                f'<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" '
                f'href="https://t.me/{channel}/{i}"><time datetime="2024-05-14T10:{i % 60:02d}'
                ':00+00:00">10:00</time></a></span></div></div></div></div>'
            )
        prev = ids[0] if page + 1 < pages else None
        link = f'<link rel="prev" href="/s/{channel}?before={prev}">' if prev else ""
        html = (
            f'<!DOCTYPE html><html><head><meta charset="utf-8">{link}</head><body>'
            '<div class="tgme_channel_info"><div class="tgme_channel_info_header_title">'
            f'<span>{channel}</span></div></div><section class="tgme_channel_history">'
            + "".join(messages)
            + "</section></body></html>"
        )
        key = f"/s/{channel}" if page == 0 else f"/s/{channel}?before={newest + 1}"
        out[key] = html.encode("utf-8")
    return out


class FeedServer:
    def __init__(self, feeds: dict[str, bytes]) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                body = feeds.get(self.path)
                self.send_response(200 if body else 404)
                html = self.path.startswith("/s/")
                self.send_header("Content-Type", "text/html" if html else "application/rss+xml")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class TreeRss:
    """Peak resident memory of this process plus its descendants (the parser process),
    sampled from /proc every 0.2 s."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree_kb() -> int:
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                    parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
        tree, frontier = set(), [os.getpid()]
        while frontier:
            pid = frontier.pop()
            tree.add(pid)
            frontier.extend(c for c, p in parents.items() if p == pid and c not in tree)
        total = 0
        for pid in tree:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except (OSError, ValueError):
                continue
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_kb = max(self.peak_kb, self._tree_kb())

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _settings(common: CommonSettings, namespace: str, state: Path) -> IngestorSettings:
    return IngestorSettings(
        kafka_bootstrap_servers=common.kafka_bootstrap_servers,
        namespace=namespace,
        state_path=state,
        allow_loopback=True,
        http_per_host_min_interval_s=0.0,
        http_per_host_concurrency=4,
    )


def _files_run(common: CommonSettings, folder: Path, work: Path, count: int) -> float:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    topics = TopicNames.for_namespace(namespace)
    ensure_topics(common.kafka_bootstrap_servers, topics)
    try:
        settings = _settings(common, namespace, work / f"{namespace}.sqlite")
        worker = Ingestor(settings, IngestState(settings.state_path))
        worker.sink.producer()  # connect before the clock starts
        started = time.perf_counter()
        worker.ingest_path(folder)
        elapsed = time.perf_counter() - started
        worker.close()
        if worker.summary.produced != count:
            raise RuntimeError(f"files: produced {worker.summary.produced} of {count}")
        return count / elapsed
    finally:
        delete_topics(common.kafka_bootstrap_servers, [n for n, _ in topics.all()])


def _feed_run(
    common: CommonSettings, server: FeedServer, paths: list[str], work: Path, count: int
) -> float:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    topics = TopicNames.for_namespace(namespace)
    ensure_topics(common.kafka_bootstrap_servers, topics)
    source = SourceInfo(
        name="Bench", kind=SourceKind.FEED, country="AM", affiliation=Affiliation.INDEPENDENT
    )
    try:
        settings = _settings(common, namespace, work / f"{namespace}.sqlite")
        worker = Ingestor(settings, IngestState(settings.state_path))
        worker.sink.producer()
        started = time.perf_counter()
        for path in paths:
            worker.poll_feed(server.base + path, source)
        elapsed = time.perf_counter() - started
        worker.close()
        if worker.summary.produced != count:
            raise RuntimeError(f"feeds: produced {worker.summary.produced} of {count}")
        return count / elapsed
    finally:
        delete_topics(common.kafka_bootstrap_servers, [n for n, _ in topics.all()])


def _telegram_run(
    common: CommonSettings, server: FeedServer, channels: list[str], work: Path, count: int
) -> float:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    topics = TopicNames.for_namespace(namespace)
    ensure_topics(common.kafka_bootstrap_servers, topics)
    source = SourceInfo(
        name="Bench", kind=SourceKind.TELEGRAM, country="AM", affiliation=Affiliation.GOVERNMENT
    )
    try:
        settings = _settings(common, namespace, work / f"{namespace}.sqlite").model_copy(
            update={"telegram_backfill_pages": 5}
        )
        worker = Ingestor(settings, IngestState(settings.state_path))
        worker.sink.producer()
        started = time.perf_counter()
        for channel in channels:
            worker.poll_telegram(f"{server.base}/s/{channel}", source)
        elapsed = time.perf_counter() - started
        worker.close()
        if worker.summary.produced != count:
            raise RuntimeError(f"telegram: produced {worker.summary.produced} of {count}")
        return count / elapsed
    finally:
        delete_topics(common.kafka_bootstrap_servers, [n for n, _ in topics.all()])


def run(quick: bool = False) -> dict[str, float]:
    common = CommonSettings()
    n_files = 2_000 if quick else 10_000
    n_feeds, per_feed = (8, 250) if quick else (40, 250)
    runs = 1 if quick else 3
    work = Path(tempfile.mkdtemp(prefix="cwatch-bench-ingest-"))
    server: FeedServer | None = None
    memory = TreeRss()
    try:
        folder = work / "files"
        generate_files(folder, n_files)
        feeds = {f"/feed{i}.xml": feed_xml(i, per_feed) for i in range(n_feeds)}
        channels = [f"bench_channel_{i}" for i in range(n_feeds)]
        previews = {k: v for c in channels for k, v in telegram_pages(c, 5).items()}
        server = FeedServer({**feeds, **previews})
        with memory:
            files_rates = [_files_run(common, folder, work, n_files) for _ in range(runs)]
            feed_rates = [
                _feed_run(common, server, sorted(feeds), work, n_feeds * per_feed)
                for _ in range(runs)
            ]
            telegram_rates = [
                _telegram_run(common, server, channels, work, len(channels) * 5 * 20)
                for _ in range(runs)
            ]
    finally:
        if server:
            server.close()
        shutil.rmtree(work, ignore_errors=True)
    own_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "ingest_files_per_s": round(statistics.median(files_rates), 1),
        "ingest_feed_items_per_s": round(statistics.median(feed_rates), 1),
        "telegram_posts_per_s": round(statistics.median(telegram_rates), 1),
        # the ingestor with its parser process; the benchmark's own feed server runs in
        # the same process and is counted too
        "ingest_rss_mb": round(max(memory.peak_kb, own_peak_kb) / 1024, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv)))
