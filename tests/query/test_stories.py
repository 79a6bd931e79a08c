"""Merged stories read from the reports that recorded the merges (issue 20). Pure."""

from __future__ import annotations

from typing import Any

from services.query.stories import (
    StoryFamilies,
    build_stale_roots,
    build_story_merges,
    merges_of,
    story_families,
)


def _merge(survivor: str, *absorbed: str) -> dict[str, Any]:
    return {"_source": {"story_id": survivor, "merged_stories": list(absorbed)}}


def test_a_story_lives_on_as_the_end_of_its_chain_of_merges() -> None:
    families = StoryFamilies(merges_of([_merge("A", "B"), _merge("Z", "A"), _merge("Q", "R")]))
    assert families.root("B") == families.root("A") == families.root("Z") == "Z"
    assert families.root("never-merged") == "never-merged"
    assert families.members("B") == ["A", "B", "Z"]
    assert families.roots(["B", "R"]) == {"Z": ["A", "B", "Z"], "Q": ["Q", "R"]}


def test_a_cycle_ends_at_one_story_every_reader_agrees_on() -> None:
    families = StoryFamilies(merges_of([_merge("A", "B"), _merge("B", "A")]))
    assert families.root("A") == families.root("B") == "A"


def test_odd_merge_records_are_ignored_and_the_first_answer_wins() -> None:
    hits = [
        _merge("A", "B", "A", ""),
        _merge("C", "B"),
        {"_source": {"merged_stories": ["X"]}},
        {},
    ]
    assert merges_of(hits) == {"B": "A"}


def test_families_are_followed_both_ways_hop_by_hop() -> None:
    table = [_merge("A", "B"), _merge("Z", "A"), _merge("B", "C")]
    asked: list[list[str]] = []

    def search(body: dict[str, Any]) -> dict[str, Any]:
        should = body["query"]["bool"]["should"]
        ids = set(should[0]["terms"]["merged_stories"])
        asked.append(sorted(ids))
        hits = [
            h
            for h in table
            if ids & set(h["_source"]["merged_stories"]) or h["_source"]["story_id"] in ids
        ]
        return {"hits": {"hits": hits}}

    families = story_families(search, ["C"])
    assert families.root("C") == "Z"
    assert families.members("C") == ["A", "B", "C", "Z"]
    assert asked[0] == ["C"] and len(asked) <= 4


def test_merges_body_asks_both_directions_and_stale_roots_body_excludes_the_root() -> None:
    merges = build_story_merges(["A"])["query"]["bool"]["should"]
    assert {"terms": {"merged_stories": ["A"]}} in merges
    stale = build_stale_roots({"Z": ["A", "Z"]}, 50)
    clause = stale["query"]["bool"]["should"][0]["bool"]
    assert clause == {
        "filter": [{"terms": {"story_id": ["A", "Z"]}}],
        "must_not": [{"term": {"story_root": "Z"}}],
    }
    assert stale["version"] is True and stale["size"] == 50
