"""Types shared by several contracts."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class SourceKind(StrEnum):
    FEED = "feed"
    SITEMAP = "sitemap"
    PAGE = "page"
    FILE = "file"
    PUSH = "push"
    DEMO = "demo"
    TELEGRAM = "telegram"


class Affiliation(StrEnum):
    """Who stands behind an outlet; users weigh reports by it."""

    STATE = "state"  # state-owned or state-controlled media (see SourceInfo.country)
    PRO_GOVERNMENT = "pro-government"
    INDEPENDENT = "independent"
    OPPOSITION = "opposition"
    INTERNATIONAL = "international"
    WIRE = "wire"
    NGO = "ngo"
    GOVERNMENT = "government"  # official sites: ministries, presidents
    UNKNOWN = "unknown"


class ContractModel(BaseModel):
    """Base for every message: unknown fields are refused, so a typo is an error, not a loss."""

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class SourceInfo(ContractModel):
    """Who published an article. Travels with the article through every stage."""

    name: str = Field(min_length=1, max_length=300, description="Outlet name, e.g. 'Azatutyun'")
    kind: SourceKind = SourceKind.FILE
    url: str | None = Field(default=None, max_length=4096, description="Feed, sitemap or site URL")
    country: str | None = Field(
        default=None, min_length=2, max_length=2, description="ISO 3166-1 alpha-2, upper case"
    )
    language: str | None = Field(default=None, max_length=8, description="ISO 639-1 expected")
    affiliation: Affiliation = Affiliation.UNKNOWN
