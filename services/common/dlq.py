"""Dead-letter publishing, shared by every stage: failed items are kept with their reason."""

from __future__ import annotations

import logging

from kafka import KafkaProducer

from schemas.deadletter import DeadLetter
from services.common.kafka import headers

log = logging.getLogger(__name__)


class DeadLetterSink:
    """Sends DeadLetter records; `send` blocks until the broker acknowledged, so a caller may
    commit the original offset right after."""

    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    def send(self, letter: DeadLetter, timeout_s: float = 30.0) -> None:
        log.warning(
            "dead-lettered",
            extra={
                "stage": letter.stage.value,
                "reason": letter.reason[:300],
                "key": letter.original_key,
            },
        )
        future = self._producer.send(
            self._topic,
            key=(letter.original_key or "").encode("utf-8") or None,
            value=letter.model_dump_json().encode("utf-8"),
            headers=headers(source=letter.source or "", stage=letter.stage.value),
        )
        future.get(timeout=timeout_s)
