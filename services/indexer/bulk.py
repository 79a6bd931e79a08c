"""Bulk batching and per-item outcome handling, independent of Kafka and of the ES client.

A batch is bounded by count, bytes and age. Each bulk item is classified:
2xx ok; 409 a version conflict, i.e. a newer version of the same report is there already
(statement history: a late copy of an older version): ok, nothing to write; 429 and 5xx
retried with exponential backoff and jitter; any other 4xx (mapping or parse errors) rejected,
to be dead-lettered while the rest of the batch is indexed.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    OK = "ok"
    REPLAY = "replay"
    RETRY = "retry"
    REJECT = "reject"


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.OK
    if status == 409:
        return Outcome.REPLAY
    if status == 429 or status >= 500:
        return Outcome.RETRY
    return Outcome.REJECT


def _clip(text: object, limit: int = 600) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_reason(item: Mapping[str, Any]) -> str:
    """'mapper_parsing_exception: failed to parse [x] (caused by ...)' from a bulk item.
    Each part is clipped, since ES quotes the offending value, which may be huge."""
    error = item.get("error")
    if not error:
        return f"status {item.get('status')}"
    if isinstance(error, str):
        return _clip(error, 2000)
    text = f"{error.get('type', 'error')}: {_clip(error.get('reason', ''))}".strip()
    cause = error.get("caused_by")
    if isinstance(cause, Mapping):
        text += f" (caused by {cause.get('type', 'error')}: {_clip(cause.get('reason', ''))})"
    return text


def error_type(item: Mapping[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, Mapping):
        return str(error.get("type", "error"))
    return f"http_{item.get('status', 'error')}"


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed so retries do spread out in time, half
    random so that many indexers do not retry in lockstep."""
    ceiling = min(cap_s, base_s * (2 ** max(attempt, 0)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass
class Action:
    """One document to index, with whatever the caller needs to trace it back (its Kafka record)."""

    doc_id: str
    index: str
    source_json: str
    context: Any = None
    version: int | None = None  # the item's version: written as external_gte, None: always

    @property
    def size(self) -> int:
        return len(self.source_json) + len(self.doc_id) + len(self.index) + 64


def bulk_body(actions: Sequence[Action]) -> str:
    """NDJSON with op_type index: a replay of the same report id overwrites, never duplicates.
    An action with a version is written with `version_type: external_gte`: the same version
    again overwrites (a replay), an older one than the document's is refused with 409."""
    lines: list[str] = []
    heads: dict[str, str] = {}  # a batch writes to a few monthly indices: one prefix each
    for action in actions:
        head = heads.get(action.index)
        if head is None:
            head = heads[action.index] = (
                '{"index":{"_index":' + json.dumps(action.index) + ',"_id":'
            )
        if action.version is None:
            lines.append(f"{head}{json.dumps(action.doc_id)}}}}}")
        else:
            lines.append(
                f"{head}{json.dumps(action.doc_id)},"
                f'"version":{int(action.version)},"version_type":"external_gte"}}}}'
            )
        lines.append(action.source_json)
    return "\n".join(lines) + "\n"


@dataclass
class Rejected:
    action: Action
    status: int
    reason: str
    error_type: str


@dataclass
class Batch:
    """A batch in flight. It remembers progress, so a flush interrupted by an outage resumes
    with only the items Elasticsearch has not acknowledged yet."""

    actions: list[Action] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)
    size: int = 0
    started: float = 0.0
    acknowledged: list[tuple[Action, Outcome]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    steps: set[str] = field(default_factory=set)  # follow-up steps done (refresh, dlq, ...)

    def __len__(self) -> int:
        return len(self.contexts)


@dataclass(frozen=True)
class BatchLimits:
    max_docs: int = 1000
    max_bytes: int = 8 * 1024 * 1024
    max_wait_s: float = 0.1


class Batcher:
    """Accumulates actions until a limit is hit. Every record consumed is also recorded as a
    context (even one that produced no action, e.g. an invalid message), so its offset is only
    committed together with the batch."""

    def __init__(self, limits: BatchLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._batch = Batch()

    def add(self, action: Action | None, context: Any = None) -> None:
        if not self._batch.contexts:
            self._batch.started = self._clock()
        if action is not None:
            self._batch.actions.append(action)
            self._batch.size += action.size
        self._batch.contexts.append(context if context is not None else action)

    def __len__(self) -> int:
        return len(self._batch)

    def full(self) -> bool:
        return (
            len(self._batch.actions) >= self.limits.max_docs
            or self._batch.size >= self.limits.max_bytes
        )

    def due(self) -> bool:
        if not self._batch.contexts:
            return False
        return self.full() or self._clock() - self._batch.started >= self.limits.max_wait_s

    def take(self) -> Batch:
        batch, self._batch = self._batch, Batch()
        return batch


SendFn = Callable[[Sequence[Action]], Sequence[Mapping[str, Any]]]
"""Sends one bulk request and returns, per action and in order, the item result
(`{"status": 201, ...}`). Raises when Elasticsearch cannot be reached at all."""


class RetriesExhausted(Exception):
    """Some items still got 429/5xx after every attempt; the batch keeps them for later."""


def index_batch(
    batch: Batch,
    send: SendFn,
    max_attempts: int,
    base_s: float,
    cap_s: float,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_item: Callable[[Outcome, Mapping[str, Any]], None] | None = None,
) -> None:
    """Index `batch.actions`, moving items to `acknowledged` / `rejected` as ES answers.

    Raises whatever `send` raises (ES unreachable) or RetriesExhausted; in both cases the batch
    still holds exactly the unacknowledged items, so calling again later is safe.
    """
    rng = rng or random.Random()
    for attempt in range(max_attempts):
        if not batch.actions:
            return
        results = send(batch.actions)
        if len(results) != len(batch.actions):
            raise RuntimeError(f"bulk returned {len(results)} items for {len(batch.actions)}")
        retry: list[Action] = []
        for action, item in zip(batch.actions, results, strict=True):
            status = int(item.get("status", 0))
            outcome = classify(status)
            if on_item:
                on_item(outcome, item)
            if outcome in (Outcome.OK, Outcome.REPLAY):
                batch.acknowledged.append((action, outcome))
            elif outcome == Outcome.RETRY:
                retry.append(action)
            else:
                batch.rejected.append(
                    Rejected(action, status, error_reason(item), error_type(item))
                )
        batch.actions = retry
        if retry and attempt + 1 < max_attempts:
            sleep(backoff_delay(attempt, base_s, cap_s, rng))
    if batch.actions:
        raise RetriesExhausted(
            f"{len(batch.actions)} items still refused after {max_attempts} tries"
        )
