"""The alerts service's one settings object (environment: CWATCH_ALERTS_*)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from services.common.settings import CommonSettings


class AlertsSettings(CommonSettings):
    CONSUMER_GROUPS = ("alerts_group_id",)

    alerts_group_id: str = Field(
        default="cwatch-alerts",
        description="Consumer group on indexed; the default gets CWATCH_NAMESPACE as prefix",
    )
    alerts_batch_max: int = Field(default=200, ge=1, description="Indexed events per match round")
    alerts_batch_wait_ms: int = Field(
        default=1000,
        ge=0,
        description="How long a match round waits after its first report for more at most (each "
        "round costs Elasticsearch about the same whatever its size; see the next)",
    )
    alerts_match_share: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="Share of the time match rounds may keep Elasticsearch busy: a round waits "
        "for more reports until the last round's matching time / share has passed",
    )
    alerts_msearch_chunk: int = Field(
        default=1000, ge=1, description="Subscriptions per multi-search request"
    )
    alerts_match_group: int = Field(
        default=250, ge=1, description="Subscription queries answered by one search (named queries)"
    )
    alerts_subscription_refresh_s: float = Field(
        default=2.0, gt=0, description="How often the matcher re-reads the subscriptions"
    )
    alerts_webhook_timeout_s: float = Field(
        default=5.0, gt=0, description="Per connect / read / write of a webhook attempt"
    )
    alerts_webhook_deadline_s: float | None = Field(
        default=None,
        gt=0,
        description="Total time of one webhook attempt (connect, send and the whole answer); "
        "twice the timeout when unset",
    )
    alerts_webhook_max_response_bytes: int = Field(
        default=64 * 1024, ge=0, description="Bytes of a receiver's answer read at most"
    )
    alerts_webhook_workers: int = Field(
        default=16,
        ge=1,
        description="Deliveries in parallel (webhook, email, chat); one subscription uses at "
        "most one at a time",
    )
    alerts_email_workers: int = Field(
        default=8,
        ge=1,
        description="Of those, emails sent at once at most (= SMTP connections kept open): a "
        "slow SMTP server holds these, the other channels keep the rest",
    )
    alerts_webhook_in_flight_max: int = Field(
        default=2000,
        ge=1,
        description="Alerts read but not yet delivered or dead-lettered before reading pauses",
    )
    alerts_webhook_max_attempts: int = Field(
        default=5,
        ge=1,
        description="Attempts before a delivery (any channel) is dead-lettered",
    )
    alerts_webhook_backoff_s: float = Field(
        default=0.5, ge=0, description="First retry delay; doubles per attempt, with jitter"
    )
    alerts_webhook_backoff_max_s: float = Field(default=30.0, ge=0)
    alerts_live_queue_max: int = Field(
        default=256, ge=1, description="Events waiting for one SSE client before it is closed"
    )
    alerts_live_max_clients: int = Field(
        default=1000, ge=1, description="Open SSE streams (live feed and alert streams)"
    )
    alerts_allow_loopback: bool = Field(
        default=False, description="Allow webhooks to loopback addresses (tests, local dev)"
    )
    alerts_allow_private: bool = Field(
        default=False, description="Allow webhooks to private / link-local networks"
    )
    alerts_es_timeout_s: float = Field(default=10.0, gt=0)
    alerts_smtp_host: str = Field(default="127.0.0.1", description="SMTP server of alert emails")
    alerts_smtp_port: int = Field(default=25, ge=1, le=65535)
    alerts_smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="starttls",
        description="'starttls' (submission, 587), 'tls' (implicit TLS, 465) or 'none' "
        "(a local relay only)",
    )
    alerts_smtp_ca_file: str | None = Field(
        default=None,
        description="CA bundle the SMTP server's certificate is checked against (a private "
        "relay's CA); unset: the system's",
    )
    alerts_smtp_username: str = Field(default="", description="SMTP login; empty: no login")
    alerts_smtp_password: SecretStr = Field(default=SecretStr(""))
    alerts_smtp_from: str = Field(
        default="cwatch alerts <alerts@localhost>", description="From: of alert emails"
    )
    alerts_smtp_timeout_s: float = Field(
        default=10.0, gt=0, description="Per connect / command of an SMTP exchange"
    )
    alerts_smtp_deadline_s: float = Field(
        default=30.0, gt=0, description="Total time of one email's SMTP exchange"
    )
    alerts_email_max_bytes: int = Field(
        default=256 * 1024,
        ge=4096,
        description="Text of one email at most (a digest over it shows fewer stories and says so)",
    )
    alerts_public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="The API's address as readers reach it: base of email unsubscribe links",
    )
    alerts_telegram_api_url: str = Field(
        default="https://api.telegram.org", description="Telegram Bot API base URL"
    )
    alerts_channel_failing_after: int = Field(
        default=3,
        ge=1,
        description="Dead letters in a row after which a subscription's channel is reported "
        "failing (log, metric, delivery log)",
    )
    alerts_digest_check_s: float = Field(
        default=5.0, gt=0, description="How often due email digests are looked for"
    )
    alerts_dlq_max_ratio: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Stop (offsets uncommitted) when more than this share of the last 1000 "
        "indexed events (matching) or alerts (dispatch) would be dead-lettered as invalid: "
        "a bug, not bad input; 0 = no limit",
    )
    # Matching runs in the background with no one waiting: two resends of a dropped
    # connection are cheaper than a round of alerts held back (or the store's writes lost).
    ES_RETRIES: ClassVar[int] = 2

    @property
    def es_timeout_s(self) -> float:
        return self.alerts_es_timeout_s

    alerts_session_timeout_ms: int = Field(
        default=10_000,
        ge=6_000,
        description="A crashed instance's partitions (indexed and alert) move on after this long",
    )

    def webhook_deadline_s(self) -> float:
        """Unset, the deadline follows the timeout: a deployment that raised the timeout (to
        hold requests on purpose, say) is not cut short by a default it never set."""
        return self.alerts_webhook_deadline_s or 2 * self.alerts_webhook_timeout_s

    def index_prefix(self) -> str:
        """Indices of this service: `<namespace>-cwatch-...` so test namespaces are dropped whole."""
        return f"{self.namespace}-cwatch" if self.namespace else "cwatch"
