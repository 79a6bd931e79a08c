"""Export rows and features, built from documents as indexed, without Elasticsearch."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.report import EventType
from services.query.bodies import build_export_page
from services.query.exports import (
    ACLED_COLUMNS,
    CSV_COLUMNS,
    FORMATS,
    GeoJsonEncoder,
    acled_map,
    acled_row,
    cell,
    conservative_figure,
    encoder,
    export_format,
    place_features,
)
from services.query.params import SearchParams
from services.query.syntax import QueryError

SHUSHA = {
    "id": "place:shusha",
    "name": "Shusha",
    "type": "place",
    "country": "AZ",
    "lat": 39.76,
    "lon": 46.75,
    "count": 1,
}
KARABAKH = {
    "id": "place:nagorno-karabakh",
    "name": "Nagorno-Karabakh",
    "type": "place",
    "country": "AZ",
    "lat": 39.82,
    "lon": 46.75,
    "count": 4,
}
AZ_MOD = {
    "id": "org:azerbaijan-mod",
    "name": "Ministry of Defence of Azerbaijan",
    "type": "organization",
}
AM_MOD = {"id": "org:armenia-mod", "name": "Ministry of Defence of Armenia", "type": "organization"}


def doc(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "report_id": "r-1",
        "story_id": "s-1",
        "date": "2026-11-20T10:00:00+00:00",
        "published": "2026-11-20T10:00:00+00:00",
        "source": {"name": "Example Wire", "country": "GB", "affiliation": "wire"},
        "language": "en",
        "headline": "Drone strike near Shusha, two killed",
        "url": "https://example.org/1",
        "primary_event": "shelling_strike",
        "primary_evidence": "A drone struck a position near Shusha.",
        "event_types": ["shelling_strike", "armed_clash"],
        "events": [
            {"type": "shelling_strike", "subtype": "drone_strike", "primary": True},
            {"type": "armed_clash", "subtype": None, "primary": False},
        ],
        "entities": [KARABAKH, SHUSHA, AZ_MOD, AM_MOD],
        "figures": [
            {"kind": "killed", "value": 2, "subject": "Armenian soldiers"},
            {"kind": "killed", "value": 3, "subject": "armenian  soldiers"},
            {"kind": "killed", "value": 1, "subject": "civilians"},
            {"kind": "wounded", "value": 5, "subject": None},
        ],
        "relevance": 0.9,
        "relevant": True,
        "version": 1,
    }
    base.update(overrides)
    return base


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_of_claims_about_the_same_people_the_lowest_counts_and_different_people_add_up() -> None:
    figures = doc()["figures"]
    assert conservative_figure(figures, "killed") == 2 + 1
    assert conservative_figure(figures, "wounded") == 5
    assert conservative_figure(figures, "displaced") is None
    assert conservative_figure([{"kind": "killed", "value": True}], "killed") is None


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx"])
def test_a_cell_that_a_spreadsheet_would_run_as_a_formula_is_quoted(text: str) -> None:
    assert cell(text).startswith("'")


def test_a_cell_loses_control_characters_and_keeps_numbers_as_numbers() -> None:
    assert cell("a\x00b\x1bc\x7fd\r\ne") == "abcd\ne"
    assert cell(-45.5) == "-45.5"
    assert cell(None) == "" and cell(True) == "true"


def test_csv_export_reads_back_with_its_columns_and_conservative_figures() -> None:
    enc = encoder("csv")
    hostile = doc(report_id="r-2", headline='=cmd|"/c calc"!A1 "quoted", comma\nnew line\x00')
    text = enc.head() + enc.page([doc(), hostile]) + enc.tail({})
    rows = read_csv(text)
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [r["report_id"] for r in rows] == ["r-1", "r-2"]
    assert rows[0]["killed"] == "3" and rows[0]["wounded"] == "5" and rows[0]["displaced"] == ""
    assert rows[0]["places"] == "Nagorno-Karabakh; Shusha"
    assert rows[0]["event_types"] == "shelling_strike; armed_clash"
    assert rows[1]["headline"] == '\'=cmd|"/c calc"!A1 "quoted", comma\nnew line'
    assert enc.rows == 2


def test_every_event_type_has_an_acled_type() -> None:
    assert {e.value for e in EventType} <= set(acled_map().event_types)


def test_acled_row_maps_the_primary_event_its_subtype_place_actors_and_fatalities() -> None:
    enc = encoder("acled")
    text = enc.head() + enc.page([doc()])
    rows = read_csv(text)
    assert tuple(rows[0])[: len(ACLED_COLUMNS)] == ACLED_COLUMNS
    row = rows[0]
    assert row["event_date"] == "2026-11-20"
    assert (row["event_type"], row["sub_event_type"]) == (
        "Explosions/Remote violence",
        "Air/drone strike",
    )
    # the town, not the region it lies in, although the region is mentioned more
    assert (row["location"], row["country"], row["geo_precision"]) == ("Shusha", "Azerbaijan", "1")
    assert (float(row["latitude"]), float(row["longitude"])) == (39.76, 46.75)
    assert (row["actor1"], row["actor2"]) == (
        "Military Forces of Azerbaijan",
        "Military Forces of Armenia",
    )
    assert row["fatalities"] == "3"
    assert row["source"] == "Example Wire"
    assert row["notes"].startswith("Drone strike near Shusha") and "drone struck" in row["notes"]
    assert row["admin1"] == "" and row["report_id"] == "r-1"


def test_acled_export_skips_reports_without_an_event_and_counts_them() -> None:
    enc = encoder("acled")
    no_event = doc(report_id="r-0", primary_event=None, events=[], event_types=[])
    unplaced = doc(report_id="r-3", entities=[], figures=[], events=[], primary_event="protest")
    rows = read_csv(enc.head() + enc.page([no_event, unplaced]))
    assert [r["report_id"] for r in rows] == ["r-3"]
    assert (rows[0]["event_type"], rows[0]["sub_event_type"]) == ("Protests", "Peaceful protest")
    assert rows[0]["latitude"] == "" and rows[0]["fatalities"] == "0"
    assert (enc.rows, enc.skipped) == (1, 1)


def test_acled_row_without_subtype_uses_the_event_types_pair() -> None:
    src = doc(events=[{"type": "ceasefire", "primary": True}], primary_event="ceasefire")
    row = acled_row(src)
    assert row is not None and row[1:3] == ["Strategic developments", "Agreement"]


def _geojson(sources: list[dict[str, Any]]) -> dict[str, Any]:
    enc = GeoJsonEncoder()
    text = enc.head() + enc.page(sources[:1]) + enc.page(sources[1:]) + enc.tail({"complete": True})
    parsed = json.loads(text)
    assert isinstance(parsed, dict)
    return parsed


def check_feature_collection(fc: dict[str, Any]) -> None:
    """RFC 7946, structurally: a FeatureCollection of Point features, [lon, lat] in range."""
    assert fc["type"] == "FeatureCollection" and isinstance(fc["features"], list)
    for feature in fc["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["properties"], dict)
        geometry = feature["geometry"]
        assert geometry["type"] == "Point"
        lon, lat = geometry["coordinates"]
        assert isinstance(lon, float) and isinstance(lat, float)
        assert -180 <= lon <= 180 and -90 <= lat <= 90


def test_geojson_has_a_point_per_place_with_the_report_id_and_skips_bad_coordinates() -> None:
    broken = {**SHUSHA, "id": "place:broken", "lat": 91.0}
    missing = {**SHUSHA, "id": "place:nowhere", "lat": None}
    fc = _geojson(
        [doc(), doc(report_id="r-2", entities=[broken, missing, AZ_MOD]), doc(report_id="r-3")]
    )
    check_feature_collection(fc)
    assert [
        (f["properties"]["report_id"], f["properties"]["place_id"]) for f in fc["features"]
    ] == [
        ("r-1", "place:nagorno-karabakh"),
        ("r-1", "place:shusha"),
        ("r-3", "place:nagorno-karabakh"),
        ("r-3", "place:shusha"),
    ]
    assert fc["features"][1]["geometry"]["coordinates"] == [46.75, 39.76]
    assert fc["cwatch"] == {"complete": True}


def test_an_empty_geojson_export_is_still_a_feature_collection() -> None:
    fc = _geojson([])
    check_feature_collection(fc)
    assert fc["features"] == []
    assert place_features(doc(entities=[])) == []


def test_jsonl_writes_one_parseable_report_per_line_even_with_unicode_line_separators() -> None:
    enc = encoder("jsonl")
    text = enc.page([doc(), doc(report_id="r-2", headline='line\nbreak \u2028 and "quotes"')])
    lines = text.splitlines()
    assert [json.loads(line)["report_id"] for line in lines] == ["r-1", "r-2"]


def test_an_unknown_format_is_refused_in_words() -> None:
    with pytest.raises(QueryError, match="csv, jsonl, geojson, acled"):
        export_format("xlsx")
    assert set(FORMATS) == {"csv", "jsonl", "geojson", "acled"}


def test_export_page_body_pages_over_the_point_in_time_and_counts_only_once() -> None:
    params = SearchParams(q="ceasefire", languages=["en"])
    now = datetime(2026, 11, 20, tzinfo=UTC)
    first = build_export_page(params, now, "pit-1", 1000, {"includes": ["report_id"]})
    assert first["pit"]["id"] == "pit-1" and first["track_total_hits"] is True
    assert "search_after" not in first and "index" not in first
    assert "timeout" not in first  # a shard out of time would answer part of its hits
    assert first["sort"][-1] == {"_shard_doc": {"order": "asc"}}
    later = build_export_page(params, now, "pit-2", 500, {}, after=[1, 7])
    assert later["search_after"] == [1, 7] and later["track_total_hits"] is False
    assert later["query"] == first["query"]
    with pytest.raises(QueryError):
        build_export_page(SearchParams(event_types=["picnic"]), now, "p", 10, {})


def test_the_readme_table_of_acled_types_is_the_map() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    documented: dict[str, tuple[str, str]] = {}
    for names, event_type, sub_event_type in re.findall(
        r"^\| (?:sub-type )?(`[a-z_]+`(?:, `[a-z_]+`)*) \| ([^|]+) \| ([^|]+) \|$", readme, re.M
    ):
        for name in re.findall(r"`([a-z_]+)`", names):
            documented[name] = (event_type.strip(), sub_event_type.strip())
    mapping = acled_map()
    assert {k: documented.get(k) for k in mapping.event_types} == mapping.event_types
    assert {k: documented.get(k) for k in mapping.subtypes} == mapping.subtypes
