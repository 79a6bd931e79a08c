"""The Kafka edge of the ingestor: validated, size-checked RawArticles keyed by article_id.

Delivery rule: an article id is written to the state only after the broker acknowledged the
message; while the broker is unavailable the sink waits and re-sends, so nothing read is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError, KafkaTimeoutError
from pydantic import ValidationError

from schemas.raw import MAX_RAW_HTML_CHARS, RawArticle
from schemas.topics import key_for
from services.common.dlq import encode
from services.common.kafka import headers, make_producer
from services.common.redact import mask_text
from services.ingestor.adapters.base import Failure, ItemError
from services.ingestor.metrics import (
    ITEMS_DUPLICATE,
    ITEMS_FAILED,
    ITEMS_PRODUCED,
    ITEMS_TRUNCATED,
    KAFKA_RETRIES,
    PENDING,
)
from services.ingestor.settings import IngestorSettings
from services.ingestor.state import IngestState

log = logging.getLogger(__name__)

# Key, headers and the record framing need room next to the JSON value.
ENVELOPE_BYTES = 64 * 1024
FLUSH_EVERY = 500


def fit_to_limit(article: RawArticle, limit_bytes: int) -> tuple[RawArticle, bytes]:
    """The article as JSON bytes under `limit_bytes`: oversized HTML (or text) is cut on
    purpose, with html_truncated=True and original_size kept, never dropped silently."""
    payload = article.model_dump_json().encode("utf-8")
    too_many_chars = bool(article.html and len(article.html) > MAX_RAW_HTML_CHARS)
    if len(payload) <= limit_bytes and not too_many_chars:
        return article, payload
    field = "html" if article.html else "text"
    body: str = getattr(article, field) or ""
    original = len(body.encode("utf-8"))
    shell = article.model_copy(
        update={field: "", "html_truncated": True, "original_size": original}
    )
    room = limit_bytes - len(shell.model_dump_json().encode("utf-8"))
    keep = min(len(body), MAX_RAW_HTML_CHARS if field == "html" else len(body), max(room, 0))
    while True:
        cut = article.model_copy(
            update={field: body[:keep], "html_truncated": True, "original_size": original}
        )
        payload = cut.model_dump_json().encode("utf-8")
        if len(payload) <= limit_bytes or keep == 0:
            return cut, payload
        # JSON escapes and multi-byte characters make a char longer than a byte.
        keep = int(keep * min(0.95, limit_bytes / len(payload)))


@dataclass(frozen=True)
class Prepared:
    """An article as the bytes that go to Kafka, checked against the schema."""

    article_id: str
    value: bytes
    source_name: str
    source_kind: str
    truncated: bool = False


def prepare(article: RawArticle, limit_bytes: int) -> Prepared:
    """Fit to the message limit and validate what consumers will parse. Raises ItemError."""
    fitted, value = fit_to_limit(article, limit_bytes)
    try:
        RawArticle.model_validate_json(value)
    except ValidationError as exc:
        raise ItemError("invalid_item", f"article fails the raw schema: {exc}") from exc
    return Prepared(
        article_id=fitted.article_id,
        value=value,
        source_name=fitted.source.name,
        source_kind=fitted.source.kind.value,
        truncated=fitted.html_truncated and not article.html_truncated,
    )


@dataclass
class _Pending:
    article_id: str  # the Kafka key: every version of an item goes to the same partition
    kind: str
    value: bytes
    headers: list[tuple[str, bytes]]
    future: Any
    aliases: tuple[str, ...] = ()
    seen_id: str = ""  # what is marked produced: the article id, or one version of it

    def __post_init__(self) -> None:
        self.seen_id = self.seen_id or self.article_id


ProducerFactory = Callable[[], Any]


class RawSink:
    """Sends RawArticles and dead letters; `flush()` returns once every article is acked."""

    def __init__(
        self,
        settings: IngestorSettings,
        state: IngestState,
        producer_factory: ProducerFactory | None = None,
        stop: threading.Event | None = None,
        on_acked: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.topic = settings.topics.raw
        self.deadletter_topic = settings.topics.deadletter
        self._factory = producer_factory or (
            lambda: make_producer(
                settings.kafka_bootstrap_servers,
                "cwatch-ingestor",
                # articles are KBs each: bigger batches mean fewer sender wake-ups per send
                batch_size=1024 * 1024,
                linger_ms=20,
            )
        )
        self._producer: Any = None
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.RLock()
        self.stop = stop or threading.Event()
        self.limit_bytes = settings.max_message_bytes - ENVELOPE_BYTES
        self.on_acked = on_acked
        self.produced = 0
        self.duplicates = 0
        self.failed = 0

    # -- producer lifecycle -------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        return min(
            self.settings.kafka_retry_max_s,
            self.settings.kafka_retry_initial_s * 2 ** min(attempt, 10),
        )

    def producer(self) -> Any:
        attempt = 0
        while self._producer is None:
            try:
                self._producer = self._factory()
            except KafkaError as exc:
                wait = self._backoff(attempt)
                log.warning("Kafka unavailable, waiting", extra={"error": str(exc), "wait_s": wait})
                KAFKA_RETRIES.inc()
                attempt += 1
                if self.stop.wait(wait):
                    raise ShutdownWithPending("stopped while waiting for Kafka") from exc
        return self._producer

    def close(self, timeout_s: float = 10.0) -> None:
        if self._producer is not None:
            try:
                self._producer.flush(timeout=timeout_s)
            except KafkaError:
                pass
            self._producer.close(timeout=timeout_s)
            self._producer = None

    # -- articles -----------------------------------------------------------------------
    def is_duplicate(self, article_id: str) -> bool:
        with self._lock:
            if article_id in self._pending:
                return True
        return self.state.is_seen(article_id)

    def submit(
        self,
        article: RawArticle,
        kind: str = "",
        aliases: tuple[str, ...] = (),
        seen_id: str | None = None,
    ) -> bool:
        """Queue one article; False when it was produced before (a duplicate). `aliases` are
        other ids of the same item (e.g. the feed link's id when the page redirected) that
        are marked seen with it, so the next poll skips the item before fetching it.
        `seen_id` names one version of an item (edits, withdrawals): the Kafka key stays
        the article id, the duplicate check and the state use the version's id."""
        kind = kind or article.source.kind.value
        if self.is_duplicate(seen_id or article.article_id):
            ITEMS_DUPLICATE.labels(kind).inc()
            self.duplicates += 1
            return False
        return self.submit_prepared(
            prepare(article, self.limit_bytes), kind, aliases, seen_id=seen_id
        )

    def submit_prepared(
        self,
        prepared: Prepared,
        kind: str = "",
        aliases: tuple[str, ...] = (),
        checked: bool = False,
        seen_id: str | None = None,
    ) -> bool:
        """Queue an article already fitted and validated (e.g. by a parser process).
        `checked`: the caller already looked it up in the state (in bulk)."""
        kind = kind or prepared.source_kind
        seen_id = seen_id or prepared.article_id
        with self._lock:
            pending = seen_id in self._pending
        if pending or (not checked and self.state.is_seen(seen_id)):
            ITEMS_DUPLICATE.labels(kind).inc()
            self.duplicates += 1
            return False
        if prepared.truncated:
            ITEMS_TRUNCATED.inc()
        item = _Pending(
            article_id=prepared.article_id,
            kind=kind,
            value=prepared.value,
            headers=headers(
                source=prepared.source_name,
                source_kind=prepared.source_kind,
                article_id=prepared.article_id,
            ),
            future=None,
            aliases=tuple(a for a in aliases if a != seen_id),
            seen_id=seen_id,
        )
        with self._lock:
            self._pending[item.seen_id] = item
            PENDING.set(len(self._pending))
        self._send(item)
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()
        return True

    def _send(self, item: _Pending) -> None:
        try:
            item.future = self.producer().send(
                self.topic,
                key=key_for("raw", item),
                value=item.value,
                headers=item.headers,
            )
        except KafkaError as exc:  # metadata wait timed out: the broker is away
            log.warning("send failed, will retry", extra={"error": str(exc), "key": item.seen_id})
            item.future = None

    def pending_ids(self) -> set[str]:
        with self._lock:
            return set(self._pending)

    def flush(self, timeout_s: float | None = None) -> set[str]:
        """Wait until every queued article is acknowledged (re-sending after failures).
        Returns the ids still unacknowledged when timeout_s ran out or stop was set."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        attempt = 0
        while True:
            with self._lock:
                pending = list(self._pending.values())
            if not pending:
                return set()
            if self.stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                return {p.seen_id for p in pending}
            wait = self.settings.ack_timeout_s
            if deadline is not None:
                wait = max(0.1, min(wait, deadline - time.monotonic()))
            if any(p.future is not None for p in pending):
                try:
                    self.producer().flush(timeout=wait)
                except KafkaTimeoutError:
                    log.warning("Kafka has not acknowledged yet, still waiting")
            acked: list[_Pending] = []
            retry: list[_Pending] = []
            for p in pending:
                if p.future is None:
                    retry.append(p)
                elif p.future.is_done:
                    (acked if p.future.succeeded() else retry).append(p)
            self._acknowledge(acked)
            if retry:
                KAFKA_RETRIES.inc(len(retry))
                if self.stop.wait(self._backoff(attempt)):
                    continue
                attempt += 1
                for p in retry:
                    self._send(p)
            elif acked:
                attempt = 0

    def _acknowledge(self, acked: list[_Pending]) -> None:
        if not acked:
            return
        self.state.mark_seen(i for p in acked for i in (p.seen_id, *p.aliases))
        with self._lock:
            for p in acked:
                self._pending.pop(p.seen_id, None)
            PENDING.set(len(self._pending))
        for p in acked:
            ITEMS_PRODUCED.labels(p.kind).inc()
            self.produced += 1
            if self.on_acked:
                self.on_acked(p.article_id)

    # -- dead letters -------------------------------------------------------------------
    def dead_letter(self, failure: Failure) -> None:
        """Publish a failure (waits for the ack, retrying while Kafka is away)."""
        ITEMS_FAILED.labels(failure.error_type).inc()
        self.failed += 1
        letter = failure.to_dead_letter()
        log.warning(
            "dead-lettered",
            extra={
                "source": failure.source,
                "reason": failure.reason[:300],
                "error_type": failure.error_type,
            },
        )
        value = encode(letter)  # masked (no URL credentials) and cut to the topic's limit
        attempt = 0
        while True:
            try:
                future = self.producer().send(
                    self.deadletter_topic,
                    key=key_for("deadletter", letter),
                    value=value,
                    headers=headers(source=mask_text(failure.source)[:1000], stage="ingest"),
                )
                future.get(timeout=self.settings.ack_timeout_s)
                return
            except KafkaError as exc:
                KAFKA_RETRIES.inc()
                log.warning("dead letter not acknowledged, retrying", extra={"error": str(exc)})
                if self.stop.wait(self._backoff(attempt)):
                    raise ShutdownWithPending("stopped before a dead letter was acked") from exc
                attempt += 1


class ShutdownWithPending(Exception):
    """Stopped while Kafka was away; unacknowledged items are not marked seen (re-read later)."""
