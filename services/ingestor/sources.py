"""The sources file: which feeds and sitemaps to poll, and who publishes them."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.common import Affiliation, SourceInfo, SourceKind
from services.common.netguard import check_url_text
from services.ingestor.adapters.telegram import PUBLIC_BASE, channel_from_url, valid_channel

POLLABLE = (SourceKind.FEED, SourceKind.SITEMAP, SourceKind.PAGE, SourceKind.TELEGRAM)


class SourceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    url: str = Field(
        default="",
        max_length=4096,
        description="Feed, sitemap or page URL; for Telegram the preview URL (default "
        "https://t.me/s/<channel>, another host for tests)",
    )
    channel: str | None = Field(default=None, description="Telegram channel username")
    kind: SourceKind = SourceKind.FEED
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    language: str = Field(min_length=2, max_length=8, description="ISO 639-1")
    affiliation: Affiliation
    poll_interval_s: float | None = Field(default=None, gt=0)
    official: bool = Field(
        default=False,
        description="Ministries, governments, armed forces: items are re-checked for edits "
        "and withdrawal",
    )
    enabled: bool = True
    notes: str = ""

    @field_validator("kind")
    @classmethod
    def _pollable(cls, value: SourceKind) -> SourceKind:
        if value not in POLLABLE:
            raise ValueError("kind must be feed, sitemap, page or telegram")
        return value

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _url(self) -> SourceEntry:
        if self.kind == SourceKind.TELEGRAM:
            if self.channel is not None and not valid_channel(self.channel):
                raise ValueError(f"not a Telegram channel username: {self.channel[:100]!r}")
            if not self.url:
                if not self.channel:
                    raise ValueError("a telegram source needs channel or url")
                self.url = f"{PUBLIC_BASE}/s/{self.channel}"
        if len(self.url) < 8:
            raise ValueError("url is missing")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url must be http(s)")
        check_url_text(self.url)  # UnsafeURL is a ValueError: reported with the entry
        if self.kind == SourceKind.TELEGRAM:
            found = channel_from_url(self.url)
            if found is None or (self.channel and found != self.channel):
                raise ValueError(f"not a Telegram channel preview URL: {self.url[:200]!r}")
            self.channel = found
        return self

    def info(self) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            kind=self.kind,
            url=self.url,
            country=self.country,
            language=self.language,
            affiliation=self.affiliation,
        )


class SourcesFileError(ValueError):
    pass


def load_sources(path: Path) -> list[SourceEntry]:
    """All entries of a sources file (disabled ones included). Raises SourcesFileError with
    the position of the first bad entry."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SourcesFileError(f"cannot read {path}: {exc}") from exc
    items = raw.get("sources") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise SourcesFileError(f"{path}: expected a list under 'sources:'")
    entries: list[SourceEntry] = []
    for position, item in enumerate(items):
        try:
            entries.append(SourceEntry.model_validate(item))
        except ValidationError as exc:
            raise SourcesFileError(f"{path}: entry {position}: {exc}") from exc
    return entries
