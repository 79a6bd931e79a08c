"""report topic: a structured conflict report (extractor -> indexer)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from schemas.common import ContractModel, SourceInfo
from schemas.raw import MAX_DIFF_CHARS, PostInfo
from schemas.topics import SCHEMA_VERSION


class EntityType(StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"
    PLACE = "place"


class EventType(StrEnum):
    """Conflict taxonomy modelled on ACLED's event types and sub-types."""

    ARMED_CLASH = "armed_clash"
    SHELLING_STRIKE = "shelling_strike"  # shelling, artillery, air or drone strike
    CEASEFIRE = "ceasefire"
    CEASEFIRE_VIOLATION = "ceasefire_violation"
    PEACE_TALKS = "peace_talks"  # negotiations, peace treaty, agreements
    DIPLOMATIC = "diplomatic"  # meetings, visits, statements
    ALLIANCE = "alliance"  # CSTO, NATO, EU mission moves
    MILITARY_EXERCISE = "military_exercise"
    DISPLACEMENT = "displacement"  # refugees, exodus, evacuation
    HUMANITARIAN_AID = "humanitarian_aid"
    LEGAL_ACTION = "legal_action"  # ICJ, ECHR, arrests, trials
    PROTEST = "protest"
    RECOGNITION = "recognition"  # recognition of states, genocide
    SANCTIONS = "sanctions"


class FigureKind(StrEnum):
    KILLED = "killed"
    WOUNDED = "wounded"
    CAPTURED = "captured"
    MISSING = "missing"
    DISPLACED = "displaced"


class LanguageSpan(ContractModel):
    """Language of one paragraph, for pages that mix languages."""

    paragraph: int = Field(ge=0)
    language: str
    confidence: float = Field(ge=0, le=1)


class EntityMention(ContractModel):
    """A person, organisation or place resolved to a canonical id from the gazetteer."""

    id: str = Field(description="Canonical id, e.g. 'person:nikol-pashinyan' or 'place:shusha'")
    name: str = Field(description="Canonical (English) name")
    type: EntityType
    surface_forms: list[str] = Field(default_factory=list, description="Spellings as written")
    count: int = Field(default=1, ge=1)
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 for places")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    names: dict[str, str] = Field(
        default_factory=dict, description="Each side's name for contested places: {'hy': ..}"
    )


class EventLabel(ContractModel):
    type: EventType
    confidence: float = Field(
        ge=0, le=1, description="Calibrated: of labels given this confidence, this share is right"
    )
    evidence: str = Field(description="The sentence that supports the label")
    primary: bool = Field(
        default=False, description="The event the report is about (at most one per report)"
    )
    subtype: str | None = Field(
        default=None,
        description="ACLED-style sub-type where the text says: 'drone_strike', 'artillery', "
        "'arrest', 'trial', ...",
    )


class Figure(ContractModel):
    """A casualty or displacement claim found in the text."""

    kind: FigureKind
    value: int = Field(ge=0, description="Best numeric reading; lower bound for 'more than N'")
    text: str = Field(description="The number as written: '6,500', 'dozens', 'three'")
    approximate: bool = False
    subject: str | None = Field(default=None, description="Whom it concerns: 'Armenian soldiers'")
    claimant: str | None = Field(default=None, description="Who claims it: 'Azerbaijan MoD'")
    evidence: str


class Report(ContractModel):
    schema_version: int = SCHEMA_VERSION
    report_id: str = Field(min_length=8, max_length=160, description="Elasticsearch _id")
    article_id: str = Field(min_length=8, max_length=128)
    item_index: int = Field(default=0, ge=0, description="Position within a digest page")
    url: str | None = None
    canonical_url: str | None = None
    source: SourceInfo
    headline: str = ""
    byline: str | None = None
    body: str = ""
    published: datetime | None = None
    published_original: datetime | None = Field(
        default=None,
        description="The date the page gave when it was outside the plausible window and "
        "`published` was clamped into it",
    )
    ingested_at: datetime
    extracted_at: datetime
    language: str = Field(default="und", description="ISO 639-1, 'und' when unknown")
    language_confidence: float = Field(default=0.0, ge=0, le=1)
    paragraph_languages: list[LanguageSpan] = Field(default_factory=list)
    entities: list[EntityMention] = Field(default_factory=list)
    events: list[EventLabel] = Field(default_factory=list)
    figures: list[Figure] = Field(default_factory=list)
    relevance: float = Field(default=0.0, ge=0, le=1)
    relevant: bool = False
    content_hash: str = Field(description="Hash of normalised headline + body")
    duplicate_of: str | None = Field(default=None, description="Exact duplicate of this report")
    near_duplicate_of: str | None = None
    story_id: str = Field(description="Groups reports of one event across sources and sides")
    merged_stories: list[str] = Field(
        default_factory=list,
        description="Stories this report merged into story_id (they live on as story_id)",
    )
    folded_text: str = Field(
        default="",
        description="Transliterated, case-folded headline + body for cross-script search",
    )
    html_truncated: bool = False
    truncated: bool = Field(
        default=False,
        description="True when the text or the lists (entities, events, figures, paragraph "
        "languages) were cut to the per-message budget, so the report fits the topic's limit",
    )
    post: PostInfo | None = Field(default=None, description="Messaging-platform post details")
    pushed_by: str | None = Field(
        default=None,
        max_length=64,
        description="Pushed articles: the id of the API token that pushed it (its user: "
        "`cwatch tokens list`), from the raw article",
    )
    version: int = Field(default=1, ge=1, description="Version of the source item (edits)")
    edited_at: datetime | None = Field(default=None, description="When the edit was seen")
    withdrawn_at: datetime | None = Field(
        default=None, description="When the item was seen gone from its source"
    )
    diff: str | None = Field(
        default=None, max_length=MAX_DIFF_CHARS, description="Diff against the previous version"
    )
