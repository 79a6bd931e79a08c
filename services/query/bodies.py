"""Elasticsearch request bodies, pure: what a search, a subscription, the live feed and the UI
ask Elasticsearch. The one meaning of "matches" is `build_query`: every reader calls it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from schemas.common import Affiliation
from schemas.report import EventType, FigureKind
from services.query.params import SearchParams
from services.query.syntax import QueryError, parse_time, parse_user_query

MAX_SIZE = 100
MAX_COLLAPSED_DEPTH = 1000  # from + size when collapsing by story (search_after cannot be used)
MAX_FACET_SIZE = 100
SEARCH_TIMEOUT = "2s"
SQS_FLAGS = "AND|OR|NOT|PHRASE|PREFIX|WHITESPACE|PRECEDENCE|ESCAPE"

FACET_FIELDS: dict[str, str] = {
    "language": "language",
    "source": "source.name",
    "country": "source.country",
    "affiliation": "source.affiliation",
    "entity": "entity_ids",
    "event": "event_types",
    "figure": "figure_kinds",
}
CHANGES = ("edited", "withdrawn")
HISTOGRAM_INTERVALS = ("hour", "day", "week", "month", "year")
SORTS = ("relevance", "time")
LIST_SOURCE_EXCLUDES = [
    "folded_text",
    "paragraph_languages",
    "figures.evidence",
    "events.evidence",
    "diff",
]
STORY_SOURCE_EXCLUDES = ["folded_text", "body", "paragraph_languages", "diff"]

# ---- the query: text and filters ----------------------------------------------------------------

# below the index default of 1,000,000, so it applies on every cluster
HIGHLIGHT_MAX_ANALYZED_OFFSET = 999_999


def _enum_values(values: Sequence[str], allowed: Sequence[str], name: str) -> list[str]:
    result = []
    for value in values:
        v = value.strip().lower()
        if v not in allowed:
            raise QueryError(f"{name}={value!r} is unknown; use one of: {', '.join(allowed)}")
        result.append(v)
    return result


def filters(params: SearchParams, now: datetime) -> list[dict[str, Any]]:
    params.check_bounds()
    clauses: list[dict[str, Any]] = []

    def terms(field_name: str, values: Sequence[str]) -> None:
        cleaned = sorted({v.strip() for v in values if v and v.strip()})
        if cleaned:
            clauses.append({"terms": {field_name: cleaned}})

    terms("language", [v.lower() for v in params.languages])
    terms("source.name", params.sources)
    for country in params.countries:
        if len(country.strip()) != 2 or not country.strip().isalpha():
            raise QueryError(f"country={country!r}: use a two-letter ISO code like AM, AZ, RU")
    terms("source.country", [c.upper() for c in params.countries])
    terms(
        "source.affiliation",
        _enum_values(params.affiliations, [a.value for a in Affiliation], "affiliation"),
    )
    # Several entities narrow the search: the report must mention all of them.
    for entity in dict.fromkeys(e.strip() for e in params.entities if e.strip()):
        clauses.append({"term": {"entity_ids": entity}})
    terms("event_types", _enum_values(params.event_types, [e.value for e in EventType], "event"))
    terms(
        "figure_kinds", _enum_values(params.figure_kinds, [f.value for f in FigureKind], "figure")
    )
    # statement history: the latest change of the source item (indexer's `change_of`)
    terms("change", _enum_values(params.changes, CHANGES, "change"))
    terms("pushed_by", params.pushed_by)  # who pushed it (services/ingestor/push.py)
    if params.story_id:
        # a story's reports, and after a merge those of the stories it absorbed (story_root)
        clauses.append(
            {
                "bool": {
                    "should": [
                        {"term": {"story_id": params.story_id}},
                        {"term": {"story_root": params.story_id}},
                    ],
                    "minimum_should_match": 1,
                }
            }
        )
    if params.relevant is not None:
        clauses.append({"term": {"relevant": params.relevant}})
    since = parse_time(params.since, now, "since") if params.since else None
    until = parse_time(params.until, now, "until") if params.until else None
    if since and until and since > until:
        raise QueryError("since is after until: the time range is empty")
    if since or until:
        rng: dict[str, str] = {}
        if since:
            rng["gte"] = since.isoformat()
        if until:
            rng["lte"] = until.isoformat()
        clauses.append({"range": {"date": rng}})
    return clauses


def text_query(q: str, scoring: bool = True) -> dict[str, Any] | None:
    """The folded query decides which reports match; the typed one (`should`, optional beside
    a `must`) only ranks them. `scoring=False` leaves the ranking part out: the same matches,
    for readers that never look at scores."""
    parsed = parse_user_query(q)
    if parsed is None:
        return None
    folded, typed = parsed
    must = {
        "simple_query_string": {
            "query": folded,
            "fields": ["folded_text"],
            "default_operator": "and",
            "flags": SQS_FLAGS,
        }
    }
    if not scoring:
        return {"bool": {"must": [must]}}
    return {
        "bool": {
            "must": [must],
            "should": [
                {
                    "simple_query_string": {
                        "query": typed,
                        "fields": ["headline^3", "body"],
                        "default_operator": "and",
                        "flags": SQS_FLAGS,
                        "lenient": True,
                    }
                }
            ],
        }
    }


def build_query(params: SearchParams, now: datetime, scoring: bool = True) -> dict[str, Any]:
    """Which reports match `params`. `scoring=False`: without the clauses that only rank them
    (matching alone: alerts, the live feed), about half of Elasticsearch's work per query."""
    must = text_query(params.q, scoring)
    return {
        "bool": {
            "must": [must] if must else [{"match_all": {}}],
            "filter": filters(params, now),
        }
    }


# ---- paging -----------------------------------------------------------------------------------


def encode_cursor(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, expected_mode: str) -> dict[str, Any]:
    bad = QueryError(
        "cursor is not valid for this search: pass next_cursor from the previous page unchanged, "
        "with the same sort and collapse settings"
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise bad from None
    if not isinstance(state, dict) or state.get("m") != expected_mode:
        raise bad
    return state


def _mode(params: SearchParams) -> str:
    return f"{params.sort}{'-collapse' if params.collapse else ''}"


_LONG = 2**63


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _valid_search_after(after: Any, sort: str) -> bool:
    """A cursor carries the sort values of a hit: [_score,] date (epoch ms), report_id. Other
    values were not made by next_cursor, and Elasticsearch would refuse them in its own words."""
    if not isinstance(after, list) or len(after) != len(sort_clause(sort)):
        return False
    *scores, date, report_id = after
    return (
        all(_is_number(score) for score in scores)
        and isinstance(date, int)
        and not isinstance(date, bool)
        and -_LONG <= date < _LONG
        and isinstance(report_id, str)
    )


def sort_clause(sort: str) -> list[dict[str, Any]]:
    by_time: list[dict[str, Any]] = [{"date": {"order": "desc"}}, {"report_id": {"order": "asc"}}]
    if sort == "time":
        return by_time
    return [{"_score": {"order": "desc"}}, *by_time]


def next_cursor(params: SearchParams, hits: Sequence[dict[str, Any]], offset: int) -> str | None:
    """Opaque cursor for the page after `hits`; None when this page was the last one."""
    if len(hits) < params.size:
        return None
    if params.collapse:
        nxt = offset + len(hits)
        if nxt + params.size > MAX_COLLAPSED_DEPTH:
            return None
        return encode_cursor({"m": _mode(params), "f": nxt})
    return encode_cursor({"m": _mode(params), "a": hits[-1]["sort"]})


# ---- request bodies ---------------------------------------------------------------------------


def aggregations(params: SearchParams, since_given: bool) -> dict[str, Any]:
    if params.interval not in HISTOGRAM_INTERVALS:
        raise QueryError(
            f"interval={params.interval!r} is unknown; use one of: {', '.join(HISTOGRAM_INTERVALS)}"
        )
    if not 1 <= params.facet_size <= MAX_FACET_SIZE:
        raise QueryError(f"facet_size must be between 1 and {MAX_FACET_SIZE}")
    aggs: dict[str, Any] = {
        name: {"terms": {"field": f, "size": params.facet_size}} for name, f in FACET_FIELDS.items()
    }
    aggs["stories"] = {"cardinality": {"field": "story_root"}}
    aggs["histogram"] = {
        "date_histogram": {
            "field": "date",
            "calendar_interval": params.interval,
            "min_doc_count": 0 if since_given else 1,
        }
    }
    return aggs


def build_search(params: SearchParams, now: datetime) -> dict[str, Any]:
    """The body of `POST <alias>/_search`, checked; raises QueryError."""
    if params.sort not in SORTS:
        raise QueryError(f"sort={params.sort!r} is unknown; use relevance or time")
    if not 1 <= params.size <= MAX_SIZE:
        raise QueryError(f"size must be between 1 and {MAX_SIZE} (page with the cursor)")
    body: dict[str, Any] = {
        "query": build_query(params, now),
        "size": params.size,
        "sort": sort_clause(params.sort),
        "timeout": SEARCH_TIMEOUT,
        "track_total_hits": 10_000,
        "_source": {"excludes": LIST_SOURCE_EXCLUDES},
    }
    if params.cursor:
        state = decode_cursor(params.cursor, _mode(params))
        if params.collapse:
            offset = state.get("f")
            if not isinstance(offset, int) or offset < 0:
                raise QueryError("cursor is not valid for this search")
            if offset + params.size > MAX_COLLAPSED_DEPTH:
                raise QueryError(
                    f"collapsed results can be paged {MAX_COLLAPSED_DEPTH} deep; narrow the query"
                )
            body["from"] = offset
        else:
            after = state.get("a")
            if not _valid_search_after(after, params.sort):
                raise QueryError("cursor is not valid for this search")
            body["search_after"] = after
    if params.collapse:
        # Version counts come from one terms aggregation afterwards (build_version_counts):
        # inner_hits would run one more search per hit, several times slower.
        # story_root, not story_id: a story merged into another collapses with it (issue 20)
        body["collapse"] = {"field": "story_root"}
    if params.highlight and params.q.strip():
        body["highlight"] = {
            # A long body (up to the extractor's budget) must not fail the whole search:
            # past the index's highlight.max_analyzed_offset (1,000,000 by default)
            # Elasticsearch refuses the request unless the request itself says to stop there.
            "max_analyzed_offset": HIGHLIGHT_MAX_ANALYZED_OFFSET,
            "pre_tags": ["<em>"],
            "post_tags": ["</em>"],
            "encoder": "html",
            "fields": {
                "headline": {"number_of_fragments": 0},
                "body": {"fragment_size": 180, "number_of_fragments": 2},
            },
        }
    if params.facets:
        body["aggs"] = aggregations(params, bool(params.since))
    return body


def build_version_counts(
    params: SearchParams, now: datetime, story_ids: Sequence[str]
) -> dict[str, Any]:
    """How many reports matching the same query each story on a collapsed page has."""
    return {
        "query": build_query(params, now),
        "size": 0,
        "timeout": SEARCH_TIMEOUT,
        "aggs": {
            "versions": {
                "terms": {
                    "field": "story_root",
                    "include": list(story_ids),
                    "size": len(story_ids),
                }
            }
        },
    }


def build_facets(params: SearchParams, now: datetime) -> dict[str, Any]:
    return {
        "query": build_query(params, now),
        "size": 0,
        "timeout": SEARCH_TIMEOUT,
        "track_total_hits": True,
        "aggs": aggregations(params, bool(params.since)),
    }


def build_report(report_id: str) -> dict[str, Any]:
    """One report by id, whatever monthly index holds it."""
    return {
        "query": {"ids": {"values": [report_id]}},
        "size": 1,
        "_source": {"excludes": ["folded_text"]},
    }


def build_story_versions(story_id: str | Sequence[str], size: int = 100) -> dict[str, Any]:
    """A story's versions, oldest first (the report page, the UI's story view); with several
    ids, those of a story and of the stories merged into it."""
    ids = [story_id] if isinstance(story_id, str) else list(story_id)
    return {
        "query": {"terms": {"story_id": ids}},
        "size": size,
        "sort": [{"date": {"order": "asc"}}, {"report_id": {"order": "asc"}}],
        "_source": {"excludes": STORY_SOURCE_EXCLUDES},
        "timeout": SEARCH_TIMEOUT,
    }


OVERVIEW_INTERVALS = ("hour", "day", "week", "month")
OVERVIEW_COUNTS = {"primary": "primary_event", "all": "event_types"}


def build_overview(
    params: SearchParams, now: datetime, interval: str, count: str
) -> dict[str, Any]:
    """The UI's overview of what a search matches: a timeline per event type (`count=primary`
    counts each report once, under the event it is about; `all` under every event type it has)
    and the places mentioned, each with one report to read its coordinates from."""
    if interval not in OVERVIEW_INTERVALS:
        raise QueryError(
            f"interval={interval!r} is unknown; use one of: {', '.join(OVERVIEW_INTERVALS)}"
        )
    if count not in OVERVIEW_COUNTS:
        raise QueryError(f"count={count!r} is unknown; use primary or all")
    return {
        "query": build_query(params, now),
        "size": 0,
        "aggs": {
            "events": {
                "terms": {"field": OVERVIEW_COUNTS[count], "size": 20},
                "aggs": {
                    "over_time": {
                        "date_histogram": {"field": "date", "calendar_interval": interval}
                    }
                },
            },
            "places": {
                "terms": {"field": "place_ids", "size": 100},
                "aggs": {"sample": {"top_hits": {"size": 1, "_source": ["entities"]}}},
            },
        },
    }


def build_similar(index: str, report_id: str, story_id: str, size: int = 10) -> dict[str, Any]:
    """More like this, on the folded text too so that similar reports in other scripts count;
    other versions of the same story are left out (the report page lists them already)."""
    if not 1 <= size <= MAX_SIZE:
        raise QueryError(f"size must be between 1 and {MAX_SIZE}")
    return {
        "query": {
            "bool": {
                "must": [
                    {
                        "more_like_this": {
                            "fields": ["headline", "body", "folded_text"],
                            "like": [{"_index": index, "_id": report_id}],
                            "min_term_freq": 1,
                            "min_doc_freq": 1,
                            "max_query_terms": 40,
                            "minimum_should_match": "10%",
                        }
                    }
                ],
                "must_not": [{"term": {"story_id": story_id}}],
            }
        },
        "size": size,
        "_source": {"excludes": LIST_SOURCE_EXCLUDES},
        "timeout": SEARCH_TIMEOUT,
    }


# ---- exports: every match, paged over a point in time ------------------------------------------

EXPORT_PIT_KEEP_ALIVE = "2m"  # between two pages; renewed by each
EXPORT_SORT: list[dict[str, Any]] = [{"date": {"order": "desc"}}, {"_shard_doc": {"order": "asc"}}]


def build_export_page(
    params: SearchParams,
    now: datetime,
    pit_id: str,
    size: int,
    source: dict[str, list[str]],
    after: list[Any] | None = None,
) -> dict[str, Any]:
    """One page of an export (newest first), over the point in time `pit_id`: a million
    matches are read page by page with search_after, none of them twice or skipped while new
    reports are indexed. The first page also counts every match."""
    # No `timeout`: a shard that runs out of it answers part of its hits, and an export would
    # silently miss them. The client's request timeout bounds a page instead.
    body: dict[str, Any] = {
        "query": build_query(params, now),
        "size": size,
        "sort": EXPORT_SORT,
        "pit": {"id": pit_id, "keep_alive": EXPORT_PIT_KEEP_ALIVE},
        "track_total_hits": after is None,
        "_source": source,
    }
    if after is not None:
        body["search_after"] = after
    return body
