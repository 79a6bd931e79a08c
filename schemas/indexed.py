"""indexed topic: a report became searchable (indexer -> live feed and alerts)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas.common import ContractModel
from schemas.topics import SCHEMA_VERSION


class IndexedEvent(ContractModel):
    schema_version: int = SCHEMA_VERSION
    report_id: str
    story_id: str
    index: str = Field(description="Concrete index the report was written to")
    headline: str = ""
    source_name: str = ""
    language: str = "und"
    relevant: bool = False
    published: datetime | None = None
    ingested_at: datetime
    indexed_at: datetime
