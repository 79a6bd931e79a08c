"""Index and search benchmark against the real Kafka and Elasticsearch.

1. Throughput: N generated real-shaped reports (sentences of the real seed reports in
   ../shared/data/seeds mixed with built-in Russian, Armenian, Azerbaijani and English ones,
   real entity ids, events, figures, stories of ~3 versions) are produced to the report topic
   first; then one in-process Indexer (default settings) drains them. `index_docs_per_s` is
   N divided by the time from the first document becoming visible to the last.
2. Latency: reports with a fresh ingest time are produced at a steady 50/s; for each, the
   IndexedEvent's indexed_at (set after the refresh) minus ingested_at.
3. Search: a mix of user queries (cross-script words, phrases, prefixes, filters, facets,
   collapsing, time sort) through SearchService over the N reports, once the merges the bulk
   load started have finished (`search_settle_s`), after a warm-up.
N is 300,000 in full mode and 5,000 with --quick. Everything runs in its own namespace and
is deleted afterwards.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from elasticsearch import Elasticsearch  # noqa: E402

from devtools import factories  # noqa: E402
from schemas.common import Affiliation, SourceInfo  # noqa: E402
from schemas.indexed import IndexedEvent  # noqa: E402
from schemas.report import (  # noqa: E402
    EntityMention,
    EntityType,
    EventLabel,
    EventType,
    Figure,
    FigureKind,
    Report,
)
from services.common.fold import fold_text  # noqa: E402
from services.common.kafka import delete_topics, ensure_topics, make_producer  # noqa: E402
from services.indexer.app import Indexer  # noqa: E402
from services.indexer.settings import IndexerSettings  # noqa: E402
from services.query.params import SearchParams  # noqa: E402
from services.search.service import SearchService  # noqa: E402

SEEDS = REPO.parent / "shared" / "data" / "seeds"
BUILTIN = [
    "The ceasefire along the Lachin corridor held overnight, officials in Yerevan said.",
    "Azerbaijan's defence ministry reported shelling near the Tavush border.",
    "Prime Minister Nikol Pashinyan met President Ilham Aliyev in Brussels for peace talks.",
    "The European Union monitoring mission extended its patrols along the border.",
    "Two soldiers were killed and three wounded in an exchange of fire, the ministry said.",
    "Thousands of refugees from Nagorno-Karabakh arrived in Goris after the offensive.",
    "Пашинян заявил, что Армения заморозила участие в ОДКБ.",
    "Минобороны Азербайджана сообщило об обстреле позиций в Кельбаджарском районе.",
    "Лачинский коридор остается закрытым для гражданского транспорта.",
    "Փաշինյանը հայտարարեց, որ խաղաղության պայմանագիրը պատրաստ է ստորագրման։",
    "Ադրբեջանական զինուժը կրակ է բացել Տավուշի մարզի ուղղությամբ։",
    "Əliyev bildirib ki, sülh sazişi imzalanmağa hazırdır.",
    "Laçın dəhlizində vəziyyət sabitdir, Müdafiə Nazirliyi bildirir.",
    "Russia and Turkey discussed the situation in the South Caucasus in Moscow.",
    "The CSTO summit ended without a statement on Armenia's border.",
]
SOURCES = [
    SourceInfo(name="Azatutyun", country="AM", language="hy", affiliation=Affiliation.INDEPENDENT),
    SourceInfo(name="Armenpress", country="AM", language="hy", affiliation=Affiliation.STATE),
    SourceInfo(name="APA", country="AZ", language="az", affiliation=Affiliation.PRO_GOVERNMENT),
    SourceInfo(name="Trend", country="AZ", language="ru", affiliation=Affiliation.PRO_GOVERNMENT),
    SourceInfo(name="TASS", country="RU", language="ru", affiliation=Affiliation.STATE),
    SourceInfo(name="Reuters", country="GB", language="en", affiliation=Affiliation.WIRE),
    SourceInfo(name="OC Media", country="GE", language="en", affiliation=Affiliation.INDEPENDENT),
    SourceInfo(name="Anadolu", country="TR", language="tr", affiliation=Affiliation.STATE),
]
ENTITIES = [
    EntityMention(id="person:nikol-pashinyan", name="Nikol Pashinyan", type=EntityType.PERSON),
    EntityMention(id="person:ilham-aliyev", name="Ilham Aliyev", type=EntityType.PERSON),
    EntityMention(id="org:csto", name="CSTO", type=EntityType.ORGANIZATION),
    EntityMention(id="org:eu", name="European Union", type=EntityType.ORGANIZATION),
    EntityMention(
        id="place:lachin", name="Lachin", type=EntityType.PLACE, country="AZ", lat=39.64, lon=46.55
    ),
    EntityMention(
        id="place:tavush", name="Tavush", type=EntityType.PLACE, country="AM", lat=40.9, lon=45.1
    ),
    EntityMention(
        id="place:goris", name="Goris", type=EntityType.PLACE, country="AM", lat=39.51, lon=46.34
    ),
]
QUERIES = [
    SearchParams(q="Pashinyan"),
    SearchParams(q="Пашинян", sort="time"),
    SearchParams(q="ceasefire Lachin", languages=["en"], since="30d"),
    SearchParams(q='"peace talks"', collapse=True),
    SearchParams(q="shell*", event_types=["shelling_strike"]),
    SearchParams(q="Aliyev OR Əliyev", countries=["AZ"]),
    SearchParams(q="border -Tavush", relevant=True),
    SearchParams(entities=["place:lachin"], sort="time", facets=True),
    SearchParams(q="refugees", figure_kinds=["displaced"], since="60d"),
    SearchParams(affiliations=["state"], sort="time", collapse=True),
    SearchParams(q="CSTO", facets=True, interval="week"),
    SearchParams(q="Armenia Azerbaijan peace treaty", size=50),
]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def sentence_pool() -> list[tuple[str, str]]:
    """(sentence, folded sentence): folding once per sentence keeps generation fast."""
    sentences = list(BUILTIN)
    if SEEDS.is_dir():
        for path in sorted(SEEDS.glob("*.txt")):
            text = path.read_text(encoding="utf-8", errors="replace")
            sentences += [s.strip() for s in re.split(r"(?<=[.!?։])\s+", text) if len(s) > 40]
    return [(s, fold_text(s)) for s in sentences]


def generate(n: int, seed: int = 7, fresh: bool = False) -> Iterator[Report]:
    rng = random.Random(seed)
    pool = sentence_pool()
    now = datetime.now(UTC)
    events = list(EventType)
    for i in range(n):
        picked = rng.sample(pool, k=min(len(pool), rng.randint(4, 12)))
        headline, folded_head = picked[0]
        body = " ".join(s for s, _ in picked[1:])
        folded = folded_head + "\n" + " ".join(f for _, f in picked[1:])
        ingested = now if fresh else now - timedelta(minutes=rng.randint(0, 90 * 24 * 60))
        source = rng.choice(SOURCES)
        rid = hashlib.sha1(f"{seed}-{i}".encode()).hexdigest()[:20]
        figures = []
        if rng.random() < 0.2:
            kind = rng.choice(list(FigureKind))
            value = rng.randint(1, 500)
            figures.append(Figure(kind=kind, value=value, text=str(value), evidence=headline))
        yield factories.report(
            f"bench-{rid}",
            headline[:300],
            body,
            when=ingested,
            article_id=f"a-{rid}",
            url=f"https://example.org/{rid}",
            source=source,
            published=ingested - timedelta(minutes=rng.randint(1, 120)),
            extracted_at=ingested + timedelta(seconds=1),
            language=source.language or "en",
            language_confidence=0.9,
            entities=rng.sample(ENTITIES, k=rng.randint(0, 3)),
            events=[
                EventLabel(type=t, confidence=0.8, evidence=headline)
                for t in rng.sample(events, k=rng.randint(0, 2))
            ],
            figures=figures,
            relevance=round(rng.random(), 3),
            relevant=rng.random() < 0.8,
            content_hash=rid,
            story_id=f"story-{seed}-{i // 3}",
            folded_text=folded,
        )


def _produce(settings: IndexerSettings, reports: Iterator[Report]) -> int:
    """Produce every report and return how many the broker acknowledged. Records can expire in
    the producer's buffer when it outruns the broker, so each chunk is flushed and checked, and
    the benchmark waits for what was really sent."""
    producer = make_producer(
        settings.kafka_bootstrap_servers, client_id="bench-index", linger_ms=20
    )
    acked = failed = 0
    pending: list[Any] = []

    def settle() -> None:
        nonlocal acked, failed
        producer.flush()
        ok = sum(1 for future in pending if future.succeeded())
        acked, failed = acked + ok, failed + len(pending) - ok
        pending.clear()

    for report in reports:
        pending.append(
            producer.send(
                settings.topics.report,
                key=report.report_id.encode(),
                value=report.model_dump_json().encode(),
            )
        )
        if len(pending) >= 5_000:
            settle()
    settle()
    producer.close()
    print(
        f"  index: {acked:,} reports on the report topic ({failed:,} not acknowledged)",
        file=sys.stderr,
        flush=True,
    )
    return acked


def _count(es: Elasticsearch, alias: str) -> int:
    # 404 before the first index exists, 503 while its shards start
    return int(es.options(ignore_status=(404, 503)).count(index=alias).get("count", 0))


def _latency_phase(settings: IndexerSettings, seconds: float, rate: float) -> list[float]:
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    # Assigned, not subscribed: no group join to wait for.
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False
    )
    parts: set[int] = set()
    for _ in range(100):  # metadata may not be loaded on the first ask
        parts = consumer.partitions_for_topic(settings.topics.indexed) or set()
        if parts:
            break
        time.sleep(0.1)
    consumer.assign([TopicPartition(settings.topics.indexed, p) for p in parts])
    consumer.seek_to_end()
    for tp in consumer.assignment():
        consumer.position(tp)
    expected = int(seconds * rate)
    producer = make_producer(
        settings.kafka_bootstrap_servers, client_id="bench-latency", linger_ms=0
    )
    wanted: set[str] = set()

    def send() -> None:
        start = time.monotonic()
        for i, report in enumerate(generate(expected, seed=99, fresh=True)):
            target = start + i / rate
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            report.ingested_at = datetime.now(UTC)
            report.published = report.ingested_at
            wanted.add(report.report_id)
            producer.send(
                settings.topics.report,
                key=report.report_id.encode(),
                value=report.model_dump_json().encode(),
            )
        producer.flush()

    sender = threading.Thread(target=send)
    sender.start()
    latencies: dict[str, float] = {}
    deadline = time.monotonic() + seconds + 30
    while len(latencies) < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                event = IndexedEvent.model_validate_json(record.value)
                # `wanted` is filled before each send; events of the backlog are not in it
                if event.report_id in wanted and event.report_id not in latencies:
                    latencies[event.report_id] = (
                        event.indexed_at - event.ingested_at
                    ).total_seconds()
    sender.join()
    producer.close()
    consumer.close()
    return list(latencies.values())


DEFAULTS = SearchParams()


def _settle(es: Elasticsearch, alias: str, limit_s: float = 180.0) -> float:
    """Wait until Elasticsearch has finished merging the segments the bulk load left behind.
    Search latency is a figure of a settled index: on two cores, searches that overlap the
    merges after a 300,000-document load measure the merges."""
    started = time.monotonic()
    calm = 0
    while time.monotonic() - started < limit_s and calm < 3:
        stats = es.indices.stats(index=alias, metric="merge")
        merging = stats["_all"]["total"]["merges"]["current"]
        calm = calm + 1 if merging == 0 else 0
        time.sleep(1)
    waited = time.monotonic() - started
    print(f"  search: waited {waited:.0f} s for merges to finish", file=sys.stderr, flush=True)
    return waited


def _search_phase(es: Elasticsearch, alias: str, rounds: int) -> list[float]:
    service = SearchService(es, alias)
    for params in QUERIES:  # warm-up: caches and field data
        service.search(params)
    timings: list[float] = []
    per_query: list[list[float]] = [[] for _ in QUERIES]
    for _ in range(rounds):
        for i, params in enumerate(QUERIES):
            started = time.perf_counter()
            service.search(params)
            took = (time.perf_counter() - started) * 1000
            timings.append(took)
            per_query[i].append(took)
    # Which queries set the tail: the figure to look at before tuning anything.
    for params, took_ms in sorted(
        zip(QUERIES, per_query, strict=True), key=lambda p: -percentile(p[1], 0.99)
    ):
        shown = {k: v for k, v in vars(params).items() if v != getattr(DEFAULTS, k)}
        print(
            f"  search p50 {statistics.median(took_ms):6.1f} ms  p99 "
            f"{percentile(took_ms, 0.99):6.1f} ms  {shown}",
            file=sys.stderr,
        )
    return timings


def run(quick: bool = False, docs: int | None = None) -> dict[str, float]:
    n = docs or (5_000 if quick else 300_000)
    namespace = f"benchidx{uuid.uuid4().hex[:6]}"
    settings = IndexerSettings(namespace=namespace, metrics_port=0, log_json=False)
    es = Elasticsearch(settings.elasticsearch_url, request_timeout=60, max_retries=0)
    alias = settings.index_alias
    ensure_topics(settings.kafka_bootstrap_servers, settings.topics)
    indexer = Indexer(settings)
    thread = threading.Thread(target=indexer.run, daemon=True)
    try:
        n = _produce(settings, generate(n))
        thread.start()
        while _count(es, alias) == 0:
            time.sleep(0.05)
        first = time.monotonic()
        # A run that stops progressing for a minute reports what it reached.
        seen, last_progress, last_print = 0, time.monotonic(), 0.0
        while seen < n and time.monotonic() - last_progress < 60:
            time.sleep(0.2)
            now_seen = _count(es, alias)
            if now_seen > seen:
                seen, last_progress = now_seen, time.monotonic()
            if time.monotonic() - last_print > 10:
                last_print = time.monotonic()
                print(f"  index: {seen:,} / {n:,} searchable", file=sys.stderr, flush=True)
        took = time.monotonic() - first
        latencies = _latency_phase(settings, seconds=8 if quick else 30, rate=50)
        settle_s = _settle(es, alias)
        timings = _search_phase(es, alias, rounds=10 if quick else 40)
        return {
            "index_docs_per_s": round(seen / max(took, 1e-6), 1),
            "searchable_p50_s": round(percentile(latencies, 0.50), 3),
            "searchable_p95_s": round(percentile(latencies, 0.95), 3),
            "searchable_p99_s": round(percentile(latencies, 0.99), 3),
            "searchable_samples": float(len(latencies)),
            "search_p50_ms": round(statistics.median(timings), 2),
            "search_p99_ms": round(percentile(timings, 0.99), 2),
            "search_corpus_size": float(_count(es, alias)),
            "search_settle_s": round(settle_s, 1),
        }
    finally:
        indexer.stopping.set()
        if thread.is_alive():
            thread.join(timeout=30)
        elif thread.ident is None:
            indexer.close()
        # Concrete names: clusters refuse wildcard deletes (action.destructive_requires_name).
        quiet = es.options(ignore_status=404)
        names = list(quiet.indices.get(index=f"{alias}-*", expand_wildcards="all").body)
        for start in range(0, len(names), 50):
            quiet.indices.delete(index=",".join(names[start : start + 50]))
        for template in quiet.indices.get_index_template(name=f"{alias}-*").get(
            "index_templates", []
        ):
            quiet.indices.delete_index_template(name=template["name"])
        delete_topics(settings.kafka_bootstrap_servers, [name for name, _ in settings.topics.all()])
        es.close()


if __name__ == "__main__":
    from services.common.logs import setup_logging

    setup_logging("WARNING", json_logs=True)
    count = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--docs=")), None)
    print(json.dumps(run(quick="--quick" in sys.argv, docs=count), indent=2))
