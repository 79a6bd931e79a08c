"""An export of every report a search matches, streamed: pages over a point in time with
search_after, each page encoded (services.query.exports) and handed on before the next one is
read, so a million reports cost the memory of one page. Used by `GET /v1/export` and
`cwatch export`.

What one export may cost is bounded: at most `max_rows` reports, and no page is started after
`time_budget_s`. Either stop is recorded in `stopped` (and in the GeoJSON summary); the API
aborts a response the time budget cut, the CLI says so and exits non-zero.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from services.query.bodies import EXPORT_PIT_KEEP_ALIVE, build_export_page, build_query
from services.query.exports import Encoder, encoder, export_format
from services.query.params import SearchParams

PAGE_TIMEOUT_S = 30.0  # one page of up to 1,000 reports; longer than an interactive search
log = logging.getLogger(__name__)


class ExportIncomplete(RuntimeError):
    """A page came back without all of its hits (a shard failed or timed out): the export
    stops rather than leave reports out without saying so."""


@dataclass(frozen=True)
class ExportLimits:
    max_rows: int
    time_budget_s: float  # 0: none

    def describe(self) -> str:
        budget = f"{self.time_budget_s:g} s" if self.time_budget_s else "no time limit"
        return f"at most {self.max_rows:,} reports, {budget}"


class Export:
    """`open()` checks the query, opens the point in time and reads the first page (so a bad
    query or an unreachable cluster fails before a byte is sent); `chunks()` yields the text;
    the point in time is closed when the chunks end, fail or are abandoned."""

    def __init__(
        self,
        es: Elasticsearch,
        alias: str,
        params: SearchParams,
        format_name: str,
        limits: ExportLimits,
        on_page: Callable[[Export], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.es = es.options(request_timeout=PAGE_TIMEOUT_S)
        self.alias = alias
        self.params = params
        self.format = export_format(format_name)
        self.limits = limits
        self.on_page = on_page
        self.clock = clock
        self.encoder: Encoder = encoder(self.format.name)
        self.now = datetime.now(UTC)
        self.total = 0
        self.read = 0
        self.stopped: str | None = None  # "max_rows" or "time_budget"
        self._pit: str | None = None
        self._first: list[dict[str, Any]] = []
        self._started = 0.0
        self._asked = 0

    @property
    def expected(self) -> int:
        """Reports this export will read unless its time budget runs out."""
        return min(self.total, self.limits.max_rows)

    def open(self) -> Export:
        build_query(self.params, self.now)  # QueryError before anything is opened
        self._started = self.clock()
        opened = self.es.open_point_in_time(
            index=self.alias, keep_alive=EXPORT_PIT_KEEP_ALIVE, ignore_unavailable=True
        )
        self._pit = opened["id"]
        try:
            raw = self._page(None)
        except BaseException:
            self.close()
            raise
        self.total = int(raw["hits"]["total"]["value"])
        self._first = raw["hits"]["hits"]
        return self

    def _page(self, after: list[Any] | None) -> dict[str, Any]:
        assert self._pit is not None
        size = max(1, min(self.format.page_size, self.limits.max_rows - self.read))
        self._asked = size
        body = build_export_page(self.params, self.now, self._pit, size, self.format.source, after)
        raw = dict(self.es.search(body=body, allow_partial_search_results=False).body)
        self._pit = raw.get("pit_id", self._pit)
        shards = raw.get("_shards") or {}
        if raw.get("timed_out") or shards.get("failed"):
            reasons = [str(f.get("reason"))[:200] for f in shards.get("failures") or []][:3]
            raise ExportIncomplete(
                f"Elasticsearch answered a page only in part ({shards.get('failed', 0)} shards "
                f"failed{', timed out' if raw.get('timed_out') else ''}): {reasons or 'no reason'}"
            )
        return raw

    def _out_of_time(self) -> bool:
        budget = self.limits.time_budget_s
        return bool(budget) and self.clock() - self._started >= budget

    def chunks(self) -> Iterator[str]:
        try:
            yield self.encoder.head()
            hits, self._first = self._first, []
            while hits:
                self.read += len(hits)
                yield self.encoder.page(h.get("_source") or {} for h in hits)
                if self.on_page:
                    self.on_page(self)
                if len(hits) < self._asked or self.read >= self.total:
                    break
                if self.read >= self.limits.max_rows:
                    self.stopped = "max_rows"
                    break
                if self._out_of_time():
                    self.stopped = "time_budget"
                    break
                hits = self._page(hits[-1]["sort"])["hits"]["hits"]
            yield self.encoder.tail(self.summary())
        finally:
            self.close()

    def summary(self) -> dict[str, Any]:
        return {
            "matched": self.total,
            "reports": self.read,
            "rows": self.encoder.rows,
            "skipped": self.encoder.skipped,
            "complete": self.stopped is None,
            "stopped": self.stopped,
            "limits": {
                "max_rows": self.limits.max_rows,
                "time_budget_s": self.limits.time_budget_s,
            },
        }

    def close(self) -> None:
        if self._pit is None:
            return
        pit, self._pit = self._pit, None
        try:
            self.es.close_point_in_time(id=pit)
        except Exception as exc:  # it expires by itself after the keep-alive
            log.info("point in time not closed", extra={"error": str(exc)[:300]})
