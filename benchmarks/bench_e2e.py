"""End-to-end benchmark: real HTML articles through extractor -> indexer (-> alerts) at rising rates.

Raw articles are produced to the raw topic at a steady rate; each one's ingest time travels with
it. We observe the report, `indexed` and `alert` topics (a report is searchable when its
`indexed` event appears), so latencies are ingest -> observed, on the wall clock of this machine.
The sustained rate is the highest step whose output kept up (everything drained within a few
seconds of the step's end). The alerts service holds the alert benchmark's 1,000 saved searches
plus one that matches every report (mode `every`), so ingest -> alert is measured for each
report at each rate, next to ingest -> searchable. `e2e_searchable_p99_s` and `e2e_alert_p99_s`
are taken at the target rate (50/s); each rate's figures are kept as `..._at_<rate>`, with the
CPU share of every process during the step. Side by side, over the same input, a baseline: plain
trafilatura + elasticsearch.helpers.bulk in one process, as fast as it goes; and, where it
installs, news-please + helpers.bulk over one pass of the pages
(`baseline_newsplease_e2e_burst_per_s`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from kafka import KafkaConsumer, TopicPartition

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devtools.supervisor import Stack, cpu_seconds, process_tree, rss_kb, wait_until  # noqa: E402
from schemas.common import SourceInfo, SourceKind  # noqa: E402
from schemas.raw import RawArticle  # noqa: E402
from schemas.topics import TopicNames  # noqa: E402
from services.common.kafka import delete_topics, ensure_topics, make_producer  # noqa: E402
from services.common.settings import CommonSettings  # noqa: E402

INGESTED_AT = re.compile(rb'(?<!\\)"ingested_at":"([^"]+)"')  # unescaped: never inside a string
TARGET_RATE = 50  # reports/s at which the issue sets the latency targets
SHARED_HTML = REPO.parent / "shared" / "data" / "extraction-benchmark" / "html"


def load_pages(limit: int) -> list[tuple[str, str]]:
    """(url, html) of real pages; the generated demo corpus when ../shared is absent."""
    pages: list[tuple[str, str]] = []
    if SHARED_HTML.is_dir():
        for path in sorted(SHARED_HTML.glob("*.html.gz"))[:limit]:
            pages.append(
                (
                    f"https://bench.example/{path.name[:16]}",
                    gzip.decompress(path.read_bytes()).decode("utf-8", "replace"),
                )
            )
    if not pages:
        from services.demo.generator import write_corpus

        folder = Path(tempfile.mkdtemp(prefix="cwatch-bench-"))
        write_corpus(folder, count=limit, seed=3, formats=("html",))
        for path in sorted(folder.rglob("*.html"))[:limit]:
            pages.append((f"https://bench.example/{path.stem}", path.read_text()))
    return pages


def raw_article(url: str, html: str, serial: int) -> RawArticle:
    # Each copy gets its own URL and a unique line so it is a new article, not a replay.
    unique_url = f"{url}?n={serial}"
    marked = html.replace("</body>", f"<p>Bench copy {serial} {uuid.uuid4().hex}</p></body>", 1)
    return RawArticle(
        article_id=hashlib.sha256(unique_url.encode()).hexdigest()[:32],
        url=unique_url,
        canonical_url=unique_url,
        source=SourceInfo(name="Bench Wire", kind=SourceKind.FEED, country="AM", language="en"),
        html=marked,
        ingested_at=datetime.now(UTC),
        published=datetime.now(UTC),
    )


class Observer(threading.Thread):
    """Records when each report, its `indexed` event and each alert arrive."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        super().__init__(daemon=True)
        # No consumer group: partitions are assigned by hand, so there is no membership to
        # lose. In one full run the observer's group session expired after 45 s and it never
        # rejoined, and the run measured nothing although the pipeline was working.
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        partitions = [TopicPartition(topic, p) for topic in topics for p in self._partitions(topic)]
        self.consumer.assign(partitions)
        self.consumer.seek_to_beginning(*partitions)
        self.latencies: dict[str, list[tuple[float, float]]] = {
            t: [] for t in topics
        }  # (ingest_ts, seen_ts)
        self.stopping = threading.Event()

    def _partitions(self, topic: str) -> list[int]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = self.consumer.partitions_for_topic(topic)
            if found:
                return sorted(found)
            time.sleep(0.2)
        raise RuntimeError(f"no metadata for topic {topic}")

    def run(self) -> None:
        while not self.stopping.is_set():
            for tp, records in self.consumer.poll(timeout_ms=200).items():
                now = time.time()
                for record in records:
                    # Only the one field, not the whole JSON: a report is tens of kilobytes, and
                    # the observer shares the two cores with what it measures.
                    found = INGESTED_AT.search(record.value or b"")
                    try:
                        ingested = datetime.fromisoformat(found[1].decode()).timestamp()
                    except (ValueError, TypeError):
                        continue
                    self.latencies[tp.topic].append((ingested, now))
        self.consumer.close()

    def window(self, topic: str, start: float, end: float) -> list[float]:
        return [seen - ing for ing, seen in self.latencies[topic] if start <= ing < end]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def infra_pids(run_dir: Path) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for name in ("kafka", "elasticsearch"):
        try:
            found[name] = process_tree(int((run_dir / name / f"{name}.pid").read_text()))
        except (OSError, ValueError):
            continue
    return found


def cpu_by_process(stack: Stack, services: list[str], run_dir: Path) -> dict[str, float]:
    """CPU seconds so far of each service and of the local Kafka and Elasticsearch."""
    used = {name: stack[name].cpu_seconds() for name in services}
    used["bench"] = time.process_time()  # this process: the producer and the observer
    for name, pids in infra_pids(run_dir).items():
        used[name] = sum(cpu_seconds(pid) for pid in pids)
    return used


def infra_rss_mb(run_dir: Path) -> float:
    pids = [pid for tree in infra_pids(run_dir).values() for pid in tree]
    return sum(rss_kb(pid) for pid in pids) / 1024


def drop_indices(es_url: str, prefix: str) -> None:
    """By concrete names: clusters may refuse wildcard deletes."""
    try:
        found = httpx.get(
            f"{es_url}/{prefix}*", params={"expand_wildcards": "all"}, timeout=30
        ).json()
        for name in found if isinstance(found, dict) else []:
            httpx.delete(f"{es_url}/{name}", timeout=30)
    except httpx.HTTPError:
        pass


def subscribe(settings: CommonSettings, namespace: str) -> None:
    """The alert benchmark's saved searches, a few on the conflict, and one catch-all."""
    from bench_alerts import make_subscriptions
    from elasticsearch import Elasticsearch

    from services.alerts.models import Channel, Mode, Subscription
    from services.alerts.settings import AlertsSettings
    from services.alerts.store import AlertStore

    prefix = AlertsSettings(namespace=namespace).index_prefix()
    store = AlertStore(Elasticsearch(settings.elasticsearch_url, request_timeout=60), prefix)
    kafka = Channel(kind="kafka")
    store.put_many(
        make_subscriptions(random.Random(6))
        + [
            Subscription(name="everything", query="", channel=kafka, mode=Mode.EVERY),
            Subscription(name="armenia", query="Armenia OR Yerevan", channel=kafka),
            Subscription(name="karabakh", query="Karabakh OR Karabağ", channel=kafka),
        ]
    )


def timed_bulk(es_url: str, index: str, bodies: Iterable[tuple[str, str]]) -> float:
    """Seconds for elasticsearch.helpers.bulk to index (url, body) pairs into a fresh `index`,
    refreshed; whatever the iterator does to produce them is inside the time."""
    from elasticsearch import Elasticsearch, helpers

    es = Elasticsearch(es_url, request_timeout=60)
    es.options(ignore_status=404).indices.delete(index=index)
    started = time.perf_counter()
    helpers.bulk(
        es,
        (
            {"_index": index, "_id": str(i), "_source": {"url": url, "body": body}}
            for i, (url, body) in enumerate(bodies)
        ),
        chunk_size=200,
        refresh="wait_for",
    )
    took = time.perf_counter() - started
    es.options(ignore_status=404).indices.delete(index=index)
    return took


def baseline(pages: list[tuple[str, str]], es_url: str, index: str, count: int) -> float:
    """Plain trafilatura + helpers.bulk over the same pages: docs/s, one process."""
    import trafilatura

    cycled = (pages[i % len(pages)] for i in range(count))
    bodies = ((url, trafilatura.extract(html) or "") for url, html in cycled)
    return count / timed_bulk(es_url, index, bodies)


def baseline_newsplease(pages: list[tuple[str, str]], es_url: str, index: str) -> float | None:
    """news-please + helpers.bulk over the same pages, one pass: docs/s (None: not installed).
    news-please runs in its own environment, so its extraction and the bulk are timed apart
    and added up, as one process doing both in turn would spend them."""
    import newsplease_baseline

    extracted = newsplease_baseline.extract([html for _, html in pages], rounds=1)
    if extracted is None:
        return None
    urls = [url for url, _ in pages]
    bulk_s = timed_bulk(es_url, index, zip(urls, extracted.texts, strict=True))
    return len(pages) / (len(pages) / extracted.pages_per_s + bulk_s)


def run(quick: bool = False) -> dict[str, float]:
    settings = CommonSettings()
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    topics = TopicNames.for_namespace(namespace)
    ensure_topics(settings.kafka_bootstrap_servers, topics)
    pages = load_pages(60 if quick else 181)
    rates = [25, 50] if quick else [25, 50, 75, 100, 150]
    step_s = 12 if quick else 25
    work = Path(tempfile.mkdtemp(prefix="cwatch-e2e-"))
    env = {
        **os.environ.copy(),
        "CWATCH_NAMESPACE": namespace,
        "CWATCH_DATA_DIR": str(work / "extractor"),
        "CWATCH_LOG_LEVEL": "WARNING",
        "CWATCH_API_PORT": "0",
    }
    services = ["indexer", "extractor"] + (
        ["alerts"] if (REPO / "services/alerts/app.py").exists() else []
    )
    if "alerts" in services:
        subscribe(settings, namespace)
    stack = Stack(work / "logs", env, services=services).start()
    observer = Observer(
        settings.kafka_bootstrap_servers, [topics.report, topics.indexed, topics.alert]
    )
    observer.start()
    producer = make_producer(settings.kafka_bootstrap_servers, client_id="bench-e2e")
    figures: dict[str, float] = {}
    sustained = 0.0
    serial = 0
    rss_samples: dict[str, list[float]] = {name: [] for name in services}
    infra_samples: list[float] = []
    try:
        # Warm-up: models load and consumer groups settle before anything is timed.
        for _ in range(20):
            serial += 1
            url, html = pages[serial % len(pages)]
            article = raw_article(url, html, serial)
            producer.send(
                topics.raw,
                key=article.article_id.encode(),
                value=article.model_dump_json().encode(),
            )
        producer.flush()
        wait_until(lambda: len(observer.latencies[topics.indexed]) >= 20, 180)
        for rate in rates:
            stack.check_alive()
            start = time.time()
            cpu_before = cpu_by_process(stack, services, REPO / ".run")
            sent = 0
            while time.time() - start < step_s:
                due = int((time.time() - start) * rate)
                while sent < due:
                    serial += 1
                    url, html = pages[serial % len(pages)]
                    article = raw_article(url, html, serial)
                    producer.send(
                        topics.raw,
                        key=article.article_id.encode(),
                        value=article.model_dump_json().encode(),
                    )
                    sent += 1
                time.sleep(0.01)
                if int(time.time() - start) % 5 == 0:
                    for name in services:
                        rss_samples[name].append(stack[name].rss_mb())
                    infra_samples.append(infra_rss_mb(REPO / ".run"))
            producer.flush()
            end = time.time()
            # Where the two cores went during the step (1.0 = one core busy all the time).
            cpu_after = cpu_by_process(stack, services, REPO / ".run")
            shares = {n: (cpu_after[n] - cpu_before.get(n, 0.0)) / (end - start) for n in cpu_after}
            for name, share in shares.items():
                figures[f"e2e_cpu_cores_{name}_at_{rate}"] = round(share, 3)
            print(
                f"  rate {rate}/s: cores "
                + ", ".join(f"{n} {v:.2f}" for n, v in shares.items())
                + f" (sum {sum(shares.values()):.2f})",
                file=sys.stderr,
                flush=True,
            )
            drained = wait_until(
                lambda s=start, e=end, n=sent: len(observer.window(topics.indexed, s, e)) >= n,
                10 + step_s,
            )
            searchable = observer.window(topics.indexed, start, end)
            extracted = observer.window(topics.report, start, end)
            x50, x99 = percentile(extracted, 0.5), percentile(extracted, 0.99)
            figures[f"e2e_extracted_p50_s_at_{rate}"] = x50
            figures[f"e2e_extracted_p99_s_at_{rate}"] = x99
            p50, p99 = percentile(searchable, 0.5), percentile(searchable, 0.99)
            print(
                f"  rate {rate}/s: extracted p50 {x50:.2f}s p99 {x99:.2f}s; sent {sent}, "
                f"searchable {len(searchable)}, p50 {p50:.2f}s p99 {p99:.2f}s",
                file=sys.stderr,
                flush=True,
            )
            figures[f"e2e_searchable_p99_s_at_{rate}"] = p99
            figures[f"e2e_searchable_p50_s_at_{rate}"] = p50
            if "alerts" in services:
                # The catch-all subscription alerts once per report: wait for all of them.
                wait_until(
                    lambda s=start, e=end, n=sent: len(observer.window(topics.alert, s, e)) >= n,
                    10,
                )
                alerted = observer.window(topics.alert, start, end)
                a50, a99 = percentile(alerted, 0.5), percentile(alerted, 0.99)
                figures[f"e2e_alert_p50_s_at_{rate}"] = a50
                figures[f"e2e_alert_p99_s_at_{rate}"] = a99
                print(
                    f"  rate {rate}/s: alerts {len(alerted)}, p50 {a50:.2f}s p99 {a99:.2f}s",
                    file=sys.stderr,
                    flush=True,
                )
            if drained and p99 < 5.0:
                sustained = float(rate)
            else:
                break
        figures["e2e_sustained_per_s"] = sustained
        # Burst: as fast as the pipeline goes, for a like-for-like ratio with the baseline.
        burst = 60 if quick else 300
        wait_until(lambda: False, 3)
        start = time.time()
        for _ in range(burst):
            serial += 1
            url, html = pages[serial % len(pages)]
            article = raw_article(url, html, serial)
            producer.send(
                topics.raw,
                key=article.article_id.encode(),
                value=article.model_dump_json().encode(),
            )
        producer.flush()
        if wait_until(
            lambda: len(observer.window(topics.indexed, start, time.time())) >= burst, 300
        ):
            last_seen = max(
                seen for ing, seen in observer.latencies[topics.indexed] if ing >= start
            )
            figures["e2e_burst_per_s"] = burst / (last_seen - start)
        # The latency targets are set at the target rate (50/s: "p99 under 2 s at that rate"),
        # not at the highest rate that still drained; every rate's figures are kept beside.
        at = TARGET_RATE if f"e2e_searchable_p99_s_at_{TARGET_RATE}" in figures else rates[0]
        figures["e2e_searchable_p50_s"] = figures.get(f"e2e_searchable_p50_s_at_{at}", float("nan"))
        figures["e2e_searchable_p99_s"] = figures.get(f"e2e_searchable_p99_s_at_{at}", float("nan"))
        if f"e2e_alert_p99_s_at_{at}" in figures:
            figures["e2e_alert_p50_s"] = figures[f"e2e_alert_p50_s_at_{at}"]
            figures["e2e_alert_p99_s"] = figures[f"e2e_alert_p99_s_at_{at}"]
        for name, samples in rss_samples.items():
            if samples:
                figures[f"rss_mb_{name}"] = max(samples)
        services_rss = sum(figures.get(f"rss_mb_{n}", 0.0) for n in services)
        figures["stack_rss_mb"] = services_rss + (max(infra_samples) if infra_samples else 0.0)
        for name in services:
            figures[f"cpu_s_{name}"] = stack[name].cpu_seconds()
    finally:
        observer.stopping.set()
        producer.close()
        stack.stop()
        delete_topics(settings.kafka_bootstrap_servers, [name for name, _ in topics.all()])
        drop_indices(settings.elasticsearch_url, f"{namespace}-")
    figures["baseline_e2e_burst_per_s"] = baseline(
        pages, settings.elasticsearch_url, f"{namespace}-baseline", 100 if quick else 400
    )
    other = baseline_newsplease(pages, settings.elasticsearch_url, f"{namespace}-baseline-np")
    if other is not None:
        figures["baseline_newsplease_e2e_burst_per_s"] = other
    figures["e2e_input_pages"] = float(len(pages))
    figures["e2e_median_rate_tested"] = float(statistics.median(rates))
    return figures


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
