"""deadletter topic: anything a stage could not handle, with the reason and the original bytes.

A dead letter must always fit the topic's message limit, or the item it stands for is lost (a
stage that cannot send it either drops it or stops). So every free-size field is cut here:
the payload beyond `MAX_PAYLOAD_BYTES` (base64 makes it 4/3 larger) is dropped with
`payload_truncated` set, and the original is still found by topic/partition/offset.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from pydantic import Field

from schemas.common import ContractModel
from schemas.topics import SCHEMA_VERSION

MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
"""Original bytes kept in a letter: 5.3 MiB of base64, under the 8 MiB message limit."""
MAX_REASON_CHARS = 4000
MAX_NAME_CHARS = 4096  # source, original_topic, original_key


class Stage(StrEnum):
    INGEST = "ingest"
    EXTRACT = "extract"
    INDEX = "index"
    ALERT = "alert"
    DELIVERY = "delivery"


def _cut(value: object, limit: int = MAX_NAME_CHARS) -> object:
    return value[:limit] if isinstance(value, str) else value


class Record(Protocol):
    """Where a consumed message came from: a kafka-python ConsumerRecord, a faust event's
    origin, or any object with these attributes."""

    @property
    def topic(self) -> str | None: ...
    @property
    def partition(self) -> int | None: ...
    @property
    def offset(self) -> int | None: ...
    @property
    def key(self) -> bytes | None: ...


class DeadLetter(ContractModel):
    schema_version: int = SCHEMA_VERSION
    stage: Stage
    reason: str = Field(description="Human-readable cause, e.g. 'mapper_parsing_exception: ...'")
    error_type: str = Field(default="error", description="Machine-friendly class of failure")
    source: str | None = Field(default=None, description="Feed URL, file path or sender")
    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    original_key: str | None = None
    payload_b64: str = Field(default="", description="The original message bytes, base64")
    payload_truncated: bool = Field(
        default=False,
        description="True when payload_b64 holds only the first bytes of the original (see "
        "payload_size); the whole message is at original_topic/partition/offset",
    )
    payload_size: int | None = Field(
        default=None, ge=0, description="Size in bytes of the original payload"
    )
    failed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    attempts: int = Field(default=1, ge=1)

    @classmethod
    def of(
        cls,
        stage: Stage,
        reason: str,
        payload: bytes | str | None = None,
        *,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        **kw: object,
    ) -> DeadLetter:
        raw = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else payload
        raw = raw or b""
        for name in ("source", "original_topic", "original_key", "error_type"):
            if name in kw:
                kw[name] = _cut(kw[name])
        kept = raw[: max(0, max_payload_bytes)]
        return cls(
            stage=stage,
            reason=reason[:MAX_REASON_CHARS],
            payload_b64=base64.b64encode(kept).decode("ascii"),
            payload_truncated=len(kept) < len(raw),
            payload_size=len(raw),
            **kw,
        )

    @classmethod
    def from_record(
        cls,
        stage: Stage,
        reason: str,
        record: Record,
        payload: bytes | None = None,
        *,
        error_type: str,
        source: str | None = None,
    ) -> DeadLetter:
        """The letter of one consumed record: its bytes (`payload`, else `record.value`) and
        where it is (topic, partition, offset; the key as text, undecodable bytes replaced).
        Every consumer builds its letters here, so they all point back the same way."""
        if payload is None:
            payload = getattr(record, "value", None)
        return cls.of(
            stage,
            reason,
            payload,
            error_type=error_type,
            original_topic=record.topic,
            original_partition=record.partition,
            original_offset=record.offset,
            original_key=(record.key or b"").decode("utf-8", "replace") or None,
            source=source,
        )

    def payload(self) -> bytes:
        return base64.b64decode(self.payload_b64)

    def without_payload(self) -> DeadLetter:
        """This letter with no original bytes: what is left when even a cut payload does not
        fit (the reason and the topic/partition/offset of the original still do)."""
        if not self.payload_b64:
            return self
        return self.model_copy(update={"payload_b64": "", "payload_truncated": True})
