"""Event labels (ACLED-like taxonomy) from per-language data, with a calibrated confidence, the
sentence that supports each label, an ACLED-style sub-type where the text says, and one primary
event per report.

All keywords, guards and cues of all languages go into one Aho-Corasick automaton over folded
text: one pass per report (split by sentence spans afterwards) whatever their number (a regex
alternation was 100x slower). Keywords are words: in a language with a
stemmer (its file says `stemmer: russian`) a keyword word matches every word with the same stem
(services/extractor/stems.py): the automaton finds the word start all of them share, the stems
are compared on those candidates only. In a language without one, and for `word*`, a keyword
word is a word start (a prefix finds its inflections). A sentence then passes clause-level tests before its keywords count:

* boilerplate (disclaimers, related-post lists) and modality (calls, threats, conditionals,
  opinions, denials) drop the whole sentence: it does not say that something happened;
* a negation cue drops the keywords within a few words of it (the clause it negates);
* a sentence whose years are all older than the publication is background history;
* a keyword inside quoted speech («...», "...") is a claim someone makes: it counts as a weak
  keyword, so a quote alone is not a confident label, a quote the report confirms still is;
* a guard of a type (a word of another sense: a FIFA sanction, a memorial march, a protest
  note) drops that type from the sentence.

The confidence is calibrated: the evidence of a type (strong and weak keywords, the headline)
gives points, and `_calibration.yaml` maps points to the share of such labels that were right
on the dev part of the labelled set (`python -m devtools.calibrate_events`)."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick
import yaml

from schemas.report import EventLabel, EventType
from services.common.fold import FoldedText, fold_text, fold_words
from services.extractor.stems import ALGORITHMS, anchor, folded_stem

EVENTS_DIR = Path(__file__).resolve().parent / "data" / "events"
CALIBRATION_FILE = "_calibration.yaml"
MIN_ANCHOR = 4  # a stem whose word start is shorter matches as its word, a prefix
MAX_GAP_WORDS = 6  # "a ... b": at most this many words between a and b
MAX_EVIDENCE = 600
MIN_CONFIDENCE = 0.5  # default of ExtractorSettings.event_min_confidence
MAX_POINTS = 7
NEGATION_BEFORE = 1  # a negation cue negates keywords from 1 word before it ...
NEGATION_AFTER = 3  # ... to 3 words after it ("не признает", "задержаны не были")
BACKGROUND_DAYS = 60  # a year older than (publication - 60 days) is history
CUE_KINDS = ("negation", "modality", "boilerplate", "offtopic")
SENTENCE_CUES = frozenset({"modality", "boilerplate", "offtopic"})
# Quoted speech: «...», “...”, „...“, "..." of at least QUOTE_MIN_WORDS words (fewer is a name:
# "Qarabağ", «Ташир»). An event in it is someone's claim: its keywords count as weak.
QUOTE = re.compile(r'«[^«»]*»|“[^“”]*”|„[^„“”]*[“”]|"[^"]*"')
_QUOTE_MARK = re.compile('[«“„"]')
QUOTE_MIN_WORDS = 4
# A sentence that reports the specific event does not also report the general one.
SUPERSEDES = {EventType.CEASEFIRE_VIOLATION: (EventType.CEASEFIRE,)}


@dataclass(frozen=True, slots=True)
class Keyword:
    event_type: EventType | None  # None for a cue
    parts: tuple[str, ...]  # single folded words (a word start unless `wholes` says)
    strong: bool
    wholes: tuple[bool, ...]  # per part: must be a whole word
    gaps: tuple[int, ...]  # per part: most words between it and the previous part
    kind: str = "event"  # event | guard | one of CUE_KINDS
    subtype: str | None = None
    unordered: bool = False  # "a & b": all parts in the sentence, in any order
    script: str = ""  # the script it is written in: it only matches words of that script
    anchor: int = 0  # the part the automaton looks for (the longest); the rest is checked
    stems: tuple[str, ...] = ()  # per part: the folded stem its word must have ("": any)
    stemmer: str = ""  # the Snowball algorithm of `stems`


@dataclass(frozen=True, slots=True)
class EventRules:
    keywords: tuple[Keyword, ...]
    automaton: Any  # ahocorasick.Automaton: " anchor part" -> list[keyword index]
    year_before: frozenset[str] = frozenset()  # words before a year: "in", "в"
    year_after: tuple[str, ...] = ()  # starts of words after a year: "god", "year", "ildə"
    year_after_words: frozenset[str] = frozenset()  # whole words after a year: "ci", "g"
    calibration: tuple[float, ...] = ()  # points -> confidence


_WORD = re.compile(r"\w+(?:['’ʼ]\w+)*\*?")  # as services.common.fold, with a prefix mark


def _words(group: str, stemmer: str) -> list[tuple[str, str]]:
    """(folded word, folded stem or "") per word of a keyword group: a word is matched by its
    stem when the language has a stemmer, unless marked `word*` (a word start)."""
    out = []
    for match in _WORD.finditer(group):
        word = match.group()
        folded = fold_text(word.rstrip("*")).split()
        start = anchor(stemmer, word) if stemmer and len(folded) == 1 else ""
        stem = folded_stem(stemmer, word) if start else ""
        short = len(start) < min(MIN_ANCHOR, len(folded[0])) and (start != stem or len(stem) < 3)
        if word.endswith("*") or short:
            # a word start, or a stem whose words share too short a start ("thr" of "threw"):
            # the word is a prefix, as a short anchor would stop the automaton everywhere
            out += [(f, "") for f in folded]
        else:
            out.append((start, stem))
    return out


def _parse(
    event_type: EventType | None, raw: str, kind: str = "event", stemmer: str = ""
) -> Keyword | None:
    text = raw.strip()
    subtype = None
    if " @" in text:
        text, subtype = (t.strip() for t in text.rsplit(" @", 1))
    strong = text.startswith("!")
    text = text.lstrip("!")
    whole = text.endswith("$")
    text = text.rstrip("$")
    unordered = " & " in text
    parts: list[str] = []
    stems: list[str] = []
    gaps: list[int] = []
    for group in text.split(" & " if unordered else "..."):
        words = _words(group, stemmer)
        if not words:
            return None
        parts += [word for word, _ in words]
        stems += [stem for _, stem in words]
        # the words of a phrase are adjacent (each a word start: "мирн договор" finds
        # "мирного договора"); "a ... b" allows MAX_GAP_WORDS between a and b
        gaps += [MAX_GAP_WORDS] + [0] * (len(words) - 1)
    # a short word inside a phrase ("of", "в", "են") is a whole word, else it finds too much
    wholes = [len(part) <= 3 and not stem for part, stem in zip(parts, stems, strict=True)]
    wholes[-1] = whole
    if whole:  # "word$": this very word, not its stem
        parts[-1] = fold_text(text).split()[-1]
        stems[-1] = ""
    return Keyword(
        event_type,
        tuple(parts),
        strong,
        tuple(wholes),
        tuple(gaps),
        kind,
        subtype or None,
        unordered,
        _script(next((c for c in text if c.isalpha()), "")),
        max(range(len(parts)), key=lambda p: (len(parts[p]), -p)),
        tuple(stems) if any(stems) else (),
        stemmer if any(stems) else "",
    )


def _script(char: str) -> str:
    """The script of a letter, coarsely: folding puts all scripts into one alphabet, where
    words of different languages collide (Turkish "havan" in Armenian "havanutyun")."""
    if not char:
        return ""
    o = ord(char)
    if o < 0x250 or 0x1E00 <= o < 0x1F00:
        return "latin"
    if 0x370 <= o < 0x400 or 0x1F00 <= o < 0x2000:
        return "greek"
    if 0x400 <= o < 0x530:
        return "cyrillic"
    if 0x530 <= o < 0x590 or 0xFB13 <= o < 0xFB18:
        return "armenian"
    if 0x10A0 <= o < 0x1100 or 0x1C90 <= o < 0x1CC0:
        return "georgian"
    if 0x600 <= o < 0x700 or 0xFB50 <= o < 0xFF00:
        return "arabic"
    return "other"


def _calibration(folder: Path) -> tuple[float, ...]:
    """Confidence per points of evidence: the fitted table, points it has no data for
    interpolated between their neighbours, never less sure with more evidence."""
    path = folder / CALIBRATION_FILE
    if not path.exists():
        path = EVENTS_DIR / CALIBRATION_FILE
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    table = {int(k): float(v) for k, v in (data.get("points") or {}).items()}
    known = sorted(table)
    out, last = [], 0.0
    for points in range(MAX_POINTS + 1):
        below = [k for k in known if k <= points]
        above = [k for k in known if k >= points]
        if below and above and below[-1] != above[0]:
            lo, hi = below[-1], above[0]
            value = table[lo] + (table[hi] - table[lo]) * (points - lo) / (hi - lo)
        elif below or above:
            value = table[below[-1] if below else above[0]]
        else:
            value = 0.0
        last = max(last, value)
        out.append(round(last, 2))
    return tuple(out)


@lru_cache(maxsize=4)
def load_rules(folder: Path = EVENTS_DIR) -> EventRules:
    keywords: dict[Keyword, None] = {}  # ordered set
    year_before: set[str] = set()
    year_after: set[str] = set()
    year_after_words: set[str] = set()
    for path in sorted(folder.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        stemmer = str(data.get("stemmer") or "")
        if stemmer and stemmer not in ALGORITHMS:
            raise ValueError(f"{path.name}: no Snowball stemmer {stemmer!r}")
        for section, kind in (("events", "event"), ("guards", "guard")):
            for type_name, items in (data.get(section) or {}).items():
                event_type = EventType(type_name)
                for item in items or []:
                    keyword = _parse(event_type, str(item), kind, stemmer)
                    if keyword:
                        keywords.setdefault(keyword, None)
        cues = data.get("cues") or {}
        for kind in CUE_KINDS:
            for item in cues.get(kind) or []:
                keyword = _parse(None, str(item), kind, stemmer)
                if keyword:
                    keywords.setdefault(keyword, None)
        year_before.update(fold_text(str(w)) for w in cues.get("year_before") or [])
        for word in cues.get("year_after") or []:
            text = str(word)
            (year_after_words if text.endswith("$") else year_after).add(
                fold_text(text.rstrip("$"))
            )
    table: dict[str, list[int]] = defaultdict(list)
    for k, keyword in enumerate(keywords):
        table[" " + keyword.parts[keyword.anchor]].append(k)
    automaton = ahocorasick.Automaton()
    for key, refs in table.items():
        automaton.add_word(key, (len(key), refs))
    automaton.make_automaton()
    return EventRules(
        tuple(keywords),
        automaton,
        frozenset(year_before - {""}),
        tuple(sorted(year_after - {""})),
        frozenset(year_after_words - {""}),
        _calibration(folder),
    )


Hit = tuple[Keyword, int]  # a keyword and the word index of its anchor


def _part_at(keyword: Keyword, p: int, ft: FoldedText, i: int) -> bool:
    """Whether word i of the text is part p of the keyword: the same word, or a word that
    starts like it (and has its stem, when it has one)."""
    part, token = keyword.parts[p], ft.tokens[i]
    if keyword.wholes[p]:
        return token == part
    if not token.startswith(part):
        return False
    if not keyword.stems or not keyword.stems[p]:
        return True
    start, end = ft.spans[i]
    return folded_stem(keyword.stemmer, ft.text[start:end]) == keyword.stems[p]


def _near(keyword: Keyword, p: int, ft: FoldedText, lo: int, hi: int, step: int) -> int:
    """The nearest word in [lo, hi] (walking by `step` from its near end) that is part p."""
    at, stop = (lo, hi + 1) if step > 0 else (hi, lo - 1)
    for i in range(at, stop, step):
        if _part_at(keyword, p, ft, i):
            return i
    return -1


def _verify(keyword: Keyword, ft: FoldedText, word: int, first: int, stop: int) -> bool:
    """Whether the keyword whose anchor part is at `word` occurs around it in the sentence
    of words [first, stop): the other parts in order, each within its gap of the previous
    (or anywhere in the sentence for an unordered keyword)."""
    anchor = keyword.anchor
    if keyword.wholes[anchor]:
        if ft.tokens[word] != keyword.parts[anchor]:
            return False
    elif keyword.stems and keyword.stems[anchor]:  # the automaton found its word start
        start, end = ft.spans[word]
        if folded_stem(keyword.stemmer, ft.text[start:end]) != keyword.stems[anchor]:
            return False
    if keyword.unordered:
        return all(
            p == anchor or any(_part_at(keyword, p, ft, i) for i in range(first, stop))
            for p in range(len(keyword.parts))
        )
    at = word
    for p in range(anchor - 1, -1, -1):  # backwards from the anchor
        gap = keyword.gaps[p + 1]
        at = _near(keyword, p, ft, max(first, at - 1 - gap), at - 1, -1)
        if at < 0:
            return False
    at = word
    for p in range(anchor + 1, len(keyword.parts)):
        gap = keyword.gaps[p]
        at = _near(keyword, p, ft, at + 1, min(stop - 1, at + 1 + gap), 1)
        if at < 0:
            return False
    return True


def _folded_sentence_hits(
    ft: FoldedText, spans: list[tuple[int, int]], rules: EventRules
) -> dict[int, tuple[list[Hit], tuple[int, int]]]:
    """Keywords per sentence (by index), with the sentence's word range, in one automaton pass
    over the whole folded text; `spans` are the sentences' character ranges in `ft.text`.
    The automaton holds one anchor part per keyword (its longest); the other parts are
    checked on the words around a hit. A keyword never spans two sentences."""
    word_starts = [start for start, _ in ft.spans]
    ranges = [(bisect_left(word_starts, s), bisect_left(word_starts, e)) for s, e in spans]
    firsts = [first for first, _ in ranges]
    keywords = rules.keywords
    found: dict[int, dict[int, int]] = defaultdict(dict)  # sentence -> keyword -> word
    for end, (key_len, refs) in rules.automaton.iter(ft.folded):
        word = ft.starts.get(end - key_len + 2)
        if word is None:
            continue
        sentence = bisect_right(firsts, word) - 1
        if sentence < 0:
            continue
        first, stop = ranges[sentence]
        if word >= stop:
            continue
        seen = found[sentence]
        script = ""
        for k in refs:
            if k in seen:
                continue
            keyword = keywords[k]
            if keyword.script:
                script = script or _script(ft.text[ft.spans[word][0]])
                if keyword.script != script:
                    continue
            if _verify(keyword, ft, word, first, stop):
                seen[k] = word
    return {
        i: ([(keywords[k], w) for k, w in seen.items()], ranges[i])
        for i, seen in found.items()
        if seen
    }


def _is_history(tokens: list[str], rules: EventRules, before_year: int) -> bool:
    """True when the sentence dates itself (a year with a year word next to it: "in 2020",
    "1991-94", "2020-ci il") and every such year is older than `before_year`."""
    if not any(t[:1].isdigit() for t in tokens):  # most sentences: no number at all
        return False
    years = []
    for i, token in enumerate(tokens):
        if len(token) < 4 or not token[:4].isdigit() or not 1800 <= int(token[:4]) <= 2100:
            continue
        if len(token) > 4:  # "1990s", "1994te" (1994'te): a year with a suffix
            if token[4:].isalpha():
                years.append(int(token[:4]))
            continue
        prev = tokens[i - 1] if i else ""
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if (
            prev in rules.year_before
            or (nxt.isdigit() and len(nxt) in (2, 4))
            or nxt in rules.year_after_words
            or (nxt and nxt.startswith(rules.year_after))
        ):
            years.append(int(token))
    return bool(years) and max(years) < before_year


_YEAR_START = re.compile(r" (?=\d{4})")  # a folded word that starts with four digits


def _year_words(ft: FoldedText) -> list[int]:
    """Indexes of the words that may be years (four digits first), in order: the only
    sentences `_is_history` needs to read (most sentences have none)."""
    words = (ft.starts.get(m.end()) for m in _YEAR_START.finditer(ft.folded))
    return [w for w in words if w is not None]


def _has_word_in(words: list[int], first: int, stop: int) -> bool:
    return bisect_left(words, first) < bisect_left(words, stop)


def history_sentences(
    ft: FoldedText,
    sentence_spans: list[tuple[int, int]],
    published: date,
    rules: EventRules | None = None,
) -> set[int]:
    """Indexes of the sentences that are background history (dated, and every date older than
    the publication): their figures are not the story's ("the 2020 war killed 6,500")."""
    rules = rules or load_rules()
    before_year = date.fromordinal(published.toordinal() - BACKGROUND_DAYS).year
    years = _year_words(ft)
    if not years:
        return set()
    word_starts = [start for start, _ in ft.spans]
    old = set()
    for i, (start, end) in enumerate(sentence_spans):
        first, stop = bisect_left(word_starts, start), bisect_left(word_starts, end)
        if _has_word_in(years, first, stop) and _is_history(
            ft.tokens[first:stop], rules, before_year
        ):
            old.add(i)
    return old


@dataclass
class _Evidence:
    strong: int = 0
    weak: int = 0
    score: int = -1  # of the best sentence
    sentence: int = -1  # best sentence (-1: the headline)
    first: int = 1 << 30  # first sentence that reports it
    subtype: str | None = None
    in_head: bool = False


def _weak(hit: Hit) -> bool:
    return not hit[0].strong


def _sentence_types(hits: list[Hit], history: bool) -> dict[EventType, list[Keyword]]:
    """The event keywords of one sentence that survive its cues and guards, by type."""
    if history or any(keyword.kind in SENTENCE_CUES for keyword, _ in hits):
        return {}
    vetoed = {keyword.event_type for keyword, _ in hits if keyword.kind == "guard"}
    negations = [word for keyword, word in hits if keyword.kind == "negation"]
    out: dict[EventType, list[Keyword]] = defaultdict(list)
    seen: set[tuple[EventType, int, tuple[str, ...]]] = set()
    # the strong first: the same words at the same place count once, however many languages'
    # files list them ("NATO" in en, tr and az)
    for keyword, word in sorted(hits, key=_weak) if len(hits) > 1 else hits:
        if keyword.kind != "event" or keyword.event_type is None:
            continue
        if (keyword.event_type, word, keyword.parts) in seen:
            continue
        seen.add((keyword.event_type, word, keyword.parts))
        if keyword.event_type in vetoed:
            continue
        if any(n - NEGATION_BEFORE <= word <= n + NEGATION_AFTER for n in negations):
            continue
        out[keyword.event_type].append(keyword)
    for specific, generals in SUPERSEDES.items():
        if specific in out:
            for general in generals:
                out.pop(general, None)
    return out


def _points(evidence: _Evidence) -> int:
    points = 3 * min(evidence.strong, 2) + min(evidence.weak, 3) + evidence.in_head
    return min(MAX_POINTS, points)


def find_events(
    sentences: list[str],
    headline: str = "",
    rules: EventRules | None = None,
    published: date | None = None,
    min_confidence: float = MIN_CONFIDENCE,
) -> list[EventLabel]:
    """Labels whose keywords occur in the headline or the sentences: the primary one first,
    then by confidence. `published` dates the report (older years are history)."""
    spans = []
    at = 0
    for sentence in sentences:
        spans.append((at, at + len(sentence)))
        at += len(sentence) + 1
    return find_events_folded(
        fold_words("\n".join(sentences)),
        spans,
        headline,
        rules=rules,
        published=published,
        min_confidence=min_confidence,
    )


def find_events_folded(
    ft: FoldedText,
    sentence_spans: list[tuple[int, int]],
    headline: str = "",
    headline_span: tuple[int, int] | None = None,
    rules: EventRules | None = None,
    published: date | None = None,
    min_confidence: float = MIN_CONFIDENCE,
) -> list[EventLabel]:
    """`find_events` on a text already folded (the pipeline folds each report once): the
    sentences are `ft.text[start:end]` for `sentence_spans`; the headline is
    `ft.text[start:end]` for `headline_span` when it is part of the text, else folded here."""
    rules = rules or load_rules()
    evidence = _evidence(ft, sentence_spans, headline, headline_span, rules, published)
    return _labels(evidence, ft, sentence_spans, headline, rules, min_confidence)


def _start(span: tuple[int, int]) -> int:
    return span[0]


def _unquoted(hits: list[Hit], ft: FoldedText, span: tuple[int, int]) -> list[Hit]:
    """The hits of the sentence at characters `span` of the text, with its strong event
    keywords inside quoted speech made weak (see QUOTE). Only a sentence with a strong
    keyword is read (a quote over several sentences is caught where it opens and closes)."""
    if not any(k.strong and k.kind == "event" for k, _ in hits):
        return hits
    text = ft.text[span[0] : span[1]]
    if not _QUOTE_MARK.search(text):  # most sentences: no quote at all
        return hits
    quotes = []
    for match in QUOTE.finditer(text):
        if match.group().count(" ") < QUOTE_MIN_WORDS - 1:  # a name, not speech
            continue
        first = bisect_left(ft.spans, span[0] + match.start(), key=_start)
        stop = bisect_left(ft.spans, span[0] + match.end(), lo=first, key=_start)
        if stop - first >= QUOTE_MIN_WORDS:
            quotes.append((first, stop))
    if not quotes:
        return hits
    return [
        (replace(k, strong=False), w)
        if k.strong and k.kind == "event" and any(a <= w < b for a, b in quotes)
        else (k, w)
        for k, w in hits
    ]


def _evidence(
    ft: FoldedText,
    sentence_spans: list[tuple[int, int]],
    headline: str,
    headline_span: tuple[int, int] | None,
    rules: EventRules,
    published: date | None,
) -> dict[EventType, _Evidence]:
    head = [headline_span] if headline_span else []
    hits = _folded_sentence_hits(ft, head + sentence_spans, rules)  # one pass for both
    head_hits: list[Hit] = []
    head_tokens: list[str] = []
    quoting = _QUOTE_MARK.search(ft.text) is not None  # most reports: no quote at all
    if head:
        head_hits, (first, stop) = hits.pop(0, ([], (0, 0)))
        if quoting:
            head_hits = _unquoted(head_hits, ft, head[0])
        head_tokens = ft.tokens[first:stop]
        hits = {i - 1: value for i, value in hits.items()}
    elif headline:  # not part of the text (a digest item's): folded on its own
        alone = fold_words(headline)
        head_hits = _folded_sentence_hits(alone, [(0, len(headline))], rules).get(0, ([], ()))[0]
        head_hits = _unquoted(head_hits, alone, (0, len(headline)))
        head_tokens = alone.tokens
    before_year = date.fromordinal(published.toordinal() - BACKGROUND_DAYS).year if published else 0
    years = _year_words(ft) if before_year else []
    found: dict[EventType, _Evidence] = defaultdict(_Evidence)
    for i in sorted(hits):
        sentence_hits, (first, stop) = hits[i]
        if quoting:
            sentence_hits = _unquoted(sentence_hits, ft, sentence_spans[i])
        history = _has_word_in(years, first, stop) and _is_history(
            ft.tokens[first:stop], rules, before_year
        )
        for event_type, keywords in _sentence_types(sentence_hits, history).items():
            _add(found[event_type], keywords, i)
    if head_hits:
        history = bool(before_year) and _is_history(head_tokens, rules, before_year)
        for event_type, keywords in _sentence_types(head_hits, history).items():
            ev = found[event_type]
            _add(ev, keywords, -1)
            ev.in_head = True
    return found


def _add(ev: _Evidence, keywords: list[Keyword], sentence: int) -> None:
    strong = sum(k.strong for k in keywords)
    ev.strong += strong
    ev.weak += len(keywords) - strong
    score = 3 * strong + len(keywords) - strong
    subtype = next(
        (k.subtype for k in sorted(keywords, key=lambda k: -k.strong) if k.subtype), None
    )
    if sentence >= 0:
        ev.first = min(ev.first, sentence)
    if score > ev.score or (ev.sentence < 0 <= sentence and score == ev.score):
        # the body's sentence is the better evidence than the headline at equal strength
        ev.score, ev.sentence = score, sentence
        ev.subtype = subtype or ev.subtype
    elif subtype and not ev.subtype:
        ev.subtype = subtype


def _labels(
    found: dict[EventType, _Evidence],
    ft: FoldedText,
    sentence_spans: list[tuple[int, int]],
    headline: str,
    rules: EventRules,
    min_confidence: float,
) -> list[EventLabel]:
    ranked = []
    for event_type, ev in found.items():
        confidence = rules.calibration[_points(ev)]
        if confidence >= min_confidence:
            ranked.append((event_type, ev, confidence))
    # The primary event: the surest, then the one the headline reports, then the earliest.
    ranked.sort(key=lambda r: (-r[2], not r[1].in_head, r[1].first, r[0].value))
    labels = []
    for n, (event_type, ev, confidence) in enumerate(ranked):
        if ev.sentence >= 0:
            start, end = sentence_spans[ev.sentence]
            evidence = ft.text[start:end]
        else:
            evidence = headline
        labels.append(
            EventLabel(
                type=event_type,
                confidence=confidence,
                evidence=evidence[:MAX_EVIDENCE],
                primary=n == 0,
                subtype=ev.subtype,
            )
        )
    return labels
