"""`cwatch demo push`: a steady stream of generated articles into the push API.

A folder ingested at once makes a static demo; the live feed and alerts are only worth watching
when news keeps arriving. This posts generated articles (published "now", labelled as generated)
to the ingestor's `POST /v1/articles` at a fixed rate. The same seed gives the same URLs, which
the ingestor recognises as duplicates: use another seed for fresh news.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from services.demo.generator import CorpusGenerator
from services.demo.writers import jsonl_record

RETRY_STATUSES = {429, 502, 503, 504}  # the ingestor asks to retry when Kafka is slow
MAX_ATTEMPTS = 3
MAX_CONSECUTIVE_ERRORS = 5


@dataclass
class PushSummary:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "seconds": round(self.seconds, 3)}


def live_batches(
    count: int, seed: int, batch: int, clock: Callable[[], datetime]
) -> Iterator[list[dict[str, Any]]]:
    """Push payloads of `batch` articles each, published at the moment they are made."""
    pending: list[dict[str, Any]] = []
    for article in CorpusGenerator(seed).articles(count):
        record = jsonl_record(article)
        record["published"] = clock().isoformat()
        pending.append(record)
        if len(pending) == batch:
            yield pending
            pending = []
    if pending:
        yield pending


def push(
    url: str,
    count: int,
    seed: int = 7,
    rate: float = 1.0,
    batch: int = 1,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Callable[[PushSummary], None] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> PushSummary:
    """Post `count` articles at `rate` articles per second (batches keep the same rate)."""
    if rate <= 0 or batch < 1 or count < 1:
        raise ValueError("rate must be positive, batch and count at least 1")
    summary = PushSummary()
    http = client or httpx.Client(timeout=30)
    started = monotonic()
    consecutive_errors = 0
    try:
        for n, records in enumerate(live_batches(count, seed, batch, clock)):
            due = started + n * batch / rate
            wait = due - monotonic()
            if wait > 0:
                sleep(wait)
            summary.sent += len(records)
            outcome = _post(http, url, records, sleep)
            if outcome is None:
                summary.errors += len(records)
                consecutive_errors += 1
                if consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
                    break  # the API is gone: stop instead of spinning through the corpus
                continue
            consecutive_errors = 0
            status, body = outcome
            if status == 202:
                summary.accepted += int(body.get("accepted", 0))
                summary.duplicates += len(body.get("duplicates", []))
            else:
                summary.rejected += len(records)
            if progress is not None:
                progress(summary)
    finally:
        if client is None:
            http.close()
    summary.seconds = monotonic() - started
    return summary


def _post(
    http: httpx.Client, url: str, records: list[dict[str, Any]], sleep: Callable[[float], None]
) -> tuple[int, dict[str, Any]] | None:
    """(status, JSON body) of the last attempt, or None when the API could not be reached."""
    payload = {"articles": records}
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            response = http.post(url, json=payload)
        except httpx.HTTPError:
            if attempt == MAX_ATTEMPTS:
                return None
            sleep(0.5 * attempt)
            continue
        if response.status_code in RETRY_STATUSES and attempt < MAX_ATTEMPTS:
            sleep(0.5 * attempt)
            continue
        try:
            body = response.json()
        except ValueError:
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}
    return None
