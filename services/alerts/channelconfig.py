"""Per-channel configuration of a subscription (email, Telegram; chat webhooks need only a URL)
and the email digest schedule: validated once by pydantic, when the API accepts a subscription
and again when the service loads it."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

# One address, no display name: enough for a mailbox, nothing a header could be smuggled into.
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$"
)
_CHAT_ID = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")
_BOT_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,100}$")


class Schedule(StrEnum):
    IMMEDIATE = "immediate"  # one email per alert (per story, per the subscription's mode)
    HOURLY = "hourly"  # one digest at the top of each hour
    DAILY = "daily"  # one digest a day at `daily_at` in `timezone`


class EmailConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(min_length=1, max_length=20, description="Recipient addresses")
    schedule: Schedule = Schedule.IMMEDIATE
    daily_at: time = Field(default=time(8, 0), description="Local time of the daily digest")
    timezone: str = Field(default="UTC", max_length=64, description="IANA time zone name")

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if len(address) > 254 or not _ADDRESS.match(address):
                raise ValueError(f"not an email address: {address[:80]!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone: {value!r}") from None
        return value


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chat_id: str = Field(description="Numeric chat id or @channelusername")
    bot_token: str = Field(description="The bot's token from @BotFather; never shown back")

    @field_validator("chat_id")
    @classmethod
    def _chat(cls, value: str) -> str:
        if not _CHAT_ID.match(value):
            raise ValueError("chat_id must be a number or @channelusername")
        return value

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: str) -> str:
        if value != "***" and not _BOT_TOKEN.match(value):
            raise ValueError("bot_token must look like 123456:ABC-DEF...")
        return value


def digest_slot(schedule: Schedule, first: datetime, daily_at: time, zone: str) -> datetime:
    """The first digest time strictly after `first` (an aware datetime): what a digest holding
    an item queued at `first` is named after. Deterministic, so a digest resent after a crash
    covers the same items under the same Message-ID."""
    if schedule == Schedule.HOURLY:
        top = first.replace(minute=0, second=0, microsecond=0)
        return top + timedelta(hours=1)
    tz = ZoneInfo(zone)
    local = first.astimezone(tz)
    candidate = datetime.combine(local.date(), daily_at, tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), daily_at, tzinfo=tz)
    # A local time skipped by a DST change: zoneinfo gives a valid instant for it (fold=0).
    return candidate.astimezone(first.tzinfo)
