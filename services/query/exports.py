"""Exports of a search, pure: which fields a page of hits needs and how each format writes them.

Formats: `csv` (one row per report), `jsonl` (one report per line, as indexed), `geojson` (a
FeatureCollection of Point features, one per place a report mentions, with the report's id)
and `acled` (an ACLED-shaped CSV: one row per report that has an event, mapped through
`acled_map.yaml`). The encoders turn pages of `_source` dicts into text; the paging over a
point in time lives in services/search/export.py, which is the only part that needs
Elasticsearch.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from services.query.syntax import QueryError

ACLED_COLUMNS = (
    "event_date",
    "event_type",
    "sub_event_type",
    "actor1",
    "actor2",
    "country",
    "admin1",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "notes",
    "fatalities",
)
# After ACLED's columns: where the row came from, so it can be checked against the report.
ACLED_EXTRA_COLUMNS = ("report_id", "url")

FIGURE_COLUMNS = ("killed", "wounded", "captured", "missing", "displaced")
CSV_COLUMNS = (
    "report_id",
    "date",
    "published",
    "source",
    "source_country",
    "source_affiliation",
    "language",
    "headline",
    "url",
    "story_id",
    "primary_event",
    "event_types",
    "persons",
    "organizations",
    "places",
    *FIGURE_COLUMNS,
    "relevance",
    "relevant",
    "version",
    "withdrawn_at",
)
NOTES_MAX_CHARS = 1000
CELL_MAX_CHARS = 32_000  # spreadsheets cut a cell at 32,767 characters; say where, not they

# Control characters other than tab and newline: not text, and XML-hostile in spreadsheets.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str
    page_size: int  # hits per Elasticsearch page: bounds the memory of one page
    source: dict[str, list[str]] = field(default_factory=dict)  # the _source filter


_LIST_FIELDS = [
    "report_id",
    "date",
    "published",
    "source",
    "language",
    "headline",
    "url",
    "story_id",
    "primary_event",
    "event_types",
    "entities.id",
    "entities.name",
    "entities.type",
    "entities.country",
    "entities.lat",
    "entities.lon",
]
FORMATS: dict[str, ExportFormat] = {
    "csv": ExportFormat(
        "csv",
        "text/csv; charset=utf-8",
        "csv",
        1000,
        {
            "includes": [
                *_LIST_FIELDS,
                "figures.kind",
                "figures.value",
                "figures.subject",
                "relevance",
                "relevant",
                "version",
                "withdrawn_at",
            ]
        },
    ),
    # The whole report, body included: smaller pages.
    "jsonl": ExportFormat(
        "jsonl",
        "application/x-ndjson; charset=utf-8",
        "jsonl",
        200,
        {"excludes": ["folded_text"]},
    ),
    "geojson": ExportFormat(
        "geojson", "application/geo+json", "geojson", 1000, {"includes": _LIST_FIELDS}
    ),
    "acled": ExportFormat(
        "acled",
        "text/csv; charset=utf-8",
        "csv",
        1000,
        {
            "includes": [
                *_LIST_FIELDS,
                "primary_evidence",
                "events.type",
                "events.subtype",
                "events.primary",
                "events.evidence",
                "figures.kind",
                "figures.value",
                "figures.subject",
            ]
        },
    ),
}


def export_format(name: str) -> ExportFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise QueryError(f"format={name!r} is unknown; use one of: {', '.join(FORMATS)}") from None


# ---- cells -----------------------------------------------------------------------------------


def cell(value: Any) -> str:
    """Text safe in a spreadsheet: no control characters, never read as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = _CONTROL.sub("", str(value).replace("\r\n", "\n").replace("\r", "\n"))
    if len(text) > CELL_MAX_CHARS:
        text = text[: CELL_MAX_CHARS - 1] + "…"
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return text


def conservative_figure(figures: Sequence[dict[str, Any]], kind: str) -> int | None:
    """The figure of one kind a report supports, the way ACLED counts fatalities: of several
    claims about the same people the lowest; claims about different people added up. None when
    the report has no figure of that kind."""
    lowest: dict[str, int] = {}
    for fig in figures:
        value = fig.get("value")
        if fig.get("kind") != kind or not isinstance(value, int) or isinstance(value, bool):
            continue
        subject = " ".join(str(fig.get("subject") or "").casefold().split())
        lowest[subject] = min(value, lowest.get(subject, value))
    return sum(lowest.values()) if lowest else None


def _entities(src: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in src.get("entities") or [] if isinstance(e, dict) and e.get("type") == kind]


def _point(entity: dict[str, Any]) -> tuple[float, float] | None:
    lat, lon = entity.get("lat"), entity.get("lon")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
        return None
    assert isinstance(lat, int | float) and isinstance(lon, int | float)
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return float(lat), float(lon)


def _names(entities: Iterable[dict[str, Any]]) -> str:
    return "; ".join(str(e.get("name") or e.get("id") or "") for e in entities)


# ---- csv -------------------------------------------------------------------------------------


def csv_row(src: dict[str, Any]) -> list[str]:
    source = src.get("source") or {}
    figures = src.get("figures") or []
    return [
        cell(v)
        for v in (
            src.get("report_id"),
            src.get("date"),
            src.get("published"),
            source.get("name"),
            source.get("country"),
            source.get("affiliation"),
            src.get("language"),
            src.get("headline"),
            src.get("url"),
            src.get("story_id"),
            src.get("primary_event"),
            "; ".join(src.get("event_types") or []),
            _names(_entities(src, "person")),
            _names(_entities(src, "organization")),
            _names(_entities(src, "place")),
            *(conservative_figure(figures, kind) for kind in FIGURE_COLUMNS),
            src.get("relevance"),
            src.get("relevant"),
            src.get("version"),
            src.get("withdrawn_at"),
        )
    ]


# ---- acled -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AcledMap:
    event_types: dict[str, tuple[str, str]]
    subtypes: dict[str, tuple[str, str]]
    actors: dict[str, str]
    countries: dict[str, str]
    precision_default: int
    precision: dict[str, int]


def _pairs(raw: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {k: (str(v["event_type"]), str(v["sub_event_type"])) for k, v in raw.items()}


def parse_acled_map(raw: dict[str, Any]) -> AcledMap:
    precision = raw.get("geo_precision") or {}
    return AcledMap(
        event_types=_pairs(raw.get("event_types") or {}),
        subtypes=_pairs(raw.get("subtypes") or {}),
        actors={str(k): str(v) for k, v in (raw.get("actors") or {}).items()},
        countries={str(k).upper(): str(v) for k, v in (raw.get("countries") or {}).items()},
        precision_default=int(precision.get("default", 2)),
        precision={str(k): int(v) for k, v in (precision.get("places") or {}).items()},
    )


@cache
def acled_map() -> AcledMap:
    text = resources.files("services.query").joinpath("acled_map.yaml").read_text("utf-8")
    return parse_acled_map(yaml.safe_load(text))


def _primary_label(src: dict[str, Any]) -> dict[str, Any] | None:
    labels = [e for e in src.get("events") or [] if isinstance(e, dict)]
    primary = src.get("primary_event")
    if primary:
        return next(
            (e for e in labels if e.get("type") == primary and e.get("primary")),
            next((e for e in labels if e.get("type") == primary), {"type": primary}),
        )
    return labels[0] if labels else None


def _actors(src: dict[str, Any], mapping: AcledMap) -> list[str]:
    entities = sorted(
        (e for e in src.get("entities") or [] if isinstance(e, dict)),
        key=lambda e: -int(e.get("count") or 1),
    )
    actors = list(
        dict.fromkeys(mapping.actors[e["id"]] for e in entities if e.get("id") in mapping.actors)
    )
    for org in (e for e in entities if e.get("type") == "organization"):
        if len(actors) >= 2:
            break
        name = str(org.get("name") or "")
        if name and name not in actors:
            actors.append(name)
    return (actors + ["", ""])[:2]


def _event_place(src: dict[str, Any], mapping: AcledMap) -> tuple[dict[str, Any], int] | None:
    """Where the event was: of the places with coordinates, the most precise (a town before
    the region and the country), then the most mentioned."""
    best: tuple[int, int, int] | None = None
    chosen: tuple[dict[str, Any], int] | None = None
    for position, place in enumerate(_entities(src, "place")):
        if _point(place) is None:
            continue
        precision = mapping.precision.get(str(place.get("id")), mapping.precision_default)
        rank = (precision, -int(place.get("count") or 1), position)
        if best is None or rank < best:
            best, chosen = rank, (place, precision)
    return chosen


def acled_row(src: dict[str, Any], mapping: AcledMap | None = None) -> list[str] | None:
    """One ACLED-shaped row for a report with an event (its primary one); None without."""
    mapping = mapping or acled_map()
    label = _primary_label(src)
    if label is None:
        return None
    pair = mapping.subtypes.get(str(label.get("subtype") or "")) or mapping.event_types.get(
        str(label.get("type") or "")
    )
    if pair is None:
        return None
    actor1, actor2 = _actors(src, mapping)
    country = location = ""
    lat: float | None = None
    lon: float | None = None
    precision: int | None = None
    found = _event_place(src, mapping)
    if found:
        place, precision = found
        lat, lon = _point(place) or (None, None)
        code = str(place.get("country") or "").upper()
        country = mapping.countries.get(code, code)
        location = str(place.get("name") or "")
    headline = str(src.get("headline") or "").strip()
    evidence = str(src.get("primary_evidence") or label.get("evidence") or "").strip()
    notes = headline if not evidence or evidence in headline else f"{headline} — {evidence}"
    if len(notes) > NOTES_MAX_CHARS:
        notes = notes[: NOTES_MAX_CHARS - 1] + "…"
    return [
        cell(v)
        for v in (
            str(src.get("date") or "")[:10],
            pair[0],
            pair[1],
            actor1,
            actor2,
            country,
            "",  # admin1: a report's places carry no first-level region
            location,
            lat,
            lon,
            precision,
            (src.get("source") or {}).get("name"),
            notes,
            conservative_figure(src.get("figures") or [], "killed") or 0,
            src.get("report_id"),
            src.get("url"),
        )
    ]


# ---- geojson ---------------------------------------------------------------------------------


def place_features(src: dict[str, Any]) -> list[dict[str, Any]]:
    """One Point feature per place of the report that has coordinates (RFC 7946: [lon, lat])."""
    features = []
    source = src.get("source") or {}
    for place in _entities(src, "place"):
        point = _point(place)
        if point is None:
            continue
        lat, lon = point
        features.append(
            {
                "type": "Feature",
                "id": f"{src.get('report_id')}/{place.get('id')}",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "report_id": src.get("report_id"),
                    "place_id": place.get("id"),
                    "place": place.get("name"),
                    "country": place.get("country"),
                    "date": src.get("date"),
                    "headline": src.get("headline"),
                    "source": source.get("name"),
                    "language": src.get("language"),
                    "event_types": src.get("event_types") or [],
                    "story_id": src.get("story_id"),
                    "url": src.get("url"),
                },
            }
        )
    return features


# ---- encoders --------------------------------------------------------------------------------


def _json(value: Any) -> str:
    # U+2028 / U+2029 are line ends to many line readers (str.splitlines): escaped, so that a
    # report is always one line.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class Encoder:
    """Text of an export: `head()`, then `page(sources)` per page of hits, then `tail()`.
    `rows` counts what was written (rows, lines or features); `skipped` the reports that gave
    none (an ACLED row needs an event, a feature a place with coordinates)."""

    def __init__(self) -> None:
        self.rows = 0
        self.skipped = 0

    def head(self) -> str:
        return ""

    def page(self, sources: Iterable[dict[str, Any]]) -> str:
        raise NotImplementedError

    def tail(self, summary: dict[str, Any]) -> str:
        return ""


class CsvEncoder(Encoder):
    def __init__(
        self, header: Sequence[str], row: Callable[[dict[str, Any]], list[str] | None]
    ) -> None:
        super().__init__()
        self.header, self.row = header, row

    def _text(self, rows: Iterable[Sequence[str]]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        return buffer.getvalue()

    def head(self) -> str:
        return self._text([self.header])

    def page(self, sources: Iterable[dict[str, Any]]) -> str:
        rows = []
        for src in sources:
            row = self.row(src)
            if row is None:
                self.skipped += 1
            else:
                rows.append(row)
        self.rows += len(rows)
        return self._text(rows)


class JsonLinesEncoder(Encoder):
    def page(self, sources: Iterable[dict[str, Any]]) -> str:
        lines = [_json(src) + "\n" for src in sources]
        self.rows += len(lines)
        return "".join(lines)


class GeoJsonEncoder(Encoder):
    """A FeatureCollection written as it streams; the summary closes it as a foreign member
    (`cwatch`: reports read, complete or why not), which GeoJSON readers ignore."""

    def head(self) -> str:
        return '{"type":"FeatureCollection","features":['

    def page(self, sources: Iterable[dict[str, Any]]) -> str:
        parts = []
        for src in sources:
            features = place_features(src)
            if not features:
                self.skipped += 1
            for feature in features:
                parts.append(("\n" if self.rows == 0 else ",\n") + _json(feature))
                self.rows += 1
        return "".join(parts)

    def tail(self, summary: dict[str, Any]) -> str:
        return f'\n],"cwatch":{_json(summary)}}}\n'


def encoder(name: str) -> Encoder:
    fmt = export_format(name).name
    if fmt == "csv":
        return CsvEncoder(CSV_COLUMNS, csv_row)
    if fmt == "acled":
        mapping = acled_map()
        return CsvEncoder((*ACLED_COLUMNS, *ACLED_EXTRA_COLUMNS), lambda s: acled_row(s, mapping))
    if fmt == "geojson":
        return GeoJsonEncoder()
    return JsonLinesEncoder()
