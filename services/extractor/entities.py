"""Entity matching: folded text -> gazetteer hits (Aho-Corasick), inflection suffixes and
typo tolerance (rapidfuzz), aggregated into `EntityMention`s."""

from __future__ import annotations

from rapidfuzz.distance import Levenshtein

from schemas.report import EntityMention, EntityType
from services.common.fold import FoldedText, fold_text, fold_words
from services.extractor.gazetteer import FUZZY_MIN, Gazetteer

MAX_SUFFIX = 8  # inflection letters after an alias: Пашиняна, карабахского, արցախցիների
MAX_SURFACES = 8
# Inflection endings (folded) that may follow an alias: an ending outside the list is another
# word (Susanna is not Σούσα + "nna"). Russian cases and -ский adjectives, Armenian cases,
# plural and -ցի (people of) forms, Turkish and Azerbaijani cases (apostrophes fold away),
# English, French and German plurals and adjectives.
_RU = (
    "a u e i y o ya yu ye om em ym im oi ei ov ev ami yami akh yakh am yam ogo ego omu emu "
    "ski skii skiy skaya skoe skogo skomu skim skimi skom skoi skuyu skie skikh "
    "tsy tsev tsam tsami tsakh ets tsa tsu tsem"
)
_HY = (
    "i y n um its ov e ner neri nerin nerum nerits nerov ery eri akan akani akany akanum "
    "akanits akanov tsi tsin tsiy tsiner "
    "tsineri tsinerin tsinerits tsinerov tsinerum tsu tsuts"
)
_TR_AZ = (
    "a e i u o da de ta te dan den tan ten in nin un nun ya ye yi yu ni nu na ne la le ca "
    "ce lar ler lari leri larin lerin larda lerde daki deki li lu dir dur ile nda nde ndan "
    "nden yla yle"
)
_WEST = "s es n ns an ans ian ians is er ern ische ischen isch ien iens ais aise"
SUFFIXES = frozenset((" ".join((_RU, _HY, _TR_AZ, _WEST))).split())
# Turkish and Azerbaijani endings whose vowel follows the stem's (vowel harmony): after o/u
# the ending has u (Bakü'nün), after a/e/i it has i (Bakı'nın); Bakunin is no "Baku + nin".
_HARMONIC = {"nin": "i", "nun": "u", "in": "i", "un": "u", "ni": "i", "nu": "u", "yi": "i"}
_HARMONIC |= {"yu": "u", "li": "i", "lu": "u", "dir": "i", "dur": "u"}


def _inflection_ok(stem: str, ending: str) -> bool:
    if ending not in SUFFIXES:
        return False
    vowel = _HARMONIC.get(ending)
    if vowel is None:
        return True
    last = next((c for c in reversed(stem) if c in "aeiou"), "")
    return (last in "ou") == (vowel == "u")


# Capitalised words that may stand before a surname without naming another person.
_TITLES = frozenset(
    fold_text(t)
    for t in (
        "President Prime Minister Foreign Defence Defense Deputy Speaker Mr Mrs Ms Dr General "
        "Ambassador Chairman Premier Secretary Minister's Président Ministre Präsident "
        "Außenminister Premierminister Herr Frau Monsieur Madame"
    ).split()
)


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
    if len(token) >= FUZZY_MIN and token.isalpha() and token not in gaz.stopwords:
        for alias, entry_id in gaz.fuzzy.get(token[0], ()):
            if abs(len(token) - len(alias)) > 2:
                continue
            allowed = 1 if len(alias) < 8 else 2
            # The whole word against the alias: a misspelling and an inflection at once
            # (Shukshin = Shushi + "n" with one letter off) is too loose to be a name.
            dist = Levenshtein.distance(token, alias, score_cutoff=allowed)
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


def _names_a_role(words: set[str], roles: frozenset[str]) -> bool:
    return bool(roles) and any(word.startswith(tuple(roles)) for word in words)


def _name_word_before(
    ft: FoldedText,
    i: int,
    roles: frozenset[str] = frozenset(),
    taken: frozenset[int] = frozenset(),
    sentence_start_counts: bool = True,
) -> bool:
    """The word just before word i, in the same clause, is a capitalised word that may be a
    first name: not a title, not one of `roles`, not a word matched as an entity (`taken`);
    with sentence_start_counts=False, not the first word of a sentence either."""
    j = i - 1
    if j < 0 or j in taken:
        return False
    start, end = ft.spans[j]
    if any(c in '.!?:;,\n։()«»"' for c in ft.text[end : ft.spans[i][0]]):
        return False
    if not ft.text[start:end][:1].isupper() or ft.tokens[j] in _TITLES or ft.tokens[j] in roles:
        return False
    if sentence_start_counts:
        return True
    before = ft.text[max(0, start - 3) : start].strip()
    return j > 0 and not before.endswith((".", "!", "?", ":", "\n", "։", "»", '"'))


def _fuzzy_ok(ft: FoldedText, i: int, entry_id: str, gaz: Gazetteer, lower_words: set[str]) -> bool:
    """A fuzzy hit must look like a name (capitalised), must not be a word the text also writes
    in lower case (`lower_words`: an ordinary word at a sentence start), and a place must not
    be the surname after a first name (Vasily Shukshin)."""
    start, _ = ft.spans[i]
    if not _cased_ok(ft.text[start]):
        return False
    if ft.text[start].isupper() and ft.tokens[i] in lower_words:
        return False
    entry = gaz.entries.get(entry_id)
    return not (
        entry
        and entry.type == EntityType.PLACE
        and _name_word_before(ft, i, sentence_start_counts=False)
    )


def _resolve_shared(
    ft: FoldedText,
    chosen: list[tuple[int, int, str]],
    shared_at: set[tuple[int, str]],
    gaz: Gazetteer,
) -> list[tuple[int, int, str]]:
    """A bare surname that other people carry (Mirzoyan, Aliyev, Kocharyan) names the entry's
    person only when the text also names them in full or names one of their roles ("President
    Aliyev", "արտգործնախարարները"; a word starting with the role counts, for inflections), and
    never when another first name stands before it ("Karen Mirzoyan")."""
    full = {entry_id for first, last, entry_id in chosen if (first, entry_id) not in shared_at}
    taken = frozenset(w for first, last, _ in chosen for w in range(first, last + 1))
    words = set(ft.tokens)
    vouched: dict[str, bool] = {}  # per entry: the text names one of its roles
    kept = []
    for first, last, entry_id in chosen:
        if (first, entry_id) in shared_at:
            roles = gaz.roles.get(entry_id, frozenset())
            if _name_word_before(ft, first, roles, taken):
                continue
            if entry_id not in full:
                if entry_id not in vouched:
                    vouched[entry_id] = _names_a_role(words, roles)
                if not vouched[entry_id]:
                    continue
        kept.append((first, last, entry_id))
    return kept


def match_entities(ft: FoldedText, gaz: Gazetteer) -> list[EntityMention]:
    folded = ft.folded
    # (first word, -words, generated, order found, last word, id): sorted, the longest match
    # wins, curated before generated, left to right
    candidates: list[tuple[int, int, bool, int, int, str]] = []
    shared_at: set[tuple[int, str]] = set()  # (word, id) of bare shared-surname hits
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
            if nxt - stop > MAX_SUFFIX or not _inflection_ok(folded[start:stop], folded[stop:nxt]):
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
        if hit.shared:
            shared_at.add((first, hit.entry_id))
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
    if shared_at:
        chosen = _resolve_shared(ft, chosen, shared_at, gaz)
    # Most words were looked up before and are no name: one set difference skips them.
    fuzzy = {
        token: fuzzy_id
        for token in set(ft.tokens).difference(gaz.fuzzy_misses)
        if (fuzzy_id := _fuzzy_lookup(token, gaz))
    }
    if fuzzy:
        # one pass: the fuzzy words the text also writes in lower case
        lower_words = {
            token
            for token, (start, _) in zip(ft.tokens, ft.spans, strict=True)
            if token in fuzzy and ft.text[start].islower()
        }
        for i in [i for i, token in enumerate(ft.tokens) if token in fuzzy]:
            if i not in covered and _fuzzy_ok(ft, i, fuzzy[ft.tokens[i]], gaz, lower_words):
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
