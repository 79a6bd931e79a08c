from __future__ import annotations

import pytest

from services.common.fold import fold_text


@pytest.mark.parametrize(
    ("variant", "folded"),
    [
        ("Пашинян", "pashinyan"),
        ("Փաշինյան", "pashinyan"),
        ("Paşinyan", "pashinyan"),
        ("Алиев", "aliyev"),
        ("Əliyev", "aliyev"),
        ("Şuşa", "shusha"),
        ("Շուշի", "shushi"),
        ("Laçın", "lachin"),
        ("Ереван", "yerevan"),
        ("Μπακού", "baku"),
        ("Ստեփանակերտ", "stepanakert"),
    ],
)
def test_variants_in_other_scripts_fold_to_the_usual_latin_spelling(
    variant: str, folded: str
) -> None:
    assert fold_text(variant) == folded


def test_fold_is_lowercase_ascii_words_without_punctuation() -> None:
    assert fold_text("  Hello, WORLD! 6,500 — Paşinyan'ın  ") == "hello world 6 500 pashinyanin"
    assert fold_text("") == ""


def test_query_and_text_fold_the_same_way() -> None:
    text = fold_text("Премьер-министр Никол Пашинян заявил")
    assert fold_text("Pashinyan") in text.split()
