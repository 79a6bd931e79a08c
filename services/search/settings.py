"""The search API's one settings object (environment: CWATCH_API_* / CWATCH_SEARCH_*)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from services.common.settings import AuthSettings


class SearchSettings(AuthSettings):
    api_host: str = Field(default="127.0.0.1", description="Address `cwatch api run` binds")
    api_port: int = Field(default=8080, ge=0, le=65535)
    api_behind_tls: bool = Field(
        default=False,
        description="The API is reached through HTTPS (a reverse proxy): session cookies get "
        "the Secure flag",
    )
    api_session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="A browser session ends this long after login"
    )
    api_public_url: str = Field(
        default="",
        description="The address users open (https://watch.example.org); login links printed "
        "by `cwatch users login-link` start with it. Empty: http://<api host>:<api port>",
    )
    search_es_timeout_s: float = Field(
        default=5.0, gt=0, description="Client-side cap on one Elasticsearch request"
    )
    # A user is waiting on the answer: one resend of a dropped connection, not more (the
    # timeout above already bounds the wait of each try).
    ES_RETRIES: ClassVar[int] = 1

    def public_url(self) -> str:
        """Where users open the UI: the configured URL, else this machine's own address."""
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::", "") else self.api_host
        return (self.api_public_url or f"http://{host}:{self.api_port}").rstrip("/")

    @property
    def es_timeout_s(self) -> float:
        return self.search_es_timeout_s
