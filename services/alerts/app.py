"""`cwatch alerts run`: indexed topic -> match -> de-duplicate -> alert topic -> webhooks, email
and chat (senders.py; email digests: digests.py).

Two loops, each with its own consumer group and commit-after-done (at-least-once; alert ids
are stable so a replay can be recognised downstream):
- the matcher reads `indexed` in batches, matches the batch against every active subscription
  (one multi-search), turns matches into alerts with the durable per-story state, produces them
  to `alert` (acknowledged), saves the state, then commits;
- the dispatcher reads `alert` and hands each pushed alert to its subscription's lane
  (dispatch.py: a slow receiver holds only its own alerts); an alert's offset is committed
  once it and every alert before it in its partition were delivered or dead-lettered.
  A crash between a POST and the commit, or a matcher that produced an alert again before it
  could save its state, replays alerts: the dispatcher skips those whose delivery it already
  logged as sent (the log line's id is the alert id). Only a crash between a receiver's 2xx
  and that log write can still resend, with the same `X-Cwatch-Alert-Id` for receivers to
  drop.
Both loops are supervised: one that dies is a crash of the whole process (logged, counted,
exit status non-zero), never a silent stop while the other goes on (see `run`).
SSE streams are served by the API process, which follows the alert topic itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError
from pydantic import ValidationError

from schemas.alert import Alert
from schemas.deadletter import DeadLetter, Stage
from schemas.indexed import IndexedEvent
from schemas.topics import key_for
from services.alerts import metrics
from services.alerts.dedup import Decision, Families, decide, due_digests, keys_for
from services.alerts.delivery import Abandoned, WebhookSender
from services.alerts.deliverylog import DeliveryLogWriter
from services.alerts.digests import EmailDigests
from services.alerts.dispatch import Dispatcher
from services.alerts.health import ChannelHealth
from services.alerts.matcher import Match, QueryCache, es_msearch, match
from services.alerts.models import ChannelKind, Subscription
from services.alerts.senders import ChannelSenders, SmtpMailer, es_versions
from services.alerts.settings import AlertsSettings
from services.alerts.store import AlertStore, DeliveryLine, sent_line_id
from services.common.dlq import DeadLetterCount, DeadLetterSink, DlqLimit, TooManyDeadLetters
from services.common.es import make_es
from services.common.kafka import (
    commit_offsets,
    headers,
    make_consumer,
    make_producer,
    poll_records,
)
from services.common.membership import instance_id, release
from services.common.netguard import NetPolicy
from services.common.secretbox import SecretBox
from services.query.stories import story_families

log = logging.getLogger(__name__)

DIGEST_CHECK_S = 5.0
ALERT_BATCH_BYTES = 256 * 1024
SUBSCRIPTION_ERROR_REPORT_S = 3600.0  # a failing subscription's dead letter, at most this often


def wait_for_partitions(
    consumer: KafkaConsumer, topics: Sequence[str], timeout_s: float = 30
) -> None:
    """A consumer that joins its group before it knows a topic's partitions gets none of them
    until the next metadata refresh (minutes): learn them first."""
    deadline = time.monotonic() + timeout_s
    for topic in topics:
        while not consumer.partitions_for_topic(topic) and time.monotonic() < deadline:
            time.sleep(0.2)


def _utcnow() -> datetime:
    return datetime.now(UTC)


Poll = Callable[[int, int], Mapping[Any, Sequence[Any]]]
"""(timeout_ms, max_records) -> records per partition, as KafkaConsumer.poll answers."""


def gather_round(
    poll: Poll,
    wait_ms: Callable[[], int],
    limit: int,
    clock: Callable[[], float] = time.monotonic,
    idle_ms: int = 1000,
) -> list[Any]:
    """The records of one match round. A round costs Elasticsearch about the same for one
    report as for a hundred (every subscription's query is looked up in every segment), so
    once a first record arrives the round waits `wait_ms()` (asked then) for more, instead of
    matching each poll's few reports on their own. An idle poll (`idle_ms`) ends the round empty."""
    records = [r for batch in poll(idle_ms, limit).values() for r in batch]
    if not records:
        return records
    deadline = clock() + wait_ms() / 1000
    while len(records) < limit:
        timeout_ms = int((deadline - clock()) * 1000)
        if timeout_ms <= 0:
            break
        for batch in poll(timeout_ms, limit - len(records)).values():
            records.extend(batch)
    return records


class RoundPacer:
    """How long a match round waits for more reports after its first: until the last round's
    matching time divided by `share` has passed since that round began, at most `max_wait_s`.
    Matching then keeps Elasticsearch busy for at most about `share` of the time whatever the
    rate, and a report waits no longer than that needs: while Elasticsearch answers fast,
    rounds follow each other closely (lower latency); when it slows down (load), rounds space
    out and grow instead of adding to its load. A fixed wait paid its full length every round."""

    def __init__(
        self, share: float, max_wait_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.share = share
        self.max_wait_s = max_wait_s
        self.clock = clock
        self._began: float | None = None
        self._next = float("-inf")

    def begin(self) -> None:
        self._began = self.clock()

    def end(self) -> None:
        if self._began is not None:
            self._next = self._began + (self.clock() - self._began) / self.share
            self._began = None

    def wait_ms(self) -> int:
        return round(1000 * min(self.max_wait_s, max(0.0, self._next - self.clock())))


class SubscriptionCache:
    """Active subscriptions, re-read from the store at most every `ttl_s`."""

    def __init__(self, store: AlertStore, ttl_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._subs: dict[str, Subscription] = {}
        self._loaded = 0.0
        self._version: tuple[int, str | None] | None = None
        self._lock = threading.Lock()

    def get(self, force: bool = False) -> dict[str, Subscription]:
        """Raises only when the subscriptions were never read: once they were, a store that
        does not answer means the last list, until it answers again."""
        with self._lock:
            if force or time.monotonic() - self._loaded > self.ttl_s:
                try:
                    version = self.store.version()
                    if force or version != self._version:
                        subs = self.store.list_subscriptions(active_only=True)
                        self._subs = {s.id: s for s in subs}
                        self._version = version
                        metrics.SUBSCRIPTIONS.set(len(self._subs))
                except Exception:
                    if self._version is None:
                        raise
                    log.warning("subscriptions not re-read; using the last list", exc_info=True)
                self._loaded = time.monotonic()
            return self._subs


class AlertsService:
    def __init__(
        self,
        settings: AlertsSettings,
        es: Elasticsearch | None = None,
        producer: KafkaProducer | None = None,
    ) -> None:
        self.settings = settings
        self.topics = settings.topics
        self.alias = settings.index_alias
        self.es = es or make_es(settings)
        self.store = AlertStore(self.es, settings.index_prefix(), SecretBox.from_settings(settings))
        self.cache = SubscriptionCache(self.store, settings.alerts_subscription_refresh_s)
        # A round produces hundreds of alerts at once: with the default 16 KB batches the
        # producer woke its sender thread every ~20 of them, and 500 alerts took twice as long
        # to send (0.25 against 0.12 s beside a busy thread).
        self.producer = producer or make_producer(
            settings.kafka_bootstrap_servers,
            client_id="cwatch-alerts",
            linger_ms=2,
            batch_size=ALERT_BATCH_BYTES,
        )
        # Unlimited: deliveries, refused alerts and failing subscriptions are dead-lettered
        # one subscriber at a time, and one bad subscriber must not stop the others' alerts.
        self.dlq = DeadLetterSink(self.producer, self.topics.deadletter)
        # The records each loop consumed are capped (as the indexer's): a share of invalid
        # ones that high is a bug or a contract change, which stops the service uncommitted.
        limit = DlqLimit(max_ratio=settings.alerts_dlq_max_ratio or None)
        self.matcher_dlq = DeadLetterSink(self.producer, self.topics.deadletter, limit)
        # Before the senders, which write to it from their first delivery on.
        self.delivery_log = DeliveryLogWriter(self.store)
        self.webhooks = WebhookSender(
            NetPolicy(settings.alerts_allow_loopback, settings.alerts_allow_private),
            log_delivery=self._log_delivery,
            dead_letter=self.dlq.send,
            max_attempts=settings.alerts_webhook_max_attempts,
            backoff_s=settings.alerts_webhook_backoff_s,
            backoff_max_s=settings.alerts_webhook_backoff_max_s,
            timeout_s=settings.alerts_webhook_timeout_s,
            deadline_s=settings.webhook_deadline_s(),
            max_response_bytes=settings.alerts_webhook_max_response_bytes,
            sleep=self._backoff,
            health=ChannelHealth(settings.alerts_channel_failing_after),
        )
        versions = es_versions(self.es, self.alias)
        self.senders = ChannelSenders(
            settings,
            self.webhooks,
            SmtpMailer(settings),
            versions,
            self.store.queue_digest,
            prefetch=versions.prefetch,
        )
        self.stopping = threading.Event()
        self.dispatcher = Dispatcher(
            self.senders.deliver,
            self.cache.get,
            self.delivered,
            self.dlq.send,
            workers=settings.alerts_webhook_workers,
            stopping=self.stopping,
            invalid_count=DeadLetterCount(limit),
            prepare=self.senders.prepare,
            caps={ChannelKind.EMAIL.value: settings.alerts_email_workers},
        )
        self.digests = EmailDigests(
            self.store,
            self.senders,
            self.cache.get,
            self.delivered,
            lambda key, job: self.dispatcher.lanes.submit(key, job, ChannelKind.EMAIL.value),
        )
        self.msearch = es_msearch(self.es)
        self.queries = QueryCache()
        self.pacer = RoundPacer(settings.alerts_match_share, settings.alerts_batch_wait_ms / 1000)
        self.crashed: BaseException | None = None
        self._failed_reported: dict[str, float] = {}
        self._last_digest_check = 0.0

    def _backoff(self, seconds: float) -> None:
        """A retry's wait; a stop during it leaves the alert unfinished, not dead-lettered."""
        if self.stopping.wait(seconds):
            raise Abandoned

    def _log_delivery(
        self,
        sub_id: str,
        alert_id: str,
        channel: str,
        outcome: str,
        attempt: int,
        status: int | None,
        error: str | None,
    ) -> None:
        # A delivered (or digest-queued) alert's line is also the mark that keeps a replay
        # from sending it again, whatever the channel. Written in bulk in the background: a
        # round trip to Elasticsearch per delivery was the email path's largest cost.
        line_id = sent_line_id(alert_id) if outcome in ("sent", "queued") else None
        self.delivery_log.write(
            DeliveryLine(sub_id, alert_id, channel, outcome, attempt, status, error, line_id)
        )

    def delivered(self, alert_ids: list[str]) -> set[str]:
        """The alerts among `alert_ids` already delivered: marks not written yet first, then
        the store (in this order, a mark written in between is seen by the second)."""
        unwritten = self.delivery_log.unwritten_marks(alert_ids)
        rest = [a for a in alert_ids if a not in unwritten]
        return unwritten | self.store.delivered(rest)

    # ---- matching -----------------------------------------------------------------------------

    def parse(self, record: Any) -> IndexedEvent | None:
        metrics.EVENTS.inc()
        self.matcher_dlq.seen()
        try:
            event = IndexedEvent.model_validate_json(record.value or b"")
        except ValidationError as exc:
            metrics.INVALID.inc()
            metrics.DEAD_LETTERS.labels(stage="alert").inc()
            self.matcher_dlq.send(
                DeadLetter.from_record(
                    Stage.ALERT,
                    f"invalid indexed event: {exc}",
                    record,
                    error_type="invalid_indexed_event",
                )
            )
            return None
        self.matcher_dlq.ok()
        return event

    def process(self, events: Sequence[IndexedEvent], now: datetime | None = None) -> list[Alert]:
        """Match a batch, produce its alerts (acknowledged) and save the story state."""
        now = now or _utcnow()
        subs = self.cache.get()
        started = time.perf_counter()
        self.pacer.begin()
        try:
            matches = match(
                self.msearch,
                self.alias,
                [e.report_id for e in events],
                list(subs.values()),
                now,
                chunk=self.settings.alerts_msearch_chunk,
                group=self.settings.alerts_match_group,
                cache=self.queries,
                on_error=self._subscription_failed,
            )
        finally:
            self.pacer.end()
        metrics.MATCH_SECONDS.observe(time.perf_counter() - started)
        matches, families = self._follow_merges(matches)
        states = self.store.states(keys_for(matches, families))
        decision = decide(matches, subs, states, now, families)
        return self._emit(decision, subs)

    def _follow_merges(self, matches: list[Match]) -> tuple[list[Match], Families]:
        """Each match under the story it lives on as, and the stories merged into it, so that
        "one alert per story" holds across merges (issue 20). One search when none happened."""
        if not matches:
            return matches, {}

        def search(body: dict[str, Any]) -> dict[str, Any]:
            answer = self.es.search(index=self.alias, body=body, ignore_unavailable=True)
            return dict(answer.body)

        known = story_families(search, {m.story_id for m in matches})
        if not known.absorbed_by:
            return matches, {}
        moved = [replace(m, story_id=known.root(m.story_id)) for m in matches]
        return moved, known.roots({m.story_id for m in moved})

    def _subscription_failed(self, sub_ids: list[str], reason: str) -> None:
        """A subscription skipped by a round (query refused, search failed) is dead-lettered
        with the reason, once per SUBSCRIPTION_ERROR_REPORT_S: visible, not once a round."""
        now = time.monotonic()
        for sub_id in sub_ids:
            last = self._failed_reported.get(sub_id)
            if last is not None and now - last < SUBSCRIPTION_ERROR_REPORT_S:
                continue
            self._failed_reported[sub_id] = now
            metrics.DEAD_LETTERS.labels(stage="alert").inc()
            try:
                self.dlq.send(
                    DeadLetter.of(
                        Stage.ALERT,
                        f"subscription {sub_id} not matched: {reason}",
                        error_type="subscription_failed",
                        source=sub_id,
                        original_key=sub_id,
                    )
                )
            except Exception:  # the report is for people; matching goes on
                log.exception("subscription failure not dead-lettered")

    def flush_digests(self, now: datetime | None = None) -> list[Alert]:
        now = now or _utcnow()
        subs = self.cache.get()
        return self._emit(due_digests(self.store.pending_digests(), subs, now), subs)

    def _produce(self, alert: Alert, mode: str) -> Any:
        """The send's future, or the error when the producer refused the record at once."""
        try:
            return self.producer.send(
                self.topics.alert,
                key=key_for("alert", alert),
                value=alert.model_dump_json().encode("utf-8"),
                headers=headers(source="alerts", mode=mode),
            )
        except KafkaTimeoutError:
            raise  # no metadata: Kafka is away, the round fails and is read again
        except KafkaError as exc:
            return exc

    def _emit(self, decision: Decision, subs: dict[str, Subscription]) -> list[Alert]:
        """Produce the alerts (acknowledged) and save the story states. An alert the broker
        refuses for itself (too large, invalid) is dead-lettered and the others go on; only a
        broker that does not answer fails the round."""
        sends = [(alert, self._produce(alert, mode)) for alert, mode in decision.alerts]
        refused: set[str] = set()
        for alert, send in sends:
            try:
                if isinstance(send, Exception):
                    raise send
                send.get(timeout=30)
            except KafkaTimeoutError:
                raise
            except KafkaError as exc:
                refused.add(alert.alert_id)
                metrics.DEAD_LETTERS.labels(stage="alert").inc()
                self.dlq.send(
                    DeadLetter.of(
                        Stage.ALERT,
                        f"alert not produced: {type(exc).__name__}: {exc}",
                        # Replayable, and small enough for the dead-letter topic itself.
                        alert.model_copy(
                            update={
                                "headline": alert.headline[:200],
                                "report_ids": alert.report_ids[:50],
                            }
                        ).model_dump_json(),
                        error_type="alert_not_produced",
                        source=alert.subscription_id,
                        original_key=alert.alert_id,
                    )
                )
        produced = _utcnow()
        kafka_only: list[tuple[str, str]] = []
        for alert, mode in decision.alerts:
            if alert.alert_id in refused:
                continue
            metrics.ALERTS.labels(mode=mode).inc()
            if alert.ingested_at:
                metrics.LATENCY.observe((produced - alert.ingested_at).total_seconds())
            sub = subs.get(alert.subscription_id)
            if sub is not None and sub.channel.kind == ChannelKind.KAFKA:
                kafka_only.append((sub.id, alert.alert_id))
        self.store.save_states(decision.states)
        if kafka_only:
            metrics.DELIVERIES.labels(channel="kafka", outcome="sent").inc(len(kafka_only))
            self.delivery_log.add(kafka_only, "kafka", "sent")
        return [a for a, _ in decision.alerts if a.alert_id not in refused]

    def _match_loop(self, consumer: KafkaConsumer) -> None:
        owed = False
        while not self.stopping.is_set():
            records = gather_round(
                lambda timeout_ms, room: poll_records(consumer, timeout_ms, max_records=room),
                self.pacer.wait_ms,
                self.settings.alerts_batch_max,
            )
            polled = bool(records)
            events = [e for e in map(self.parse, records) if e is not None]
            if events:
                self.process(events)
            # A commit the broker could not take is owed and offered again on the next round.
            if polled or owed:
                owed = not commit_offsets(consumer)
            if time.monotonic() - self._last_digest_check > DIGEST_CHECK_S:
                self._last_digest_check = time.monotonic()
                self.flush_digests()

    # ---- webhook dispatch ---------------------------------------------------------------------

    def _dispatch_loop(self, consumer: KafkaConsumer) -> None:
        limit = self.settings.alerts_webhook_in_flight_max
        backlog: list[Any] = []  # records polled but not yet routed (store unreachable)
        paused = False
        while not self.stopping.is_set():
            # Reading pauses while too much is unfinished, so a slow receiver cannot make the
            # dispatcher hold an unbounded number of alerts in memory.
            busy = bool(backlog) or self.dispatcher.tracker.in_flight() >= limit
            if busy and not paused:
                consumer.pause(*consumer.assignment())
                paused = True
            elif not busy and paused:
                consumer.resume(*consumer.paused())
                paused = False
            polled = poll_records(consumer, 200)
            backlog.extend(record for batch in polled.values() for record in batch)
            if backlog:
                try:
                    self.dispatcher.route(backlog)
                    backlog = []
                except TooManyDeadLetters:
                    raise  # a bug, not the store: stop, the backlog's offsets uncommitted
                except Exception:
                    log.exception("alerts not routed (subscriptions unreadable); trying again")
                    self.stopping.wait(1.0)
            offsets = self.dispatcher.tracker.committable(consumer.assignment())
            if offsets and commit_offsets(consumer, offsets):
                self.dispatcher.tracker.committed(offsets)

    def _digest_loop(self) -> None:
        """Due email digests go to their subscriptions' lanes (sent there, never here); on a
        thread of its own, so a slow store delays digests, not the routing of alerts."""
        while not self.stopping.wait(self.settings.alerts_digest_check_s):
            try:
                self.digests.check(_utcnow())
            except Exception:
                log.warning("email digests not checked; trying again", exc_info=True)

    def _supervised(self, name: str, loop: Callable[[KafkaConsumer], None]) -> Callable[..., None]:
        def run(consumer: KafkaConsumer) -> None:
            try:
                loop(consumer)
            except BaseException as exc:
                self._crash(name, exc)

        return run

    def _crash(self, name: str, exc: BaseException) -> None:
        metrics.THREAD_CRASHES.labels(thread=name).inc()
        log.critical("%s loop died; stopping the service", name, exc_info=exc)
        if self.crashed is None:
            self.crashed = exc
        self.stopping.set()

    def run(self) -> None:
        self.store.ensure()
        s = self.settings
        session = {
            "session_timeout_ms": s.alerts_session_timeout_ms,
            "heartbeat_interval_ms": max(1000, s.alerts_session_timeout_ms // 4),
        }
        # Static members: a restarted alerts service takes its dead predecessor's partitions
        # back at once instead of waiting for its sessions to expire.
        webhooks_group = f"{s.alerts_group_id}-webhooks"
        matcher_id = instance_id(s.alerts_group_id, s.group_instance_id)
        dispatch_id = instance_id(webhooks_group, s.group_instance_id)
        matcher_consumer = make_consumer(
            s.kafka_bootstrap_servers,
            s.alerts_group_id,
            [self.topics.indexed],
            client_id="cwatch-alerts",
            max_poll_records=s.alerts_batch_max,
            group_instance_id=matcher_id,
            **session,
        )
        dispatch_consumer = make_consumer(
            s.kafka_bootstrap_servers,
            webhooks_group,
            [self.topics.alert],
            client_id="cwatch-alerts-webhooks",
            max_poll_records=100,
            group_instance_id=dispatch_id,
            **session,
        )
        wait_for_partitions(matcher_consumer, [self.topics.indexed])
        wait_for_partitions(dispatch_consumer, [self.topics.alert])
        # Supervision: a loop that dies stops the whole process with a non-zero exit (run
        # raises), so the service manager restarts it and both loops resume from their
        # commits. Restarting only the dead thread would reuse a consumer and in-flight state
        # left by an unknown failure; a fresh process has none, and a crash loop is visible.
        # Per-alert failures never get here: delivery and dead-lettering catch everything.
        dispatcher = threading.Thread(
            target=self._supervised("dispatch", self._dispatch_loop),
            args=(dispatch_consumer,),
            name="dispatch",
            daemon=True,
        )
        dispatcher.start()
        digests = threading.Thread(target=self._digest_loop, name="digests", daemon=True)
        digests.start()
        log.info("alerts running", extra={"indexed": self.topics.indexed, "alias": self.alias})
        try:
            self._supervised("match", self._match_loop)(matcher_consumer)
        finally:
            self.stopping.set()
            dispatcher.join(timeout=30)
            digests.join(timeout=30)
            self.dispatcher.close()
            matcher_consumer.close()
            dispatch_consumer.close()
            release(s.alerts_group_id, matcher_id)
            release(webhooks_group, dispatch_id)
            self.producer.flush(10)
            self.webhooks.close()
            self.senders.mailer.close()
            self.delivery_log.close()
        if self.crashed is not None:
            raise RuntimeError("the alerts service stopped after a crash") from self.crashed
