"""Event labels (ACLED-like taxonomy) from per-language keyword data, with a confidence and
the sentence that supports each label.

All keywords of all languages go into one Aho-Corasick automaton over folded text: one pass
per report (split by sentence spans afterwards) whatever the number of keywords (a regex
alternation was 100x slower)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick
import yaml

from schemas.report import EventLabel, EventType
from services.extractor.fold import FoldedText, fold_text, fold_words

EVENTS_DIR = Path(__file__).resolve().parent / "data" / "events"
MAX_GAP_WORDS = 6  # "a ... b": at most this many words between a and b
MAX_EVIDENCE = 600
MIN_CONFIDENCE = 0.5


@dataclass(frozen=True, slots=True)
class Keyword:
    event_type: EventType
    parts: tuple[str, ...]
    strong: bool
    whole: bool  # last part must end a word


@dataclass(frozen=True, slots=True)
class EventRules:
    keywords: tuple[Keyword, ...]
    automaton: Any  # ahocorasick.Automaton: " part" -> list[(keyword index, part index)]


def _parse(event_type: EventType, raw: str) -> Keyword | None:
    text = raw.strip()
    strong = text.startswith("!")
    text = text.lstrip("!")
    whole = text.endswith("$")
    parts = tuple(fold_text(p) for p in text.rstrip("$").split("..."))
    if not all(parts):
        return None
    return Keyword(event_type, parts, strong, whole)


@lru_cache(maxsize=4)
def load_rules(folder: Path = EVENTS_DIR) -> EventRules:
    keywords: dict[Keyword, None] = {}  # ordered set
    for path in sorted(folder.glob("*.yaml")):
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for type_name, items in (data.get("events") or {}).items():
            event_type = EventType(type_name)
            for item in items or []:
                keyword = _parse(event_type, str(item))
                if keyword:
                    keywords.setdefault(keyword, None)
    table: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for k, keyword in enumerate(keywords):
        for p, part in enumerate(keyword.parts):
            table[" " + part].append((k, p))
    automaton = ahocorasick.Automaton()
    for key, refs in table.items():
        automaton.add_word(key, (len(key), refs))
    automaton.make_automaton()
    return EventRules(tuple(keywords), automaton)


Occurrences = dict[int, list[tuple[int, int, int]]]  # keyword -> (part, start, word end)


def _occurrence(folded: str, end: int, key_len: int) -> tuple[int, int]:
    """(start, end of the word the part ends in) of an automaton hit ending at `end`."""
    word_end = end + 1 if folded[end + 1] == " " else folded.find(" ", end + 1)
    return end - key_len + 1, word_end if word_end >= 0 else len(folded)


def _keywords(found: Occurrences, folded: str, rules: EventRules) -> list[Keyword]:
    """The keywords whose parts occur in order, each within MAX_GAP_WORDS of the previous."""
    hits: list[Keyword] = []
    for k, occurrences in found.items():
        keyword = rules.keywords[k]
        last = len(keyword.parts) - 1
        if keyword.whole:
            occurrences = [
                o
                for o in occurrences
                if o[0] != last or o[1] + 1 + len(keyword.parts[last]) == o[2]
            ]
        if last == 0:
            if occurrences:
                hits.append(keyword)
            continue
        frontier = [o[2] for o in occurrences if o[0] == 0]
        for p in range(1, last + 1):
            nxt = []
            for part, start, word_end in occurrences:
                if part != p:
                    continue
                if any(
                    e <= start and folded.count(" ", e, start) <= MAX_GAP_WORDS + 1
                    for e in frontier
                ):
                    nxt.append(word_end)
            frontier = nxt
            if not frontier:
                break
        if frontier:
            hits.append(keyword)
    return hits


def _folded_sentence_hits(
    ft: FoldedText, spans: list[tuple[int, int]], rules: EventRules
) -> dict[int, list[Keyword]]:
    """Keywords per sentence (by index) in one automaton pass over the whole folded text;
    `spans` are the sentences' character ranges in `ft.text`. A keyword part that starts in
    one sentence and ends in the next is no hit, as if each sentence were folded alone."""
    word_starts = [start for start, _ in ft.spans]
    ranges = [(bisect_left(word_starts, s), bisect_left(word_starts, e)) for s, e in spans]
    firsts = [first for first, _ in ranges]
    folded = ft.folded
    found: dict[int, Occurrences] = defaultdict(lambda: defaultdict(list))
    for end, (key_len, refs) in rules.automaton.iter(folded):
        start, word_end = _occurrence(folded, end, key_len)
        word = ft.starts.get(start + 1)
        if word is None:
            continue
        sentence = bisect_right(firsts, word) - 1
        if sentence < 0:
            continue
        stop = ranges[sentence][1]
        if word >= stop or word + folded.count(" ", start + 1, end + 1) >= stop:
            continue
        for k, p in refs:
            found[sentence][k].append((p, start, word_end))
    return {i: _keywords(occurrences, folded, rules) for i, occurrences in found.items()}


def _confidence(strong_hits: int, weak_hits: int, in_headline: bool) -> float:
    score = 0.3 * min(weak_hits, 3) + 0.6 * min(strong_hits, 2)
    if in_headline:  # the headline says what the report is about: one weak word there is enough
        score += 0.2
    return round(min(0.95, score), 2)


def find_events(
    sentences: list[str], headline: str = "", rules: EventRules | None = None
) -> list[EventLabel]:
    """Labels whose keywords occur in the headline or the sentences, most confident first.
    A label needs one strong keyword, or two weak ones, to reach MIN_CONFIDENCE."""
    spans = []
    at = 0
    for sentence in sentences:
        spans.append((at, at + len(sentence)))
        at += len(sentence) + 1
    return find_events_folded(fold_words("\n".join(sentences)), spans, headline, rules=rules)


def find_events_folded(
    ft: FoldedText,
    sentence_spans: list[tuple[int, int]],
    headline: str = "",
    headline_span: tuple[int, int] | None = None,
    rules: EventRules | None = None,
) -> list[EventLabel]:
    """`find_events` on a text already folded (the pipeline folds each report once): the
    sentences are `ft.text[start:end]` for `sentence_spans`; the headline is
    `ft.text[start:end]` for `headline_span` when it is part of the text, else folded here."""
    rules = rules or load_rules()
    head = [headline_span] if headline_span else []
    hits = _folded_sentence_hits(ft, head + sentence_spans, rules)  # one pass for both
    head_hits: list[Keyword] = []
    if head:
        head_hits = hits.pop(0, [])
        hits = {i - 1: keywords for i, keywords in hits.items()}
    elif headline:  # not part of the text (a digest item's): folded on its own
        alone = _folded_sentence_hits(fold_words(headline), [(0, len(headline))], rules)
        head_hits = alone.get(0, [])
    sentences = {i: ft.text[s:e] for i, (s, e) in enumerate(sentence_spans) if i in hits}
    return _labels(hits, sentences, headline, head_hits)


def _labels(
    per_sentence: dict[int, list[Keyword]],
    sentences: dict[int, str],
    headline: str,
    head_hits: list[Keyword],
) -> list[EventLabel]:
    strong: dict[EventType, int] = defaultdict(int)
    weak: dict[EventType, int] = defaultdict(int)
    best: dict[EventType, tuple[int, int]] = {}  # type -> (score, sentence index)
    for i in sorted(per_sentence):
        per_type: dict[EventType, int] = defaultdict(int)
        for keyword in per_sentence[i]:
            if keyword.strong:
                strong[keyword.event_type] += 1
            else:
                weak[keyword.event_type] += 1
            per_type[keyword.event_type] += 3 if keyword.strong else 1
        for event_type, score in per_type.items():
            if event_type not in best or score > best[event_type][0]:
                best[event_type] = (score, i)
    head_types: set[EventType] = set()
    for keyword in head_hits:
        head_types.add(keyword.event_type)
        if keyword.strong:
            strong[keyword.event_type] += 1
        else:
            weak[keyword.event_type] += 1
        best.setdefault(keyword.event_type, (0, -1))
    labels = []
    for event_type, (_, index) in best.items():
        confidence = _confidence(strong[event_type], weak[event_type], event_type in head_types)
        if confidence >= MIN_CONFIDENCE:
            labels.append(
                EventLabel(
                    type=event_type,
                    confidence=confidence,
                    evidence=(sentences[index] if index >= 0 else headline)[:MAX_EVIDENCE],
                )
            )
    return sorted(labels, key=lambda label: (-label.confidence, label.type.value))
