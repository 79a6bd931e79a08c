"""Runs the bodies built by `services.query` against the alias and shapes the answers (API and
CLI): the only place the read side sends a search to Elasticsearch."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from services.query.answers import shape_aggs, summary
from services.query.bodies import (
    build_facets,
    build_report,
    build_search,
    build_similar,
    build_story_versions,
    build_version_counts,
    next_cursor,
)
from services.query.params import SearchParams
from services.query.stories import story_families

# An index that has just been created answers "no shard available" until its shards start,
# usually well under a second: wait that out rather than fail the search.
SHARD_START_PAUSES_S = (0.2, 0.5, 1.0, 2.0)


class ReportNotFound(LookupError):
    pass


def shards_starting(exc: ApiError) -> bool:
    """503 "all shards failed" is what an index with unstarted shards answers."""
    text = str(exc.info).lower()
    return exc.meta.status == 503 and ("no_shard_available" in text or "all shards failed" in text)


def _now() -> datetime:
    return datetime.now(UTC)


class SearchService:
    def __init__(self, es: Elasticsearch, alias: str, clock: Callable[[], datetime] = _now) -> None:
        self.es = es
        self.alias = alias
        self.clock = clock

    def run(self, body: dict[str, Any]) -> dict[str, Any]:
        """Any body built by services.query.bodies, against the alias."""
        return self._search(body)

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        for pause_s in SHARD_START_PAUSES_S:
            try:
                response = self.es.search(index=self.alias, body=body, ignore_unavailable=True)
                return dict(response.body)
            except ApiError as exc:
                if not shards_starting(exc):
                    raise
            time.sleep(pause_s)
        response = self.es.search(index=self.alias, body=body, ignore_unavailable=True)
        return dict(response.body)

    def search(self, params: SearchParams) -> dict[str, Any]:
        now = self.clock()
        body = build_search(params, now)
        raw = self._search(body)
        hits = raw["hits"]["hits"]
        total = raw["hits"]["total"]
        result: dict[str, Any] = {
            "total": total["value"],
            "total_relation": total["relation"],
            "took_ms": raw.get("took"),
            "timed_out": raw.get("timed_out", False),
            "hits": [summary(h) for h in hits],
            "next_cursor": next_cursor(params, hits, int(body.get("from", 0))),
        }
        if params.collapse and result["hits"]:
            stories = [h["story_root"] for h in result["hits"] if h.get("story_root")]
            counts = self._search(build_version_counts(params, now, stories))
            per_story = {
                b["key"]: b["doc_count"] for b in counts["aggregations"]["versions"]["buckets"]
            }
            for hit in result["hits"]:
                hit["versions"] = per_story.get(hit["story_root"], 1)
        if "aggregations" in raw:
            result.update(shape_aggs(raw["aggregations"]))
        return result

    def facets(self, params: SearchParams) -> dict[str, Any]:
        raw = self._search(build_facets(params, self.clock()))
        return {
            "total": raw["hits"]["total"]["value"],
            "took_ms": raw.get("took"),
            **shape_aggs(raw["aggregations"]),
        }

    def _get(self, report_id: str) -> dict[str, Any]:
        raw = self._search(build_report(report_id))
        hits = raw["hits"]["hits"]
        if not hits:
            raise ReportNotFound(f"no report with id {report_id!r}")
        return dict(hits[0])

    def report(self, report_id: str) -> dict[str, Any]:
        """The report and every version of its story (all sources, oldest first)."""
        hit = self._get(report_id)
        source = hit["_source"]
        story_id, members = self.story_family(source["story_id"])
        versions = self._search(build_story_versions(members))["hits"]
        return {
            "report": source,
            "index": hit["_index"],
            "story_id": story_id,
            "versions_total": versions["total"]["value"],
            "versions": [summary(h) for h in versions["hits"]],
        }

    def story_family(self, story_id: str) -> tuple[str, list[str]]:
        """The story `story_id` lives on as after merges, and every story merged into it."""
        families = story_families(self._search, [story_id])
        return families.root(story_id), families.members(story_id)

    def similar(self, report_id: str, size: int = 10) -> dict[str, Any]:
        hit = self._get(report_id)
        body = build_similar(hit["_index"], report_id, hit["_source"]["story_id"], size)
        raw = self._search(body)
        return {"report_id": report_id, "hits": [summary(h) for h in raw["hits"]["hits"]]}

    def ready(self) -> tuple[bool, str]:
        try:
            health = self.es.cluster.health(timeout="1s")
        except Exception as exc:
            return False, f"elasticsearch unreachable: {type(exc).__name__}"
        if health["status"] == "red":
            return False, "elasticsearch cluster is red"
        if not self.es.indices.exists_alias(name=self.alias):
            return False, f"alias {self.alias} does not exist yet (no report indexed)"
        return True, "ok"
