"""Dead-letter publishing, shared by every stage: failed items are kept with their reason."""

from __future__ import annotations

import logging

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError

from schemas.deadletter import DeadLetter
from schemas.topics import key_for
from services.common.kafka import headers
from services.common.limits import MAX_VALUE_BYTES

log = logging.getLogger(__name__)


class DeadLetterFailed(KafkaError):
    """The dead-letter topic did not take a letter (broker away or timed out). Not the failure
    of whatever the caller was doing when it dead-lettered: the caller must not commit the
    original's offset, and should say that Kafka, not its own dependency, is the problem.
    A KafkaError, as what the sink raised before, for callers that already handle those."""


def encode(letter: DeadLetter, max_bytes: int = MAX_VALUE_BYTES) -> bytes:
    """The letter's bytes, never over `max_bytes`: when even the cut payload does not fit, it
    goes, and the letter refers to the original by topic/partition/offset."""
    value = letter.model_dump_json().encode("utf-8")
    if len(value) > max_bytes:
        value = letter.without_payload().model_dump_json().encode("utf-8")
    return value


class DeadLetterSink:
    """Sends DeadLetter records; `send` blocks until the broker acknowledged, so a caller may
    commit the original offset right after. Raises DeadLetterFailed when it was not."""

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
        value = encode(letter)
        try:
            self._send(letter, value, timeout_s)
        except MessageSizeTooLargeError:
            # A broker (or topic) limit lower than ours: the reference alone must do.
            try:
                self._send(letter, letter.without_payload().model_dump_json().encode(), timeout_s)
            except KafkaError as exc:
                raise DeadLetterFailed(f"dead letter refused: {exc!r}") from exc
        except KafkaError as exc:
            raise DeadLetterFailed(f"dead letter not sent: {exc!r}") from exc

    def _send(self, letter: DeadLetter, value: bytes, timeout_s: float) -> None:
        future = self._producer.send(
            self._topic,
            key=key_for("deadletter", letter),
            value=value,
            headers=headers(source=letter.source or "", stage=letter.stage.value),
        )
        future.get(timeout=timeout_s)
