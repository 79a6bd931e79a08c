"""alert topic: a subscription matched (alerts -> delivery channels)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas.common import ContractModel
from schemas.topics import SCHEMA_VERSION


class Alert(ContractModel):
    schema_version: int = SCHEMA_VERSION
    alert_id: str = Field(description="Stable: subscription + story (or report), for idempotency")
    subscription_id: str
    report_ids: list[str] = Field(min_length=1)
    story_id: str
    count: int = Field(default=1, ge=1, description="Reports of this story matched so far")
    headline: str = ""
    url: str | None = None
    matched_at: datetime
    ingested_at: datetime | None = None
    version: int = Field(default=1, ge=1, description="Version of the report's source item")
    change: str | None = Field(
        default=None,
        description="Statement history: 'edited' or 'withdrawn' when this alert is about "
        "that change of the report (one alert per change)",
    )
