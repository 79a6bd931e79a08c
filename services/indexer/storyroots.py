"""Keep `story_root` right after story merges (issue 20), without scripts.

A report is indexed with `story_root` = its `story_id`. When the story stage merges story B into
A, the report that caused it says so (`merged_stories`), and the reports of B already indexed,
or indexed later by another indexer from another partition, must live on as A: search collapses
on `story_root` and alerts count one per story by it. After every bulk (refreshed), the indexer
looks up the merges around the stories it just wrote (services/query/stories.py) and rewrites
the reports whose root is stale: the same source with the new root, written back at the
document's own version with `external_gte`, so the item version (statement history) is kept
and a newer version written meanwhile wins (409, left alone).

Why no report is left behind when the merge and a report of B are written by two indexers at
once: each writes, refreshes, then reads the other's kind of document. If the one that wrote
B's report looked up merges before the merge report was visible, its refresh came before the
merge writer's search for stale roots, which therefore sees B's report. The rewrite is checked
by the next round's search (a bounded number of rounds), so two concurrent rewrites to
different roots of one chain settle on the last root.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from elasticsearch import Elasticsearch

from services.query.stories import StoryFamilies, build_stale_roots, story_families

log = logging.getLogger(__name__)

PAGE = 200  # documents rewritten per bulk (their whole sources are in memory)
MAX_DOCS = 5000  # per call: a story is a few hundred reports; beyond that, the next batch
ROUNDS = 3  # search-rewrite-refresh rounds before giving up until the next batch


def _body(answer: Any) -> dict[str, Any]:
    """The JSON of a client answer (the client wraps it; test doubles may not)."""
    return dict(getattr(answer, "body", answer))


def _stale_page(
    es: Elasticsearch, index: str, roots: dict[str, list[str]], after: list[Any] | None
) -> list[dict[str, Any]]:
    body = build_stale_roots(roots, PAGE)
    if after is not None:
        body["search_after"] = after
    answer = _body(es.search(index=index, body=body, ignore_unavailable=True))
    return list(answer["hits"]["hits"])


def _rewrite(es: Elasticsearch, hits: list[dict[str, Any]], families: StoryFamilies) -> int:
    """Write the hits back with their root, at their own version; 409 (a newer version came
    meanwhile, written with its own root) is not an error."""
    lines: list[str] = []
    for hit in hits:
        source = dict(hit["_source"])
        source["story_root"] = families.root(str(source.get("story_id") or ""))
        meta = {
            "_index": hit["_index"],
            "_id": hit["_id"],
            "version": int(hit["_version"]),
            "version_type": "external_gte",
        }
        lines.append(json.dumps({"index": meta}))
        lines.append(json.dumps(source, ensure_ascii=False))
    ndjson: Any = "\n".join(lines) + "\n"  # the client sends a prebuilt body as it is
    answer = _body(es.bulk(operations=ndjson, filter_path="items.*.status,items.*.error"))
    failed = [
        item
        for entry in answer.get("items", [])
        for item in entry.values()
        if item.get("status", 500) >= 300 and item.get("status") != 409
    ]
    if failed:
        raise RuntimeError(f"story roots not rewritten: {failed[:3]}")
    return len(hits)


def follow_merges(es: Elasticsearch, index: str, story_ids: Iterable[str]) -> int:
    """Bring `story_root` of every report of these stories' families up to date in `index` (the
    alias, or the indices a migration fills); returns how many reports were rewritten."""
    stories = sorted({s for s in story_ids if s})
    if not stories:
        return 0

    def search(body: dict[str, Any]) -> dict[str, Any]:
        return _body(es.search(index=index, body=body, ignore_unavailable=True))

    written = 0
    for _ in range(ROUNDS):
        families = story_families(search, stories)
        if not families.absorbed_by:
            return written  # the common case: no merge around these stories, one search
        roots = families.roots(stories)
        touched: set[str] = set()
        after: list[Any] | None = None
        rewritten = 0
        while rewritten < MAX_DOCS:
            hits = _stale_page(es, index, roots, after)
            if not hits:
                break
            rewritten += _rewrite(es, hits, families)
            touched |= {h["_index"] for h in hits}
            if len(hits) < PAGE:
                break
            after = hits[-1]["sort"]
        if not rewritten:
            return written
        written += rewritten
        es.indices.refresh(index=",".join(sorted(touched)))
        if rewritten >= MAX_DOCS:
            log.warning("story roots: rewrite capped", extra={"docs": rewritten})
            return written
    return written
