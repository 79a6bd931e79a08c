"""The search API's one settings object (environment: CWATCH_API_* / CWATCH_SEARCH_*)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from services.common.httpguard import check_rate
from services.common.settings import AuthSettings, comma_list

Names = Annotated[list[str], NoDecode]


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
    api_ingestor_url: str = Field(
        default="http://127.0.0.1:8081",
        description="The ingestor daemon whose /v1/sources the UI's source-health view shows",
    )
    # Browser and abuse protections (services/api/guards.py, README "Browser and abuse
    # protections").
    api_allowed_hosts: Names = Field(
        default_factory=list,
        description="Host names the API answers to, comma separated (DNS-rebinding guard); "
        "empty: the bind address, localhost, 127.0.0.1 and ::1; '*' turns the check off",
    )
    api_public_origins: Names = Field(
        default_factory=list,
        description="Origins browsers reach the API at behind a reverse proxy "
        "(https://news.example.org), comma separated: their hosts are allowed and their "
        "state-changing requests accepted",
    )
    api_cors_origins: Names = Field(
        default_factory=list,
        description="Origins whose scripts may call the API (CORS), comma separated; empty: none",
    )
    api_max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body (413 beyond)"
    )
    api_rate_search: str = Field(
        default="120/minute",
        description="Searches (search, facets, reports, UI views) per client; a client is its "
        "bearer token, session cookie or address",
    )
    api_rate_live: str = Field(
        default="30/minute", description="Live-feed and alert streams opened per client"
    )
    api_live_per_client: int = Field(
        default=8, ge=1, description="Live-feed and alert streams open at once per client"
    )
    # Failed logins (services/common/auth/throttle.py, README "Running it for a team").
    api_login_failures: int = Field(
        default=5,
        ge=1,
        description="Failed logins one account name may have before each next attempt waits "
        "(30 s, doubling after each further failure); a name no user has counts the same",
    )
    api_login_address_failures: int = Field(
        default=20,
        ge=1,
        description="Failed logins (passwords or login links) one client address may have "
        "before each next attempt waits, the same way",
    )
    api_login_max_wait_s: float = Field(
        default=900.0,
        ge=30,
        le=86400,
        description="The longest wait between failed logins; an admin ends it with "
        "`cwatch users unlock`",
    )
    api_rate_login: str = Field(
        default="30/minute",
        description="Login requests per client address and API process, whatever their outcome "
        "(a cheap guard before the shared count above)",
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
    export_max_per_user: int = Field(
        default=2,
        ge=1,
        description="Exports one user streams at once (whatever tokens or sessions they use); "
        "one more is answered 429, so one user never holds every slot",
    )
    # A user is waiting on the answer: one resend of a dropped connection, not more (the
    # timeout above already bounds the wait of each try).
    ES_RETRIES: ClassVar[int] = 1

    _names = field_validator(
        "api_allowed_hosts", "api_public_origins", "api_cors_origins", mode="before"
    )(comma_list)

    @field_validator("api_rate_search", "api_rate_live", "api_rate_login")
    @classmethod
    def _rate(cls, value: Any) -> str:
        return check_rate(str(value))

    def public_url(self) -> str:
        """Where users open the UI: the configured URL, else this machine's own address."""
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::", "") else self.api_host
        return (self.api_public_url or f"http://{host}:{self.api_port}").rstrip("/")

    @property
    def es_timeout_s(self) -> float:
        return self.search_es_timeout_s
