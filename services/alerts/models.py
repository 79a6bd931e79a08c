"""Subscriptions: a saved search (query + the search API's filters, services.query.params), a
channel and a mode."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.alerts.channelconfig import EmailConfig, TelegramConfig
from services.common.netguard import check_url_text
from services.common.redact import mask_webhook_url
from services.query.bodies import build_query
from services.query.params import Filters, SearchParams


def _now() -> datetime:
    return datetime.now(UTC)


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    SSE = "sse"
    KAFKA = "kafka"  # only the alert topic; every channel also writes there
    EMAIL = "email"
    TELEGRAM = "telegram"
    SLACK = "slack"  # incoming webhook
    MATTERMOST = "mattermost"  # incoming webhook
    TEAMS = "teams"  # incoming webhook / Workflows, Adaptive Card


# Channels the dispatcher sends to (each subscription on its own lane); SSE and Kafka are read.
PUSHED = frozenset(
    {
        ChannelKind.WEBHOOK,
        ChannelKind.EMAIL,
        ChannelKind.TELEGRAM,
        ChannelKind.SLACK,
        ChannelKind.MATTERMOST,
        ChannelKind.TEAMS,
    }
)
_NEEDS_URL = frozenset(
    {ChannelKind.WEBHOOK, ChannelKind.SLACK, ChannelKind.MATTERMOST, ChannelKind.TEAMS}
)


class Mode(StrEnum):
    EVERY = "every"  # one alert per matching report
    PER_STORY = "per_story"  # one alert per story, later versions only raise its count
    DIGEST = "digest"  # one alert per story every digest_minutes


class Channel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ChannelKind = ChannelKind.SSE
    url: str | None = Field(
        default=None, max_length=2048, description="Webhook / Slack / Mattermost / Teams URL"
    )
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="HMAC key of webhook signatures and of the email unsubscribe links; "
        "generated if omitted",
    )
    email: EmailConfig | None = None
    telegram: TelegramConfig | None = None

    @model_validator(mode="after")
    def _config_of_kind(self) -> Channel:
        if self.url is not None:
            check_webhook_url(self.url)
        if self.kind in _NEEDS_URL and not self.url:
            raise ValueError(f"a {self.kind.value} channel needs a url")
        if self.kind == ChannelKind.EMAIL and self.email is None:
            raise ValueError("an email channel needs email settings (to, schedule)")
        if self.kind == ChannelKind.TELEGRAM and self.telegram is None:
            raise ValueError("a telegram channel needs telegram settings (chat_id, bot_token)")
        if self.kind in (ChannelKind.WEBHOOK, ChannelKind.EMAIL) and not self.secret:
            self.secret = secrets.token_urlsafe(32)
        return self


def check_webhook_url(url: str) -> str:
    """The URL unchanged when the HTTP client can send to it, else ValueError.

    A subscription is validated when the API or the CLI accepts it and again when the service
    loads it from the store, so a URL that would only fail at delivery time (control characters,
    which httpx refuses with InvalidURL, a port out of range, no host) never gets that far.
    """
    check_url_text(url)  # control characters, length: UnsafeURL is a ValueError
    if not url.startswith(("http://", "https://")):
        raise ValueError("a webhook url must start with http:// or https://")
    try:
        httpx.URL(url)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when out of range
    except httpx.InvalidURL as exc:
        raise ValueError(f"invalid webhook url: {exc}") from None
    if not parts.hostname:
        raise ValueError("a webhook url needs a host")
    return url


class SubscriptionInput(BaseModel):
    """What a user sends to create (every field) or update (the fields given) a subscription."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    query: str = Field(default="", max_length=1000, description="Search syntax")
    filters: Filters = Field(default_factory=Filters)
    channel: Channel = Field(default_factory=Channel)
    mode: Mode = Mode.PER_STORY
    digest_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    active: bool = True

    @model_validator(mode="after")
    def _bounded_filters(self) -> SubscriptionInput:
        self.filters.check_bounds()  # QueryError is a ValueError: pydantic reports it
        return self


def shown_url(url: str | None) -> str | None:
    """A webhook URL as shown after creation (services/common/redact.mask_webhook_url: scheme,
    host and port; the path, query and user part may hold the receiver's bearer secret)."""
    return mask_webhook_url(url) if url else url


class Subscription(SubscriptionInput):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    owner: str | None = Field(
        default=None, max_length=64, description="The user it belongs to; None: operators' own"
    )
    created: datetime = Field(default_factory=_now)
    updated: datetime = Field(default_factory=_now)

    def search_params(self) -> SearchParams:
        """The same filters as a search request: the one filters model, the one meaning."""
        return SearchParams(q=self.query, **self.filters.model_dump(by_alias=False))

    def check(self, now: datetime | None = None) -> None:
        """Raises services.query.syntax.QueryError when the query or a filter is invalid."""
        build_query(self.search_params(), now or _now())

    def public(self) -> dict[str, Any]:
        """As shown by the API after creation: the webhook secret and the parts of its URL that
        may hold a bearer secret are never echoed back."""
        data = self.model_dump(mode="json")
        if data["channel"].get("secret"):
            data["channel"]["secret"] = "***"
        if data["channel"].get("telegram"):
            data["channel"]["telegram"]["bot_token"] = "***"
        data["channel"]["url"] = shown_url(data["channel"].get("url"))
        return data


def apply_update(current: Subscription, changes: dict[str, Any]) -> Subscription:
    """A new Subscription with `changes` (already validated field names) applied."""
    data = current.model_dump()
    for key, value in changes.items():
        if key == "filters" and isinstance(value, dict):
            data["filters"] = {**data["filters"], **value}
        elif key == "channel" and isinstance(value, dict):
            merged = {**data["channel"], **value}
            if value.get("kind") and value.get("kind") != data["channel"].get("kind"):
                merged = dict(value)
            old_url = data["channel"].get("url")
            if merged.get("url") and merged.get("url") == shown_url(old_url):
                merged["url"] = old_url  # the masked URL sent back unchanged: no change
            if merged.get("secret") == "***":
                merged["secret"] = data["channel"].get("secret")
            telegram, before = merged.get("telegram"), data["channel"].get("telegram")
            if isinstance(telegram, dict) and telegram.get("bot_token") == "***" and before:
                merged["telegram"] = {**telegram, "bot_token": before["bot_token"]}
            if merged.get("url") != old_url and value.get("secret") in (None, "", "***"):
                # The old secret must not sign alerts for whoever holds the new URL.
                merged["secret"] = None
            data["channel"] = merged
        else:
            data[key] = value
    data["updated"] = _now()
    return Subscription.model_validate(data)
