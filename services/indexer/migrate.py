"""Create the index template, and move the data to a new mapping version.

A migration from version N to MAPPING_VERSION, for each monthly index of an older version:
create `<alias>-v<new>-<month>` with the new mapping (outside the alias), copy every report into
it (rebuilt from its stored report, so new derived fields are filled), copy again what was
written meanwhile, then switch the alias in one atomic `_aliases` call and install the new
template. The copy is done by the client (scroll + bulk), not `_reindex`, because the reindex
module is absent from minimal Elasticsearch builds, and because rebuilding documents in Python
is what a mapping change usually needs anyway.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import bulk, scan
from pydantic import ValidationError

from services.indexer.documents import report_from_document, to_document
from services.indexer.mapping import (
    MAPPING_VERSION,
    index_name,
    index_settings,
    index_template,
    mappings,
    parse_index_name,
    template_name,
)
from services.indexer.settings import IndexerSettings
from services.indexer.storyroots import follow_merges

log = logging.getLogger(__name__)


class MigrationNeeded(RuntimeError):
    """Indices of an older mapping version are behind the alias; run `cwatch indexer migrate`."""


@dataclass
class MigrationReport:
    target_version: int
    copied: dict[str, int] = field(default_factory=dict)
    switched: list[str] = field(default_factory=list)
    removed_from_alias: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    story_roots: int = 0  # reports re-pointed to the story they were merged into

    def as_dict(self) -> dict[str, Any]:
        return {
            "target_version": self.target_version,
            "copied": self.copied,
            "switched": self.switched,
            "removed_from_alias": self.removed_from_alias,
            "deleted": self.deleted,
            "story_roots": self.story_roots,
        }


def report_indices(es: Elasticsearch, alias: str) -> dict[str, tuple[int, bool]]:
    """Every `<alias>-v*-*` index: name -> (mapping version, is it behind the alias)."""
    found = es.options(ignore_status=404).indices.get_alias(
        index=f"{alias}-v*", expand_wildcards="open"
    )
    result: dict[str, tuple[int, bool]] = {}
    for name, info in dict(found.body if hasattr(found, "body") else found).items():
        if name in ("error", "status"):
            continue
        parsed = parse_index_name(name)
        if parsed is None or parsed[0] != alias:
            continue
        result[name] = (parsed[1], alias in (info.get("aliases") or {}))
    return result


def put_template(
    es: Elasticsearch, settings: IndexerSettings, version: int = MAPPING_VERSION
) -> None:
    body = index_template(
        settings.index_alias,
        version,
        refresh_interval=settings.indexer_refresh_interval,
        shards=settings.indexer_shards,
        replicas=settings.indexer_replicas,
    )
    es.indices.put_index_template(name=template_name(settings.index_alias, version), **body)


def ensure_ready(es: Elasticsearch, settings: IndexerSettings) -> None:
    """Called when the indexer starts: install the current template; refuse to write next to
    older-version indices (search would see both), which only `migrate` may replace."""
    alias = settings.index_alias
    older = sorted(
        name
        for name, (version, in_alias) in report_indices(es, alias).items()
        if version < MAPPING_VERSION and in_alias
    )
    if older:
        raise MigrationNeeded(
            f"indices {older} use an older mapping than v{MAPPING_VERSION}; "
            "run `cwatch indexer migrate` first"
        )
    put_template(es, settings)
    ensure_current_index(es, alias)


def ensure_current_index(es: Elasticsearch, alias: str, wait_s: int = 60) -> str:
    """Create this month's index and wait until its shards are started.

    Searches go to the alias, and an index answers 503 ("all shards failed") from the moment it
    joins the alias until its shards start. With a started index always behind the alias, a new
    month's index at worst hides its own newest reports for a moment instead of failing every
    search; this matters most for the very first report of a new deployment.
    """
    name = index_name(alias, datetime.now(UTC))
    if not es.indices.exists(index=name):
        # 400 resource_already_exists: another indexer instance was first, which is fine.
        es.options(ignore_status=400).indices.create(index=name)
    # The client's own request timeout (the indexer's, 3 s in some tests) must not cut short the
    # wait the server was asked to make: on a busy cluster that turned a slow start into a crash.
    health = es.options(ignore_status=408, request_timeout=wait_s + 10).cluster.health(
        index=name, wait_for_status="yellow", timeout=f"{wait_s}s"
    )
    if health.get("timed_out"):
        log.warning("index shards not started yet", extra={"index": name, "waited_s": wait_s})
    return name


def _rebuild(source: dict[str, Any], event_confidence: float = 0.0) -> dict[str, Any]:
    try:
        report = report_from_document(source)
    except ValidationError:
        return source  # keep what we have rather than lose a report
    indexed_at = source.get("indexed_at")
    when = datetime.fromisoformat(indexed_at) if indexed_at else datetime.now(UTC)
    return to_document(report, when, event_confidence)


def _copy_action(dest_index: str, hit: dict[str, Any], event_confidence: float) -> dict[str, Any]:
    """A copied document keeps the indexer's write rule: its item version is its external
    version, so a copy pass after the indexer wrote a newer version leaves that one."""
    source = _rebuild(hit["_source"], event_confidence)
    source.setdefault("story_root", source.get("story_id"))  # kept as it was when not rebuilt
    version = source.get("version")
    return {
        "_op_type": "index",
        "_index": dest_index,
        "_id": hit["_id"],
        "_source": json.dumps(source, ensure_ascii=False),
        "version": version if isinstance(version, int) and version >= 1 else 1,
        "version_type": "external_gte",
    }


def _status(error: Any) -> int | None:
    item: Any = next(iter(error.values()), {}) if isinstance(error, dict) else {}
    status = item.get("status") if isinstance(item, dict) else None
    return status if isinstance(status, int) else None


def _copy(
    es: Elasticsearch,
    source_index: str,
    dest_index: str,
    since: datetime | None = None,
    event_confidence: float = 0.0,
) -> int:
    query: dict[str, Any] = {"match_all": {}}
    if since is not None:
        query = {"range": {"indexed_at": {"gte": since.isoformat()}}}
    actions = (
        _copy_action(dest_index, hit, event_confidence)
        for hit in scan(es, index=source_index, query={"query": query}, size=1000)
    )
    copied, errors = bulk(es, actions, chunk_size=1000, raise_on_error=False, refresh=False)
    if isinstance(errors, list):  # 409: a newer version is there already, which is right
        errors = [e for e in errors if _status(e) != 409]
    if isinstance(errors, list) and errors:
        raise RuntimeError(
            f"copy {source_index} -> {dest_index}: {len(errors)} errors: {errors[:3]}"
        )
    return copied


def _follow_all_merges(es: Elasticsearch, index: str, chunk: int = 500) -> int:
    """Copied documents carry their own story as root: re-point those of merged stories, by
    the stories every merge report names (a few hundred per call)."""
    stories: set[str] = set()
    merges = scan(
        es,
        index=index,
        query={"query": {"exists": {"field": "merged_stories"}}},
        _source=["story_id", "merged_stories"],
        size=1000,
    )
    for hit in merges:
        src = hit.get("_source") or {}
        stories.add(str(src.get("story_id") or ""))
        stories.update(str(s) for s in src.get("merged_stories") or [])
    ordered = sorted(s for s in stories if s)
    return sum(
        follow_merges(es, index, ordered[start : start + chunk])
        for start in range(0, len(ordered), chunk)
    )


def migrate(
    es: Elasticsearch, settings: IndexerSettings, delete_old: bool = False
) -> MigrationReport:
    """Bring every report index behind the alias to MAPPING_VERSION. Idempotent."""
    alias = settings.index_alias
    report = MigrationReport(target_version=MAPPING_VERSION)
    started = datetime.now(UTC)
    indices = report_indices(es, alias)
    old = sorted(n for n, (version, _) in indices.items() if version < MAPPING_VERSION)
    pairs: list[tuple[str, str]] = []
    for name in old:
        parsed = parse_index_name(name)
        assert parsed is not None
        year, month = parsed[2].split(".")
        new = index_name(alias, datetime(int(year), int(month), 1, tzinfo=UTC))
        pairs.append((name, new))
        if not es.indices.exists(index=new):
            es.indices.create(
                index=new,
                settings={
                    "index": index_settings(
                        settings.indexer_refresh_interval,
                        settings.indexer_shards,
                        settings.indexer_replicas,
                    )
                },
                mappings=mappings(),
            )
        confidence = settings.indexer_event_confidence
        report.copied[new] = report.copied.get(new, 0) + _copy(
            es, name, new, event_confidence=confidence
        )
    # A running old indexer may have written meanwhile; copy what arrived since we started.
    for name, new in pairs:
        report.copied[new] += _copy(
            es, name, new, since=started - timedelta(seconds=5), event_confidence=confidence
        )
    if pairs:
        targets = ",".join(new for _, new in pairs)
        es.indices.refresh(index=targets)
        report.story_roots = _follow_all_merges(es, targets)
        actions: list[dict[str, Any]] = []
        for name, new in pairs:
            actions.append({"add": {"index": new, "alias": alias}})
            if indices[name][1]:
                actions.append({"remove": {"index": name, "alias": alias}})
                report.removed_from_alias.append(name)
            report.switched.append(new)
        es.indices.update_aliases(actions=actions)
    put_template(es, settings)
    for version in sorted({v for v, _ in indices.values() if v < MAPPING_VERSION}):
        try:
            es.indices.delete_index_template(name=template_name(alias, version))
        except NotFoundError:
            pass
    if delete_old and old:
        es.indices.delete(index=",".join(old))
        report.deleted = old
    log.info("migration done", extra=report.as_dict())
    return report


def drop_months_before(es: Elasticsearch, alias: str, before: str) -> list[str]:
    """Delete report indices of months strictly before `before` ('YYYY.MM'): retention."""
    doomed = sorted(
        name
        for name in report_indices(es, alias)
        if (parsed := parse_index_name(name)) is not None and parsed[2] < before
    )
    if doomed:
        es.indices.delete(index=",".join(doomed))
    return doomed
