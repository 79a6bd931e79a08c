"""Which subscriptions match which newly indexed reports, with exactly the search semantics.

No percolator: for a batch of just-indexed report ids, every active subscription's search body,
built by `services.search.query.build_search` (the one source of search semantics) with an
`ids` filter added, goes into multi-search requests of `chunk` searches each. Subscriptions
with the same query and filters share one search, so thousands of similar ones stay cheap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from services.alerts import metrics
from services.search.query import QueryError, SearchParams, build_search

log = logging.getLogger(__name__)

MATCH_SOURCE = ["report_id", "story_id", "headline", "url", "ingested_at", "source.name"]
MAX_IDS_PER_SEARCH = 1000  # below index.max_result_window, so every match comes back


class Searchable(Protocol):
    """A saved search: a subscription, or a live-feed client's filters."""

    @property
    def id(self) -> str: ...

    @property
    def active(self) -> bool: ...

    def search_params(self) -> SearchParams: ...


@dataclass(frozen=True)
class Match:
    subscription_id: str
    report_id: str
    story_id: str
    headline: str = ""
    url: str | None = None
    ingested_at: str | None = None


def search_body(sub: Searchable, report_ids: Sequence[str], now: datetime) -> dict[str, Any]:
    """The search API's body for this subscription's query and filters, restricted to
    `report_ids`. Raises QueryError for a query the search API would refuse too."""
    params = sub.search_params()
    params.sort = "time"
    params.highlight = False
    params.size = 1
    body = build_search(params, now)
    body["query"]["bool"]["filter"].append({"ids": {"values": list(report_ids)}})
    body["size"] = len(report_ids)
    body["_source"] = MATCH_SOURCE
    body["track_total_hits"] = False
    return body


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


MSearch = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
"""Takes msearch lines (header, body, header, body, ...), returns the `responses`."""


def es_msearch(es: Any, max_concurrent: int = 4) -> MSearch:
    def run(searches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = es.msearch(searches=searches, max_concurrent_searches=max_concurrent)
        return list(response["responses"])

    return run


def match(
    msearch: MSearch,
    alias: str,
    report_ids: Sequence[str],
    subscriptions: Sequence[Searchable],
    now: datetime,
    chunk: int = 200,
) -> list[Match]:
    """Every (subscription, report) pair where the search API would return the report for the
    subscription's query and filters. Inactive subscriptions never match."""
    ids = list(dict.fromkeys(report_ids))
    active = [s for s in subscriptions if s.active]
    if not ids or not active:
        return []
    # One search per distinct (body, id chunk); subscriptions sharing a body share its hits.
    bodies: dict[str, dict[str, Any]] = {}
    owners: dict[str, list[str]] = {}
    for id_chunk in _chunks(ids, MAX_IDS_PER_SEARCH):
        for sub in active:
            try:
                body = search_body(sub, id_chunk, now)
            except QueryError as exc:
                metrics.SUBSCRIPTION_ERRORS.inc()
                log.warning("subscription query invalid", extra={"id": sub.id, "error": str(exc)})
                continue
            key = json.dumps(body, sort_keys=True, default=str)
            bodies.setdefault(key, body)
            owners.setdefault(key, []).append(sub.id)
    keys = list(bodies)
    matches: list[Match] = []
    for key_chunk in _chunks(keys, chunk):
        lines: list[dict[str, Any]] = []
        for key in key_chunk:
            lines.append({"index": alias, "ignore_unavailable": True})
            lines.append(bodies[key])
        for key, response in zip(key_chunk, msearch(lines), strict=True):
            if "error" in response:
                metrics.SUBSCRIPTION_ERRORS.inc(len(owners[key]))
                log.warning(
                    "subscription search failed",
                    extra={"ids": owners[key][:10], "error": str(response["error"])[:500]},
                )
                continue
            for hit in response["hits"]["hits"]:
                src = hit.get("_source", {})
                for sub_id in owners[key]:
                    matches.append(
                        Match(
                            subscription_id=sub_id,
                            report_id=src.get("report_id", hit["_id"]),
                            story_id=src.get("story_id") or hit["_id"],
                            headline=src.get("headline", ""),
                            url=src.get("url"),
                            ingested_at=src.get("ingested_at"),
                        )
                    )
    metrics.MATCHES.inc(len(matches))
    return matches
