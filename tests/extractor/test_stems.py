from __future__ import annotations

import pytest

from services.common.fold import fold_text
from services.extractor.stems import anchor, folded_stem


@pytest.mark.parametrize(
    ("algorithm", "words"),
    [
        ("russian", ["задержали", "задержан", "задержать"]),
        ("russian", ["ёлка", "елки"]),  # texts write ё or е
        ("turkish", ["SİHA", "SİHA'lar", "siha"]),  # a name's suffix after the apostrophe
        ("english", ["clash", "clashes", "clashed"]),
    ],
)
def test_forms_of_one_word_share_a_stem(algorithm: str, words: list[str]) -> None:
    assert len({folded_stem(algorithm, word) for word in words}) == 1


def test_the_anchor_starts_every_form_even_when_the_stemmer_rewrites_the_last_letter() -> None:
    # Turkish kitap / kitabı: the stem ends in p, the inflected word in b
    start = anchor("turkish", "kitap")
    assert fold_text("kitabı").startswith(start) and fold_text("kitap").startswith(start)
    assert folded_stem("turkish", "kitabı") == folded_stem("turkish", "kitap")
