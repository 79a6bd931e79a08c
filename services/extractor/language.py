"""Offline language identification (lingua), for the report and per paragraph.

The detector is restricted to the languages of the region and the big languages that write
about it: fewer candidates is both faster and more accurate on short paragraphs."""

from __future__ import annotations

import threading
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
MAX_SAMPLE_CHARS = 2_000  # enough for a confident guess; keeps long pages cheap
MAX_PARAGRAPHS = 60

_detector: LanguageDetector | None = None
_lock = threading.Lock()


def detector() -> LanguageDetector:
    global _detector
    with _lock:
        if _detector is None:
            langs = [
                Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in LANGUAGES
            ]
            _detector = LanguageDetectorBuilder.from_languages(*langs).build()
        return _detector


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    language: str
    confidence: float


UNKNOWN = LanguageGuess("und", 0.0)


def detect(text: str) -> LanguageGuess:
    sample = text[:MAX_SAMPLE_CHARS].strip()
    if not sample:
        return UNKNOWN
    values = detector().compute_language_confidence_values(sample)
    if not values:
        return UNKNOWN
    top = values[0]
    return LanguageGuess(top.language.iso_code_639_1.name.lower(), round(float(top.value), 4))


def detect_paragraphs(paragraphs: list[str]) -> list[LanguageSpan]:
    """Language of each paragraph long enough to tell (short lines are skipped)."""
    spans: list[LanguageSpan] = []
    for i, para in enumerate(paragraphs[:MAX_PARAGRAPHS]):
        if len(para) < MIN_PARAGRAPH_CHARS:
            continue
        guess = detect(para)
        if guess.language != "und":
            spans.append(
                LanguageSpan(paragraph=i, language=guess.language, confidence=guess.confidence)
            )
    return spans


def detect_report(text: str, paragraphs: list[str]) -> tuple[LanguageGuess, list[LanguageSpan]]:
    """The report's language and per-paragraph languages. For a single paragraph, the report's
    guess is reused rather than computed twice."""
    guess = detect(text)
    if len(paragraphs) <= 1:
        spans = (
            [LanguageSpan(paragraph=0, language=guess.language, confidence=guess.confidence)]
            if guess.language != "und"
            else []
        )
        return guess, spans
    return guess, detect_paragraphs(paragraphs)
