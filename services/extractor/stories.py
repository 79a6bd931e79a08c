"""Story clustering across languages and sides (issue 20).

A report joins the story it scores best against, or founds a new one. The score uses what does
not depend on the language (entity and place ids, event types, casualty figures, the time) and,
within one language, the words: reports of one event in Armenian, Azerbaijani, Russian and
English share places, people, the event type and the numbers, not words.

* Time decays from the story's *anchor* (its earliest report), not from its latest: a story
  cannot creep forward report by report and chain unrelated events together.
* A report that fits two stories well (one event first told apart, e.g. by two sides naming
  different places first) merges them: the younger story is recorded as merged into the older
  (`merged_into`), the report carries the absorbed ids (`Report.merged_stories`), and every
  later look-up follows the merge (`resolve`).
* A new story's id is derived from its founding report's id, so a replay gives the same ids.

The state is one string-keyed mapping of JSON values (a faust Table in the worker, owned by the
one story stage; a dict in tests and `cwatch extract`); the candidate index over it is rebuilt
in memory when first used.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

MAX_GAP_S = 4 * 24 * 3600  # a report is never compared with a story anchored further away
DECAY_S = 16 * 3600  # the score falls to a third at 16 h from the story's anchor
JOIN_AT = 0.45
MERGE_AT = 0.75
W_TEXT = 0.1
UNRELATED_EVENT = -0.3  # the event score of a report of an unrelated kind
PLACE_CONFLICT = 0.5  # factor when the report leads with other specific places than the story
MAX_TOKENS = 150  # words kept per report for the within-language similarity
MAX_STORY_TOKENS = 600  # per story and language
MAX_CANDIDATES = 64
KEEP_S = 7 * 24 * 3600
BACKGROUND = 0.3  # weight of an entity named only after the first paragraph  # stories idle for longer are forgotten

# Capitals: where governments speak from, so they say little about *which* event; but a lead
# that names one places the event there (talks in Moscow are not talks in Almaty).
CAPITALS = frozenset(
    {"place:yerevan", "place:baku", "place:moscow", "place:ankara", "place:tbilisi"}
)
# Ids that say little about *which* event: capitals, the region, the big international bodies.
BROAD = CAPITALS | frozenset(
    {
        "place:nagorno-karabakh",
        "place:south-caucasus",
        "place:georgia",
        "org:un",
        "org:eu",
        "org:armenia-mod",
        "org:azerbaijan-mod",
        "org:armenia-mfa",
        "org:azerbaijan-mfa",
        "org:russia-mfa",
        "org:kremlin",
    }
)
# Broad places within one country: too common to tell events apart, but a report in another
# language may share nothing else with its story ("Thousands flee Karabakh", "talks in
# Moscow"), so they are candidate keys, weak ones (the region's own name and countries are not).
LOCAL_BROAD = CAPITALS | frozenset({"place:nagorno-karabakh"})
COUNTRY_IDS = frozenset(
    {"place:armenia", "place:azerbaijan", "place:russia", "place:turkey", "place:iran"}
)


def entity_weight(entity_id: str) -> float:
    if entity_id in COUNTRY_IDS:
        return 0.0
    if entity_id in BROAD:
        return 0.25
    if entity_id.startswith("place:"):
        return 1.0
    if entity_id.startswith("person:"):
        return 0.7
    return 0.5


@dataclass(frozen=True)
class StoryFeatures:
    """What of a report the story score uses."""

    report_id: str
    when: float  # publication time, epoch seconds
    language: str
    events: tuple[str, ...] = ()  # event types, primary first
    entities: tuple[str, ...] = ()  # entity ids (countries left out)
    lead: tuple[str, ...] = ()  # those of the headline and first paragraph
    figures: tuple[tuple[str, int], ...] = ()  # (kind, value)
    tokens: tuple[str, ...] = ()  # folded content words, for the same-language similarity

    def to_json(self) -> dict[str, Any]:
        return {
            "r": self.report_id,
            "w": self.when,
            "l": self.language,
            "e": list(self.events),
            "x": list(self.entities),
            "d": list(self.lead),
            "f": [list(f) for f in self.figures],
            "t": list(self.tokens),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> StoryFeatures:
        return cls(
            str(value["r"]),
            float(value["w"]),
            str(value["l"]),
            tuple(value.get("e", ())),
            tuple(value.get("x", ())),
            tuple(value.get("d", ())),
            tuple((str(k), int(v)) for k, v in value.get("f", ())),
            tuple(value.get("t", ())),
        )

    def entity_vector(self) -> dict[str, float]:
        """Weighted entities: the lead's count fully, the background's a little."""
        vector = {e: entity_weight(e) * BACKGROUND for e in self.entities}
        vector.update({e: entity_weight(e) for e in self.lead})
        return {e: w for e, w in vector.items() if w > 0}


def content_tokens(tokens: list[str]) -> tuple[str, ...]:
    """Distinct folded words that carry content (4+ letters), in order, bounded."""
    out = dict.fromkeys(t for t in tokens if len(t) >= 4 and not t.isdigit())
    return tuple(list(out)[:MAX_TOKENS])


@dataclass
class Profile:
    """A story as the score sees it: counts over its members."""

    anchor: float
    last: float
    members: int = 0
    events: dict[str, int] = field(default_factory=dict)
    entities: dict[str, float] = field(default_factory=dict)  # sum of entity_vector()
    figures: set[tuple[str, int]] = field(default_factory=set)
    tokens: dict[str, list[str]] = field(default_factory=dict)  # language -> words
    merged_into: str | None = None
    placed: int = 0  # members that lead with a place (_lead_places)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.anchor,
            "z": self.last,
            "n": self.members,
            "e": self.events,
            "x": self.entities,
            "f": sorted([k, v] for k, v in self.figures),
            "t": self.tokens,
            "m": self.merged_into,
            "p": self.placed,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Profile:
        return cls(
            anchor=float(value["a"]),
            last=float(value["z"]),
            members=int(value["n"]),
            events=dict(value.get("e", {})),
            entities=dict(value.get("x", {})),
            figures={(str(k), int(v)) for k, v in value.get("f", ())},
            tokens={k: list(v) for k, v in value.get("t", {}).items()},
            merged_into=value.get("m"),
            # a story stored before this count: every member taken as placed (the old rule)
            placed=int(value.get("p", value["n"])),
        )

    def absorb(self, f: StoryFeatures) -> None:
        self.anchor = min(self.anchor, f.when)
        self.last = max(self.last, f.when)
        self.members += 1
        if _lead_places(f):
            self.placed += 1
        for rank, event in enumerate(f.events[:2]):
            # the main kind counts twice: a side kind is what the background mentions
            self.events[event] = self.events.get(event, 0) + (2 if rank == 0 else 1)
        for entity, weight in f.entity_vector().items():
            self.entities[entity] = self.entities.get(entity, 0.0) + weight
        self.figures.update(f.figures)
        words = self.tokens.setdefault(f.language, [])
        if len(words) < MAX_STORY_TOKENS:
            seen = set(words)
            words.extend(t for t in f.tokens if t not in seen)
            del words[MAX_STORY_TOKENS:]

    def merge(self, other: Profile) -> None:
        self.anchor = min(self.anchor, other.anchor)
        self.last = max(self.last, other.last)
        self.members += other.members
        self.placed += other.placed
        for event, count in other.events.items():
            self.events[event] = self.events.get(event, 0) + count
        for entity, weight in other.entities.items():
            self.entities[entity] = self.entities.get(entity, 0.0) + weight
        self.figures |= other.figures
        for language, words in other.tokens.items():
            mine_words = self.tokens.setdefault(language, [])
            seen = set(mine_words)
            mine_words.extend(w for w in words if w not in seen)
            del mine_words[MAX_STORY_TOKENS:]


def _entity_similarity(f: StoryFeatures, p: Profile) -> float:
    """Cosine between the report's weighted entities and the story's mean vector."""
    mine = f.entity_vector()
    if not mine or not p.members:
        return 0.0
    dot = sum(w * p.entities.get(e, 0.0) for e, w in mine.items())
    if not dot:
        return 0.0
    norm = math.sqrt(sum(w * w for w in mine.values())) * math.sqrt(
        sum(w * w for w in p.entities.values())
    )
    return dot / norm


# Kinds of events one event is told as: one side's clash is the other's shelling or ceasefire
# violation; talks are also a diplomatic meeting.
EVENT_FAMILY = {
    "armed_clash": "fighting",
    "shelling_strike": "fighting",
    "ceasefire_violation": "fighting",
    "peace_talks": "diplomacy",
    "diplomatic": "diplomacy",
}


def _event_similarity(f: StoryFeatures, p: Profile) -> float:
    """1 for the story's kind of event, 0.6 for one of its kinds or a related kind, below 0 for
    an unrelated kind (drills at Gazakh are not a clash at Gazakh). The kinds a report or story
    names besides its main one are what their background paragraphs mention (the talks, the
    alliance): two such side kinds in common do not make one event."""
    if not f.events or not p.events:
        return 0.4  # nothing to compare: neither for nor against
    top = max(p.events.values())
    if p.events.get(f.events[0], 0) * 2 >= top:
        return 1.0
    main = {e for e, n in p.events.items() if n * 2 > top}
    if f.events[0] in p.events or main & set(f.events):
        return 0.6
    if EVENT_FAMILY.get(f.events[0], "") in {EVENT_FAMILY.get(e) for e in main}:
        return 0.6
    return UNRELATED_EVENT


def _figure_similarity(f: StoryFeatures, p: Profile) -> float:
    """+1 when a claim's number recurs, -1 when the same kind of claim has other numbers."""
    if not f.figures or not p.figures:
        return 0.0
    if set(f.figures) & p.figures:
        return 1.0
    kinds = {k for k, _ in p.figures}
    return -1.0 if any(k in kinds for k, _ in f.figures) else 0.0


def _text_similarity(f: StoryFeatures, p: Profile) -> float | None:
    words = p.tokens.get(f.language)
    if not words or not f.tokens:
        return None  # another language: words say nothing
    shared = len(set(f.tokens) & set(words))
    return shared / math.sqrt(len(f.tokens) * min(len(words), 3 * len(f.tokens)))


def _is_scene(entity_id: str) -> bool:
    """A place that, led with, says where the event is: a specific place or a capital (the
    dateline, where the outlet writes from, is not in the lead)."""
    return entity_id in CAPITALS or (
        entity_id.startswith("place:") and entity_weight(entity_id) >= 1.0
    )


def _lead_places(f: StoryFeatures) -> set[str]:
    return {e for e in f.lead if _is_scene(e)}


def _place_conflict(f: StoryFeatures, p: Profile) -> bool:
    """The report leads with places and so do the story's reports (half of those that lead
    with any), other ones: another place, another event (a shelling of Jermuk is not one of
    Sotk, talks in Tbilisi are not talks in Almaty). Reports naming no place ("the talks on a
    peace treaty") say nothing about where: they do not thin out the story's place."""
    mine = _lead_places(f)
    if not mine or not p.placed:
        return False
    # a member that leads with a place adds its full weight (entity_vector)
    theirs = {
        e for e, w in p.entities.items() if _is_scene(e) and w >= 0.5 * p.placed * entity_weight(e)
    }
    return bool(theirs) and not mine & theirs


def score(f: StoryFeatures, p: Profile) -> float:
    """How well a report fits a story, 0..1 (JOIN_AT and above: it belongs). Without a shared
    place, person or body there is no story in common, whatever the wording."""
    gap = abs(f.when - p.anchor)
    if gap > MAX_GAP_S:
        return 0.0
    entities = _entity_similarity(f, p)
    if entities == 0.0:
        return 0.0
    base = 0.6 * entities + 0.3 * _event_similarity(f, p) + 0.1 * _figure_similarity(f, p)
    if _place_conflict(f, p):
        base *= PLACE_CONFLICT
    text = _text_similarity(f, p)
    if text is not None:
        base += W_TEXT * min(1.0, text)
    return max(0.0, base) * math.exp(-gap / DECAY_S)


def _is_key(entity_id: str) -> bool:
    return entity_weight(entity_id) > 0.3 or entity_id in LOCAL_BROAD


def new_story_id(report_id: str) -> str:
    return "story-" + hashlib.sha1(f"story|{report_id}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Assignment:
    story_id: str
    merged: tuple[str, ...] = ()  # stories this report merged into story_id


class StoryIndex:
    """Streaming assignment over a mapping story id -> Profile JSON."""

    def __init__(self, stories: MutableMapping[str, Any] | None = None) -> None:
        self.stories: MutableMapping[str, Any] = {} if stories is None else stories
        self._by_key: dict[str, set[str]] | None = None
        self._profiles: dict[str, Profile] = {}

    def reset(self) -> None:
        self._by_key = None
        self._profiles.clear()

    def _keys(self, f_or_p: StoryFeatures | Profile) -> set[str]:
        if isinstance(f_or_p, StoryFeatures):
            entities: Any = f_or_p.entities
            tokens = f_or_p.tokens[:40]
            language = f_or_p.language
            return {f"x|{e}" for e in entities if _is_key(e)} | {
                f"t|{language}|{t}" for t in tokens
            }
        keys = {f"x|{e}" for e in f_or_p.entities if _is_key(e)}
        for language, words in f_or_p.tokens.items():
            keys |= {f"t|{language}|{t}" for t in words[:40]}
        return keys

    def _index(self) -> dict[str, set[str]]:
        if self._by_key is None:
            self._by_key = defaultdict(set)
            for story_id, value in list(self.stories.items()):
                profile = Profile.from_json(value)
                if profile.merged_into is None:
                    self._profiles[story_id] = profile
                    for key in self._keys(profile):
                        self._by_key[key].add(story_id)
        return self._by_key

    def profile(self, story_id: str) -> Profile | None:
        found = self._profiles.get(story_id)
        if found is None:
            value = self.stories.get(story_id)
            if value is None:
                return None
            found = self._profiles[story_id] = Profile.from_json(value)
        return found

    def resolve(self, story_id: str) -> str:
        """The story a (possibly merged) story id lives on as."""
        for _ in range(32):
            profile = self.profile(story_id)
            if profile is None or profile.merged_into is None:
                return story_id
            story_id = profile.merged_into
        return story_id

    def _save(self, story_id: str, profile: Profile) -> None:
        self._profiles[story_id] = profile
        self.stories[story_id] = profile.to_json()

    def candidates(self, f: StoryFeatures) -> list[tuple[float, str]]:
        index = self._index()
        hits: dict[str, int] = defaultdict(int)
        strong: set[str] = set()  # met through more than a capital or the region
        for key in self._keys(f):
            broad = key[2:] in LOCAL_BROAD if key.startswith("x|") else False
            for story_id in index.get(key, ()):
                hits[story_id] += 3 if key.startswith("x|") and not broad else 1
                if not broad:
                    strong.add(story_id)
        # Only stories the report may still join compete for the candidate slots: stories kept
        # for days (KEEP_S) but anchored too long ago to score would crowd the live ones out,
        # more so the more stories a week holds (a 3000-article corpus lost a third of its
        # same-story pairs that way).
        live: dict[str, Profile] = {}
        for story_id in hits:
            profile = self.profile(story_id)
            if profile is not None and profile.merged_into is None:
                if abs(f.when - profile.anchor) <= MAX_GAP_S:
                    live[story_id] = profile
        ranked = sorted(live, key=lambda s: (-hits[s], s))[:MAX_CANDIDATES]
        scored = []
        for story_id in ranked:
            # a story met only through a capital or the region must tell the same kind of
            # event (a rally in Yerevan is not the weather in Yerevan)
            if story_id not in strong and _event_similarity(f, live[story_id]) < 0.6:
                continue
            value = score(f, live[story_id])
            if value > 0:
                scored.append((value, story_id))
        scored.sort(key=lambda x: (-x[0], x[1]))
        return scored

    def assign(self, f: StoryFeatures, story_id: str | None = None) -> Assignment:
        """Put the report in its best story (or `story_id`, a duplicate's original's story);
        merge the other stories it fits as well."""
        scored = self.candidates(f)
        merged: list[str] = []
        if story_id is not None:
            story_id = self.resolve(story_id)
        elif scored and scored[0][0] >= JOIN_AT:
            story_id = scored[0][1]
        if story_id is None:
            story_id = new_story_id(f.report_id)
            profile = Profile(anchor=f.when, last=f.when)
        else:
            profile = self.profile(story_id) or Profile(anchor=f.when, last=f.when)
            for value, other in scored:
                if other != story_id and value >= MERGE_AT:
                    merged.append(other)
        survivor = story_id
        if merged:
            # The oldest story survives; the others are recorded as merged into it.
            group = sorted(
                [story_id, *merged],
                key=lambda s: ((self.profile(s) or profile).anchor, s),
            )
            survivor = group[0]
            survivor_profile = self.profile(survivor) or profile
            for other in group[1:]:
                other_profile = self.profile(other) or profile
                survivor_profile.merge(other_profile)
                other_profile.merged_into = survivor
                self._save(other, other_profile)
                self._unindex(other, other_profile)
            profile = survivor_profile
        profile.absorb(f)
        self._save(survivor, profile)
        index = self._index()
        for key in self._keys(f):
            index[key].add(survivor)
        return Assignment(survivor, tuple(s for s in [story_id, *merged] if s != survivor))

    def _unindex(self, story_id: str, profile: Profile) -> None:
        if self._by_key is None:
            return
        for key in self._keys(profile):
            self._by_key.get(key, set()).discard(story_id)

    def prune(self, now: float) -> int:
        removed = 0
        for story_id, value in list(self.stories.items()):
            if now - float(value["z"]) > KEEP_S:
                del self.stories[story_id]
                self._profiles.pop(story_id, None)
                removed += 1
        if removed:
            self._by_key = None
        return removed
