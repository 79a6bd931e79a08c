"""Word stems for keyword matching, from the Snowball stemmers (snowballstemmer: pure Python,
the algorithms are the package, nothing is fetched at run time).

A language file of the event keywords names its stemmer (`stemmer: russian`); its keywords
are written as words and match every word of the text with the same stem ("задержали",
"задержан", "задержать" share "задержа"). Stems are folded like the text, and cached: words
repeat a lot across reports."""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

from services.common.fold import fold_text

ALGORITHMS = frozenset(snowballstemmer.algorithms())


@lru_cache(maxsize=64)
def _stemmer(algorithm: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(algorithm)


@lru_cache(maxsize=131_072)
def folded_stem(algorithm: str, word: str) -> str:
    """The stem of one word of the text (any case) by `algorithm`, folded."""
    if algorithm == "turkish":  # "SİHA'lar", "Ermenistan'a": the suffix of a name, cut off
        word = re.split("['’ʼ]", word, maxsplit=1)[0].replace("İ", "i").replace("I", "ı")
    word = word.lower()
    if algorithm == "russian":
        word = word.replace("ё", "е")  # the stemmer's alphabet; texts write either
    return fold_text(_stemmer(algorithm).stemWord(word))


# Stemmers that rewrite the last letter of a stem: Turkish "kitabı" -> "kitap" (b -> p,
# c -> ç, d -> t, ğ -> k); the word start to look for ends before it.
_MUTATED_LAST = {"turkish": ("ch", "p", "t", "k")}


def anchor(algorithm: str, word: str) -> str:
    """The folded word start that every word with the stem of `word` begins with (the common
    start of the stem and the word), for finding candidates before comparing stems."""
    stem, folded = folded_stem(algorithm, word), fold_text(word)
    n = 0
    while n < min(len(stem), len(folded)) and stem[n] == folded[n]:
        n += 1
    start = stem[:n]
    for last in _MUTATED_LAST.get(algorithm, ()):
        if start == stem and start.endswith(last) and len(start) > len(last):
            return start[: -len(last)]
    return start
