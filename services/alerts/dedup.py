"""Matches -> alerts, one per (subscription, story) unless the subscription asks for every report.

Pure: the caller loads the states of the keys it needs and saves the ones returned. Ten
versions of a story, in one batch or spread over hours, make one alert whose count grows;
a replayed report (same id) is never counted twice.

Statement history: a new version of a report (an edit, a withdrawal) is seen under its own key
(`Match.seen_key`), so it counts and alerts once, however often it is delivered again. A
subscription that asks for changes (the `change` filter) is alerted once per change even in
per-story mode: the change is what it asked for; for the others a story still alerts once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from schemas.alert import Alert
from services.alerts.matcher import Match
from services.alerts.models import Mode, Subscription

SEEN_REPORTS_KEPT = 200


class StoryState(BaseModel):
    """What one subscription has seen of one story."""

    subscription_id: str
    story_id: str
    count: int = 0
    report_ids: list[str] = Field(default_factory=list, description="Seen, newest last, capped")
    alerts: int = 0
    last_alert_at: datetime | None = None
    pending: int = 0
    pending_report_ids: list[str] = Field(default_factory=list)
    pending_since: datetime | None = None
    headline: str = ""
    url: str | None = None

    @property
    def key(self) -> str:
        return state_key(self.subscription_id, self.story_id)


def state_key(subscription_id: str, story_id: str) -> str:
    raw = f"{subscription_id}\x00{story_id}".encode()
    return hashlib.sha256(raw).hexdigest()[:40]


def alert_id(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


@dataclass
class Decision:
    alerts: list[tuple[Alert, str]] = field(default_factory=list)  # (alert, mode)
    states: list[StoryState] = field(default_factory=list)


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


Families = Mapping[str, Sequence[str]]
"""root story -> every story merged into it, the root included (services/query/stories.py)."""


def keys_for(matches: Iterable[Match], families: Families | None = None) -> list[str]:
    """The states a batch needs: each (subscription, story), and those of the stories merged
    into that story, which a new state starts from."""
    families = families or {}
    keys: dict[str, None] = {}
    for m in matches:
        for story in (m.story_id, *families.get(m.story_id, ())):
            keys[state_key(m.subscription_id, story)] = None
    return list(keys)


def _inherit(
    state: StoryState, members: Sequence[str], states: dict[str, StoryState]
) -> list[StoryState]:
    """A story merged from others (issue 20) starts from what the subscription saw of them: an
    alert already sent for one of them is the story's alert, their reports are not new. What
    they hold for a digest moves to it, so the digest goes out once, under the story they live
    on as; returns the members' states so emptied (to be saved)."""
    emptied: list[StoryState] = []
    for member in members:
        prior = states.get(state_key(state.subscription_id, member))
        if prior is None or member == state.story_id:
            continue
        state.count += prior.count
        seen = dict.fromkeys(state.report_ids + prior.report_ids)
        state.report_ids = list(seen)[-SEEN_REPORTS_KEPT:]
        state.alerts = max(state.alerts, prior.alerts)
        if prior.last_alert_at and (
            state.last_alert_at is None or prior.last_alert_at > state.last_alert_at
        ):
            state.last_alert_at = prior.last_alert_at
        if prior.pending_report_ids:
            pending = dict.fromkeys(state.pending_report_ids + prior.pending_report_ids)
            state.pending_report_ids = list(pending)[-SEEN_REPORTS_KEPT:]
            state.pending += prior.pending
            if prior.pending_since and (
                state.pending_since is None or prior.pending_since < state.pending_since
            ):
                state.pending_since = prior.pending_since  # the digest keeps its first window
            prior.pending, prior.pending_report_ids, prior.pending_since = 0, [], None
            emptied.append(prior)
    return emptied


def _one_alert(sub_id: str, m: Match, count: int, now: datetime) -> Alert:
    """The alert for one report, or for one change of it (its id names the version)."""
    parts = (sub_id, m.report_id) if m.version <= 1 else (sub_id, m.report_id, f"v{m.version}")
    return Alert(
        alert_id=alert_id(*parts),
        subscription_id=sub_id,
        report_ids=[m.report_id],
        story_id=m.story_id,
        count=count,
        headline=m.headline,
        url=m.url,
        matched_at=now,
        ingested_at=_parse(m.ingested_at),
        version=m.version,
        change=m.change,
    )


def decide(
    matches: Sequence[Match],
    subscriptions: dict[str, Subscription],
    states: dict[str, StoryState],
    now: datetime,
    families: Families | None = None,
) -> Decision:
    """`families`: the stories merged into each matched story (keys_for loaded their states)."""
    families = families or {}
    groups: dict[str, list[Match]] = {}
    for m in matches:
        groups.setdefault(state_key(m.subscription_id, m.story_id), []).append(m)
    decision = Decision()
    for key, group in groups.items():
        sub = subscriptions.get(group[0].subscription_id)
        if sub is None or not sub.active:
            continue
        first = group[0]
        state = states.get(key)
        if state is None:
            state = StoryState(
                subscription_id=sub.id,
                story_id=first.story_id,
                headline=first.headline,
                url=first.url,
            )
            decision.states.extend(_inherit(state, families.get(first.story_id, ()), states))
        fresh = [m for m in dict((m.seen_key, m) for m in group).values()]
        fresh = [m for m in fresh if m.seen_key not in state.report_ids]
        if not fresh:
            continue  # a replay: already counted
        state.count += len(fresh)
        state.report_ids = (state.report_ids + [m.seen_key for m in fresh])[-SEEN_REPORTS_KEPT:]
        ingested = [t for t in (_parse(m.ingested_at) for m in fresh) if t]
        earliest = min(ingested) if ingested else None
        if sub.mode == Mode.EVERY or (sub.mode == Mode.PER_STORY and sub.filters.changes):
            for m in fresh:
                decision.alerts.append((_one_alert(sub.id, m, state.count, now), sub.mode.value))
            state.alerts += len(fresh)
            state.last_alert_at = now
        elif sub.mode == Mode.PER_STORY:
            if state.alerts == 0:
                decision.alerts.append(
                    (
                        Alert(
                            alert_id=alert_id(sub.id, first.story_id),
                            subscription_id=sub.id,
                            report_ids=[m.report_id for m in fresh],
                            story_id=first.story_id,
                            count=state.count,
                            headline=fresh[0].headline,
                            url=fresh[0].url,
                            matched_at=now,
                            ingested_at=earliest,
                        ),
                        sub.mode.value,
                    )
                )
                state.alerts = 1
                state.last_alert_at = now
        else:
            state.pending += len(fresh)
            state.pending_report_ids = (state.pending_report_ids + [m.report_id for m in fresh])[
                -SEEN_REPORTS_KEPT:
            ]
            if state.pending_since is None:
                state.pending_since = now
        decision.states.append(state)
    return decision


def due_digests(
    pending: Sequence[StoryState], subscriptions: dict[str, Subscription], now: datetime
) -> Decision:
    """Digest alerts whose window has passed: one per story, counting what it gathered."""
    decision = Decision()
    for state in pending:
        sub = subscriptions.get(state.subscription_id)
        if sub is None or not sub.active or sub.mode != Mode.DIGEST:
            continue
        since = state.pending_since or now
        if now - since < timedelta(minutes=sub.digest_minutes) or not state.pending_report_ids:
            continue
        decision.alerts.append(
            (
                Alert(
                    alert_id=alert_id(sub.id, state.story_id, since.isoformat()),
                    subscription_id=sub.id,
                    report_ids=list(state.pending_report_ids),
                    story_id=state.story_id,
                    count=state.pending,
                    headline=state.headline,
                    url=state.url,
                    matched_at=now,
                ),
                Mode.DIGEST.value,
            )
        )
        state.pending, state.pending_report_ids, state.pending_since = 0, [], None
        state.alerts += 1
        state.last_alert_at = now
        decision.states.append(state)
    return decision
