"""Entity matching: folded text -> gazetteer hits (Aho-Corasick), inflection suffixes and
typo tolerance (rapidfuzz), aggregated into `EntityMention`s."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from schemas.report import EntityMention
from services.extractor.fold import fold_text, fold_token, words
from services.extractor.gazetteer import FUZZY_MIN, Gazetteer

MAX_SUFFIX = 4  # inflection letters after an alias: Пашиняна, Paşinyan'ın, Ереване
MAX_SURFACES = 8


@dataclass(slots=True)
class FoldedText:
    """Text as folded words, with a map back to the original spelling."""

    text: str
    folded: str  # " w1 w2 ... " (leading/trailing space: word boundaries for the automaton)
    starts: dict[int, int]  # folded offset of a word -> word index
    spans: list[tuple[int, int]]  # word index -> (start, end) in `text`
    tokens: list[str]  # word index -> folded word


def fold_words(text: str) -> FoldedText:
    parts: list[str] = []
    starts: dict[int, int] = {}
    spans: list[tuple[int, int]] = []
    pos = 1
    for match in words(text):
        folded = fold_token(match.group())
        if not folded:
            continue
        starts[pos] = len(parts)
        spans.append(match.span())
        parts.append(folded)
        pos += len(folded) + 1
    return FoldedText(text, " " + " ".join(parts) + " ", starts, spans, parts)


def _cased_ok(surface: str) -> bool:
    """A generated place or fuzzy hit must look like a name: capitalised, or an uncased script."""
    first = surface[:1]
    return first.upper() == first.lower() or first.isupper()


def _fuzzy_lookup(token: str, gaz: Gazetteer, cache: dict[str, str | None]) -> str | None:
    if token in cache:
        return cache[token]
    best: tuple[int, str] | None = None
    for alias, entry_id in gaz.fuzzy.get(token[0], ()):
        if abs(len(token) - len(alias)) > MAX_SUFFIX + 1:
            continue
        allowed = 1 if len(alias) < 8 else 2
        # Compare the word and its stem (the word minus an inflection suffix) to the alias.
        for candidate in (token, token[: len(alias)], token[: len(alias) + 1]):
            dist = Levenshtein.distance(candidate, alias, score_cutoff=allowed)
            if dist <= allowed and (best is None or dist < best[0]):
                best = (dist, entry_id)
    result = best[1] if best else None
    if len(cache) > 100_000:
        cache.clear()
    cache[token] = result
    return result


_FUZZY_CACHE: dict[str, str | None] = {}


def match_entities(ft: FoldedText, gaz: Gazetteer) -> list[EntityMention]:
    folded = ft.folded
    candidates: list[tuple[int, int, str, bool]] = []  # first word, last word, id, curated
    for end, hit in gaz.automaton.iter(folded):
        start = end - hit.key_len + 2  # first char of the alias
        first = ft.starts.get(start)
        if first is None:
            continue
        stop = end + 1
        if folded[stop] != " ":
            if not hit.inflect:
                continue
            nxt = folded.find(" ", stop)
            if nxt - stop > MAX_SUFFIX:
                continue
            stop = nxt
        last = first + folded.count(" ", start, stop)
        surface = ft.text[ft.spans[first][0] : ft.spans[last][1]]
        if hit.upper_only and surface.upper() != surface:
            continue
        if not hit.curated and not _cased_ok(surface):
            continue
        candidates.append((first, last, hit.entry_id, hit.curated))
    # Longest match wins, curated before generated, left to right.
    candidates.sort(key=lambda c: (c[0], -(c[1] - c[0]), not c[3]))
    chosen: list[tuple[int, int, str]] = []
    covered: set[int] = set()
    taken_until = -1
    for first, last, entry_id, _ in candidates:
        if first <= taken_until:
            continue
        chosen.append((first, last, entry_id))
        covered.update(range(first, last + 1))
        taken_until = last
    for i, token in enumerate(ft.tokens):
        if i in covered or len(token) < FUZZY_MIN or not token.isalpha():
            continue
        span = ft.spans[i]
        if not _cased_ok(ft.text[span[0] : span[1]]):
            continue
        fuzzy_id = _fuzzy_lookup(token, gaz, _FUZZY_CACHE)
        if fuzzy_id:
            chosen.append((i, i, fuzzy_id))
    chosen.sort()
    mentions: dict[str, EntityMention] = {}
    for first, last, entry_id in chosen:
        surface = ft.text[ft.spans[first][0] : ft.spans[last][1]]
        mention = mentions.get(entry_id)
        if mention is None:
            entry = gaz.entries[entry_id]
            mentions[entry_id] = EntityMention(
                id=entry.id,
                name=entry.name,
                type=entry.type,
                surface_forms=[surface],
                count=1,
                country=entry.country,
                lat=entry.lat,
                lon=entry.lon,
                names=dict(entry.names),
            )
        else:
            mention.count += 1
            if surface not in mention.surface_forms and len(mention.surface_forms) < MAX_SURFACES:
                mention.surface_forms.append(surface)
    return sorted(mentions.values(), key=lambda m: -m.count)


def find_entities(text: str, gaz: Gazetteer) -> list[EntityMention]:
    """People, organisations and places mentioned in `text`, most mentioned first."""
    return match_entities(fold_words(text), gaz)


def expand_query(query: str, gaz: Gazetteer) -> str:
    """A search query folded like `Report.folded_text`, plus the folded canonical names of the
    entities it names: "Pasinyan" also searches "nikol pashinyan", which every report that
    mentions him carries in its folded_text whatever spelling it used."""
    ft = fold_words(query)
    names = [fold_text(m.name) for m in match_entities(ft, gaz)]
    return " ".join(dict.fromkeys([" ".join(ft.tokens), *names])).strip()
