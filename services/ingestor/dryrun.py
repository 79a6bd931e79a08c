"""`cwatch sources test`: one fetch of a source through the real adapters, with a sink that
keeps what would be produced instead of sending it, and a throw-away state."""

from __future__ import annotations

import json
from typing import Any

from schemas.common import SourceInfo, SourceKind
from services.ingestor.adapters.base import Failure
from services.ingestor.app import Ingestor
from services.ingestor.producer import Prepared, RawSink
from services.ingestor.settings import IngestorSettings
from services.ingestor.state import IngestState


class DrySink(RawSink):
    """Never connects to Kafka: articles and failures are kept in memory."""

    def __init__(self, settings: IngestorSettings, state: IngestState) -> None:
        super().__init__(settings, state, producer_factory=self._no_producer)
        self.articles: list[dict[str, Any]] = []
        self.failures: list[dict[str, str]] = []

    @staticmethod
    def _no_producer() -> Any:
        raise RuntimeError("a dry run never produces")

    def submit_prepared(
        self,
        prepared: Prepared,
        kind: str = "",
        aliases: tuple[str, ...] = (),
        checked: bool = False,
        seen_id: str | None = None,
    ) -> bool:
        seen = seen_id or prepared.article_id
        if self.state.is_seen(seen):
            return False
        self.state.mark_seen([seen, *aliases])
        article = json.loads(prepared.value)
        article.pop("html", None)  # the listing shows what was read, not the whole page
        self.articles.append(article)
        self.produced += 1
        return True

    def dead_letter(self, failure: Failure) -> None:
        self.failures.append(
            {"source": failure.source, "reason": failure.reason, "error_type": failure.error_type}
        )

    def flush(self, timeout_s: float | None = None) -> set[str]:
        return set()

    def close(self, timeout_s: float = 10.0) -> None:
        return None


def dry_run(settings: IngestorSettings, url: str, kind: str = "auto") -> dict[str, Any]:
    state = IngestState(":memory:")
    sink = DrySink(settings, state)
    # one look: no linked pages, one Telegram page, a few sitemap pages
    once = settings.model_copy(
        update={"fetch_linked_pages": False, "telegram_backfill_pages": 1, "sitemap_max_urls": 10}
    )
    worker = Ingestor(once, state, sink=sink)
    try:
        if kind == "telegram":
            worker.poll_telegram(url, SourceInfo(name=url, kind=SourceKind.TELEGRAM, url=url))
        else:
            worker.ingest_url(url, kind=kind)
    finally:
        worker.http.close()
        state.close()
    return {"articles": sink.articles, "failures": sink.failures}
