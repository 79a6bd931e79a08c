"""Telegram post -> searchable: `telegram_searchable_p99_s`, on the real services.

A loopback server plays t.me: each channel's public preview (`/s/<channel>`, the markup of
t.me/s) is a page the benchmark changes. The real stack runs as processes (ingestor daemon
polling the channels as configured in a sources file, extractor, indexer). New posts appear
on random channels at random times; each one's latency is the time from the moment it is on
its channel's page to the moment Elasticsearch finds its text. The stub also records when the
ingestor fetched the page, which splits each latency into two parts:

- waiting for the next poll: a post appears at a random moment of its channel's poll cycle, so
  this part is uniform between 0 and the poll interval (plus jitter). It does not depend on the
  machine, only on `poll_interval_s`;
- fetch -> searchable: fetch, parse, produce, extract, index, refresh (the machine's part).

The daemon polls every `POLL_S` seconds here, so that the run takes minutes; the figure at the
default poll interval (`CWATCH_POLL_INTERVAL_S`, 600 s) is then the p99 of (a wait drawn
uniformly from each jittered poll cycle at that interval) + (a measured fetch -> searchable),
over many draws. It is dominated by the interval: about 0.99 x 600 s; a channel that must be
seen sooner gets its own `poll_interval_s` in the sources file (the per-host limits still
apply). `telegram_searchable_p99_s_at_<POLL_S>s` is the p99 measured end to end at `POLL_S`.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_e2e import drop_indices, percentile  # noqa: E402

from devtools.supervisor import Stack, wait_until  # noqa: E402
from schemas.topics import TopicNames, index_alias  # noqa: E402
from services.common.kafka import delete_topics, ensure_topics  # noqa: E402
from services.common.settings import CommonSettings  # noqa: E402
from services.ingestor.settings import IngestorSettings  # noqa: E402

POLL_S = 5.0
DRAWS = 100_000


def channel_page(channel: str, posts: list[tuple[int, str]]) -> bytes:
    """The channel's preview in t.me/s markup, newest post last as Telegram shows it."""
    messages = "".join(
        f'<div class="tgme_widget_message_wrap"><div class="tgme_widget_message js-widget_message"'
        f' data-post="{channel}/{i}"><div class="tgme_widget_message_bubble"><div class='
        f'"tgme_widget_message_text js-message_text" dir="auto">{text}</div><div class='
        f'"tgme_widget_message_footer"><span class="tgme_widget_message_views">1.2K</span>'
        f'<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" '
        f'href="https://t.me/{channel}/{i}"><time datetime="2026-11-20T10:{i % 60:02d}:00+00:00">'
        "10:00</time></a></span></div></div></div></div>"
        for i, text in posts
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div class='
        '"tgme_channel_info"><div class="tgme_channel_info_header_title">'
        f'<span>{channel}</span></div></div><section class="tgme_channel_history">{messages}'
        "</section></body></html>"
    ).encode()


class Channels:
    """The t.me stub: pages the benchmark changes, and when each channel was last fetched."""

    def __init__(self, names: list[str]) -> None:
        self.lock = threading.Lock()
        self.posts: dict[str, list[tuple[int, str]]] = {n: [] for n in names}
        self.fetched: dict[str, list[float]] = {n: [] for n in names}
        channels = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                name = self.path.split("?", 1)[0].removeprefix("/s/")
                with channels.lock:
                    posts = list(channels.posts.get(name, []))
                    if name in channels.fetched:
                        channels.fetched[name].append(time.time())
                body = channel_page(name, posts) if name in channels.posts else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def post(self, channel: str, text: str) -> float:
        with self.lock:
            posts = self.posts[channel]
            posts.append((len(posts) + 1, text))
            return time.time()

    def first_fetch_after(self, channel: str, t: float) -> float | None:
        with self.lock:
            return next((f for f in self.fetched[channel] if f >= t), None)


def searchable(es_url: str, alias: str, tokens: list[str]) -> set[str]:
    """Which of `tokens` a search finds now (each is one word of one post)."""
    body = {
        "query": {"terms": {"body": tokens}},
        "size": len(tokens),
        "_source": ["body"],
    }
    try:
        answer = httpx.post(
            f"{es_url}/{alias}/_search",
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
            json=body,
            timeout=10,
        ).json()
    except (httpx.HTTPError, ValueError):
        return set()
    found = " ".join(h["_source"].get("body", "") for h in answer.get("hits", {}).get("hits", []))
    return {t for t in tokens if t in found}


def at_interval(pipeline: list[float], interval: float, jitter: float, rng: random.Random) -> float:
    """p99 of post -> searchable at `interval`: a uniform wait within a jittered poll cycle,
    plus a measured fetch -> searchable."""
    sums = [
        rng.uniform(0, interval * (1 + rng.uniform(-jitter, jitter))) + rng.choice(pipeline)
        for _ in range(DRAWS)
    ]
    return percentile(sums, 0.99)


def run(quick: bool = False) -> dict[str, float]:
    common = CommonSettings()
    defaults = IngestorSettings()
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    topics = TopicNames.for_namespace(namespace)
    ensure_topics(common.kafka_bootstrap_servers, topics)
    names = [f"bench_mod_{i}" for i in range(4 if quick else 10)]
    count = 12 if quick else 60
    channels = Channels(names)
    rng = random.Random(17)
    for name in names:  # what the first poll backfills
        for j in range(3):
            channels.post(name, f"Statement {j} of {name}: warmup{uuid.uuid4().hex[:10]}.")
    work = Path(tempfile.mkdtemp(prefix="cwatch-telegram-"))
    sources = work / "sources.yaml"
    sources.write_text(
        "sources:\n"
        + "".join(
            f"  - {{name: {n}, kind: telegram, url: '{channels.base}/s/{n}', country: AM,"
            " language: en, affiliation: government, official: true}\n"
            for n in names
        )
    )
    env = {
        **os.environ.copy(),
        "CWATCH_NAMESPACE": namespace,
        "CWATCH_DATA_DIR": str(work / "extractor"),
        "CWATCH_LOG_LEVEL": "WARNING",
        "CWATCH_SOURCES_FILE": str(sources),
        "CWATCH_STATE_PATH": str(work / "ingestor.sqlite"),
        "CWATCH_ALLOW_LOOPBACK": "true",
        "CWATCH_POLL_INTERVAL_S": str(POLL_S),
        "CWATCH_HTTP_PER_HOST_MIN_INTERVAL_S": "0",
        "CWATCH_PUSH_PORT": str(_free_port()),
        "CWATCH_METRICS_PORT": "0",
    }
    stack = Stack(work / "logs", env, services=["indexer", "extractor", "ingestor"]).start()
    alias = index_alias(namespace)
    figures: dict[str, float] = {}
    try:
        warm = [t for n in names for _, t in channels.posts[n]]
        warm_tokens = [t.rsplit(" ", 1)[1].rstrip(".") for t in warm]
        if not wait_until(
            lambda: len(searchable(common.elasticsearch_url, alias, warm_tokens)) == len(warm),
            300,
            1.0,
        ):
            stack.check_alive()
            raise RuntimeError("the backfilled posts did not become searchable in 300 s")
        pending: dict[str, tuple[str, float]] = {}
        latencies: list[float] = []
        pipeline: list[float] = []
        sent = 0
        deadline = time.monotonic() + 60 + count * POLL_S * 2
        next_post = time.monotonic()
        while (sent < count or pending) and time.monotonic() < deadline:
            if sent < count and time.monotonic() >= next_post:
                channel = rng.choice(names)
                token = f"post{uuid.uuid4().hex[:12]}"
                pending[token] = (channel, channels.post(channel, f"Update on {channel}: {token}."))
                sent += 1
                next_post = time.monotonic() + rng.uniform(0.3, 1.2) * POLL_S
            if pending:
                now = time.time()
                for token in searchable(common.elasticsearch_url, alias, list(pending)):
                    channel, at = pending.pop(token)
                    latencies.append(now - at)
                    fetched = channels.first_fetch_after(channel, at)
                    if fetched is not None:
                        pipeline.append(now - fetched)
            time.sleep(0.1)
        stack.check_alive()
        if pending:
            raise RuntimeError(f"{len(pending)} of {count} posts never became searchable")
        figures[f"telegram_searchable_p99_s_at_{int(POLL_S)}s"] = round(
            percentile(latencies, 0.99), 2
        )
        figures["telegram_fetch_to_searchable_p50_s"] = round(percentile(pipeline, 0.5), 2)
        figures["telegram_fetch_to_searchable_p99_s"] = round(percentile(pipeline, 0.99), 2)
        figures["telegram_searchable_p99_s"] = round(
            at_interval(pipeline, defaults.poll_interval_s, defaults.poll_jitter, rng), 1
        )
        figures["telegram_default_poll_interval_s"] = defaults.poll_interval_s
        figures["telegram_posts_measured"] = float(len(latencies))
    finally:
        stack.stop()
        channels.server.shutdown()
        delete_topics(common.kafka_bootstrap_servers, [name for name, _ in topics.all()])
        drop_indices(common.elasticsearch_url, f"{namespace}-")
    return figures


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
