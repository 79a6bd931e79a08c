"""Merged stories (issue 20): the story a story lives on as, read from the reports themselves.

The story stage records a merge on the report that caused it: `story_id` is the survivor and
`merged_stories` the stories absorbed into it. Those reports are the whole merge table, so no
other index (nor a script) is needed: the stories of a set of ids are found by following
merges both ways, a bounded number of hops. A report document carries `story_root`, the story
it lives on as (collapsing, version counts and "one alert per story" key on it); the indexer
keeps it right for reports indexed before a merge (`build_stale_roots`), see
services/indexer/storyroots.py.

Pure apart from `story_families`, which runs the bodies it builds through the caller's search.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_MERGE_HOPS = 8
MERGES_PER_HOP = 500  # merge reports read per hop; a story absorbs a handful at most
SEARCH_TIMEOUT = "10s"

Search = Callable[[dict[str, Any]], dict[str, Any]]
"""Runs a body against the report alias, returns Elasticsearch's answer."""


def build_story_merges(story_ids: Sequence[str], size: int = MERGES_PER_HOP) -> dict[str, Any]:
    """Reports that record a merge touching these stories: those that absorbed one of them
    (`merged_stories`) and those of these stories that absorbed others."""
    ids = list(story_ids)
    return {
        "query": {
            "bool": {
                "should": [
                    {"terms": {"merged_stories": ids}},
                    {
                        "bool": {
                            "filter": [
                                {"terms": {"story_id": ids}},
                                {"exists": {"field": "merged_stories"}},
                            ]
                        }
                    },
                ],
                "minimum_should_match": 1,
            }
        },
        "size": size,
        # the same answer however often it is asked: the oldest merge report first
        "sort": [{"date": {"order": "asc"}}, {"report_id": {"order": "asc"}}],
        "_source": ["story_id", "merged_stories"],
        "timeout": SEARCH_TIMEOUT,
    }


def merges_of(hits: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """absorbed story -> the story that absorbed it, from merge reports (first one wins: the
    stage never merges a story twice, so a second, different answer is a replayed oddity)."""
    absorbed_by: dict[str, str] = {}
    for hit in hits:
        src = hit.get("_source") or {}
        survivor = src.get("story_id")
        if not isinstance(survivor, str) or not survivor:
            continue
        for absorbed in src.get("merged_stories") or []:
            if isinstance(absorbed, str) and absorbed and absorbed != survivor:
                absorbed_by.setdefault(absorbed, survivor)
    return absorbed_by


@dataclass
class StoryFamilies:
    """What is known of merges around some stories."""

    absorbed_by: dict[str, str] = field(default_factory=dict)

    def root(self, story_id: str) -> str:
        """The story `story_id` lives on as (itself when never merged); a cycle, which the
        stage cannot make, ends at the smallest id on it so every reader agrees."""
        seen = [story_id]
        current = story_id
        for _ in range(MAX_MERGE_HOPS):
            nxt = self.absorbed_by.get(current)
            if nxt is None:
                return current
            if nxt in seen:
                return min(seen[seen.index(nxt) :])
            seen.append(nxt)
            current = nxt
        return current

    def members(self, story_id: str) -> list[str]:
        """Every known story that lives on as the root of `story_id`, the root included."""
        root = self.root(story_id)
        found = {root} | {s for s in self.absorbed_by if self.root(s) == root}
        return sorted(found)

    def roots(self, story_ids: Iterable[str]) -> dict[str, list[str]]:
        """root -> its members, for the roots of these stories."""
        return {self.root(s): self.members(s) for s in story_ids}


def story_families(search: Search, story_ids: Iterable[str]) -> StoryFamilies:
    """Follow merges from these stories, both ways, up to MAX_MERGE_HOPS searches."""
    known = {s for s in story_ids if s}
    frontier = set(known)
    absorbed_by: dict[str, str] = {}
    for _ in range(MAX_MERGE_HOPS):
        if not frontier:
            break
        hits = search(build_story_merges(sorted(frontier)))["hits"]["hits"]
        for absorbed, survivor in merges_of(hits).items():
            absorbed_by.setdefault(absorbed, survivor)
        found = set(absorbed_by) | set(absorbed_by.values())
        frontier = found - known
        known |= found
    return StoryFamilies(absorbed_by)


def build_stale_roots(families: Mapping[str, Sequence[str]], size: int) -> dict[str, Any]:
    """Reports of these stories whose `story_root` is not their root yet (root -> members), with
    their whole source and version so they can be written back unchanged but for the root."""
    return {
        "query": {
            "bool": {
                "should": [
                    {
                        "bool": {
                            "filter": [{"terms": {"story_id": list(members)}}],
                            "must_not": [{"term": {"story_root": root}}],
                        }
                    }
                    for root, members in sorted(families.items())
                ],
                "minimum_should_match": 1,
            }
        },
        "size": size,
        "version": True,
        "sort": [{"report_id": {"order": "asc"}}],
        "timeout": SEARCH_TIMEOUT,
    }
