"""Cross-script folding: any script -> lower-case ASCII words, for matching and search.

`fold_text` is also called by the search service on queries, so it must stay deterministic:
the same input folds to the same output on every machine and version of this module.
A few script-specific rules run before anyascii so that the usual romanisations meet:
Azerbaijani/Turkish "ş", "ç", "ə" (Paşinyan, Laçın, Əliyev -> pashinyan, lachin, aliyev),
Armenian "ու" (Շուշի -> shushi), Greek digraphs (Μπακού -> baku) and Russian "е" after a
vowel (Алиев -> aliyev, Ереван -> yerevan), as in BGN/PCGN.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from anyascii import anyascii

_CHARS = str.maketrans(
    {
        "ə": "a",
        "Ə": "A",
        "ş": "sh",
        "Ş": "Sh",
        "ç": "ch",
        "Ç": "Ch",
        "ё": "yo",
        "Ё": "Yo",
        "’": "",
        "'": "",
        "ʼ": "",
        "ʻ": "",
        "`": "",
        "‘": "",
        "´": "",
    }
)
_ARMENIAN_U = re.compile("[ՈO]ւ|ու|ՈՒ")
_GREEK = (
    (re.compile(r"ου", re.I), "u"),
    (re.compile(r"(?:(?<=\W)|^)μπ", re.I), "b"),
    (re.compile(r"μπ", re.I), "mb"),
    (re.compile(r"(?:(?<=\W)|^)ντ", re.I), "d"),
    (re.compile(r"ντ", re.I), "nd"),
    (re.compile(r"γκ", re.I), "g"),
)
_CYR_YE = re.compile(r"(?:(?<=[аеёиоуыэюяъьАЕЁИОУЫЭЮЯЪЬ])|(?<![\w]))([еЕ])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_HAS_GREEK = re.compile(r"[\u0370-\u03ff]")
_HAS_CYR = re.compile(r"[\u0400-\u04ff]")


_GREEK_ACCENTED = re.compile(r"[\u0386-\u038f\u0390\u03aa-\u03b0\u03ca-\u03ce\u1f00-\u1fff]")


def _strip_accent(match: re.Match[str]) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", match.group(0)) if c.isalpha())


def _premap(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_CHARS)
    if "ւ" in text:
        text = _ARMENIAN_U.sub("u", text)
    if _HAS_GREEK.search(text):
        text = _GREEK_ACCENTED.sub(_strip_accent, text)
        for pattern, repl in _GREEK:
            text = pattern.sub(repl, text)
    if _HAS_CYR.search(text):
        text = _CYR_YE.sub(lambda m: "ye" if m.group(1) == "е" else "Ye", text)
    return text


def fold_text(text: str) -> str:
    """Transliterate to ASCII, case-fold, drop apostrophes, turn punctuation into spaces."""
    if not text:
        return ""
    ascii_text = anyascii(_premap(text)).casefold().translate(_CHARS)
    return _NON_ALNUM.sub(" ", ascii_text).strip()


@lru_cache(maxsize=262_144)
def fold_token(token: str) -> str:
    """`fold_text` for one word, cached: words repeat a lot across reports."""
    return fold_text(token)


_WORD = re.compile(r"\w+(?:['’ʼ]\w+)*")  # any script; apostrophes inside a word kept: Paşinyan'ın


def fold_words_joined(text: str) -> str:
    """`fold_text` word by word through the cache: the same result, much cheaper on news text
    where most words were seen before."""
    return " ".join(f for f in (fold_token(m.group()) for m in _WORD.finditer(text)) if f)


@dataclass(slots=True)
class FoldedText:
    """Text as folded words, with a map back to the original spelling. Folded once per report
    and shared by the steps that match words (entities, events, dedup, the search copy)."""

    text: str
    folded: str  # " w1 w2 ... " (leading/trailing space: word boundaries for the automata)
    starts: dict[int, int]  # folded offset of a word -> word index
    spans: list[tuple[int, int]]  # word index -> (start, end) in `text`
    tokens: list[str]  # word index -> folded word


def fold_words(text: str) -> FoldedText:
    matches = list(_WORD.finditer(text))
    tokens = [fold_token(m.group()) for m in matches]
    if "" in tokens:  # a word with nothing to fold to (an underscore, some symbols)
        kept = [i for i, token in enumerate(tokens) if token]
        matches = [matches[i] for i in kept]
        tokens = [tokens[i] for i in kept]
    offsets = accumulate((len(token) + 1 for token in tokens), initial=1)
    return FoldedText(
        text,
        " " + " ".join(tokens) + " ",
        dict(zip(offsets, range(len(tokens)), strict=False)),  # one offset more than words
        [m.span() for m in matches],
        tokens,
    )
