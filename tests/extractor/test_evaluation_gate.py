"""Regression gate on the labelled set, like trafilatura's evaluation: floors are pinned a
little under today's scores; raise them when the extractor improves, never lower them to make
a change pass."""

from __future__ import annotations

import pytest

from devtools.evaluation import (
    DEFAULT_SET,
    ENTITY_NEGATIVES,
    EVENTS_SET,
    LANGUAGE_SET,
    EventScores,
    Score,
    evaluate,
    evaluate_entity_negatives,
    evaluate_events,
    evaluate_languages,
    load_event_floors,
    load_floors,
    load_labelled,
    summary,
)
from devtools.own_pages import build_pages, own_pages_f1
from schemas.report import EventType
from services.extractor.language import LANGUAGES

FLOORS = {
    "entities_precision": 0.97,
    "entities_recall": 0.95,
    "events_precision": 0.95,
    "events_recall": 0.88,
    "figures_precision": 0.95,
    "figures_recall": 0.9,
    "language_f1": 0.95,
}


@pytest.fixture(scope="module")
def scores() -> dict[str, Score]:
    return evaluate(load_labelled(DEFAULT_SET))


def test_labelled_set_covers_the_seven_fixture_languages() -> None:
    languages = {item["language"] for item in load_labelled(DEFAULT_SET)}
    assert {"en", "ru", "hy", "az", "tr", "id", "el"} <= languages


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_accuracy_does_not_fall_below_its_floor(scores: dict[str, Score], metric: str) -> None:
    value = summary(scores)[metric]
    misses = [m for s in scores.values() for m in s.misses]
    assert value >= FLOORS[metric], f"{metric}={value:.3f} < {FLOORS[metric]}; misses: {misses}"


EVENT_FLOORS = [
    (split, metric, floor)
    for split, floors in sorted(load_event_floors().items())
    for metric, floor in sorted(floors.items())
]


@pytest.fixture(scope="module")
def event_scores() -> dict[str, EventScores]:
    return evaluate_events(load_labelled(EVENTS_SET))


def test_events_set_is_large_multilingual_and_a_third_negative() -> None:
    items = load_labelled(EVENTS_SET)
    assert len(items) >= 400
    assert {"hy", "az", "ru", "tr", "en", "ka", "fa"} <= {item["language"] for item in items}
    assert sum(not item["events"] for item in items) * 3 >= len(items)
    assert {item["split"] for item in items} == {"dev", "heldout", "fresh"}
    for event_type in EventType:
        assert sum(event_type.value in item["events"] for item in items) >= 15, event_type
    for item in items:
        assert (item["primary"] is None) == (not item["events"]), item["id"]
        assert not item["events"] or item["events"][0] == item["primary"], item["id"]


@pytest.mark.parametrize(("split", "metric", "floor"), EVENT_FLOORS)
def test_event_accuracy_does_not_fall_below_its_floor(
    event_scores: dict[str, EventScores], split: str, metric: str, floor: float
) -> None:
    scores = event_scores[split]
    value = scores.summary()[metric]
    assert value >= floor, f"{split} {metric}={value:.3f} < {floor}; misses: {scores.micro.misses}"


GATE_FLOORS = load_floors()


@pytest.fixture(scope="module")
def language_scores() -> dict[str, float]:
    return evaluate_languages(load_labelled(LANGUAGE_SET))


def test_language_set_has_languages_outside_the_configured_set() -> None:
    items = load_labelled(LANGUAGE_SET)
    outside = {item["language"] for item in items} - set(LANGUAGES)
    assert {"bg", "kk", "sr", "mk", "und"} <= outside


@pytest.mark.parametrize("metric", sorted(k for k in GATE_FLOORS if k.startswith("language_")))
def test_language_identification_does_not_fall_below_its_floor(
    language_scores: dict[str, float], metric: str
) -> None:
    assert language_scores[metric] >= GATE_FLOORS[metric], language_scores


def test_ordinary_words_and_other_peoples_names_do_not_match_entities() -> None:
    items = load_labelled(ENTITY_NEGATIVES)
    assert len(items) >= 20
    scores, misses = evaluate_entity_negatives(items)
    floor = GATE_FLOORS["entities_negatives_clean"]
    assert scores["entities_negatives_clean"] >= floor, misses


@pytest.fixture(scope="module")
def own_scores() -> dict[str, float]:
    return own_pages_f1()


def test_own_page_set_has_150_pages_in_the_nine_languages() -> None:
    pages = build_pages()
    assert len(pages) >= 150
    assert {p.lang for p in pages} == {"hy", "az", "ru", "tr", "ka", "en", "fr", "de", "fa"}


@pytest.mark.parametrize("metric", sorted(k for k in GATE_FLOORS if k.startswith("extract_f1_own")))
def test_body_text_on_our_own_pages_does_not_fall_below_its_floor(
    own_scores: dict[str, float], metric: str
) -> None:
    assert own_scores[metric] >= GATE_FLOORS[metric], own_scores
