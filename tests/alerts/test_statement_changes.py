"""Statement history in alerting: a new version of a report (an edit, a withdrawal) alerts once
per change; a re-delivery of any version alerts nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from services.alerts.dedup import StoryState, decide
from services.alerts.matcher import Match, _match_of
from services.alerts.models import Filters, Mode, Subscription

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _version(n: int, change: str | None = None) -> Match:
    return Match("s1", "r1", "st", headline="MoD statement", version=n, change=change)


def _run(sub: Subscription, rounds: list[list[Match]]) -> list[list[tuple[int, str | None]]]:
    """Alerts of each round as (version, change), with the states carried between rounds."""
    states: dict[str, StoryState] = {}
    out = []
    for matches in rounds:
        decision = decide(matches, {sub.id: sub}, states, NOW)
        states.update({s.key: s for s in decision.states})
        out.append([(a.version, a.change) for a, _ in decision.alerts])
    return out


def test_each_change_alerts_once_and_redeliveries_alert_nothing() -> None:
    sub = Subscription(id="s1", mode=Mode.EVERY)
    rounds = [
        [_version(1)],
        [_version(1)],  # re-delivered
        [_version(2, "edited")],
        [_version(2, "edited"), _version(2, "edited")],
        [_version(3, "withdrawn")],
        [_version(3, "withdrawn")],
    ]
    assert _run(sub, rounds) == [[(1, None)], [], [(2, "edited")], [], [(3, "withdrawn")], []]


def test_a_per_story_subscription_for_changes_alerts_every_change_of_the_story() -> None:
    sub = Subscription(
        id="s1", mode=Mode.PER_STORY, filters=Filters(change=["edited", "withdrawn"])
    )
    rounds = [[_version(2, "edited")], [_version(3, "withdrawn")], [_version(3, "withdrawn")]]
    assert _run(sub, rounds) == [[(2, "edited")], [(3, "withdrawn")], []]


def test_a_per_story_subscription_without_the_change_filter_still_alerts_a_story_once() -> None:
    sub = Subscription(id="s1", mode=Mode.PER_STORY)
    assert _run(sub, [[_version(1)], [_version(2, "edited")]]) == [[(1, None)], []]


def test_a_change_alert_id_is_stable_and_differs_from_the_first_versions() -> None:
    sub = Subscription(id="s1", mode=Mode.EVERY)
    first = decide([_version(1)], {"s1": sub}, {}, NOW).alerts[0][0]
    edit = decide([_version(2, "edited")], {"s1": sub}, {}, NOW).alerts[0][0]
    again = decide([_version(2, "edited")], {"s1": sub}, {}, NOW).alerts[0][0]
    assert edit.alert_id == again.alert_id != first.alert_id


def test_a_match_reads_version_and_change_from_the_document_and_ignores_odd_values() -> None:
    doc = {"_id": "r1", "_source": {"report_id": "r1", "version": 3, "change": "withdrawn"}}
    assert (_match_of(doc, "s1").version, _match_of(doc, "s1").change) == (3, "withdrawn")
    odd = {"_id": "r1", "_source": {"version": "x", "change": "<script>"}}
    assert (_match_of(odd, "s1").version, _match_of(odd, "s1").change) == (1, None)
    old = {"_id": "r1", "_source": {"report_id": "r1"}}  # a document from before versions
    assert _match_of(old, "s1").seen_key == "r1"
