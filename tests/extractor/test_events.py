from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from schemas.report import EventLabel, EventType
from services.common.fold import fold_words
from services.extractor.clean import CleanDoc, clean, sentence_spans, split_sentences
from services.extractor.events import EventRules, find_events, find_events_folded, load_rules
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


def _labels(*sentences: str, published: date | None = None) -> dict[EventType, EventLabel]:
    return {e.type: e for e in find_events(list(sentences), published=published)}


def test_a_demo_disclaimer_is_boilerplate_and_tags_nothing() -> None:
    assert _labels("Эта статья сгенерирована caucasus-watch для демонстрации.") == {}
    assert _labels("Bu məqalə caucasus-watch tərəfindən nümayiş məqsədilə yaradılıb.") == {}
    assert _labels("Related posts: Clashes in Sudan | Sanctions on Iran extended") == {}


@pytest.mark.parametrize(
    "sentence",
    [
        "The opposition called for sanctions if the blockade continues.",
        "Санкции — единственный способ воздействия, считает Меркель.",
        "Минобороны опровергло сообщения об обстреле армянских позиций.",
        "Deputat blokada davam edərsə sanksiyalar tətbiq olunmasına çağırıb.",
        "Բաքուն սպառնացել է պատժամիջոցներով, եթե Երևանը վավերացնի ստատուտը։",
    ],
)
def test_calls_threats_conditionals_opinions_and_denials_are_not_events(sentence: str) -> None:
    assert _labels(sentence) == {}


def test_a_negated_clause_is_not_an_event_but_the_rest_of_the_sentence_is() -> None:
    assert _labels("Armenia does not recognise the so-called elections.") == {}
    assert _labels("Հայաստանը չի ճանաչում Ղարաբաղում անցկացված ընտրությունները։") == {}
    found = _labels("Военные задержаны не были: группа вступила в бой и отошла.")
    assert set(found) == {EventType.ARMED_CLASH}


def test_a_sentence_dated_before_the_publication_is_background_history() -> None:
    history = "In 2020 the war killed more than 6,500 people and shelling hit Stepanakert."
    assert _labels(history, published=date(2026, 3, 1)) == {}
    assert _labels(history, published=date(2020, 11, 1))  # news when it was published


@pytest.mark.parametrize(
    ("sentence", "not_expected"),
    [
        ("Քարտեզը ցույց է տալիս սահմանի նոր գիծը։", EventType.PROTEST),  # "to show"
        ("Yerevan summoned the ambassador and handed him a protest note.", EventType.PROTEST),
        ("FIFA sanctioned the football federation over fans' chants.", EventType.SANCTIONS),
        ("Police clashed with protesters outside parliament.", EventType.ARMED_CLASH),
        (
            "Thousands marched to the Tsitsernakaberd memorial to commemorate the victims.",
            EventType.PROTEST,
        ),
    ],
)
def test_another_sense_of_a_word_does_not_give_its_event(
    sentence: str, not_expected: EventType
) -> None:
    assert not_expected not in _labels(sentence)


def test_an_armenian_verb_last_violation_is_a_violation_not_a_ceasefire() -> None:
    found = _labels("Հրադադարի ռեժիմը կրկին խախտվել է, հայտնում է ՊՆ-ն։")
    assert set(found) == {EventType.CEASEFIRE_VIOLATION}


def test_inflected_forms_and_phrases_are_found_by_their_stems() -> None:
    assert EventType.LEGAL_ACTION in _labels("Бывшего министра задержали по подозрению в растрате.")
    assert EventType.DIPLOMATIC in _labels("Путин провел телефонный разговор с Пашиняном.")
    aid = _labels("Евросоюз выделил пять миллионов евро гуманитарной помощи.")
    assert EventType.HUMANITARIAN_AID in aid


def test_a_keyword_only_matches_words_of_its_own_script() -> None:
    # Turkish "havan" (mortar) folds like the start of Armenian "հավանություն" (approval)
    assert _labels("Կառավարությունը հավանություն է տվել բյուջեի նախագծին։") == {}


def test_one_primary_event_first_with_its_evidence_and_subtype() -> None:
    sentences = [
        "Azerbaijani drones struck an Armenian air-defence unit near Vardenis.",
        "Residents fled the nearby villages.",
    ]
    labels = find_events(sentences)
    assert [label.primary for label in labels] == [True] + [False] * (len(labels) - 1)
    assert labels[0].type is EventType.SHELLING_STRIKE
    assert labels[0].subtype == "drone_strike"
    assert labels[0].evidence == sentences[0]
    court = _labels("A Baku court sentenced the former commander to 15 years in prison.")
    assert court[EventType.LEGAL_ACTION].subtype == "sentence"


def test_confidence_comes_from_the_calibration_table_and_grows_with_evidence() -> None:
    table = load_rules().calibration
    assert list(table) == sorted(table)
    one = _labels("Armenia and Azerbaijan agreed on a ceasefire.")[EventType.CEASEFIRE]
    two = _labels("Armenia and Azerbaijan agreed on a ceasefire and a truce.")[EventType.CEASEFIRE]
    assert one.confidence in table and two.confidence in table
    assert two.confidence >= one.confidence


def _rules_of(tmp_path: Path, body: str) -> EventRules:
    (tmp_path / "xx.yaml").write_text(body, encoding="utf-8")
    (tmp_path / "_calibration.yaml").write_text("points: {1: 0.5, 3: 0.95}\n", encoding="utf-8")
    load_rules.cache_clear()
    return load_rules(tmp_path)


def test_a_keyword_word_finds_the_words_with_its_stem_not_every_word_it_starts(
    tmp_path: Path,
) -> None:
    rules = _rules_of(
        tmp_path,
        "stemmer: russian\nevents:\n  legal_action: ['!задержать']\n",
    )
    for sentence in ("Полиция задержала двоих.", "Их задержали утром.", "Он был задержан."):
        assert [e.type for e in find_events([sentence], rules=rules)] == [EventType.LEGAL_ACTION]
    english = _rules_of(tmp_path, "stemmer: english\nevents:\n  armed_clash: ['!wars']\n")
    assert find_events(["The war resumed in the north."], rules=english)
    # "war" starts "warning" and "warm" without being their stem
    assert find_events(["A warning was issued as warm weather returned."], rules=english) == []


def test_a_starred_keyword_word_is_a_word_start(tmp_path: Path) -> None:
    rules = _rules_of(tmp_path, "stemmer: english\nevents:\n  armed_clash: ['!shell*']\n")
    assert find_events(["Shellfire hit the village."], rules=rules)
    stemmed = _rules_of(tmp_path, "stemmer: english\nevents:\n  armed_clash: ['!shells']\n")
    assert find_events(["A shell hit the village."], rules=stemmed)
    assert find_events(["Shellfire hit the village."], rules=stemmed) == []


def test_a_language_file_naming_no_known_stemmer_fails_to_load(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="klingon"):
        _rules_of(tmp_path, "stemmer: klingon\nevents:\n  armed_clash: ['!war']\n")


def test_a_word_that_several_language_files_list_counts_once(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text("events:\n  alliance: [nato$]\n", encoding="utf-8")
    (tmp_path / "tr.yaml").write_text(
        "stemmer: turkish\nevents:\n  alliance: [NATO]\n", encoding="utf-8"
    )
    (tmp_path / "_calibration.yaml").write_text("points: {1: 0.1, 2: 0.6}\n", encoding="utf-8")
    load_rules.cache_clear()
    assert find_events(["The minister met NATO officials."], rules=load_rules(tmp_path)) == []


def test_an_event_only_quoted_speech_reports_is_a_claim_not_a_confident_label() -> None:
    quote = "«Нас обстреляли с той стороны уже в третий раз», — написал местный блогер."
    assert find_events([quote]) == []
    confirmed = find_events(["Минобороны сообщило об обстреле позиций у Сотка.", quote])
    assert [e.type for e in confirmed] == [EventType.SHELLING_STRIKE]
    # a short quote is a name, not speech
    assert find_events(['Drones of "Bayraktar" shelled the village.'])
