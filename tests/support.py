"""Helpers for tests: `from tests.support import wait_for, consume_all`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    timeout_s: float = 30.0,
    interval_s: float = 0.2,
    what: str = "condition",
) -> T:
    """Poll until `condition()` is truthy; return its value, or fail the test naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


def consume_all(
    bootstrap: str, topic: str, expect: int | None = None, timeout_s: float = 20.0
) -> list[Any]:
    """Read a topic from the beginning with a fresh group; stop at `expect` records or when idle."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(timeout_s * 1000) if expect is None else 1000,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
            if expect is not None and len(records) >= expect:
                break
            if expect is None and not batch and records:
                break
    finally:
        consumer.close()
    return records
