from __future__ import annotations

import pytest

from schemas.report import FigureKind
from services.extractor.clean import clean, split_sentences
from services.extractor.figures import Literals, _literal_prefix, find_figures, load_rules

from .conftest import fixture_text, make_raw


def _figures(text: str, language: str = "en") -> list[tuple[FigureKind, int]]:
    return [(f.kind, f.value) for f in find_figures([text], language)]


@pytest.mark.parametrize(
    ("sentence", "language", "expected"),
    [
        ("In 2020 more than 6,500 people were killed.", "en", [(FigureKind.KILLED, 6500)]),
        ("Some 100 000 Armenians fled the region.", "en", [(FigureKind.DISPLACED, 100000)]),
        ("Clashes resulted in the deaths of dozens of soldiers.", "en", [(FigureKind.KILLED, 24)]),
        ("Two Azeri soldiers were injured.", "en", [(FigureKind.WOUNDED, 2)]),
        ("12 of its soldiers were captured.", "en", [(FigureKind.CAPTURED, 12)]),
        ("Three servicemen are missing.", "en", [(FigureKind.MISSING, 3)]),
        (
            "Погибли 15 военнослужащих, двое ранены.",
            "ru",
            [(FigureKind.KILLED, 15), (FigureKind.WOUNDED, 2)],
        ),
        ("İki asker yaralandı.", "tr", [(FigureKind.WOUNDED, 2)]),
        ("Üç hərbçi həlak olub.", "az", [(FigureKind.KILLED, 3)]),
        ("Լեռնային Ղարաբաղից 100000 փախստական է ժամանել։", "hy", [(FigureKind.DISPLACED, 100000)]),
        ("Lebih dari 100.000 orang mengungsi.", "id", [(FigureKind.DISPLACED, 100000)]),
        ("3 στρατιώτες σκοτώθηκαν.", "el", [(FigureKind.KILLED, 3)]),
    ],
)
def test_claim_number_and_kind_are_read(
    sentence: str, language: str, expected: list[tuple[FigureKind, int]]
) -> None:
    assert _figures(sentence, language) == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "The war ended on 9 November 2020 and killed nobody we know of.",
        "Clashes erupted on Sept. 27 last year.",
        "Inflation rose 5% while 3 ministers met.",
        "Armenia and Azerbaijan fought a 44-day war.",
        "The truce was signed at 18.30 in the afternoon.",
    ],
)
def test_dates_percentages_and_durations_are_not_claims(sentence: str) -> None:
    assert _figures(sentence) == []


def test_more_than_is_a_lower_bound_marked_approximate() -> None:
    [figure] = find_figures(["In 2020 more than 6,500 people were killed."])
    assert figure.text == "more than 6,500" and figure.approximate and figure.subject == "people"


def test_subject_and_claimant_are_extracted() -> None:
    sentences = [
        "Armenia's defence ministry said 49 Armenian soldiers were killed and 7 were captured.",
        "The Ministry of Defense of Azerbaijan said two Azeri soldiers were injured.",
    ]
    figures = find_figures(sentences)
    killed = next(f for f in figures if f.kind is FigureKind.KILLED)
    assert killed.value == 49 and killed.subject == "Armenian soldiers"
    assert killed.claimant == "Armenia MoD"
    wounded = next(f for f in figures if f.kind is FigureKind.WOUNDED)
    assert wounded.claimant == "Azerbaijan MoD" and wounded.evidence == sentences[1]


def test_turkish_number_word_on_is_not_read_in_english() -> None:
    assert _figures("Soldiers were killed on Monday.", "en") == []


def test_seed_figures_from_the_greek_translation(seeds: dict[str, str]) -> None:
    [doc] = clean(make_raw(text=seeds["003"]))
    figures = {(f.kind, f.value): f for f in find_figures(split_sentences(doc.body))}
    assert figures[(FigureKind.KILLED, 15)].claimant == "Armenian parliament"
    assert (FigureKind.CAPTURED, 12) in figures
    assert (FigureKind.KILLED, 6500) in figures
    assert figures[(FigureKind.WOUNDED, 2)].claimant == "Azerbaijan MoD"


def test_russian_fixture_claims_come_from_the_armenian_ministry() -> None:
    [doc] = clean(make_raw(text=fixture_text("ru_ceasefire.txt")))
    figures = find_figures(split_sentences(doc.body), "ru")
    assert {(f.kind, f.value, f.claimant) for f in figures} == {
        (FigureKind.KILLED, 15, "Armenia MoD"),
        (FigureKind.CAPTURED, 12, "Armenia MoD"),
    }


@pytest.mark.parametrize(
    "sentence",
    [
        "İKİ ASKER ÖLDÜ",
        "Iki asker öldü",
        "ДВА СОЛДАТА УБИТЫ",
        "TWO SOLDIERS WERE KILLED",
        "One death was reported by the Armenian defence ministry.",
        "3 POW returned",
    ],
)
def test_prefilters_let_through_whatever_the_case_insensitive_rules_match(sentence: str) -> None:
    rules = load_rules()
    assert rules.kinds.search(sentence)
    assert rules.kinds_filter.found_in(sentence)
    for lang in rules.langs.values():
        if lang.words is not None and lang.words.search(sentence):
            assert lang.words_filter.found_in(sentence)
    for _, pattern, literals in rules.claimants:
        if pattern.search(sentence):
            assert literals.found_in(sentence)


def test_prefilters_stop_a_sentence_without_any_kind_or_number_word() -> None:
    rules = load_rules()
    sentence = "The talks in Brussels resumed on Monday."
    assert not rules.kinds_filter.found_in(sentence)
    assert not rules.langs["en"].words_filter.found_in(sentence)


def test_a_stem_regex_is_prefiltered_by_the_text_it_starts_with() -> None:
    assert _literal_prefix("left (their homes|the region)") == "left "
    assert _literal_prefix(r"взят\w* в плен") == "взят"
    assert _literal_prefix(r"deaths?\b") == "death"  # a quantified letter is not required
    assert _literal_prefix("x*") == ""
    assert Literals([_literal_prefix("(a|b)c")]).found_in("anything")  # no literal start: no filter
