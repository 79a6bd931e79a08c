from __future__ import annotations

import pytest

from services.extractor.language import detect, detect_report

from .conftest import fixture_text


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("en_clash.txt", "en"),
        ("ru_ceasefire.txt", "ru"),
        ("hy_displacement.txt", "hy"),
        ("az_exercise.txt", "az"),
        ("tr_protest.txt", "tr"),
        ("id_digest.txt", "id"),
        ("el_talks.txt", "el"),
    ],
)
def test_fixture_language_is_identified_with_confidence(name: str, language: str) -> None:
    guess = detect(fixture_text(name))
    assert guess.language == language
    assert guess.confidence > 0.5


def test_mixed_page_gets_a_language_per_paragraph() -> None:
    paragraphs = [
        "Armenian Prime Minister Nikol Pashinyan met Azerbaijani President Ilham Aliyev today.",
        "Премьер-министр Армении Никол Пашинян встретился с президентом Азербайджана.",
        "Ermenistan Başbakanı Nikol Paşinyan, Azerbaycan Cumhurbaşkanı ile görüştü.",
    ]
    guess, spans = detect_report("\n".join(paragraphs), paragraphs)
    assert [s.language for s in spans] == ["en", "ru", "tr"]
    assert all(0 < s.confidence <= 1 for s in spans)
    assert guess.language in {"en", "ru", "tr"}


def test_empty_text_is_undetermined() -> None:
    assert detect("   ").language == "und"


def test_seeds_are_english_except_the_indonesian_digest(seeds: dict[str, str]) -> None:
    assert detect(seeds["000"]).language == "id"
    for key in ("001", "002", "003", "004"):
        assert detect(seeds[key]).language == "en", key


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Правителството одобри днес проектобюджета за следващата година.", "bg"),
        ("Қазақстан Республикасының Президенті бүгін шетел делегациясын қабылдады.", "kk"),
        ("Влада Србије је данас усвојила нови закон о енергетици.", "sr"),
        ("Владата денеска ја усвои одлуката за новите мерки за поддршка на земјоделците.", "mk"),
        ("O governo aprovou hoje o orçamento para o próximo ano.", "pt"),
    ],
)
def test_a_language_outside_the_configured_set_is_not_forced_into_one(
    text: str, language: str
) -> None:
    assert detect(text).language in {language, "und"}


def test_a_script_no_configured_language_writes_is_undetermined() -> None:
    assert detect("政府今天批准了明年的预算，总理办公室表示。").language == "und"


def test_russian_and_ukrainian_stay_themselves_after_the_second_check() -> None:
    assert detect("Переговоры продолжатся в Баку на следующей неделе.").language == "ru"
    assert detect("Уряд ухвалив рішення про підтримку переселенців.").language == "uk"
