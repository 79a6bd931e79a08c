"""Index layout: one composable template per mapping version, monthly indices behind one alias.

Indices are `<alias>-v<MAPPING_VERSION>-YYYY.MM` (by published date, else ingest date), so an
old month is dropped by deleting one index. The mapping uses only what every Elasticsearch
distribution ships (the integ-test-zip build has no analysis-common, mapper-extras, painless):
the `standard` analyzer, keyword, date, geo_point, nested. Cross-script matching is done by
`folded_text`, which the extractor transliterates and case-folds in Python.

Changing `mappings()` means bumping MAPPING_VERSION and running `cwatch indexer migrate`.

Version 2 indexes less per document, since Elasticsearch shares two cores with the indexer:
no offsets in `body` (the highlighter re-analyses the few hits it shows), no `headline.raw`
(nothing searched, sorted or aggregated it), and no doc values on fields that are only
filtered or returned, never sorted, aggregated or collapsed on (`_stored()`).

Version 3 adds `primary_event`, the event a report is about, so that the overview counts each
report once (issue 18); a v2 document gets it from its most confident label when migrated.

Version 4 makes statement history searchable (issue 17): the item's `version`, `edited_at`,
`withdrawn_at`, the `diff` against the previous version (text), and `change`, the latest
change (`edited` or `withdrawn`, absent for a first version) that the `change` filter uses.
A new version of a report has the same id and replaces the earlier one in place (its diff
keeps what changed); the indexer writes with the item version as external version, so a
late copy of an older version never overwrites a newer one.

Version 5 adds `merged_stories`, the stories a report merged into its own (issue 20), so the
story view can follow a merged story to the one it lives on as.

Version 6 adds `pushed_by`, the id of the API token that pushed a report's article (issue 15),
so pushes can be found by who sent them (the `pushed_by` filter of search and subscriptions); absent for
everything the ingestor fetched itself, and on documents migrated from older versions.

Version 7 adds `story_root`, the story a report lives on as after merges (issue 20): search
collapses, counts versions and stories on it, alerts count one per story by it. The indexer
writes it as the report's story and rewrites it when a merge makes it stale
(services/indexer/storyroots.py); a migration fills it the same way.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

MAPPING_VERSION = 7

_INDEX_RE = re.compile(r"^(?P<alias>.+)-v(?P<version>\d+)-(?P<year>\d{4})\.(?P<month>\d{2})$")

# A report with more figures than this is garbage; ES rejects it and it goes to the DLQ.
MAX_FIGURES_PER_REPORT = 500
MERGE_FLOOR_SEGMENT = "16mb"


def template_name(alias: str, version: int = MAPPING_VERSION) -> str:
    return f"{alias}-v{version}"


def index_pattern(alias: str, version: int = MAPPING_VERSION) -> str:
    return f"{alias}-v{version}-*"


def index_name(alias: str, when: datetime, version: int = MAPPING_VERSION) -> str:
    return f"{alias}-v{version}-{when.year:04d}.{when.month:02d}"


def parse_index_name(name: str) -> tuple[str, int, str] | None:
    """(alias, version, 'YYYY.MM') of a report index name, None for any other name."""
    m = _INDEX_RE.match(name)
    if not m:
        return None
    return m["alias"], int(m["version"]), f"{m['year']}.{m['month']}"


def _keyword(**extra: Any) -> dict[str, Any]:
    return {"type": "keyword", **extra}


def _stored(spec: dict[str, Any]) -> dict[str, Any]:
    """A field that is filtered on or only returned, never sorted, aggregated or collapsed on:
    its doc values would be written for every document and never read."""
    return {**spec, "doc_values": False}


def _text(**extra: Any) -> dict[str, Any]:
    return {"type": "text", "analyzer": "standard", **extra}


def mappings() -> dict[str, Any]:
    """Explicit mapping. `dynamic: false` keeps unknown (newer) fields in _source unindexed,
    so a schema addition never breaks indexing and is picked up by the next mapping version."""
    return {
        "dynamic": False,
        "_meta": {"mapping_version": MAPPING_VERSION},
        "properties": {
            "schema_version": {"type": "integer"},
            "mapping_version": {"type": "integer"},
            # Ids have no ignore_above: an absurd id is rejected (dead-lettered), not half-indexed.
            "report_id": _keyword(),
            "article_id": _stored(_keyword()),
            "story_id": _keyword(),
            "story_root": _keyword(),  # collapsed and aggregated on
            "merged_stories": _stored(_keyword()),
            "content_hash": _stored(_keyword()),
            "duplicate_of": _stored(_keyword()),
            "near_duplicate_of": _stored(_keyword()),
            "item_index": {"type": "integer"},
            "url": _stored(_keyword(ignore_above=4096)),
            "canonical_url": _stored(_keyword(ignore_above=4096)),
            "source": {
                "properties": {
                    "name": _keyword(ignore_above=300),
                    "kind": _stored(_keyword()),
                    "url": _stored(_keyword(ignore_above=4096)),
                    "country": _keyword(),
                    "language": _keyword(),
                    "affiliation": _keyword(),
                }
            },
            # Offsets in the postings only for the short headline; the body's highlights come
            # from re-analysing the page of hits shown, cheaper than offsets in every document.
            "headline": _text(index_options="offsets"),
            "byline": _text(),
            "body": _text(),
            "folded_text": _text(),
            "language": _keyword(),
            "language_confidence": {"type": "float"},
            "paragraph_languages": {"type": "object", "enabled": False},
            # `date` is what searches sort and bucket by; the others are filtered or returned.
            "published": _stored({"type": "date"}),
            "ingested_at": _stored({"type": "date"}),
            "extracted_at": _stored({"type": "date"}),
            "indexed_at": _stored({"type": "date"}),
            "date": {"type": "date"},
            "entities": {
                "properties": {
                    # facets use the flattened entity_ids / *_ids below
                    "id": _stored(_keyword()),
                    "name": _stored(_keyword(ignore_above=512)),
                    "type": _stored(_keyword()),
                    "country": _stored(_keyword()),
                    # spellings are searched through folded_text; kept in _source only
                    "surface_forms": {"type": "text", "index": False},
                }
            },
            "entity_ids": _keyword(),
            "person_ids": _keyword(),
            "organization_ids": _keyword(),
            "place_ids": _keyword(),
            "place_points": {"type": "geo_point"},
            "events": {
                "properties": {
                    "type": _stored(_keyword()),  # facets use event_types
                    "confidence": {"type": "float"},
                    "evidence": {"type": "text", "index": False},  # a sentence of the body
                }
            },
            "event_types": _keyword(),
            "primary_event": _keyword(),
            "figures": {
                "type": "nested",
                "properties": {
                    "kind": _keyword(),
                    "value": {"type": "long"},
                    "text": _keyword(ignore_above=256),
                    "approximate": {"type": "boolean"},
                    "subject": _text(),
                    "claimant": _text(fields={"raw": _keyword(ignore_above=256)}),
                    "evidence": {"type": "text", "index": False},
                },
            },
            "figure_kinds": _keyword(),
            "relevance": {"type": "float"},
            "relevant": {"type": "boolean"},
            "html_truncated": {"type": "boolean"},
            # statement history: a withdrawn report stays searchable and is marked
            "version": {"type": "integer"},
            "edited_at": _stored({"type": "date"}),
            "withdrawn_at": _stored({"type": "date"}),
            "diff": _text(),
            "change": _keyword(),
            "pushed_by": _stored(_keyword()),  # filtered on, never aggregated
        },
    }


def index_settings(
    refresh_interval: str = "1s", shards: int = 1, replicas: int = 0
) -> dict[str, Any]:
    # refresh_interval is explicit: without it an index that sees no searches for 30 s goes
    # "search idle" and stops refreshing, so the first search after a pause would block.
    return {
        "number_of_shards": shards,
        "number_of_replicas": replicas,
        "refresh_interval": refresh_interval,
        "mapping": {"nested_objects": {"limit": MAX_FIGURES_PER_REPORT}},
        # A backlog leaves one ~4 MB segment per bulk and month; with the default 2 MB floor the
        # merge policy lets a month sit at two dozen of them, and every search pays per segment.
        # Counted as 16 MB, they are merged into fewer, larger ones.
        "merge": {"policy": {"floor_segment": MERGE_FLOOR_SEGMENT}},
    }


def index_template(
    alias: str,
    version: int = MAPPING_VERSION,
    refresh_interval: str = "1s",
    shards: int = 1,
    replicas: int = 0,
    with_alias: bool = True,
) -> dict[str, Any]:
    """Body of `PUT _index_template/<template_name>`: any index the indexer auto-creates for a new
    month gets the mapping and joins the search alias."""
    template: dict[str, Any] = {
        "settings": {"index": index_settings(refresh_interval, shards, replicas)},
        "mappings": mappings(),
    }
    if with_alias:
        template["aliases"] = {alias: {}}
    return {
        "index_patterns": [index_pattern(alias, version)],
        "priority": 200,
        "template": template,
        "_meta": {"mapping_version": version, "managed_by": "cwatch indexer"},
    }
