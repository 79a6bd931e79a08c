"""Where a story happens (issue 20): the dateline is where the outlet writes from, and a report
that leads with another specific place than its story is less likely the same event."""

from __future__ import annotations

from services.extractor.pipeline import strip_dateline
from services.extractor.stories import (
    JOIN_AT,
    MAX_CANDIDATES,
    MAX_GAP_S,
    Profile,
    StoryFeatures,
    StoryIndex,
    score,
)

T0 = 1_780_000_000.0


def test_datelines_are_left_out_of_the_lead_and_prose_is_not() -> None:
    assert strip_dateline("WASHINGTON — Parliament voted") == "Parliament voted"
    assert strip_dateline("Yerevan — The talks") == "The talks"
    assert strip_dateline("YEREVAN, April 1 (Armenpress) - The talks") == "The talks"
    assert strip_dateline("ЕРЕВАН, 1 апреля. /ТАСС/. Премьер") == "Премьер"
    assert strip_dateline("Bakı, 1 aprel, AZERTAC. Prezident") == "Prezident"
    assert strip_dateline("NEW YORK — x") == "x"
    for prose in ("Armenia and Azerbaijan — the two sides", "Nagorno-Karabakh - the region"):
        assert strip_dateline(prose) == prose


def _report(rid: str, place: str, minutes: int) -> StoryFeatures:
    lead = (place, "person:ararat-mirzoyan")
    return StoryFeatures(rid, T0 + 60 * minutes, "ru", ("peace_talks",), lead, lead)


def test_a_report_leading_with_another_place_fits_its_story_less() -> None:
    story = Profile(anchor=T0, last=T0)
    story.absorb(_report("a", "place:jermuk", 0))
    same = score(_report("b", "place:jermuk", 30), story)
    elsewhere = score(_report("c", "place:sotk", 30), story)
    unplaced = score(StoryFeatures("d", T0 + 1800, "ru", ("peace_talks",)), story)
    assert same > 2 * elsewhere > 0 and unplaced == 0.0


def _talks(rid: str, venue: str, minutes: int, language: str = "en") -> StoryFeatures:
    lead = (venue, "person:ararat-mirzoyan", "person:jeyhun-bayramov")
    return StoryFeatures(rid, T0 + 60 * minutes, language, ("peace_talks",), lead, lead)


def test_talks_in_a_capital_are_not_talks_of_the_same_ministers_elsewhere() -> None:
    """A capital says little about which event when it speaks ("Baku denied"), but a lead that
    holds the talks there places them: the same two ministers in Tbilisi and in Almaty, hours
    apart, are two meetings."""
    for first, second in (("place:almaty", "place:tbilisi"), ("place:tbilisi", "place:almaty")):
        index = StoryIndex()
        story = index.assign(_talks("a", first, 0)).story_id
        assert index.assign(_talks("b", second, 180, "ru")).story_id != story
        assert index.assign(_talks("c", first, 200, "hy")).story_id == story


def test_reports_naming_no_place_do_not_thin_out_the_place_of_their_story() -> None:
    """Talks in Abu Dhabi, then two reports of "the peace talks" naming no venue: talks of the
    same ministers in Brussels are still held elsewhere."""
    index = StoryIndex()
    story = index.assign(_talks("a", "place:abu-dhabi", 0)).story_id
    for n, language in enumerate(("ru", "hy")):
        lead = ("person:ararat-mirzoyan", "person:jeyhun-bayramov")
        placeless = StoryFeatures(
            f"p{n}", T0 + 600 * (n + 1), language, ("peace_talks",), lead, lead
        )
        assert index.assign(placeless).story_id == story
    assert index.assign(_talks("b", "place:brussels", 90, "az")).story_id != story


def test_a_report_sharing_only_the_region_with_its_story_across_languages_joins_it() -> None:
    """'Thousands flee Karabakh' and 'Более 100 тысяч человек покинули Карабах': the region,
    the kind and the number are all they share (no word in common across languages)."""
    index = StoryIndex()
    lead = ("place:nagorno-karabakh",)
    figure = (("displaced", 100_000),)
    first = StoryFeatures("a", T0, "en", ("displacement",), lead, lead, figure, ("flee",))
    second = StoryFeatures("b", T0 + 3600, "ru", ("displacement",), lead, lead, figure, ("бежали",))
    story = index.assign(first).story_id
    assert index.assign(second).story_id == story


def test_a_story_met_only_through_a_capital_must_tell_the_same_kind_of_event() -> None:
    index = StoryIndex()
    lead = ("place:yerevan",)
    rally = StoryFeatures("a", T0, "ru", ("protest",), lead, lead, (), ("митинг",))
    weather = StoryFeatures("b", T0 + 1800, "en", (), lead, lead, (), ("heatwave",))
    assert index.assign(weather).story_id != index.assign(rally).story_id


def _kind(rid: str, event: str, minutes: int) -> StoryFeatures:
    lead = ("place:gazakh",)
    return StoryFeatures(rid, T0 + 60 * minutes, "az", (event,), lead, lead)


def test_a_related_kind_of_event_fits_a_story_and_an_unrelated_one_counts_against() -> None:
    """One side's clash is the other's shelling; drills at the same place are another event."""
    story = Profile(anchor=T0, last=T0)
    story.absorb(_kind("a", "armed_clash", 0))
    related = score(_kind("b", "shelling_strike", 30), story)
    unrelated = score(_kind("c", "military_exercise", 30), story)
    same = score(_kind("d", "armed_clash", 30), story)
    assert same > related >= JOIN_AT and related - unrelated > 0.25


def _kinds(rid: str, events: tuple[str, ...], minutes: int) -> StoryFeatures:
    lead = ("place:gazakh",)
    return StoryFeatures(rid, T0 + 60 * minutes, "en", events, lead, lead)


def test_side_kinds_of_event_in_common_do_not_make_one_event() -> None:
    """A clash report and a drills report whose background both mention the peace talks: the
    talks are no one's event, the drills stay another event than the clash."""
    story = Profile(anchor=T0, last=T0)
    story.absorb(_kinds("a", ("armed_clash", "peace_talks"), 0))
    drills = score(_kinds("b", ("military_exercise", "peace_talks"), 30), story)
    shelling = score(_kinds("c", ("shelling_strike", "peace_talks"), 30), story)
    assert shelling >= JOIN_AT and shelling - drills > 0.25


def test_stories_too_old_to_join_do_not_crowd_out_the_live_one() -> None:
    """Candidates are the stories sharing most keys with a report; those anchored beyond
    MAX_GAP_S cannot score, and used to take the slots of the one the report belongs to."""
    index = StoryIndex()
    old = T0 - MAX_GAP_S - 3600
    words = tuple(f"word{i}" for i in range(30))
    for n in range(MAX_CANDIDATES + 5):
        lead = (f"place:elsewhere-{n}",)  # one story each, all sharing the words
        index.assign(
            StoryFeatures(f"old{n}", old + n, "ru", ("armed_clash",), lead, lead, (), words)
        )
    live = index.assign(_kind("live", "armed_clash", 0))
    lead = ("place:gazakh",)
    report = StoryFeatures("new", T0 + 600, "ru", ("armed_clash",), lead, lead, (), words)
    assert index.assign(report).story_id == live.story_id
