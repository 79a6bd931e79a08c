"""raw -> report through the real Kafka with the faust worker running; state survives a restart."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from schemas.common import SourceInfo
from schemas.deadletter import DeadLetter, Stage
from schemas.raw import RawArticle
from schemas.report import Report
from schemas.topics import TopicNames
from services.extractor.dlq_cap import EXIT_TOO_MANY_DEAD_LETTERS

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

pytestmark = pytest.mark.integration


class Worker:
    """`cwatch extractor run` in a subprocess, for one namespace."""

    def __init__(self, bootstrap: str, namespace: str, data_dir: Path, log: Path) -> None:
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "CWATCH_NAMESPACE": namespace,
            "CWATCH_DATA_DIR": str(data_dir),
            "CWATCH_LOG_LEVEL": "WARNING",
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "extractor", "run"],
            cwd=REPO,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def worker(
    kafka_bootstrap: str, namespace: str, topics: TopicNames, tmp_path: Path
) -> Iterator[Worker]:
    w = Worker(kafka_bootstrap, namespace, tmp_path / "faust", tmp_path / "worker.log")
    yield w
    w.stop()
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        internal = [t for t in admin.list_topics() if t.startswith(f"{namespace}-")]
        if internal:
            admin.delete_topics(internal)
    except Exception:  # cleanup must not turn a passing test red
        pass
    finally:
        admin.close()


def _raw(article_id: str, text: str) -> bytes:
    raw = RawArticle(
        article_id=article_id,
        source=SourceInfo(name="test"),
        text=text,
        published=datetime(2022, 9, 14, 12, tzinfo=UTC),
        ingested_at=datetime.now(UTC),
    )
    return raw.model_dump_json().encode("utf-8")


class Reader:
    """Follows a topic from the beginning and collects every record."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self.values: list[bytes] = []

    def until(self, count: int, timeout_s: float, worker: Worker) -> list[bytes]:
        deadline = time.monotonic() + timeout_s
        while len(self.values) < count and time.monotonic() < deadline:
            for records in self.consumer.poll(timeout_ms=500).values():
                self.values.extend(r.value for r in records)
            if worker.proc is not None and worker.proc.poll() is not None:
                pytest.fail(f"worker exited: {worker.log.read_text(errors='replace')[-3000:]}")
        if len(self.values) < count:
            pytest.fail(
                f"got {len(self.values)} of {count} records; worker log:\n"
                + worker.log.read_text(errors="replace")[-3000:]
            )
        return self.values

    def report(self, report_id: str, timeout_s: float, worker: Worker) -> Report:
        """The first report with that id, read from the start of the topic."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        while True:
            for value in self.values[seen:]:
                found = Report.model_validate_json(value)
                if found.report_id == report_id:
                    return found
            seen = len(self.values)
            if time.monotonic() > deadline:
                pytest.fail(
                    f"no report {report_id} in {timeout_s}s; worker log:\n"
                    + worker.log.read_text(errors="replace")[-3000:]
                )
            for records in self.consumer.poll(timeout_ms=500).values():
                self.values.extend(r.value for r in records)
            if worker.proc is not None and worker.proc.poll() is not None:
                pytest.fail(f"worker exited: {worker.log.read_text(errors='replace')[-3000:]}")

    def close(self) -> None:
        self.consumer.close()


def test_worker_extracts_dead_letters_bad_input_and_remembers_duplicates_after_restart(
    kafka_bootstrap: str, topics: TopicNames, worker: Worker
) -> None:
    text = (FIXTURES / "en_clash.txt").read_text(encoding="utf-8")
    other = (FIXTURES / "ru_ceasefire.txt").read_text(encoding="utf-8")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    reports = Reader(kafka_bootstrap, topics.report)
    dead = Reader(kafka_bootstrap, topics.deadletter)
    try:
        worker.start()
        producer.send(topics.raw, key=b"art-00000001", value=_raw("art-00000001", text))
        producer.send(topics.raw, key=b"broken", value=b"{not json")
        producer.send(topics.raw, key=b"art-00000002", value=_raw("art-00000002", other))
        producer.flush()

        first = [Report.model_validate_json(v) for v in reports.until(2, 120, worker)]
        by_id = {r.report_id: r for r in first}
        assert set(by_id) == {"art-00000001", "art-00000002"}
        original = by_id["art-00000001"]
        assert original.duplicate_of is None
        assert "person:nikol-pashinyan" in {e.id for e in original.entities}
        assert by_id["art-00000002"].language == "ru"

        letter = DeadLetter.model_validate_json(dead.until(1, 60, worker)[0])
        assert letter.stage is Stage.EXTRACT
        assert letter.payload() == b"{not json"
        assert letter.original_topic == topics.raw

        worker.stop()
        worker.start()
        producer.send(topics.raw, key=b"art-00000003", value=_raw("art-00000003", text))
        producer.flush()
        # Wait for that report, not for a third record: a worker that did not commit before it
        # stopped re-reads its last messages (at least once), and their reports come first.
        copy = reports.report("art-00000003", 120, worker)
        assert copy.duplicate_of == "art-00000001"
        assert copy.story_id == original.story_id
    finally:
        producer.close()
        reports.close()
        dead.close()


def test_a_burst_of_articles_is_extracted_without_a_warning_per_message(
    kafka_bootstrap: str, topics: TopicNames, worker: Worker
) -> None:
    """A backlog used to fill faust's producer buffer with table writes (the agent never let the
    event loop send them), and faust warned "producer buffer full" and stalled per message."""
    count = 400
    text = (FIXTURES / "en_clash.txt").read_text(encoding="utf-8")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=20)
    for i in range(count):  # all queued before the worker starts: one backlog, as after an outage
        article_id = f"burst-{i:05d}"
        producer.send(topics.raw, key=article_id.encode(), value=_raw(article_id, f"{i} {text}"))
    producer.flush()
    producer.close()
    worker.env["CWATCH_LOG_LEVEL"] = "INFO"
    reports = Reader(kafka_bootstrap, topics.report)
    try:
        worker.start()
        reports.until(count, 300, worker)
    finally:
        reports.close()
    worker.stop()
    log = worker.log.read_text(errors="replace")
    assert "producer buffer full" not in log
    assert "producer flush took" not in log


def test_worker_dead_letters_a_message_over_its_time_budget_once_and_goes_on(
    kafka_bootstrap: str, topics: TopicNames, worker: Worker
) -> None:
    # A budget no extraction can meet: the timer has to interrupt inside the faust agent.
    worker.env["CWATCH_EXTRACT_TIMEOUT_S"] = "0.001"
    text = (FIXTURES / "en_clash.txt").read_text(encoding="utf-8")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    dead = Reader(kafka_bootstrap, topics.deadletter)
    try:
        worker.start()
        for n in (1, 2):
            key = f"slow-0000000{n}"
            producer.send(topics.raw, key=key.encode(), value=_raw(key, text))
        producer.flush()
        letters = [DeadLetter.model_validate_json(v) for v in dead.until(2, 120, worker)]
        assert {letter.error_type for letter in letters} == {"extract_timeout"}
        assert sorted(letter.original_key or "" for letter in letters) == [
            "slow-00000001",
            "slow-00000002",
        ]
        time.sleep(3)  # the same messages are not taken again
        for records in dead.consumer.poll(timeout_ms=1000).values():
            dead.values.extend(r.value for r in records)
        assert len(dead.values) == 2
        assert worker.proc is not None and worker.proc.poll() is None
    finally:
        producer.close()
        dead.close()


def test_a_flood_of_invalid_messages_stops_the_worker_uncommitted_and_nothing_is_lost(
    kafka_bootstrap: str, topics: TopicNames, namespace: str, worker: Worker
) -> None:
    """CWATCH_EXTRACTOR_DLQ_MAX_RATIO: nine raw messages in ten are not JSON (a changed
    contract, say). The worker exits 70 at the message that broke the cap without committing
    it; restarted with the cap off, it reads that message and every later one again."""
    text = (FIXTURES / "en_clash.txt").read_text(encoding="utf-8")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    where: dict[str, tuple[int, int]] = {}  # key -> (partition, offset)
    for i in range(150):
        key = f"flood-{i:04d}"
        value = _raw(key, f"{i} {text}") if i % 10 == 0 else b"{not json"
        sent = producer.send(topics.raw, key=key.encode(), value=value).get(timeout=30)
        where[key] = (sent.partition, sent.offset)
    producer.close()
    valid = {key for key in where if int(key[-4:]) % 10 == 0}
    invalid = set(where) - valid

    worker.env["CWATCH_EXTRACTOR_DLQ_MAX_RATIO"] = "0.5"
    worker.start()
    assert worker.proc is not None
    try:
        code = worker.proc.wait(timeout=360)  # models load first: slow on a loaded machine
    except subprocess.TimeoutExpired:
        pytest.fail("the worker did not stop: " + worker.log.read_text(errors="replace")[-3000:])
    log = worker.log.read_text(errors="replace")
    assert code == EXIT_TOO_MANY_DEAD_LETTERS == 70, log[-3000:]
    stopped = re.search(r"uncommitted at \S+ partition (\d+) offset (\d+): (.*of the last.*)", log)
    assert stopped is not None, log[-3000:]
    at = (int(stopped.group(1)), int(stopped.group(2)))
    assert "at most 50%" in stopped.group(3)

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        group = f"{namespace}-cwatch-extractor"
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    committed = {
        tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topics.raw
    }
    assert committed.get(at[0], 0) <= at[1]  # the message that broke the cap: not committed
    letters = _drain(kafka_bootstrap, topics.deadletter)
    lettered = {DeadLetter.model_validate_json(v).original_key for v in letters}
    below_commit = {k for k, (p, o) in where.items() if o < committed.get(p, 0)}
    assert below_commit & invalid <= lettered  # nothing committed that was not processed
    breaker = next(key for key, place in where.items() if place == at)
    assert breaker in invalid and breaker not in lettered
    assert len(lettered) < len(invalid)

    worker.env["CWATCH_EXTRACTOR_DLQ_MAX_RATIO"] = "0"
    worker.start()
    dead = Reader(kafka_bootstrap, topics.deadletter)
    reports = Reader(kafka_bootstrap, topics.report)
    try:
        deadline = time.monotonic() + 360
        while time.monotonic() < deadline:
            done = {DeadLetter.model_validate_json(v).original_key for v in dead.values}
            reported = {Report.model_validate_json(v).report_id for v in reports.values}
            if invalid <= done and valid <= reported:
                break
            for reader in (dead, reports):
                for records in reader.consumer.poll(timeout_ms=500).values():
                    reader.values.extend(r.value for r in records)
            assert worker.proc is not None and worker.proc.poll() is None, log
        assert invalid - done == set(), worker.log.read_text(errors="replace")[-3000:]
        assert valid - reported == set(), worker.log.read_text(errors="replace")[-3000:]
    finally:
        dead.close()
        reports.close()


def _drain(bootstrap: str, topic: str) -> list[bytes]:
    """Every record of the topic now (its writer is gone)."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
        enable_auto_commit=False, consumer_timeout_ms=3000,
    )  # fmt: skip
    try:
        return [record.value for record in consumer]
    finally:
        consumer.close()
