"""Which subscriptions' channels keep failing: a run of dead letters in a row on one
subscription's channel is an operator's problem (a revoked bot token, a deleted Slack
webhook, an SMTP server refusing us), said once per run in the log, a metric and the
subscription's delivery log ("channel_failing"), and cleared by the next success."""

from __future__ import annotations

import logging
import threading

from services.alerts import metrics

log = logging.getLogger(__name__)

FAILING_AFTER = 3  # dead letters in a row


class ChannelHealth:
    def __init__(self, failing_after: int = FAILING_AFTER) -> None:
        self.failing_after = failing_after
        self._runs: dict[tuple[str, str], int] = {}
        self._failing: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def failed(self, sub_id: str, channel: str, reason: str) -> bool:
        """True once, when this failure makes the channel 'failing'."""
        key = (sub_id, channel)
        with self._lock:
            self._runs[key] = self._runs.get(key, 0) + 1
            if self._runs[key] < self.failing_after or key in self._failing:
                return False
            self._failing.add(key)
            count = sum(1 for _, c in self._failing if c == channel)
        metrics.CHANNELS_FAILING.labels(channel=channel).set(count)
        metrics.CHANNEL_FAILING_EVENTS.labels(channel=channel).inc()
        log.error(
            "channel keeps failing",
            extra={"subscription": sub_id, "channel": channel, "reason": reason[:500]},
        )
        return True

    def succeeded(self, sub_id: str, channel: str) -> None:
        key = (sub_id, channel)
        with self._lock:
            self._runs.pop(key, None)
            if key not in self._failing:
                return
            self._failing.discard(key)
            count = sum(1 for _, c in self._failing if c == channel)
        metrics.CHANNELS_FAILING.labels(channel=channel).set(count)
        log.info("channel recovered", extra={"subscription": sub_id, "channel": channel})

    def failing(self) -> set[tuple[str, str]]:
        with self._lock:
            return set(self._failing)
