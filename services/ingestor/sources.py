"""The sources file: which feeds and sitemaps to poll, and who publishes them."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.common import Affiliation, SourceInfo, SourceKind
from services.common.netguard import check_url_text


class SourceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    url: str = Field(min_length=8, max_length=4096)
    kind: SourceKind = SourceKind.FEED
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    language: str = Field(min_length=2, max_length=8, description="ISO 639-1")
    affiliation: Affiliation
    poll_interval_s: float | None = Field(default=None, gt=0)
    enabled: bool = True
    notes: str = ""

    @field_validator("kind")
    @classmethod
    def _pollable(cls, value: SourceKind) -> SourceKind:
        if value not in (SourceKind.FEED, SourceKind.SITEMAP, SourceKind.PAGE):
            raise ValueError("kind must be feed, sitemap or page")
        return value

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must be http(s)")
        return check_url_text(value)  # UnsafeURL is a ValueError: reported with the entry

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
