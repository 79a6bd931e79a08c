"""Source health: each source's usual cadence, learned from when it brought new items; a
source silent for `health_silence_factor` times its usual gap, or failing
`health_max_failures` polls in a row, is flagged (one warning when it starts, one line
when it recovers, and a metric), so a blocked or changed source is not mistaken for calm.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.common.redact import mask_text
from services.ingestor.metrics import SOURCE_CONSECUTIVE_FAILURES, SOURCE_FLAGGED, SOURCE_USUAL_GAP
from services.ingestor.settings import IngestorSettings
from services.ingestor.state import HealthRow, IngestState

log = logging.getLogger(__name__)

OK, NEW, SILENT, FAILING = "ok", "learning", "silent", "failing"
FLAGGED_STATES = (SILENT, FAILING)
DAY = 86_400.0
RATE_WINDOW_S = 7 * DAY


@dataclass
class SourceStatus:
    source: str
    state: str
    last_success: float | None
    last_item: float | None
    items_per_day: float | None
    usual_gap_s: float | None
    consecutive_failures: int
    last_error: str | None


class SourceHealth:
    def __init__(
        self,
        state: IngestState,
        settings: IngestorSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.settings = settings
        self.clock = clock

    def record(self, source: str, error: str | None, new_items: int) -> SourceStatus:
        """One poll's outcome: `error` is the source's own failure (None when it answered)."""
        now = self.clock()
        row = self.state.health(source)
        row.last_attempt = now
        if error:
            row.consecutive_failures += 1
            # shown by /v1/sources and `cwatch sources status`: no feed credentials in it
            row.last_error = mask_text(error)[:200]
        else:
            row.consecutive_failures = 0
            row.last_success = now
            row.last_error = None
        if new_items > 0:
            row.last_item = now
            self.state.add_arrival(source, now, new_items)
        status = self.status(source, row)
        self._flag(row, status)
        self.state.save_health(row)
        return status

    def status(self, source: str, row: HealthRow | None = None) -> SourceStatus:
        row = row or self.state.health(source)
        now = self.clock()
        arrivals = self.state.arrivals(source)
        times = [at for at, _ in arrivals]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b > a]
        usual = statistics.median(gaps) if len(gaps) >= self.settings.health_min_gaps else None
        per_day = None
        if arrivals:
            since = max(now - RATE_WINDOW_S, times[0])
            span_days = max((now - since) / DAY, 1.0)
            per_day = sum(n for at, n in arrivals if at >= since) / span_days
        if row.consecutive_failures >= self.settings.health_max_failures:
            state = FAILING
        elif usual is None or row.last_item is None:
            state = NEW
        elif now - row.last_item > self.settings.health_silence_factor * usual:
            state = SILENT
        else:
            state = OK
        return SourceStatus(
            source=source,
            state=state,
            last_success=row.last_success,
            last_item=row.last_item,
            items_per_day=per_day,
            usual_gap_s=usual,
            consecutive_failures=row.consecutive_failures,
            last_error=row.last_error,
        )

    def _flag(self, row: HealthRow, status: SourceStatus) -> None:
        SOURCE_CONSECUTIVE_FAILURES.labels(row.source).set(row.consecutive_failures)
        if status.usual_gap_s is not None:
            SOURCE_USUAL_GAP.labels(row.source).set(status.usual_gap_s)
        for name in FLAGGED_STATES:
            SOURCE_FLAGGED.labels(row.source, name).set(1 if status.state == name else 0)
        flagged = status.state if status.state in FLAGGED_STATES else None
        if flagged == row.flagged:
            return
        if flagged:  # once per change of state, not once per poll
            log.warning(
                "source flagged %s",
                flagged,
                extra={
                    "source": row.source[:500],
                    "state": flagged,
                    "consecutive_failures": row.consecutive_failures,
                    "usual_gap_s": status.usual_gap_s,
                    "last_item": status.last_item,
                    "last_error": status.last_error,
                },
            )
        else:
            log.info("source recovered", extra={"source": row.source[:500], "was": row.flagged})
        row.flagged = flagged
