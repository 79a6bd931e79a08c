"""Offline language identification (lingua), for the report and per paragraph.

The detector is restricted to the languages of the region and the big languages that write
about it: fewer candidates is both faster and more accurate on short paragraphs."""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass

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

_detectors: dict[bool, LanguageDetector] = {}
_lock = threading.Lock()


def detector(fast: bool = False) -> LanguageDetector:
    """The report-level detector, or (fast=True) lingua's low-accuracy mode, several times
    cheaper per call and good enough to notice a paragraph in another language."""
    with _lock:
        if fast not in _detectors:
            langs = [
                Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in LANGUAGES
            ]
            builder = LanguageDetectorBuilder.from_languages(*langs)
            if fast:
                builder = builder.with_low_accuracy_mode()
            _detectors[fast] = builder.build()
        return _detectors[fast]


def preload() -> None:
    """Load the language models now (a worker does it at start, not on its first message)."""
    for fast in (False, True):
        for sample in ("warm up the language models", "ok"):
            detector(fast).compute_language_confidence_values(sample)


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
    return LanguageGuess(top.language.iso_code_639_1.name.lower(), round(float(top.value), 4))


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
            name = unicodedata.name(char, "")
            return name.split(" ", 1)[0]
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
