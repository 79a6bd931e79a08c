"""The demo corpus's disclaimer footer ("for demonstration", "для демонстрации", "nümayiş
məqsədilə" ...) is boilerplate: it once tagged nearly every Russian demo report `protest`."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.raw import RawArticle
from services.demo.generator import generate
from services.extractor.dedup import DedupState
from services.extractor.pipeline import extract


def test_no_event_label_of_a_demo_report_comes_from_its_disclaimer() -> None:
    state = DedupState()
    evidence = []
    languages = set()
    for article in generate(120, seed=11):
        languages.add(article.language)
        raw = RawArticle(
            article_id=f"demo-events-{article.article_id}"[:60],
            source=article.source,
            text=f"{article.title}\n\n{article.text}",
            published=article.published,
            ingested_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        for report in extract(raw, state):
            evidence += [(e.type.value, e.evidence) for e in report.events]
    assert {"ru", "hy", "az", "tr", "en"} <= languages
    assert evidence
    assert [e for e in evidence if "[generated demo]" in e[1]] == []
