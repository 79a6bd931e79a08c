"""The search API's one settings object (environment: CWATCH_API_* / CWATCH_SEARCH_*)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from services.common.settings import CommonSettings


class SearchSettings(CommonSettings):
    api_host: str = Field(default="127.0.0.1", description="Address `cwatch api run` binds")
    api_port: int = Field(default=8080, ge=0, le=65535)
    search_es_timeout_s: float = Field(
        default=5.0, gt=0, description="Client-side cap on one Elasticsearch request"
    )
    export_max_rows: int = Field(
        default=1_000_000,
        ge=1,
        description="Reports one export reads at most (API and `cwatch export`, which can ask "
        "for fewer or, with --max-rows, more)",
    )
    export_time_budget_s: float = Field(
        default=900.0,
        ge=0,
        description="No export page is read after this long; the API aborts a response cut "
        "short, the CLI says so (0 = no limit)",
    )
    export_max_concurrent: int = Field(
        default=4,
        ge=1,
        description="Exports one API process streams at once; one more is answered 429",
    )
    # A user is waiting on the answer: one resend of a dropped connection, not more (the
    # timeout above already bounds the wait of each try).
    ES_RETRIES: ClassVar[int] = 1

    @property
    def es_timeout_s(self) -> float:
        return self.search_es_timeout_s
