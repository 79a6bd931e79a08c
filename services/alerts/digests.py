"""Email digests: alerts queued in Elasticsearch (store.queue_digest) go out as one email per
subscription at its schedule's next slot (hourly, or daily at a local time in its time zone).

A digest is named after its slot: the first slot after its oldest item (channelconfig.
digest_slot), and holds the items queued before that slot. Both follow from what is stored, so
after a crash between the SMTP server's acceptance and the items' removal the same digest is
built again, under the same Message-ID, and the "sent" mark in the delivery log (written right
after the send) usually stops even that one resend. `plan` is pure; `EmailDigests` runs the
plans on the subscriptions' lanes, never on the loop that reads Kafka.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from schemas.alert import Alert
from services.alerts import metrics
from services.alerts.channelconfig import Schedule, digest_slot
from services.alerts.delivery import Outcome
from services.alerts.emailmsg import render_story
from services.alerts.models import ChannelKind, Subscription
from services.alerts.senders import ChannelSenders, story_item
from services.alerts.store import AlertStore

log = logging.getLogger(__name__)

Item = tuple[str, datetime, Alert]  # (item id, queued_at, alert)


@dataclass
class Digest:
    sub: Subscription
    slot: datetime
    item_ids: list[str]
    alerts: list[Alert]

    @property
    def digest_id(self) -> str:
        """Also the alert id of its log lines and dead letter, and the Message-ID's version."""
        return f"digest-{self.sub.id}-{self.slot.isoformat()}"


def plan(sub: Subscription, items: Sequence[Item], now: datetime) -> Digest | None:
    """The digest due now for this subscription, or None."""
    config = sub.channel.email
    if not items or config is None or config.schedule == Schedule.IMMEDIATE:
        return None
    slot = digest_slot(config.schedule, items[0][1], config.daily_at, config.timezone)
    if now < slot:
        return None
    held = [item for item in items if item[1] < slot]
    return Digest(sub, slot, [i for i, _, _ in held], [a for _, _, a in held])


def by_story(alerts: Sequence[Alert]) -> list[Alert]:
    """One alert per story (its latest, with every report id seen), newest story first."""
    merged: dict[str, Alert] = {}
    for alert in alerts:
        known = merged.get(alert.story_id)
        if known is None:
            merged[alert.story_id] = alert.model_copy()
            continue
        ids = list(dict.fromkeys(known.report_ids + alert.report_ids))
        merged[alert.story_id] = alert.model_copy(
            update={"report_ids": ids, "count": max(known.count, alert.count)}
        )
    return list(reversed(merged.values()))


class EmailDigests:
    def __init__(
        self,
        store: AlertStore,
        senders: ChannelSenders,
        subscriptions: Callable[[], dict[str, Subscription]],
        delivered: Callable[[list[str]], set[str]],
        submit: Callable[[str, Callable[[], None]], None],
    ) -> None:
        self.store = store
        self.senders = senders
        self.subscriptions = subscriptions
        self.delivered = delivered
        self.submit = submit
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()

    def check(self, now: datetime) -> list[Digest]:
        """Queue the digests due at `now` on their lanes (each once while under way)."""
        items = self.store.digest_items()
        metrics.DIGESTS_PENDING.set(sum(len(v) for v in items.values()))
        subs = self.subscriptions()
        due: list[Digest] = []
        for sub_id, queued in items.items():
            sub = subs.get(sub_id)
            if sub is None and self._deleted(sub_id):
                self.store.drop_digest_items([item_id for item_id, _, _ in queued])
                continue
            if sub is None or sub.channel.kind != ChannelKind.EMAIL:
                continue  # paused (not in the active list): kept until it is resumed
            digest = plan(sub, queued, now)
            if digest is None:
                continue
            with self._lock:
                if digest.digest_id in self._in_flight:
                    continue
                self._in_flight.add(digest.digest_id)
            due.append(digest)
            self.submit(sub.id, self._job(digest))
        return due

    def _deleted(self, sub_id: str) -> bool:
        try:
            return self.store.get(sub_id) is None
        except Exception:  # unreadable (or invalid) is not deleted: keep its items
            return False

    def _job(self, digest: Digest) -> Callable[[], None]:
        def run() -> None:
            try:
                self.send(digest)
            finally:
                with self._lock:
                    self._in_flight.discard(digest.digest_id)

        return run

    def send(self, digest: Digest) -> Outcome | None:
        """Sent (or dead-lettered after its retries), then its items dropped; a digest already
        marked sent only drops its items."""
        outcome = None
        if digest.digest_id not in self.delivered([digest.digest_id]):
            outcome = self._send(digest)
        self.store.drop_digest_items(digest.item_ids)
        return outcome

    def _send(self, digest: Digest) -> Outcome:
        sub = digest.sub
        stories = by_story(digest.alerts)
        items = [render_story(story_item(a, self.senders.versions)) for a in stories]
        config = sub.channel.email
        assert config is not None
        when = digest.slot.astimezone(ZoneInfo(config.timezone)).strftime("%Y-%m-%d %H:%M %Z")
        msg = self.senders.email_message(
            sub,
            items,
            digest.slot.isoformat(),
            "digest",
            f"[cwatch] {sub.name or 'digest'}: {len(stories)} "
            f"{'story' if len(stories) == 1 else 'stories'} ({when})",
        )
        # The digest's own alert: its id in the log lines and, if it fails, the dead letter.
        summary = Alert(
            alert_id=digest.digest_id,
            subscription_id=sub.id,
            report_ids=[r for a in stories for r in a.report_ids][:500],
            story_id="digest",
            count=len(stories),
            headline=f"digest of {len(stories)} stories",
            matched_at=digest.slot,
        )
        return self.senders.webhooks.retry(
            sub,
            summary,
            "email",
            lambda: self.senders.mailer.send(msg),
            f"digest to {len(config.to)} address(es)",
        )
