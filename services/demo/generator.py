"""Deterministic generator of realistic, clearly labelled demo news about the Caucasus conflict.

A corpus is a sequence of *stories* (one event: type, time, places, people, a casualty or
displacement claim) each told by several outlets of different sides within hours, in their own
language and naming (Stepanakert vs Khankendi), plus wire copy re-published by a second outlet
(near-duplicates) and a few irrelevant reports (sports, weather, other conflicts). The same
seed always gives the same corpus, byte for byte; each article also carries its ground truth.
"""

from __future__ import annotations

import hashlib
import random
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anyascii import anyascii

from schemas.common import SourceInfo
from schemas.report import EventType, FigureKind
from services.demo.catalog import Catalog, Outlet, load_catalog

if TYPE_CHECKING:
    from services.demo.writers import CorpusSummary

GENERATED_NOTE = "[generated demo]"
DEFAULT_START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)

# Relative frequency of story types: fighting and diplomacy dominate real coverage.
EVENT_WEIGHTS: dict[EventType, int] = {
    EventType.ARMED_CLASH: 10,
    EventType.SHELLING_STRIKE: 10,
    EventType.CEASEFIRE: 3,
    EventType.CEASEFIRE_VIOLATION: 8,
    EventType.PEACE_TALKS: 10,
    EventType.DIPLOMATIC: 8,
    EventType.ALLIANCE: 4,
    EventType.MILITARY_EXERCISE: 3,
    EventType.DISPLACEMENT: 5,
    EventType.HUMANITARIAN_AID: 4,
    EventType.LEGAL_ACTION: 3,
    EventType.PROTEST: 3,
    EventType.RECOGNITION: 2,
    EventType.SANCTIONS: 2,
}
IRRELEVANT_SHARE = 0.2  # per draw; stories yield ~3 articles, so ~7% of articles
NEAR_DUPLICATE_SHARE = 0.12
SIDES = ("am", "az")
REFERENCE_LANGUAGE = "en"  # has a telling of every event; a story's scenario is one of its
DISTINCT_WINDOW = timedelta(hours=24)  # no two stories alike (kind, people, places) within it
RECAST_TRIES = 20
CLAIMANT_NAMES = {"am": "Armenia MoD", "az": "Azerbaijan MoD"}
SECTIONS = {True: ("politics", "world", "news", "region"), False: ("sport", "weather", "world")}
_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class TruthFigure:
    """A claim the article states, as the extractor should read it."""

    kind: FigureKind
    value: int
    text: str
    approximate: bool
    claimant: str | None
    subject: str | None
    sentence: str


@dataclass
class GeneratedArticle:
    article_id: str
    url: str
    title: str
    paragraphs: list[str]
    published: datetime
    outlet: Outlet
    language: str
    relevant: bool
    category: str
    story_id: str | None = None
    event_type: EventType | None = None
    entity_ids: list[str] = field(default_factory=list)
    figures: list[TruthFigure] = field(default_factory=list)
    near_duplicate_of: str | None = None
    # An irrelevant filler text told again word for word (the same headline and sentences):
    # the article it repeats, since no reader could tell the two apart.
    rerun_of: str | None = None
    author: str = ""
    generated: bool = True

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def source(self) -> SourceInfo:
        return self.outlet.source_info()

    def truth(self) -> dict[str, Any]:
        """Ground truth for evaluating extraction and clustering (manifest.json)."""
        return {
            "article_id": self.article_id,
            "url": self.url,
            "title": self.title,
            "language": self.language,
            "source": self.outlet.key,
            "published": self.published.isoformat(),
            "relevant": self.relevant,
            "category": self.category,
            "story_id": self.story_id,
            "event_type": self.event_type.value if self.event_type else None,
            "entity_ids": self.entity_ids,
            "figures": [
                {
                    "kind": f.kind.value,
                    "value": f.value,
                    "text": f.text,
                    "approximate": f.approximate,
                    "claimant": f.claimant,
                    "subject": f.subject,
                }
                for f in self.figures
            ],
            "near_duplicate_of": self.near_duplicate_of,
            "rerun_of": self.rerun_of,
            "generated": True,
        }


@dataclass(frozen=True)
class StoryFigure:
    kind: FigureKind
    value: int
    mode: str  # exact | more_than | vague
    civilians: bool


@dataclass
class Story:
    story_id: str
    event: EventType
    at: datetime
    cast: dict[str, str]
    claim_side: str
    figure: StoryFigure | None
    az_naming: dict[str, bool] = field(default_factory=dict)
    # The roles (template slots) its telling names: every outlet tells the same event, with
    # the same people and places, or does not report it (see `scenario_of`).
    scenario: frozenset[str] = frozenset()
    subject: frozenset[str] = frozenset()  # the roles its reference headline names

    def key(self) -> tuple[str, ...]:
        """What a reader tells the story by: its kind, people and places."""
        return story_key(self.event, self.scenario, self.cast)


# A clash, a shelling and a ceasefire violation at one place on one day read as one event.
ALIKE = {
    EventType.SHELLING_STRIKE: EventType.ARMED_CLASH,
    EventType.CEASEFIRE_VIOLATION: EventType.ARMED_CLASH,
}


def story_key(event: EventType, scenario: frozenset[str], cast: dict[str, str]) -> tuple[str, ...]:
    return (ALIKE.get(event, event).value, *sorted(f"{s}={cast[s]}" for s in scenario))


def template_slots(template: str, roles: Any) -> frozenset[str]:
    """The entity roles a template names (`{border_place}`), not its other slots (`{date}`)."""
    return frozenset(m for m in _SLOT.findall(template) if m in roles)


def scenario_of(spec: dict[str, Any], headline: str, roles: Any) -> frozenset[str]:
    """The roles of one headline and of the lede that tells it (a lede naming nobody else,
    else the one sharing most): the event a story is, whoever reports it."""
    named = template_slots(headline, roles)
    ledes = sorted(
        spec["lede"],
        key=lambda lede: (
            not template_slots(lede, roles) <= named,
            -len(template_slots(lede, roles) & named),
        ),
    )
    return named | template_slots(ledes[0], roles)


@lru_cache(maxsize=8192)
def slugify(text: str, limit: int = 70) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", anyascii(text).lower()).strip("-")
    return slug[:limit].rstrip("-") or "article"


def _capitalise(sentence: str) -> str:
    # Georgian prose has no capitals: upper() would turn Mkhedruli into Mtavruli.
    if not sentence or "\u10d0" <= sentence[0] <= "\u10ff":
        return sentence
    return sentence[:1].upper() + sentence[1:]


def _dateline(outlet: Outlet) -> str:
    # Latin-script wires shout the city (YEREVAN —); other presses write it plainly.
    return outlet.city.upper() if outlet.language in ("en", "fr", "id") else outlet.city


def _format_int(value: int, sep: str) -> str:
    return f"{value:,}".replace(",", sep)


class _Renderer:
    """Fills one language's templates for one outlet and story, recording what it used."""

    def __init__(
        self, catalog: Catalog, rng: random.Random, outlet: Outlet, story: Story | None
    ) -> None:
        self.catalog = catalog
        self.rng = rng
        self.outlet = outlet
        self.lang = catalog.languages[outlet.language]
        self.story = story
        self.used: list[str] = []
        self.figure_values: dict[str, str] = {}

    def _az_naming(self, entity_id: str) -> bool:
        side = self.outlet.side
        if side in ("az", "tr"):
            return True
        if side == "am":
            return False
        # Russian and international outlets switch names; keep one choice per story and place.
        if self.story is None:
            return False
        return self.story.az_naming.setdefault(entity_id, self.rng.random() < 0.4)

    def entity(self, entity_id: str) -> str:
        entity = self.catalog.entities[entity_id]
        spellings = entity.spellings(self.outlet.language, self._az_naming(entity_id))
        if entity_id not in self.used:
            self.used.append(entity_id)
            return spellings[0] if self.rng.random() < 0.6 else self.rng.choice(spellings)
        # Later mentions prefer the short forms, as journalists do.
        return spellings[-1] if self.rng.random() < 0.6 else self.rng.choice(spellings)

    def _cast(self, slot: str) -> str:
        if self.story is not None and slot in self.story.cast:
            return self.story.cast[slot]
        options = self.catalog.slots[slot]
        return options[0] if len(options) == 1 else self.rng.choice(options)

    def _value(self, name: str) -> str:
        if name in self.catalog.slots:
            return self.entity(self._cast(name))
        if name in self.figure_values:
            return self.figure_values[name]
        if name == "date":
            return self.date()
        raise KeyError(f"unknown template slot {{{name}}} in language {self.outlet.language}")

    def fill(self, template: str) -> str:
        return _capitalise(_SLOT.sub(lambda m: self._value(m.group(1)), template))

    def pick(self, options: list[str]) -> str:
        return self.fill(self.rng.choice(options))

    def date(self) -> str:
        when = self.story.at if self.story else DEFAULT_START
        month = self.lang["months"][when.month - 1]
        return str(self.lang["date"]).format(d=when.day, month=month, y=when.year)

    def side_phrase(self, side: str, key: str) -> str:
        return str(self.lang["sides"][side][key])

    def number(self, figure: StoryFigure) -> str:
        sep = str(self.lang["thousands"])
        if figure.mode == "vague":
            words = [w for w, v in self.lang.get("vague", {}).items() if v == figure.value]
            if words:
                return str(words[0])
        if figure.mode in ("vague", "more_than"):
            return str(self.lang["more_than"]).format(n=_format_int(figure.value, sep))
        word = self.lang.get("numbers", {}).get(figure.value)
        if word and self.rng.random() < 0.6:
            return str(word)
        return _format_int(figure.value, sep)


def _weighted_outlets(rng: random.Random, candidates: list[Outlet], k: int) -> list[Outlet]:
    """Up to k distinct outlets, favouring heavier ones and a mix of sides."""
    chosen: list[Outlet] = []
    pool = list(candidates)
    while pool and len(chosen) < k:
        sides_taken = {o.side for o in chosen}
        weights = [o.weight * (0.3 if o.side in sides_taken else 1.0) for o in pool]
        pick = rng.choices(pool, weights=weights)[0]
        chosen.append(pick)
        pool.remove(pick)
    return chosen


class CorpusGenerator:
    def __init__(self, seed: int, start: datetime = DEFAULT_START) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.catalog = load_catalog()
        self.clock = start
        self.index = 0
        self.story_count = 0
        self.outlets_for = {e: self.catalog.outlets_for_event(e.value) for e in EVENT_WEIGHTS}
        self.recent: list[tuple[datetime, tuple[str, ...]]] = []  # (start, key) of stories
        # first article of each filler text, and its paragraphs
        self.fillers: dict[tuple[str, str, str], tuple[str, list[str]]] = {}

    def _article_id(self) -> str:
        digest = hashlib.sha1(f"cwatch-demo:{self.seed}:{self.index}".encode()).hexdigest()
        self.index += 1
        return f"demo-{digest[:20]}"

    def _url(self, outlet: Outlet, when: datetime, title: str, relevant: bool) -> str:
        section = self.rng.choice(SECTIONS[relevant])
        return (
            f"{outlet.home}{section}/{when:%Y/%m/%d}/"
            f"{slugify(title)}-{self.rng.randrange(10_000, 99_999)}"
        )

    def _new_story(self) -> Story:
        rng = self.rng
        self.clock += timedelta(minutes=rng.randint(10, 150))
        # Two stories of one kind, with the same people and places, started within a day are
        # told in the same words: nobody could tell their reports apart but by the minute they
        # appeared. Recast the story so that it differs from recent ones; a kind with too few
        # people and places for that (Armenia and the CSTO) gives way to another kind.
        recent = {k for at, k in self.recent if self.clock - at < DISTINCT_WINDOW}
        for attempt in range(RECAST_TRIES):
            if attempt % 5 == 0:
                event, scenario, subject = self._draw_event()
            cast = {
                slot: ids[0] if len(ids) == 1 else rng.choice(ids)
                for slot, ids in self.catalog.slots.items()
            }
            if story_key(event, scenario, cast) not in recent:
                break
        figure = self._story_figure(event)
        self.story_count += 1
        story = Story(
            story_id=f"demo-story-{self.seed}-{self.story_count}",
            event=event,
            at=self.clock,
            cast=cast,
            claim_side="am" if event == EventType.DISPLACEMENT else rng.choice(SIDES),
            figure=figure,
            scenario=scenario,
            subject=subject,
        )
        self.recent = [(at, k) for at, k in self.recent if self.clock - at < DISTINCT_WINDOW]
        self.recent.append((story.at, story.key()))
        return story

    def _draw_event(self) -> tuple[EventType, frozenset[str], frozenset[str]]:
        """A kind of event and one telling of it (the roles it names), by the reference
        language, which tells every kind."""
        rng = self.rng
        events = list(EVENT_WEIGHTS)
        event = rng.choices(events, weights=[EVENT_WEIGHTS[e] for e in events])[0]
        reference = self.catalog.events_in(REFERENCE_LANGUAGE)[event.value]
        headline = rng.choice(reference["headline"])
        roles = self.catalog.slots
        return event, scenario_of(reference, headline, roles), template_slots(headline, roles)

    def _story_figure(self, event: EventType) -> StoryFigure | None:
        rng = self.rng
        spec = self.catalog.events_in("en").get(event.value, {})
        kinds = spec.get("figures") or []
        # Displacement stories are about their numbers; other events often come without any.
        if not kinds or (not spec.get("aid_claimant") and rng.random() < 0.15):
            return None
        kind = FigureKind(rng.choice(kinds))
        if kind == FigureKind.DISPLACED:
            mode = rng.choice(("exact", "more_than", "more_than"))
            value = rng.choice((6_500, 19_000, 50_000, 100_000, 120_000))
        else:
            mode = rng.choices(("exact", "vague", "more_than"), weights=(8, 1, 1))[0]
            value = 24 if mode == "vague" else rng.randint(1, 12)
        civilians = bool(spec.get("civilians")) and rng.random() < 0.35
        return StoryFigure(kind=kind, value=value, mode=mode, civilians=civilians)

    def articles(self, count: int) -> Iterator[GeneratedArticle]:
        produced = 0
        while produced < count:
            if self.rng.random() < IRRELEVANT_SHARE:
                batch = [self._irrelevant()]
            else:
                batch = self._story_articles(self._new_story())
            for article in batch:
                if produced >= count:
                    return
                produced += 1
                yield article

    def _story_articles(self, story: Story) -> list[GeneratedArticle]:
        rng = self.rng
        candidates = self.outlets_for[story.event]
        k = rng.choices((1, 2, 3, 4, 5), weights=(1, 3, 4, 3, 2))[0]
        out: list[GeneratedArticle] = []
        told = 0
        # An outlet whose language has no telling of this story's event does not report it.
        for outlet in _weighted_outlets(rng, candidates, len(candidates)):
            if told >= k:
                break
            delay = timedelta(minutes=rng.randint(3, 6 * 60))
            article = self._story_article(story, outlet, story.at + delay)
            if article is None:
                continue
            told += 1
            out.append(article)
            if rng.random() < NEAR_DUPLICATE_SHARE:
                copy = self._republish(article)
                if copy is not None:
                    out.append(copy)
        return out

    def _tells(self, template: str, story: Story) -> bool:
        """Whether a template tells this story: it names only the story's roles, and one that
        names nobody fits a story whose headline names only places, or nobody ("Clashes on the
        border" tells a clash at Tavush; "Parliament recognises the genocide" is not Macron's
        call for recognition)."""
        named = template_slots(template, self.catalog.slots)
        if named:
            return named <= story.scenario
        return all(self.catalog.slots[role][0].startswith("place:") for role in story.subject)

    def _story_article(
        self, story: Story, outlet: Outlet, published: datetime
    ) -> GeneratedArticle | None:
        """One outlet's report of the story; None when its language has no headline and lede
        naming only the story's roles (it would tell another event)."""
        rng = self.rng
        spec = self.catalog.events_in(outlet.language)[story.event.value]
        headlines = [h for h in spec["headline"] if self._tells(h, story)]
        fitting = [s for s in spec["lede"] if self._tells(s, story)]
        if not headlines or not fitting:
            return None
        r = _Renderer(self.catalog, rng, outlet, story)
        other = "az" if story.claim_side == "am" else "am"
        r.figure_values.update(
            claimant=r.side_phrase(story.claim_side, "mod"),
            denier=r.side_phrase(other, "mod"),
            claim_country=r.side_phrase(story.claim_side, "country"),
            accused=r.side_phrase(other, "country"),
        )
        figures: list[TruthFigure] = []
        claim_paragraph = ""
        if story.figure is not None and spec.get("figures"):
            claim_paragraph, truth = self._claim(
                r, story, story.figure, bool(spec.get("aid_claimant"))
            )
            figures.append(truth)
        title = r.pick(headlines)
        ledes = [s for s in fitting if "{fig}" not in s or "fig" in r.figure_values]
        lede = r.pick(ledes or fitting)
        if rng.random() < 0.6:
            lede = f"{_dateline(outlet)} — {lede}"
        paragraphs = [lede]
        if claim_paragraph and r.figure_values["fig"] not in lede:
            paragraphs.append(claim_paragraph)
        elif figures:
            # The lede itself states the figure: that sentence is the evidence.
            figures = [replace(figures[0], sentence=lede.split(" — ", 1)[-1])]
        figures = [
            f if f.text in f.sentence else replace(f, text=_capitalise(f.text)) for f in figures
        ]
        # The other side's ministry denies casualty claims; nobody denies a UN refugee count.
        disputed = figures and not spec.get("aid_claimant")
        if disputed and outlet.side != story.claim_side and rng.random() < 0.6:
            paragraphs.append(r.pick(self.catalog.languages[outlet.language]["denial"]))
        body = list(spec.get("body", []))
        rng.shuffle(body)
        paragraphs.extend(r.fill(s) for s in body[: rng.randint(1, 2)])
        lang = self.catalog.languages[outlet.language]
        if rng.random() < 0.7:
            paragraphs.append(r.pick(lang["quote"]))
        background = list(lang["background"])
        rng.shuffle(background)
        paragraphs.extend(r.fill(s) for s in background[: rng.randint(1, 3)])
        paragraphs.append(str(lang["footer"]))
        return GeneratedArticle(
            article_id=self._article_id(),
            url=self._url(outlet, published, title, True),
            title=title,
            paragraphs=paragraphs,
            published=published,
            outlet=outlet,
            language=outlet.language,
            relevant=True,
            category=story.event.value,
            story_id=story.story_id,
            event_type=story.event,
            entity_ids=list(r.used),
            figures=figures,
            author=self._byline(outlet),
        )

    def _claim(
        self, r: _Renderer, story: Story, figure: StoryFigure, aid_claimant: bool
    ) -> tuple[str, TruthFigure]:
        lang = r.lang
        number = r.number(figure)
        if figure.kind == FigureKind.DISPLACED:
            subject = None
        elif figure.civilians:
            subject = str(lang["civilians"])
        else:
            subject = r.side_phrase(story.claim_side, "soldiers")
        phrase = str(lang["figure"][figure.kind.value]).format(n=number, subject=subject or "")
        claimant_name = CLAIMANT_NAMES[story.claim_side]
        if aid_claimant:
            org = story.cast["aid_org"]
            r.figure_values["claimant"] = r.entity(org)
            claimant_name = self.catalog.entities[org].name
        r.figure_values["fig"] = phrase
        sentence = r.pick(lang["claim"])
        truth = TruthFigure(
            kind=figure.kind,
            value=figure.value,
            text=number,
            approximate=figure.mode != "exact",
            claimant=claimant_name,
            subject=subject,
            sentence=sentence,
        )
        return sentence, truth

    def _republish(self, original: GeneratedArticle) -> GeneratedArticle | None:
        """Wire copy picked up by another outlet of the same language, lightly edited."""
        rng = self.rng
        others = [
            o
            for o in self.catalog.outlets
            if o.language == original.language
            and o.key != original.outlet.key
            and (not o.events or original.category in o.events)
        ]
        if not others:
            return None
        outlet = rng.choice(others)
        published = original.published + timedelta(minutes=rng.randint(5, 90))
        paragraphs = list(original.paragraphs)
        if len(paragraphs) > 4 and rng.random() < 0.5:
            del paragraphs[-2]  # editors trim a background paragraph
        credit = f"({original.outlet.name})"
        paragraphs[0] = f"{paragraphs[0]} {credit}"
        title = original.title if rng.random() < 0.5 else f"{original.title} — {outlet.name}"
        return GeneratedArticle(
            article_id=self._article_id(),
            url=self._url(outlet, published, original.title, True),
            title=title,
            paragraphs=paragraphs,
            published=published,
            outlet=outlet,
            language=original.language,
            relevant=True,
            category=original.category,
            story_id=original.story_id,
            event_type=original.event_type,
            entity_ids=self._mentioned(original.entity_ids, title, paragraphs, original.language),
            figures=list(original.figures),
            near_duplicate_of=original.article_id,
            author=original.author,
        )

    def _byline(self, outlet: Outlet) -> str:
        reporters = self.catalog.languages[outlet.language].get("reporters") or []
        if reporters and self.rng.random() < 0.7:
            # Each outlet keeps its own two reporters, as a newsroom would.
            first = zlib.crc32(outlet.key.encode()) % len(reporters)
            return str(reporters[(first + self.rng.randrange(2)) % len(reporters)])
        return f"{outlet.name} staff"

    def _mentioned(
        self, ids: list[str], title: str, paragraphs: list[str], language: str
    ) -> list[str]:
        """Entity ids still spelled out in an edited copy (a trimmed paragraph may take one)."""
        text = title + "\n" + "\n".join(paragraphs)
        kept = []
        for entity_id in ids:
            entity = self.catalog.entities[entity_id]
            spellings = entity.spellings(language, False) + entity.spellings(language, True)
            if any(s in text for s in spellings):
                kept.append(entity_id)
        return kept

    def _irrelevant(self) -> GeneratedArticle:
        rng = self.rng
        outlet = rng.choices(
            self.catalog.outlets, weights=[o.weight for o in self.catalog.outlets]
        )[0]
        lang = self.catalog.languages[outlet.language]
        category = rng.choice(sorted(lang["irrelevant"]))
        spec = lang["irrelevant"][category]
        r = _Renderer(self.catalog, rng, outlet, None)
        self.clock += timedelta(minutes=rng.randint(1, 30))
        published = self.clock + timedelta(minutes=rng.randint(0, 120))
        title = r.pick(spec["headline"])
        body = list(spec["body"])
        rng.shuffle(body)
        paragraphs = [r.fill(s) for s in body] + [str(lang["footer"])]
        article_id = self._article_id()
        # A filler told again is its first telling word for word, paragraphs in the same order
        # (the draws above still happen, so the rest of the corpus is the same): its label says
        # it is that telling's re-run, which only an identical text makes true.
        first, paragraphs = self.fillers.setdefault(
            (outlet.language, category, title), (article_id, paragraphs)
        )
        return GeneratedArticle(
            article_id=article_id,
            rerun_of=None if first == article_id else first,
            url=self._url(outlet, published, title, False),
            title=title,
            paragraphs=list(paragraphs),
            published=published,
            outlet=outlet,
            language=outlet.language,
            relevant=False,
            category=category,
            entity_ids=list(r.used),
            author=self._byline(outlet),
        )


def start_for_latest(count: int, seed: int, latest: datetime) -> datetime:
    """The start that makes the newest of `count` articles appear at `latest` (e.g. now).

    Random draws never depend on the start, so a corpus only moves in time: the same seed
    gives the same stories and wording (dates aside), and a demo can look like this week's.
    """
    newest = max(a.published for a in CorpusGenerator(seed, DEFAULT_START).articles(count))
    return DEFAULT_START + (latest - newest)


def generate(count: int, seed: int = 7, start: datetime = DEFAULT_START) -> list[GeneratedArticle]:
    """`count` articles, always the same ones for the same seed and start."""
    return list(CorpusGenerator(seed, start).articles(count))


def write_corpus(
    out_dir: str | Path,
    count: int,
    seed: int = 7,
    formats: Sequence[str] = ("html", "txt", "jsonl", "rss"),
    latest: datetime | None = None,
) -> CorpusSummary:
    """Shortcut to services.demo.writers.write_corpus (imported late: writers imports us)."""
    from services.demo.writers import write_corpus as write

    return write(out_dir, count, seed, formats, latest=latest)
