from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.fold import fold_text
from services.extractor.dedup import DedupState, TextPrint, content_hash
from services.extractor.pipeline import Draft, finish
from services.extractor.stories import StoryFeatures
from tests.indexer.reportgen import make_report

from .conftest import make_raw

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
TEXT = (
    "Armenia and Azerbaijan accused each other of shelling border positions near Jermuk "
    "overnight, and both defence ministries reported casualties among their soldiers after "
    "the heaviest fighting since the ceasefire was agreed two years ago in Moscow."
)


def _check(  # type: ignore[no-untyped-def]
    state: DedupState,
    report_id: str,
    text: str,
    when: datetime = T0,
    entities: tuple[str, ...] = ("place:jermuk",),
    events: tuple[str, ...] = ("armed_clash",),
    language: str = "en",
):
    tokens = fold_text(text).split()
    features = StoryFeatures(
        report_id, when.timestamp(), language, events, entities, entities, (), tuple(tokens)
    )
    return state.check(report_id, content_hash(" ".join(tokens)), tokens, when, features)


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
    _check(state, "a-1", TEXT)
    edited = TEXT.replace("overnight", "at night") + " Officials said."
    result = _check(state, "b-1", edited)
    assert result.duplicate_of is None
    assert result.near_duplicate_of == "a-1"


def test_unrelated_text_is_neither_duplicate_nor_in_the_story() -> None:
    state = DedupState()
    first = _check(state, "a-1", TEXT)
    other = _check(
        state,
        "b-1",
        "Football results from the weekend league games in Baku.",
        entities=("place:baku",),
        events=(),
    )
    assert other.duplicate_of is None and other.near_duplicate_of is None
    assert other.story_id != first.story_id


def test_reports_in_other_languages_naming_the_same_places_join_until_the_story_goes_cold() -> None:
    state = DedupState()
    ids = ("place:tavush", "person:nikol-pashinyan")
    a = _check(state, "a-1", "Армения объявила о перемирии.", T0, ids, ("ceasefire",), "ru")
    b = _check(
        state, "b-1", "Armenia announces ceasefire.", T0 + timedelta(hours=5), ids, ("ceasefire",)
    )
    c = _check(
        state, "c-1", "Armenia ceasefire again.", T0 + timedelta(days=10), ids, ("ceasefire",)
    )
    assert a.story_id == b.story_id
    assert c.story_id != a.story_id


def test_a_copy_published_earlier_but_arriving_later_is_the_original() -> None:
    state = DedupState()
    copy = _check(state, "copy", TEXT + " (Armenpress)", T0 + timedelta(minutes=40))
    original = _check(state, "orig", TEXT, T0)
    assert copy.near_duplicate_of is None and original.near_duplicate_of is None
    assert original.copy_seen_first == ("copy", "near_duplicate_of")
    assert original.story_id == copy.story_id


def test_templated_texts_with_other_numbers_are_not_near_duplicates() -> None:
    state = DedupState()
    _check(state, "a-1", TEXT + " The ministry reported 3 wounded on 2 March.")
    other = _check(state, "b-1", TEXT + " The ministry reported 5 wounded on 4 March.")
    assert other.near_duplicate_of is None


def test_a_copy_with_a_lead_paragraph_added_is_a_near_duplicate() -> None:
    state = DedupState()
    _check(state, "a-1", TEXT)
    lead = "Negotiators say a handful of articles of the draft treaty remain open. "
    assert _check(state, "b-1", lead + TEXT, T0 + timedelta(hours=1)).near_duplicate_of == "a-1"


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
    assert state.signatures == {}
    # the exact hash is kept for a week since the text was last seen
    state.prune((T0 + timedelta(days=7, hours=1)).timestamp())
    assert state.hashes == {}
    assert _check(state, "b-1", TEXT, when=T0 + timedelta(days=7, hours=1)).duplicate_of is None


def test_a_text_re_published_word_for_word_days_later_is_still_its_exact_duplicate() -> None:
    state = DedupState()  # near-duplicate signatures: 72 h
    first = _check(state, "a-1", TEXT)
    later = T0 + timedelta(days=5)
    state.prune(later.timestamp())
    again = _check(state, "b-1", TEXT, when=later)
    assert again.duplicate_of == "a-1" and again.story_id == first.story_id


def test_a_text_re_run_every_few_days_stays_known_while_it_keeps_coming() -> None:
    state = DedupState()
    first = _check(state, "a-1", TEXT)
    for n in range(1, 8):  # every 4 days for four weeks: each re-run keeps it known
        when = T0 + timedelta(days=4 * n)
        state.prune(when.timestamp())
        rerun = _check(state, f"r-{n}", TEXT, when=when)
        assert rerun.duplicate_of == "a-1" and rerun.story_id == first.story_id


def test_after_an_index_reset_near_duplicates_are_still_found() -> None:
    state = DedupState()
    _check(state, "a-1", TEXT)
    state.reset_index()  # a rebalance: the LSH is rebuilt from the signatures mapping
    assert _check(state, "b-1", TEXT + " Officials said.").near_duplicate_of == "a-1"


def test_an_edited_version_of_a_report_stays_in_its_story() -> None:
    """Statement history: a later version of the same report (same id, new text, another
    event or entities) is the same report, so it keeps the story it was filed under."""
    state = DedupState()
    first = _check(state, "a-1", TEXT, events=("armed_clash",))
    edited = "The ministry denies any shooting near Jermuk; the earlier statement was wrong."
    again = _check(state, "a-1", edited, events=("diplomatic",), entities=("place:goris",))
    assert again.story_id == first.story_id and again.duplicate_of is None


def _draft(report_id: str, text: str, when: datetime) -> Draft:
    tokens = fold_text(text).split()
    report = make_report(1, report_id=report_id, story_id="", content_hash=content_hash(text))
    features = StoryFeatures(report_id, when.timestamp(), "en", (), ("place:jermuk",))
    return Draft(report, features, TextPrint.of(tokens))


def test_a_late_original_whose_copy_is_no_longer_at_hand_stays_linked() -> None:
    draft = _draft
    state = DedupState()
    [copy] = finish([draft("copy-report", TEXT + " (Armenpress)", T0 + timedelta(hours=1))], state)
    fresh = DedupState.restore(state.snapshot())  # the story stage moved: no reports in memory
    [original] = finish([draft("orig-report", TEXT, T0)], fresh)
    assert copy.near_duplicate_of is None
    assert original.near_duplicate_of == "copy-report"  # inverted, but the pair is not lost
    both = finish([draft("orig-again", TEXT + " More.", T0 - timedelta(hours=1))], state)
    assert [r.report_id for r in both] == ["orig-again", "copy-report"]  # corrected copy follows


def test_a_copy_read_again_after_its_late_original_names_the_original() -> None:
    state = DedupState()
    _check(state, "copy", TEXT + " (Armenpress)", T0 + timedelta(minutes=40))
    _check(state, "orig", TEXT, T0)
    again = _check(state, "copy", TEXT + " (Armenpress)", T0 + timedelta(minutes=40))
    assert again.near_duplicate_of == "orig"  # a redelivery repeats the corrected answer


def test_a_late_original_read_again_repeats_its_correction() -> None:
    """A redelivered original (its raw article extracted again after a worker died) gives the
    answer it gave first, correction included: a pair linked the wrong way round because the
    copy's report was gone must not come out unlinked the second time."""
    state = DedupState()
    [copy] = finish([_draft("copy-report", TEXT + " (Armenpress)", T0 + timedelta(hours=1))], state)
    fresh = DedupState.restore(state.snapshot())  # the story stage moved: no reports in memory
    [original] = finish([_draft("orig-report", TEXT, T0)], fresh)
    [again] = finish([_draft("orig-report", TEXT, T0)], fresh)
    assert original.near_duplicate_of == again.near_duplicate_of == "copy-report"
    corrected = finish([_draft("orig-report", TEXT, T0)], state)  # the copy's report at hand
    assert [(r.report_id, r.near_duplicate_of) for r in corrected] == [
        ("orig-report", None),
        ("copy-report", "orig-report"),
    ]


def test_a_draft_carries_its_raw_partition_progress_and_a_bad_one_is_dropped() -> None:
    draft = _draft("staged-report", TEXT, T0)
    draft.progress = (4, 17)
    back = Draft.from_json(draft.to_json())
    assert back.progress == (4, 17) and back.report == draft.report
    data = json.loads(draft.to_json())
    for bad in ([4], [4, "17"], [True, 1], "4,17", None):
        data["progress"] = bad
        assert Draft.from_json(json.dumps(data)).progress is None


BOILERPLATE = (
    "Temperatures are expected to rise above 40 degrees Celsius in the coming days.\n\n"
    "Forecasters advised residents to avoid the sun at midday and to drink plenty of water.\n\n"
    "Road services were clearing snow overnight on the passes of the northern highway."
)


def test_one_body_under_headlines_without_a_word_in_common_is_not_a_copy() -> None:
    from services.extractor.pipeline import analyse

    state = DedupState()

    def told(article_id: str, title: str, hours: int) -> Any:
        raw = make_raw(
            article_id, text=BOILERPLATE, title=title, published=T0 + timedelta(hours=hours)
        )
        [report] = finish(analyse(raw), state)
        return report

    first = told("heat-0001", "Heatwave to hit the capital", 0)
    other = told("snow-0001", "Heavy snowfall closes mountain passes", 1)
    assert other.near_duplicate_of is None and other.duplicate_of is None
    # a rewritten headline that still tells the news is a copy
    copy = told("heat-0002", "Heatwaves: capital braces for 40 degrees", 2)
    assert copy.near_duplicate_of == "heat-0001" and copy.story_id == first.story_id


def test_a_copy_finds_its_original_among_many_templated_look_alikes() -> None:
    """A ministry's daily wording gives dozens of LSH candidates; the few compared are the
    ones published nearest the copy, so the original is among them whatever its id."""
    state = DedupState()
    for day in range(30):  # earlier days' reports: the same words, other numbers
        text = f"{TEXT} The ministry counted {day + 100} violations on day {day + 200}."
        _check(state, f"a-{day:02d}", text, when=T0 - timedelta(hours=30 - day))
    original = f"{TEXT} The ministry counted 7 violations on day 9."
    _check(state, "z-original", original, when=T0)
    copy = _check(state, "b-copy", original + " Officials said.", when=T0 + timedelta(minutes=20))
    assert copy.near_duplicate_of == "z-original"
