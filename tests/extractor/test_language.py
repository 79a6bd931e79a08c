from __future__ import annotations

import pytest

from services.extractor import language
from services.extractor.language import _settled, detect, detect_report

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


def test_a_text_its_markers_settle_skips_the_wide_detector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the wide detector costs several times the first call: ordinary news in a configured
    # language shows it by its common words or letters and does not need it
    class NoWide:
        def compute_language_confidence_values(self, text: str) -> list[object]:
            raise AssertionError(f"wide detector called on {text!r}")

    for script in ("LATIN", "CYRILLIC"):
        monkeypatch.setitem(language._wide, script, NoWide())
    texts = {
        "en": "The minister said on Monday that the talks with the delegation would resume.",
        "ru": "Переговоры продолжатся в Баку на следующей неделе, сообщили в министерстве обороны.",
        "tr": "Bakan, görüşmelerin önümüzdeki hafta Bakü'de yeniden başlayacağını açıkladı.",
    }
    for code, text in texts.items():
        assert detect(text).language == code


def test_markers_alone_never_settle_a_text_with_letters_outside_the_alphabet() -> None:
    # Kazakh writes ы like Russian, and also letters Russian lacks: it still gets the wide check
    text = "Елордада жаңа мектеп ашылды, оған мыңнан астам оқушы барады, мектепте қазақ тілі оқытылады."
    assert detect(text).language in {"kk", "und"}


def test_marker_words_need_several_distinct_ones() -> None:
    assert not _settled("en", "the the the minister")
    assert _settled("en", "the minister said that talks would resume")
    assert not _settled("fr", "le ministre a dit")  # no markers: always the wide check


def test_markers_name_only_configured_languages() -> None:
    # a marker says "no unconfigured language": it belongs to a language of the configured set
    assert set(language.load_markers()) <= set(language.LANGUAGES)
