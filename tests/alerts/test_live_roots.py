"""The live feed names the story a report lives on as after merges (issue 20)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from services.alerts.live import LiveHub


class MergesIndex:
    """Answers the story-merge lookups: report m1 of story A absorbed B, m2 of story C absorbed A."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.merges = {"A": ["B"], "C": ["A"]}

    def search(self, index: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        if self.fail:
            raise ConnectionError("search backend down")
        wanted = _story_ids(body)
        hits = [
            {"_source": {"story_id": survivor, "merged_stories": absorbed}}
            for survivor, absorbed in self.merges.items()
            if survivor in wanted or wanted & set(absorbed)
        ]
        return {"hits": {"hits": hits}}


def _story_ids(body: Any) -> set[str]:
    """Every story id named in a terms query, wherever it sits in the body."""
    found: set[str] = set()
    if isinstance(body, dict):
        for key, value in body.items():
            if key in ("story_id", "merged_stories") and isinstance(value, list):
                found.update(value)
            else:
                found |= _story_ids(value)
    elif isinstance(body, list):
        for value in body:
            found |= _story_ids(value)
    return found


def test_a_live_report_of_a_merged_story_names_the_story_it_lives_on_as() -> None:
    docs = [
        {"report_id": "r1", "story_id": "B", "story_root": "B"},  # indexed before the merges
        {"report_id": "r2", "story_id": "D", "story_root": "D"},  # never merged
    ]
    hub = SimpleNamespace(es=MergesIndex(), alias="reports")
    LiveHub._resolve_roots(hub, docs)  # type: ignore[arg-type]
    assert [(d["story_id"], d["story_root"]) for d in docs] == [("B", "C"), ("D", "D")]


def test_a_failed_merge_lookup_leaves_the_indexed_root() -> None:
    docs = [{"report_id": "r1", "story_id": "B", "story_root": "A"}]
    hub = SimpleNamespace(es=MergesIndex(fail=True), alias="reports")
    LiveHub._resolve_roots(hub, docs)  # type: ignore[arg-type]
    assert docs[0]["story_root"] == "A"
