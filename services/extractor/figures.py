"""Casualty and displacement claims: number (digits with any separators, number words, vague
quantities), kind, whom it concerns, who claims it, and the sentence as evidence."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick
import yaml

from schemas.report import Figure, FigureKind

FIGURES_FILE = Path(__file__).resolve().parent / "data" / "figures.yaml"
AFTER_WINDOW = 80  # chars from a number to a kind word after it: "15 Armenian soldiers killed"
BEFORE_WINDOW = 45  # chars from a kind word to a number after it: "deaths of dozens of soldiers"
MAX_EVIDENCE = 600
# Bounds on one text's work: a 50 KB "sentence" of "1 killed " held 5,000 numbers, each
# compared with 5,000 kind words and each figure searching the whole sentence for a claimant
# (22 s). Past these, the rest is not read: the index refuses a report with over 500 figures.
MAX_FIGURES = 200
MAX_SENTENCE_CHARS = 5_000
_DIGITS = re.compile(r"(?<![\w.,])(\d{1,3}(?:[,.\u00a0\u202f' ]\d{3})+|\d+)(?![\w%]|[.,]\d)")
# One \s* in front of everything: a second one in the month branch made a number followed by
# a run of n spaces cost n^2 (8,000 spaces: 19 s).
_NOT_A_COUNT_AFTER = re.compile(
    r"\s*(?:%|percent|per cent|процент|yüzde|-?(?:day|year|week|month|km|kilomet|th\b|st\b|nd\b|rd\b)"
    r"|(?:years?|days?|weeks?|months?|hours?|km|kilometres?|kilometers?|миль|лет|года?|дн|gün|il\b|yıl|tahun|hari)\b"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b)",
    re.I,
)
_MONTH_BEFORE = re.compile(
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?\s*$", re.I
)
_SUBJECT_TRIM = re.compile(
    r"^(?:of|were|was|are|is|have|has|had|been|reportedly|people who|who)\s+|"
    r"\s+(?:were|was|are|is|have|has|had|been|being|reportedly|also|and|had been|have been)$",
    re.I,
)
# What may stand between a kind word and the number after it: "killed 3", "deaths of dozens",
# "death toll rose to 50".
_BEFORE_GAP = re.compile(
    r"\s*(?:(?:of|to|at|rose to|reached|stands at|now at|numbering|including|составило|составляет|"
    r"достигло|sebanyak|sejumlah|է|են)\s+)?(?:the\s+)?[:—-]?\s*\Z",
    re.I,
)
_ANY_DIGIT = re.compile(r"\d")
_ACCORDING = re.compile(r"according to ([^,.;:“”\"]{2,50})", re.I)


@dataclass(frozen=True, slots=True)
class LangRules:
    kinds: list[tuple[FigureKind, re.Pattern[str]]]
    words: re.Pattern[str] | None  # number words and vague quantities
    values: dict[str, tuple[int, bool]]  # lower-cased word -> (value, approximate)
    words_filter: Literals  # the number phrases: a sentence without one skips `words`
    lower_bound: re.Pattern[str] | None
    about: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class FigureRules:
    langs: dict[str, LangRules]
    claimants: list[tuple[str, re.Pattern[str], Literals]]  # label, regex, its prefilter
    kinds: re.Pattern[str]
    kinds_filter: Literals  # the stems' literal beginnings: a sentence without one skips `kinds`
    multipliers: dict[str, int]
    multiplier: (
        re.Pattern[str] | None
    )  # "50 thousand", "50 тысяч"  # every language's kind words in one pass; group name = kind


def _alt(items: list[str]) -> re.Pattern[str] | None:
    items = [i for i in items if i]
    if not items:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(items) + r")", re.I)


@lru_cache(maxsize=4)
def load_rules(path: Path = FIGURES_FILE) -> FigureRules:
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    langs: dict[str, LangRules] = {}
    for lang, spec in data.items():
        if lang in ("claimants", "multipliers"):
            continue
        values: dict[str, tuple[int, bool]] = {}
        for word, value in (spec.get("numbers") or {}).items():
            values[_word_key(str(word))] = (int(value), False)
        for word, value in (spec.get("approx") or {}).items():
            values[_word_key(str(word))] = (int(value), True)
        ordered = sorted(values, key=len, reverse=True)  # "tens of thousands" before "thousands"
        words = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, ordered)) + r")(?!\w)", re.I)
        langs[lang] = LangRules(
            kinds=[
                (FigureKind(kind), p)
                for kind, stems in (spec.get("kinds") or {}).items()
                if (p := _alt(list(stems)))
            ],
            words=words if ordered else None,
            values=values,
            words_filter=Literals(ordered),
            lower_bound=_alt([rf"{q}\s*$" for q in spec.get("lower_bound") or []]),
            about=_alt([rf"{q}\s*$" for q in spec.get("about") or []]),
        )
    claimants = [
        (
            str(label),
            re.compile("|".join(patterns), re.I),
            Literals([_literal_prefix(str(p)) for p in patterns]),
        )
        for label, patterns in (data.get("claimants") or {}).items()
    ]
    stems: dict[str, list[str]] = {}
    for spec in data.values():
        if isinstance(spec, dict) and "kinds" in spec:
            for kind, items in spec["kinds"].items():
                stems.setdefault(str(kind), []).extend(str(i) for i in items)
    kinds = re.compile(
        r"(?<!\w)(?:" + "|".join(f"(?P<{k}>{'|'.join(v)})" for k, v in stems.items()) + r")\w*",
        re.I,
    )
    multipliers = {_word_key(str(k)): int(v) for k, v in (data.get("multipliers") or {}).items()}
    multiplier = (
        re.compile(
            r"[\s\u00a0]+("
            + "|".join(sorted(map(re.escape, multipliers), key=len, reverse=True))
            + r")\b\.?",
            re.I,
        )
        if multipliers
        else None
    )
    literals = [_literal_prefix(stem) for stem_list in stems.values() for stem in stem_list]
    return FigureRules(langs, claimants, kinds, Literals(literals), multipliers, multiplier)


def _word_key(word: str) -> str:
    # Turkish capital İ lower-cases to "i" + a combining dot: "İki" must find "iki".
    return word.lower().replace("i\u0307", "i")


def _case_key(text: str) -> str:
    """At least as loose as re.IGNORECASE ("İ", "I", "ı" and "i" all match there)."""
    return text.casefold().replace("\u0307", "").replace("ı", "i")


_REGEX_SYNTAX = set("\\()[]{}?*+|.^$")


def _literal_prefix(stem: str) -> str:
    """The plain text a stem regex starts with ("left " of "left (their homes|the region)")."""
    end = next((i for i, char in enumerate(stem) if char in _REGEX_SYNTAX), len(stem))
    if stem[end : end + 1] in ("?", "*", "{"):
        end -= 1  # "deaths?": the "s" is optional
    return stem[: max(end, 0)]


class Literals:
    """Does a text contain any of these strings (case-insensitively, like re.I)? One
    Aho-Corasick pass: 10-25x cheaper than the big alternation regexes it stands before, and
    most sentences hold none of them. An empty string among them makes every text pass."""

    def __init__(self, literals: list[str]) -> None:
        keys = {_case_key(literal) for literal in literals}
        self.always = "" in keys or not keys
        self._automaton = ahocorasick.Automaton()
        for key in keys - {""}:
            self._automaton.add_word(key, None)
        if not self.always:
            self._automaton.make_automaton()

    def found_in(self, text: str) -> bool:
        return self.found_in_key(_case_key(text))

    def found_in_key(self, case_key: str) -> bool:
        """`found_in` of the text whose `_case_key` this is (computed once per sentence)."""
        if self.always:
            return True
        return next(self._automaton.iter(case_key), None) is not None


@dataclass(slots=True)
class _Number:
    start: int
    end: int
    value: int
    text: str
    approximate: bool


def _numbers(
    sentence: str, case_key: str, rules: list[LangRules], figure_rules: FigureRules
) -> list[_Number]:
    found: list[_Number] = []
    for m in _DIGITS.finditer(sentence):
        text = m.group(1)
        digits = re.sub(r"\D", "", text)
        value = int(digits)
        plain = text.isdigit()
        if plain and len(text) == 4 and 1800 <= value <= 2100:
            continue  # a year
        if _NOT_A_COUNT_AFTER.match(sentence, m.end()) or _MONTH_BEFORE.search(
            sentence[max(0, m.start() - 12) : m.start()]
        ):
            continue
        end = m.end()
        mult = figure_rules.multiplier.match(sentence, end) if figure_rules.multiplier else None
        if mult:
            value *= figure_rules.multipliers[_word_key(mult.group(1))]
            end = mult.end()
            text = sentence[m.start() : end]
        found.append(_Number(m.start(), end, value, text, False))
    for lang in rules:
        if lang.words is None or not lang.words_filter.found_in_key(case_key):
            continue
        for m in lang.words.finditer(sentence):
            if any(n.start <= m.start() < n.end for n in found):
                continue
            value, approx = lang.values[_word_key(m.group(1))]
            found.append(_Number(m.start(), m.end(), value, m.group(1), approx))
    for number in found:
        before = sentence[max(0, number.start - 30) : number.start]
        for lang in rules:
            for pattern in (lang.lower_bound, lang.about):
                qm = pattern.search(before) if pattern else None
                if qm:
                    number.start -= len(before) - qm.start()
                    number.text = sentence[number.start : number.end]
                    number.approximate = True
                    break
    return sorted(found, key=lambda n: n.start)


def _claimant(text: str, rules: FigureRules) -> str | None:
    case_key = _case_key(text)
    for label, pattern, literals in rules.claimants:
        if literals.found_in_key(case_key) and pattern.search(text):
            return label
    m = _ACCORDING.search(text)
    return m.group(1).strip() if m else None


_SUBJECT_STOP = re.compile(
    r"[,;:()\"“”]|\s(?:on|in|at|during|since|after|from|by|near|when|в|на|во|di|pada|dalam|sejak)\s",
    re.I,
)


def _subject(fragment: str) -> str | None:
    text = _SUBJECT_STOP.split(fragment)[0].strip()
    for _ in range(3):
        text = _SUBJECT_TRIM.sub("", text).strip()
    words = text.split()
    if not words or len(words) > 6:
        return None
    return " ".join(words)


def find_figures(
    sentences: list[str], language: str = "en", rules: FigureRules | None = None
) -> list[Figure]:
    """Claims in the sentences; number words of `language` and English are understood."""
    rules = rules or load_rules()
    langs = [rules.langs[code] for code in dict.fromkeys([language, "en"]) if code in rules.langs]
    figures: list[Figure] = []
    seen: set[tuple[FigureKind, int, str]] = set()
    for i, whole in enumerate(sentences):
        if len(figures) >= MAX_FIGURES:
            break
        sentence = whole[:MAX_SENTENCE_CHARS]
        # Cheap tests first (a digit or number word, a kind word's literal start): most
        # sentences fail them and never reach the regexes.
        case_key = _case_key(sentence)
        if not _ANY_DIGIT.search(sentence) and not any(
            lang.words_filter.found_in_key(case_key) for lang in langs
        ):
            continue
        if not rules.kinds_filter.found_in_key(case_key):
            continue
        numbers = _numbers(sentence, case_key, langs, rules)
        if not numbers:
            continue
        kind_hits = [
            (m.start(), m.end(), FigureKind(m.lastgroup or "killed"))
            for m in rules.kinds.finditer(sentence)
        ]
        if not kind_hits:
            continue
        # finditer's matches do not overlap: starts and ends both ascend, so the hits near a
        # number are found by bisection, not by a scan of every hit for every number.
        hit_starts = [h[0] for h in kind_hits]
        hit_ends = [h[1] for h in kind_hits]
        claimant_here: list[str | None] = []  # found once per sentence, when first needed
        for n, number in enumerate(numbers):
            next_start = numbers[n + 1].start if n + 1 < len(numbers) else len(sentence)
            prev_end = numbers[n - 1].end if n else 0
            after = kind_hits[
                bisect_left(hit_starts, number.end) : bisect_right(
                    hit_starts, min(number.end + AFTER_WINDOW, next_start)
                )
            ]
            before = [
                h
                for h in kind_hits[
                    bisect_left(hit_ends, max(prev_end, number.start - BEFORE_WINDOW)) : (
                        bisect_right(hit_ends, number.start)
                    )
                ]
                if _BEFORE_GAP.match(sentence[h[1] : number.start])
            ]
            if after and not re.search(r"[,;:]", sentence[number.end : after[0][0]]):
                start, _, kind = after[0]
                subject = _subject(sentence[number.end : start])
            elif before:
                _, _, kind = before[-1]
                subject = _subject(
                    re.sub(r"^\s*(?:of|about|among)\s+", "", sentence[number.end : number.end + 60])
                )
            else:
                continue
            if len(figures) >= MAX_FIGURES:
                break
            key = (kind, number.value, sentence)
            if key in seen:
                continue
            seen.add(key)
            if not claimant_here:
                claimant_here.append(
                    _claimant(sentence, rules)
                    or (_claimant(sentences[i - 1][:MAX_SENTENCE_CHARS], rules) if i else None)
                )
            claimant = claimant_here[0]
            figures.append(
                Figure(
                    kind=kind,
                    value=number.value,
                    text=number.text.strip(),
                    approximate=number.approximate,
                    subject=subject,
                    claimant=claimant,
                    evidence=sentence[:MAX_EVIDENCE],
                )
            )
    return figures
