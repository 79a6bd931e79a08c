"""The one factory of test and benchmark data: valid reports and raw articles built from the
schema models, with the fields derived from others (ids, url, times, hash, story, folded text)
filled one way. tests/indexer/reportgen.py, tests/alerts/factories.py and the benchmarks keep
their own defaults (sources, entities, wording) and call these for the rest.

Dev-only: importable from tests (the repo is on pytest's path) and from benchmarks (their
scripts put the repo on the path), never from the shipped packages."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from schemas.common import SourceInfo
from schemas.raw import RawArticle
from schemas.report import Report
from services.common.fold import fold_text


def report(
    report_id: str, headline: str, body: str = "", *, when: datetime, **fields: Any
) -> Report:
    """A valid report: `when` is its publication, ingestion and extraction time; the article id,
    url, content hash, story id and folded text derive from the id, headline and body unless
    `fields` give them (any other Report field goes in `fields` too)."""
    values: dict[str, Any] = {
        "report_id": report_id,
        "article_id": f"a-{report_id}",
        "url": f"https://example.org/{report_id}",
        "headline": headline,
        "body": body,
        "published": when,
        "ingested_at": when,
        "extracted_at": when,
        "content_hash": hashlib.sha1(f"{headline}{body}".encode()).hexdigest(),
        "story_id": f"story-{report_id}",
    }
    values.update(fields)
    if "folded_text" not in values:
        values["folded_text"] = fold_text(f"{values['headline']}\n{values['body']}")
    return Report(**values)


def raw_article(
    tag: str, serial: int, *, site: str, source: SourceInfo, title: str, text: str
) -> RawArticle:
    """A raw article new for each (tag, serial): its id hashes both, so the articles of one run
    never collide with another run's, and its url names the site, the tag and the serial."""
    return RawArticle(
        article_id=hashlib.sha256(f"{tag}-{serial}".encode()).hexdigest()[:32],
        url=f"https://{site}/{tag}/{serial}",
        source=source,
        title=title,
        text=text,
        ingested_at=datetime.now(UTC),
    )
