"""deadletter topic: anything a stage could not handle, with the reason and the original bytes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import Field

from schemas.common import ContractModel
from schemas.topics import SCHEMA_VERSION


class Stage(StrEnum):
    INGEST = "ingest"
    EXTRACT = "extract"
    INDEX = "index"
    ALERT = "alert"
    DELIVERY = "delivery"


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
    failed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    attempts: int = Field(default=1, ge=1)

    @classmethod
    def of(
        cls, stage: Stage, reason: str, payload: bytes | str | None = None, **kw: object
    ) -> DeadLetter:
        raw = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else payload
        return cls(
            stage=stage,
            reason=reason[:4000],
            payload_b64=base64.b64encode(raw or b"").decode("ascii"),
            **kw,
        )

    def payload(self) -> bytes:
        return base64.b64decode(self.payload_b64)
