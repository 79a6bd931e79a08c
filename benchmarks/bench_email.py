"""Email alert latency: ingest -> the SMTP server received the email, at 50 reports/s with 1,000
email subscriptions (immediate).

The set-up of bench_alerts (the same saved searches, reports and steady rate; an in-process
Indexer and AlertsService with default settings) with every subscription on the email channel
and a real SMTP server (aiosmtpd) on loopback, in a process of its own as a relay would be
(smtp_sink.py). Each report's number is in its headline, hence in the email's subject; latency
per email = when the server accepted it minus the report's ingested_at (`email_after_alert_*`:
minus when its report's first alert was produced, the delivery's share). The emails owed are the
alerts the service produced (read back from the alert topic); the run waits for them (up to
DRAIN_MAX_S, or DRAIN_STALL_S without a new one), and `email_missing` says how many never came
(a p99 over fewer than all of them is a lower bound). Full: 60 s of input; --quick: 15 s.
`--subscriptions N` (run as a script) scales the subscriptions down for a smoke run.
"""

from __future__ import annotations

import random
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_alerts  # noqa: E402
from elasticsearch import Elasticsearch  # noqa: E402
from kafka import KafkaConsumer  # noqa: E402
from kafka.structs import TopicPartition  # noqa: E402

from devtools.cleanup import drop_namespace_indices  # noqa: E402
from schemas.alert import Alert  # noqa: E402
from schemas.topics import TopicNames  # noqa: E402
from services.alerts.app import AlertsService  # noqa: E402
from services.alerts.channelconfig import EmailConfig  # noqa: E402
from services.alerts.models import Channel, ChannelKind  # noqa: E402
from services.alerts.settings import AlertsSettings  # noqa: E402
from services.common.kafka import delete_topics, ensure_topics, make_producer  # noqa: E402
from services.common.settings import CommonSettings  # noqa: E402
from services.indexer.app import Indexer  # noqa: E402
from services.indexer.settings import IndexerSettings  # noqa: E402

NUMBER = re.compile(r"#(\d+)\b")
WARM = 1_000_000  # warm-up reports are numbered from here, and not measured
DRAIN_MAX_S = 180.0
DRAIN_STALL_S = 20.0


class Inbox:
    """(received, report number) of every email the sink process accepted."""

    def __init__(self) -> None:
        self.received: list[tuple[float, int]] = []
        self.lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "benchmarks" / "smtp_sink.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().split()
        if first[:1] != ["PORT"]:
            raise RuntimeError(f"the SMTP sink did not start: {first}")
        self.port = int(first[1])
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            at, number = line.split()
            with self.lock:
                self.received.append((float(at), int(number)))

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Owed:
    """Emails owed: the alerts of measured reports on the alert topic."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.count = 0
        self.produced: dict[int, float] = {}  # report number -> its first alert's produce time
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(bootstrap, topic), daemon=True)
        self.thread.start()

    def _read(self, bootstrap: str, topic: str) -> None:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        while not self.stopping.is_set():
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    found = NUMBER.search(Alert.model_validate_json(record.value).headline)
                    if found and int(found.group(1)) < WARM:
                        self.count += 1
                        number, at = int(found.group(1)), record.timestamp / 1000
                        self.produced[number] = min(at, self.produced.get(number, at))
        consumer.close()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(quick: bool = False, subscriptions: int = bench_alerts.SUBSCRIPTIONS) -> dict[str, float]:
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
    inbox = Inbox()
    port = inbox.port
    owed = Owed(base.kafka_bootstrap_servers, topics.alert)
    indexer = Indexer(IndexerSettings(**common, indexer_group_id=f"{ns}-indexer"))
    alerts = AlertsService(
        AlertsSettings(
            **common,
            alerts_group_id=f"{ns}-alerts",
            alerts_smtp_host="127.0.0.1",
            alerts_smtp_port=port,
            alerts_smtp_security="none",
        )
    )
    rng = random.Random(6)
    threads: list[threading.Thread] = []
    sent_at: dict[int, float] = {}
    try:
        subs = bench_alerts.make_subscriptions(rng)[:subscriptions]
        for sub in subs:
            sub.channel = Channel(
                kind=ChannelKind.EMAIL, email=EmailConfig(to=["bench@example.org"])
            )
        alerts.store.put_many(subs)
        threads = [
            threading.Thread(target=indexer.run, daemon=True),
            threading.Thread(target=alerts.run, daemon=True),
        ]
        for t in threads:
            t.start()
        producer = make_producer(base.kafka_bootstrap_servers, client_id="bench-email", linger_ms=0)

        def send(n: int, run_id: str) -> None:
            report = bench_alerts.make_report(rng, n, run_id)
            report.headline += f" #{n}"
            sent_at[n] = report.ingested_at.timestamp()
            producer.send(
                topics.report,
                key=report.report_id.encode(),
                value=report.model_dump_json().encode(),
            )

        # Warm-up (index creation, connections), numbered apart and not measured.
        for n in range(20):
            send(WARM + n, "warm" + uuid.uuid4().hex[:6])
        producer.flush()
        time.sleep(5)
        run_id = uuid.uuid4().hex[:6]
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < duration_s:
            delay = started + n / bench_alerts.RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            send(n, run_id)
            n += 1
        producer.flush()
        sent_rate = n / (time.monotonic() - started)
        # Drain: until every owed email came, or none came for DRAIN_STALL_S.
        drained = time.monotonic()
        last, last_change = -1, drained
        while time.monotonic() - drained < DRAIN_MAX_S:
            time.sleep(1)
            got = inbox.count()
            if got != last:
                last, last_change = got, time.monotonic()
            with inbox.lock:
                measured = sum(1 for _, k in inbox.received if k < WARM)
            if measured >= owed.count > 0 or time.monotonic() - last_change > DRAIN_STALL_S:
                break
        with inbox.lock:
            received = [(at, k) for at, k in inbox.received if k < WARM]
        latencies = [at - sent_at[k] for at, k in received if k in sent_at]
        # The part after the alert was produced: delivery (lanes, SMTP), not matching.
        after_alert = [at - owed.produced[k] for at, k in received if k in owed.produced]
        return {
            "email_alert_p50_s": round(statistics.median(latencies), 3)
            if latencies
            else float("nan"),
            "email_alert_p99_s": round(_percentile(latencies, 0.99), 3),
            "email_after_alert_p50_s": round(statistics.median(after_alert), 3)
            if after_alert
            else float("nan"),
            "email_after_alert_p99_s": round(_percentile(after_alert, 0.99), 3),
            "email_subscriptions": float(len(subs)),
            "email_input_per_s": round(sent_rate, 1),
            "email_reports": float(n),
            "email_received": float(len(latencies)),
            "email_missing": float(max(0, owed.count - len(latencies))),
        }
    finally:
        indexer.stopping.set()
        alerts.stopping.set()
        for t in threads:
            t.join(timeout=30)
        owed.stopping.set()
        inbox.stop()
        try:
            delete_topics(base.kafka_bootstrap_servers, [name for name, _ in topics.all()])
        except Exception:
            pass
        drop_namespace_indices(es, ns)


if __name__ == "__main__":
    import json

    count = bench_alerts.SUBSCRIPTIONS
    if "--subscriptions" in sys.argv:
        count = int(sys.argv[sys.argv.index("--subscriptions") + 1])
    print(json.dumps(run(quick="--quick" in sys.argv, subscriptions=count), indent=2))
