from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.report import Report
from services.common.fold import fold_text
from services.extractor.dedup import DedupState
from services.extractor.pipeline import ExtractorConfig, extract

from .conftest import fixture_text, make_raw


@pytest.fixture
def state() -> DedupState:
    return DedupState()


def test_digest_page_gives_one_report_per_item_with_suffixed_ids(
    seeds: dict[str, str], state: DedupState
) -> None:
    reports = extract(make_raw("digest-0001", text=seeds["000"]), state)
    assert [r.report_id for r in reports] == [f"digest-0001-{i}" for i in range(12)]
    assert all(r.article_id == "digest-0001" and r.language == "id" for r in reports)
    assert reports[3].item_index == 3


def test_single_article_report_id_is_the_article_id(
    seeds: dict[str, str], state: DedupState
) -> None:
    [report] = extract(make_raw("single-0001", text=seeds["001"]), state)
    assert report.report_id == "single-0001"
    assert report.relevant and report.relevance >= 0.5
    assert report.content_hash and report.story_id.startswith("story-")
    Report.model_validate_json(report.model_dump_json())


def test_folded_text_lets_a_latin_query_find_a_cyrillic_only_report(state: DedupState) -> None:
    [report] = extract(make_raw(text=fixture_text("ru_ceasefire.txt")), state)
    assert fold_text("Pashinyan") in report.folded_text.split()
    assert fold_text("Aliyev") in report.folded_text.split()


def test_canonical_names_of_misspelled_entities_are_added_to_folded_text(
    seeds: dict[str, str], state: DedupState
) -> None:
    [report] = extract(make_raw(text=seeds["003"]), state)
    assert "pasinian" in report.folded_text and "nikol pashinyan" in report.folded_text


def test_irrelevant_report_is_passed_on_marked(state: DedupState) -> None:
    [report] = extract(make_raw(text=fixture_text("en_unrelated.txt")), state)
    assert not report.relevant and report.body


def test_relevance_threshold_comes_from_config(state: DedupState) -> None:
    strict = ExtractorConfig(relevance_threshold=1.0)
    [report] = extract(make_raw(text=fixture_text("az_exercise.txt")), state, strict)
    assert not report.relevant


@pytest.mark.parametrize(
    ("name", "language", "entity"),
    [
        ("en_clash.txt", "en", "person:nikol-pashinyan"),
        ("ru_ceasefire.txt", "ru", "person:ilham-aliyev"),
        ("hy_displacement.txt", "hy", "place:stepanakert"),
        ("az_exercise.txt", "az", "place:shusha"),
        ("tr_protest.txt", "tr", "place:nagorno-karabakh"),
        ("el_talks.txt", "el", "person:nikol-pashinyan"),
    ],
)
def test_each_fixture_language_gives_a_full_report(
    name: str, language: str, entity: str, state: DedupState
) -> None:
    [report] = extract(make_raw(text=fixture_text(name)), state)
    assert report.language == language
    assert entity in {e.id for e in report.entities}
    assert report.events and report.relevant


def test_html_article_report_uses_feed_metadata(state: DedupState) -> None:
    published = datetime(2025, 8, 8, tzinfo=UTC)
    raw = make_raw(html=fixture_text("en_chrome.html"), title="Feed headline", published=published)
    [report] = extract(raw, state)
    assert report.headline == "Feed headline" and report.published == published
    assert {"person:ararat-mirzoyan", "person:jeyhun-bayramov"} <= {e.id for e in report.entities}


def test_same_story_in_two_languages_from_two_sides_shares_the_story_id(state: DedupState) -> None:
    when = datetime(2026, 2, 2, 10, tzinfo=UTC)
    en = "Ceasefire agreed in Nagorno-Karabakh\n\nArmenia and Azerbaijan agreed a ceasefire in Nagorno-Karabakh, Pashinyan said."
    ru = "Перемирие в Нагорном Карабахе\n\nАрмения и Азербайджан договорились о перемирии в Нагорном Карабахе, заявил Пашинян."
    [a] = extract(make_raw("story-en-1", text=en, published=when), state)
    [b] = extract(make_raw("story-ru-1", text=ru, published=when), state)
    assert a.story_id == b.story_id
    assert b.duplicate_of is None


def test_all_seeds_extract_to_valid_reports(seeds: dict[str, str], state: DedupState) -> None:
    for key, text in seeds.items():
        for report in extract(make_raw(f"seed-{key}-0001", text=text), state):
            Report.model_validate(report.model_dump())
            assert report.headline and report.body


def test_later_versions_of_an_item_replace_its_report_and_say_what_changed(
    state: DedupState,
) -> None:
    first = make_raw("statement-0001", text="Armenian positions near Tegh were shelled at dawn.")
    [v1] = extract(first, state)
    edited = first.model_copy(
        update={
            "text": "Armenian positions near Tegh were shelled at night.",
            "version": 2,
            "edited_at": datetime(2026, 1, 1, 1, tzinfo=UTC),
            "diff": "-at dawn\n+at night",
        }
    )
    [v2] = extract(edited, state)
    withdrawn = edited.model_copy(
        update={"version": 3, "withdrawn_at": datetime(2026, 1, 1, 2, tzinfo=UTC), "diff": None}
    )
    [v3] = extract(withdrawn, state)
    assert v1.report_id == v2.report_id == v3.report_id == "statement-0001"
    assert (v1.version, v2.version, v3.version) == (1, 2, 3)
    assert v2.edited_at and v2.diff == "-at dawn\n+at night" and v1.edited_at is None
    assert v3.withdrawn_at and v3.body == v2.body
    # a version is not a duplicate of its own earlier version
    assert v2.duplicate_of is None and v3.duplicate_of is None


def test_a_casualty_figure_of_background_history_is_not_the_storys() -> None:
    text = (
        "Border clash near Sotk\n\n"
        "Two Armenian soldiers were wounded near Sotk on Tuesday. "
        "The 2020 war killed more than 6,500 people."
    )
    raw = make_raw(text=text, published=datetime(2021, 11, 16, tzinfo=UTC))
    [report] = extract(raw, DedupState(), ExtractorConfig())
    assert {(f.kind.value, f.value) for f in report.figures} == {("wounded", 2)}
    then = make_raw(text=text, published=datetime(2020, 11, 16, tzinfo=UTC))
    [report] = extract(then, DedupState(), ExtractorConfig())  # news when it was published
    assert ("killed", 6500) in {(f.kind.value, f.value) for f in report.figures}


def test_a_pushed_articles_token_is_carried_onto_its_report(state: DedupState) -> None:
    text = fixture_text("ru_ceasefire.txt")
    pushed = make_raw("pushed-0001", text=text).model_copy(update={"pushed_by": "0123456789ab"})
    [report] = extract(pushed, state)
    assert report.pushed_by == "0123456789ab"
    [fetched] = extract(make_raw("fetched-0001", text=text + " Fetched."), DedupState())
    assert fetched.pushed_by is None
