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
