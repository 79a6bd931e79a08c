"""Recovery benchmark: how long after a kill -9 and a restart do reports flow again?

The extractor, indexer and alerts run as processes on the real Kafka and Elasticsearch, fed a
steady stream of plain-text articles, with one subscription that alerts on every report. Each
service in turn is killed with SIGKILL mid-stream and started again at once, three times; its
recovery is the time from the restart to the first record it writes to its output topic
(extractor: report, indexer: indexed, alerts: alert), read from the records' own timestamps, so
the observer's polling does not count. `recovery_<service>_s` is the median of the rounds. Then
the whole stack is stopped cleanly (SIGTERM) and started again: `recovery_clean_restart_s` is
the time from that start until every stage has written again. The time includes the process start (imports,
language models, gazetteer: most of the extractor's figure).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_e2e import drop_indices  # noqa: E402  (benchmarks/ is on the path)

from devtools.factories import raw_article  # noqa: E402
from devtools.supervisor import Stack, wait_until  # noqa: E402
from schemas.common import SourceInfo  # noqa: E402
from schemas.raw import RawArticle  # noqa: E402
from schemas.topics import TopicNames  # noqa: E402
from services.common.kafka import delete_topics, ensure_topics, make_producer  # noqa: E402
from services.common.settings import CommonSettings  # noqa: E402

RATE = 10  # articles/s: a steady trickle, far below what the stack sustains
OUTPUT = {"extractor": "report", "indexer": "indexed", "alerts": "alert"}
PLACES = ["Lachin", "Stepanakert", "Tavush", "Syunik", "Gazakh", "Shusha", "Goris", "Jermuk"]


def article(serial: int, tag: str) -> RawArticle:
    place = PLACES[serial % len(PLACES)]
    return raw_article(
        tag,
        serial,
        site="recovery.example",
        source=SourceInfo(name="Recovery Wire", country="AM", language="en"),
        title=f"Shooting reported near {place} ({serial})",
        text=(
            f"Armenia's defence ministry said Azerbaijani forces opened fire near {place} on the "
            f"border overnight, and {serial % 7 + 1} soldiers were wounded. Baku denied the "
            f"claim and accused Yerevan of provocation. Report {tag} {serial}."
        ),
    )


class Feeder(threading.Thread):
    """Produces RATE articles a second until stopped."""

    def __init__(self, bootstrap: str, topic: str, tag: str) -> None:
        super().__init__(daemon=True)
        self.producer = make_producer(bootstrap, client_id="bench-recovery")
        self.topic, self.tag = topic, tag
        self.stopping = threading.Event()

    def run(self) -> None:
        serial = 0
        started = time.monotonic()
        while not self.stopping.is_set():
            while serial < (time.monotonic() - started) * RATE:
                item = article(serial, self.tag)
                self.producer.send(
                    self.topic, key=item.article_id.encode(), value=item.model_dump_json().encode()
                )
                serial += 1
            time.sleep(0.02)
        self.producer.flush(30)
        self.producer.close()


class Observer(threading.Thread):
    """The write time (record timestamp, s) of every record on the watched topics; no group."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        super().__init__(daemon=True)
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
        )
        parts = [
            TopicPartition(t, p)
            for t in topics
            for p in self.consumer.partitions_for_topic(t) or ()
        ]
        self.consumer.assign(parts)
        self.consumer.seek_to_beginning(*parts)
        self.written: dict[str, list[float]] = {t: [] for t in topics}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for tp, records in self.consumer.poll(timeout_ms=200).items():
                with self.lock:
                    self.written[tp.topic].extend(r.timestamp / 1000 for r in records)
        self.consumer.close()

    def first_after(self, topic: str, moment: float) -> float | None:
        with self.lock:
            later = [t for t in self.written[topic] if t > moment]
        return min(later) if later else None


def subscribe_everything(settings: CommonSettings, namespace: str) -> None:
    from elasticsearch import Elasticsearch

    from services.alerts.models import Channel, Mode, Subscription
    from services.alerts.settings import AlertsSettings
    from services.alerts.store import AlertStore

    store = AlertStore(
        Elasticsearch(settings.elasticsearch_url, request_timeout=60),
        AlertsSettings(namespace=namespace).index_prefix(),
    )
    store.ensure()
    store.put_many(
        [Subscription(name="everything", query="", channel=Channel(kind="kafka"), mode=Mode.EVERY)]
    )


def internal_topics(namespace: str) -> list[str]:
    """faust's changelog and assignor topics of the namespace's extractor."""
    consumer = KafkaConsumer(bootstrap_servers=CommonSettings().kafka_bootstrap_servers)
    try:
        return [t for t in consumer.topics() if t.startswith(f"{namespace}-")]
    finally:
        consumer.close()


def flowing_again(observer: Observer, topic: str, after: float, timeout_s: float) -> float | None:
    """Write time of the first record on `topic` after `after`, waiting up to `timeout_s`."""
    found: list[float] = []

    def seen() -> bool:
        first = observer.first_after(topic, after)
        if first is not None:
            found.append(first)
        return first is not None

    wait_until(seen, timeout_s, interval_s=0.1)
    return found[0] if found else None


def run(quick: bool = False) -> dict[str, float]:
    settings = CommonSettings()
    bootstrap = settings.kafka_bootstrap_servers
    namespace = f"rec{uuid.uuid4().hex[:6]}"
    topics = TopicNames.for_namespace(namespace)
    ensure_topics(bootstrap, topics)
    rounds = 1 if quick else 3
    work = Path(tempfile.mkdtemp(prefix="cwatch-recovery-"))
    env = {
        **os.environ.copy(),
        "CWATCH_NAMESPACE": namespace,
        "CWATCH_DATA_DIR": str(work / "extractor"),
        "CWATCH_LOG_LEVEL": "WARNING",
        "CWATCH_ALERTS_SUBSCRIPTION_REFRESH_S": "0.5",
    }
    subscribe_everything(settings, namespace)
    stack = Stack(work / "logs", env, services=["indexer", "extractor", "alerts"]).start()
    observer = Observer(bootstrap, [topics.report, topics.indexed, topics.alert])
    observer.start()
    feeder = Feeder(bootstrap, topics.raw, namespace)
    feeder.start()
    figures: dict[str, float] = {}
    try:
        if flowing_again(observer, topics.alert, 0.0, 240) is None:
            raise RuntimeError("no alert within 240 s of the start:\n" + stack["alerts"].log_tail())
        for name, output in OUTPUT.items():
            topic = getattr(topics, output)
            taken: list[float] = []
            for n in range(rounds):
                time.sleep(3)  # steady flow again before the next kill
                stack.check_alive()
                stack[name].kill()
                killed = time.time()
                stack[name].start()
                started = time.time()
                first = flowing_again(observer, topic, killed, 180)
                if first is None:
                    raise RuntimeError(f"{name}: nothing on {topic} 180 s after its restart")
                taken.append(first - started)
                print(
                    f"  {name} round {n + 1}: {output} again {first - started:.1f}s after the "
                    f"restart",
                    file=sys.stderr,
                    flush=True,
                )
            figures[f"recovery_{name}_s"] = round(statistics.median(taken), 2)
            figures[f"recovery_{name}_max_s"] = round(max(taken), 2)
        clean: list[float] = []
        for n in range(rounds):
            time.sleep(3)
            stack.stop()
            stopped = time.time()
            stack.start()
            started = time.time()
            # Every stage writes again: the last of their first records after the start.
            firsts = [
                flowing_again(observer, getattr(topics, output), stopped, 180)
                for output in OUTPUT.values()
            ]
            if any(first is None for first in firsts):
                raise RuntimeError(f"a stage is silent 180 s after a clean restart: {firsts}")
            last = max(first for first in firsts if first is not None)
            clean.append(last - started)
            print(
                f"  clean restart round {n + 1}: every stage writes again {last - started:.1f}s "
                "after the start",
                file=sys.stderr,
                flush=True,
            )
        figures["recovery_clean_restart_s"] = round(statistics.median(clean), 2)
    finally:
        feeder.stopping.set()
        feeder.join(30)
        observer.stopping.set()
        stack.stop()
        delete_topics(bootstrap, [name for name, _ in topics.all()] + internal_topics(namespace))
        drop_indices(settings.elasticsearch_url, f"{namespace}-")
    return figures


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
