"""Offline language identification (lingua), for the report and per paragraph.

The detector is restricted to the languages of the region and the big languages that write
about it: fewer candidates is both faster and more accurate on short paragraphs. Restricted,
it would also read every other language as one of them (Bulgarian and Kazakh as Russian), so
its answer is checked a second time: a cheap detector (lingua's low-accuracy mode, about 90 MB
for all of them) over every lingua language written in the text's script decides whether an
unconfigured language is clearly more likely (its common words, names left out); then the
text is reported as that language. The check is skipped when the text shows its language by
letters or words no unconfigured language writes (data/language_markers.yaml): most reports,
since the wide detector costs several times the first call. A text in a script no configured
language uses is `und`."""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from schemas.report import LanguageSpan

LANGUAGES = (
    "en",
    "ru",
    "hy",
    "az",
    "tr",
    "ka",
    "fa",
    "ar",
    "fr",
    "de",
    "es",
    "it",
    "el",
    "id",
    "uk",
)
MIN_PARAGRAPH_CHARS = 30
MAX_SAMPLE_CHARS = 250  # lingua is sure of a language well before that; the cost grows with it
PARAGRAPH_SAMPLE_CHARS = 100
MAX_PARAGRAPHS = 12  # per-paragraph languages of the first paragraphs only, for cost
# Every lingua language, by script: the candidates of the second check. A script missing here
# (Han, Devanagari, Hebrew, ...) is written by no configured language: its text is `und`.
SCRIPT_LANGUAGES = {
    "LATIN": (
        # news languages only: Esperanto or Latin would win short, name-heavy English lines
        "en tr az id fr de es it pt nl pl ro ca cs sk hr bs sl sq hu sv da nb fi et lv lt "
        "vi tl sw so af"  # not Malay: it takes Indonesian digests
    ),
    "CYRILLIC": "ru uk bg kk sr mk be mn",
    "ARABIC": "fa ar ur",
    "GREEK": "el",
    "ARMENIAN": "hy",
    "GEORGIAN": "ka",
}
WIDE_MIN_LETTERS = 40  # below that the second check is no better than a guess: none is made
# Letters each configured Cyrillic language writes: a text with others (Kazakh қ ң ә, Serbian
# ј љ, Belarusian ў) is checked a second time even when short.
ALPHABETS = {
    "ru": frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя"),
    "uk": frozenset("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя'"),
}
MARGIN = 0.5  # an unconfigured language must lead the configured answer by this much
MARKERS_FILE = Path(__file__).resolve().parent / "data" / "language_markers.yaml"
MARKER_WORDS = 3  # distinct marker words that settle a language without the wide detector
_WORDS = re.compile(r"\w+")

_detectors: dict[bool, LanguageDetector] = {}
_wide: dict[str, LanguageDetector] = {}
_lock = threading.Lock()


def _languages(codes: list[str] | tuple[str, ...]) -> list[Language]:
    return [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in codes]


def wide_detector(script: str) -> LanguageDetector | None:
    """The second check's detector for one script, or None when the script has one language
    (Armenian, Georgian, Greek: the first answer stands)."""
    codes = SCRIPT_LANGUAGES.get(script, "").split()
    if len(codes) < 2 or set(codes) <= set(LANGUAGES):
        return None
    with _lock:
        if script not in _wide:
            builder = LanguageDetectorBuilder.from_languages(*_languages(codes))
            _wide[script] = builder.with_low_accuracy_mode().build()
        return _wide[script]


def detector(fast: bool = False) -> LanguageDetector:
    """The report-level detector, or (fast=True) lingua's low-accuracy mode, several times
    cheaper per call and good enough to notice a paragraph in another language."""
    with _lock:
        if fast not in _detectors:
            builder = LanguageDetectorBuilder.from_languages(*_languages(LANGUAGES))
            if fast:
                builder = builder.with_low_accuracy_mode()
            _detectors[fast] = builder.build()
        return _detectors[fast]


def preload() -> None:
    """Load the language models now (a worker does it at start, not on its first message)."""
    load_markers()
    for fast in (False, True):
        for sample in ("warm up the language models", "ok"):
            detector(fast).compute_language_confidence_values(sample)
    for script in SCRIPT_LANGUAGES:
        wide = wide_detector(script)
        if wide is not None:
            wide.compute_language_confidence_values("warm up the language models")


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    language: str
    confidence: float


UNKNOWN = LanguageGuess("und", 0.0)


def detect(text: str, limit: int = MAX_SAMPLE_CHARS, fast: bool = False) -> LanguageGuess:
    sample = text[:limit].strip()
    if not sample:
        return UNKNOWN
    values = detector(fast).compute_language_confidence_values(sample)
    if not values:
        return UNKNOWN
    top = values[0]
    guess = LanguageGuess(top.language.iso_code_639_1.name.lower(), round(float(top.value), 4))
    return _second_check(sample, guess)


@functools.lru_cache(maxsize=8192)
def _letter_script(char: str) -> str:
    """The Unicode script of one letter ("LATIN", "CYRILLIC", ...): cached, since a text
    repeats a few dozen letters and unicodedata.name builds a string per call."""
    return unicodedata.name(char, "").split(" ", 1)[0]


def _main_script(text: str) -> str:
    """The script most letters of `text` are written in ("" when it has no letter)."""
    if text.isascii():  # most English and Indonesian samples: no per-character work
        return "LATIN" if any(c.isalpha() for c in set(text)) else ""
    counts: dict[str, int] = {}
    for char, n in Counter(text).items():  # each distinct character once (C-level count)
        if char.isalpha():
            script = _letter_script(char)
            counts[script] = counts.get(script, 0) + n
    if not counts:
        return ""
    return max(counts, key=lambda k: counts[k])


def _common_words(text: str) -> str:
    """The words of `text` that do not start with a capital: names (Pashinyan, Aliyev) belong
    to no language and mislead a detector that has many candidates."""
    return " ".join(w for w in text.split() if not w.lstrip("«\"'“„‘(-")[:1].isupper())


@dataclass(frozen=True, slots=True)
class Markers:
    letters: frozenset[str]
    words: frozenset[str]


@functools.cache
def load_markers(path: Path = MARKERS_FILE) -> dict[str, Markers]:
    """Per configured language: letters and words no unconfigured language of its script
    writes (data/language_markers.yaml)."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        str(code): Markers(
            frozenset(str(spec.get("letters") or "")),
            frozenset(str(w).lower() for w in spec.get("words") or []),
        )
        for code, spec in data.items()
    }


def _settled(language: str, words: str) -> bool:
    """Whether the common words show `language` by its markers: then no language outside the
    configured set is in play and the wide detector is not needed (most reports)."""
    markers = load_markers().get(language)
    if markers is None:
        return False
    lower = words.lower()
    if markers.letters and not markers.letters.isdisjoint(lower):
        return True
    return bool(markers.words) and len(markers.words.intersection(_WORDS.findall(lower))) >= (
        MARKER_WORDS
    )


def _second_check(sample: str, guess: LanguageGuess) -> LanguageGuess:
    """The restricted detector's answer, unless the text's common words are clearly (by
    MARGIN) more likely in a language outside the configured set: then that language."""
    script = _main_script(sample)
    if script not in SCRIPT_LANGUAGES:
        return UNKNOWN
    wide = wide_detector(script)
    words = _common_words(sample)
    if wide is None:
        return guess
    alphabet = ALPHABETS.get(guess.language)
    foreign = alphabet is not None and any(
        c.isalpha() and c.lower() not in alphabet for c in set(words)
    )
    # the markers first: they settle most reports, and then the letters need no count
    if not foreign and (
        _settled(guess.language, words) or sum(map(str.isalpha, words)) < WIDE_MIN_LETTERS
    ):
        return guess
    values = wide.compute_language_confidence_values(words)
    if not values:
        return guess
    best = values[0]
    code = best.language.iso_code_639_1.name.lower()
    if code in LANGUAGES:
        return guess
    own = next(
        (
            float(v.value)
            for v in values
            if v.language.iso_code_639_1.name.lower() == guess.language
        ),
        0.0,
    )
    if float(best.value) - own >= MARGIN:
        return LanguageGuess(code, round(float(best.value), 4))
    return guess


def detect_paragraphs(paragraphs: list[str], expected: str = "und") -> list[LanguageSpan]:
    """Language of each paragraph long enough to tell (short lines are skipped). The cheap
    detector runs first; only when it disagrees with `expected` (the report's language) does
    the accurate one decide, so single-language pages stay cheap."""
    spans: list[LanguageSpan] = []
    for i, para in enumerate(paragraphs[:MAX_PARAGRAPHS]):
        if len(para) < MIN_PARAGRAPH_CHARS:
            continue
        guess = detect(para, PARAGRAPH_SAMPLE_CHARS, fast=True)
        if guess.language != expected:
            guess = detect(para, 2 * PARAGRAPH_SAMPLE_CHARS)
        if guess.language != "und":
            spans.append(
                LanguageSpan(paragraph=i, language=guess.language, confidence=guess.confidence)
            )
    return spans


def _script(text: str) -> str:
    """The Unicode script of the first letter ("LATIN", "CYRILLIC", "ARMENIAN", ...)."""
    for char in text:
        if char.isalpha():
            return _letter_script(char)
    return ""


SURE = 0.9


def detect_report(text: str, paragraphs: list[str]) -> tuple[LanguageGuess, list[LanguageSpan]]:
    """The report's language and per-paragraph languages. When the report is in one script and
    its language is clear, every paragraph gets the report's language without a detector call
    (most pages; the cost of a call per paragraph dominated the pipeline); a page that mixes
    scripts, or an unclear one, is detected paragraph by paragraph."""
    guess = detect(text)
    scripts = {_script(p) for p in paragraphs[:MAX_PARAGRAPHS] if len(p) >= MIN_PARAGRAPH_CHARS}
    if len(paragraphs) <= 1 or (len(scripts) <= 1 and guess.confidence >= SURE):
        if guess.language == "und":
            return guess, []
        spans = [
            LanguageSpan(paragraph=i, language=guess.language, confidence=guess.confidence)
            for i, p in enumerate(paragraphs[:MAX_PARAGRAPHS] or [text])
            if len(p) >= MIN_PARAGRAPH_CHARS or len(paragraphs) <= 1
        ]
        return guess, spans
    return guess, detect_paragraphs(paragraphs, guess.language)
