"""realistic_reports: many real-shaped, valid Report objects for the index/search benchmarks."""

from __future__ import annotations

from collections import Counter

import pytest

from devtools.realistic import realistic_reports
from schemas.report import Report

COUNT = 1200
POOL = 300  # four epochs: the variation path is exercised, not only the pool


@pytest.fixture(scope="module")
def reports() -> list[Report]:
    return list(realistic_reports(COUNT, seed=9, pool_size=POOL))


def test_reports_validate_against_the_contract(reports: list[Report]) -> None:
    for report in reports[::7]:
        again = Report.model_validate_json(report.model_dump_json())
        assert again == Report.model_validate(report.model_dump())


def test_ids_and_urls_are_unique_across_epochs(reports: list[Report]) -> None:
    assert len({r.report_id for r in reports}) == COUNT
    assert len({r.url for r in reports}) == COUNT


def test_same_seed_gives_the_same_reports() -> None:
    first = [r.model_dump_json() for r in realistic_reports(400, seed=2, pool_size=150)]
    second = [r.model_dump_json() for r in realistic_reports(400, seed=2, pool_size=150)]
    assert first == second


def test_later_epochs_move_in_time_and_vary_the_text(reports: list[Report]) -> None:
    first, later = reports[5], reports[5 + 2 * POOL]
    assert later.headline == first.headline
    assert later.published > first.published
    assert later.story_id != first.story_id
    bodies = Counter(r.body for r in reports)
    assert len(bodies) > POOL * 2


def test_reports_carry_entities_events_figures_and_stories(reports: list[Report]) -> None:
    assert {r.language for r in reports} >= {"en", "ru", "hy", "az", "tr"}
    assert sum(1 for r in reports if r.entities) > 0.8 * COUNT
    assert sum(1 for r in reports if r.events) > 0.8 * COUNT
    assert sum(1 for r in reports if r.figures) > 0.05 * COUNT
    stories = Counter(r.story_id for r in reports)
    assert max(stories.values()) >= 3
    assert any(r.near_duplicate_of for r in reports)
    assert any(not r.relevant for r in reports) and any(r.relevant for r in reports)


def test_entities_and_figures_are_found_in_the_report_text(reports: list[Report]) -> None:
    for report in reports:
        text = f"{report.headline}\n{report.body}"
        for mention in report.entities:
            assert mention.surface_forms
            assert all(form in text for form in mention.surface_forms)
        for figure in report.figures:
            assert figure.evidence in report.body


def test_near_duplicates_point_at_a_report_of_the_same_epoch(reports: list[Report]) -> None:
    ids = {r.report_id: i for i, r in enumerate(reports)}
    for i, report in enumerate(reports):
        if report.near_duplicate_of:
            original = ids[report.near_duplicate_of]
            assert original // POOL == i // POOL
            assert reports[original].story_id == report.story_id


def test_folded_text_is_ascii_lower_case(reports: list[Report]) -> None:
    for report in reports[::11]:
        assert report.folded_text.isascii()
        assert report.folded_text == report.folded_text.lower()
        assert report.content_hash and len(report.content_hash) == 64
