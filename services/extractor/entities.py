"""Entity matching: folded text -> gazetteer hits (Aho-Corasick), inflection suffixes and
typo tolerance (rapidfuzz), aggregated into `EntityMention`s."""

from __future__ import annotations

from rapidfuzz.distance import Levenshtein

from schemas.report import EntityMention
from services.common.fold import FoldedText, fold_text, fold_words
from services.extractor.gazetteer import FUZZY_MIN, Gazetteer

MAX_SUFFIX = 4  # inflection letters after an alias: Пашиняна, Paşinyan'ın, Ереване
MAX_SURFACES = 8


def _cased_ok(surface: str) -> bool:
    """A generated place or fuzzy hit must look like a name: capitalised, or an uncased script."""
    first = surface[:1]
    return first.upper() == first.lower() or first.isupper()


MAX_FUZZY_CACHE = 100_000


def _fuzzy_lookup(token: str, gaz: Gazetteer) -> str | None:
    """The entry `token` is a misspelling or an inflection of, cached in the gazetteer."""
    # .get, not `in` then [...]: the search API's threads share the gazetteer and its cache may
    # be cleared between the two
    cached = gaz.fuzzy_hits.get(token)
    if cached is not None:
        return cached
    if token in gaz.fuzzy_misses:
        return None
    best: tuple[int, str] | None = None
    if len(token) >= FUZZY_MIN and token.isalpha():
        for alias, entry_id in gaz.fuzzy.get(token[0], ()):
            if abs(len(token) - len(alias)) > MAX_SUFFIX + 1:
                continue
            allowed = 1 if len(alias) < 8 else 2
            # Compare the word and its stem (the word minus an inflection suffix) to the alias.
            for candidate in (token, token[: len(alias)], token[: len(alias) + 1]):
                dist = Levenshtein.distance(candidate, alias, score_cutoff=allowed)
                if dist <= allowed and (best is None or dist < best[0]):
                    best = (dist, entry_id)
    if len(gaz.fuzzy_hits) + len(gaz.fuzzy_misses) > MAX_FUZZY_CACHE:
        gaz.fuzzy_hits.clear()
        gaz.fuzzy_misses.clear()
    if best is None:
        gaz.fuzzy_misses.add(token)
        return None
    gaz.fuzzy_hits[token] = best[1]
    return best[1]


def match_entities(ft: FoldedText, gaz: Gazetteer) -> list[EntityMention]:
    folded = ft.folded
    # (first word, -words, generated, order found, last word, id): sorted, the longest match
    # wins, curated before generated, left to right
    candidates: list[tuple[int, int, bool, int, int, str]] = []
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
        candidates.append(
            (first, first - last, not hit.curated, len(candidates), last, hit.entry_id)
        )
    candidates.sort()
    chosen: list[tuple[int, int, str]] = []
    covered: set[int] = set()
    taken_until = -1
    for first, _, _, _, last, entry_id in candidates:
        if first <= taken_until:
            continue
        chosen.append((first, last, entry_id))
        covered.update(range(first, last + 1))
        taken_until = last
    # Most words were looked up before and are no name: one set difference skips them.
    fuzzy = {
        token: fuzzy_id
        for token in set(ft.tokens).difference(gaz.fuzzy_misses)
        if (fuzzy_id := _fuzzy_lookup(token, gaz))
    }
    if fuzzy:
        for i in [i for i, token in enumerate(ft.tokens) if token in fuzzy]:
            if i not in covered and _cased_ok(ft.text[ft.spans[i][0]]):
                chosen.append((i, i, fuzzy[ft.tokens[i]]))
    chosen.sort()
    counts: dict[str, int] = {}
    surfaces: dict[str, list[str]] = {}
    for first, last, entry_id in chosen:
        surface = ft.text[ft.spans[first][0] : ft.spans[last][1]]
        forms = surfaces.setdefault(entry_id, [])
        counts[entry_id] = counts.get(entry_id, 0) + 1
        if surface not in forms and len(forms) < MAX_SURFACES:
            forms.append(surface)
    mentions = []
    for entry_id, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        entry = gaz.entries[entry_id]
        mentions.append(
            EntityMention(
                id=entry.id,
                name=entry.name,
                type=entry.type,
                surface_forms=surfaces[entry_id],
                count=count,
                country=entry.country,
                lat=entry.lat,
                lon=entry.lon,
                names=dict(entry.names),
            )
        )
    return mentions


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
