"""Dispatch: alerts from the alert topic to their pushed channels (webhook, email, chat), each subscription on its
own, offsets committed only behind what is finished.

- `Lanes`: one FIFO queue per subscription on a bounded pool of workers. A subscription's
  alerts go out in order, one at a time, so a slow or failing receiver occupies one worker at
  most and never holds the alerts of the others (a batch does not wait for its slowest POST).
- `OffsetTracker`: an alert's offset is finished once it was delivered or dead-lettered; a
  partition's commit is the lowest unfinished offset (commit after acknowledgement, as
  kafka-connect-elasticsearch does), so a crash re-reads exactly what was not finished.
- `Dispatcher.route` turns polled records into lane jobs. No job raises: a delivery ends as
  sent or dead-lettered (WebhookSender.deliver), and a dead letter that cannot be written is
  tried again after a pause (the alert stays unfinished meanwhile, so nothing is lost).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kafka.structs import TopicPartition
from pydantic import ValidationError

from schemas.alert import Alert
from schemas.deadletter import DeadLetter, Stage
from services.alerts import metrics
from services.alerts.delivery import Abandoned
from services.alerts.models import PUSHED, Subscription
from services.common.dlq import DeadLetterCount

log = logging.getLogger(__name__)

DEAD_LETTER_RETRY_S = 5.0


def pending_webhooks(
    alerts: Sequence[Alert], subs: dict[str, Subscription], delivered: set[str]
) -> list[tuple[Subscription, Alert]]:
    """(subscription, alert) to send: subscriptions of a pushed channel (webhook, email, chat)
    only, each alert id once (the first record of it), none in `delivered`."""
    todo: dict[str, tuple[Subscription, Alert]] = {}
    for alert in alerts:
        sub = subs.get(alert.subscription_id)
        if sub is None or sub.channel.kind not in PUSHED or alert.alert_id in delivered:
            continue
        todo.setdefault(alert.alert_id, (sub, alert))
    return list(todo.values())


class OffsetTracker:
    """Per partition: the offsets read but not finished, and how far reading went."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[Hashable, set[int]] = {}
        self._next: dict[Hashable, int] = {}
        self._committed: dict[Hashable, int] = {}

    def add(self, tp: Hashable, offset: int) -> bool:
        """False for an offset read before (a re-fetch after a rebalance): its first reading
        is finished or still under way, and either way it is not started twice."""
        with self._lock:
            if offset < self._next.get(tp, -1):
                return False
            self._next[tp] = offset + 1
            self._pending.setdefault(tp, set()).add(offset)
            return True

    def done(self, tp: Hashable, offset: int) -> None:
        with self._lock:
            self._pending.get(tp, set()).discard(offset)

    def in_flight(self) -> int:
        with self._lock:
            return sum(len(p) for p in self._pending.values())

    def committable(self, assigned: Iterable[Hashable]) -> dict[Hashable, int]:
        """Next offset to read, per assigned partition whose finished prefix grew."""
        out: dict[Hashable, int] = {}
        with self._lock:
            for tp in assigned:
                if tp not in self._next:
                    continue
                pending = self._pending.get(tp)
                offset = min(pending) if pending else self._next[tp]
                if offset > self._committed.get(tp, -1):
                    out[tp] = offset
        return out

    def committed(self, offsets: dict[Hashable, int]) -> None:
        with self._lock:
            for tp, offset in offsets.items():
                self._committed[tp] = max(offset, self._committed.get(tp, -1))


class Lanes:
    """Per-key FIFO job queues on a bounded thread pool: a key's jobs run in order, one at a
    time; keys take turns (a busy key goes to the back after each job). A key belongs to a
    group (its channel) that may be capped below the pool's size (`caps`): a shared endpoint
    that slows down (the SMTP relay) holds at most its cap of the workers, never the workers
    of the other channels."""

    def __init__(
        self, workers: int, name: str = "webhook", caps: dict[str, int] | None = None
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._queues: dict[str, deque[Callable[[], None]]] = {}
        self._group: dict[str, str] = {}  # the group of each key with queued jobs
        self._caps = caps or {}
        self._running: dict[str, int] = {}  # per group: keys on a worker now
        self._ready: dict[str, deque[str]] = {}  # per capped group: keys waiting for a slot
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, key: str, job: Callable[[], None], group: str = "") -> None:
        with self._lock:
            if self._closed:
                return  # stopping: the job's offset stays uncommitted, redone after a restart
            queue = self._queues.get(key)
            if queue is not None:  # the lane is running or waiting: the job waits its turn
                queue.append(job)
                return
            self._queues[key] = deque([job])
            self._group[key] = group
            self._ready.setdefault(group, deque()).append(key)
            self._start(group)

    def _start(self, group: str) -> None:
        """Caller holds the lock: put the group's ready keys on workers, up to its cap."""
        ready = self._ready.get(group)
        cap = self._caps.get(group)
        while ready and (cap is None or self._running.get(group, 0) < cap):
            self._running[group] = self._running.get(group, 0) + 1
            self._pool.submit(self._run, ready.popleft())

    def _run(self, key: str) -> None:
        with self._lock:
            queue = self._queues.get(key)
            job = queue.popleft() if queue else None
        try:
            if job is not None:
                job()
        except Exception:  # jobs catch their own; this is the last line, never a lost lane
            metrics.WORKER_ERRORS.inc()
            log.exception("delivery job failed", extra={"lane": key})
        with self._lock:
            if self._closed:
                return
            group = self._group.get(key, "")
            self._running[group] -= 1
            if self._queues.get(key):
                self._ready.setdefault(group, deque()).append(key)  # back of its group's turn
            else:
                self._queues.pop(key, None)
                self._group.pop(key, None)
            self._start(group)

    def idle(self) -> bool:
        with self._lock:
            return not self._queues

    def close(self) -> None:
        """Stop taking jobs; queued ones are dropped (their offsets stay uncommitted)."""
        with self._lock:
            self._closed = True
            self._queues.clear()
            self._ready.clear()
            self._pool.shutdown(wait=False, cancel_futures=True)


Deliver = Callable[[Subscription, Alert], Any]
"""WebhookSender.deliver: sends or dead-letters; raises only when the dead letter failed."""


class Dispatcher:
    def __init__(
        self,
        deliver: Deliver,
        subscriptions: Callable[[], dict[str, Subscription]],
        delivered: Callable[[list[str]], set[str]],
        dead_letter: Callable[[DeadLetter], None],
        workers: int,
        stopping: threading.Event,
        invalid_count: DeadLetterCount | None = None,
        prepare: Callable[[Sequence[tuple[Subscription, Alert]]], None] | None = None,
        caps: dict[str, int] | None = None,
    ) -> None:
        self.deliver = deliver
        self.prepare = prepare
        # Counted here, on the loop's thread, as the letters are sent from the lanes: an
        # over-the-limit record raises out of `route`, before any of the batch is taken on.
        self.invalid_count = invalid_count or DeadLetterCount()
        self.subscriptions = subscriptions
        self.delivered = delivered
        self.dead_letter = dead_letter
        self.stopping = stopping
        self.tracker = OffsetTracker()
        self.lanes = Lanes(workers, caps=caps)
        self._in_flight: set[str] = set()  # alert ids queued or being delivered
        self._lock = threading.Lock()

    def route(self, records: Sequence[Any]) -> None:
        """Queue what `records` need. Raises (before taking any record on) when the
        subscriptions cannot be read: the caller offers the same records again later."""
        parsed: list[tuple[Any, Alert | None, str]] = []
        for record in records:
            self.invalid_count.seen()
            try:
                parsed.append((record, Alert.model_validate_json(record.value or b""), ""))
                self.invalid_count.ok()
            except ValidationError as exc:
                self.invalid_count.dead()
                parsed.append((record, None, str(exc)))
        subs = self.subscriptions() if parsed else {}
        webhook_ids = [
            a.alert_id
            for _, a, _ in parsed
            if a is not None and _is_pushed(subs.get(a.subscription_id))
        ]
        try:
            delivered = self.delivered(list(dict.fromkeys(webhook_ids)))
        except Exception:  # at-least-once: better a repeat (same alert id) than a lost alert
            log.exception("cannot read which alerts were delivered; sending them all")
            delivered = set()
        with self._lock:
            skip = delivered | self._in_flight
        alerts = [a for _, a, _ in parsed if a is not None]
        todo = {a.alert_id: s for s, a in pending_webhooks(alerts, subs, skip)}
        skipped = len(webhook_ids) - len(todo)
        if skipped:
            metrics.DELIVERIES.labels(channel="any", outcome="repeat_skipped").inc(skipped)
        if todo and self.prepare is not None:
            try:  # what the batch's deliveries will read, read once for all of them
                by_id = {a.alert_id: a for a in alerts}
                self.prepare([(sub, by_id[alert_id]) for alert_id, sub in todo.items()])
            except Exception:  # each delivery reads what it needs on its own, as without
                log.warning("a batch's deliveries not prepared", exc_info=True)
        for record, alert, error in parsed:
            tp = TopicPartition(record.topic, record.partition)
            if not self.tracker.add(tp, record.offset):
                continue
            if alert is None:
                self.lanes.submit(
                    "invalid", self._job(tp, record.offset, None, None, record, error)
                )
                continue
            sub = todo.pop(alert.alert_id, None)
            if sub is None:  # not a webhook, a repeat, or already on its way
                self.tracker.done(tp, record.offset)
                continue
            with self._lock:
                self._in_flight.add(alert.alert_id)
            job = self._job(tp, record.offset, sub, alert, record, "")
            self.lanes.submit(sub.id, job, sub.channel.kind.value)

    def _job(
        self,
        tp: Hashable,
        offset: int,
        sub: Subscription | None,
        alert: Alert | None,
        record: Any,
        error: str,
    ) -> Callable[[], None]:
        def run() -> None:
            try:
                while not self.stopping.is_set():
                    try:
                        if sub is not None and alert is not None:
                            self.deliver(sub, alert)
                        else:
                            self._invalid(record, error)
                    except Abandoned:
                        return
                    except Exception:  # the dead letter could not be written (Kafka away)
                        metrics.WORKER_ERRORS.inc()
                        log.exception("alert neither delivered nor dead-lettered; trying again")
                        self.stopping.wait(DEAD_LETTER_RETRY_S)
                        continue
                    self.tracker.done(tp, offset)
                    return
            finally:
                if alert is not None:
                    with self._lock:
                        self._in_flight.discard(alert.alert_id)

        return run

    def _invalid(self, record: Any, error: str) -> None:
        metrics.DEAD_LETTERS.labels(stage="delivery").inc()
        self.dead_letter(
            DeadLetter.from_record(
                Stage.DELIVERY, f"invalid alert: {error}", record, error_type="invalid_alert"
            )
        )

    def close(self) -> None:
        self.lanes.close()


def _is_pushed(sub: Subscription | None) -> bool:
    return sub is not None and sub.channel.kind in PUSHED
