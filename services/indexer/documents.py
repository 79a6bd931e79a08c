"""Report -> Elasticsearch document, and which monthly index it belongs in. Pure functions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from schemas.report import EntityType, EventLabel, Report
from services.common.fold import fold_text
from services.indexer.mapping import MAPPING_VERSION, index_name

# Publishers' clocks and time zones are wrong often enough: a date this far after the ingest
# time is not believed, so it cannot create an index for a month that has not come yet.
MAX_FUTURE_SKEW = timedelta(days=2)
# Nor is a date before this: each month is an index (a shard), and pushed pages dated
# 0001-01-01, 0001-02-01, ... would fill the cluster's shards-per-node limit, after which no
# new month could be created. The extractor clamps dates too; this is the defence in depth
# for whatever else writes the report topic.
DATE_MIN = date(1990, 1, 1)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00: past the calendar
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


def _clock(now: datetime | None, low: datetime) -> datetime:
    """The instant a report's dates are judged against: `now` (the indexing time, so that the
    index and the document's date agree, and rebuilding a document gives the same date) or the
    wall clock; an odd value (before `low`, or too close to the calendar's end to add the skew
    to) is clamped rather than raising."""
    clock = _utc(now) if now is not None else datetime.now(UTC)
    return min(max(clock, low), datetime.max.replace(tzinfo=UTC) - MAX_FUTURE_SKEW)


def effective_date(
    report: Report, date_min: date = DATE_MIN, now: datetime | None = None
) -> datetime:
    """The date a report is filed and sorted under: published when plausible, else ingested;
    never before `date_min`, nor (an ingest time from a wrong clock) after now + the skew."""
    low = datetime.combine(date_min, time(), tzinfo=UTC)
    high = _clock(now, low) + MAX_FUTURE_SKEW
    ingested = min(max(_utc(report.ingested_at), low), high)
    if report.published is None:
        return ingested
    published = _utc(report.published)
    if published < low or published - MAX_FUTURE_SKEW > ingested:
        return ingested  # a CMS default such as 0001-01-01 says nothing of when it appeared
    return published


def index_for(
    report: Report,
    alias: str,
    version: int = MAPPING_VERSION,
    date_min: date = DATE_MIN,
    now: datetime | None = None,
) -> str:
    """The monthly index of a report; pass the `indexed_at` of its document as `now`, so that
    the index and the document's `date` are computed against one instant."""
    return index_name(alias, effective_date(report, date_min, now), version)


DERIVED_FIELDS = (
    "mapping_version",
    "story_root",
    "date",
    "indexed_at",
    "entity_ids",
    "person_ids",
    "organization_ids",
    "place_ids",
    "place_points",
    "event_types",
    "primary_event",
    "primary_evidence",
    "figure_kinds",
    "change",
)
"""Fields the indexer adds to a report's own fields; removed again by `report_from_document`."""


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _primary(report: Report, min_confidence: float) -> EventLabel | None:
    """The label marked primary; for reports from before primary labels, the first one (the
    extractor sorted them most confident first)."""
    labels = [e for e in report.events if e.confidence >= min_confidence]
    return next((e for e in labels if e.primary), labels[0] if labels else None)


def change_of(report: Report) -> str | None:
    """The latest change of the source item: a withdrawal outranks the edits before it."""
    if report.withdrawn_at is not None:
        return "withdrawn"
    if report.version > 1:
        return "edited"
    return None


def _derived(
    report: Report, indexed_at: datetime, event_confidence: float = 0.0, date_min: date = DATE_MIN
) -> dict[str, Any]:
    # One pass over the entities: this runs for every document the indexer writes.
    entity_ids: dict[str, None] = {}
    by_type: dict[EntityType, dict[str, None]] = {
        EntityType.PERSON: {},
        EntityType.ORGANIZATION: {},
        EntityType.PLACE: {},
    }
    points: list[dict[str, float]] = []
    for e in report.entities:
        if e.id:
            entity_ids[e.id] = None
            ids = by_type.get(e.type)
            if ids is not None:
                ids[e.id] = None
        if e.type == EntityType.PLACE and e.lat is not None and e.lon is not None:
            points.append({"lat": e.lat, "lon": e.lon})
    primary = _primary(report, event_confidence)
    derived: dict[str, Any] = {
        "mapping_version": MAPPING_VERSION,
        # the story it lives on as; storyroots.py rewrites it when a later merge makes it stale
        "story_root": report.story_id,
        # judged against indexed_at, not the wall clock: one report, one date, however often
        # and by whichever function (to_document, document_json) it is mapped
        "date": effective_date(report, date_min, indexed_at).isoformat(),
        "indexed_at": _utc(indexed_at).isoformat(),
        "entity_ids": list(entity_ids),
        "person_ids": list(by_type[EntityType.PERSON]),
        "organization_ids": list(by_type[EntityType.ORGANIZATION]),
        "place_ids": list(by_type[EntityType.PLACE]),
        "place_points": points,
        # filters, facets and alert subscriptions see the labels at or above the threshold
        "event_types": _unique(
            [e.type.value for e in report.events if e.confidence >= event_confidence]
        ),
        "primary_event": primary.type.value if primary else None,
        "primary_evidence": primary.evidence if primary else None,
        "figure_kinds": _unique([f.kind.value for f in report.figures]),
        "change": change_of(report),
    }
    if not report.folded_text:
        # Search matches on folded_text only; a report without one would be unfindable.
        derived["folded_text"] = fold_text(f"{report.headline}\n{report.body}")
    return derived


def to_document(
    report: Report, indexed_at: datetime, event_confidence: float = 0.0
) -> dict[str, Any]:
    """The `_source` of a report: the report itself (so it can be returned as-is) plus
    flattened fields for filters and facets, and geo points of the places it mentions."""
    doc: dict[str, Any] = report.model_dump(mode="json")
    doc.update(_derived(report, indexed_at, event_confidence))
    return doc


def document_json(
    report: Report, indexed_at: datetime, event_confidence: float = 0.0, date_min: date = DATE_MIN
) -> str:
    """`to_document` serialised, as the bulk request needs it. Pydantic's serialiser writes the
    report itself (json.dumps of a model_dump cost the indexer several times more) and the
    derived fields are appended; a field the derived ones replace is left out of the first
    part, since Elasticsearch rejects duplicate keys."""
    derived = _derived(report, indexed_at, event_confidence, date_min)
    own = report.model_dump_json(exclude={"folded_text"} if "folded_text" in derived else None)
    return f"{own[:-1]},{json.dumps(derived, ensure_ascii=False)[1:]}"


def report_from_document(source: dict[str, Any]) -> Report:
    """The Report stored in a document (for migrations and the API). Raises ValidationError."""
    return Report.model_validate({k: v for k, v in source.items() if k not in DERIVED_FIELDS})
