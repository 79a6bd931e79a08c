"""A table recovery that makes no progress stops the worker, so that another takes over.

Seen in the story-workers fault test, when the worker holding the story stage was killed: on
the worker that took the stage over, faust's recovery waited five minutes for changelog
records it never received ("No event received for active tp ... since recovery start") and
would have waited for ever, and with it the story stage and so every report. A restart is what
gets such a worker going again: this guard exits with EXIT_RECOVERY_STUCK once recovery has
had records left to read and read none of them for `after_s`, for the group to hand its
partitions on and a supervisor to restart it. Nothing is lost: what it had not committed is
read again by the next owner.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, NoReturn

log = logging.getLogger(__name__)
EXIT_RECOVERY_STUCK = 75  # EX_TEMPFAIL: restart me


class RecoveryWatch:
    """Remembers since when recovery has had the same number of records left to read."""

    def __init__(self, after_s: float) -> None:
        self.after_s = after_s
        self._since: tuple[int, float] | None = None

    def stuck(self, now: float, in_recovery: bool, remaining: int) -> bool:
        if not in_recovery or remaining <= 0:
            self._since = None
            return False
        if self._since is None or self._since[0] != remaining:
            self._since = (remaining, now)
            return False
        return now - self._since[1] >= self.after_s


class RecoveryGuard:
    """The faust edge: reads the app's recovery and exits when the watch says stuck."""

    def __init__(self, app: Any, after_s: float) -> None:
        self.app = app
        self.watch = RecoveryWatch(after_s)

    def check(self) -> None:
        recovery = self.app.tables.recovery
        remaining = recovery.active_remaining_total() if recovery.in_recovery else 0
        if self.watch.stuck(time.monotonic(), recovery.in_recovery, remaining):
            log.error(
                "table recovery stuck: %s changelog records left and none read for %ss; "
                "exiting for another worker to take over",
                remaining,
                self.watch.after_s,
            )
            _exit()


def _exit() -> NoReturn:
    # Not faust's orderly stop: it would commit what the agents hold; this way it is read again.
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_RECOVERY_STUCK)
