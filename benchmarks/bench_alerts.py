"""Alert latency benchmark: 1,000 active subscriptions, a steady 50 reports/s.

Reports with a fresh `ingested_at` go to the report topic at a steady rate; an in-process
Indexer (default settings) makes them searchable and announces them on the indexed topic; an
in-process AlertsService (default settings, Kafka-only channels) matches each batch against
every subscription and produces alerts. Latency per alert = the alert record's Kafka timestamp
(when it was produced) minus the report's ingested_at. Also reported: the part after indexing
(alert produced - indexed_at) and how many matches a report had on average.

Subscriptions are saved searches: mostly narrow (a rare name, a pair of common words, a
phrase, a prefix; AND / OR / NOT), some with language, affiliation or relevance filters, and 2%
broad ones (an event type, any text); a report matches a few of them (alerts per report is
reported as `alert_alerts` / `alert_reports`). Full: 60 s of input; --quick: 15 s.
Everything runs in its own namespace and is deleted afterwards.
"""

from __future__ import annotations

import random
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from elasticsearch import Elasticsearch  # noqa: E402
from kafka import KafkaConsumer  # noqa: E402
from kafka.structs import TopicPartition  # noqa: E402

from devtools import factories  # noqa: E402
from devtools.cleanup import drop_namespace_indices  # noqa: E402
from schemas.alert import Alert  # noqa: E402
from schemas.common import Affiliation, SourceInfo  # noqa: E402
from schemas.indexed import IndexedEvent  # noqa: E402
from schemas.report import EventLabel, EventType, Report  # noqa: E402
from schemas.topics import TopicNames  # noqa: E402
from services.alerts.app import AlertsService  # noqa: E402
from services.alerts.models import Channel, Filters, Mode, Subscription  # noqa: E402
from services.alerts.settings import AlertsSettings  # noqa: E402
from services.common.kafka import delete_topics, ensure_topics, make_producer  # noqa: E402
from services.common.settings import CommonSettings  # noqa: E402
from services.indexer.app import Indexer  # noqa: E402
from services.indexer.settings import IndexerSettings  # noqa: E402

SUBSCRIPTIONS = 1000
RATE = 50.0
WORDS = (
    "yerevan baku stepanakert khankendi shusha lachin goris kapan tavush syunik nakhchivan "
    "ganja gyumri ijevan jermuk sotk kalbajar agdam fizuli jabrayil zangilan kubatly martuni "
    "askeran hadrut vardenis meghri agarak berdzor kornidzor tegh khoznavar vorotan "
    "pashinyan aliyev putin erdogan macron michel blinken lavrov bayramov mirzoyan "
    "ruben arayik samvel hikmet zakir tovuz gazakh sevan aragats ararat armavir kotayk "
    "ceasefire shelling drone artillery sniper clash treaty delimitation demarcation border "
    "corridor refugees evacuation hostages prisoners detainees mines casualties soldiers "
    "peacekeepers monitors mission sanctions recognition genocide tribunal hearing court "
    "negotiations summit statement protest rally election parliament referendum pipeline "
    "railway highway airport checkpoint bridge village outpost trench bunker convoy aid"
).split()
LANGS = ["en", "ru", "hy", "az", "tr"]
AFFILIATIONS = [a.value for a in Affiliation if a != Affiliation.UNKNOWN]
EVENTS = [e.value for e in EventType]


SYLLABLES = "ka ra zan ber tash gol vor dan mes lik ur han sev ar tin bog"
_S = SYLLABLES.split()
RARE = sorted({a + b + c + d for a in _S for b in _S for c in _S for d in ("ov", "ian")})


def make_subscriptions(rng: random.Random) -> list[Subscription]:
    """Mostly narrow saved searches (a name, place or pair of words), a few broad ones."""
    subs = []
    for i in range(SUBSCRIPTIONS):
        a, b, c = rng.sample(WORDS, 3)
        x, y = rng.sample(RARE, 2)
        roll = rng.random()
        filters = Filters()
        if roll < 0.02:  # broad: an event type, any text
            query, filters.event_types = "", rng.sample(EVENTS, 2)
        else:
            query = rng.choice(
                [x, f"{x} OR {y}", f"{x} -{c}", f"{a} AND {b}", f'"{a} {x}"', f"{x[:5]}*"]
            )
            if roll < 0.2:
                filters.languages = rng.sample(LANGS, 3)
            elif roll < 0.3:
                filters.affiliations = rng.sample(AFFILIATIONS, 4)
            elif roll < 0.4:
                filters.relevant = True
        mode = Mode.EVERY if i % 2 and roll >= 0.02 else Mode.PER_STORY
        subs.append(
            Subscription(
                name=f"bench {i}",
                query=query,
                filters=filters,
                channel=Channel(kind="kafka"),
                mode=mode,
            )
        )
    return subs


def make_report(rng: random.Random, n: int, run_id: str) -> Report:
    words = rng.sample(WORDS, 3)
    rare = rng.sample(RARE, 5)
    now = datetime.now(UTC)
    headline = " ".join(w.capitalize() for w in [words[0], rare[0], words[1]])
    body = (
        f"Officials said the situation near {rare[1]} and {words[2]} remained tense after "
        f"{rare[2]} and {rare[3]} were discussed; {rare[4]} was not mentioned again. " * 3
    )
    return factories.report(
        f"bench-{run_id}-{n:06d}",
        headline,
        body,
        when=now,
        article_id=f"art-{run_id}-{n:06d}",
        url=None,
        source=SourceInfo(
            name=rng.choice(["Azatutyun", "APA", "TASS", "Reuters", "Anadolu"]),
            country=rng.choice(["AM", "AZ", "RU", "GB", "TR"]),
            affiliation=rng.choice(list(Affiliation)),
        ),
        language=rng.choice(LANGS),
        events=[EventLabel(type=rng.choice(list(EventType)), confidence=0.8, evidence=headline)],
        relevance=0.8,
        relevant=rng.random() < 0.7,
        content_hash=f"h{n}",
        story_id=f"story-{run_id}-{n // 3}",  # three versions per story
    )


def _steady(
    producer: Any, topic: str, rng: random.Random, run_id: str, duration_s: float
) -> tuple[int, float]:
    """Produce reports at RATE per second for duration_s; (count, achieved rate)."""
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < duration_s:
        delay = started + n / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        report = make_report(rng, n, run_id)
        producer.send(topic, key=report.report_id.encode(), value=report.model_dump_json().encode())
        n += 1
    producer.flush()
    return n, n / (time.monotonic() - started)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(quick: bool = False) -> dict[str, float]:
    duration_s = 15.0 if quick else 60.0
    base = CommonSettings()
    ns = f"b{uuid.uuid4().hex[:8]}"
    topics = TopicNames.for_namespace(ns)
    ensure_topics(base.kafka_bootstrap_servers, topics)
    es = Elasticsearch(base.elasticsearch_url, request_timeout=60)
    common = {
        "namespace": ns,
        "kafka_bootstrap_servers": base.kafka_bootstrap_servers,
        "elasticsearch_url": base.elasticsearch_url,
    }
    indexer = Indexer(IndexerSettings(**common, indexer_group_id=f"{ns}-indexer"))
    alerts = AlertsService(AlertsSettings(**common, alerts_group_id=f"{ns}-alerts"))
    rng = random.Random(6)
    seen: list[tuple[float, float, float]] = []  # (produced, ingested, indexed) epoch seconds
    indexed_at: dict[str, float] = {}
    stop = threading.Event()

    def collect() -> None:
        consumer = KafkaConsumer(bootstrap_servers=base.kafka_bootstrap_servers, group_id=None)
        tps = [
            TopicPartition(t, p)
            for t in (topics.alert, topics.indexed)
            for p in sorted(consumer.partitions_for_topic(t) or [])
        ]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        while not stop.is_set():
            for tp, records in consumer.poll(timeout_ms=200).items():
                for r in records:
                    if tp.topic == topics.indexed:
                        ev = IndexedEvent.model_validate_json(r.value)
                        indexed_at[ev.report_id] = ev.indexed_at.timestamp()
                        continue
                    alert = Alert.model_validate_json(r.value)
                    if alert.ingested_at is None:
                        continue
                    first = min(indexed_at.get(i, float("nan")) for i in alert.report_ids)
                    seen.append((r.timestamp / 1000, alert.ingested_at.timestamp(), first))
        consumer.close()

    threads = []
    try:
        alerts.store.put_many(make_subscriptions(rng))
        threads = [
            threading.Thread(target=indexer.run, daemon=True),
            threading.Thread(target=alerts.run, daemon=True),
            threading.Thread(target=collect, daemon=True),
        ]
        for t in threads:
            t.start()
        producer = make_producer(
            base.kafka_bootstrap_servers, client_id="bench-alerts", linger_ms=0
        )
        run_id = uuid.uuid4().hex[:6]
        # Warm-up: first reports pay for index creation and connections; not measured.
        warm = [make_report(rng, n, "warm" + run_id) for n in range(20)]
        for report in warm:
            producer.send(
                topics.report,
                key=report.report_id.encode(),
                value=report.model_dump_json().encode(),
            )
        producer.flush()
        time.sleep(5)
        warm_alerts = len(seen)
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < duration_s:
            due = started + n / RATE
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            report = make_report(rng, n, run_id)
            producer.send(
                topics.report,
                key=report.report_id.encode(),
                value=report.model_dump_json().encode(),
            )
            n += 1
        producer.flush()
        sent_rate = n / (time.monotonic() - started)
        time.sleep(8)  # drain
        measured = seen[warm_alerts:]
        latencies = [p - i for p, i, _ in measured]
        after_index = [p - x for p, _, x in measured if x == x]
        return {
            "alert_p50_s": round(statistics.median(latencies), 3) if latencies else float("nan"),
            "alert_p99_s": round(_percentile(latencies, 0.99), 3),
            "alert_subscriptions": float(SUBSCRIPTIONS),
            "alert_input_per_s": round(sent_rate, 1),
            "alert_reports": float(n),
            "alert_alerts": float(len(measured)),
            "alert_after_index_p50_s": round(statistics.median(after_index), 3)
            if after_index
            else float("nan"),
            "alert_after_index_p99_s": round(_percentile(after_index, 0.99), 3),
        }
    finally:
        stop.set()
        indexer.stopping.set()
        alerts.stopping.set()
        for t in threads:
            t.join(timeout=30)
        try:
            delete_topics(base.kafka_bootstrap_servers, [name for name, _ in topics.all()])
        except Exception:
            pass
        drop_namespace_indices(es, ns)


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
