"""Real-shaped `Report` objects in bulk, without running the extractor (benchmarks only).

The indexer and search benchmarks need hundreds of thousands of reports that look like the
extractor's output: multilingual text, entities with their spellings, events, figures, story
clusters, near-duplicates. Generating every one from templates would dominate the benchmark,
so a pool of generated articles is built once and then varied per *epoch* (pool-sized slice):
later epochs move in time, reorder and drop middle paragraphs, and get their own ids, URLs and
story ids. Entities are recomputed from the varied text, so a report never claims an entity its
text lost. Nothing is validated per report (model_construct): the test validates a sample.
"""

from __future__ import annotations

import hashlib
import random
import zlib
from collections.abc import Iterator
from datetime import timedelta
from functools import lru_cache
from typing import Any

from schemas.report import (
    EntityMention,
    EntityType,
    EventLabel,
    Figure,
    LanguageSpan,
    Report,
)
from schemas.topics import SCHEMA_VERSION
from services.common.fold import fold_text
from services.demo.catalog import load_catalog
from services.demo.generator import DEFAULT_START, CorpusGenerator, GeneratedArticle

DEFAULT_POOL = 5000
EPOCH_SHIFT = timedelta(days=3)


@lru_cache(maxsize=200_000)
def _fold_paragraph(paragraph: str) -> str:
    return fold_text(paragraph)


# Sub-objects repeat a lot across reports and pydantic's model_construct dominates the cost, so
# identical ones are shared (reports are serialised, never mutated, by the benchmarks).
@lru_cache(maxsize=4096)
def _span(paragraph: int, language: str, confidence: float) -> LanguageSpan:
    return LanguageSpan.model_construct(
        paragraph=paragraph, language=language, confidence=confidence
    )


@lru_cache(maxsize=65_536)
def _mention(entity_id: str, found: tuple[str, ...], count: int) -> EntityMention:
    entity = load_catalog().entities[entity_id]
    names: dict[str, str] = {}
    if entity.az_forms:
        names = {"hy": entity.forms["en"][0], "az": entity.az_forms.get("az", ("",))[0]}
        names = {k: v for k, v in names.items() if v}
    return EntityMention.model_construct(
        id=entity.id,
        name=entity.name,
        type=entity.type,
        surface_forms=list(found),
        count=count,
        country=entity.country if entity.type == EntityType.PLACE else None,
        lat=entity.lat,
        lon=entity.lon,
        names=names,
    )


_REPORT_FIELDS = frozenset(Report.model_fields)


def _construct_report(**values: Any) -> Report:
    """Report.model_construct for a complete set of fields, without its per-field bookkeeping
    (the largest cost at 300,000 reports). Same object state as model_construct builds."""
    if values.keys() != _REPORT_FIELDS:
        return Report.model_construct(**values)
    report = Report.__new__(Report)
    object.__setattr__(report, "__dict__", values)
    object.__setattr__(report, "__pydantic_fields_set__", set(_REPORT_FIELDS))
    object.__setattr__(report, "__pydantic_extra__", None)
    object.__setattr__(report, "__pydantic_private__", None)
    return report


@lru_cache(maxsize=4096)
def _spellings(entity_id: str, language: str) -> tuple[str, ...]:
    entity = load_catalog().entities[entity_id]
    both = entity.forms.get(language, ()) + entity.az_forms.get(language, ())
    # A sentence may open with a spelling: "the EU Mission" is written "The EU Mission" there.
    opening = tuple(s[:1].upper() + s[1:] for s in both)
    return tuple(dict.fromkeys(both + opening))


def _entities(ids: list[str], text: str, language: str) -> list[EntityMention]:
    mentions = []
    for entity_id in ids:
        found = tuple(s for s in _spellings(entity_id, language) if s in text)
        if found:
            mentions.append(_mention(entity_id, found, max(text.count(s) for s in found)))
    return mentions


class ReportFactory:
    """Turns generated articles into reports; one instance per benchmark corpus."""

    def __init__(self, seed: int = 7, pool_size: int = DEFAULT_POOL) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.seed = seed
        self.catalog = load_catalog()
        self.pool = list(CorpusGenerator(seed, DEFAULT_START).articles(pool_size))
        self.rng = random.Random(seed ^ 0x5EED)
        self.position = {a.article_id: i for i, a in enumerate(self.pool)}
        self.sources = {o.key: o.source_info() for o in self.catalog.outlets}
        self._label_cache: dict[int, tuple[list[EventLabel], list[Figure]]] = {}

    def _labels(self, position: int) -> tuple[list[EventLabel], list[Figure]]:
        """Events and figures of a pool article: the same for every epoch that reuses it."""
        cached = self._label_cache.get(position)
        if cached is not None:
            return cached
        base = self.pool[position]
        events = []
        if base.event_type is not None:
            confidence = 0.55 + (zlib.crc32(base.article_id.encode()) % 43) / 100
            events.append(
                EventLabel.model_construct(
                    type=base.event_type,
                    confidence=round(confidence, 2),
                    evidence=base.paragraphs[0].split(" — ", 1)[-1],
                )
            )
        figures = [
            Figure.model_construct(
                kind=f.kind,
                value=f.value,
                text=f.text,
                approximate=f.approximate,
                subject=f.subject,
                claimant=f.claimant,
                evidence=f.sentence,
            )
            for f in base.figures
        ]
        self._label_cache[position] = (events, figures)
        return events, figures

    def report(self, index: int) -> Report:
        base = self.pool[index % len(self.pool)]
        epoch = index // len(self.pool)
        paragraphs = self._vary(base.paragraphs, epoch)
        return self._build(base, index, epoch, paragraphs)

    def _vary(self, paragraphs: list[str], epoch: int) -> list[str]:
        if epoch == 0 or len(paragraphs) < 4:
            return paragraphs
        lede, middle, footer = paragraphs[0], paragraphs[1:-1], paragraphs[-1]
        middle = list(middle)
        self.rng.shuffle(middle)
        if len(middle) > 2 and self.rng.random() < 0.5:
            middle.pop()
        return [lede, *middle, footer]

    def _id(self, index: int) -> str:
        if index < len(self.pool):
            return self.pool[index].article_id  # epoch 0 keeps the generated ids
        digest = hashlib.sha1(f"cwatch-demo-report:{self.seed}:{index}".encode()).hexdigest()
        return f"demo-{digest[:20]}"

    def _build(
        self, base: GeneratedArticle, index: int, epoch: int, paragraphs: list[str]
    ) -> Report:
        # One draw per report: the cost of random's calls adds up over 300,000 reports.
        u = self.rng.random()
        report_id = self._id(index)
        body = "\n\n".join(paragraphs)
        published = base.published + epoch * EPOCH_SHIFT
        ingested = published + timedelta(seconds=20 + int(u * 1180))
        extracted = ingested + timedelta(milliseconds=40 + int(u * 997) % 860)
        folded = " ".join(_fold_paragraph(p) for p in [base.title, *paragraphs])
        suffix = f"-e{epoch}" if epoch else ""
        url = f"{base.url}{suffix}"
        events, figures = self._labels(index % len(self.pool))
        if any(f.evidence not in body for f in figures):
            figures = [f for f in figures if f.evidence in body]
        relevance = 0.6 + 0.39 * u if base.relevant else 0.25 * u
        near = None
        if base.near_duplicate_of is not None:
            original = self.position.get(base.near_duplicate_of)
            if original is not None:
                near = self._id(original + epoch * len(self.pool))
        story = f"{base.story_id}{suffix}" if base.story_id else f"story-{report_id}"
        return _construct_report(
            schema_version=SCHEMA_VERSION,
            report_id=report_id,
            article_id=report_id,
            item_index=0,
            url=url,
            canonical_url=url,
            source=self.sources[base.outlet.key],
            headline=base.title,
            byline=base.author,
            body=body,
            published=published,
            ingested_at=ingested,
            extracted_at=extracted,
            language=base.language,
            language_confidence=round(0.85 + 0.14 * (1 - u), 3),
            paragraph_languages=[
                _span(i, base.language, (80 + (int(u * 1000) + 7 * i) % 21) / 100)
                for i in range(len(paragraphs))
            ],
            entities=_entities(base.entity_ids, f"{base.title}\n{body}", base.language),
            events=list(events),
            figures=list(figures),
            relevance=round(relevance, 3),
            relevant=base.relevant,
            content_hash=hashlib.sha256(folded.encode("utf-8")).hexdigest(),
            duplicate_of=None,
            near_duplicate_of=near,
            story_id=story,
            folded_text=folded,
            html_truncated=False,
        )


def realistic_reports(count: int, seed: int = 7, pool_size: int = DEFAULT_POOL) -> Iterator[Report]:
    """`count` real-shaped reports, the same ones for the same seed and pool size.

    Reports come in generation order; published times cover a few days per pool-sized epoch.
    """
    factory = ReportFactory(seed, min(pool_size, max(count, 1)))
    for index in range(count):
        yield factory.report(index)
