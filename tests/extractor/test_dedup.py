from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from services.common.fold import fold_text
from services.extractor.dedup import DedupState, content_hash, story_key

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
TEXT = (
    "Armenia and Azerbaijan accused each other of shelling border positions near Jermuk "
    "overnight, and both defence ministries reported casualties among their soldiers after "
    "the heaviest fighting since the ceasefire was agreed two years ago in Moscow."
)


def _check(state: DedupState, report_id: str, text: str, key: str = "k", when: datetime = T0):  # type: ignore[no-untyped-def]
    tokens = fold_text(text).split()
    return state.check(report_id, content_hash(" ".join(tokens)), tokens, key, when)


def test_same_content_under_another_id_is_an_exact_duplicate_in_the_same_story() -> None:
    state = DedupState()
    first = _check(state, "a-1", TEXT)
    second = _check(state, "b-1", TEXT)
    assert first.duplicate_of is None
    assert second.duplicate_of == "a-1" and second.story_id == first.story_id


def test_redelivered_report_is_not_its_own_duplicate() -> None:
    state = DedupState()
    first = _check(state, "a-1", TEXT)
    again = _check(state, "a-1", TEXT)
    assert again.duplicate_of is None and again.story_id == first.story_id


def test_lightly_edited_copy_is_a_near_duplicate() -> None:
    state = DedupState()
    _check(state, "a-1", TEXT, key="one")
    edited = TEXT.replace("overnight", "at night") + " Officials said."
    result = _check(state, "b-1", edited, key="other")
    assert result.duplicate_of is None
    assert result.near_duplicate_of == "a-1"


def test_unrelated_text_is_neither_duplicate_nor_in_the_story() -> None:
    state = DedupState()
    first = _check(state, "a-1", TEXT, key=story_key("armed_clash", ["place:jermuk"]))
    other = _check(state, "b-1", "Football results from the weekend league games in Baku.", key="x")
    assert other.duplicate_of is None and other.near_duplicate_of is None
    assert other.story_id != first.story_id


def test_reports_with_the_same_entities_and_event_in_the_window_share_a_story() -> None:
    state = DedupState(story_window_hours=48)
    key = story_key("ceasefire", ["place:nagorno-karabakh", "person:nikol-pashinyan"])
    a = _check(state, "a-1", "Армения объявила о перемирии.", key=key, when=T0)
    b = _check(state, "b-1", "Armenia announces ceasefire.", key=key, when=T0 + timedelta(hours=30))
    c = _check(state, "c-1", "Armenia ceasefire again.", key=key, when=T0 + timedelta(days=10))
    assert a.story_id == b.story_id
    assert c.story_id != a.story_id


def test_story_key_ignores_entity_order_beyond_the_two_most_salient() -> None:
    assert story_key("protest", ["a", "b", "c"]) == story_key("protest", ["a", "b", "d"])
    assert story_key(None, []) == "none|"


def test_state_survives_a_json_snapshot_and_restore() -> None:
    state = DedupState()
    first = _check(state, "a-1", TEXT)
    snap = json.loads(json.dumps(state.snapshot()))
    restored = DedupState.restore(snap)
    assert _check(restored, "b-1", TEXT).duplicate_of == "a-1"
    near = _check(restored, "c-1", TEXT + " One more sentence here.")
    assert near.near_duplicate_of == "a-1" and near.story_id == first.story_id


def test_old_entries_are_pruned_after_the_window() -> None:
    state = DedupState(window_hours=1)
    _check(state, "a-1", TEXT)
    assert state.prune((T0 + timedelta(hours=3)).timestamp()) == 1
    assert state.signatures == {} and state.hashes == {}
    assert _check(state, "b-1", TEXT, when=T0 + timedelta(hours=3)).duplicate_of is None


def test_after_an_index_reset_near_duplicates_are_still_found() -> None:
    state = DedupState()
    _check(state, "a-1", TEXT)
    state.reset_index()  # a rebalance: the LSH is rebuilt from the signatures mapping
    assert _check(state, "b-1", TEXT + " Officials said.").near_duplicate_of == "a-1"


def test_an_edited_version_of_a_report_stays_in_its_story() -> None:
    """Statement history: a later version of the same report (same id, new text, another
    event or entities) is the same report, so it keeps the story it was filed under."""
    state = DedupState()
    first = _check(state, "a-1", TEXT, key=story_key("armed_clash", ["place:jermuk"]))
    edited = "The ministry denies any shooting near Jermuk; the earlier statement was wrong."
    again = _check(state, "a-1", edited, key=story_key("diplomatic", ["place:jermuk"]))
    assert again.story_id == first.story_id and again.duplicate_of is None
