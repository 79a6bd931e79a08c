"""The extractor pipeline: one raw article -> one report (or one per digest item)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.raw import RawArticle
from schemas.report import EntityType, Report
from services.common.fold import fold_token, fold_words
from services.extractor.budget import Budget, bound_input, clamp_date
from services.extractor.clean import CleanDoc, clean, sentence_spans
from services.extractor.credits import strip_credits, strip_outlet_tag
from services.extractor.dedup import DedupState, TextPrint, content_hash
from services.extractor.entities import match_entities
from services.extractor.events import MIN_CONFIDENCE, find_events_folded, history_sentences
from services.extractor.figures import find_figures
from services.extractor.gazetteer import Gazetteer, default_gazetteer
from services.extractor.language import detect_report
from services.extractor.relevance import is_relevant, relevance_score
from services.extractor.settings import ExtractorSettings
from services.extractor.stories import COUNTRY_IDS, StoryFeatures, content_tokens


@dataclass
class ExtractorConfig:
    relevance_threshold: float = 0.5
    fast_html: bool = True
    event_min_confidence: float = MIN_CONFIDENCE
    gazetteer: Gazetteer = field(default_factory=default_gazetteer)
    budget: Budget = field(default_factory=Budget)

    @classmethod
    def from_settings(cls, settings: ExtractorSettings) -> ExtractorConfig:
        extra = (settings.gazetteer_dir,) if settings.gazetteer_dir else ()
        return cls(
            relevance_threshold=settings.relevance_threshold,
            fast_html=settings.fast_html,
            event_min_confidence=settings.event_min_confidence,
            gazetteer=default_gazetteer(extra),
            budget=Budget(
                timeout_s=settings.extract_timeout_s,
                max_html_chars=settings.extract_max_html_chars,
                max_text_chars=settings.extract_max_text_chars,
                date_min=settings.date_min,
                date_max_ahead=timedelta(days=settings.date_max_ahead_days),
            ),
        )


# The dateline a lead opens with ("WASHINGTON — ", "Yerevan — ", "YEREVAN, April 1
# (Armenpress) - ", "ЕРЕВАН, 1 апреля. /ТАСС/. ", "Bakı, 1 aprel, AZERTAC. "): where the outlet
# writes from, not where the event is, so its city is not a lead entity.
AGENCY_LINE = re.compile(r"^\s*[^\n]{0,60}?(?:\([^)\n]{2,30}\) - |/[^/\n]{2,20}/\. |AZERTAC\. )")
CITY_DASH = re.compile(r"^\s*([^\W\d][\w'’.]*(?:[ -][^\W\d][\w'’.]*)?)\s[—–]\s")


def strip_dateline(lead: str) -> str:
    found = AGENCY_LINE.match(lead)
    if found:
        return lead[found.end() :]
    found = CITY_DASH.match(lead)
    # one word, or a capitalised city of two ("NEW YORK"): "Armenia and Azerbaijan — " is prose
    if found and (found[1].isupper() or not any(c in found[1] for c in " -")):
        return lead[found.end() :]
    return lead


def _lead_entities(doc: CleanDoc, gaz: Gazetteer, outlet: str) -> tuple[str, ...]:
    """Entities of the headline and first paragraph (its dateline and credits left out): what
    the report is about, where the background paragraphs name whatever the conflict's history
    holds."""
    first = (doc.paragraphs[0] if doc.paragraphs else doc.body)[:1000]
    first = strip_credits(strip_dateline(first))
    lead = fold_words(f"{strip_outlet_tag(doc.headline, outlet)}\n\n{first}")
    return tuple(dict.fromkeys(m.id for m in match_entities(lead, gaz) if m.id not in COUNTRY_IDS))


@dataclass(frozen=True, slots=True)
class TextLayout:
    """The text a report is analysed as, and where its headline and sentences are in it."""

    text: str
    headline_span: tuple[int, int] | None  # None: the headline is not part of `text`
    sentence_spans: list[tuple[int, int]]  # the body's sentences


def text_layout(doc: CleanDoc) -> TextLayout:
    # A digest item's headline is its own first sentence, a one-paragraph page's headline may be
    # its body: do not count it twice.
    if not doc.headline or doc.digest or doc.body.startswith(doc.headline):
        return TextLayout(doc.body, None, sentence_spans(doc.body))
    at = len(doc.headline) + 2
    return TextLayout(
        f"{doc.headline}\n\n{doc.body}",
        (0, len(doc.headline)),
        [(start + at, end + at) for start, end in sentence_spans(doc.body)],
    )


@dataclass
class Draft:
    """A report before dedup and story: everything the (timed) analysis found, and what the
    story stage needs to place it (the report's story_id is still empty)."""

    report: Report
    features: StoryFeatures
    text: TextPrint
    # The raw partition it was extracted from and the records then waiting there behind it:
    # how far that partition has got, for the story stage's watermark (order.py).
    progress: tuple[int, int] | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "report": self.report.model_dump(mode="json"),
            "features": self.features.to_json(),
            "text": self.text.to_json(),
        }
        if self.progress is not None:
            data["progress"] = list(self.progress)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, value: bytes | str) -> Draft:
        data = json.loads(value)
        return cls(
            Report.model_validate(data["report"]),
            StoryFeatures.from_json(data["features"]),
            TextPrint.from_json(data["text"]),
            _progress(data.get("progress")),
        )


def _progress(value: Any) -> tuple[int, int] | None:
    """A draft's progress, if it is two whole numbers (anything else: none, which only leaves
    the watermark where it was)."""
    if isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value):
        return value[0], value[1]
    return None


def _named_text(doc: CleanDoc, layout: TextLayout, outlet: str) -> str:
    """The text whose names are the report's: the outlet's name closing the headline and the
    credits closing paragraphs left out (services/extractor/credits.py)."""
    body = strip_credits(doc.body)
    if layout.headline_span is None:
        return body if body != doc.body else layout.text
    return f"{strip_outlet_tag(doc.headline, outlet)}\n\n{body}"


def _draft(
    raw: RawArticle, doc: CleanDoc, report_id: str, config: ExtractorConfig, text_cut: bool
) -> Draft:
    gaz = config.gazetteer
    layout = text_layout(doc)
    text = layout.text
    ft = fold_words(text)
    named = _named_text(doc, layout, raw.source.name)
    entities = match_entities(ft if named == text else fold_words(named), gaz)
    guess, spans = detect_report(text, doc.paragraphs or [text])
    published = clamp_date(doc.published, config.budget, datetime.now(UTC))
    clamped = published is not doc.published
    # the day the report speaks from: sentences only about earlier dates are background
    day = (published or raw.published or raw.ingested_at).date()
    history = history_sentences(ft, layout.sentence_spans, day)  # not the story's figures
    sentences = [
        text[start:end] for i, (start, end) in enumerate(layout.sentence_spans) if i not in history
    ]
    events = find_events_folded(
        ft,
        layout.sentence_spans,
        doc.headline,
        layout.headline_span,
        published=day,
        min_confidence=config.event_min_confidence,
    )
    figures = find_figures(([doc.headline] if doc.headline else []) + sentences, guess.language)
    score = relevance_score(entities, events, gaz)
    canonical = " ".join(
        dict.fromkeys(fold_token(m.name) for m in entities if m.type != EntityType.PLACE or m.lat)
    )
    folded_text = " ".join(ft.tokens)
    chash = content_hash(folded_text)
    when = published or raw.published or raw.ingested_at
    body_from = len(fold_words(doc.headline).tokens) if layout.headline_span else 0
    features = StoryFeatures(
        report_id=report_id,
        when=when.timestamp(),
        language=guess.language,
        events=tuple(e.type.value for e in sorted(events, key=lambda e: not e.primary)),
        entities=tuple(m.id for m in entities if m.id not in COUNTRY_IDS),
        lead=_lead_entities(doc, gaz, raw.source.name),
        figures=tuple(sorted({(f.kind.value, f.value) for f in figures})),
        tokens=content_tokens(ft.tokens),
    )
    fields: dict[str, Any] = dict(
        report_id=report_id,
        article_id=raw.article_id,
        item_index=doc.item_index,
        url=raw.url,
        canonical_url=raw.canonical_url,
        source=raw.source,
        headline=doc.headline,
        byline=doc.byline,
        body=doc.body,
        published=published,
        ingested_at=raw.ingested_at,
        language=guess.language,
        language_confidence=guess.confidence,
        paragraph_languages=spans,
        entities=entities,
        events=events,
        figures=figures,
        relevance=score,
        relevant=is_relevant(score, config.relevance_threshold),
        content_hash=chash,
        folded_text=f"{folded_text} {canonical}".strip(),
        html_truncated=raw.html_truncated,
        # statement history: a later version of the same item replaces the report (same id)
        post=raw.post,
        pushed_by=raw.pushed_by,  # provenance of a push: which token sent it
        version=raw.version,
        edited_at=raw.edited_at,
        withdrawn_at=raw.withdrawn_at,
        diff=raw.diff,
    )
    if clamped:
        fields["published_original"] = doc.published
    if text_cut:
        fields["truncated"] = True
    report = Report(**fields, extracted_at=datetime.now(UTC), story_id="")
    return Draft(report, features, TextPrint.of(ft.tokens, body_from))


def analyse(raw: RawArticle, config: ExtractorConfig | None = None) -> list[Draft]:
    """The pure part of `extract`, on the article cut to the budget: what the time limit runs."""
    config = config or ExtractorConfig()
    raw, text_cut = bound_input(raw, config.budget)
    docs = clean(raw, fast_html=config.fast_html)
    drafts = []
    for doc in docs:
        report_id = f"{raw.article_id}-{doc.item_index}" if doc.digest else raw.article_id
        drafts.append(_draft(raw, doc, report_id, config, text_cut))
    return drafts


def finish(drafts: list[Draft], state: DedupState) -> list[Report]:
    """Dedup and story state of each draft: quick, and never interrupted half way. A copy
    reported before its original arrived comes out again, corrected to name the original."""
    reports = []
    for draft in drafts:
        report_id = draft.report.report_id
        when = datetime.fromtimestamp(draft.features.when, UTC)
        dedup = state.check(report_id, draft.report.content_hash, draft.text, when, draft.features)
        report = draft.report.model_copy(
            update={
                "duplicate_of": dedup.duplicate_of,
                "near_duplicate_of": dedup.near_duplicate_of,
                "story_id": dedup.story_id,
                "merged_stories": list(dedup.merged_stories),
            }
        )
        correction = None
        if dedup.copy_seen_first is not None:
            copy_id, link = dedup.copy_seen_first
            earlier = state.recent_report(copy_id)
            if earlier is None:
                # The copy's report is no longer at hand (the story stage moved to another
                # worker since): keep the pair linked, the wrong way round, rather than lose it.
                report = report.model_copy(update={link: copy_id})
            else:
                correction = earlier.model_copy(
                    update={link: report_id, "story_id": report.story_id}
                )
        reports.append(report)
        if correction is not None:
            reports.append(correction)
        state.remember_report(report)
    return reports


def extract(
    raw: RawArticle, state: DedupState, config: ExtractorConfig | None = None
) -> list[Report]:
    """Reports of one raw article. report_id = article_id, or f"{article_id}-{i}" per digest item."""
    return finish(analyse(raw, config), state)
