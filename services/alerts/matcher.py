"""Which subscriptions match which newly indexed reports, with exactly the search semantics.

No percolator. For a batch of just-indexed report ids, each active subscription's query is the
one `services.query.bodies.build_query` builds for the search API (the single source of search
semantics), without the clauses that only rank (`scoring=False`: scores never decide which
reports match). A subscription on its own would be searched as the search body plus an `ids`
filter for the batch (`search_body`). Thousands of separate searches cost seconds per batch on
a small node, so `match` packs them: each search in a multi-search request carries up to
`group` subscription queries as the named filters of a `filters` aggregation over the same
`ids` query, each bucket listing the report ids its query matches: exactly the reports that
subscription's own search would return (filters match as queries do). Identical queries are
searched once, and each subscription's query is built once per version (QueryCache). A search
that fails is retried one query at a time, so one broken subscription cannot hide the matches
of its neighbours; a request that Elasticsearch refuses as a whole (4xx) is split into one
request per search for the same reason. A subscription whose query cannot be built or searched is skipped for the round and
reported to `on_error` with the reason; only a failure of Elasticsearch itself (unreachable,
5xx, overloaded) fails the round.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from services.alerts import metrics
from services.query.bodies import build_query, build_search
from services.query.params import SearchParams
from services.query.syntax import QueryError

log = logging.getLogger(__name__)

MATCH_SOURCE = [
    "report_id",
    "story_id",
    "story_root",
    "headline",
    "url",
    "ingested_at",
    "source.name",
    "version",
    "change",
]
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
    version: int = 1  # statement history: a new version of a report is a new thing to alert
    change: str | None = None

    @property
    def seen_key(self) -> str:
        """What alerting remembers as seen: the report, and for a later version that version
        too, so a re-delivery is recognised and an edit or withdrawal is not."""
        return self.report_id if self.version <= 1 else f"{self.report_id}@v{self.version}"


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

OnError = Callable[[list[str], str], None]
"""(subscription ids, reason): subscriptions skipped this round."""


def _refused(exc: Exception) -> bool:
    """Elasticsearch refused this request for what it contains (not an outage or overload),
    so sending the same searches one by one can isolate the one at fault."""
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and 400 <= status < 500 and status != 429


def _search_all(
    msearch: MSearch, header: dict[str, Any], bodies: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One response per body, `{"error": ...}` for a body refused even on its own."""
    lines: list[dict[str, Any]] = []
    for body in bodies:
        lines.extend((header, body))
    try:
        return msearch(lines)
    except Exception as exc:
        if not _refused(exc):
            raise
        if len(bodies) == 1:
            return [{"error": f"{type(exc).__name__}: {str(exc)[:500]}"}]
    return [_search_all(msearch, header, [body])[0] for body in bodies]


def es_msearch(es: Any, max_concurrent: int = 4) -> MSearch:
    def run(searches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = es.msearch(searches=searches, max_concurrent_searches=max_concurrent)
        return list(response["responses"])

    return run


class QueryCache:
    """Built queries per subscription version (`updated`), so a round neither re-parses a
    thousand queries nor rebuilds their parameters; a query with a time filter (since / until)
    depends on the clock and is rebuilt every time. Queries are built without their ranking
    clauses (`build_query(scoring=False)`): the same matches, about half Elasticsearch's work."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[Any, dict[str, Any], str]] = {}

    def get(self, sub: Searchable, now: datetime) -> tuple[dict[str, Any], str]:
        stamp = getattr(sub, "updated", None)
        cached = self._cache.get(sub.id)
        if cached is not None and stamp is not None and cached[0] == stamp:
            return cached[1], cached[2]
        params = sub.search_params()
        query = build_query(params, now, scoring=False)
        key = json.dumps(query, sort_keys=True, default=str)
        if stamp is not None and not (params.since or params.until):
            self._cache[sub.id] = (stamp, query, key)
        return query, key


_DEFAULT_CACHE = QueryCache()


def group_body(
    queries: Sequence[tuple[str, dict[str, Any]]], report_ids: Sequence[str]
) -> dict[str, Any]:
    """One search answering many subscriptions over `report_ids` only: a `filters` aggregation
    with each subscription's query as one named filter, listing the report ids it matches."""
    return {
        "query": {"ids": {"values": list(report_ids)}},
        "size": 0,
        "track_total_hits": False,
        "aggs": {
            "subs": {
                "filters": {"filters": {name: q for name, q in queries}},
                "aggs": {"ids": {"terms": {"field": "report_id", "size": len(report_ids)}}},
            }
        },
    }


def docs_body(report_ids: Sequence[str]) -> dict[str, Any]:
    return {
        "query": {"ids": {"values": list(report_ids)}},
        "size": len(report_ids),
        "_source": MATCH_SOURCE,
        "track_total_hits": False,
    }


MAX_HEADLINE_CHARS = 1000
MAX_URL_CHARS = 4096


def _match_of(doc: dict[str, Any], sub_id: str) -> Match:
    """What an alert carries of a report, bounded: a report with a megabyte headline must not
    make an alert the alert topic refuses (which would fail its whole round, every time)."""
    src = doc.get("_source", {})
    url = src.get("url")
    version = src.get("version")
    change = src.get("change")
    return Match(
        subscription_id=sub_id,
        report_id=src.get("report_id", doc["_id"]),
        # the story it lives on as after merges (issue 20): one alert per story follows them
        story_id=src.get("story_root") or src.get("story_id") or doc["_id"],
        headline=str(src.get("headline") or "")[:MAX_HEADLINE_CHARS],
        url=url if isinstance(url, str) and len(url) <= MAX_URL_CHARS else None,
        ingested_at=src.get("ingested_at"),
        version=version if isinstance(version, int) and version >= 1 else 1,
        change=change if change in ("edited", "withdrawn") else None,
    )


def match(
    msearch: MSearch,
    alias: str,
    report_ids: Sequence[str],
    subscriptions: Sequence[Searchable],
    now: datetime,
    chunk: int = 200,
    group: int = 50,
    cache: QueryCache | None = None,
    on_error: OnError | None = None,
) -> list[Match]:
    """Every (subscription, report) pair where the search API would return the report for the
    subscription's query and filters. Inactive subscriptions never match. `group` queries
    share one search; `chunk` subscriptions' worth of searches go in one multi-search request."""
    cache = cache or _DEFAULT_CACHE
    ids = list(dict.fromkeys(report_ids))
    active = [s for s in subscriptions if s.active]
    if not ids or not active:
        return []
    queries: dict[str, dict[str, Any]] = {}
    owners: dict[str, list[str]] = {}

    def failed(sub_ids: list[str], reason: str) -> None:
        metrics.SUBSCRIPTION_ERRORS.inc(len(sub_ids))
        log.warning("subscription skipped", extra={"ids": sub_ids[:10], "error": reason[:500]})
        if on_error is not None:
            on_error(sub_ids, reason)

    for sub in active:
        try:
            query, key = cache.get(sub, now)
        except QueryError as exc:
            failed([sub.id], f"invalid query: {exc}")
            continue
        except Exception as exc:  # a query the builder chokes on is that subscription's alone
            failed([sub.id], f"query not built: {type(exc).__name__}: {exc}")
            continue
        queries.setdefault(key, query)
        owners.setdefault(key, []).append(sub.id)
    names = {key: f"q{i}" for i, key in enumerate(queries)}
    by_name = {name: key for key, name in names.items()}
    header = {"index": alias, "ignore_unavailable": True}
    searches: list[dict[str, Any]] = []
    for id_chunk in _chunks(ids, MAX_IDS_PER_SEARCH):
        searches.append(docs_body(id_chunk))
        for key_group in _chunks(list(queries), group):
            searches.append(group_body([(names[k], queries[k]) for k in key_group], id_chunk))
    per_request = max(2, chunk // group + 1)
    docs: dict[str, dict[str, Any]] = {}
    hits_by_name: dict[str, list[str]] = {}
    retry: list[dict[str, Any]] = []
    for body_chunk in _chunks(searches, per_request):
        for body, response in zip(
            body_chunk, _search_all(msearch, header, body_chunk), strict=True
        ):
            if "error" in response:
                if "aggs" in body:
                    retry.append(body)
                    continue
                raise MatchError(f"report lookup failed: {str(response['error'])[:500]}")
            if "aggs" not in body:
                docs.update({h["_id"]: h for h in response["hits"]["hits"]})
                continue
            _collect(response, hits_by_name)
    for body in retry:  # one query per search, to find the broken one
        batch = body["query"]["ids"]["values"]
        singles = [
            group_body([(name, q)], batch)
            for name, q in body["aggs"]["subs"]["filters"]["filters"].items()
        ]
        for single, response in zip(singles, _search_all(msearch, header, singles), strict=True):
            if "error" in response:
                (name,) = single["aggs"]["subs"]["filters"]["filters"]
                failed(owners[by_name[name]], f"search failed: {str(response['error'])[:1000]}")
                continue
            _collect(response, hits_by_name)
    matches: list[Match] = []
    for name, report_ids_matched in hits_by_name.items():
        for report_id in report_ids_matched:
            doc = docs.get(report_id)
            if doc is None:
                continue  # not searchable (any more): the search API would not return it either
            for sub_id in owners.get(by_name.get(name, ""), []):
                matches.append(_match_of(doc, sub_id))
    metrics.MATCHES.inc(len(matches))
    return matches


class MatchError(RuntimeError):
    """The batch could not be matched at all (Elasticsearch refused the report lookup)."""


def _collect(response: dict[str, Any], into: dict[str, list[str]]) -> None:
    buckets = response.get("aggregations", {}).get("subs", {}).get("buckets", {})
    for name, bucket in buckets.items():
        if bucket["doc_count"]:
            into.setdefault(name, []).extend(b["key"] for b in bucket["ids"]["buckets"])
