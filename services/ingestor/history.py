"""Statement history: an item seen again with another text is a new version of the same
article (same article_id, so the same report downstream), with the diff and `edited_at`; an
item that vanished from its source while the listing still covers its place is withdrawn
(`withdrawn_at`), re-sent with its last text so it stays searchable.

Every version has its own produced-id (`<article_id>@v<n>:<hash>`) so a restart after the
ack but before the state was written produces nothing twice; the item row is written only
after the broker acknowledged (`commit`).
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from schemas.raw import MAX_DIFF_CHARS, RawArticle
from services.ingestor.state import IngestState, ItemRecord

# difflib is quadratic in the worst case: both sides are cut to this many characters first.
MAX_DIFF_INPUT_CHARS = 20_000
MAX_STORED_ARTICLE_BYTES = 512 * 1024


@dataclass
class Version:
    """One article to emit, with the id it is remembered under and the row to save once
    the broker acknowledged it."""

    article: RawArticle
    seen_id: str
    record: ItemRecord


def plain_text(article: RawArticle) -> str:
    if article.text:
        return article.text
    if article.html:
        parser = etree.HTMLParser(recover=True, no_network=True, remove_comments=True)
        try:
            root = etree.fromstring(article.html[: MAX_DIFF_INPUT_CHARS * 4].encode(), parser)
        except (etree.LxmlError, ValueError):
            root = None
        if root is not None:
            return "\n".join(t.strip() for t in root.itertext() if t.strip())
    return article.title or ""


def text_diff(old: str, new: str) -> str:
    """Unified diff by line, bounded in input and output."""
    lines = difflib.unified_diff(
        old[:MAX_DIFF_INPUT_CHARS].splitlines(),
        new[:MAX_DIFF_INPUT_CHARS].splitlines(),
        "before",
        "after",
        lineterm="",
        n=1,
    )
    out = "\n".join(lines)
    return out if len(out) <= MAX_DIFF_CHARS else out[: MAX_DIFF_CHARS - 1] + "…"


def _stored(article: RawArticle) -> str:
    data = article.model_dump_json()
    if len(data) > MAX_STORED_ARTICLE_BYTES:  # keep what a withdrawal needs: the text
        slim = article.model_copy(update={"html": None, "text": plain_text(article)[:100_000]})
        data = slim.model_dump_json()
    return data


class History:
    def __init__(self, state: IngestState, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.clock = clock

    def versions(
        self, source: str, articles: Iterable[tuple[RawArticle, float | None]]
    ) -> list[Version]:
        """What to emit for these items of one source (article, position): new items as
        version 1, changed ones as the next version; unchanged ones nothing."""
        batch = list(articles)
        known = self.state.items(a.article_id for a, _ in batch)
        now = self.clock()
        out: list[Version] = []
        for article, position in batch:
            prev = known.get(article.article_id)
            if prev is None:
                record = ItemRecord(
                    article.article_id,
                    source,
                    position,
                    article.content_hash,
                    1,
                    now,
                    None,
                    _stored(article),
                )
                out.append(Version(article, article.article_id, record))
                continue
            if prev.content_hash == article.content_hash and prev.withdrawn_at is None:
                continue
            version = prev.version + 1
            old_text = ""
            if prev.article:
                old_text = plain_text(RawArticle.model_validate_json(prev.article))
            edited = article.model_copy(
                update={
                    "version": version,
                    "edited_at": datetime.fromtimestamp(now, UTC),
                    "diff": text_diff(old_text, plain_text(article)) or None,
                }
            )
            record = ItemRecord(
                article.article_id,
                source,
                position if position is not None else prev.position,
                article.content_hash,
                version,
                prev.first_seen,
                None,
                _stored(edited),
            )
            out.append(
                Version(edited, f"{article.article_id}@v{version}:{article.content_hash}", record)
            )
        return out

    def withdrawals(
        self, source: str, present: set[str], covered: Callable[[ItemRecord], bool], window_s: float
    ) -> list[Version]:
        """Recent items of the source missing from what it shows now, where what it shows
        still covers their place (`covered`): each becomes its last version, withdrawn."""
        now = self.clock()
        out: list[Version] = []
        for prev in self.state.recent_items(source, now - window_s):
            if prev.article_id in present or not covered(prev) or not prev.article:
                continue
            version = prev.version + 1
            last = RawArticle.model_validate_json(prev.article)
            withdrawn = last.model_copy(
                update={
                    "version": version,
                    "withdrawn_at": datetime.fromtimestamp(now, UTC),
                    "ingested_at": datetime.fromtimestamp(now, UTC),
                    "diff": None,
                }
            )
            record = ItemRecord(
                prev.article_id,
                source,
                prev.position,
                prev.content_hash,
                version,
                prev.first_seen,
                now,
                _stored(withdrawn),
            )
            out.append(Version(withdrawn, f"{prev.article_id}@v{version}:withdrawn", record))
        return out

    def commit(self, versions: Iterable[Version], unacked: set[str]) -> None:
        """Remember the versions the broker acknowledged (a duplicate counts: it was
        produced before a restart)."""
        self.state.save_items(v.record for v in versions if v.seen_id not in unacked)
