import json
from datetime import UTC, datetime, timedelta

from schemas.report import EventLabel, EventType, Report
from services.indexer.documents import (
    document_json,
    effective_date,
    index_for,
    report_from_document,
    to_document,
)
from services.indexer.mapping import MAPPING_VERSION
from tests.indexer.reportgen import ALIYEV, LACHIN, NOW, PASHINYAN, killed, make_report


def test_document_flattens_entities_events_figures_and_places() -> None:
    report = make_report(1, entities=[PASHINYAN, ALIYEV, LACHIN, PASHINYAN], figures=[killed(4)])
    doc = to_document(report, NOW)
    assert doc["entity_ids"] == ["person:nikol-pashinyan", "person:ilham-aliyev", "place:lachin"]
    assert doc["person_ids"] == ["person:nikol-pashinyan", "person:ilham-aliyev"]
    assert doc["place_ids"] == ["place:lachin"]
    assert doc["place_points"] == [{"lat": 39.64, "lon": 46.55}]
    assert doc["event_types"] == ["ceasefire"]
    assert doc["figure_kinds"] == ["killed"]
    assert doc["figures"][0]["value"] == 4
    assert doc["report_id"] == report.report_id
    assert doc["indexed_at"].startswith("2026-11-20T12:00:00")


def test_report_round_trips_through_its_document() -> None:
    report = make_report(2, figures=[killed()])
    assert report_from_document(to_document(report, NOW)) == report


def test_index_follows_published_month() -> None:
    report = make_report(0, published=datetime(2025, 12, 31, 23, 0, tzinfo=UTC))
    assert index_for(report, "cw") == f"cw-v{MAPPING_VERSION}-2025.12"


def test_missing_or_future_published_date_falls_back_to_ingest_time() -> None:
    no_date = make_report(0, published=None, ingested_at=NOW)
    assert effective_date(no_date) == NOW
    future = make_report(0, published=NOW + timedelta(days=400), ingested_at=NOW)
    assert effective_date(future) == NOW
    assert index_for(future, "cw") == f"cw-v{MAPPING_VERSION}-2026.11"


def test_naive_dates_are_taken_as_utc() -> None:
    report = make_report(
        0, published=datetime(2026, 1, 1, 0, 30), ingested_at=datetime(2026, 1, 1, 1)
    )
    assert effective_date(report) == datetime(2026, 1, 1, 0, 30, tzinfo=UTC)


def test_report_without_folded_text_gets_one_for_search() -> None:
    report = Report.model_validate(
        {**make_report(3, headline="Пашинян в Лачине").model_dump(), "folded_text": ""}
    )
    assert "pashinyan" in to_document(report, NOW)["folded_text"]


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys: {keys}"
    return dict(pairs)


def test_serialised_document_equals_the_document_without_duplicate_keys() -> None:
    plain = make_report(4, entities=[PASHINYAN, LACHIN], figures=[killed(2)])
    unfolded = Report.model_validate(
        {**make_report(5, headline="Пашинян").model_dump(), "folded_text": ""}
    )
    for report in (plain, unfolded):
        parsed = json.loads(document_json(report, NOW), object_pairs_hook=_no_duplicate_keys)
        assert parsed == to_document(report, NOW)


def _with_events(*labels: EventLabel) -> Report:
    return make_report(3).model_copy(update={"events": list(labels)})


def test_primary_event_and_its_evidence_are_indexed_for_the_overview_and_the_list() -> None:
    report = _with_events(
        EventLabel(
            type=EventType.SHELLING_STRIKE, confidence=0.97, evidence="A drone hit.", primary=True
        ),
        EventLabel(type=EventType.DISPLACEMENT, confidence=0.95, evidence="Villagers fled."),
    )
    doc = to_document(report, NOW)
    assert doc["primary_event"] == "shelling_strike"
    assert doc["primary_evidence"] == "A drone hit."
    assert json.loads(document_json(report, NOW))["primary_event"] == "shelling_strike"
    assert report_from_document(doc) == report


def test_a_report_from_before_primary_labels_gets_its_first_label_as_primary() -> None:
    report = _with_events(
        EventLabel(type=EventType.CEASEFIRE, confidence=0.9, evidence="Truce."),
        EventLabel(type=EventType.DIPLOMATIC, confidence=0.6, evidence="Talks."),
    )
    assert to_document(report, NOW)["primary_event"] == "ceasefire"
    assert to_document(_with_events(), NOW)["primary_event"] is None


def test_labels_under_the_event_confidence_stay_in_the_report_but_not_in_the_filters() -> None:
    report = _with_events(
        EventLabel(type=EventType.PROTEST, confidence=0.95, evidence="Rally.", primary=True),
        EventLabel(type=EventType.SANCTIONS, confidence=0.6, evidence="Sanctions."),
    )
    doc = to_document(report, NOW, event_confidence=0.9)
    assert doc["event_types"] == ["protest"]
    assert [e["type"] for e in doc["events"]] == ["protest", "sanctions"]
    assert to_document(report, NOW)["event_types"] == ["protest", "sanctions"]


def test_document_date_and_index_month_are_judged_against_indexed_at() -> None:
    """An ingest time from a wrong clock is clamped to indexed_at + the skew, not to the wall
    clock: the date is the same in both mappings and whenever they run, and the index (given
    the same instant, as the indexer does) is the month of that date."""
    report = make_report(0, published=None, ingested_at=datetime(2999, 1, 1, tzinfo=UTC))
    indexed_at = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
    date = to_document(report, indexed_at)["date"]
    assert date == (indexed_at + timedelta(days=2)).isoformat()
    assert json.loads(document_json(report, indexed_at))["date"] == date
    assert index_for(report, "cw", now=indexed_at) == f"cw-v{MAPPING_VERSION}-2027.01"
    # odd instants are clamped (to 1990 .. the calendar's end), never raised on
    for odd in (datetime.min, datetime.max, datetime.fromisoformat("0001-01-01T00:00+01:00")):
        assert "1990-01-03" <= to_document(report, odd)["date"] <= "2999-01-01T00:00:00+00:00"
