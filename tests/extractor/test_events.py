from __future__ import annotations

import pytest

from schemas.report import EventType
from services.extractor.clean import clean, split_sentences
from services.extractor.events import find_events

from .conftest import fixture_text, make_raw


def _types(text: str) -> dict[EventType, float]:
    [doc] = clean(make_raw(text=text))[:1]
    return {e.type: e.confidence for e in find_events(split_sentences(doc.body), doc.headline)}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("en_clash.txt", {EventType.ARMED_CLASH, EventType.SHELLING_STRIKE}),
        ("ru_ceasefire.txt", {EventType.CEASEFIRE, EventType.ARMED_CLASH}),
        ("hy_displacement.txt", {EventType.DISPLACEMENT, EventType.HUMANITARIAN_AID}),
        ("az_exercise.txt", {EventType.MILITARY_EXERCISE, EventType.PEACE_TALKS}),
        ("tr_protest.txt", {EventType.PROTEST, EventType.CEASEFIRE_VIOLATION}),
        ("el_talks.txt", {EventType.PEACE_TALKS, EventType.DIPLOMATIC}),
    ],
)
def test_fixture_events_are_found_in_its_language(name: str, expected: set[EventType]) -> None:
    found = _types(fixture_text(name))
    assert expected <= set(found), found


def test_each_label_carries_a_confidence_and_the_supporting_sentence() -> None:
    sentences = [
        "The weather was fine.",
        "Armenia and Azerbaijan agreed on a ceasefire late on Tuesday.",
    ]
    [label] = find_events(sentences)
    assert label.type is EventType.CEASEFIRE
    assert label.evidence == sentences[1]
    assert 0.5 <= label.confidence <= 1


def test_a_single_weak_keyword_is_not_enough() -> None:
    assert find_events(["The minister made a statement."]) == []


def test_gap_pattern_finds_a_ceasefire_violation() -> None:
    labels = find_events(["Both sides violated several humanitarian cease-fire agreements."])
    assert EventType.CEASEFIRE_VIOLATION in {e.type for e in labels}


def test_indonesian_seed_items_get_their_events(seeds: dict[str, str]) -> None:
    docs = clean(make_raw(text=seeds["000"]))
    labels = [{e.type for e in find_events(split_sentences(d.body))} for d in docs]
    assert EventType.RECOGNITION in labels[1]  # Armenia recognises Palestine
    assert EventType.ALLIANCE in labels[2]  # leaving the CSTO
    assert EventType.LEGAL_ACTION in labels[3]  # ICJ
    assert EventType.PEACE_TALKS in labels[6]
    assert EventType.MILITARY_EXERCISE in labels[7]
    assert EventType.CEASEFIRE in labels[10]


def test_english_seed_about_border_clashes_has_clash_ceasefire_and_alliance(
    seeds: dict[str, str],
) -> None:
    found = _types(seeds["001"])
    assert {EventType.ARMED_CLASH, EventType.CEASEFIRE, EventType.ALLIANCE} <= set(found)
