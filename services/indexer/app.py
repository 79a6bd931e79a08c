"""The indexer service: report topic -> bulk into Elasticsearch -> indexed topic.

Delivery is at-least-once and idempotent: the document `_id` is the report id (op_type index,
so a replay overwrites), offsets are committed only after every item of the batch was
acknowledged by Elasticsearch (or dead-lettered), refreshed, and announced on the indexed topic.
While Elasticsearch is unreachable the consumer keeps polling (to stay in its group) with every
partition paused, holding only the one batch in flight, and resumes when a retry succeeds.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition
from pydantic import ValidationError

from schemas.deadletter import DeadLetter, Stage
from schemas.indexed import IndexedEvent
from schemas.report import Report
from schemas.topics import key_for
from services.common.dlq import DeadLetterFailed, DeadLetterSink, DlqLimit, TooManyDeadLetters
from services.common.es import make_es
from services.common.kafka import (
    commit_offsets,
    headers,
    make_consumer,
    make_producer,
    poll_records,
)
from services.common.membership import instance_id, release
from services.indexer import metrics
from services.indexer.bulk import (
    Action,
    Batch,
    Batcher,
    BatchLimits,
    Outcome,
    backoff_delay,
    bulk_body,
    index_batch,
)
from services.indexer.documents import document_json, index_for
from services.indexer.migrate import ensure_ready
from services.indexer.settings import IndexerSettings
from services.indexer.storyroots import follow_merges

log = logging.getLogger(__name__)
COMMIT_RETRY_S = 1.0  # how often offsets owed during a broker outage are offered again
BULK_FILTER = "items.*.status,items.*.error"
_INDEXED = {o: metrics.DOCS_INDEXED.labels(outcome=o.value) for o in (Outcome.OK, Outcome.REPLAY)}


@dataclass
class Source:
    """Where an action came from: enough to commit its offset and dead-letter it."""

    tp: TopicPartition
    offset: int
    key: bytes | None
    value: bytes
    report: Report | None = None

    @property
    def topic(self) -> str:
        return self.tp.topic

    @property
    def partition(self) -> int:
        return self.tp.partition


class Indexer:
    def __init__(
        self,
        settings: IndexerSettings,
        es: Elasticsearch | None = None,
        consumer: KafkaConsumer | None = None,
        producer: KafkaProducer | None = None,
    ) -> None:
        self.settings = settings
        self.topics = settings.topics
        self.alias = settings.index_alias
        self.es = es or make_es(settings)
        self._instance = (
            None if consumer else instance_id(settings.indexer_group_id, settings.group_instance_id)
        )
        self.consumer = consumer or make_consumer(
            settings.kafka_bootstrap_servers,
            settings.indexer_group_id,
            [self.topics.report],
            client_id="cwatch-indexer",
            max_poll_records=settings.indexer_batch_max_docs,
            session_timeout_ms=settings.indexer_session_timeout_ms,
            heartbeat_interval_ms=max(1000, settings.indexer_session_timeout_ms // 4),
            # A restarted indexer takes its dead predecessor's partitions back at once.
            group_instance_id=self._instance,
        )
        self.producer = producer or make_producer(
            settings.kafka_bootstrap_servers, client_id="cwatch-indexer"
        )
        self.dlq = DeadLetterSink(
            self.producer,
            self.topics.deadletter,
            DlqLimit(max_ratio=settings.indexer_dlq_max_ratio or None),
        )
        self.batcher = Batcher(
            BatchLimits(
                max_docs=settings.indexer_batch_max_docs,
                max_bytes=settings.indexer_batch_max_bytes,
                max_wait_s=settings.indexer_batch_max_wait_ms / 1000,
            )
        )
        self.stopping = threading.Event()
        self._held: Batch | None = None  # a batch ES has not fully taken yet
        self._inflight: tuple[Batch, Future[None]] | None = None  # on the sender thread
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cwatch-bulk")
        self._held_attempts = 0
        self._rng = random.Random()
        self._last_lag = 0.0
        self._owed: dict[TopicPartition, int] = {}  # acknowledged by ES, not yet committed
        self._last_commit_try = 0.0
        self._event_headers: dict[str, list[tuple[str, bytes]]] = {}  # per source name

    # ---- Kafka side -------------------------------------------------------------------------

    def _parse(self, record: Any) -> Source:
        tp = TopicPartition(record.topic, record.partition)
        src = Source(tp=tp, offset=record.offset, key=record.key, value=record.value or b"")
        self.dlq.seen()
        try:
            src.report = Report.model_validate_json(src.value)
        except ValidationError as exc:
            self._dead_letter(src, f"invalid report: {exc}"[:4000], "invalid_report")
        return src

    def _dead_letter(self, src: Source, reason: str, error_type: str) -> None:
        self.dlq.send(DeadLetter.from_record(Stage.INDEX, reason, src, error_type=error_type))
        metrics.DEAD_LETTERED.labels(error_type=error_type).inc()

    def _action(self, src: Source) -> Action | None:
        if src.report is None:
            return None
        report = src.report
        now = datetime.now(UTC)  # one instant for the index month and the document's date
        try:
            return Action(
                doc_id=report.report_id,
                index=index_for(
                    report, self.alias, date_min=self.settings.indexer_date_min, now=now
                ),
                source_json=document_json(
                    report,
                    now,
                    self.settings.indexer_event_confidence,
                    date_min=self.settings.indexer_date_min,
                ),
                context=src,
                version=report.version,
            )
        except Exception as exc:  # a report we cannot turn into a document must not stop us
            self._dead_letter(src, f"cannot build document: {exc!r}", "document_build")
            return None

    def _commit(self, batch: Batch) -> None:
        for src in batch.contexts:
            self._owed[src.tp] = max(self._owed.get(src.tp, 0), src.offset + 1)
        self._commit_owed()

    def _commit_owed(self) -> None:
        """Commit what Elasticsearch has acknowledged. While the broker is away the offsets are
        kept and retried; should we die first, the re-read overwrites the same ids."""
        if not self._owed:
            return
        self._last_commit_try = time.monotonic()
        if commit_offsets(self.consumer, dict(self._owed)):
            self._owed.clear()

    def _update_lag(self) -> None:
        now = time.monotonic()
        if now - self._last_lag < 5:
            return
        self._last_lag = now
        try:
            assigned = list(self.consumer.assignment())
            if not assigned:
                return
            ends = self.consumer.end_offsets(assigned)
            for tp in assigned:
                lag = max(0, ends.get(tp, 0) - self.consumer.position(tp))
                metrics.CONSUMER_LAG.labels(partition=str(tp.partition)).set(lag)
        except Exception as exc:  # metrics must never stop indexing
            log.debug("lag update failed", extra={"error": str(exc)})

    # ---- Elasticsearch side -----------------------------------------------------------------

    def _send(self, actions: Sequence[Action]) -> Sequence[Mapping[str, Any]]:
        started = time.perf_counter()
        kwargs: dict[str, Any] = {}
        if self.settings.indexer_refresh_mode == "wait_for":
            kwargs["refresh"] = "wait_for"
        try:
            # A prebuilt NDJSON string: each source is serialised once, when the batch is built.
            body: Any = bulk_body(actions)
            # Only what the items are classified by: ES's full answer is ~200 bytes per item
            # to build, send and parse.
            response = self.es.bulk(operations=body, filter_path=BULK_FILTER, **kwargs)
        finally:
            metrics.BULK_SECONDS.observe(time.perf_counter() - started)
        metrics.BULK_DOCS.observe(len(actions))
        return [next(iter(item.values())) for item in response["items"]]

    def _count_item(self, outcome: Outcome, item: Mapping[str, Any]) -> None:
        if outcome in (Outcome.OK, Outcome.REPLAY):
            _INDEXED[outcome].inc()
        else:
            error = item.get("error")
            reason = error.get("type", "error") if isinstance(error, Mapping) else "error"
            metrics.DOCS_FAILED.labels(reason=f"{item.get('status')} {reason}").inc()

    def _finish(self, batch: Batch) -> None:
        """Bulk, refresh, dead-letter, announce; each step done once even if a later one fails.
        Runs on the sender thread; only the commit is left to the consumer's thread."""
        steps = batch.steps
        index_batch(
            batch,
            self._send,
            max_attempts=self.settings.indexer_item_max_attempts,
            base_s=self.settings.indexer_retry_base_s,
            cap_s=self.settings.indexer_retry_cap_s,
            on_item=self._count_item,
            rng=self._rng,
        )
        if "refresh" not in steps:
            written = sorted({a.index for a, _ in batch.acknowledged})
            if written and self.settings.indexer_refresh_mode == "refresh":
                self.es.indices.refresh(index=",".join(written))
            steps.add("refresh")
        if "stories" not in steps:
            # before announcing: alerts and search read the report's story_root (issue 20)
            self._follow_merges(batch)
            steps.add("stories")
        if "dlq" not in steps:
            for rejected in batch.rejected:
                self._dead_letter(rejected.action.context, rejected.reason, rejected.error_type)
            steps.add("dlq")
        if "announce" not in steps:
            self._announce(batch)
            steps.add("announce")

    def _follow_merges(self, batch: Batch) -> None:
        """Re-point the reports of stories merged into others (storyroots.py)."""
        stories: set[str] = set()
        for action, outcome in batch.acknowledged:
            if outcome == Outcome.OK:
                report: Report = action.context.report
                stories.add(report.story_id)
                stories.update(report.merged_stories)
        follow_merges(self.es, self.alias, stories)

    def _announce(self, batch: Batch) -> None:
        indexed_at = datetime.now(UTC)
        for action, outcome in batch.acknowledged:
            if outcome == Outcome.REPLAY:  # a newer version is there: nothing changed
                continue
            report: Report = action.context.report
            event = IndexedEvent(
                report_id=report.report_id,
                story_id=report.story_id,
                index=action.index,
                headline=report.headline[:500],
                source_name=report.source.name,
                language=report.language,
                relevant=report.relevant,
                published=report.published,
                ingested_at=report.ingested_at,
                indexed_at=indexed_at,
            )
            self.producer.send(
                self.topics.indexed,
                key=key_for("indexed", event),
                value=event.model_dump_json().encode("utf-8"),
                headers=self._headers(report.source.name),
            )
            ingested = report.ingested_at
            if ingested.tzinfo is None:
                ingested = ingested.replace(tzinfo=UTC)
            metrics.SEARCHABLE_SECONDS.observe(max(0.0, (indexed_at - ingested).total_seconds()))
        self.producer.flush(timeout=30)

    def _headers(self, source: str) -> list[tuple[str, bytes]]:
        found = self._event_headers.get(source)
        if found is None:
            if len(self._event_headers) > 10_000:
                self._event_headers.clear()
            found = self._event_headers[source] = headers(source=source, stage="index")
        return found

    # ---- the loop ---------------------------------------------------------------------------

    def _hold(self, batch: Batch, exc: BaseException) -> None:
        # Elasticsearch done, its rejects not dead-lettered: Kafka is the one away, and the
        # batch waits (uncommitted) for it like for an ES outage, but is not reported as one.
        kafka = isinstance(exc, DeadLetterFailed)
        if self._held is None:
            log.error(
                "dead-letter topic unavailable, pausing partitions"
                if kafka
                else "Elasticsearch unavailable, pausing partitions",
                extra={"error": f"{type(exc).__name__}: {exc}"[:500], "docs": len(batch)},
            )
        self._held = batch
        self._held_attempts += 1
        if not kafka:
            metrics.ES_AVAILABLE.set(0)

    def _available(self) -> None:
        if self._held is not None:
            log.info("Elasticsearch back, resuming partitions")
        self._held = None
        self._held_attempts = 0
        metrics.ES_AVAILABLE.set(1)

    def _pause_all(self) -> None:
        assigned = self.consumer.assignment()
        if assigned:
            self.consumer.pause(*assigned)

    def flush(self, batch: Batch) -> bool:
        """Deliver a batch synchronously and commit it; False (batch held) when ES failed."""
        try:
            self._finish(batch)
        except TooManyDeadLetters:
            raise  # not Elasticsearch's failure: holding the batch would only repeat it
        except Exception as exc:
            self._hold(batch, exc)
            return False
        self._commit(batch)
        self._available()
        return True

    def _collect(self, wait: bool) -> None:
        """Commit the batch the sender thread finished, or hold it if it failed."""
        if self._inflight is None:
            return
        batch, future = self._inflight
        if not wait and not future.done():
            return
        self._inflight = None
        try:
            future.result()
        except TooManyDeadLetters:
            raise  # not Elasticsearch's failure: holding the batch would only repeat it
        except Exception as exc:
            self._hold(batch, exc)
            self._pause_all()
            return
        self._commit(batch)
        self._available()

    def _wait_while_held(self) -> None:
        """Stay in the group without taking new records, then retry the held batch."""
        assert self._held is not None
        delay = backoff_delay(
            self._held_attempts,
            self.settings.indexer_retry_base_s,
            self.settings.indexer_retry_cap_s,
            self._rng,
        )
        deadline = time.monotonic() + delay
        while not self.stopping.is_set():
            assigned = self.consumer.assignment()
            if assigned:
                self.consumer.pause(*assigned)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            stray = poll_records(self.consumer, int(min(remaining, 1.0) * 1000) or 1)
            # Partitions assigned by a rebalance meanwhile were not paused yet: put back what they
            # gave, so nothing is skipped.
            for tp, records in stray.items():
                if records:
                    self.consumer.seek(tp, min(r.offset for r in records))
        if self.flush(self._held):
            self.consumer.resume(*self.consumer.paused())

    def step(self) -> None:
        # While the sender thread indexes one batch, this thread polls and builds the next:
        # at most two batches in memory, and offsets are still committed in order.
        self._collect(wait=False)
        if self._owed and time.monotonic() - self._last_commit_try > COMMIT_RETRY_S:
            self._commit_owed()
        if self._held is not None:
            self._wait_while_held()
            return
        if not self.batcher.full():
            room = max(1, self.settings.indexer_batch_max_docs - len(self.batcher))
            polled = poll_records(
                self.consumer, self.settings.indexer_poll_timeout_ms, max_records=room
            )
            stalled = False
            for tp, records in polled.items():
                for record in records:
                    if stalled or self.batcher.full():
                        # One poll may bring far more bytes than a bulk may carry: the rest
                        # is read again for the next batch.
                        self.consumer.seek(tp, record.offset)
                        break
                    try:
                        src = self._parse(record)
                        action = self._action(src)
                    except DeadLetterFailed as exc:
                        # An unreadable record whose dead letter Kafka did not take: read it
                        # again later rather than stop the indexer or skip it.
                        log.warning(
                            "dead letter not sent, record read again",
                            extra={"error": repr(exc)[:300], "offset": record.offset},
                        )
                        self.consumer.seek(tp, record.offset)
                        stalled = True
                        break
                    self.batcher.add(action, src)
            if stalled:
                time.sleep(COMMIT_RETRY_S)
        if self.batcher.due():
            self._collect(wait=True)
            if self._held is None:
                batch = self.batcher.take()
                self._inflight = (batch, self._sender.submit(self._finish, batch))
        self._update_lag()

    def _start(self) -> bool:
        """Install the template and this month's index, waiting out an Elasticsearch that is
        away or too slow to answer (a timeout at start used to end the indexer); False when
        asked to stop meanwhile. A refusal that waiting cannot cure (MigrationNeeded, a 4xx)
        still ends it."""
        attempt = 0
        while not self.stopping.is_set():
            try:
                ensure_ready(self.es, self.settings)
                return True
            except (TransportError, ApiError) as exc:
                if isinstance(exc, ApiError) and not (
                    exc.status_code in (408, 429) or exc.status_code >= 500
                ):
                    raise
                if attempt == 0:
                    log.error(
                        "Elasticsearch unavailable at start, waiting for it",
                        extra={"error": f"{type(exc).__name__}: {exc}"[:500]},
                    )
                metrics.ES_AVAILABLE.set(0)
                attempt += 1
                self.stopping.wait(
                    backoff_delay(
                        attempt,
                        self.settings.indexer_retry_base_s,
                        self.settings.indexer_retry_cap_s,
                        self._rng,
                    )
                )
        return False

    def run(self) -> None:
        if not self._start():
            self.close()
            return
        metrics.ES_AVAILABLE.set(1)
        log.info("indexer running", extra={"topic": self.topics.report, "alias": self.alias})
        try:
            while not self.stopping.is_set():
                self.step()
            self._collect(wait=True)
            if len(self.batcher) and self._held is None:
                self.flush(self.batcher.take())
        finally:
            self.close()

    def close(self) -> None:
        try:
            self._sender.shutdown(wait=True)
            self._commit_owed()
            self.consumer.close(autocommit=False)
        finally:
            release(self.settings.indexer_group_id, self._instance)
            self.producer.close(timeout=10)
