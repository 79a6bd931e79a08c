from __future__ import annotations

import pytest

from schemas.report import EventLabel, EventType
from services.extractor.clean import CleanDoc, clean, sentence_spans, split_sentences
from services.extractor.events import find_events, find_events_folded
from services.extractor.fold import fold_words
from services.extractor.pipeline import text_layout

from .conftest import FIXTURES as FIXTURES_DIR
from .conftest import fixture_text, make_raw

FIXTURES = sorted(p.name for p in FIXTURES_DIR.glob("*.txt"))


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


def _events_as_the_pipeline_finds_them(doc: CleanDoc) -> list[EventLabel]:
    """The pipeline's way: the report (headline + body, a digest item alone) folded once."""
    layout = text_layout(doc)
    return find_events_folded(
        fold_words(layout.text), layout.sentence_spans, doc.headline, layout.headline_span
    )


@pytest.mark.parametrize("name", FIXTURES)
def test_events_of_the_once_folded_report_equal_those_of_each_sentence_folded(name: str) -> None:
    for doc in clean(make_raw(text=fixture_text(name))):
        expected = find_events(split_sentences(doc.body), doc.headline)
        assert _events_as_the_pipeline_finds_them(doc) == expected


def test_seed_events_of_the_once_folded_report_equal_those_of_each_sentence_folded(
    seeds: dict[str, str],
) -> None:
    for text in seeds.values():
        for doc in clean(make_raw(text=text)):
            expected = find_events(split_sentences(doc.body), doc.headline)
            assert expected
            assert _events_as_the_pipeline_finds_them(doc) == expected


def test_a_keyword_is_not_pieced_together_across_two_sentences() -> None:
    body = "Both governments said they want peace. Talks are not planned this year."
    assert find_events(split_sentences(body)) == []
    doc = CleanDoc(headline="", body=body, paragraphs=[body], published=None)
    assert _events_as_the_pipeline_finds_them(doc) == []


def test_sentence_spans_point_at_the_stripped_sentences() -> None:
    text = '  First one.  "Second?" Third!\n\nFourth line  \n'
    spans = sentence_spans(text)
    # a closing quote after the full stop goes with the break, as it always did
    assert [text[s:e] for s, e in spans] == ["First one.", '"Second?', "Third!", "Fourth line"]
