"""The API process's live side: follows the indexed and alert topics from their end and fans
out to Server-Sent-Event streams.

- `/v1/live` clients carry search filters; each batch of newly indexed reports is matched
  against all open clients with the matcher (the search semantics, one multi-search), and each
  client receives the search summaries of its matches.
- `/v1/subscriptions/{id}/stream` clients receive that subscription's alerts.
- A subscription whose channel keeps failing (the alerts service's `channel_failing` line in
  its delivery log) is told to its owner's live feeds (and admins'), as a `channel_failing`
  event: the owner sees it where they work, not only in the deliveries view. The hub looks
  for new such lines every NOTICE_CHECK_S while a live feed is open.
The consumer has no group (nothing to commit): a stream shows what happens while it is open.

A client is hostile input too: the hub only ever puts into a client's bounded queue without
waiting, and a client that lets its queue fill is closed (its backlog freed, one final
`overflow` event telling it to reconnect), so a slow or stalled reader costs at most its
queue and never delays the hub, the other clients or the matcher. The number of open streams
is capped as well.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch
from kafka import KafkaConsumer
from kafka.structs import TopicPartition
from pydantic import ValidationError

from schemas.alert import Alert
from schemas.indexed import IndexedEvent
from schemas.topics import TopicNames
from services.alerts import metrics
from services.alerts.matcher import es_msearch, match
from services.common.kafka import make_reader
from services.query.answers import summary
from services.query.bodies import LIST_SOURCE_EXCLUDES
from services.query.params import SearchParams
from services.query.stories import StoryFamilies, story_families

log = logging.getLogger(__name__)

QUEUE_MAX = 256  # events waiting for one client; a client that lets it fill is closed
MAX_CLIENTS = 1000
NOTICE_CHECK_S = 2.0
# Lines are looked for this far back (and told once each): a line written with an `at` a
# little before the last look (bulk writes, the index refresh) is still found.
NOTICE_LOOKBACK = timedelta(seconds=60)


class TooManyClients(Exception):
    """Every stream slot is taken."""


@dataclass
class LiveClient:
    id: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[tuple[str, dict[str, Any]]]
    params: SearchParams | None = None  # live feed filters
    subscription_id: str | None = None  # alert stream
    viewer: str | None = None  # the user of a live feed: told of their failing channels
    sees_all: bool = False  # an admin (or the no-accounts mode): told of every one
    active: bool = True
    closed: bool = False  # too slow: no more events; the stream ends after `overflow`

    def search_params(self) -> SearchParams:
        assert self.params is not None
        return self.params

    def push(self, event: str, data: dict[str, Any]) -> None:
        """Never waits: called by the hub's thread for every client in turn."""
        if self.closed or not self.active:
            return
        try:
            self.loop.call_soon_threadsafe(self._put, event, data)
        except RuntimeError:  # the client's loop is closed: it went away
            self.active = False

    def _put(self, event: str, data: dict[str, Any]) -> None:
        if self.closed:
            return
        if not self.queue.full():
            self.queue.put_nowait((event, data))
            return
        # Slow reader: keep none of its backlog, tell it why; EventSource reconnects by itself.
        self.closed = True
        metrics.LIVE_CLIENTS_CLOSED.inc()
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(("overflow", {"reason": "client too slow; reconnect"}))


@dataclass
class LiveHub:
    bootstrap: str
    topics: TopicNames
    es: Elasticsearch
    alias: str
    on_alert_sent: Callable[[str, str], None] | None = None
    # since -> the channel_failing lines since then (AlertStore.failing_since)
    failing_since: Callable[[datetime], list[dict[str, Any]]] | None = None
    clients: dict[str, LiveClient] = field(default_factory=dict)
    queue_max: int = QUEUE_MAX
    max_clients: int = MAX_CLIENTS

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._msearch = es_msearch(self.es)
        self._told: dict[str, datetime] = {}  # failing lines told, by line id
        self._last_notice_check = 0.0

    # ---- clients ------------------------------------------------------------------------------

    def add(
        self,
        loop: asyncio.AbstractEventLoop,
        params: SearchParams | None = None,
        subscription_id: str | None = None,
        viewer: str | None = None,
        sees_all: bool = False,
    ) -> LiveClient:
        self.start()
        client = LiveClient(
            id=f"c{next(self._ids)}",
            loop=loop,
            queue=asyncio.Queue(self.queue_max),
            params=params,
            subscription_id=subscription_id,
            viewer=viewer,
            sees_all=sees_all,
        )
        with self._lock:
            if len(self.clients) >= self.max_clients:
                raise TooManyClients(f"{self.max_clients} streams are open")
            self.clients[client.id] = client
        metrics.LIVE_CLIENTS.set(len(self.clients))
        return client

    def remove(self, client: LiveClient) -> None:
        with self._lock:
            self.clients.pop(client.id, None)
        metrics.LIVE_CLIENTS.set(len(self.clients))

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        return self._ready.wait(timeout_s)

    # ---- the consumer thread ------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping.clear()
                self._thread = threading.Thread(target=self._run, name="live-hub", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _consumer(self) -> KafkaConsumer:
        consumer = make_reader(self.bootstrap, client_id="cwatch-live")
        partitions = []
        for topic in (self.topics.indexed, self.topics.alert):
            for p in sorted(consumer.partitions_for_topic(topic) or []):
                partitions.append(TopicPartition(topic, p))
        consumer.assign(partitions)
        consumer.seek_to_end(*partitions)
        for tp in partitions:
            consumer.position(tp)  # resolve now: "ready" means later events will be seen
        return consumer

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                consumer = self._consumer()
            except Exception:
                log.exception("live hub cannot reach Kafka; retrying")
                self._stopping.wait(2.0)
                continue
            self._ready.set()
            try:
                while not self._stopping.is_set():
                    polled = consumer.poll(timeout_ms=200, max_records=500)
                    indexed: list[IndexedEvent] = []
                    for tp, records in polled.items():
                        for record in records:
                            if tp.topic == self.topics.indexed:
                                try:
                                    indexed.append(IndexedEvent.model_validate_json(record.value))
                                except ValidationError:
                                    continue
                            else:
                                self._guarded(self._alert, record.value)
                    if indexed:
                        self._guarded(self._reports, indexed)
                    if time.monotonic() - self._last_notice_check >= NOTICE_CHECK_S:
                        self._last_notice_check = time.monotonic()
                        self._guarded(self._failing_channels, datetime.now(UTC))
            except Exception:
                log.exception("live hub failed; reconnecting")
            finally:
                consumer.close()

    @staticmethod
    def _guarded(step: Callable[[Any], None], arg: Any) -> None:
        """One batch or alert that fails (Elasticsearch away, a bug) is skipped: the streams
        and the Kafka connection go on, instead of a reconnect that starts again at the end."""
        try:
            step(arg)
        except Exception:
            log.exception("live hub step failed; skipped")

    def _alert(self, value: bytes) -> None:
        try:
            alert = Alert.model_validate_json(value)
        except ValidationError:
            return
        with self._lock:
            targets = [
                c
                for c in self.clients.values()
                if c.subscription_id == alert.subscription_id and not c.closed
            ]
        if targets and self.on_alert_sent:  # first: a client that sees it finds it logged
            self.on_alert_sent(alert.subscription_id, alert.alert_id)
        for client in targets:
            client.push("alert", alert.model_dump(mode="json"))

    def _failing_channels(self, now: datetime) -> None:
        """New `channel_failing` lines, each told once to the live feeds of its owner."""
        with self._lock:
            feed = [c for c in self.clients.values() if c.params is not None and not c.closed]
        if self.failing_since is None or not feed:
            return
        self._told = {k: at for k, at in self._told.items() if now - at < 2 * NOTICE_LOOKBACK}
        for line in self.failing_since(now - NOTICE_LOOKBACK):
            if line["id"] in self._told:
                continue
            self._told[line["id"]] = now
            notice = {
                "subscription_id": line["subscription_id"],
                "name": line.get("name"),
                "channel": line.get("channel"),
                "reason": line.get("error"),
                "at": line.get("at"),
            }
            owner = line.get("owner")
            for client in feed:
                if client.sees_all or (owner is not None and client.viewer == owner):
                    client.push("channel_failing", notice)

    def _reports(self, events: list[IndexedEvent]) -> None:
        with self._lock:
            feed = [c for c in self.clients.values() if c.params is not None and not c.closed]
        if not feed:
            return
        now = datetime.now(UTC)
        ids = [e.report_id for e in events]
        matches = match(self._msearch, self.alias, ids, feed, now)
        if not matches:
            return
        wanted = sorted({m.report_id for m in matches})
        resp = self.es.search(
            index=self.alias,
            query={"ids": {"values": wanted}},
            size=len(wanted),
            source_excludes=LIST_SOURCE_EXCLUDES,
            ignore_unavailable=True,
        )
        docs = {h["_id"]: summary(h) for h in resp["hits"]["hits"]}
        self._resolve_roots(list(docs.values()))
        by_client = {c.id: c for c in feed}
        for m in matches:
            doc = docs.get(m.report_id)
            client = by_client.get(m.subscription_id)
            if doc and client:
                client.push("report", doc)

    def _resolve_roots(self, docs: list[dict[str, Any]]) -> None:
        """The story each report lives on as right now (issue 20): the document's `story_root`
        may predate a merge another indexer is still writing back. One search when no merge
        touches these stories; on a failed search the document's own root stands."""

        def search(body: dict[str, Any]) -> dict[str, Any]:
            answer = self.es.search(index=self.alias, body=body, ignore_unavailable=True)
            return dict(getattr(answer, "body", answer))

        try:
            known = story_families(search, {str(d.get("story_id") or "") for d in docs})
        except Exception:  # the feed goes on with what the index said
            log.warning("live feed: story merges not looked up", exc_info=True)
            return
        with_roots(docs, known)


def with_roots(docs: list[dict[str, Any]], families: StoryFamilies) -> None:
    """Set each summary's `story_root` to the story its `story_id` lives on as."""
    for doc in docs:
        story = doc.get("story_id")
        if story:
            doc["story_root"] = families.root(str(story))


def sse(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    """One Server-Sent Event; data is JSON on one line (JSON escapes every newline)."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"
