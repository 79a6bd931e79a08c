"""Elasticsearch answers shaped for people: one line per hit, facets and histogram. Pure."""

from __future__ import annotations

from typing import Any

from services.query.bodies import FACET_FIELDS

SNIPPET_CHARS = 300


def summary(hit: dict[str, Any]) -> dict[str, Any]:
    """One result line: what a person scans, not the whole report."""
    src = hit.get("_source", {})
    body = src.get("body") or ""
    result: dict[str, Any] = {
        "report_id": src.get("report_id", hit.get("_id")),
        "story_id": src.get("story_id"),
        # the story it lives on as after merges (issue 20); documents of mapping v5 have none
        "story_root": src.get("story_root") or src.get("story_id"),
        "headline": src.get("headline", ""),
        "url": src.get("url"),
        "source": src.get("source", {}),
        "language": src.get("language"),
        "published": src.get("published"),
        "date": src.get("date"),
        "ingested_at": src.get("ingested_at"),
        "relevant": src.get("relevant"),
        "relevance": src.get("relevance"),
        "event_types": src.get("event_types", []),
        "primary_event": src.get("primary_event"),
        "primary_evidence": src.get("primary_evidence"),
        "entity_ids": src.get("entity_ids", []),
        "figure_kinds": src.get("figure_kinds", []),
        # statement history: the list marks an edited or withdrawn report (the diff is on its page)
        "version": src.get("version", 1),
        "change": src.get("change"),
        "edited_at": src.get("edited_at"),
        "withdrawn_at": src.get("withdrawn_at"),
        "snippet": body[:SNIPPET_CHARS] + ("…" if len(body) > SNIPPET_CHARS else ""),
        "score": hit.get("_score"),
        "index": hit.get("_index"),
    }
    if "highlight" in hit:
        result["highlights"] = hit["highlight"]
    inner = hit.get("inner_hits", {}).get("versions")
    if inner is not None:
        result["versions"] = inner["hits"]["total"]["value"]
        result["latest_versions"] = [
            {"report_id": h["_source"].get("report_id"), **h["_source"]}
            for h in inner["hits"]["hits"]
        ]
    return result


def shape_aggs(aggs: dict[str, Any]) -> dict[str, Any]:
    facets = {
        name: [{"value": b["key"], "count": b["doc_count"]} for b in aggs[name]["buckets"]]
        for name in FACET_FIELDS
        if name in aggs
    }
    histogram = [
        {"date": b["key_as_string"], "count": b["doc_count"]}
        for b in aggs.get("histogram", {}).get("buckets", [])
    ]
    return {
        "facets": facets,
        "histogram": histogram,
        "stories": aggs.get("stories", {}).get("value"),
    }
